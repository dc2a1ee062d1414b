"""Click glue for `henryvc tag-run` (logic in henryvc.ops.runtag)."""

from __future__ import annotations

import click

from henryvc import api
from henryvc.commands._common import run_name_argument


@click.command("tag-run")
@run_name_argument(required=False)
@click.option("--push", is_flag=True, help="Also dvc push the run's data and git push the tag.")
def tag_run_cmd(name: str | None, push: bool) -> None:
    """Commit the run and create its annotated tag (default: the run params.yaml points at).

    Example: henryvc tag-run henry_v2_debug_20261124_101500 --push
    """
    result = api.tag_run(api.require_project(), name, push)
    click.echo(f"tagged {result.name} ({result.status}) at {result.commit[:10]}"
               + (", pushed" if result.pushed else ""))


COMMANDS = [tag_run_cmd]
