"""henryvc.ops.runtag: `henryvc tag-run` adds an editable henryvc's git commit to the code identity the train
stage recorded (the stage asks git nothing), only where the stage files are still the ones it trained with.
Real git and DVC, the one stand-in stage (tests/helpers/fake_stage.py) for the training."""

from __future__ import annotations

import json
import subprocess

from henryvc import api
from henryvc.core import environment
from henryvc.core import record as records
from henryvc.core.summary import parse_message
from henryvc.paths import SOURCE_ROOT
from tests.helpers.lifecycle import run_with_status
from tests.helpers.project import sh


def _with_code_identity(project, name: str, digest: str | None = None) -> dict:
    """Give run NAME the code identity the real train stage writes (environment.write), DIGEST if given."""
    run_dir = project.run_dir(name)
    kept = environment.write(run_dir)
    if digest is not None:
        kept["code"]["digest"] = digest
        info = json.loads((run_dir / environment.INFO_FILE).read_text())
        info["code"]["digest"] = digest
        (run_dir / environment.INFO_FILE).write_text(json.dumps(info))
    records.update(run_dir, **kept)
    assert "commit" not in kept["code"]["henryvc"]  # what the stage records: no git fact
    return kept


def _tag_summary(project, name: str) -> dict:
    message = sh(project.root, "git", "cat-file", "-p", name).stdout
    return parse_message(message.split("\n\n", 1)[1]) or {}


def test_tag_run_adds_the_source_commit_when_the_stage_code_is_unchanged(project):
    name = run_with_status(project, "success", seed=11)
    kept = _with_code_identity(project, name)
    assert kept["code"]["henryvc"]["kind"] == "editable"  # this checkout is installed with pip -e
    api.tag_run(project, name)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=SOURCE_ROOT, capture_output=True, text=True).stdout.strip()
    summary = _tag_summary(project, name)
    assert summary["code"]["henryvc"]["commit"] == head
    info = json.loads(sh(project.root, "git", "show", f"{name}:training_runs/{name}/environment.json").stdout)
    assert info["code"]["henryvc"]["commit"] == head  # committed with the run, not only in the tag
    assert summary["environment"]["tagged_with"]["git"]  # git's version: the operation's, at tag time


def test_tag_run_says_the_commit_is_unknown_when_the_code_changed_since_training(project):
    name = run_with_status(project, "success", seed=12)
    _with_code_identity(project, name, digest="0" * 64)  # trained with other stage files than these
    api.tag_run(project, name)
    source = _tag_summary(project, name)["code"]["henryvc"]
    assert "commit" not in source and "changed between training and tagging" in source["unknown"]
