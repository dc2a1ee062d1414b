"""Compare two trainings: their per-step losses and the model tensors of their checkpoints.

Used by the determinism and exact-resume tests and by recreation checks: each function returns the list
of differences (empty when the two agree), one readable line each, so a caller can print or assert them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from henryvc.core.runfolder import RUNS_DIR

STEP_LOSSES = Path("logs") / "step_losses.jsonl"


def read_step_losses(run_dir: Path) -> list[dict[str, Any]]:
    """The per-step loss rows of the run in RUN_DIR, one per step in step order.

    A resumed run re-trains the steps between its checkpoint and the kill and appends their rows again:
    the later row of a step is the one the finished run stands on, so it wins.
    """
    by_step: dict[int, dict[str, Any]] = {}
    path = Path(run_dir) / STEP_LOSSES
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            by_step[int(row["step"])] = row
    return [by_step[step] for step in sorted(by_step)]


def loss_keys(row: dict[str, Any]) -> list[str]:
    """The loss values of a step row (not the learning rate, grad norm or timings)."""
    return sorted(k for k in row if k.endswith(("loss", "error")))


def compare_step_losses(a: Path, b: Path, tolerance: float = 0.0) -> list[str]:
    """Differences between the per-step losses of runs A and B (run folders); TOLERANCE 0 means bitwise."""
    rows_a, rows_b = read_step_losses(a), read_step_losses(b)
    steps_a, steps_b = [r["step"] for r in rows_a], [r["step"] for r in rows_b]
    if steps_a != steps_b:
        return [f"steps differ: {len(steps_a)} steps {_span(steps_a)} against {len(steps_b)} {_span(steps_b)}"]
    differences = []
    for row_a, row_b in zip(rows_a, rows_b, strict=True):
        if loss_keys(row_a) != loss_keys(row_b):
            differences.append(f"step {row_a['step']}: losses {loss_keys(row_a)} against {loss_keys(row_b)}")
            continue
        for key in loss_keys(row_a):
            x, y = row_a[key], row_b[key]
            same = x == y or (x != x and y != y) or abs(x - y) <= tolerance  # NaN is never within a tolerance
            if not same:
                differences.append(f"step {row_a['step']} {key}: {row_a[key]!r} against {row_b[key]!r}")
    return differences


def _span(steps: list[int]) -> str:
    return f"({steps[0]}..{steps[-1]})" if steps else "(none)"


def model_tensors(checkpoint: Path) -> dict[str, Any]:
    """The model state_dict stored in a Coqui checkpoint file."""
    import torch

    return torch.load(str(checkpoint), map_location="cpu", weights_only=False, mmap=True)["model"]


def compare_checkpoints(a: Path, b: Path, atol: float = 0.0) -> list[str]:
    """Differences between the model tensors of checkpoint files A and B; ATOL 0 means torch.equal."""
    import torch

    tensors_a, tensors_b = model_tensors(a), model_tensors(b)
    differences = [f"only in {a.name}: {key}" for key in sorted(set(tensors_a) - set(tensors_b))]
    differences += [f"only in {b.name}: {key}" for key in sorted(set(tensors_b) - set(tensors_a))]
    for key in sorted(set(tensors_a) & set(tensors_b)):
        x, y = tensors_a[key], tensors_b[key]
        if x.shape != y.shape or x.dtype != y.dtype:
            differences.append(f"{key}: {tuple(x.shape)} {x.dtype} against {tuple(y.shape)} {y.dtype}")
        elif atol == 0.0 and not torch.equal(x, y):
            differences.append(f"{key}: differs, max |a-b| {float((x.double() - y.double()).abs().max()):.3g}")
        elif atol and not torch.allclose(x, y, atol=atol, rtol=0):
            gap = float((x.double() - y.double()).abs().max())
            differences.append(f"{key}: differs beyond {atol}, max |a-b| {gap:.3g}")
    return differences


def final_checkpoint(run_dir: Path) -> Path:
    """The newest checkpoint_<step>.pth of the run in RUN_DIR (the final state of a finished training)."""
    from henryvc.errors import BadInput

    found = sorted(Path(run_dir).glob("checkpoints/checkpoint_*.pth"),
                   key=lambda p: int(p.stem.rsplit("_", 1)[1]) if p.stem.rsplit("_", 1)[1].isdigit() else -1)
    if not found:
        raise BadInput(f"{run_dir} holds no checkpoint_<step>.pth under checkpoints/ ({RUNS_DIR}/<run>/)")
    return found[-1]


def compare_runs(a: Path, b: Path, tolerance: float = 0.0) -> list[str]:
    """Per-step losses and final model tensors of run folders A and B: every difference, or []."""
    return compare_step_losses(a, b, tolerance) + compare_checkpoints(final_checkpoint(a), final_checkpoint(b),
                                                                      tolerance)
