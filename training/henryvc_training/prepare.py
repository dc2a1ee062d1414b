"""Stage `prepare`: validate voice_data/, write the dataset manifest and the train/eval split.

Every problem in the data is collected and reported together, one per line, and the stage fails
before anything trains. Usage (from the project root): python -m henryvc_training.prepare
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import random
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from henryvc.core.atomic import write_json_atomic
from henryvc.errors import BadInput
from henryvc.exits import entry_point
from henryvc_training import common

log = logging.getLogger("henryvc.training.prepare")


@dataclass
class Clip:
    """One line of metadata.csv and what its wav holds."""

    clip_id: str
    text: str
    normalized: str
    seconds: float = 0.0
    sha256: str = ""


@dataclass
class DataReport:
    """What validation found: the good clips, the problems, and the sample rate seen."""

    clips: list[Clip] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class BadVoiceData(BadInput):
    """voice_data/ has problems; the message lists every one of them, one per line."""

    def __init__(self, data_dir: Path, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{data_dir} has {len(problems)} problem(s); fix them and run `dvc repro` again:\n{lines}")


def _tokenizer(config: Any):
    """Coqui's tokenizer for CONFIG: exactly what the model will see of each text."""
    from TTS.tts.utils.text.tokenizer import TTSTokenizer

    tokenizer, _ = TTSTokenizer.init_from_config(config)
    return tokenizer


def dropped_characters(tokenizer: Any, text: str) -> list[str]:
    """Characters of TEXT that the model's alphabet drops after cleaning (and phonemizing)."""
    if tokenizer.text_cleaner is not None:
        text = tokenizer.text_cleaner(text)
    if tokenizer.phonemizer:
        text = tokenizer.phonemizer.phonemize(text, separator="", language=None)
    missing = []
    for char in text:
        try:
            tokenizer.characters.char_to_id(char)
        except KeyError:
            if char not in missing:
                missing.append(char)
    return missing


def _declared_frames(path: Path) -> int | None:
    """Frames a RIFF/WAVE header promises (data chunk size / block align); None for other formats."""
    import struct

    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = None
        while chunk := handle.read(8):
            if len(chunk) < 8:
                return None
            kind, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if kind == b"fmt ":
                fmt = handle.read(size)
                if len(fmt) < 14:
                    return None
                block_align = struct.unpack("<H", fmt[12:14])[0]
                handle.seek(size % 2, 1)
            elif kind == b"data":
                return size // block_align if block_align else None
            else:
                handle.seek(size + size % 2, 1)
    return None


def _check_wav(path: Path, sample_rate: int) -> tuple[float, str, str | None]:
    """(seconds, sha256, problem or None) of the wav at PATH, decoded to its last sample.

    A header can promise more than the file holds (a truncated copy), so every clip is decoded in full
    and the samples counted against what the header declares.
    """
    import numpy
    import soundfile

    if not path.exists():
        return 0.0, "", "missing"
    if path.stat().st_size == 0:
        return 0.0, "", "empty file (0 bytes)"
    try:
        info = soundfile.info(str(path))
        samples, _ = soundfile.read(str(path), always_2d=True, dtype="float32")
    except Exception as exc:  # soundfile raises its own RuntimeError subclasses and others
        return 0.0, "", f"unreadable ({str(exc).splitlines()[0][:120]})"
    frames = int(samples.shape[0])
    if frames == 0:
        return 0.0, "", "empty (no samples)"
    declared = _declared_frames(path)
    if declared is not None and declared > frames:
        return 0.0, "", (f"truncated: the header declares {declared} samples, the file holds {frames} "
                         f"({frames / info.samplerate:.3f} s of {declared / info.samplerate:.3f} s)")
    if info.channels != 1:
        return 0.0, "", f"{info.channels} channels, the model wants mono (1 channel)"
    if info.samplerate != sample_rate:
        return 0.0, "", f"sample rate {info.samplerate} Hz, the config wants {sample_rate} Hz"
    if not numpy.isfinite(samples).all():  # a float wav can hold NaN or infinity
        return 0.0, "", "holds samples that are not finite numbers"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return frames / info.samplerate, digest, None


def validate(data_dir: Path, config: Any) -> DataReport:
    """Check DATA_DIR (LJSpeech layout) against CONFIG; collect every problem instead of stopping at one."""
    report = DataReport()
    metadata = data_dir / "metadata.csv"
    if not data_dir.is_dir():
        report.problems.append(f"{data_dir}: no such folder (make sample data with `python -m henryvc_training.sample_data`)")
        return report
    if not metadata.exists():
        report.problems.append(f"{metadata}: missing (expected lines id|text|normalized_text)")
        return report
    tokenizer = _tokenizer(config)
    sample_rate = int(config.audio.sample_rate)
    seen: set[str] = set()
    for number, line in enumerate(metadata.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"metadata.csv line {number}"
        cols = line.split("|")
        if len(cols) != 3 or not cols[0].strip():
            report.problems.append(f"{where}: expected id|text|normalized_text, got {len(cols)} column(s)")
            continue
        clip = Clip(cols[0].strip(), cols[1].strip(), cols[2].strip())
        if clip.clip_id in seen:
            report.problems.append(f"{where}: id {clip.clip_id} appears twice")
            continue
        seen.add(clip.clip_id)
        if not clip.normalized:
            report.problems.append(f"{where}: {clip.clip_id} has an empty normalized text")
            continue
        dropped = dropped_characters(tokenizer, clip.normalized)
        if dropped:
            shown = " ".join(repr(c) for c in dropped)
            report.problems.append(f"{where}: {clip.clip_id} has characters the model's alphabet drops: {shown}")
        seconds, digest, problem = _check_wav(data_dir / "wavs" / f"{clip.clip_id}.wav", sample_rate)
        if problem == "missing":
            report.problems.append(f"{where}: {clip.clip_id} has no audio (wavs/{clip.clip_id}.wav is missing)")
        elif problem:
            report.problems.append(f"wavs/{clip.clip_id}.wav: {problem}")
        elif not dropped:
            clip.seconds, clip.sha256 = seconds, digest
            report.clips.append(clip)
    wav_dir = data_dir / "wavs"
    if wav_dir.is_dir():
        for wav in sorted(wav_dir.glob("*.wav")):
            if wav.stem not in seen:
                report.problems.append(f"wavs/{wav.name}: audio without a line in metadata.csv")
    if not report.problems and not report.clips:
        report.problems.append(f"{metadata}: no clips")
    return report


def manifest(clips: list[Clip], sample_rate: int) -> dict[str, Any]:
    """The dataset manifest kept as DVC metrics: size, durations, text lengths, content hash."""
    seconds = [c.seconds for c in clips]
    lengths = [len(c.normalized) for c in clips]
    content = hashlib.sha256()
    for clip in sorted(clips, key=lambda c: c.clip_id):
        content.update(f"{clip.clip_id}|{clip.text}|{clip.normalized}|{clip.sha256}\n".encode())
    return {
        "clips": len(clips),
        "hours": round(sum(seconds) / 3600, 6),
        "sample_rate": sample_rate,
        "duration_seconds": {"min": round(min(seconds), 4), "median": round(statistics.median(seconds), 4),
                             "max": round(max(seconds), 4)},
        "text_length": {"min": min(lengths), "median": statistics.median(lengths), "max": max(lengths)},
        "content_sha256": content.hexdigest(),
    }


def split(clips: list[Clip], eval_size: float, seed: int) -> tuple[list[Clip], list[Clip]]:
    """(train, eval): EVAL_SIZE clips (an int >= 1) or that fraction (< 1) held out, chosen by SEED."""
    if eval_size <= 0:
        raise BadInput(f"params.yaml data.eval_split_size must be positive, got {eval_size}")
    count = int(eval_size) if eval_size >= 1 else max(1, round(len(clips) * eval_size))
    if count >= len(clips):
        raise BadInput(f"data.eval_split_size {eval_size} leaves no clips to train on ({len(clips)} clips)")
    order = sorted(clips, key=lambda c: c.clip_id)
    random.Random(seed).shuffle(order)
    held = {c.clip_id for c in order[:count]}
    return [c for c in clips if c.clip_id not in held], [c for c in clips if c.clip_id in held]


def _write_split(path: Path, clips: list[Clip]) -> None:
    path.write_text("".join(f"{c.clip_id}|{c.text}|{c.normalized}\n" for c in clips), encoding="utf-8")


def _warn_about_test_texts(config: Any, short_text: str) -> None:
    """WARNING for evaluation texts the alphabet drops: their evaluation would fail or mislead later."""
    tokenizer = _tokenizer(config)
    for text in [*config.test_sentences, short_text]:
        dropped = dropped_characters(tokenizer, text) if text else []
        if dropped:
            log.warning("evaluation text %r has characters the model's alphabet drops: %s",
                        text, " ".join(repr(c) for c in dropped))


def prepare(root: Path) -> dict[str, Any]:
    """Run the stage in project ROOT; return the manifest. BadVoiceData lists every problem."""
    params = common.load_params(root)
    paths = common.run_paths(root, params)
    raw = common.read_config(paths)
    config = common.coqui_config(raw)
    data_dir = root / params.get("data", {}).get("dir", "voice_data")
    report = validate(data_dir, config)
    if report.problems:
        raise BadVoiceData(data_dir, report.problems)
    _warn_about_test_texts(config, str((params.get("evaluation") or {}).get("short_text", "")))
    result = manifest(report.clips, int(config.audio.sample_rate))
    train, held = split(report.clips, float(params.get("data", {}).get("eval_split_size", 2)),
                        int(raw.get("seed", config.training_seed)))
    result["train_clips"], result["eval_clips"] = len(train), len(held)
    paths.data.mkdir(parents=True, exist_ok=True)
    _write_split(paths.data / "train.csv", train)
    _write_split(paths.data / "eval.csv", held)
    write_json_atomic(paths.data / "manifest.json", result)
    return result


@entry_point("prepare")
def main(argv: list[str] | None = None) -> int:
    """Stage entry point (dvc.yaml: python -m henryvc_training.prepare)."""
    parser = argparse.ArgumentParser(prog="python -m henryvc_training.prepare", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="project root (where dvc.yaml is)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    with common.stage_log(root, "prepare", require_run=False):
        result = prepare(root)
    print(f"prepare: {result['clips']} clips, {result['hours'] * 3600:.1f} s of audio, "
          f"{result['train_clips']} train / {result['eval_clips']} eval")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
