"""The run-name grammar: henry_v{MAJOR}_{VARIANT}_{YYYYMMDD}_{HHMMSS}. Everything else asks this module."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from henryvc.errors import BadInput

VARIANTS = ("stable", "experimental", "production", "debug")
MAX_MAJOR = 999
TAG_GLOB = "henry_v*"
_PATTERN = re.compile(
    r"\Ahenry_v(?P<major>0|[1-9][0-9]{0,2})_(?P<variant>" + "|".join(VARIANTS) + r")"
    r"_(?P<date>[0-9]{8})_(?P<time>[0-9]{6})\Z"
)
_TEMPLATE = "henry_v{major}_{variant}_{stamp:%Y%m%d_%H%M%S}"
# Snapshot tags (`henryvc snapshot`): never a run name, so the two grammars cannot collide.
SNAPSHOT_GLOB = "snapshot_*"
SNAPSHOT_PATTERN = re.compile(r"\Asnapshot_[0-9]{8}_[0-9]{6}\Z")
_SNAPSHOT_TEMPLATE = "snapshot_{stamp:%Y%m%d_%H%M%S}"
# Longest legal name; anything longer is refused before the regex runs.
MAX_LENGTH = len("henry_v999_experimental_20000101_000000")


@dataclass(frozen=True, order=True)
class RunName:
    """A parsed run name. Ordering is by creation time, then major, then variant."""

    stamp: datetime
    major: int
    variant: str

    def __str__(self) -> str:
        return _TEMPLATE.format(major=self.major, variant=self.variant, stamp=self.stamp)


def check_major(major: int) -> int:
    """Return MAJOR if it is a legal major version, else raise BadInput."""
    if isinstance(major, bool) or not isinstance(major, int) or not 0 <= major <= MAX_MAJOR:
        raise BadInput(f"major version must be an integer from 0 to {MAX_MAJOR}, got {major!r}")
    return major


def check_variant(variant: str) -> str:
    """Return VARIANT if it is one of VARIANTS, else raise BadInput."""
    if variant not in VARIANTS:
        raise BadInput(f"variant must be one of {', '.join(VARIANTS)}; got {variant!r}")
    return variant


def build(major: int, variant: str, stamp: datetime) -> RunName:
    """The run name for a run of MAJOR/VARIANT started at STAMP (seconds precision)."""
    return RunName(stamp.replace(microsecond=0, tzinfo=None), check_major(major), check_variant(variant))


def parse(text: str) -> RunName:
    """Parse TEXT as a run name or raise BadInput saying why it is not one."""
    if not isinstance(text, str) or len(text) > MAX_LENGTH:
        shown = text[:40] + "..." if isinstance(text, str) else repr(text)
        raise BadInput(f"not a run name (too long): {shown!r}; expected henry_v<MAJOR>_<VARIANT>_<YYYYMMDD>_<HHMMSS>")
    match = _PATTERN.match(text)
    if match is None:
        raise BadInput(
            f"not a run name: {text!r}; expected henry_v<MAJOR>_<VARIANT>_<YYYYMMDD>_<HHMMSS> "
            f"with VARIANT one of {', '.join(VARIANTS)}"
        )
    try:
        # Not strptime: 4,000 calls were a fifth of `henryvc list` over 2,000 tags; the regex fixed the digits.
        d, t = match["date"], match["time"]
        stamp = datetime(int(d[:4]), int(d[4:6]), int(d[6:]), int(t[:2]), int(t[2:4]), int(t[4:]))
    except ValueError:
        raise BadInput(f"not a run name: {text!r} has no valid date and time") from None
    name = RunName(stamp, int(match["major"]), match["variant"])
    # The regex and datetime() fixed the rest. Years below 1000 are refused: strftime's %Y does not
    # zero-pad them on every platform, so such a name would not print back as itself everywhere.
    if stamp.year < 1000:
        raise BadInput(f"not a run name: {text!r} is not in canonical form ({name})")
    return name


def is_run_name(text: str) -> bool:
    """True when TEXT is exactly a run name."""
    try:
        parse(text)
    except BadInput:
        return False
    return True


def generate(major: int, variant: str, now: datetime | None = None) -> RunName:
    """A new run name stamped with NOW (local time, the team's convention)."""
    return build(major, variant, now or datetime.now())


def snapshot_name(stamp: datetime) -> str:
    """The snapshot tag for STAMP (seconds precision)."""
    return _SNAPSHOT_TEMPLATE.format(stamp=stamp.replace(microsecond=0))


def is_snapshot_name(text: str) -> bool:
    """True when TEXT is a snapshot tag name."""
    return bool(SNAPSHOT_PATTERN.match(text))
