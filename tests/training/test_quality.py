"""The gate a broken model cannot pass, on real output: Coqui's inference of an untrained Tacotron2 (early
stop, runaway), real espeak-ng recordings as ground truth, the offline recognizer's relative score."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from henryvc.core.verdict import judge
from henryvc_training import intelligibility, listen, quality
from tests.core.test_verdict import RECORDED_GOOD
from tests.helpers.cli import run_cli
from tests.helpers.listening import speak

SEED_CRITERIA = {"max_total_loss": 2.0, "max_align_error": 0.1, "max_stopnet_loss": 0.5,
                 "max_short_text_seconds": 5.0}
CRITERIA = {**SEED_CRITERIA, "min_chars_per_second": 5.0, "max_chars_per_second": 25.0,
            "min_attention_focus": 0.3, "min_attention_diagonality": 0.5}
CONFIG = {"ga_alpha": 5.0, "stopnet_pos_weight": 0.2, "decoder_ssim_alpha": 0.0, "epochs": 4}
GOOD_LOSSES = {k: v for k, v in RECORDED_GOOD.items() if not k.startswith(("chars_", "decoder_run", "attention_"))}
TEXT = "Hello, I am Henry."


def test_demo_early_stop_fails_the_gate_that_used_to_pass_it(untrained):
    # The demo's failure: the stop token fires at the first step Coqui allows -> 2 decoder steps, a blip.
    spoken = speak(untrained, TEXT, 500, stop_threshold=-1.0)
    assert spoken.decoder_steps == 2 and spoken.seconds < 0.5
    utterance = spoken.measure()
    assert utterance["stopped_by_itself"] is True  # it did stop by itself: only duration/attention catch it
    # The seed's criteria alone let it through (short text < 5 s) ...
    seed_only = judge({**GOOD_LOSSES, "short_text_seconds": spoken.seconds}, SEED_CRITERIA, CONFIG,
                      {"short_text": utterance})
    assert all(c.passed for c in seed_only.criteria if c.metric in ("total_loss", "short_text_seconds"))
    # ... the gate does not, and says which check failed, by how much, and what to try.
    verdict = judge({**GOOD_LOSSES, "short_text_seconds": spoken.seconds}, CRITERIA, CONFIG, {"short_text": utterance})
    assert verdict.status == "failed"
    duration = [r for r in verdict.reasons if r.startswith("duration: short_text 'Hello, I am Henry.'")]
    assert len(duration) == 1 and "(truncated)" in duration[0]
    shortest = quality.characters(TEXT) / 25.0
    assert f"{shortest - spoken.seconds:.2f} s short of the shortest plausible {shortest:.2f} s" in duration[0]
    assert duration[0].endswith("fix: raise `stopnet_pos_weight` (weight of the rare 'stop' frames; now 0.2)")
    assert any(r.startswith("attention diagonality: short_text") for r in verdict.reasons)
    assert "raise `ga_alpha` (guided attention loss weight; now 5.0)" in verdict.advice


def test_runaway_fails_naming_the_cap_and_the_overrun(untrained):
    spoken = speak(untrained, TEXT, 60)
    assert spoken.hit_cap and spoken.decoder_steps == 60
    utterance = spoken.measure()
    assert utterance["stopped_by_itself"] is False
    verdict = judge({**GOOD_LOSSES, "short_text_seconds": spoken.seconds}, CRITERIA, CONFIG, {"short_text": utterance})
    assert verdict.status == "failed"
    [stop] = [r for r in verdict.reasons if r.startswith("decoder stop:")]
    assert "ran to max_decoder_steps 60 without its stop token firing" in stop
    [duration] = [r for r in verdict.reasons if r.startswith("duration:")]
    longest = quality.characters(TEXT) / 5.0
    assert f"{spoken.seconds - longest:.2f} s over the longest plausible {longest:.2f} s (runaway)" in duration
    [focus] = [r for r in verdict.reasons if r.startswith("attention focus:")]
    assert "below 0.3 (the attention is spread over the text)" in focus


def test_attention_scores_on_real_and_ideal_alignments(untrained):
    spread = speak(untrained, TEXT, 60).alignment  # an untrained attention: about even over the text
    assert spread.shape[0] == 60
    assert quality.attention_focus(spread) < 2.5 / spread.shape[1]
    assert quality.attention_diagonality(spread) < 0.5
    # A model that reads the text start to end: one letter per few decoder steps, the diagonal.
    steps, tokens = 45, spread.shape[1]
    ideal = np.zeros((steps, tokens))
    ideal[np.arange(steps), np.round(np.linspace(0, tokens - 1, steps)).astype(int)] = 1.0
    assert quality.attention_focus(ideal) == 1.0 and quality.attention_diagonality(ideal) == 1.0
    # Reading only the first third of the text: the end of the text is never visited.
    third = np.zeros((steps, tokens))
    third[np.arange(steps), np.round(np.linspace(0, tokens // 3, steps)).astype(int)] = 1.0
    assert quality.attention_focus(third) == 1.0 and quality.attention_diagonality(third) < 0.5
    # The demo's 2-step early stop (real inference output).
    assert quality.attention_diagonality(speak(untrained, TEXT, 500, stop_threshold=-1.0).alignment) < 0.5


def test_real_recordings_have_plausible_durations(espeak_voice):
    for line in (espeak_voice / "metadata.csv").read_text().splitlines():
        clip, text, _ = line.split("|")
        wav, rate = intelligibility.read_wav(espeak_voice / "wavs" / f"{clip}.wav")
        speed = quality.characters(text) / (len(wav) / rate)
        assert CRITERIA["min_chars_per_second"] < speed < CRITERIA["max_chars_per_second"], (text, speed)


def recorded_clips(voice) -> list:
    """VOICE's clips as evaluation items with their real recordings (what eval_clips gives training)."""
    return [listen.Item(f"eval_{line.split('|')[0]}", line.split("|")[1], voice / "wavs" / f"{line.split('|')[0]}.wav")
            for line in (voice / "metadata.csv").read_text().splitlines()]


def test_asr_score_separates_recordings_from_an_untrained_model(untrained, espeak_voice):
    clips = recorded_clips(espeak_voice)
    rate = int(untrained.ap.sample_rate)
    # Ground truth through the same path: the recordings "synthesized" are the recordings themselves.
    real = {c.key: intelligibility.read_wav(c.recording)[0].astype(np.float32) / 32768 for c in clips}
    truth = listen.score(clips, real, rate, 5.0, {c.key: {} for c in clips})
    assert truth["asr_wer"] == truth["asr_wer_reference"] <= 0.5 and truth["asr_wer_gap"] == 0.0
    spoken = {c.key: speak(untrained, c.text, 60).wav for c in clips}
    utterances = {c.key: {} for c in clips}
    model = listen.score(clips, spoken, rate, 5.0, utterances)
    assert model["asr_wer"] >= 0.9 and model["asr_wer_gap"] >= 0.4, model  # a wide margin
    assert model["asr_wer_reference"] == truth["asr_wer_reference"]
    assert all("transcript" in u and "recording_transcript" in u for u in utterances.values())
    # The absolute score alone is weak: pocketsphinx's general model misses most words of the recordings too.
    assert model["asr_clips"] == len(clips)


def test_recognizer_warms_up_in_the_background_and_an_early_evaluation_waits(espeak_voice, monkeypatch):
    built_by: list[str] = []  # the thread of each real Recognizer construction
    heard_by: list[str] = []  # the thread of each transcription, in order
    building = threading.Event()

    class Counted(intelligibility.Recognizer):  # the real pocketsphinx recognizer, its uses recorded
        def __post_init__(self) -> None:
            built_by.append(threading.current_thread().name)
            building.set()
            time.sleep(0.5)  # still building (the warm-up holds the lock): an evaluation starts now
            super().__post_init__()

        def transcribe(self, wav, rate):
            heard_by.append(threading.current_thread().name)
            return super().transcribe(wav, rate)

    monkeypatch.setattr(intelligibility, "Recognizer", Counted)
    clips = recorded_clips(espeak_voice)
    todo = [listen.Item("sentence_0", "Hello, I am Henry."), *clips]
    real = {c.key: intelligibility.read_wav(c.recording)[0].astype(np.float32) / 32768 for c in clips}
    real["sentence_0"] = real[clips[0].key]
    listen.set_cache(None)  # no transcripts from an earlier test's project: every recording is heard here
    listen._RECOGNIZERS.clear()
    listen._HEARD.clear()
    listen.warm_up(todo).join()  # while training runs: the recognizer built, every real recording heard once
    [built] = listen._RECOGNIZERS.values()
    assert sorted(Path(k[0]).name for k in listen._HEARD) == sorted(c.recording.name for c in clips)
    warm = listen.score(todo, real, 22050, 5.0, {k: {} for k in real})
    assert list(listen._RECOGNIZERS.values()) == [built]  # the evaluation used it, built nothing
    assert warm["asr_wer_gap"] == 0.0 and warm["asr_clips"] == len(clips)
    # An evaluation that starts while the warm-up is still building waits for it (one decoder, one user at a
    # time): it builds nothing, and it transcribes only after the warm-up has heard every recording.
    listen._RECOGNIZERS.clear()
    listen._HEARD.clear()
    built_by.clear()
    heard_by.clear()
    building.clear()
    thread = listen.warm_up(todo)
    assert building.wait(120)  # the warm-up thread is inside the Recognizer's construction
    early = listen.score(todo, real, 22050, 5.0, {k: {} for k in real})
    thread.join()
    assert built_by == [thread.name]  # built once, by the warm-up; the early evaluation built none
    main = threading.current_thread().name
    assert heard_by == [thread.name] * len(clips) + [main] * len(todo), heard_by  # it waited, then only synthesis
    assert early == warm


def test_text_normalization_and_error_rates():
    assert intelligibility.normalize("Hello, I am Henry.") == "hello i am henry"
    rates = intelligibility.error_rates(["Hello, I am Henry."], ["hello i am"])
    assert rates["wer"] == pytest.approx(0.25)
    assert intelligibility.error_rates(["a b"], [""])["wer"] == 1.0


def test_show_prints_each_problem_once_with_its_fix_and_the_utterances_it_hit(project, untrained):
    """`henryvc show` of a tagged run: each distinct problem once, with the utterances it hit, under its fix
    (the run's own config value); the full per-utterance lines stay in --json."""
    import json

    from henryvc.core import record as records
    from tests.helpers.project import trained_run

    name = trained_run(project)
    run_dir = project.run_dir(name)
    config = json.loads((run_dir / "config.json").read_text())
    config.update(ga_alpha=5.0, stopnet_pos_weight=0.2)  # the debug template's values
    blip = {key: speak(untrained, text, 500, stop_threshold=-1.0).measure()  # the demo's 2-step early stop
            for key, text in (("short_text", TEXT), ("sentence_0", TEXT), ("sentence_1", "Good morning to you."))}
    verdict = judge({**GOOD_LOSSES, "short_text_seconds": blip["short_text"]["seconds"]}, CRITERIA, config, blip)
    assert len(verdict.reasons) >= 6  # every utterance fails duration and diagonality at least: one line each
    records.update(run_dir, status=verdict.status, verdict=verdict.to_dict())
    assert run_cli(project.root, "tag-run", name).exit_code == 0
    shown = run_cli(project.root, "show", name).output.splitlines()
    assert "status:  failed" in shown
    hit = "(3 utterances: short_text, sentence_0, sentence_1)"
    problems = [line for line in shown if line.startswith("verdict: ")]
    assert "verdict: too fast for its text: cut off (the stop token fires early) " + hit in problems
    assert "verdict: the attention does not walk the text from start to end " + hit in problems
    assert len(problems) == len(set(problems)) == len(verdict.problems) < len(verdict.reasons)
    fixes = [line for line in shown if line.startswith("try: ")]
    assert fixes.count("try:     raise `ga_alpha` (guided attention loss weight; now 5.0)") == 1
    assert fixes.count("try:     raise `stopnet_pos_weight` (weight of the rare 'stop' frames; now 0.2)") == 1
    assert len(fixes) == len(set(fixes))
    # Each fix comes right after the problems it fixes.
    stop = shown.index("try:     raise `stopnet_pos_weight` (weight of the rare 'stop' frames; now 0.2)")
    assert shown[stop - 1].startswith("verdict: too fast for its text")
    full = json.loads(run_cli(project.root, "show", name, "--json").output)["summary"]["verdict"]
    assert full["reasons"] == verdict.reasons and full["problems"] == verdict.problems
