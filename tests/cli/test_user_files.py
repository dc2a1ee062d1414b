"""A user's broken project file (.dvc/config, dvc.lock, a .dvc file) is exit 2 with the file and the line,
never exit 3; the exit-3 path itself and --traceback; every entry point maps errors the same way.

The real CLI as a subprocess (`python -m henryvc.main`, as the installed console script runs it), real git
and DVC (henryvc.adapters.dvcfiles)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from henryvc import api
from tests.helpers.cli import run_cli
from tests.helpers.project import sh, trained_run
from tests.helpers.reliability import git_state, snapshot_tree

BROKEN_CONFIG = "[core\n    remote = storage\n"  # configobj: "Invalid line ('[core') ... at line 1"


@pytest.fixture
def tagged(project):
    """(project, NAME): one tagged run, its data in the cache."""
    name = trained_run(project)
    api.tag_run(project, name, push=False)
    return project, name


def one_error_line(done: subprocess.CompletedProcess) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("henryvc: error: "), done.stderr
    assert "unexpected" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["restore", "{run}"], ["restore", "{run}", "--pull"], ["backup", "--verify"],
                                     ["status"], ["verify", "{run}"], ["backup"]])
def test_a_config_that_does_not_parse_is_bad_input_naming_the_file_and_line(tagged, command):
    project, name = tagged
    (project.root / ".dvc" / "config").write_text(BROKEN_CONFIG)
    before, git_before = snapshot_tree(project.root), git_state(project.root)
    done = run_cli(project.root, *[a.replace("{run}", name) for a in command], process=True)
    assert done.returncode == 2, done.stderr
    line = one_error_line(done)
    assert ".dvc/config, line 1: DVC cannot read it" in line and "Invalid line ('[core')" in line
    assert snapshot_tree(project.root) == before and git_state(project.root) == git_before  # no worktree made


@pytest.mark.parametrize("config, expected", [
    ("[core]\n    remote = storage\n    bogus = 1\n",
     ".dvc/config, line 3: DVC refuses it (extra keys not allowed in core -> bogus)"),
    ("[core]\n    remote = nosuch\n", ".dvc/config, line 2: DVC refuses it (remote 'nosuch' doesn't exist)"),
])
def test_a_config_dvc_refuses_is_bad_input_naming_the_line(tagged, config, expected):
    project, name = tagged
    (project.root / ".dvc" / "config").write_text(config)
    for command in (["restore", name], ["backup", "--verify"]):
        before = snapshot_tree(project.root)
        done = run_cli(project.root, *command, process=True)
        assert done.returncode == 2, (command, done.stderr)
        assert expected in one_error_line(done)
        assert snapshot_tree(project.root) == before


@pytest.mark.parametrize("text, expected", [
    ('schema: "2.0"\nstages:\n  train: [\n', "dvc.lock, line 4: not valid YAML"),
    ('schema: "2.0"\nstages:\n  - train\n', "dvc.lock, line 3: `stages` must be a mapping"),
    ('schema: "2.0"\nstages:\n  train:\n    outs:\n    - md5: 12\n      path: x\n',
     "dvc.lock, line 5: an md5 must be a string (in stages -> train -> outs -> 0 -> md5)"),
])
def test_tag_run_refuses_a_malformed_dvc_lock_with_its_line(project, text, expected):
    trained_run(project)
    (project.root / "dvc.lock").write_text(text)
    git_before = git_state(project.root)
    done = run_cli(project.root, "tag-run", process=True)
    assert done.returncode == 2, done.stderr
    assert expected in one_error_line(done)
    assert git_state(project.root) == git_before  # no commit, no tag


@pytest.mark.parametrize("text, expected", [
    ("outs:\n- md5: abc\n  path: [voice_data\n", "voice_data.dvc, line 4: not valid YAML"),
    ("outs:\n- md5: abc\n  pth: voice_data\n", "voice_data.dvc, line 2: each output must be a mapping with a `path`"),
    ("EXTRA", "voice_data.dvc, line 7: extra keys not allowed (in outs -> 0 -> bogus)"),  # DVC's own validation
])
def test_tag_run_refuses_a_malformed_dvc_file_with_its_line(project, text, expected):
    trained_run(project)
    dvcfile = project.root / "voice_data.dvc"
    dvcfile.write_text(dvcfile.read_text() + "  bogus: 1\n" if text == "EXTRA" else text)
    git_before = git_state(project.root)
    done = run_cli(project.root, "tag-run", process=True)
    assert done.returncode == 2, done.stderr
    assert expected in one_error_line(done)
    assert git_state(project.root) == git_before


def _tag_commit_with(project, path: str, text: str, name: str) -> str:
    """Commit TEXT as PATH, tag that commit NAME (as a run tag), then put the good file back in a new commit."""
    good = (project.root / path).read_text()
    (project.root / path).write_text(text)
    sh(project.root, "git", "commit", "-qm", f"broken {path}", path)
    sh(project.root, "git", "tag", "-a", name, "-m", "a run tag on a broken file")
    commit = sh(project.root, "git", "rev-parse", "HEAD").stdout.strip()
    (project.root / path).write_text(good)
    sh(project.root, "git", "commit", "-qm", f"good {path}", path)
    return commit


def test_restore_and_verify_refuse_a_tag_whose_dvc_lock_is_malformed(tagged):
    project, _ = tagged
    name = "henry_v2_debug_20261207_000001"
    commit = _tag_commit_with(project, "dvc.lock", 'schema: "2.0"\nstages:\n  train: [\n', name)
    for command in (["restore", name], ["restore", name, "--pull"], ["verify", name]):
        before = snapshot_tree(project.root)
        done = run_cli(project.root, *command, process=True)
        assert done.returncode == 2, (command, done.stderr)
        assert f"dvc.lock at {commit[:10]}, line 4: not valid YAML" in one_error_line(done)
        assert snapshot_tree(project.root) == before


def test_a_dvc_error_during_checkout_is_named_not_a_bug(tagged):
    """DVC refusing a file during restore's checkout (its own validation; henryvc's reader passes it) is exit 1
    (the worktree was made) naming the file and line; another DVC error there (a dvc.yaml naming an undefined
    variable) is exit 1 with DVC's message; never exit 3."""
    project, _ = tagged
    extra = "henry_v2_debug_20261207_000002"
    _tag_commit_with(project, "voice_data.dvc", (project.root / "voice_data.dvc").read_text() + "  bogus: 1\n", extra)
    done = run_cli(project.root, "restore", extra, process=True)
    assert done.returncode == 1, done.stderr
    assert f".henryvc/restore/{extra}/voice_data.dvc, line 7: extra keys not allowed" in one_error_line(done)

    undefined = "henry_v2_debug_20261207_000003"
    dvc_yaml = (project.root / "dvc.yaml").read_text()
    _tag_commit_with(project, "dvc.yaml", dvc_yaml.replace("cmd: python", "cmd: python ${nosuch}"), undefined)
    done = run_cli(project.root, "restore", undefined, process=True)
    assert done.returncode == 1, done.stderr
    line = one_error_line(done)
    assert f"dvc checkout in {project.root}/.henryvc/restore/{undefined} failed:" in line
    assert f"'stages.train.cmd' in '.henryvc/restore/{undefined}/dvc.yaml': Could not find 'nosuch'" in line


ENTRY_POINTS = {
    "console script": [str(Path(sys.executable).parent / "henryvc")],
    "python -m henryvc": [sys.executable, "-m", "henryvc"],
    "python -m henryvc.main": [sys.executable, "-m", "henryvc.main"],
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_every_entry_point_maps_errors_the_same_way(project, entry):
    (project.root / ".dvc" / "config").write_text(BROKEN_CONFIG)
    done = subprocess.run([*ENTRY_POINTS[entry], "status"], cwd=project.root, capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert ".dvc/config, line 1: DVC cannot read it" in one_error_line(done)
    usage = subprocess.run([*ENTRY_POINTS[entry], "no-such-command"], cwd=project.root, capture_output=True,
                           text=True)
    assert usage.returncode == 2 and "No such command" in usage.stderr


# A bug planted in the api layer (henryvc's own code, not git or DVC): the real entry point must report it as
# exit 3 with one line, and with --traceback show the traceback instead.
PLANTED_BUG = ("import sys, henryvc.api as api\n"
               "def status(project):\n    raise RuntimeError('planted bug')\n"
               "api.status = status\n"
               "from henryvc.main import entry\nsys.argv[0] = 'henryvc'\nentry()\n")


def test_an_unexpected_error_is_exit_3_with_one_line_and_traceback_shows_it(project):
    done = subprocess.run([sys.executable, "-c", PLANTED_BUG, "status"], cwd=project.root, capture_output=True,
                          text=True)
    assert done.returncode == 3, done.stderr
    assert done.stderr.strip() == ("henryvc: unexpected error: RuntimeError: planted bug "
                                   "(run again with --traceback and report it)")
    shown = subprocess.run([sys.executable, "-c", PLANTED_BUG, "--traceback", "status"], cwd=project.root,
                           capture_output=True, text=True)
    assert shown.returncode == 1, shown.stderr  # Python's own exit for an uncaught exception
    assert "Traceback (most recent call last)" in shown.stderr and 'File "<string>", line 3, in status' in shown.stderr
    assert shown.stderr.rstrip().endswith("RuntimeError: planted bug")
    assert "unexpected error" not in shown.stderr


@pytest.mark.parametrize("broken, expected", [
    ("outs:\n- md5: abc\n  path: [voice_data\n", "voice_data.dvc, line 4: not valid YAML"),
    ("EXTRA", "voice_data.dvc, line 7: extra keys not allowed (in outs -> 0 -> bogus)"),  # DVC's own validation
])
def test_henryvc_run_refuses_a_malformed_voice_data_dvc_before_it_makes_anything(project, broken, expected):
    dvcfile = project.root / "voice_data.dvc"
    dvcfile.write_text(dvcfile.read_text() + "  bogus: 1\n" if broken == "EXTRA" else broken)
    before, git_before = snapshot_tree(project.root), git_state(project.root)
    done = run_cli(project.root, "run", "--major", "2", "--variant", "debug", process=True)
    assert done.returncode == 2, done.stderr
    assert expected in one_error_line(done)
    after = snapshot_tree(project.root)
    assert after == before, sorted(set(after.items()) ^ set(before.items()))  # no run folder, lock or params change
    assert not (project.root / ".henryvc" / "pipeline.lock").exists()
    assert git_state(project.root) == git_before
