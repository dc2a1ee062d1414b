"""Click glue for `henryvc submit`, `jobs` and `cancel`: runs trained by SLURM (logic in henryvc.ops.submit)."""

from __future__ import annotations

from pathlib import Path

import click

from henryvc.commands._common import emit_json, json_option, new_run_options, run_name_argument, start_options, table


@click.command("submit")
@new_run_options
@click.option("--gpus", type=int, help="GPUs per node (sbatch --gpus-per-node; params.yaml train.gpus).")
@click.option("--nodes", type=int, help="Nodes (sbatch --nodes; params.yaml train.nodes).")
@click.option("--partition", help="SLURM partition (default: the cluster's default).")
@click.option("--time", "time_limit", help="Time limit, as sbatch takes it: MINUTES, HH:MM:SS or DAYS-HH:MM:SS.")
@click.option("--account", help="SLURM account to charge.")
@click.option("--grace", "grace_s", type=int, default=120, show_default=True,
              help="Seconds before the time limit (or a preemption) when SLURM sends TERM: the run saves and stops.")
@click.option("--image", help="Run the stages in this image (built by `henryvc docker build`) on the job's node.")
@start_options
@click.option("--dry-run", is_flag=True, help="Print the sbatch script; queue and write nothing.")
@json_option
def submit_command(major: int, variant: str, config_path: Path | None, description: str, gpus: int | None,
                   nodes: int | None, partition: str | None, time_limit: str | None, account: str | None, grace_s: int,
                   image: str | None, parent: str | None, sets: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Queue a new run as one SLURM job, trained in its own worktree of the project.

    The job runs `dvc repro` there, resumes exactly after a requeue, then tags the run (and pushes data,
    then the tag, where the project has a git origin and a DVC remote). See docs/cluster.md.

    Example: henryvc submit --major 2 --variant stable --partition gpu --time 2-00:00:00 --gpus 4

    Example: henryvc submit --major 2 --variant stable --from henry_v2_stable_20261201_090000 -S lr=0.0005

    Example: henryvc submit --major 2 --variant debug --image henryvc:latest
    """
    from henryvc import api
    from henryvc.ops.submit import Request

    request = Request(major, variant, config_path, description, gpus, nodes, partition, time_limit, account, parent,
                      sets, grace_s, image)
    result = api.submit(api.require_project(), request, dry_run=dry_run)
    if as_json:
        emit_json(result.to_dict())
    elif dry_run:
        click.echo(result.script, nl=False)
    else:
        click.echo(f"submitted {result.name} as job {result.job_id} (worktree {result.worktree})", err=True)
        click.echo(result.name)


@click.command("jobs")
@json_option
def jobs_command(as_json: bool) -> None:
    """List submitted runs with their SLURM state and the run's own status.

    Example: henryvc jobs --json
    """
    from henryvc import api

    views = api.jobs(api.require_project())
    if as_json:
        emit_json([v.to_dict() for v in views])
        return
    table([[v.name, v.job_id, v.state, v.run_status, "yes" if v.tagged else "", str(len(v.attempts)), v.nodes or v.reason]
           for v in views], ["RUN", "JOB", "STATE", "RUN STATUS", "TAGGED", "ATTEMPTS", "NODES/REASON"])


@click.command("cancel")
@run_name_argument()
@json_option
def cancel_command(name: str, as_json: bool) -> None:
    """Cancel the SLURM job of a submitted run (the run stays, incomplete, in its worktree).

    Example: henryvc cancel henry_v2_stable_20261207_101500
    """
    from henryvc import api

    view = api.cancel(api.require_project(), name)
    if as_json:
        emit_json(view.to_dict())
    else:
        click.echo(f"cancelled job {view.job_id} of {view.name}", err=True)


COMMANDS = [submit_command, jobs_command, cancel_command]
