"""henryvc.ops.submit without a cluster: the batch script it builds, bad input refused before any scheduler is asked,
no reachable SLURM refused with nothing made, job files read and released. A real cluster (queueing, worktrees,
cancel, requeue) is tests/tiers/slurm/test_slurm.py and tests/tiers/slurm/test_slurm_training.py."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from henryvc.errors import BadInput, RunNotFound, SchedulerUnavailable
from henryvc.ops import submit as submits
from tests.helpers.project import PYTHON_BIN, make_project, sh

NAME = "henry_v2_debug_20240102_030405"


@pytest.fixture
def no_slurm(tmp_path, monkeypatch):
    """PATH with git and this Python but no SLURM client: any question to the scheduler fails at once."""
    bin_dir = tmp_path / "bin-without-slurm"
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(subprocess.run(["which", "git"], capture_output=True, text=True).stdout.strip())
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{PYTHON_BIN}")


def _jobs(project) -> list[str]:
    folder = submits.jobs_dir(project)
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_the_batch_script_asks_for_what_the_request_says(project):
    request = submits.Request(2, "debug", gpus=2, nodes=2, partition="gpu", time="1-00:00", account="voice",
                              grace_s=300)
    text = submits.script(project, NAME, request)
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash" and text.endswith("\n")
    sbatch = [line for line in lines if line.startswith("#SBATCH ")]
    assert sbatch == [f"#SBATCH --job-name={NAME}", f"#SBATCH --chdir={submits.worktree_of(project, NAME)}",
                      f"#SBATCH --output={submits.jobs_dir(project) / NAME}.out", "#SBATCH --open-mode=append",
                      "#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=1", "#SBATCH --signal=B:TERM@300",
                      "#SBATCH --requeue", "#SBATCH --gpus-per-node=2", "#SBATCH --partition=gpu",
                      "#SBATCH --time=1-00:00", "#SBATCH --account=voice"]
    assert submits.worktree_of(project, NAME) == project.state / "jobs" / NAME
    # The batch step: this Python runs the job step for this project and run.
    [step] = [line for line in lines if line.startswith("exec ")]
    assert shlex.split(step) == ["exec", sys.executable, "-m", "henryvc.ops.jobstep", "--project", str(project.root),
                                 NAME]
    assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0  # bash can parse it

    plain = submits.script(project, NAME, submits.Request(2, "debug"))
    assert "#SBATCH --nodes=1" in plain and f"#SBATCH --signal=B:TERM@{submits.DEFAULT_GRACE_S}" in plain
    assert not any(flag in plain for flag in ("--gpus-per-node", "--partition", "--time=", "--account"))


def test_the_batch_step_quotes_an_awkward_project_path_and_image(tmp_path):
    project = make_project(tmp_path / "henry's project", tmp_path / "remote")
    text = submits.script(project, NAME, submits.Request(2, "debug", gpus=1, image="reg.example/henry vc:1"))
    [step] = [line for line in text.splitlines() if line.startswith("exec ")]
    assert shlex.split(step)[4:] == ["--project", str(project.root), "--image", "reg.example/henry vc:1", "--gpus",
                                     NAME]
    # The step's arguments reach the job step as the words they are (run by bash with `exec` made an echo).
    echoed = subprocess.run(["bash", "-c", step.replace("exec ", "printf '%s\\n' ", 1)], capture_output=True,
                            text=True)
    assert echoed.stdout.splitlines() == [sys.executable, "-m", "henryvc.ops.jobstep", "--project", str(project.root),
                                          "--image", "reg.example/henry vc:1", "--gpus", NAME]


@pytest.mark.parametrize("changes, says", [
    ({"time": "two hours"}, "is not a SLURM time"),
    ({"grace_s": 0}, "--grace must be at least 1"),
    ({"gpus": 0}, "--gpus must be at least 1"),
    ({"nodes": 0}, "--nodes must be at least 1"),
    ({"variant": "nightly"}, "nightly"),
    ({"sets": ("no_such_field=1",)}, "no field 'no_such_field'"),
    ({"image": "henryvc:test", "nodes": 2}, "--image runs the stages in one container"),
])
def test_bad_input_is_refused_before_the_scheduler_is_asked(project, no_slurm, changes, says):
    before = sh(project.root, "git", "status", "--porcelain").stdout, project.params.read_text()
    request = submits.Request(**{"major": 2, "variant": "debug", **changes})
    with pytest.raises(BadInput, match=says) as raised:  # not SchedulerUnavailable: no SLURM was needed to say it
        submits.submit(project, request)
    assert raised.value.exit_code == 2
    assert _jobs(project) == [] and (sh(project.root, "git", "status", "--porcelain").stdout,
                                     project.params.read_text()) == before


def test_no_reachable_slurm_is_refused_with_nothing_made(project, no_slurm):
    for dry_run in (True, False):
        with pytest.raises(SchedulerUnavailable, match="install the SLURM client tools") as raised:
            submits.submit(project, submits.Request(2, "debug"), dry_run=dry_run)
        assert raised.value.exit_code == 1
    assert _jobs(project) == [] and sh(project.root, "git", "worktree", "list").stdout.count("\n") == 1
    assert submits.active(project) == []  # list and status go on without a scheduler


def test_only_submitted_job_files_are_read_and_cancel_knows_the_rest_are_not_jobs(project, no_slurm):
    folder = submits.jobs_dir(project)
    folder.mkdir(parents=True)
    (folder / f"{NAME}.json").write_text('{"state": "reserved"}\n')  # a submission still in flight
    (folder / "henry_v2_debug_20240102_030406.json").write_text("{torn")
    assert submits.job_views(project) == []  # no scheduler asked: it would have failed here
    assert submits.active(project) == []
    with pytest.raises(RunNotFound, match="was not submitted from this project"):
        submits.cancel(project, NAME)
    with pytest.raises(BadInput):
        submits.cancel(project, "not-a-run")


def test_release_removes_what_a_failed_submission_made(project):
    folder = submits.jobs_dir(project)
    folder.mkdir(parents=True)
    worktree = submits.worktree_of(project, NAME)
    sh(project.root, "git", "worktree", "add", "-q", "--detach", str(worktree), "HEAD")
    (worktree / "scratch.txt").write_text("untracked, made by the job")
    (folder / f"{NAME}.sbatch").write_text("#!/bin/bash\n")
    (folder / f"{NAME}.json").write_text('{"state": "reserved"}\n')
    other = folder / "henry_v2_debug_20240102_030406.json"
    other.write_text(json.dumps({"state": "submitted"}))
    submits.release(project, NAME)
    assert not worktree.exists() and str(worktree) not in sh(project.root, "git", "worktree", "list").stdout
    assert _jobs(project) == [other.name]  # another run's reservation is not touched
    submits.release(project, NAME)  # nothing left: nothing to do, no error


def test_the_attempt_is_read_from_slurms_environment(monkeypatch):
    for key, value in {"SLURM_JOB_ID": "41", "SLURM_RESTART_COUNT": "2", "SLURM_JOB_NODELIST": "n[1-2]",
                       "SLURMD_NODENAME": "n1"}.items():
        monkeypatch.setenv(key, value)
    attempt = submits.environ_attempt()
    assert {k: attempt[k] for k in ("job_id", "restart_count", "nodes", "node")} == {
        "job_id": "41", "restart_count": 2, "nodes": "n[1-2]", "node": "n1"}
    monkeypatch.delenv("SLURM_RESTART_COUNT")
    assert submits.environ_attempt()["restart_count"] == 0
