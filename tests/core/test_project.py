"""henryvc.core.project: a project is found from anywhere inside it, paths that escape it are refused, its lock
serialises writers across processes, and `init` sets up templates, seed scripts and ignores without clobbering
what the user has (and upgrades old stage commands); a bad root is refused with nothing made."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from henryvc.core import project as projects
from henryvc.core.project import Project
from henryvc.errors import BadInput, Busy, NotAProject
from tests.helpers.project import sh

HOLD = ("import sys, time\nfrom filelock import FileLock\nwith FileLock(sys.argv[1]):\n"
        "    print('locked', flush=True)\n    time.sleep(600)\n")


def test_find_walks_up_to_the_root_and_refuses_outside(project, tmp_path):
    deep = project.root / "training_runs" / "archive" / "failed"
    assert projects.find(deep) == project
    assert projects.find(project.root) == project
    with pytest.raises(NotAProject, match="henryvc init"):
        projects.find(tmp_path / "dvc-remote")  # a folder beside the project, not in it


def test_paths_of_a_project(tmp_path):
    project = Project(tmp_path)
    name = "henry_v2_debug_20200101_000000"
    assert project.runs == tmp_path / "training_runs" and project.state == tmp_path / ".henryvc"
    assert project.params == tmp_path / "params.yaml"
    assert project.run_rel(name) == f"training_runs/{name}" and project.run_dir(name) == tmp_path / project.run_rel(name)


def test_inside_resolves_and_refuses_escapes(tmp_path):
    root = (tmp_path / "project").resolve()
    (root / "configs").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (root / "link").symlink_to(tmp_path / "outside")
    project = Project(root)
    assert project.inside(root / "configs" / ".." / "configs") == root / "configs"
    assert project.inside(root) == root
    for escape in ("../outside", "link", "/etc/passwd"):
        with pytest.raises(BadInput, match="is outside the project") as raised:
            project.inside(escape)
        assert raised.value.exit_code == 2


def test_the_lock_is_busy_while_another_process_holds_it(project):
    project.state.mkdir(exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(project.state / "lock")], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(Busy, match="another henryvc command holds"), project.lock(timeout=0.2):
            pytest.fail("the lock was given while another process held it")
    finally:
        holder.kill()
        holder.wait()
    with project.lock(timeout=5):  # the holder died: a kill releases the OS lock
        pass


def test_init_sets_up_a_project_and_keeps_what_the_user_has(tmp_path):
    root = tmp_path / "fresh"
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "archive_training_runs.sh").write_text("echo mine\n")
    (root / ".gitignore").write_text("my_notes/")  # no newline at its end
    (root / "dvc.yaml").write_text("stages:\n  train:\n    cmd: python -m training.train\n")  # an old project's
    done = projects.init(root, str(tmp_path / "remote"))
    assert done["remote"] == str(tmp_path / "remote") and done["commit"]
    for folder in projects.FOLDERS:
        assert (root / folder).is_dir()
    assert (root / "scripts" / "archive_training_runs.sh").read_text() == "echo mine\n"
    train_script = root / "scripts" / "train_henry_v2_debug.py"
    assert train_script.is_file() and os.access(train_script, os.X_OK)
    assert "scripts/archive_training_runs.sh" not in done["templates"] and "scripts/train_henry_v2_debug.py" in done["templates"]
    ignore = (root / ".gitignore").read_text().splitlines()
    assert ignore[0] == "my_notes/" and set(projects.GITIGNORE_LINES) <= set(ignore)
    assert yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["train"]["cmd"] == "python -m henryvc_training.train"
    assert (root / "params.yaml").is_file() and (root / "configs" / "henry_voice_v2_stable.json").is_file()
    assert sh(root, "git", "log", "-1", "--format=%s").stdout.strip() == "henryvc: init project"
    # Only what init set up is committed: the user's own script stays theirs to add.
    assert sh(root, "git", "ls-files", "scripts/archive_training_runs.sh").stdout == ""
    assert sh(root, "git", "ls-files", "scripts/train_henry_v2_debug.py").stdout.strip() == "scripts/train_henry_v2_debug.py"

    ignored = (root / ".gitignore").read_text()
    again = projects.init(root, None)
    assert (root / ".gitignore").read_text() == ignored and again["templates"] == []


def test_init_refuses_a_root_that_is_not_a_folder(tmp_path):
    (tmp_path / "file").write_text("x")
    for root in (tmp_path / "file", tmp_path / "absent"):
        with pytest.raises(BadInput, match="is not a directory"):
            projects.init(root, None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
