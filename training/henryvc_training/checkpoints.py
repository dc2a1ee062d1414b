"""Checkpoints of a training run: find the newest, read its step/epoch/learning rate, set aside files a
kill cut off mid-write, decide whether a run continues, and check what continuing restored."""

from __future__ import annotations

import logging
import re
import shutil
from pathlib import Path
from typing import Any

from henryvc.core import record
from henryvc.errors import BadInput, HenryvcError
from henryvc_training.common import RunPaths

log = logging.getLogger("henryvc.training.train")


class RestoreMismatch(HenryvcError):
    """Continuing a run did not restore the step or learning rate the checkpoint holds."""


# What Coqui's get_last_checkpoint reads a step from: it matches this against the whole path, not the file name.
COQUI_STEP = re.compile(r"(checkpoint|best_model)_([0-9]+)")


def coqui_folder(checkpoints: Path) -> str:
    """CHECKPOINTS as the folder to hand Coqui's continue_path; BadInput where a folder above it is named like a
    checkpoint (`.../checkpoint_99/project/...`): Coqui matches `checkpoint_<N>` against the whole path and would
    continue from the wrong file, while henryvc (last_checkpoint, resume_check) reads the file names."""
    found = COQUI_STEP.search(str(checkpoints.absolute()))
    if found is None:
        return str(checkpoints)
    raise BadInput(f"{checkpoints}: a folder above the run's checkpoints is named like a checkpoint "
                   f"({found.group(0)}), so Coqui would continue from the wrong file: rename or move that folder")


def numbered(checkpoints: Path) -> list[Path]:
    """CHECKPOINTS' checkpoint_<N>.pth and best_model_<N>.pth files, the one Coqui continues from first: the
    highest N, a checkpoint winning a tie with a best model (Coqui's order, read from the file names)."""
    found = []
    for path in checkpoints.glob("*.pth"):
        match = COQUI_STEP.search(path.name)
        if match:
            found.append(((int(match.group(2)), match.group(1) == "checkpoint"), path))
    return [path for _key, path in sorted(found, key=lambda item: item[0], reverse=True)]


def last_checkpoint(checkpoints: Path) -> Path | None:
    """The checkpoint a continued run starts from (None when there is none)."""
    files = numbered(checkpoints)
    return files[0] if files else None


def checkpoint_state(path: Path) -> dict[str, Any]:
    """Step, epoch and learning rate stored in checkpoint PATH."""
    import torch

    state = torch.load(str(path), map_location="cpu", weights_only=False)
    optimizers = state.get("optimizer") or []
    optimizers = optimizers if isinstance(optimizers, list) else [optimizers]
    lrs = [group["lr"] for opt in optimizers for group in opt.get("param_groups", [])[:1]]
    return {"checkpoint": path.name, "step": int(state["step"]), "epoch": int(state["epoch"]), "lr": lrs}


def drop_unreadable_checkpoints(checkpoints: Path) -> list[str]:
    """Rename checkpoints a kill cut off mid-write to *.pth.partial, newest first, until one loads.

    Coqui's continue_path takes the newest checkpoint by its step number; torch.save writes in place,
    so a SIGKILL during a save leaves a truncated newest file that would make every resume crash.
    """
    dropped = []
    while (last := last_checkpoint(checkpoints)) is not None:
        try:
            checkpoint_state(last)
            break
        except Exception as exc:  # truncated zip, EOF, unpickling errors: all mean "unreadable"
            last.rename(last.with_name(last.name + ".partial"))
            log.warning("checkpoint %s is unreadable (%s: %s); set aside as %s.partial",
                        last.name, type(exc).__name__, exc, last.name)
            dropped.append(last.name)
    return dropped


def should_continue(rec: record.RunRecord, paths: RunPaths) -> bool:
    """True when the run was cut short (killed, interrupted, crashed) and a checkpoint exists."""
    training = rec.extra.get("training") or {}
    cut_short = rec.status in ("training", "incomplete") and not training.get("finished", False)
    return cut_short and training.get("started", False) and last_checkpoint(paths.checkpoints) is not None


def clear_outputs(paths: RunPaths) -> None:
    """Remove what an earlier training of this run left (DVC keeps these outputs: persist: true)."""
    for folder in (paths.checkpoints, paths.tensorboard, paths.logs, paths.plots, paths.samples):
        shutil.rmtree(folder, ignore_errors=True)
    for name in ("metrics.json", "SUCCESS"):
        (paths.run_dir / name).unlink(missing_ok=True)



def check_restored(trainer: Any, expected: dict[str, Any]) -> dict[str, Any]:
    """Compare the Trainer's step and learning rates with the checkpoint's; RestoreMismatch if they differ."""
    restored = {"step": trainer.total_steps_done, "epoch": trainer.epochs_done,
                "lr": [opt.param_groups[0]["lr"] for opt in trainer.optimizer]}
    # Coqui resumes at step + 1 so that it does not immediately checkpoint the same step again.
    if restored["step"] != expected["step"] + 1 or restored["epoch"] != expected["epoch"]:
        raise RestoreMismatch(f"continuing from {expected['checkpoint']} restored step {restored['step']} "
                              f"epoch {restored['epoch']}, expected step {expected['step'] + 1} "
                              f"epoch {expected['epoch']}")
    if len(restored["lr"]) != len(expected["lr"]) or any(
            abs(a - b) > 1e-12 * max(1.0, abs(b)) for a, b in zip(restored["lr"], expected["lr"], strict=True)):
        raise RestoreMismatch(f"continuing from {expected['checkpoint']} restored learning rate {restored['lr']}, "
                              f"the checkpoint holds {expected['lr']}")
    return restored



# --------------------------------------------------------------------------- exact resume

# Set (to 1) by `henryvc resume --inexact`: continue from a checkpoint without exact-resume state.
INEXACT_ENV = "HENRYVC_RESUME_INEXACT"


def _load_lazily(path: Path) -> dict[str, Any]:
    import torch

    return torch.load(str(path), map_location="cpu", weights_only=False, mmap=True)


def resume_problem(path: Path) -> str | None:
    """Why checkpoint PATH cannot be resumed exactly (one line), or None when it can."""
    from henryvc_training import resume

    return resume.problem(_load_lazily(path), path.name)


def resume_state(path: Path) -> dict[str, Any]:
    """The exact-resume state checkpoint PATH carries (check resume_problem first)."""
    from henryvc_training import resume

    return _load_lazily(path)[resume.KEY]


def resume_check(checkpoints: Path) -> str | None:
    """What continuing the run in CHECKPOINTS would say about exactness: the problem of the checkpoint it
    would start from (newest first in Coqui's order, skipping unreadable ones the stage sets aside), or
    None when that checkpoint resumes exactly or there is none."""
    for path in numbered(checkpoints):
        try:
            return resume_problem(path)
        except Exception:  # unreadable (cut off by a kill): the stage sets it aside and takes the next
            continue
    return None
