"""SIGKILL a real training process mid-run: folder and logs survive, the run is incomplete, resume finishes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from henryvc.core import record
from henryvc.core.project import Project
from henryvc.errors import NotReady, RunNotFound
from henryvc.ops import pipeline
from tests.helpers import training as tf

pytestmark = pytest.mark.slow


def _wait_for_steps(proc: subprocess.Popen, losses, count: int, timeout: float = 900) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if losses.exists() and len(losses.read_text().splitlines()) >= count:
            return
        assert proc.poll() is None, "training ended before it could be killed"
        time.sleep(0.2)
    raise AssertionError(f"no {count} training steps within {timeout} s")


def _start_training(tmp_path, **config) -> tuple:
    """A prepared project with a 3-epoch tiny run, and the train stage started on it as its own process."""
    data = tf.sample_data(tmp_path / "voice", clips=10)
    config = tf.make_config(**{**tf.TINY, "epochs": 3, **config})
    project = tf.make_project(tmp_path / "proj", data, config=config, params={"evaluation": tf.TINY_PARAMS})
    tf.dvc("repro", "prepare", cwd=project)
    proc = subprocess.Popen([sys.executable, "-m", "henryvc_training.train"], cwd=project, env=tf.env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return project, project / "training_runs" / tf.RUN, proc


def test_sigkill_then_resume(tmp_path):
    project, run_dir, proc = _start_training(tmp_path)
    try:
        # step 5 has run, so checkpoint_4.pth (written at step 4) is complete on disk
        _wait_for_steps(proc, run_dir / "logs" / "step_losses.jsonl", 6)
        assert record.is_training(run_dir)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    log_before = (run_dir / "training_v2.log").read_text()
    assert log_before and (run_dir / "config.json").exists() and (run_dir / "README.md").exists()
    assert (run_dir / "checkpoints" / "checkpoint_4.pth").exists()
    assert record.load(run_dir).status == "training"  # what the killed process left...
    assert not record.is_training(run_dir)
    assert pipeline.run_status(run_dir) == "incomplete"  # ...and what it means
    with pytest.raises(RunNotFound):
        pipeline.resume(Project(project), "henry_v2_debug_20250101_120001")  # no such folder
    killed_at = len((run_dir / "logs" / "step_losses.jsonl").read_text().splitlines())

    result = pipeline.resume(Project(project), tf.RUN)

    continued = result.continued_from
    assert continued["checkpoint"] == f"checkpoint_{continued['step']}.pth" and continued["step"] >= 4
    assert continued["restored"]["step"] == continued["step"] + 1
    assert continued["restored"]["lr"] == continued["lr"]
    assert result.status == "failed"  # evaluated: a tiny model fails the criteria, honestly
    final = record.load(run_dir)
    assert final.extra["training"]["finished"] is True
    epochs = [json.loads(ln) for ln in (run_dir / "logs" / "epoch_losses.jsonl").read_text().splitlines()]
    assert epochs[-1]["epoch"] == 2  # all three epochs done
    log_after = (run_dir / "training_v2.log").read_text()
    assert log_after.startswith(log_before)  # the killed run's log was kept and appended to
    assert f"continuing {tf.RUN} from {continued['checkpoint']}" in log_after
    steps = [json.loads(ln)["step"] for ln in (run_dir / "logs" / "step_losses.jsonl").read_text().splitlines()]
    assert len(steps) > killed_at and steps[killed_at] == continued["step"] + 1
    assert "up to date" in tf.dvc("status", cwd=project).stdout


def test_resume_refuses_a_finished_run(tmp_path):
    data = tf.sample_data(tmp_path / "voice", clips=10)
    project = tf.make_project(tmp_path / "proj", data)
    run_dir = project / "training_runs" / tf.RUN
    record.update(run_dir, status="failed")
    with pytest.raises(NotReady, match="is failed, not incomplete"):
        pipeline.resume(Project(project), tf.RUN)


def test_sigterm_saves_a_checkpoint_and_leaves_the_run_incomplete(tmp_path):
    _, run_dir, proc = _start_training(tmp_path, save_step=500)  # no periodic checkpoint
    try:
        _wait_for_steps(proc, run_dir / "logs" / "step_losses.jsonl", 2)
        os.kill(proc.pid, signal.SIGTERM)  # docker stop, a scheduler's pre-emption
        assert proc.wait(timeout=300) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
    rec = record.load(run_dir)
    assert rec.status == "incomplete" and rec.extra["training"]["ended"] == "interrupted"
    checkpoints = [p.name for p in (run_dir / "checkpoints").glob("checkpoint_*.pth")]
    assert len(checkpoints) == 1  # written on the way out (save_on_interrupt), not by save_step
    critical = [ln for ln in (run_dir / "training_v2.log").read_text().splitlines() if " CRITICAL " in ln]
    assert len(critical) == 1 and f"henryvc resume {tf.RUN}" in critical[0]
