"""henryvc_training.sample_data with the real espeak-ng: an LJSpeech-layout set of 16-bit mono 22050 Hz clips (with
sox or without it), repeats that are not the same clip, and bad input refused with one line and nothing made."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import pytest

from henryvc.errors import BadInput
from henryvc_training import sample_data
from tests.helpers import training as tf


def clip_format(path: Path) -> tuple[int, int, int, int]:
    with wave.open(str(path)) as handle:
        return handle.getnchannels(), handle.getsampwidth(), handle.getframerate(), handle.getnframes()


def only(tmp_path: Path, *tools: str) -> str:
    """A PATH holding only TOOLS (links to the real ones)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in tools:
        (folder / tool).symlink_to(subprocess.run(["which", tool], capture_output=True, text=True,
                                                  check=True).stdout.strip())
    return str(folder)


def test_a_dataset_in_ljspeech_layout(tmp_path):
    ids = sample_data.make_dataset(tmp_path / "voice", 3)
    assert ids == ["henry_0001", "henry_0002", "henry_0003"]
    lines = (tmp_path / "voice" / "metadata.csv").read_text().splitlines()
    assert lines == [f"{i}|{text}|{text}" for i, text in zip(ids, sample_data.SENTENCES, strict=False)]
    assert sorted(p.name for p in (tmp_path / "voice" / "wavs").iterdir()) == [f"{i}.wav" for i in ids]  # no .raw
    for clip in ids:
        channels, width, rate, frames = clip_format(tmp_path / "voice" / "wavs" / f"{clip}.wav")
        assert (channels, width, rate) == (1, 2, sample_data.SAMPLE_RATE) and frames > rate // 2  # half a second+


def test_a_repeated_sentence_is_another_clip(tmp_path):
    count = len(sample_data.SENTENCES) + 1
    sample_data.make_dataset(tmp_path, count)
    last = (tmp_path / "metadata.csv").read_text().splitlines()[-1]
    assert last == f"henry_{count:04d}|{sample_data.SENTENCES[0]}|{sample_data.SENTENCES[0]}"
    first, again = (clip_format(tmp_path / "wavs" / f"henry_{n:04d}.wav")[3] for n in (1, count))
    assert again < first  # spoken faster: not the same clip twice


def test_without_sox_the_clips_are_resampled_all_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", only(tmp_path, "espeak-ng"))
    sample_data.make_dataset(tmp_path / "voice", 1)
    channels, width, rate, frames = clip_format(tmp_path / "voice" / "wavs" / "henry_0001.wav")
    assert (channels, width, rate) == (1, 2, 22050) and frames > 0


def test_without_espeak_it_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", only(tmp_path))
    with pytest.raises(BadInput, match=r"espeak-ng is not installed: install it \(apt-get install espeak-ng\)"):
        sample_data.make_dataset(tmp_path / "voice", 2)
    assert not (tmp_path / "voice").exists()


@pytest.mark.parametrize("clips", ["0", "-3"])
def test_main_refuses_fewer_than_one_clip_with_one_line(tmp_path, clips):
    done = subprocess.run([sys.executable, "-m", "henryvc_training.sample_data", "--out", str(tmp_path / "voice"),
                           "--clips", clips], capture_output=True, text=True, env=tf.env())
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"sample_data: error: --clips must be at least 1, got {clips}"]
    assert not (tmp_path / "voice").exists()


def test_main_writes_the_dataset_and_says_so(tmp_path, capsys):
    assert sample_data.main(["--out", str(tmp_path / "voice"), "--clips", "2"]) == 0
    assert capsys.readouterr().out == f"sample_data: wrote 2 clips to {tmp_path / 'voice'}\n"
    assert len((tmp_path / "voice" / "metadata.csv").read_text().splitlines()) == 2
    assert sorted(os.listdir(tmp_path / "voice" / "wavs")) == ["henry_0001.wav", "henry_0002.wav"]
