"""NaN guard on a real training step: a learning rate that blows the weights up makes the loss NaN."""

from __future__ import annotations

import json
import re

import pytest

from henryvc_training import prepare, train
from tests.helpers import training as tf

pytestmark = pytest.mark.slow


def test_first_nan_stops_training_marks_failed_and_keeps_debug_state(tmp_path):
    data = tf.sample_data(tmp_path / "voice", clips=10)
    # An absurd learning rate: the first optimizer step sends the weights to ~1e30, the next forward
    # pass overflows, and the loss of the next step is NaN/inf. Real Coqui, real Tacotron2, no mocks.
    config = tf.make_config(**{**tf.TINY, "epochs": 4, "lr": 1e35, "grad_clip": 0.0})
    project = tf.make_project(tmp_path / "proj", data, config=config, params={"evaluation": tf.TINY_PARAMS})
    run_dir = project / "training_runs" / tf.RUN
    assert prepare.main(["--root", str(project)]) == 0

    assert train.main(["--root", str(project)]) == 1

    log = (run_dir / "training_v2.log").read_text()
    critical = [line for line in log.splitlines() if " CRITICAL " in line]
    assert len(critical) == 1 and "NaN guard: non-finite loss" in critical[0]
    step = int(re.search(r"at step (\d+)", critical[0]).group(1))
    assert step < 12  # stopped at the first NaN, long before the 4 epochs were done

    summary = json.loads((run_dir / "logs" / "nan_debug.json").read_text())
    assert summary["step"] == step and summary["non_finite"]
    import torch

    state = torch.load(run_dir / summary["debug_state"], weights_only=False)
    assert set(state) >= {"model", "optimizer", "batch", "loss", "step"}
    assert "text_input" in state["batch"] and "mel_input" in state["batch"]
    assert any(not torch.isfinite(torch.as_tensor(v)).all() for v in state["loss"].values())

    # every loss line written before the guard fired is finite: the NaN step itself was never trained on
    rows = [json.loads(ln) for ln in (run_dir / "logs" / "step_losses.jsonl").read_text().splitlines()]
    assert len(rows) == step
    assert all(isinstance(v, float) and abs(v) < float("inf") for r in rows for k, v in r.items() if k.endswith("loss"))
    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "failed"
    assert record["verdict"]["status"] == "failed" and "NaN guard" in record["verdict"]["reasons"][0]
    assert record["training"]["finished"] is False
    assert "## Verdict: failed" in (run_dir / "README.md").read_text()
    assert run_dir.is_dir() and (run_dir / "config.json").exists()
