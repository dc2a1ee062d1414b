"""henryvc_training.listen: what an evaluation listens to (texts, held-out clips, Henry's reference clips; periodic
and final alike), an untrained model's utterances measured and saved, the ASR scores relative to the real
recordings, their transcripts kept between processes, the voice aggregates and the README table.
The evaluations of a real training: tests/tiers/slow/test_training_pipeline.py."""

from __future__ import annotations

import json
import wave

import numpy as np
import pytest

from henryvc.core.runfolder import RunPaths
from henryvc_training import intelligibility, listen
from tests.helpers import training as tf
from tests.helpers.project import write_wav


@pytest.fixture
def split(tmp_path):
    """A run whose prepare made data/train.csv (6 clips) and data/eval.csv (2), their wavs in voice_data/."""
    paths = RunPaths(tmp_path, tf.RUN)
    paths.data.mkdir(parents=True)
    train = [f"t{i}|Train {i}.|Train {i}." for i in range(6)]
    (paths.data / "train.csv").write_text("\n".join(train) + "\n")
    (paths.data / "eval.csv").write_text("e0|Held out, one.|held out one\ne1|Held out two.|\n")
    for clip in ("t0", "t1", "t2", "t3", "t5", "t4", "e0"):  # t4 comes late, e1 has no recording
        write_wav(tmp_path / "voice_data" / "wavs" / f"{clip}.wav", seconds=0.05)
    return paths


@pytest.fixture
def clean_cache():
    """listen keeps its recognizer and transcripts per process: start and end without any."""
    listen.set_cache(None)
    listen._RECOGNIZERS.clear()
    listen._HEARD.clear()
    yield
    listen.set_cache(None)
    listen._RECOGNIZERS.clear()
    listen._HEARD.clear()


def test_items_are_short_text_then_test_sentences_then_clips():
    clip = listen.Item("eval_a", "A clip.")
    found = listen.items("Hello, I am Henry.", ["One.", "Two."], [clip])
    assert [(i.key, i.text) for i in found] == [("short_text", "Hello, I am Henry."), ("sentence_0", "One."),
                                                ("sentence_1", "Two."), ("eval_a", "A clip.")]
    assert [i.key for i in listen.items(None, [], [clip])] == ["eval_a"]


def test_eval_clips_and_reference_clips_come_from_the_runs_split(split):
    data = split.root / "voice_data"
    held = listen.eval_clips(split, data)
    assert [(i.key, i.text) for i in held] == [("eval_e0", "held out one"), ("eval_e1", "Held out two.")]
    assert held[0].recording == data / "wavs" / "e0.wav" and held[1].recording is None
    assert listen.reference_clips(split, data, 3) == [data / "wavs" / f"t{i}.wav" for i in range(3)]
    assert [p.stem for p in listen.reference_clips(split, data)] == ["t0", "t1", "t2", "t3", "t4"]  # 5, never e*
    assert listen.eval_clips(RunPaths(split.root, "henry_v2_debug_20250101_130000"), data) == []  # not prepared


def test_plan_periodic_and_final_share_the_recognizers_texts(split):
    data = split.root / "voice_data"
    final = listen.plan(split, data, "Hello, I am Henry.", ["One."], periodic=False)
    periodic = listen.plan(split, data, "Hello, I am Henry.", ["One."], periodic=True)
    assert [i.key for i in final.todo] == ["short_text", "sentence_0", "eval_e0", "eval_e1"]
    assert [i.key for i in periodic.todo] == ["sentence_0", "eval_e0", "eval_e1"]  # no short text
    assert final.texts == periodic.texts == ["Hello, I am Henry.", "One.", "held out one", "Held out two."]
    assert len(final.references) == 5 and final.held_out == [data / "wavs" / "e0.wav"]
    assert listen.plan(split, data, "Hi.", [], periodic=False, voice_scores=False).references == []
    assert listen.plan(split, None, "Hi.", ["One."], periodic=True).todo == [listen.Item("sentence_0", "One.")]


def test_an_untrained_model_is_measured_and_saved(untrained, tmp_path):
    heard = listen.listen(untrained, [listen.Item("sentence_0", "Hello.")], 20, tmp_path / "out", asr=False)
    assert list(heard.utterances) == list(heard.alignments) == list(heard.wavs) == ["sentence_0"]
    utterance = heard.utterances["sentence_0"]
    assert utterance["text"] == "Hello." and utterance["decoder_steps"] <= 20 == utterance["max_decoder_steps"]
    assert heard.asr == {} and heard.voice == {} and heard.synthesis_seconds > 0  # no scores asked for
    with wave.open(str(tmp_path / "out" / "sentence_0.wav")) as handle:
        assert handle.getframerate() == int(untrained.ap.sample_rate)
        assert handle.getnframes() == len(heard.wavs["sentence_0"])


def recorded(voice) -> list[listen.Item]:
    return [listen.Item(f"eval_{line.split('|')[0]}", line.split("|")[1], voice / "wavs" / f"{line.split('|')[0]}.wav")
            for line in (voice / "metadata.csv").read_text().splitlines()]


def test_score_is_relative_to_the_recordings_and_their_transcripts_are_kept(tmp_path, clean_cache):
    voice = tf.sample_data(tmp_path / "voice", clips=2)
    clips = recorded(voice)
    real = {c.key: intelligibility.read_wav(c.recording)[0] for c in clips}
    silent = {c.key: np.zeros(22050, dtype=np.float32) for c in clips}  # a model that says nothing
    listen.set_cache(tmp_path / "project")
    utterances = {c.key: {} for c in clips}
    scores = listen.score(clips, silent, 22050, 5.0, utterances)
    assert scores["asr_wer"] == 1.0 and scores["asr_clips"] == 2
    assert scores["asr_wer_gap"] == pytest.approx(1.0 - scores["asr_wer_reference"], abs=1e-4)
    assert all(u["transcript"] == "" and u["wer"] == 1.0 and u["recording_transcript"] for u in utterances.values())
    truth = listen.score(clips, {k: v.astype(np.float32) / 32768 for k, v in real.items()}, 22050, 5.0,
                         {c.key: {} for c in clips})
    assert truth["asr_wer"] == truth["asr_wer_reference"] and truth["asr_wer_gap"] == 0.0
    # Henry's side is kept in the project, keyed by the recording's content and the recognizer: another
    # process (here: the per-process memory emptied) reads it instead of transcribing again.
    kept = sorted((tmp_path / "project" / ".henryvc" / "recording-transcripts").iterdir())
    assert {json.loads(p.read_text())["transcript"] for p in kept} == {
        u["recording_transcript"] for u in utterances.values()} and len(kept) == 2
    for path in kept:
        path.write_text(json.dumps({"transcript": "henry", "recording": "x"}))
    listen._HEARD.clear()
    again = {c.key: {} for c in clips}
    listen.score(clips, silent, 22050, 5.0, again)
    assert [u["recording_transcript"] for u in again.values()] == ["henry", "henry"]


def test_aggregate_voice_means_and_lowest():
    utterances = {"a": {"speaker_similarity": 0.8, "mcd": 6.0, "recording_speaker_similarity": 0.9},
                  "b": {"speaker_similarity": 0.5, "mcd": 8.0, "log_f0_rmse": 0.25},
                  "c": {"speaker_similarity": None}}
    assert listen.aggregate_voice(utterances) == {"speaker_similarity": 0.65, "speaker_similarity_min": 0.5,
                                                  "speaker_similarity_reference": 0.9, "mcd": 7.0,
                                                  "log_f0_rmse": 0.25}
    assert listen.aggregate_voice({"a": {}}) == {}


def test_table_has_one_row_per_utterance():
    u = {"text": "Hello.", "seconds": 0.8, "chars_per_second": 6.2, "decoder_steps": 40, "max_decoder_steps": 500,
         "stopped_by_itself": True, "attention_focus": 0.5, "attention_diagonality": 0.75}
    lines = listen.table({"short_text": {**u, "transcript": "", "wer": 1.0}, "sentence_0": {**u, "mcd": 7.5}})
    assert len(lines) == 4 and lines[0].count("|") == lines[1].count("|") == lines[2].count("|")
    assert lines[2] == ("| short_text | Hello. | 0.8 | 6.2 | 40/500 | yes | 0.500 | 0.750 | (nothing) | 1.0 | - | - "
                        "| - |")
    assert lines[3].endswith("| 0.500 | 0.750 | - | - | - | 7.5 | - |")  # not transcribed: no words, no WER
