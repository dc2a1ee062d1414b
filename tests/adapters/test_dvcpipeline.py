"""henryvc.adapters.dvcpipeline: `dvc repro` runs as a child with the given environment and this interpreter first on
PATH; every line it prints reaches the caller, and its exit code is returned (a failing stage's too)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from henryvc.adapters import dvcpipeline
from tests.helpers.project import git_repo

STAGE = '''\
import os, sys
print("stage says", os.environ.get("HENRY_MARK", "-"))
open("which.txt", "w").write(sys.executable)
sys.exit(int(os.environ.get("HENRY_FAIL", "0")))
'''
DVC_YAML = "stages:\n  which:\n    cmd: python stage.py\n    deps:\n      - stage.py\n    outs:\n      - which.txt\n"


@pytest.fixture
def root(tmp_path) -> Path:
    root = git_repo(tmp_path / "p", dvc_too=True, first_commit=False)
    (root / "stage.py").write_text(STAGE)
    (root / "dvc.yaml").write_text(DVC_YAML)
    return root


def test_repro_runs_the_stage_with_this_python_and_the_given_environment(root):
    env = {**os.environ, "PATH": "/usr/bin:/bin", "HENRY_MARK": "hello"}  # this interpreter's folder is not there
    lines: list[str] = []
    assert "HENRY_MARK" not in os.environ

    assert dvcpipeline.repro(root, (), env, lines.append) == 0

    assert Path((root / "which.txt").read_text()).parent == Path(sys.executable).parent
    assert "stage says hello" in lines
    assert all("\n" not in line for line in lines)
    assert (root / "dvc.lock").is_file()


def test_a_failing_stage_gives_its_exit_code_and_its_output(root):
    lines: list[str] = []
    code = dvcpipeline.repro(root, (), {**os.environ, "HENRY_FAIL": "3"}, lines.append)
    assert code != 0
    assert "stage says -" in lines
    assert any("failed to reproduce 'which'" in line for line in lines)  # DVC's own error, stderr merged
    assert not (root / "dvc.lock").exists()


def test_args_reach_dvc_repro(root):
    lines: list[str] = []
    assert dvcpipeline.repro(root, ("no-such-stage",), dict(os.environ), lines.append) != 0
    assert any("no-such-stage" in line for line in lines)
    assert not (root / "which.txt").exists()
