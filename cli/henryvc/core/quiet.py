"""Known warnings of third-party packages, kept off the user's terminal; henryvc's own stay visible.

One table serves both places a warning can start: this process (`silence_third_party`, called where henryvc
starts) and every Python child henryvc spawns (`child_env`: `dvc repro` and, through it, the stages).
Entries name the exact module a warning is attributed to and the start of its message, as `-W` does, so
a new warning of the same package still shows up (an upgrade should be looked at, not hidden).
"""

from __future__ import annotations

import os
import re
import warnings
from typing import NamedTuple


class Noise(NamedTuple):
    """One known warning: the module it is attributed to, the start of its message, and why it is hidden."""

    module: str
    message: str
    why: str


_DSA = ("cryptography 51 deprecates DSA; asyncssh 2.24 (dvc-ssh) still names the DSA classes in type hints, "
        "so every SSH command printed it on import")
NOISE: tuple[Noise, ...] = (
    Noise("asyncssh.crypto.misc", "DSA is deprecated", _DSA),
    Noise("asyncssh.crypto.dsa", "DSA is deprecated", _DSA),
)


def silence_third_party() -> None:
    """Ignore the known third-party warnings in this process (exactly as `child_env` does in children)."""
    for noise in NOISE:
        warnings.filterwarnings("ignore", message=re.escape(noise.message), module=re.escape(noise.module) + r"\Z")


def child_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """ENVIRON (default: this process's) with PYTHONWARNINGS ignoring the known noise; the user's own
    PYTHONWARNINGS comes after ours, so it wins where both speak."""
    env = dict(os.environ if environ is None else environ)
    ours = ",".join(f"ignore:{n.message}::{n.module}" for n in NOISE)
    env["PYTHONWARNINGS"] = ",".join(part for part in (ours, env.get("PYTHONWARNINGS", "")) if part)
    return env
