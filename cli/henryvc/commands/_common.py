"""Options and output helpers shared by the command modules."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar


def _run_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # Checked while parsing, before any project is looked up: bad input wins (exit 2, one line).
    from henryvc.core import runname

    return str(runname.parse(value)) if value is not None else None


def run_name_argument(name: str = "name", required: bool = True):
    """A RUN-NAME argument validated by the run-name grammar."""
    metavar = name.upper() if required else f"[{name.upper()}]"
    return click.argument(name, required=required, callback=_run_name, metavar=metavar)


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def new_run_options(command):  # type: ignore[no-untyped-def]
    """--major, --variant, --config and --description: what a new run is (`run` and `submit`)."""
    for option in reversed([
        click.option("--major", type=int, required=True, help="Major version of the voice (e.g. 2)."),
        click.option("--variant", required=True, help="stable, experimental, production or debug."),
        click.option("--config", "config_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="Config template to use instead of configs/henry_voice_v<MAJOR>_<VARIANT>.json."),
        click.option("--description", default="", help="One line saying what this run tries."),
    ]):
        command = option(command)
    return command


def start_options(command):  # type: ignore[no-untyped-def]
    """--from TAG and -S key=value: where a new run's config starts (`henryvc run` and `henryvc submit`)."""
    command = click.option("-S", "--set", "sets", multiple=True, metavar="KEY=VALUE",
                           help="Override a config field (dotted key, JSON value), checked against the config; "
                                "repeatable, as `dvc exp run -S`. Recorded in run.json.")(command)
    return click.option("--from", "parent", metavar="TAG", default=None,
                        help="Start from tagged run TAG's config instead of the template (recorded as the parent).")(command)


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
    bar: ProgressBar[int]
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


def fmt_number(value: Any) -> str:
    """Numbers short, everything else as is."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


remote_option = click.option("--remote", metavar="NAME",
                             help='DVC remote (default: "backup" when configured, else the default remote).')


def size(n: int | float | None) -> str:
    """Bytes for people: 512 B, 3.2 MiB, 1.5 GiB."""
    value = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


def confirm(yes: bool, question: str, typed: str | None = None) -> None:
    """Go on only when --yes was given or a person at a terminal agrees (typing TYPED when given)."""
    if yes:
        return
    from henryvc.errors import BadInput, HenryvcError

    if not sys.stdin.isatty():
        raise BadInput("stdin is not a terminal, so nobody can confirm: check with --dry-run, then pass --yes")
    if typed is not None:
        answer = click.prompt(f"{question} Type {typed} to go ahead", default="", show_default=False)
        agreed = answer.strip() == typed
    else:
        agreed = click.confirm(question, default=False)
    if not agreed:
        raise HenryvcError("not confirmed; nothing was changed")
