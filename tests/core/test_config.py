"""Config validation: syntax, required fields, naming and the seed's known failure settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from henryvc.core import config as configs
from tests.helpers.cli import run_cli
from tests.helpers.project import minimal_config

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, data, name="henry_voice_v2_debug.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def fields(findings):
    return {f.field for f in findings}


def test_minimal_config_is_clean(tmp_path):
    assert configs.validate_file(write(tmp_path, minimal_config())) == []


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("henry_voice_v*.json")), ids=lambda p: p.name)
def test_shipped_templates_are_clean(path):
    assert configs.validate_file(path) == []


def test_syntax_error_reports_line_and_column(tmp_path):
    [finding] = configs.validate_file(write(tmp_path, '{\n  "model": "tacotron2",\n  "seed": ,\n}'))
    assert "line 3 column 11" in finding.problem


@pytest.mark.parametrize("field", sorted(configs.REQUIRED))
def test_missing_required_field(tmp_path, field):
    data = minimal_config()
    del data[field]
    assert field in fields(configs.validate_file(write(tmp_path, data)))


@pytest.mark.parametrize("field", sorted(configs.REQUIRED))
def test_ill_typed_required_field(tmp_path, field):
    data = minimal_config()
    data[field] = 7
    found = [f for f in configs.validate_file(write(tmp_path, data)) if f.field == field]
    assert found and "must be a str" in found[0].problem


def test_fields_that_disagree_with_file_name(tmp_path):
    found = configs.validate_file(write(tmp_path, minimal_config("stable", major=3)))
    assert {"variant", "version"} <= fields(found)


@pytest.mark.parametrize("change,field", [
    ({"decoder_ssim_alpha": 0.5}, "decoder_ssim_alpha"),
    ({"postnet_ssim_alpha": 0.25}, "postnet_ssim_alpha"),
    ({"target_loss": "loss_1"}, "target_loss"),
    ({"target_loss": "ga_loss", "ga_alpha": 0.0}, "target_loss"),
    ({"scheduler_after_epoch": True}, "scheduler_after_epoch"),
    ({"stopnet_pos_weight": 100.0}, "stopnet_pos_weight"),
    ({"stopnet_pos_weight": "10"}, "stopnet_pos_weight"),
    ({"ga_alpha": -1.0}, "ga_alpha"),
    ({"output_path": "../elsewhere"}, "output_path"),
    ({"run_name": "../../etc"}, "run_name"),
    ({"model": "vits"}, "model"),
    ({"variant": "nightly"}, "variant"),
], ids=lambda v: str(v))
def test_each_lint(tmp_path, change, field):
    data = {**minimal_config(), **change}
    found = [f for f in configs.validate_file(write(tmp_path, data)) if f.field == field]
    assert found, f"no finding for {field}"
    assert found[0].fix and found[0].file.endswith(".json")


def test_absent_ssim_and_scheduler_fields_fall_back_to_coquis_bad_defaults(tmp_path):
    data = minimal_config()
    for key in ("decoder_ssim_alpha", "postnet_ssim_alpha", "scheduler_after_epoch"):
        del data[key]
    assert {"decoder_ssim_alpha", "postnet_ssim_alpha", "scheduler_after_epoch"} <= fields(
        configs.validate_file(write(tmp_path, data)))


def test_target_loss_that_the_model_logs_is_fine(tmp_path):
    assert configs.validate_file(write(tmp_path, {**minimal_config(), "target_loss": "postnet_loss"})) == []


def test_non_object_and_huge_files(tmp_path):
    assert "not an object" in configs.validate_file(write(tmp_path, "[1, 2]"))[0].problem
    huge = tmp_path / "huge.json"
    huge.write_text('{"x": "' + "a" * (configs.MAX_CONFIG_BYTES + 1) + '"}')
    assert "limit" in configs.validate_file(huge)[0].problem


def test_validate_command_exit_codes(tmp_path):
    good = write(tmp_path, minimal_config())
    bad = write(tmp_path, {**minimal_config(), "scheduler_after_epoch": True}, "henry_voice_v2_stable.json")
    assert run_cli(tmp_path, "validate", str(good)).exit_code == 0
    result = run_cli(tmp_path, "validate", str(good), str(bad))
    assert result.exit_code == 1
    assert "scheduler_after_epoch" in result.output and "fix:" in result.output
    result = run_cli(tmp_path, "validate", "--json", str(bad))
    assert {f["field"] for f in json.loads(result.output)} >= {"scheduler_after_epoch", "variant"}


@pytest.mark.parametrize("variant", ["stable", "production", "experimental"])
def test_gpu_config_with_no_loader_workers_is_a_warning(tmp_path, variant):
    data = {**minimal_config(variant), "num_loader_workers": 0}
    path = write(tmp_path, data, f"henry_voice_v2_{variant}.json")
    [finding] = configs.validate_file(path)
    assert (finding.field, finding.severity) == ("num_loader_workers", "warning")
    result = run_cli(tmp_path, "validate", str(path))
    assert result.exit_code == 0 and "warning:" in result.output and "num_loader_workers" in result.output
    del data["num_loader_workers"]  # absent is Coqui's default, 0
    assert fields(configs.validate_file(write(tmp_path, data, f"henry_voice_v2_{variant}.json"))) == {"num_loader_workers"}
    assert configs.validate_file(write(tmp_path, {**data, "num_loader_workers": 4}, f"henry_voice_v2_{variant}.json")) == []


def test_debug_config_may_load_in_process(tmp_path):
    assert configs.validate_file(write(tmp_path, {**minimal_config("debug"), "num_loader_workers": 0})) == []


def test_fp16_mixed_precision_is_a_warning_bf16_is_not(tmp_path):
    data = {**minimal_config("experimental"), "num_loader_workers": 4, "mixed_precision": True}
    [finding] = configs.validate_file(write(tmp_path, {**data, "precision": "fp16"}, "henry_voice_v2_experimental.json"))
    assert (finding.field, finding.severity) == ("precision", "warning") and "bf16" in finding.fix
    assert configs.validate_file(write(tmp_path, {**data, "precision": "bf16"}, "henry_voice_v2_experimental.json")) == []


def test_gpu_templates_use_loader_workers_and_pinned_memory():
    for variant in ("stable", "production", "experimental"):
        data = json.loads((REPO / "configs" / f"henry_voice_v2_{variant}.json").read_text())
        assert data["num_loader_workers"] > 0 and data["num_eval_loader_workers"] > 0 and data["pin_memory"] is True
        # fp16 NaNs Coqui's Tacotron2; only the experimental variant tries bf16.
        assert data["mixed_precision"] is (variant == "experimental")
