"""The time each test tier took, printed at the end of the run (the README's test section records them).

A test belongs to the tiers of its markers (slow, engine, reliability, randomkill, browser, slurm,
arm64_builder), or to `fast` when it has none of them; setup and teardown count with the test.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

TIERS = ("slow", "engine", "reliability", "randomkill", "browser", "slurm", "arm64_builder", "arm64")
_seconds: dict[str, float] = defaultdict(float)
_count: dict[str, int] = defaultdict(int)
_tiers_of: dict[str, list[str]] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        _tiers_of[item.nodeid] = [t for t in TIERS if item.get_closest_marker(t)] or ["fast"]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for tier in _tiers_of.get(report.nodeid, ["fast"]):
        _seconds[tier] += report.duration
        if report.when == "call":
            _count[tier] += 1


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if not _seconds:
        return
    parts = [f"{tier} {_count[tier]} tests {_seconds[tier] / 60:.1f} min" for tier in sorted(_seconds)]
    terminalreporter.write_line("tier times (a test with two markers counts in both): " + "; ".join(parts))
