"""A re-creation: a tagged run restored and its stages re-run (on the host or in an image), and how its
metrics and training compare with the tag's. Made by henryvc.ops.recreate; shown by `henryvc recreate` and
`henryvc docker recreate`."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from henryvc.core.numbers import is_number
from henryvc.core.summary import flatten


@dataclass
class MetricChange:
    """One metric of a re-created run next to the tag's value."""

    key: str
    tagged: Any
    recreated: Any
    delta: float | None
    rtol: float = 0.0  # 0: equal means equal (CPU); CUDA_TOLERANCE's metrics_rtol on CUDA

    @property
    def same(self) -> bool:
        if self.key in WALL_CLOCK_METRICS:  # how long the evaluation took: shown, never a difference
            return True
        if self.delta is None or not self.rtol:
            return bool(self.tagged == self.recreated)
        scale = max(abs(self.tagged), abs(self.recreated), 1e-12)
        return bool(abs(self.delta) <= self.rtol * scale)


# Metrics that time the evaluation itself (the evaluate stage's metrics.json): wall clock, not results.
WALL_CLOCK_METRICS = frozenset({"eval_synthesis_seconds", "eval_asr_seconds"})

# The only tolerance a re-creation accepts, and only where the tag or the re-run trained on CUDA: CUDA
# kernels (atomic adds, cuDNN's algorithm choice, another GPU or library version) are not bitwise repeatable
# (docs/reproducibility.md, "What bit-identical means on CPU vs CUDA"). On CPU nothing but equality matches.
CUDA_TOLERANCE = {"atol": 1e-4, "metrics_rtol": 1e-3,
                  "why": "trained on CUDA, whose kernels are not bitwise repeatable (docs/reproducibility.md)"}


@dataclass
class Recreation:
    """A tagged run restored into a worktree and its stages re-run (on the host or inside an image)."""

    name: str
    worktree: str
    image: str
    exit_code: int
    metrics_rewritten: bool
    metrics: list[MetricChange] = field(default_factory=list)
    drift: list[str] = field(default_factory=list)  # what differed from the tag's environment (--allow-drift)
    not_imported: list[str] = field(default_factory=list)  # packages that differ but training never imported
    # Every per-step loss and every model tensor of the final checkpoint equal, bit for bit; None when the
    # tag holds nothing to compare (no logs/step_losses.jsonl or no checkpoint), with the reason.
    identical: bool | None = None
    differences: list[str] = field(default_factory=list)  # why not identical, one line each
    not_compared: str | None = None
    tolerance: dict[str, Any] | None = None  # CUDA_TOLERANCE where it applies, else None (bitwise)
    within_tolerance: bool | None = None  # losses and tensors within tolerance["atol"] (CUDA only)

    @property
    def matches(self) -> bool:
        """The re-run succeeded, every metric of the tag came out the same and the training is identical
        (or, where a tolerance applies, within it)."""
        trained = self.within_tolerance if self.tolerance else self.identical
        return (self.exit_code == 0 and self.metrics_rewritten and all(m.same for m in self.metrics)
                and trained is not False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["matches"] = self.matches
        for item, change in zip(data["metrics"], self.metrics):
            item["same"] = change.same
        return data


def compare_metrics(tagged: dict[str, Any], recreated: dict[str, Any], rtol: float = 0.0) -> list[MetricChange]:
    """Every key of either side, with the numeric difference where both are numbers; RTOL 0 means equal."""
    return [MetricChange(key, tagged.get(key), recreated.get(key),
                         recreated[key] - tagged[key] if is_number(tagged.get(key)) and is_number(recreated.get(key))
                         else None, rtol)
            for key in sorted(tagged.keys() | recreated.keys())]


def read_metrics(path: Path) -> dict[str, Any]:
    try:
        metrics = flatten(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}
    # The tag keeps scalar metrics only (henryvc.core.summary.build); lists cannot be compared with it.
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float, str, bool)) or v is None}
