"""Options and output helpers shared by the command modules."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import click

def _run_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # Checked while parsing, before any project is looked up: bad input wins (exit 2, one line).
    from henryvc import runname

    return str(runname.parse(value)) if value is not None else None


def run_name_argument(name: str = "name", required: bool = True):
    """A RUN-NAME argument validated by the run-name grammar."""
    metavar = name.upper() if required else f"[{name.upper()}]"
    return click.argument(name, required=required, callback=_run_name, metavar=metavar)


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def emit_json(data: Any) -> None:
    """Print DATA as JSON on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def table(rows: list[list[str]], header: list[str]) -> None:
    """Print ROWS as a plain aligned table."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    # One write: 2,000 rows echoed one by one cost `henryvc list` more than parsing them.
    click.echo("\n".join("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip()
                         for row in [header, *rows]))


@contextmanager
def progress(label: str, total: int | None = None) -> Iterator[Callable[[int], None] | None]:
    """A progress callback drawing a bar on a terminal (stderr), or None when not a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


def fmt_number(value: Any) -> str:
    """Numbers short, everything else as is."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)
