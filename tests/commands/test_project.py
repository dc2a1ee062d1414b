"""`henryvc init` and `henryvc validate` on real folders: init makes a git + DVC project (again: no change),
validate prints one line per finding, exits 1 on an error and gives the same findings as JSON."""

from __future__ import annotations

import json

from tests.helpers.cli import run_cli
from tests.helpers.project import minimal_config, sh


def test_init_makes_a_project_and_says_where_its_remote_is(tmp_path):
    root, remote = tmp_path / "henry", tmp_path / "storage"
    root.mkdir()
    result = run_cli(root, "init", "--remote", str(remote))
    assert result.exit_code == 0, result.output
    assert f"henryvc project at {root.resolve()}" in result.output and str(remote) in result.output
    assert (root / ".git").is_dir() and (root / ".dvc").is_dir()
    assert str(remote) in sh(root, "git", "show", "HEAD:.dvc/config").stdout
    assert run_cli(root, "list").exit_code == 0  # now it is a project


def test_init_again_changes_nothing(tmp_path):
    root = tmp_path / "henry"
    root.mkdir()
    assert run_cli(root, "init").exit_code == 0
    head = sh(root, "git", "rev-parse", "HEAD").stdout
    again = run_cli(root, "init")
    assert again.exit_code == 0, again.output
    assert sh(root, "git", "rev-parse", "HEAD").stdout == head
    assert sh(root, "git", "status", "--porcelain").stdout == ""
    assert ".henryvc/storage" in again.output  # the default remote lives in the project


def test_validate_passes_a_good_config_and_fails_a_bad_one(tmp_path):
    good, bad = tmp_path / "henry_voice_v2_debug.json", tmp_path / "henry_voice_v2_stable.json"
    good.write_text(json.dumps(minimal_config("debug")))
    bad.write_text('{"model": "tacotron2",,}')
    ok = run_cli(tmp_path, "validate", str(good))
    assert ok.exit_code == 0 and ok.stdout == "" and "1 file(s) checked, 0 problem(s)" in ok.stderr
    both = run_cli(tmp_path, "validate", str(good), str(bad))
    assert both.exit_code == 1
    assert both.stdout.startswith("error: ") and bad.name in both.stdout
    assert "2 file(s) checked, 1 problem(s)" in both.stderr


def test_validate_json_lists_each_finding(tmp_path):
    bad = tmp_path / "henry_voice_v2_debug.json"
    config = minimal_config("debug")
    del config["run_description"]
    bad.write_text(json.dumps(config))
    result = run_cli(tmp_path, "validate", "--json", str(bad))
    assert result.exit_code == 1
    [finding] = json.loads(result.stdout)
    assert finding["field"] == "run_description" and finding["severity"] == "error"
    assert finding["file"] == str(bad) and "run_description" in finding["fix"]


def test_validate_needs_a_file(tmp_path):
    result = run_cli(tmp_path, "validate")
    assert result.exit_code == 2 and "Missing argument" in result.output
