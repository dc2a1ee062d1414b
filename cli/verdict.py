"""The verdict on a run: its metrics judged against the success criteria of params.yaml.

Plain data in, plain data out (no torch): the evaluate stage, `henryvc show` and the tests share it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from henryvc.errors import BadInput
from henryvc.numbers import parse_float

VERDICTS = ("success", "failed", "incomplete")
# metric name in metrics.json -> threshold name in params.yaml `criteria`; every one is "value < threshold".
CRITERIA = (
    ("total_loss", "max_total_loss"),
    ("align_error", "max_align_error"),
    ("stopnet_loss", "max_stopnet_loss"),
    ("short_text_seconds", "max_short_text_seconds"),
)


@dataclass
class CriterionResult:
    """One criterion: the measured value, its threshold, and whether value < threshold (None: not measured)."""

    metric: str
    value: float | None
    threshold: float
    passed: bool | None


@dataclass
class Verdict:
    """success | failed | incomplete, with the per-criterion results and the reasons in words."""

    status: str
    criteria: list[CriterionResult] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (NaN values become the string "nan", which JSON can carry)."""
        data = asdict(self)
        for item in data["criteria"]:
            if isinstance(item["value"], float) and not math.isfinite(item["value"]):
                item["value"] = str(item["value"])
        return data


def thresholds(criteria: dict[str, Any]) -> dict[str, float]:
    """The thresholds of CRITERIA (params.yaml `criteria`); BadInput naming any missing or non-numeric one."""
    found, bad = {}, []
    for _metric, name in CRITERIA:
        value = parse_float(criteria.get(name))
        if value is None or not math.isfinite(value):
            bad.append(name)
        else:
            found[name] = value
    if bad:
        raise BadInput(f"params.yaml criteria lacks a numeric {', '.join(bad)}")
    return found


def judge(metrics: dict[str, Any], criteria: dict[str, Any]) -> Verdict:
    """Judge METRICS (metrics.json) against CRITERIA (params.yaml `criteria`).

    NaN/inf in any loss -> failed; training not finished or a metric not measured -> incomplete;
    otherwise success when every value is strictly below its threshold, else failed.
    """
    limits = thresholds(criteria)
    results, reasons = [], []
    nan_metrics = []
    missing = []
    for metric, name in CRITERIA:
        value = parse_float(metrics.get(metric))
        if value is None:
            missing.append(metric)
            results.append(CriterionResult(metric, None, limits[name], None))
            continue
        if not math.isfinite(value):
            nan_metrics.append(metric)
            results.append(CriterionResult(metric, value, limits[name], False))
            continue
        passed = value < limits[name]
        results.append(CriterionResult(metric, value, limits[name], passed))
        if not passed:
            reasons.append(f"{metric} {value:.4g} is not below {limits[name]:g}")
    if metrics.get("has_nan") or nan_metrics:
        where = ", ".join(nan_metrics) or ", ".join(metrics.get("nan_losses") or []) or "a loss"
        return Verdict("failed", results, [f"NaN or infinite value in {where}"] + reasons)
    if not metrics.get("training_finished", False):
        return Verdict("incomplete", results, ["training did not finish all its epochs"])
    if missing:
        return Verdict("incomplete", results, [f"not measured: {', '.join(missing)}"])
    if reasons:
        return Verdict("failed", results, reasons)
    return Verdict("success", results, ["every criterion met"])
