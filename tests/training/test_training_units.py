"""Fast checks of the training package's pieces (no training): a stale training status, the pipeline without torch."""

from __future__ import annotations

import subprocess
import sys
import time

from henryvc.core import record
from henryvc.ops import pipeline
from tests.helpers import training as tf


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
