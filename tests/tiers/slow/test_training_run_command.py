"""`henryvc run` end to end: the registry's new-run, the real `dvc repro` of the real pipeline, tag-run."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from henryvc import api
from henryvc.commands.pipeline import run_command
from henryvc.core import record, runname
from henryvc.errors import NotReady
from henryvc.ops import pipeline
from tests.helpers import training as tf

pytestmark = pytest.mark.slow


def test_run_creates_trains_evaluates_and_tags(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    api.init(root, str(tmp_path / "remote"))  # copies this repo's dvc.yaml, params.yaml and configs
    project = api.require_project(root)
    shutil.copytree(tf.sample_data(tmp_path / "voice", clips=10), root / "voice_data")
    params = (root / "params.yaml").read_text().replace("max_decoder_steps: 500", "max_decoder_steps: 40")
    (root / "params.yaml").write_text(params)
    template = json.loads((root / "configs" / "henry_voice_v2_debug.json").read_text())
    template.update(tf.TINY)
    tiny = root / "configs" / "tiny_debug.json"
    tiny.write_text(json.dumps(template, indent=2))
    tf.dvc("add", "-q", "voice_data", cwd=root)
    tf.sh("git", "add", "-A", cwd=root)
    tf.sh("git", "commit", "-qm", "voice data and a tiny config", cwd=root)

    old = Path.cwd()
    os.chdir(root)
    try:
        result = CliRunner().invoke(run_command, ["--major", "2", "--variant", "debug", "--config", str(tiny),
                                                  "--description", "test of henryvc run"],
                                    catch_exceptions=False)
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output
    name = result.stdout.strip().splitlines()[-1]
    assert runname.is_run_name(name)

    run_dir = project.run_dir(name)
    rec = record.load(run_dir)
    assert rec.status == "failed" and rec.verdict["status"] == "failed"  # tiny model, honest verdict
    assert rec.extra["training"]["finished"] is True
    assert (run_dir / "metrics.json").exists() and (run_dir / "checkpoints" / "best_model.pth").exists()
    assert tf.sh("git", "tag", "--list", name, cwd=root).stdout.strip() == name
    assert "up to date" in tf.dvc("status", cwd=root).stdout
    with pytest.raises(NotReady, match="not incomplete"):
        pipeline.resume(project, name)
