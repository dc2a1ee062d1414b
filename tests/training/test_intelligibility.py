"""henryvc_training.intelligibility: text normalised as the recognizer writes it, audio made 16 kHz PCM, WER and
CER, and the real pocketsphinx recognizer hearing real espeak-ng recordings with a language model of their texts.
The gate on a model's output: tests/training/test_quality.py and tests/tiers/slow/test_voice_gate.py."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from henryvc_training import intelligibility
from tests.helpers import training as tf


@pytest.fixture(scope="module")
def voice(tmp_path_factory):
    return tf.sample_data(tmp_path_factory.mktemp("voice"), clips=3)


def clips(voice) -> list[tuple[str, str]]:
    return [(line.split("|")[0], line.split("|")[1]) for line in (voice / "metadata.csv").read_text().splitlines()]


def test_normalize_keeps_lower_case_words_only():
    assert intelligibility.normalize("Hello, I am Henry.") == "hello i am henry"
    assert intelligibility.normalize("Henry’s  7 DOGS - don't!") == "henry's 7 dogs don't"
    assert intelligibility.normalize("...!") == ""


def test_to_pcm16k_resamples_and_clips():
    second = np.sin(np.linspace(0, 2 * np.pi * 220, 22050)).astype(np.float32)
    pcm = np.frombuffer(intelligibility.to_pcm16k(second, 22050), dtype="<i2")
    assert len(pcm) == 16000  # one second at 16 kHz
    as_int16 = (second * 32767).astype(np.int16)
    assert len(intelligibility.to_pcm16k(as_int16, 22050)) == 2 * 16000
    loud = np.frombuffer(intelligibility.to_pcm16k(np.array([3.0, -3.0, 0.5], dtype=np.float32), 16000), "<i2")
    assert loud.tolist() == [32767, -32767, 16383]  # already 16 kHz: not resampled, clipped to full scale


def test_read_wav_takes_the_first_channel_of_a_stereo_file(tmp_path):
    with wave.open(str(tmp_path / "s.wav"), "wb") as handle:
        handle.setnchannels(2)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(np.array([1, -1, 2, -2, 3, -3], dtype="<i2").tobytes())
    data, rate = intelligibility.read_wav(tmp_path / "s.wav")
    assert rate == 8000 and data.tolist() == [1, 2, 3]


def test_error_rates_are_corpus_wer_and_cer():
    rates = intelligibility.error_rates(["Hello, I am Henry.", "Good morning."], ["hello i am", "good morning"])
    assert rates["wer"] == pytest.approx(1 / 6)  # one word of six missing
    assert rates["cer"] == pytest.approx(6 / 28)  # " henry": six characters of 28
    assert intelligibility.error_rates(["Hello!"], ["hello"]) == {"wer": 0.0, "cer": 0.0}  # punctuation is no error
    assert intelligibility.error_rates([], []) == {}


def test_the_recognizer_hears_real_recordings_of_its_texts(voice):
    recorded = clips(voice)
    recognizer = intelligibility.Recognizer([text for _, text in recorded] + ["Zzyzxq is not a word."])
    assert recognizer.unknown_words == ["zzyzxq"]
    heard = [recognizer.transcribe(*intelligibility.read_wav(voice / "wavs" / f"{clip}.wav")) for clip, _ in recorded]
    rates = intelligibility.error_rates([text for _, text in recorded], heard)
    assert rates["wer"] <= 0.5, heard  # espeak-ng recordings, a language model of their own texts
    assert recognizer.transcribe(np.zeros(16000, dtype=np.float32), 16000) == ""  # silence: no words


def test_the_fingerprint_follows_the_texts_not_their_order():
    one = intelligibility.Recognizer(["Hello, I am Henry.", "Good morning."])
    same = intelligibility.Recognizer(["good morning", "Good morning.", "hello i am henry"])
    other = intelligibility.Recognizer(["Hello, I am Henry."])
    assert one.fingerprint == same.fingerprint != other.fingerprint and len(one.fingerprint) == 16
