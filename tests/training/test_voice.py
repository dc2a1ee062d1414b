"""Scores that tell voices apart (henryvc_training.voice), on real audio: the espeak-ng sample voice as
Henry, another take of it, another espeak-ng voice, an untrained Tacotron2 through Coqui's inference,
white noise. The stable template's thresholds must sit between Henry and the rest (docs/quality.md)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from henryvc_training import listen, voice
from tests.helpers.listening import speak
from tests.helpers.training import REPO, sample_data

STABLE = json.loads((REPO / "configs" / "henry_voice_v2_stable.json").read_text())["criteria"]


@pytest.fixture(scope="module")
def henry(tmp_path_factory) -> dict:
    """Six sample clips: 4 reference clips, 2 held-out ones with their texts (and another take of each)."""
    base = tmp_path_factory.mktemp("voice-scores")
    data = sample_data(base, clips=6)
    lines = [line.split("|") for line in (data / "metadata.csv").read_text().splitlines()]
    held = [(clip, text, data / "wavs" / f"{clip}.wav") for clip, text, _ in lines[4:]]
    return {"references": [data / "wavs" / f"{clip}.wav" for clip, *_ in lines[:4]], "held": held, "base": base}


def espeak(text: str, name: str, speed: int, out: Path) -> np.ndarray:
    subprocess.run(["espeak-ng", "-v", name, "-s", str(speed), "-w", str(out), text], check=True)
    return voice.to_rate(*voice.read(out))


def test_speaker_similarity_separates_henry_from_other_voices_and_broken_output(henry, untrained):
    ref = voice.reference(henry["references"])
    assert ref is not None and abs(float(np.linalg.norm(ref)) - 1.0) < 1e-5
    for clip, text, wav in henry["held"]:
        own = voice.similarity(voice.to_rate(*voice.read(wav)), ref)
        take = voice.similarity(espeak(text, "en-us", 175, henry["base"] / f"{clip}_take.wav"), ref)
        other = voice.similarity(espeak(text, "en-us+f3", 150, henry["base"] / f"{clip}_f3.wav"), ref)
        model = voice.similarity(voice.to_rate(speak(untrained, text, 60).wav, 22050), ref)
        noise = voice.similarity(np.random.default_rng(0).normal(0, 0.1, voice.RATE * 2).astype(np.float32), ref)
        assert own >= 0.85 and take >= 0.85, (own, take)  # measured 0.91-0.96
        assert other <= 0.75 and model <= 0.6 and noise <= 0.6, (other, model, noise)  # measured 0.65, 0.47, 0.45
        assert own > STABLE["min_speaker_similarity"] > other  # the stable gate sits between them
    assert voice.similarity(np.zeros(voice.RATE, dtype=np.float32), ref) == 0.0  # silence is no voice
    assert voice.similarity(np.zeros(10, dtype=np.float32), None) is None  # no reference: not measured


def test_mcd_and_f0_against_the_recording(henry, untrained):
    clip, text, wav = henry["held"][0]
    real = voice.to_rate(*voice.read(wav))
    assert voice.distances(real, real) == {"mcd": 0.0, "log_f0_rmse": 0.0}
    take = voice.distances(espeak(text, "en-us", 175, henry["base"] / "take.wav"), real)
    other = voice.distances(espeak(text, "en-us+f3", 150, henry["base"] / "f3.wav"), real)
    model = voice.distances(voice.to_rate(speak(untrained, text, 60).wav, 22050), real)
    assert take["mcd"] < 2.0 and other["mcd"] > 4.0 and model["mcd"] > 3.0, (take, other, model)  # 1.0, 6.8, 4.0
    assert take["log_f0_rmse"] is not None and take["log_f0_rmse"] < 0.25  # the same pitch, another pace
    assert other["log_f0_rmse"] > 0.5  # en-us+f3 speaks about an octave higher (log 2 = 0.69)


def test_dtw_path_is_the_cheapest_monotone_alignment():
    a = np.array([[0.0], [1.0], [2.0], [3.0]])
    b = np.array([[0.0], [0.0], [1.0], [2.0], [2.0], [3.0]])
    ia, ib = voice.dtw_path(a, b)
    assert list(zip(ia.tolist(), ib.tolist())) == [(0, 0), (0, 1), (1, 2), (2, 3), (2, 4), (3, 5)]
    assert float(np.abs(a[ia] - b[ib]).sum()) == 0.0


def test_listen_scores_every_utterance_and_aggregates(henry, untrained):
    (clip, text, wav), _ = henry["held"]
    todo = [listen.Item("sentence_0", "Hello, I am Henry."), listen.Item(f"eval_{clip}", text, wav)]
    wavs = {i.key: speak(untrained, i.text, 60).wav for i in todo}
    utterances: dict = {i.key: {} for i in todo}
    scores = listen.voice_scores(todo, wavs, 22050, 5.0, utterances, henry["references"])
    assert set(utterances["sentence_0"]) == {"speaker_similarity"}  # no recording: nothing to compare with
    assert set(utterances[f"eval_{clip}"]) == {"speaker_similarity", "recording_speaker_similarity", "mcd",
                                               "log_f0_rmse"}
    values = [u["speaker_similarity"] for u in utterances.values()]
    assert scores["speaker_similarity"] == pytest.approx(sum(values) / 2, abs=1e-4)
    assert scores["speaker_similarity_min"] == min(values)
    assert scores["speaker_similarity_reference"] == utterances[f"eval_{clip}"]["recording_speaker_similarity"]
    assert scores["mcd"] == utterances[f"eval_{clip}"]["mcd"]
