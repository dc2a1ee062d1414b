"""Fast checks of the training package's pieces (no training): configs, log format, checkpoints, status."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import pytest

from henryvc.core import record
from henryvc.ops import pipeline
from henryvc_training import common
from tests.helpers import training as tf

VARIANTS = ("stable", "experimental", "production", "debug")


@pytest.mark.parametrize("variant", VARIANTS)
def test_config_templates_are_complete_coqui_tacotron2_configs(variant):
    raw = json.loads((tf.REPO / "configs" / f"henry_voice_v2_{variant}.json").read_text())
    assert raw["model"] == "tacotron2" and raw["variant"] == variant and raw["version"] == "2.0"
    assert raw["run_name"] == "{RUN_NAME}" and raw["output_path"] == "training_runs/{RUN_NAME}"
    assert raw["run_description"] and isinstance(raw["seed"], int)
    assert raw["scheduler_after_epoch"] is False
    assert raw["decoder_ssim_alpha"] == 0.0 and raw["postnet_ssim_alpha"] == 0.0
    assert raw["save_step"] == 500
    assert raw["max_decoder_steps"] <= 1000 and raw["test_sentences"]
    config = common.coqui_config(raw)  # Coqui accepts it once henryvc's keys are stripped
    assert config.training_seed == raw["seed"] and config.scheduler_after_epoch is False


def test_henryvc_seed_wins_over_coqui_training_seed():
    config = common.coqui_config({**tf.make_config(), "seed": 11, "training_seed": 99})
    assert config.training_seed == 11


def test_unknown_config_keys_are_logged_as_warning(caplog):
    with caplog.at_level(logging.WARNING):
        common.coqui_config({**tf.make_config(), "not_a_coqui_key": 1})
    assert "not_a_coqui_key" in caplog.text


def test_run_log_lines_are_all_timestamped_without_colours():
    formatter = common.RunLogFormatter(common.LOG_FORMAT)
    record_ = logging.LogRecord("trainer", logging.INFO, __file__, 1,
                                "\n\x1b[1m > EPOCH: 0/1\x1b[0m\n\n   | > loss: 1.0", None, None)
    lines = formatter.format(record_).splitlines()
    assert len(lines) == 2
    assert all(" INFO     trainer: " in line and "\x1b" not in line for line in lines)
    assert lines[0].endswith("> EPOCH: 0/1") and lines[1].endswith("| > loss: 1.0")


def test_truncated_newest_checkpoint_is_set_aside(tmp_path):
    import torch

    from henryvc_training import checkpoints

    state = {"step": 2, "epoch": 0, "optimizer": [{"param_groups": [{"lr": 0.1}]}], "model": {}}
    torch.save(state, tmp_path / "checkpoint_2.pth")
    torch.save({**state, "step": 4}, tmp_path / "checkpoint_4.pth")
    full = (tmp_path / "checkpoint_4.pth").read_bytes()
    (tmp_path / "checkpoint_4.pth").write_bytes(full[: len(full) // 2])  # a kill mid-save
    assert checkpoints.drop_unreadable_checkpoints(tmp_path) == ["checkpoint_4.pth"]
    assert checkpoints.last_checkpoint(tmp_path).name == "checkpoint_2.pth"
    assert (tmp_path / "checkpoint_4.pth.partial").exists()
    assert checkpoints.checkpoint_state(tmp_path / "checkpoint_2.pth") == {
        "checkpoint": "checkpoint_2.pth", "step": 2, "epoch": 0, "lr": [0.1]}


def test_stale_training_status_reads_incomplete(tmp_path):
    data = tf.sample_data(tmp_path / "voice", clips=2)
    project = tf.make_project(tmp_path / "proj", data)
    run_dir = project / "training_runs" / tf.RUN
    record.update(run_dir, status="training")
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from henryvc.core import record; from pathlib import Path\n"
                               f"lock = record.training_lock(Path({str(run_dir)!r})); lock.acquire()\n"
                               "print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert pipeline.run_status(run_dir) == "training"
    finally:
        holder.kill()
        holder.wait()
    time.sleep(0.1)
    assert pipeline.run_status(run_dir) == "incomplete"
    record.update(run_dir, status="failed")
    assert pipeline.run_status(run_dir) == "failed"


def test_pipeline_core_does_not_import_torch():
    code = "import sys, henryvc.ops.pipeline, henryvc.core.verdict, henryvc.commands.pipeline; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
