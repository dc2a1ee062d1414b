"""What counts as a number in configs, metrics and tool output: the one place that decides it."""

from __future__ import annotations

from typing import Any


def is_number(value: Any) -> bool:
    """True for an int or float that is not a bool (JSON's true/false are never numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def as_float(value: Any) -> float | None:
    """VALUE as a float when it is a number (is_number), else None."""
    return float(value) if is_number(value) else None


def parse_float(value: Any) -> float | None:
    """VALUE as a float, None when absent or not one; strings "nan"/"inf" (as JSON carries them) count."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def as_int(text: str) -> int | None:
    """TEXT as a non-negative int when it is all digits (nvidia-smi's "[N/A]" is None)."""
    return int(text) if text.isdigit() else None
