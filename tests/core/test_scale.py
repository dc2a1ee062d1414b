"""henryvc.core.scale: --gpus/--nodes are whole numbers of at least 1, written into params.yaml's train: section
with the user's comments and keys kept; a refused value leaves the file as it was."""

from __future__ import annotations

import pytest
import yaml

from henryvc.core import scale
from henryvc.errors import BadInput

PARAMS = "# the run dvc repro trains\nrun: null\nfake:\n  seed: 1  # keep me\n"


def test_set_scale_writes_only_what_is_given_and_keeps_comments(tmp_path):
    (tmp_path / "params.yaml").write_text(PARAMS)
    scale.set_scale(tmp_path, gpus=2, nodes=None)
    text = (tmp_path / "params.yaml").read_text()
    assert "# the run dvc repro trains" in text and "# keep me" in text
    assert yaml.safe_load(text) == {"run": None, "fake": {"seed": 1}, "train": {"gpus": 2}}
    scale.set_scale(tmp_path, gpus=None, nodes=3)
    assert yaml.safe_load((tmp_path / "params.yaml").read_text())["train"] == {"gpus": 2, "nodes": 3}


def test_nothing_given_writes_nothing(tmp_path):
    (tmp_path / "params.yaml").write_text(PARAMS)
    before = (tmp_path / "params.yaml").stat().st_mtime_ns
    scale.set_scale(tmp_path, None, None)
    assert (tmp_path / "params.yaml").read_text() == PARAMS
    assert (tmp_path / "params.yaml").stat().st_mtime_ns == before


@pytest.mark.parametrize("gpus, nodes, flag", [(0, None, "--gpus"), (None, -1, "--nodes"), (2, 0, "--nodes")])
def test_less_than_one_is_bad_input_and_the_file_is_left_alone(tmp_path, gpus, nodes, flag):
    (tmp_path / "params.yaml").write_text(PARAMS)
    with pytest.raises(BadInput, match=f"{flag} must be at least 1") as raised:
        scale.set_scale(tmp_path, gpus, nodes)
    assert raised.value.exit_code == 2
    assert (tmp_path / "params.yaml").read_text() == PARAMS
    scale.check(1, 1)  # the smallest legal scale passes
