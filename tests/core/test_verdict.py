"""The verdict on recorded metrics: success, each criterion failing, NaN, incomplete."""

from __future__ import annotations

import json
import math

import pytest

from henryvc.core.verdict import CRITERIA, LISTENER, judge
from henryvc.errors import BadInput

CRITERIA_PARAMS = {"max_total_loss": 2.0, "max_align_error": 0.1, "max_stopnet_loss": 0.5,
                   "max_short_text_seconds": 5.0}
# metrics.json of a real debug run (6 steps on the sample data): it fails every criterion.
RECORDED_DEBUG = {
    "align_error": 0.9775441698729992, "epochs": 2, "has_nan": False, "loss_source": "eval average of epoch 1",
    "model_file": "best_model.pth", "nan_losses": [], "short_text_decoder_steps": 40,
    "short_text_hit_max_decoder_steps": True, "short_text_seconds": 6.478, "steps": 6,
    "stopnet_loss": 0.6457568407058716, "total_loss": 3.3221564292907715, "training_finished": True,
    # the listener checks' worst utterance (aggregates metrics.json carries since issue 14)
    "chars_per_second_min": 2.006, "chars_per_second_max": 2.006, "decoder_runaways": 1,
    "attention_focus_min": 0.041, "attention_diagonality_min": 0.36,
}
ALL = len(CRITERIA) + len(LISTENER)
# The same fields as a trained voice reports them.
RECORDED_GOOD = {**RECORDED_DEBUG, "align_error": 0.042, "stopnet_loss": 0.08, "total_loss": 0.61,
                 "short_text_seconds": 1.9, "short_text_hit_max_decoder_steps": False,
                 "chars_per_second_min": 10.5, "chars_per_second_max": 14.2, "decoder_runaways": 0,
                 "attention_focus_min": 0.62, "attention_diagonality_min": 0.81}


def test_good_run_succeeds_with_every_criterion_passed():
    verdict = judge(RECORDED_GOOD, CRITERIA_PARAMS)
    assert verdict.status == "success"
    assert [c.passed for c in verdict.criteria] == [True] * ALL
    assert {c.metric: c.threshold for c in verdict.criteria} == {
        "total_loss": 2.0, "align_error": 0.1, "stopnet_loss": 0.5, "short_text_seconds": 5.0,
        # listener checks: params.yaml's values, or the documented defaults for an older params.yaml
        "chars_per_second_min": 5.0, "chars_per_second_max": 25.0, "decoder_runaways": 0.0,
        "attention_focus_min": 0.3, "attention_diagonality_min": 0.5}


def test_recorded_debug_run_fails_every_criterion_with_reasons():
    verdict = judge(RECORDED_DEBUG, CRITERIA_PARAMS)
    assert verdict.status == "failed"
    assert [c.passed for c in verdict.criteria] == [False] * len(CRITERIA) + [False, True, False, False, False]
    assert len(verdict.reasons) == ALL - 1
    assert "total_loss 3.322 is not below 2; fix: train longer: more `epochs` or a continued run (now not set)" \
        in verdict.reasons


@pytest.mark.parametrize("metric,bad", [("total_loss", 2.5), ("align_error", 0.3), ("stopnet_loss", 0.7),
                                        ("short_text_seconds", 11.6)])
def test_each_criterion_alone_fails_the_run(metric, bad):
    verdict = judge({**RECORDED_GOOD, metric: bad}, CRITERIA_PARAMS)
    assert verdict.status == "failed"
    failed = [c.metric for c in verdict.criteria if c.passed is False]
    assert failed == [metric]
    assert len(verdict.reasons) == 1 and metric in verdict.reasons[0]


@pytest.mark.parametrize("metric", [m for m, _ in CRITERIA])
def test_value_equal_to_threshold_fails(metric):
    threshold = {m: CRITERIA_PARAMS[t] for m, t in CRITERIA}[metric]
    assert judge({**RECORDED_GOOD, metric: threshold}, CRITERIA_PARAMS).status == "failed"


def test_thresholds_come_from_params_not_code():
    strict = {**CRITERIA_PARAMS, "max_total_loss": 0.5}
    assert judge(RECORDED_GOOD, strict).status == "failed"
    lenient = {"max_total_loss": 10, "max_align_error": 1, "max_stopnet_loss": 1, "max_short_text_seconds": 10,
               "min_chars_per_second": 1, "min_attention_focus": 0.01, "min_attention_diagonality": 0.1}
    assert judge({**RECORDED_DEBUG, "decoder_runaways": 0}, lenient).status == "success"


def test_nan_flag_fails_even_when_values_pass():
    verdict = judge({**RECORDED_GOOD, "has_nan": True, "nan_losses": ["postnet_loss"]}, CRITERIA_PARAMS)
    assert verdict.status == "failed"
    assert "postnet_loss" in verdict.reasons[0]


@pytest.mark.parametrize("value", [math.nan, math.inf, "nan", "NaN"])
def test_nan_value_fails(value):
    verdict = judge({**RECORDED_GOOD, "stopnet_loss": value}, CRITERIA_PARAMS)
    assert verdict.status == "failed"
    assert "stopnet_loss" in verdict.reasons[0]
    json.dumps(verdict.to_dict(), allow_nan=False)  # the record stays strict JSON


def test_nan_beats_incomplete():
    metrics = {**RECORDED_GOOD, "training_finished": False, "total_loss": math.nan}
    assert judge(metrics, CRITERIA_PARAMS).status == "failed"


def test_unfinished_training_is_incomplete():
    verdict = judge({**RECORDED_GOOD, "training_finished": False}, CRITERIA_PARAMS)
    assert verdict.status == "incomplete"
    assert verdict.reasons == ["training did not finish all its epochs"]


def test_unmeasured_metric_is_incomplete():
    metrics = {k: v for k, v in RECORDED_GOOD.items() if k != "short_text_seconds"}
    verdict = judge(metrics, CRITERIA_PARAMS)
    assert verdict.status == "incomplete"
    assert [c.passed for c in verdict.criteria if c.metric == "short_text_seconds"] == [None]


def test_empty_metrics_are_incomplete():
    assert judge({}, CRITERIA_PARAMS).status == "incomplete"


def test_missing_threshold_is_bad_input():
    with pytest.raises(BadInput, match="max_stopnet_loss"):
        judge(RECORDED_GOOD, {k: v for k, v in CRITERIA_PARAMS.items() if k != "max_stopnet_loss"})


def test_verdict_module_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, henryvc.core.verdict; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_problems_group_each_failed_check_once_with_its_utterances_and_fix():
    from henryvc.core.verdict import by_fix, problem_line, summary_lines

    blip = {"text": "Hello, I am Henry.", "characters": 13, "seconds": 0.3, "chars_per_second": 43.3, "stopped_by_itself": True,
            "attention_focus": 0.9, "attention_diagonality": 0.9}
    runaway = {**blip, "seconds": 9.7, "chars_per_second": 1.34, "stopped_by_itself": False, "max_decoder_steps": 60}
    utterances = {"short_text": blip, "sentence_0": blip, "eval_a": runaway}
    verdict = judge({**RECORDED_GOOD, "total_loss": 2.5}, CRITERIA_PARAMS, {"stopnet_pos_weight": 0.2}, utterances)
    assert len(verdict.reasons) == 1 + 2 + 2  # the loss, two truncated, one runaway + its decoder stop
    assert [(p["check"], p["utterances"]) for p in verdict.problems] == [
        ("total_loss", []), ("duration", ["short_text", "sentence_0"]), ("duration", ["eval_a"]),
        ("decoder_stop", ["eval_a"])]
    assert problem_line(verdict.problems[1]) == ("too fast for its text: cut off (the stop token fires early) "
                                                 "(2 utterances: short_text, sentence_0)")
    stop = "raise `stopnet_pos_weight` (weight of the rare 'stop' frames; now 0.2)"
    assert [(fix, len(group)) for fix, group in by_fix(verdict.problems)] == [
        ("train longer: more `epochs` or a continued run (now not set)", 1), (stop, 3)]
    assert [label for label, _ in summary_lines(verdict.to_dict())] == [
        "verdict", "try", "verdict", "verdict", "verdict", "try", "note", "note"]  # notes: the voice gate is off
    # A record made before problems existed: its reasons and advice, as they were.
    old = {"status": "failed", "reasons": ["x; fix: y"], "advice": ["y"]}
    assert summary_lines(old) == [("verdict", "x; fix: y"), ("try", "y")]


def test_voice_criteria_from_the_run_config_and_the_note_when_off():
    voice = {**RECORDED_GOOD, "asr_wer_gap": 0.3, "speaker_similarity": 0.7, "speaker_similarity_reference": 0.93}
    gated = judge(voice, CRITERIA_PARAMS, {"criteria": {"max_asr_wer_gap": 0.25, "min_speaker_similarity": 0.8}})
    assert gated.status == "failed" and gated.notes == []
    assert {c.metric: c.passed for c in gated.criteria if c.metric in ("asr_wer_gap", "speaker_similarity")} == {
        "asr_wer_gap": False, "speaker_similarity": False}
    # params.yaml sets them, the run's config (its template's defaults) turns them off: the config wins.
    off = judge(voice, {**CRITERIA_PARAMS, "max_asr_wer_gap": 0.25}, {"variant": "debug", "criteria": {
        "max_asr_wer_gap": None, "min_speaker_similarity": None}})
    assert off.status == "success" and off.reasons == ["every criterion met"]
    assert off.notes[0] == ("not judged: intelligibility (criteria.max_asr_wer_gap): the run's config.json criteria "
                            "set it null (debug template); measured and reported only")
    # Neither sets them: said too, naming params.yaml.
    assert judge(voice, CRITERIA_PARAMS).notes[1] == ("not judged: speaker similarity (criteria.min_speaker_similarity)"
                                                      ": params.yaml criteria leave it null; measured and reported only")
    # A voice metric not measured (no held-out clip) while gated: incomplete, never a silent pass.
    unmeasured = {k: v for k, v in voice.items() if k != "speaker_similarity"}
    assert judge(unmeasured, {**CRITERIA_PARAMS, "min_speaker_similarity": 0.8}).status == "incomplete"
