"""henryvc.ops.envbuild's parts that need no package index: the pip requirement for a recorded henryvc commit, and
the refusals (a folder in use, a lock with no pins, a failing step) with nothing installed. Installing a real lock and
henryvc at a commit: tests/core/test_environment.py::test_env_build_installs_a_lock_and_henryvc_at_a_commit."""

from __future__ import annotations

import shutil
import sys

import pytest

from henryvc.errors import BadInput, HenryvcError
from henryvc.ops import envbuild

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_venv_python_is_the_venvs_own_interpreter(tmp_path):
    expected = "Scripts/python.exe" if sys.platform == "win32" else "bin/python"
    assert envbuild.venv_python(tmp_path / "env") == tmp_path / "env" / expected


def test_henryvc_spec_pins_the_recorded_commit_of_a_repository(tmp_path):
    code = {"henryvc": {"commit": COMMIT, "dirty": False}}
    assert envbuild.henryvc_spec({}, str(tmp_path)) is None  # no commit recorded: nothing to pin
    assert envbuild.henryvc_spec({"henryvc": {}}, None) is None
    assert envbuild.henryvc_spec(code, str(tmp_path / "src" / "..")) == \
        f"git+file://{tmp_path.resolve()}@{COMMIT}#egg=henryvc"
    assert envbuild.henryvc_spec(code, "https://example.org/henryvc.git") == \
        f"git+https://example.org/henryvc.git@{COMMIT}#egg=henryvc"


def test_a_folder_in_use_and_a_lock_without_pins_are_refused_with_nothing_made(tmp_path):
    used = tmp_path / "used"
    used.mkdir()
    (used / "mine.txt").write_text("keep")
    with pytest.raises(BadInput, match="exists and is not empty") as raised:
        envbuild.build_venv("six==1.16.0\n", used)
    assert raised.value.exit_code == 2 and [p.name for p in used.iterdir()] == ["mine.txt"]
    with pytest.raises(BadInput, match="the lock pins no package"):
        envbuild.build_venv("# only a comment\n--index-url https://example.org\n", tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_a_failing_step_is_an_error_with_its_exit_and_output(tmp_path):
    lines: list[str] = []
    with pytest.raises(HenryvcError, match=r"python -m venv failed \(exit 1\)"):
        envbuild.build_venv("six==1.16.0\n", tmp_path / "env", python=shutil.which("false"), output=lines.append)
    assert not (tmp_path / "env" / "bin" / "python").exists()
