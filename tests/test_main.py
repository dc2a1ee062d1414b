"""henryvc.main: the one place where errors become exit codes."""

from __future__ import annotations

import json

from tests.helpers.cli import run_cli


def test_a_printed_report_exits_1_without_an_empty_error_line(tmp_path):
    bad = tmp_path / "henry_voice_v2_stable.json"
    bad.write_text(json.dumps({"model": "tacotron2", "scheduler_after_epoch": True}))
    result = run_cli(tmp_path, "validate", str(bad))  # the findings are the report; errors.Reported ends it
    assert result.exit_code == 1
    assert "scheduler_after_epoch" in result.stdout
    assert "henryvc: error" not in result.stderr


def test_a_failed_operation_still_says_why_in_one_line(tmp_path):
    result = run_cli(tmp_path, "list")  # not a project
    assert result.exit_code == 1
    assert result.stderr.startswith("henryvc: error: ") and len(result.stderr.strip().splitlines()) == 1
