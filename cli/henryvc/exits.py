"""Exit codes and the one line that says why: the one mapping from an exception to both.

`henryvc` (henryvc.main) and every `python -m henryvc.<module>` / `python -m henryvc_training.<stage>` entry
point go through `outcome`: a HenryvcError is its own exit_code (1 failed operation, 2 bad input), DVC refusing
one of the user's files is bad input (2) naming the file and line, Ctrl-C is 130, anything else is a bug (3)
with a line asking to run again with --traceback. No click here: the modules below the command layer use it.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Protocol

from henryvc.errors import HenryvcError

EXIT_INTERRUPTED = 130
EXIT_UNEXPECTED = 3
TRACEBACK_FLAG = "--traceback"
# Recognisers of a third party's exception that is really the user's bad input: each returns the HenryvcError
# to report, or None. The foundation imports nothing above it, so henryvc.ops registers DVC's here (its
# adapter names the user's file and line); a stage process, which never runs DVC, needs none.
USER_ERRORS: list[Callable[[BaseException], HenryvcError | None]] = []



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
