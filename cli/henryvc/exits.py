"""How every henryvc process starts and ends: third-party noise kept off the terminal, and exit codes with
the one line that says why (the one mapping from an exception to both).

`henryvc` (henryvc.main) and every `python -m henryvc.<module>` / `python -m henryvc_training.<stage>` entry
point go through `outcome`: a HenryvcError is its own exit_code (1 failed operation, 2 bad input), DVC refusing
one of the user's files is bad input (2) naming the file and line, Ctrl-C is 130, anything else is a bug (3)
with a line asking to run again with --traceback. No click here: the modules below the command layer use it.

Known warnings of third-party packages stay off the user's terminal; henryvc's own stay visible. One table
(NOISE) serves both places a warning can start: this process (`silence_third_party`, called where henryvc
starts: `entry_point` does it for every `python -m` entry point, henryvc.main for the CLI) and every Python
child henryvc spawns (`child_env`: `dvc repro` and, through it, the stages). Entries name the exact module a
warning is attributed to and the start of its message, as `-W` does, so a new warning of the same package
still shows up (an upgrade should be looked at, not hidden).
"""

from __future__ import annotations

import functools
import os
import re
import sys
import warnings
from collections.abc import Callable
from typing import NamedTuple, Protocol

from henryvc.errors import HenryvcError

EXIT_INTERRUPTED = 130
EXIT_UNEXPECTED = 3
TRACEBACK_FLAG = "--traceback"
# Recognisers of a third party's exception that is really the user's bad input: each returns the HenryvcError
# to report, or None. The foundation imports nothing above it, so henryvc.ops registers DVC's here (its
# adapter names the user's file and line); a stage process, which never runs DVC, needs none.
USER_ERRORS: list[Callable[[BaseException], HenryvcError | None]] = []


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


class Main(Protocol):
    """A module's `main(argv=None) -> int` (argv None: sys.argv[1:])."""

    def __call__(self, argv: list[str] | None = None) -> int: ...


def outcome(exc: BaseException, prog: str = "henryvc") -> tuple[int, str]:
    """(exit code, the line to print on stderr; "" for none) for EXC raised under program PROG."""
    if isinstance(exc, HenryvcError):
        return exc.exit_code, f"{prog}: error: {exc}" if str(exc) else ""  # Reported(""): it printed its report
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, f"{prog}: interrupted"
    for recognise in USER_ERRORS:  # DVC refusing one of the user's files is bad input (henryvc.ops registers it)
        refused = recognise(exc)
        if refused is not None:
            return refused.exit_code, f"{prog}: error: {refused}"
    return EXIT_UNEXPECTED, (f"{prog}: unexpected error: {type(exc).__name__}: {exc} "
                             f"(run again with {TRACEBACK_FLAG} and report it)")


def entry_point(prog: str) -> Callable[[Main], Main]:
    """Decorate a module's `main(argv) -> int` so that its errors end as `outcome` says, as henryvc's do.

    `--traceback` anywhere in argv is taken out before MAIN sees it and lets an unexpected error's traceback
    through (exit 1, Python's own), as `henryvc --traceback` does. argparse's own usage errors stay exit 2.
    """
    def wrap(main: Main) -> Main:
        @functools.wraps(main)
        def mapped(argv: list[str] | None = None) -> int:
            silence_third_party()
            args = list(sys.argv[1:] if argv is None else argv)
            show = TRACEBACK_FLAG in args
            try:
                return main([a for a in args if a != TRACEBACK_FLAG])
            except (Exception, KeyboardInterrupt) as exc:
                code, line = outcome(exc, prog)
                if code == EXIT_UNEXPECTED and show:
                    raise
                if line:
                    print(line, file=sys.stderr, flush=True)
                return code
        return mapped
    return wrap
