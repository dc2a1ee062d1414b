"""`run: ../../etc` in params.yaml (issue 15, item 4): every command that reads params.yaml's run goes
through the run-name grammar: exit 2, one line, nothing done (work tree and git untouched)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.project import trained_run
from tests.helpers.reliability import git_state, snapshot_tree

BAD = "../../etc"


def _point_params_at(project, value: str) -> None:
    text = project.params.read_text()
    lines = [f"run: {value}" if line.startswith("run:") else line for line in text.splitlines()]
    project.params.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("args", [["cleanup-failed", "--dry-run"], ["cleanup-failed", "--yes"],
                                  ["snapshot", "--no-push"], ["archive"], ["archive", "--dry-run"],
                                  ["tag-run"]],
                         ids=lambda a: " ".join(a))
def test_a_command_refuses_a_params_run_that_is_not_a_run_name(project, args):
    trained_run(project)
    _point_params_at(project, BAD)
    tree, git = snapshot_tree(project.root, skip=(".git", ".dvc/tmp", ".henryvc")), git_state(project.root)
    done = run_cli(project.root, *args, process=True)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "run" in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert snapshot_tree(project.root, skip=(".git", ".dvc/tmp", ".henryvc")) == tree
    assert git_state(project.root) == git


def test_a_stage_refuses_it_in_one_line(project):
    trained_run(project)
    _point_params_at(project, BAD)
    done = subprocess.run([sys.executable, "-m", "henryvc_training.prepare"], cwd=project.root,
                          capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
