"""Archived runs are still runs (issue 15, item 7): show and logs find them where archive put them, and
`resume` of an archived incomplete run moves it back to training_runs/ (committed) and continues it: a real
training, SIGKILLed, archived, then resumed by the command, which must exit 0 with the run continued."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from henryvc.core import record
from tests.helpers import training as tf
from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import run_with_status
from tests.helpers.project import sh


def test_show_logs_and_resume_find_an_archived_incomplete_run(project):
    name = run_with_status(project, "incomplete", seed=3, tag=True)
    (project.run_dir(name) / "training_v2.log").write_text("2026-01-01 INFO henryvc: step 500\n")
    sh(project.root, "git", "add", "-f", f"training_runs/{name}/training_v2.log")
    sh(project.root, "git", "commit", "-qm", "the run's log")
    assert run_cli(project.root, "archive", process=True).returncode == 0
    archived = project.runs / "archive" / "incomplete" / name
    assert archived.is_dir() and not project.run_dir(name).exists()

    shown = run_cli(project.root, "show", name, process=True)
    assert shown.returncode == 0, shown.stderr
    assert "archive/incomplete" in shown.stdout, shown.stdout
    logs = run_cli(project.root, "logs", name, process=True)
    assert logs.returncode == 0 and "step 500" in logs.stdout, logs.stderr

    resumed = run_cli(project.root, "resume", name, process=True)
    # The fake stage trains nothing (its outputs are up to date), so resume moves the run back and then says
    # it did not continue; the real continuation is the slow test below.
    assert resumed.returncode == 1, resumed.stderr
    assert resumed.stderr.strip().splitlines()[-1] == (
        f"henryvc: error: run {name} trained again but its record shows no continuation from a checkpoint")
    assert project.run_dir(name).is_dir() and not archived.exists()  # moved back...
    assert f"training_runs/{name}" in sh(project.root, "git", "log", "-1", "--name-only", "--format=%s").stdout
    assert "archive" in sh(project.root, "git", "log", "-1", "--format=%s").stdout  # ...in a commit saying so


@pytest.mark.slow
def test_resume_continues_an_archived_killed_training(tmp_path):
    data = tf.sample_data(tmp_path / "voice", clips=10)
    project = tf.make_project(tmp_path / "proj", data, config=tf.make_config(**{**tf.TINY, "epochs": 3}),
                              params={"evaluation": tf.TINY_PARAMS})
    tf.dvc("repro", "prepare", cwd=project)
    run_dir = project / "training_runs" / tf.RUN
    losses = run_dir / "logs" / "step_losses.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "henryvc_training.train"], cwd=project, env=tf.env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 900
        while not (losses.exists() and len(losses.read_text().splitlines()) >= 6):  # checkpoint_4.pth is whole
            assert proc.poll() is None and time.monotonic() < deadline, "training ended before it could be killed"
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    killed_at = len(losses.read_text().splitlines())

    archived = run_cli(project, "archive", process=True)
    assert archived.returncode == 0, archived.stderr
    assert (project / "training_runs" / "archive" / "incomplete" / tf.RUN).is_dir() and not run_dir.exists()

    resumed = run_cli(project, "resume", tf.RUN, timeout=1800, process=True)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert run_dir.is_dir() and not (project / "training_runs" / "archive" / "incomplete" / tf.RUN).exists()
    final = record.load(run_dir)
    continued = next(e["continued_from"] for e in reversed(final.history)
                     if e.get("event") == "train-finished" and e.get("continued_from"))
    assert continued["checkpoint"] == f"checkpoint_{continued['step']}.pth" and continued["step"] >= 4
    assert continued["restored"]["step"] == continued["step"] + 1 and continued["restored"]["lr"] == continued["lr"]
    assert final.extra["training"]["finished"] is True
    epochs = [json.loads(line) for line in (run_dir / "logs" / "epoch_losses.jsonl").read_text().splitlines()]
    assert epochs[-1]["epoch"] == 2  # all three epochs done
    steps = [json.loads(line)["step"] for line in losses.read_text().splitlines()]
    assert len(steps) > killed_at and steps[killed_at] == continued["step"] + 1  # on from where it stopped
