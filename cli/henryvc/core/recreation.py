"""A re-creation: a tagged run restored and its stages re-run (on the host or in an image), how its metrics
and training compare with the tag's, and how the environment about to run it differs from the recorded one
(`drift`, which refuses a re-creation). Made by henryvc.ops.recreate; shown by `henryvc recreate` and
`henryvc docker recreate`."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from henryvc.core import environment
from henryvc.core.numbers import is_number
from henryvc.core.summary import flatten
from henryvc.errors import BadInput
from henryvc.exits import entry_point


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


@dataclass(frozen=True)
class Drift:
    """One way the environment about to run differs from a run's recorded one."""

    kind: str  # package, code, python, arch, image
    name: str
    recorded: str | None
    current: str | None
    blocks: bool = True  # False: a package the run's training never imported (listed, never refused)

    def line(self) -> str:
        """`<kind> <name>: <recorded> at the tag, <current> here` (+ `(not imported by the stages)`)."""
        def say(value: str | None) -> str:
            return value if value is not None else "absent"

        label = f"{self.kind} {self.name}" if self.name else self.kind
        return f"{label}: {say(self.recorded)} at the tag, {say(self.current)} here" + (
            "" if self.blocks else f" ({environment.NOT_IMPORTED})")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def package_changes(a: dict[str, str], b: dict[str, str]) -> list[tuple[str, str | None, str | None]]:
    """(name, version in A, version in B) for every package whose version differs (None: not installed)."""
    return [(name, a.get(name), b.get(name)) for name in sorted(a.keys() | b.keys()) if a.get(name) != b.get(name)]


def drift(recorded: dict[str, Any], recorded_pins: dict[str, str],
          here: dict[str, Any], here_pins: dict[str, str]) -> list[Drift]:
    """Every difference in code files, packages, python, arch and image between a run's record and HERE.

    A package difference blocks only when the run recorded that its training imported the package, or
    recorded no `imported` list at all (runs trained before it was kept: every package blocks)."""
    found: list[Drift] = []
    used = recorded.get(environment.IMPORTED)
    used_set = None if used is None else {environment.normalize(n) for n in used}
    old_files = (recorded.get("code") or {}).get("files") or {}
    new_files = (here.get("code") or {}).get("files") or {}
    found += [Drift("code", name, _short(old_files.get(name)), _short(new_files.get(name)))
              for name in sorted(old_files.keys() | new_files.keys()) if old_files.get(name) != new_files.get(name)]
    found += [Drift("package", name, old, new, used_set is None or name in used_set)
              for name, old, new in package_changes(recorded_pins, here_pins)]
    for key in ("implementation", "python", "arch"):
        if recorded.get(key) != here.get(key):
            found.append(Drift(key, "", recorded.get(key), here.get(key)))
    old_image = (recorded.get("image") or {}).get("image_id")
    new_image = (here.get("image") or {}).get("image_id")
    if old_image != new_image:
        found.append(Drift("image", "", old_image or "no image", new_image or "no image"))
    return found


def blocking(drifts: list[Drift]) -> list[Drift]:
    """The differences that refuse a re-creation."""
    return [d for d in drifts if d.blocks]


def _short(digest: str | None) -> str | None:
    return f"sha256 {digest[:12]}" if digest else None


def changes(a: tuple[dict[str, Any], dict[str, str]] | None,
            b: tuple[dict[str, Any], dict[str, str]] | None) -> list[dict[str, Any]]:
    """`henryvc diff`'s environment section: each difference as kind, name, a, b."""
    if a is None or b is None:
        return [] if a is b else [{"kind": "lock", "name": "", "a": "recorded" if a else "none",
                                   "b": "recorded" if b else "none"}]
    return [{"kind": d.kind, "name": d.name, "a": d.recorded, "b": d.current} for d in drift(a[0], a[1], b[0], b[1])]


USAGE = "usage: python -m henryvc.core.recreation --check RUN_DIR"


@entry_point("henryvc")
def main(argv: list[str] | None = None) -> int:
    """`python -m henryvc.core.recreation --check RUN_DIR`: the drift between RUN_DIR's recorded environment
    and this interpreter's as one JSON line (null: RUN_DIR has no lock); run inside an image to check it."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] != ["--check"] or len(args) != 2:
        raise BadInput(f"{USAGE} (got {' '.join(args) or 'nothing'})")
    if not Path(args[1]).is_dir():
        raise BadInput(f"{args[1]} is not a run folder ({USAGE})")
    found = environment.read(Path(args[1]))
    drifts = None if found is None else [d.to_dict() for d in drift(*found, *environment.current())]
    sys.stdout.write(json.dumps(drifts) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
