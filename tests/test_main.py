"""henryvc.main: the one place where errors become exit codes."""

from __future__ import annotations

import json


def test_a_printed_report_exits_1_without_an_empty_error_line(tmp_path, invoke):
    bad = tmp_path / "henry_voice_v2_stable.json"
    bad.write_text(json.dumps({"model": "tacotron2", "scheduler_after_epoch": True}))
    result = invoke(["validate", str(bad)], tmp_path)  # the findings are the report; errors.Reported ends it
    assert result.exit_code == 1
    assert "scheduler_after_epoch" in result.stdout
    assert "henryvc: error" not in result.stderr


def test_a_failed_operation_still_says_why_in_one_line(tmp_path, invoke):
    result = invoke(["list"], tmp_path)  # not a project
    assert result.exit_code == 1
    assert result.stderr.startswith("henryvc: error: ") and len(result.stderr.strip().splitlines()) == 1
