"""Stage `train` without training: `python -m henryvc_training.train` refuses bad input with one line (exit 2) and
a run it must not touch (exit 1: trained by another process, not resumable exactly) leaving it as it was; the
config it trains with; how an ending is recorded. Real training: tests/tiers/slow/test_training_pipeline.py,
test_training_resume.py and test_training_exact_resume.py."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from henryvc.core import record
from henryvc.core.runfolder import RunPaths
from henryvc_training import common, train
from henryvc_training.trainer import TrainResult
from tests.helpers import training as tf


def stage(root: Path, params: str = "", status: str = "created", training: dict | None = None) -> RunPaths:
    """A project folder as the stage sees it: params.yaml naming tf.RUN, its config.json and run.json."""
    (root / "params.yaml").write_text(f"run: {tf.RUN}\n{params}")
    paths = RunPaths(root, tf.RUN)
    paths.run_dir.mkdir(parents=True)
    paths.config.write_text(json.dumps(tf.make_config(**tf.TINY)))
    rec = record.RunRecord(name=tf.RUN, major=2, variant="debug", created="2025-01-01T12:00:00", config_hash="x",
                           source_commit=None, status=status)
    if training is not None:
        rec.extra["training"] = training
    record.save(paths.run_dir, rec)
    (paths.run_dir / "README.md").write_text(f"# {tf.RUN}\n")
    return paths


def run_stage(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "henryvc_training.train", *args], cwd=root, capture_output=True,
                          text=True, env=tf.env(), timeout=300)


def test_outside_a_project_is_one_line_and_exit_2(tmp_path):
    done = run_stage(tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"train: error: {tmp_path / 'params.yaml'} does not exist: run the stages "
                                        "from the project root (where dvc.yaml is)"]
    assert list(tmp_path.iterdir()) == []


def test_a_run_new_run_did_not_make_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "params.yaml").write_text(f"run: {tf.RUN}\n")
    done = run_stage(tmp_path, "--root", str(tmp_path))
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("train: error: ") and "which `henryvc new-run` has not created here" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]


def test_a_bad_scale_in_params_is_one_line_and_exit_2(tmp_path):
    paths = stage(tmp_path, "train:\n  gpus: 0\n")
    before = paths.run_dir.joinpath("run.json").read_text()
    done = run_stage(tmp_path)
    assert done.returncode == 2
    [line] = done.stderr.splitlines()
    assert line.startswith("train: error: ") and "params.yaml train" in line and "gpus" in line
    assert paths.run_dir.joinpath("run.json").read_text() == before and not paths.checkpoints.exists()


def test_a_run_another_process_trains_is_left_alone(tmp_path):
    paths = stage(tmp_path, status="training", training={"started": True, "finished": False})
    before = paths.run_dir.joinpath("run.json").read_text()
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from pathlib import Path; from henryvc.core import record\n"
                               f"with record.training(Path({str(paths.run_dir)!r})):\n"
                               "    print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True, env=tf.env())
    try:
        assert holder.stdout.readline().strip() == "held"
        done = run_stage(tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode == 1
    assert done.stderr.splitlines() == [f"train: error: {tf.RUN} is being trained by another process; wait for it "
                                        "or stop it"]
    assert paths.run_dir.joinpath("run.json").read_text() == before


def test_a_checkpoint_without_exact_resume_state_is_refused_and_kept(tmp_path):
    paths = stage(tmp_path, status="incomplete", training={"started": True, "finished": False})
    paths.checkpoints.mkdir()
    model = torch.nn.Linear(2, 1)
    torch.save({"step": 2, "epoch": 0, "model": model.state_dict(),  # what a henryvc before exact resume saved
                "optimizer": [torch.optim.SGD(model.parameters(), lr=0.1).state_dict()]},
               paths.checkpoints / "checkpoint_2.pth")
    saved = (paths.checkpoints / "checkpoint_2.pth").read_bytes()
    before = paths.run_dir.joinpath("run.json").read_text()
    done = run_stage(tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line == (f"train: error: cannot resume {tf.RUN} exactly: checkpoint_2.pth lacks scheduler, scaler; "
                    f"`henryvc resume --inexact {tf.RUN}` continues it as Coqui does (that epoch restarts with new "
                    "random numbers)")
    assert (paths.checkpoints / "checkpoint_2.pth").read_bytes() == saved and os_list(paths.checkpoints) == [
        "checkpoint_2.pth"]
    assert paths.run_dir.joinpath("run.json").read_text() == before  # still incomplete, still resumable
    assert not record.is_training(paths.run_dir)


def os_list(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_stage_config_keeps_params_retention_and_moves_the_learning_rate(tmp_path, caplog):
    paths = stage(tmp_path)
    paths.config.write_text(json.dumps(tf.make_config(scheduler_after_epoch=True, save_n_checkpoints=10)))
    with caplog.at_level(logging.WARNING):
        config = train.stage_config(paths, common.Settings(keep_checkpoints=3))
    assert config.save_n_checkpoints == 3 and config.scheduler_after_epoch is False
    assert "scheduler_after_epoch is true in config.json; using false so the learning rate moves" in caplog.text
    assert train.stage_config(paths, common.Settings()).save_n_checkpoints == 10  # no rule: the config's own


@pytest.mark.parametrize(("result", "status", "finished"), [
    (TrainResult("finished", 6, 2), "incomplete", True),  # awaits the evaluate stage
    (TrainResult("interrupted", 3, 1, message="interrupted"), "incomplete", False),  # awaits `henryvc resume`
    (TrainResult("failed", 4, 1, message="non-finite loss (loss) at step 4"), "failed", False),
    (TrainResult("crashed", 3, 1, message="AssertionError at x.py:1"), "failed", False),
])
def test_how_training_ended_is_recorded(tmp_path, result, status, finished):
    paths = stage(tmp_path, status="training", training={"started": True, "finished": False})
    train._record_result(paths, result)
    rec = record.load(paths.run_dir)
    assert rec.status == status and rec.extra["training"] == {"started": True, "finished": finished,
                                                               "steps": result.steps, "epochs": result.epochs,
                                                               "ended": result.status}
    assert rec.history[-1]["event"] == f"train-{result.status}" and rec.history[-1]["steps"] == result.steps
    readme = (paths.run_dir / "README.md").read_text()
    if status == "failed":
        [reason] = rec.verdict["reasons"]
        assert result.message in reason and f"- {reason}" in readme and "Verdict: failed" in readme
    else:
        assert rec.verdict == {} and readme == f"# {tf.RUN}\n"
