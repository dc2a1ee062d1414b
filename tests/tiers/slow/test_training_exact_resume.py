"""Exact resume: a real training SIGKILLed mid-epoch and resumed with `henryvc resume` ends with the same
per-step losses and bit-identical model tensors as the same run never interrupted; a checkpoint without
the exact-resume state (older runs) is refused with one line unless --inexact."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from henryvc.core import record
from henryvc.core.project import Project
from henryvc.errors import NotReady
from henryvc.ops import pipeline
from henryvc_training import compare, resume
from tests.helpers import training as tf
from tests.helpers.project import scratch

pytestmark = pytest.mark.slow

# 8 training clips at batch 2: 4 steps an epoch; checkpoints every 3 steps, so checkpoint_6 is the
# 3rd of the 4 batches of epoch 1: a resume from it must skip 3 batches and replay the 4th exactly.
CONFIG = {**tf.TINY, "epochs": 3, "batch_size": 2, "save_step": 3}


def _project(base, name, data):
    project = tf.make_project(base / name, data, config=tf.make_config(**CONFIG),
                              params={"evaluation": tf.TINY_PARAMS})
    tf.dvc("repro", "prepare", cwd=project)
    return project


def _train(project) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "henryvc_training.train"], cwd=project, env=tf.env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_after_checkpoint(proc: subprocess.Popen, run_dir, step: int, timeout: float = 900) -> None:
    """SIGKILL PROC as soon as checkpoint_STEP.pth is written and the step's loss line follows it."""
    losses, checkpoint = run_dir / "logs" / "step_losses.jsonl", run_dir / "checkpoints" / f"checkpoint_{step}.pth"
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if checkpoint.exists() and losses.exists() and len(losses.read_text().splitlines()) > step:
                return
            assert proc.poll() is None, "training ended before it could be killed"
            time.sleep(0.05)
        raise AssertionError(f"no checkpoint_{step}.pth within {timeout} s")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def _epoch_rows(run_dir):
    rows = {}
    for line in (run_dir / "logs" / "epoch_losses.jsonl").read_text().splitlines():
        row = json.loads(line)
        rows[row["epoch"]] = row  # a re-run epoch end: the later row wins, as for steps
    return rows


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory):
    """(reference run folder, killed project, killed run folder, copy of the killed project)."""
    base = scratch(request, tmp_path_factory, "exact_resume")
    data = tf.sample_data(base / "voice", clips=10)
    reference = _project(base, "reference", data)
    assert _train(reference).wait(timeout=1800) == 0
    killed = _project(base, "killed", data)
    run_dir = killed / "training_runs" / tf.RUN
    _kill_after_checkpoint(_train(killed), run_dir, 6)
    # the same killed state, for the refusal tests (made before the resume below touches it)
    old = base / "old"
    shutil.copytree(killed, old, symlinks=True)
    return reference / "training_runs" / tf.RUN, killed, run_dir, old


def test_killed_mid_epoch_and_resumed_equals_uninterrupted(runs):
    reference, killed, run_dir, _old = runs
    assert pipeline.run_status(run_dir) == "incomplete"

    result = pipeline.resume(Project(killed), tf.RUN)

    continued = result.continued_from
    assert continued["checkpoint"] == "checkpoint_6.pth" and continued["exact"] is True
    assert continued["resumed_at"] == {"kind": "step", "epoch": 1, "next_step": 7, "batches_done": 3}
    assert record.load(run_dir).extra["training"]["finished"] is True
    steps = [row["step"] for row in compare.read_step_losses(run_dir)]
    assert steps == list(range(12))
    assert compare.compare_step_losses(reference, run_dir) == []
    final = compare.final_checkpoint(run_dir)
    assert final.name == compare.final_checkpoint(reference).name == "checkpoint_12.pth"
    assert compare.compare_checkpoints(compare.final_checkpoint(reference), final) == []
    # the per-epoch averages (restored running averages) and learning rates agree too
    ref_epochs, run_epochs = _epoch_rows(reference), _epoch_rows(run_dir)
    assert sorted(ref_epochs) == sorted(run_epochs) == [0, 1, 2]
    for epoch in ref_epochs:
        for key in ("step", "lr"):
            assert ref_epochs[epoch][key] == run_epochs[epoch][key], (epoch, key)
        for key in ("train", "eval"):  # every average but the wall-clock ones (avg_step_time, avg_loader_time)
            ref = {k: v for k, v in ref_epochs[epoch][key].items() if not k.endswith("_time")}
            assert ref and ref == {k: v for k, v in run_epochs[epoch][key].items() if not k.endswith("_time")}


def test_the_comparison_sees_a_difference(runs):
    # guards the test above: the killed run's own checkpoint_6 is not the reference's final state
    reference, _killed, _run_dir, old = runs
    differences = compare.compare_checkpoints(old / "training_runs" / tf.RUN / "checkpoints" / "checkpoint_6.pth",
                                              compare.final_checkpoint(reference))
    assert differences and all(": differs" in line for line in differences)


def _strip_resume_state(run_dir):
    import torch

    for path in (run_dir / "checkpoints").glob("*.pth"):
        state = torch.load(path, map_location="cpu", weights_only=False)
        state.pop(resume.KEY, None)
        torch.save(state, path)


def test_checkpoint_without_resume_state_is_refused_unless_inexact(runs):
    _reference, _killed, _run_dir, old = runs
    run_dir = old / "training_runs" / tf.RUN
    _strip_resume_state(run_dir)  # what a run saved before exact resume existed looks like
    before = (run_dir / "run.json").read_text()

    with pytest.raises(NotReady) as refused:
        pipeline.resume(Project(old), tf.RUN)
    message = str(refused.value)
    assert "\n" not in message and "cannot resume" in message and "--inexact" in message
    assert "checkpoint_6.pth holds no random-generator and data-loader state" in message
    # the stage refuses too (plain `dvc repro` continues a cut-short run): exit 1, one line, nothing written
    stage = subprocess.run([sys.executable, "-m", "henryvc_training.train"], cwd=old, env=tf.env(),
                           capture_output=True, text=True)
    assert refused.value.exit_code == 1 and stage.returncode == 1
    assert [line for line in stage.stderr.splitlines() if "error" in line] == [f"train: error: {message}"]
    assert (run_dir / "run.json").read_text() == before

    result = pipeline.resume(Project(old), tf.RUN, inexact=True)

    continued = result.continued_from
    assert continued["exact"] is False and "no random-generator" in continued["inexact_reason"]
    assert record.load(run_dir).extra["training"]["finished"] is True
