"""henryvc_training.common: params.yaml and the run folder a stage works on (bad input refused with one line),
the Coqui config built from config.json, the run log's format and the small readers every stage shares."""

from __future__ import annotations

import json
import logging
import math

import pytest

from henryvc.core.runfolder import RunPaths
from henryvc.errors import BadInput, HenryvcError
from henryvc_training import common
from tests.helpers import training as tf

VARIANTS = ("stable", "experimental", "production", "debug")


def stage_root(tmp_path, run: object = tf.RUN, config: str | None = None):
    """A folder as a stage sees it: params.yaml naming RUN and, with CONFIG, the run's config.json."""
    (tmp_path / "params.yaml").write_text(f"run: {run}\nevaluation:\n  every_epochs: 3\n")
    if config is not None:
        run_dir = tmp_path / "training_runs" / tf.RUN
        run_dir.mkdir(parents=True)
        (run_dir / "config.json").write_text(config)
    return tmp_path


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


def test_null_max_audio_len_means_no_limit_and_henryvc_keys_stay_out_of_coqui(caplog):
    raw = {**tf.make_config(), "max_audio_len": None, "pin_memory": True, "criteria": {"max_total_loss": 1.0}}
    with caplog.at_level(logging.WARNING):
        config = common.coqui_config(raw)
    assert config.max_audio_len == math.inf
    assert not hasattr(config, "pin_memory") and not hasattr(config, "criteria")
    assert "pin_memory" not in caplog.text and "criteria" not in caplog.text  # henryvc's own: no warning


def test_mixed_precision_without_cuda_trains_in_float32(caplog):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: mixed precision stays on")
    with caplog.at_level(logging.WARNING):
        config = common.coqui_config({**tf.make_config(), "mixed_precision": True})
    assert config.mixed_precision is False and "mixed_precision is for CUDA" in caplog.text


def test_params_outside_a_project_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="params.yaml does not exist: run the stages from the project root"):
        common.load_params(tmp_path)
    stage_root(tmp_path, run="null")
    with pytest.raises(BadInput, match="names no run"):
        common.load_params(tmp_path)
    stage_root(tmp_path, run="../../etc")
    with pytest.raises(BadInput):  # not a run name: never a path a stage would act on
        common.load_params(tmp_path)


def test_run_paths_need_the_run_folder_new_run_made(tmp_path):
    params = common.load_params(stage_root(tmp_path))
    with pytest.raises(BadInput, match=f"params.yaml names run '{tf.RUN}', which `henryvc new-run` has not"):
        common.run_paths(tmp_path, params)
    assert not (tmp_path / "training_runs").exists()
    stage_root(tmp_path, config="{}")
    paths = common.run_paths(tmp_path, params)
    assert paths == RunPaths(tmp_path, tf.RUN) and paths.config.is_file()


def test_read_config_of_a_broken_file_is_one_line_of_bad_input(tmp_path):
    root = stage_root(tmp_path, config=json.dumps(tf.make_config())[:-30])  # an editor saved half of it
    paths = common.run_paths(root, common.load_params(root))
    with pytest.raises(BadInput) as caught:
        common.read_config(paths)
    assert len(str(caught.value).splitlines()) == 1 and "JSON syntax error at line" in str(caught.value)
    paths.config.write_text(json.dumps({"seed": 3, "variant": "debug"}))
    assert common.read_config(paths) == {"seed": 3, "variant": "debug"}  # henryvc's keys are kept


def test_stage_log_writes_a_failure_into_the_run_log_and_lets_go(tmp_path):
    root = stage_root(tmp_path, config="{}")
    before = list(logging.getLogger().handlers)
    with pytest.raises(HenryvcError, match="no voice"), common.stage_log(root, "prepare") as paths:
        logging.getLogger("henryvc.training.prepare").info("checking the data")
        raise HenryvcError("no voice")
    lines = paths.log_file.read_text().splitlines()
    assert lines[0].endswith(" INFO     henryvc.training.prepare: checking the data")
    assert lines[1].endswith(" ERROR    henryvc.training.prepare: prepare failed: no voice")
    assert logging.getLogger().handlers == before  # the run log is detached again


def test_stage_log_without_a_run_folder_writes_nothing(tmp_path):
    root = stage_root(tmp_path)
    with pytest.raises(BadInput), common.stage_log(root, "train"):
        pass
    with common.stage_log(root, "prepare", require_run=False) as paths:
        assert paths.name == tf.RUN
    assert not paths.run_dir.exists()


def test_read_jsonl_skips_the_line_a_kill_cut_off(tmp_path):
    path = tmp_path / "step_losses.jsonl"
    assert common.read_jsonl(path) == []
    path.write_text('{"step": 0, "loss": 1.5}\n{"step": 1, "loss": 1.25}\n{"step": 2, "lo')
    assert common.read_jsonl(path) == [{"step": 0, "loss": 1.5}, {"step": 1, "loss": 1.25}]


def test_append_readme_adds_a_dated_section(tmp_path):
    paths = RunPaths(tmp_path, tf.RUN)
    paths.run_dir.mkdir(parents=True)
    (paths.run_dir / "README.md").write_text("# run\n\n## Evaluations\n")
    common.append_readme(paths, "Verdict: failed", ["- too fast", "- too short"])
    text = (paths.run_dir / "README.md").read_text()
    assert text.startswith("# run\n\n## Evaluations\n\n### Verdict: failed (")
    assert text.endswith(" UTC)\n\n- too fast\n- too short\n")


@pytest.mark.parametrize(("value", "finite"), [(1, True), (0.5, True), (-2.0, True), (float("nan"), False),
                                               (float("inf"), False), (True, False), ("1.0", False),
                                               (None, False)])
def test_is_finite_number(value, finite):
    assert common.is_finite_number(value) is finite


def test_settings_from_params_defaults_and_values():
    assert common.Settings.from_params({}) == common.Settings()
    settings = common.Settings.from_params({
        "evaluation": {"every_epochs": 2, "max_decoder_steps": 40, "asr": False, "voice_scores": False,
                       "short_text": "Hi."},
        "train": {"keep_checkpoints": 3}, "criteria": {"min_chars_per_second": 4}})
    assert settings == common.Settings(every_epochs=2, max_decoder_steps=40, keep_checkpoints=3, asr=False,
                                       min_chars_per_second=4.0, voice_scores=False, short_text="Hi.")
