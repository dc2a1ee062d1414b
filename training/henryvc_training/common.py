"""What every pipeline stage shares: params.yaml, the run folder (its paths are henryvc.core.runfolder.RunPaths),
the Coqui config and the run log."""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from henryvc.core.runfolder import RunPaths
from henryvc.errors import BadInput, HenryvcError

LOG_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
# Keys of a run's config.json that are henryvc's, not Coqui's (Coqui's Coqpit refuses unknown keys).
HENRYVC_CONFIG_KEYS = ("version", "variant", "seed", "pin_memory", "criteria")

log = logging.getLogger("henryvc.training")


def load_params(root: Path) -> dict[str, Any]:
    """params.yaml of the project at ROOT, with the run name checked (henryvc.core.params owns the file)."""
    from henryvc.core import params

    return params.load_stage_params(root)


def run_paths(root: Path, params: dict[str, Any]) -> RunPaths:
    """The paths of the run params.yaml names; BadInput when its folder is missing."""
    paths = RunPaths(root, params["run"])
    if not paths.config.exists():
        raise BadInput(f"{paths.config} does not exist: params.yaml names run {paths.name!r}, "
                       "which `henryvc new-run` has not created here")
    return paths


def read_config(paths: RunPaths) -> dict[str, Any]:
    """The run's config.json as written by new-run (henryvc keys included).

    A file that does not parse is BadInput with `henryvc validate`'s one line (where, what, how to fix).
    """
    from henryvc.core import config as configs

    data, findings = configs.read_json(paths.config)
    if data is None:
        raise BadInput(str(findings[0]))
    return data


def coqui_config(raw: dict[str, Any]):
    """A Tacotron2Config from RAW: henryvc keys stripped, the henryvc seed made the training seed."""
    from TTS.tts.configs.tacotron2_config import Tacotron2Config

    known = set(Tacotron2Config.__dataclass_fields__)
    unknown = sorted(k for k in raw if k not in known and k not in HENRYVC_CONFIG_KEYS)
    if unknown:
        log.warning("config.json keys Coqui does not know are ignored: %s", ", ".join(unknown))
    data = {k: v for k, v in raw.items() if k in known}
    if raw.get("seed") is not None:
        # `seed` is the one the run record shows; Coqui's training_seed must never disagree with it.
        data["training_seed"] = int(raw["seed"])
    if data.get("max_audio_len") is None:
        data["max_audio_len"] = math.inf  # JSON has no infinity; null means "no limit"
    if data.get("mixed_precision") and not _cuda():
        # Coqui would autocast on the CPU (bfloat16 there): slower, and not what the GPU config meant.
        log.warning("mixed_precision is for CUDA; this machine has none, so training runs in float32")
        data["mixed_precision"] = False
    config = Tacotron2Config()
    config.from_dict(data)
    return config


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


class RunLogFormatter(logging.Formatter):
    """Every line timestamped and levelled, colours stripped: Coqui logs multi-line, ANSI-coloured blocks."""

    _ansi = re.compile(r"\x1b\[[0-9;]*m")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        head, _, _ = text.partition(record.getMessage()) if record.getMessage() else (text, "", "")
        lines = [line.rstrip() for line in self._ansi.sub("", text[len(head):]).splitlines()]
        lines = [line for line in lines if line.strip()] or [""]
        return "\n".join(head + line.strip() if i == 0 else head + "  " + line.strip() for i, line in enumerate(lines))


def open_run_log(paths: RunPaths) -> logging.Handler:
    """Send henryvc's, Coqui's and Python's warnings to the run's training_v2.log (appending)."""
    paths.run_dir.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(paths.log_file, mode="a", encoding="utf-8")
    handler.setFormatter(RunLogFormatter(LOG_FORMAT))
    handler.setLevel(logging.INFO)
    # Coqui's "trainer" logger does not propagate to the root, so it gets the handler itself.
    for name in ("", "trainer"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
    # Deprecations from torch/Coqui become WARNING lines in the run log instead of stderr noise.
    logging.captureWarnings(True)
    return handler


def close_run_log(handler: logging.Handler) -> None:
    """Detach HANDLER from the loggers open_run_log put it on."""
    for name in ("", "trainer"):
        logging.getLogger(name).removeHandler(handler)
    handler.close()


@contextmanager
def stage_log(root: Path, stage: str, require_run: bool = True) -> Iterator[RunPaths]:
    """The run params.yaml names, its training_v2.log attached while the stage runs (if its folder exists).

    A HenryvcError raised inside becomes an ERROR line of the run log before it propagates.
    """
    params = load_params(root)
    paths = run_paths(root, params) if require_run else RunPaths(root, params["run"])
    handler = open_run_log(paths) if paths.run_dir.is_dir() else None
    try:
        yield paths
    except HenryvcError as exc:
        logging.getLogger(f"henryvc.training.{stage}").error("%s failed: %s", stage, exc)
        raise
    finally:
        if handler is not None:
            close_run_log(handler)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of PATH (a half-written last line, as a kill leaves it, is skipped)."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def append_readme(paths: RunPaths, title: str, lines: list[str]) -> None:
    """Append a dated section (under new-run's "## Evaluations" heading) to the run's README.md."""
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    text = f"\n### {title} ({stamp})\n\n" + "\n".join(lines) + "\n"
    with (paths.run_dir / "README.md").open("a", encoding="utf-8") as handle:
        handle.write(text)


def is_finite_number(value: Any) -> bool:
    """True for a real, finite number (bools and strings are not numbers here: henryvc.core.numbers decides)."""
    from henryvc.core.numbers import is_number

    return is_number(value) and math.isfinite(value)


@dataclass
class Settings:
    """The parts of params.yaml the train stage uses."""

    every_epochs: int = 25
    max_decoder_steps: int = 500
    keep_checkpoints: int | None = None
    asr: bool = True  # periodic evaluations transcribe what the model says (henryvc_training.intelligibility)
    min_chars_per_second: float = 5.0  # audio past the longest plausible duration is not transcribed
    voice_scores: bool = True  # and score the voice against Henry's (henryvc_training.voice)
    short_text: str = "Hello, I am Henry."  # the final evaluation's: in the recognizer's language model too

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Settings:
        evaluation = params.get("evaluation") or {}
        train = params.get("train") or {}
        criteria = params.get("criteria") or {}
        return cls(int(evaluation.get("every_epochs", 25)), int(evaluation.get("max_decoder_steps", 500)),
                   train.get("keep_checkpoints"), bool(evaluation.get("asr", True)),
                   float(criteria.get("min_chars_per_second", 5.0)), bool(evaluation.get("voice_scores", True)),
                   str(evaluation.get("short_text", "Hello, I am Henry.")))
