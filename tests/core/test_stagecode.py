"""henryvc.core.stagecode: stage_code/ links point at the installed packages (remade only when wrong, a real folder
refused), dvc.yaml's henryvc stages depend on exactly the code they import (comments kept, other stages left
alone), and the container's tmpfs and wrapped command. The links inside a real container:
tests/tiers/engine/test_stagecode_engine.py."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest
import yaml

from henryvc.core import codeid, stagecode
from henryvc.errors import BadInput

DVC_YAML = """\
# the pipeline (a comment henryvc keeps)
stages:
  train:
    cmd: python -m henryvc_training.train
    deps:
      - voice_data  # the data
      - stage_code/henryvc_training/gone.py
  mine:
    cmd: python my_stage.py
    deps:
      - stage_code/henryvc/whatever.py
"""


def test_link_points_at_the_packages_and_changes_only_what_is_wrong(tmp_path):
    dirs = {"henryvc": tmp_path / "pkg_a", "henryvc_training": tmp_path / "pkg_b"}
    for target in dirs.values():
        target.mkdir()
    root = tmp_path / "project"
    root.mkdir()
    assert stagecode.link(root, dirs) == ["stage_code/henryvc", "stage_code/henryvc_training"]
    assert {p.name: os.readlink(p) for p in (root / "stage_code").iterdir()} == {
        name: str(target) for name, target in dirs.items()}
    assert stagecode.link(root, dirs) == []  # already right: nothing touched
    elsewhere = tmp_path / "pkg_c"
    elsewhere.mkdir()
    assert stagecode.link(root, {**dirs, "henryvc": elsewhere}) == ["stage_code/henryvc"]
    assert os.readlink(root / "stage_code" / "henryvc") == str(elsewhere)
    assert sorted(p.name for p in (root / "stage_code").iterdir()) == ["henryvc", "henryvc_training"]  # no temp link


def test_a_real_folder_where_a_link_goes_is_refused(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "stage_code" / "henryvc").mkdir(parents=True)
    (tmp_path / "stage_code" / "henryvc" / "mine.py").write_text("x = 1\n")
    with pytest.raises(BadInput, match="is a folder, not a link henryvc made") as raised:
        stagecode.link(tmp_path, {"henryvc": tmp_path / "pkg"})
    assert raised.value.exit_code == 2
    assert (tmp_path / "stage_code" / "henryvc" / "mine.py").read_text() == "x = 1\n"


def test_sync_pipeline_makes_henryvc_stages_depend_on_their_code_and_keeps_the_rest(tmp_path):
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    assert stagecode.sync_pipeline(tmp_path) is True
    text = (tmp_path / "dvc.yaml").read_text()
    assert "# the pipeline (a comment henryvc keeps)" in text and "# the data" in text
    stages = yaml.safe_load(text)["stages"]
    wanted = stagecode.stage_deps("train")
    assert wanted and all(d.startswith("stage_code/") for d in wanted)
    assert "stage_code/henryvc_training/train.py" in wanted
    assert stages["train"]["deps"] == ["voice_data", *wanted]  # the stale one gone, the user's kept first
    assert stages["mine"]["deps"] == ["stage_code/henryvc/whatever.py"]  # not henryvc's stage: untouched
    assert stagecode.sync_pipeline(tmp_path) is False and (tmp_path / "dvc.yaml").read_text() == text
    assert stagecode.sync_pipeline(tmp_path / "no-project") is False


def test_ensure_links_ignores_and_syncs_once(tmp_path):
    (tmp_path / ".gitignore").write_text("/.henryvc/")  # no newline at its end
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    changed = stagecode.ensure(tmp_path)
    assert changed == ["stage_code/henryvc", "stage_code/henryvc_training", ".gitignore", "dvc.yaml"]
    assert (tmp_path / ".gitignore").read_text() == "/.henryvc/\n/stage_code/\n"
    assert os.readlink(tmp_path / "stage_code" / "henryvc_training") == str(codeid.package_dirs()["henryvc_training"])
    assert stagecode.ensure(tmp_path) == []


@pytest.mark.parametrize("podman, options", [(False, "rw,mode=1777"), (True, "rw,notmpcopyup,mode=1777")])
def test_in_container_mounts_a_tmpfs_and_links_before_the_command(tmp_path, podman, options):
    tmpfs, command = stagecode.in_container(tmp_path, "/project", ["dvc", "repro", "-q"], podman)
    assert tmpfs == {"/project/stage_code": options}
    assert command[:2] == ["sh", "-c"] and "python -m henryvc.core.stagecode /project" in command[2]
    assert command[-3:] == ["dvc", "repro", "-q"]
    assert stat.S_IMODE((tmp_path / "stage_code").stat().st_mode) == 0o1777  # the container's user may link
    assert stagecode.in_container(tmp_path, "/project", None)[1][-2:] == ["dvc", "repro"]  # the image's default
    # The wrapper really runs the command after the links, with its arguments intact.
    script = command[2].replace("python", sys.executable, 1).replace("/project", str(tmp_path))
    done = subprocess.run(["sh", "-c", script, "x", "echo", "a b"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0 and done.stdout == "a b\n", done.stderr
    assert (tmp_path / "stage_code" / "henryvc").is_symlink()


def test_main_links_syncs_and_refuses_bad_arguments(tmp_path, capsys):
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    assert stagecode.main([str(tmp_path)]) == 0
    assert (tmp_path / "stage_code" / "henryvc").is_symlink() and (tmp_path / "dvc.yaml").read_text() == DVC_YAML
    assert stagecode.main(["--sync", str(tmp_path)]) == 0
    assert "code dependencies brought up to date" in capsys.readouterr().out
    assert stagecode.main(["--bogus"]) == 2 and stagecode.main([str(tmp_path / "absent")]) == 2
    assert "usage:" in capsys.readouterr().err
