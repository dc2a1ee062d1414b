"""Stage `prepare`: every problem of voice_data/ is listed, one per line, and nothing trains."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import pytest

from tests import training_fixtures as tf
from henryvc_training import prepare


@pytest.fixture(scope="module")
def voice_data(tmp_path_factory) -> Path:
    return tf.sample_data(tmp_path_factory.mktemp("voice"), clips=10)


@pytest.fixture
def project(tmp_path, voice_data) -> Path:
    return tf.make_project(tmp_path / "proj", voice_data)


def _write_wav(path: Path, rate: int, frames: int) -> None:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(b"\x00\x00" * frames)


def _break_everything(data: Path) -> None:
    """One instance of each problem prepare must report."""
    (data / "wavs" / "henry_0001.wav").unlink()                             # line without audio
    (data / "wavs" / "henry_0002.wav").write_bytes(b"this is not a wav")    # unreadable
    _write_wav(data / "wavs" / "henry_0003.wav", 22050, 0)                  # empty
    _write_wav(data / "wavs" / "henry_0004.wav", 16000, 16000)              # wrong sample rate
    _write_wav(data / "wavs" / "stray_clip.wav", 22050, 22050)              # audio without a line
    meta = data / "metadata.csv"
    lines = meta.read_text().splitlines()
    lines[4] = "henry_0005|Henry ☃ reads.|Henry ☃ reads."                   # character the alphabet drops
    lines.append("only_two|columns")                                        # malformed line
    meta.write_text("\n".join(lines) + "\n")


def test_clean_sample_data_passes_with_manifest_and_split(project):
    result = prepare.prepare(project)
    run = project / "training_runs" / tf.RUN / "data"
    assert result["clips"] == 10 and result["sample_rate"] == 22050
    assert result["train_clips"] == 8 and result["eval_clips"] == 2
    assert 0 < result["duration_seconds"]["min"] <= result["duration_seconds"]["median"] <= result["duration_seconds"]["max"]
    assert len(result["content_sha256"]) == 64
    assert json.loads((run / "manifest.json").read_text()) == result
    train = (run / "train.csv").read_text().splitlines()
    held = (run / "eval.csv").read_text().splitlines()
    assert len(train) == 8 and len(held) == 2 and not set(train) & set(held)
    assert prepare.prepare(project) == result  # the split is a function of the seed, not of chance


def test_content_hash_follows_the_audio(project):
    before = prepare.prepare(project)["content_sha256"]
    wav = project / "voice_data" / "wavs" / "henry_0001.wav"
    data = bytearray(wav.read_bytes())
    data[-1] ^= 1
    wav.write_bytes(bytes(data))
    assert prepare.prepare(project)["content_sha256"] != before


def test_every_problem_is_listed_together(project):
    _break_everything(project / "voice_data")
    with pytest.raises(prepare.BadVoiceData) as caught:
        prepare.prepare(project)
    problems = caught.value.problems
    text = "\n".join(problems)
    assert "henry_0001 has no audio" in text
    assert "henry_0002.wav: unreadable" in text
    assert "henry_0003.wav: empty" in text
    assert "henry_0004.wav: sample rate 16000 Hz, the config wants 22050 Hz" in text
    assert "stray_clip.wav: audio without a line" in text
    assert "henry_0005 has characters the model's alphabet drops: '☃'" in text
    assert "expected id|text|normalized_text, got 2 column(s)" in text
    assert len(problems) == 7
    # one problem per line in the message the user sees
    assert str(caught.value).count("\n  - ") == 7
    assert not (project / "training_runs" / tf.RUN / "data" / "manifest.json").exists()


def test_missing_dataset_folder(project):
    shutil.rmtree(project / "voice_data")
    with pytest.raises(prepare.BadVoiceData, match="no such folder"):
        prepare.prepare(project)


def test_dvc_repro_stops_at_prepare_and_nothing_trains(project):
    _break_everything(project / "voice_data")
    result = tf.dvc("repro", cwd=project, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "7 problem(s)" in output
    assert "henry_0004.wav: sample rate 16000 Hz" in output
    run = project / "training_runs" / tf.RUN
    assert not (run / "checkpoints").exists()
    assert json.loads((run / "run.json").read_text())["status"] == "created"
    assert "ERROR" in (run / "training_v2.log").read_text()


def test_main_exit_code_is_bad_input(project, capsys):
    _break_everything(project / "voice_data")
    assert prepare.main(["--root", str(project)]) == 2
    assert "stray_clip.wav" in capsys.readouterr().err
