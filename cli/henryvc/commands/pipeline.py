"""Click glue for `henryvc run` and `henryvc resume` (logic in henryvc.ops.pipeline)."""

from __future__ import annotations

from pathlib import Path

import click

from henryvc.commands._common import emit_json, json_option, new_run_options, run_name_argument, start_options


def _print_result(result, as_json: bool) -> None:
    """JSON, or the summary on stderr and the run name alone as the last stdout line (for scripts)."""
    if as_json:
        emit_json(result.to_dict())
        return
    if getattr(result, "moved_back_from", None):
        from henryvc.core.runfolder import RUNS_DIR  # here: `henryvc --help` loads no run-folder code

        click.echo(f"moved {result.name} back from {result.moved_back_from} to {RUNS_DIR}/ (committed)", err=True)
    click.echo(f"{result.name}: {result.status}", err=True)
    for reason in result.verdict.get("reasons", []):
        click.echo(f"  - {reason}", err=True)
    if result.continued_from:
        restored = result.continued_from.get("restored", {})
        click.echo(f"continued from {result.continued_from['checkpoint']} (step {restored.get('step')}, "
                   f"learning rate {restored.get('lr')})", err=True)
    if result.tag_commit:
        click.echo(f"tagged {result.name} at {result.tag_commit[:10]}", err=True)
    click.echo(result.name)


def _stream(line: str) -> None:
    click.echo(line, err=True)


@click.command("run")
@new_run_options
@click.option("--no-tag", is_flag=True, help="Train and evaluate, but leave tagging to `henryvc tag-run`.")
@click.option("--gpus", type=click.IntRange(min=1), help="Train on N processes per node (GPUs; gloo on CPUs) through torchrun: "
              "sets params.yaml train.gpus. See docs/distributed.md.")
@click.option("--nodes", type=click.IntRange(min=1), help="Machines taking part (params.yaml train.nodes); start the others "
              "with `python -m henryvc_training.train --node-rank R`.")
@start_options
@json_option
def run_command(major: int, variant: str, config_path: Path | None, description: str, no_tag: bool,
                gpus: int | None, nodes: int | None, parent: str | None, sets: tuple[str, ...], as_json: bool) -> None:
    """Create a run, train and evaluate it with `dvc repro`, and tag it.

    Example: henryvc run --major 2 --variant debug --description "CPU smoke test"

    Example: henryvc run --major 2 --variant stable --gpus 4   (4 GPUs, see docs/distributed.md)

    Example: henryvc run --major 2 --variant stable --from henry_v2_stable_20261201_090000 -S lr=0.0005
    """
    from henryvc import api

    result = api.run(api.require_project(), major, variant, config_path, description, tag=not no_tag, output=_stream,
                     gpus=gpus, nodes=nodes, parent=parent, sets=sets)
    _print_result(result, as_json)


@click.command("resume")
@run_name_argument()
@click.option("--inexact", is_flag=True,
              help="Continue from a checkpoint without exact-resume state (older runs): the epoch restarts "
                   "with new random numbers, so the run will not match an uninterrupted one.")
@json_option
def resume_command(name: str, inexact: bool, as_json: bool) -> None:
    """Continue an incomplete run from its last checkpoint, then evaluate it.

    The continuation is exact: same batches, random numbers and steps as if it had never stopped.
    Example: henryvc resume henry_v2_debug_20250101_120000
    """
    from henryvc import api

    _print_result(api.resume(api.require_project(), name, output=_stream, inexact=inexact), as_json)


COMMANDS = [run_command, resume_command]
