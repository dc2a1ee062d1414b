"""henryvc.core.params: the one reader of params.yaml's active run; a `run` that is not a run name is bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from henryvc.core import params
from henryvc.errors import BadInput
from tests.helpers.cli import run_cli

RUN = "henry_v2_debug_20261124_101500"


def write(root: Path, text: str) -> Path:
    path = root / "params.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("value", ["../../etc", "henry_v2_debug", "/tmp/x", "[1, 2]", "42",
                                   "henry_v2_debug_20261124_101500/.."])
def test_every_reader_refuses_a_run_that_is_not_a_run_name(tmp_path, value):
    write(tmp_path, f"run: {value}\n")
    for reader in (params.active_run, params.active_run_or_none, params.load_stage_params):
        with pytest.raises(BadInput):
            reader(tmp_path)


def test_readers_agree_on_a_good_run_and_differ_only_on_absence(tmp_path):
    assert params.active_run_or_none(tmp_path) is None
    with pytest.raises(BadInput, match="does not exist"):
        params.active_run(tmp_path)
    write(tmp_path, "# a comment\nrun: \nseed: 1\n")
    assert params.active_run_or_none(tmp_path) is None
    with pytest.raises(BadInput, match="names no run"):
        params.active_run(tmp_path)
    write(tmp_path, f"run: {RUN}\nseed: 1\n")
    assert params.active_run(tmp_path) == params.active_run_or_none(tmp_path) == RUN
    assert params.load_stage_params(tmp_path) == {"run": RUN, "seed": 1}


def test_unreadable_yaml_is_bad_input_for_the_strict_readers(tmp_path):
    write(tmp_path, "run: [unclosed\n")
    assert params.active_run_or_none(tmp_path) is None
    with pytest.raises(BadInput, match="cannot be read as YAML"):
        params.active_run(tmp_path)


def test_set_active_run_keeps_comments_and_refuses_a_bad_name(tmp_path):
    write(tmp_path, "# which run dvc repro trains\nrun: no_run_yet\nseed: 1  # the seed\n")
    params.set_active_run(tmp_path, RUN)
    text = (tmp_path / "params.yaml").read_text()
    assert f"run: {RUN}" in text and "# which run dvc repro trains" in text and "# the seed" in text
    with pytest.raises(BadInput):
        params.set_active_run(tmp_path, "../elsewhere")
    assert params.active_run(tmp_path) == RUN


def test_tag_run_with_a_bad_active_run_exits_2_with_one_line(project):
    write(project.root, "run: ../../etc\n")
    result = run_cli(project.root, "tag-run")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "henryvc: error:" in result.stderr
