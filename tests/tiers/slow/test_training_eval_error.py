"""A failed periodic evaluation is an ERROR line, and training goes on to finish."""

from __future__ import annotations

import json

import pytest

from henryvc.core import record
from henryvc_training import prepare, train
from tests.helpers import training as tf

pytestmark = pytest.mark.slow


def test_failed_evaluation_is_logged_as_error_and_training_finishes(tmp_path):
    data = tf.sample_data(tmp_path / "voice", clips=10)
    # Every character of this test sentence is one the alphabet drops: Coqui gets an empty input and fails.
    config = tf.make_config(**{**tf.TINY, "epochs": 1, "test_sentences": ["☃☃☃"]})
    project = tf.make_project(tmp_path / "proj", data, config=config,
                              params={"evaluation": {"every_epochs": 1, "max_decoder_steps": 40}})
    run_dir = project / "training_runs" / tf.RUN
    assert prepare.main(["--root", str(project)]) == 0
    assert train.main(["--root", str(project)]) == 0
    log = (run_dir / "training_v2.log").read_text()
    assert "WARNING  henryvc.training.prepare: evaluation text '☃☃☃' has characters" in log  # told early
    errors = [ln for ln in (run_dir / "training_v2.log").read_text().splitlines() if " ERROR " in ln]
    assert errors and "evaluation at epoch 1 failed, training goes on" in errors[0]
    assert record.load(run_dir).extra["training"]["finished"] is True
    assert not (run_dir / "logs" / "evaluations.jsonl").exists()
    assert json.loads((run_dir / "run.json").read_text())["status"] == "incomplete"  # awaits evaluate
