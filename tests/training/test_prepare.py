"""Stage `prepare`: every problem of voice_data/ is listed, one per line, and nothing trains."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import pytest

from henryvc_training import prepare
from tests.helpers import training as tf


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


# --- issue 15, item 3: every clip is decoded; a broken config.json is one line -------------------------

def _clip_bytes(data: Path, clip: str) -> bytes:
    return (data / "wavs" / f"{clip}.wav").read_bytes()


def test_every_clip_is_decoded_truncated_zero_length_and_stereo_listed(project):
    data = project / "voice_data"
    wavs = data / "wavs"
    (wavs / "henry_0001.wav").write_bytes(_clip_bytes(data, "henry_0001")[:100])  # first 100 bytes of a clip
    (wavs / "henry_0002.wav").write_bytes(b"")                                     # zero-length
    with wave.open(str(wavs / "henry_0003.wav"), "wb") as handle:                 # wrong channel count
        handle.setnchannels(2)
        handle.setsampwidth(2)
        handle.setframerate(22050)
        handle.writeframes(b"\x10\x00" * 2 * 22050)
    good = _clip_bytes(data, "henry_0004")
    (wavs / "henry_0004.wav").write_bytes(good[:44] + bytes(range(256)) * 4)       # header, then a short body
    with pytest.raises(prepare.BadVoiceData) as caught:
        prepare.prepare(project)
    text = "\n".join(caught.value.problems)
    assert "henry_0001.wav: truncated: the header declares" in text and "the file holds 28 (0.001 s" in text
    assert "henry_0002.wav: empty file (0 bytes)" in text
    assert "henry_0003.wav: 2 channels, the model wants mono" in text
    assert "henry_0004.wav: truncated" in text
    assert len(caught.value.problems) == 4, text
    assert not (project / "training_runs" / tf.RUN / "data" / "manifest.json").exists()


def test_invalid_run_config_is_one_line_not_a_traceback(project, capsys):
    config = project / "training_runs" / tf.RUN / "config.json"
    config.write_text(config.read_text()[:-20])  # an editor saved half of it
    assert prepare.main(["--root", str(project)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "config.json: -: JSON syntax error at line" in err[0] and "Traceback" not in err[0]


@pytest.mark.slow
def test_crash_is_recorded_failed_with_a_readable_reason(project):
    """A crash inside real training (Coqui's bare `assert` has an empty message) goes through the trainer's
    own crash handler: the run ends `failed`, not `incomplete`, with the raising line as its reason, and its
    folder and checkpoints are kept (Coqui's fit() would delete them)."""
    from henryvc.core import record
    from henryvc_training import train

    def coqui_like(trainer):  # a Coqui Trainer callback, run by the real training loop before each step
        if trainer.total_steps_done == 3:
            raise AssertionError  # what a bare `assert` raises outside pytest's rewriting

    tf.dvc("repro", "prepare", cwd=project)
    result = train.train(project, callbacks={"on_train_step_start": coqui_like})
    assert (result.status, result.steps) == ("crashed", 3), result
    assert result.message.startswith("AssertionError at ") and "test_prepare.py" in result.message
    assert "test_prepare.py:" in result.message and "(raise AssertionError  # what a bare" in result.message
    run_dir = project / "training_runs" / tf.RUN
    rec = record.load(run_dir)
    assert rec.status == "failed"
    assert rec.verdict["reasons"] == [f"training crashed at step 3: {result.message}"]
    assert rec.history[-1]["event"] == "train-crashed" and rec.extra["training"]["ended"] == "crashed"
    assert "training crashed at step 3" in (run_dir / "README.md").read_text()
    critical = [line for line in (run_dir / "training_v2.log").read_text().splitlines() if " CRITICAL " in line]
    assert "training crashed at step 3: AssertionError at " in critical[0]  # then its traceback, line by line
    assert (run_dir / "checkpoints" / "checkpoint_2.pth").is_file()  # saved at step 2, kept after the crash
    assert not record.is_training(run_dir)  # the lock went with the stage


def test_henryvc_run_failing_before_training_records_failed(tmp_path, voice_data):
    """`henryvc run` whose prepare refuses the data: the run it made is `failed` with prepare's reason, and
    params.yaml keeps naming it (fix the data, `dvc repro` retries exactly that run)."""
    import yaml

    from henryvc import api
    from henryvc.core import record
    from henryvc.errors import HenryvcError
    from henryvc.ops import pipeline

    root = tmp_path / "fresh"
    root.mkdir()
    api.init(root, str(tmp_path / "remote"))
    project = api.require_project(root)
    shutil.copytree(voice_data, root / "voice_data")
    (root / "voice_data" / "wavs" / "henry_0001.wav").write_bytes(b"")
    tf.dvc("add", "-q", "voice_data", cwd=root)
    tf.sh("git", "add", "-A", cwd=root)
    tf.sh("git", "commit", "-qm", "voice data with an empty clip", cwd=root)
    with pytest.raises(HenryvcError, match="failed before training") as caught:
        pipeline.run(project, 2, "debug", description="bad data")
    assert "henry_0001.wav: empty file (0 bytes)" in str(caught.value)
    (run_dir,) = list(project.runs.glob("henry_v2_debug_*"))
    rec = record.load(run_dir)
    assert rec.status == "failed"
    assert "henry_0001.wav: empty file (0 bytes)" in rec.verdict["reasons"][0]
    assert yaml.safe_load(project.params.read_text())["run"] == run_dir.name
    assert not (run_dir / "checkpoints").exists()
