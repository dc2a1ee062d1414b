"""Click glue for setting a project up: init, validate."""

from __future__ import annotations

from pathlib import Path

import click

from henryvc import api
from henryvc.commands._common import emit_json, json_option
from henryvc.errors import Reported


@click.command("init")
@click.option("--remote", metavar="PATH", help="DVC remote directory (default: .henryvc/storage in the project).")
def init_cmd(remote: str | None) -> None:
    """Make the current directory a henryvc project (git, DVC, remote, folders). Idempotent.

    Example: henryvc init --remote /mnt/henry-storage
    """
    result = api.init(Path.cwd(), remote)
    click.echo(f"henryvc project at {result['root']}; DVC remote {result['remote']}; "
               f"cache links {result['cache_types']}")


@click.command("validate")
@click.argument("configs", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
def validate_cmd(configs: tuple[Path, ...], as_json: bool) -> None:
    """Check config files: JSON syntax, required fields, naming, and known failure settings.

    Example: henryvc validate configs/*.json
    """
    findings = api.validate(list(configs))
    if as_json:
        emit_json([f.to_dict() for f in findings])
    else:
        for finding in findings:
            click.echo(f"{finding.severity}: {finding}")
        click.echo(f"{len(configs)} file(s) checked, {len(findings)} problem(s)", err=True)
    if any(f.severity == "error" for f in findings):
        raise Reported()


COMMANDS = [init_cmd, validate_cmd]
