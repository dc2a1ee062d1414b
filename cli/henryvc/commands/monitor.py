"""Click glue for watching runs: logs, tensorboard, status, doctor (logic in henryvc.ops.logs, henryvc.ops.status,
henryvc.ops.doctor)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from henryvc import api
from henryvc.commands._common import emit_json, json_option, size, table
from henryvc.errors import Reported


@click.command("logs")
@click.argument("name")
@click.option("--follow", "-f", is_flag=True, help="Keep printing what is appended (Ctrl-C stops).")
@click.option("--lines", "-n", type=click.IntRange(min=0), default=None, help="Start with the last N lines only.")
def logs_cmd(name: str, follow: bool, lines: int | None) -> None:
    """Print a run's training_v2.log; with -f, follow it while it trains.

    Example: henryvc logs henry_v2_debug_20261124_101500 -f -n 50
    """
    for chunk in api.read_log(api.require_project(), name, follow=follow, lines=lines):
        click.echo(chunk, nl=False)


@click.command("tensorboard")
@click.argument("names", nargs=-1)
@click.option("--port", type=click.IntRange(0, 65535), default=6006, show_default=True, help="Port to serve on.")
@click.option("--host", default="localhost", show_default=True, help="Address to bind (0.0.0.0: every interface).")
@click.option("--print", "print_only", is_flag=True, help="Print the TensorBoard command instead of running it.")
def tensorboard_cmd(names: tuple[str, ...], port: int, host: str, print_only: bool) -> None:
    """One TensorBoard over the chosen runs (default: every run in training_runs/ with event files).

    Example: henryvc tensorboard henry_v2_debug_20261124_101500 henry_v2_stable_20261124_113000
    """
    import shlex

    launch = api.tensorboard(api.require_project(), list(names), port, host)
    if print_only:
        click.echo(f"cd {shlex.quote(launch.cwd)} && {shlex.join(launch.argv)}")
        return
    click.echo(f"TensorBoard over {len(launch.runs)} run(s) at {launch.url} (Ctrl-C stops)", err=True)
    code = api.run_tensorboard(launch)
    if code:
        raise Reported(exit_code=code)  # TensorBoard's own exit code; its output said why


def _print_status(result) -> None:
    rows = [[r.name, r.path.rsplit("/", 1)[0], r.status, "yes" if r.training else "", size(r.bytes), str(r.files)]
            for r in result.runs]
    if rows:
        table(rows, ["RUN", "WHERE", "STATUS", "TRAINING", "DISK", "FILES"])
    for run in result.training:
        updated = datetime.fromtimestamp(run.log_updated).strftime("%H:%M:%S") if run.log_updated else "-"
        click.echo(f"training now: {run.name} (log updated {updated}): {run.last_log_line or '-'}")
    if not result.training:
        click.echo("training now: nothing")
    for label, space in result.disk.items():
        click.echo(f"disk ({label}): {size(space['free'])} free of {size(space['total'])}")
    click.echo(f"DVC cache: {size(result.cache_bytes)} in {result.cache_dir}")
    for i, gpu in enumerate(result.gpus):
        click.echo(f"GPU {i}: {gpu['name']}, {gpu['utilization']}% busy, "
                   f"{gpu['memory_used_mib']}/{gpu['memory_total_mib']} MiB")
    if not result.gpus:
        click.echo("GPU: none visible")
    cpu: dict[str, Any] = result.cpu
    load = " ".join(f"{x:.2f}" for x in cpu.get("load", []))
    memory = (f", memory {size(cpu['memory_available'])} available of {size(cpu['memory_total'])}"
              if "memory_total" in cpu else "")
    click.echo(f"CPU: {cpu.get('cpus')} core(s)" + (f", load {load}" if load else "") + memory)


@click.command("status")
@json_option
def status_cmd(as_json: bool) -> None:
    """Runs training now, disk use per run, free space, DVC cache size, GPU and CPU use.

    Example: henryvc status --json
    """
    project = api.require_project()
    result = api.status(project)
    jobs = api.active_jobs(project)
    if as_json:
        emit_json({**result.to_dict(), "jobs": [j.to_dict() for j in jobs]})
        return
    _print_status(result)
    for job in jobs:
        click.echo(f"SLURM job {job.job_id}: {job.name} {job.state} ({job.nodes or job.reason}), run {job.run_status}")


@click.command("doctor")
@json_option
def doctor_cmd(as_json: bool) -> None:
    """Emergency checks, each with its fix: disk, GPU, DVC remotes, configs, environment. Exit 1 on an error.

    Example: henryvc doctor
    """
    report = api.doctor(api.require_project())
    if as_json:
        emit_json(report.to_dict())
    else:
        for check in report.checks:
            click.echo(f"{check.level:<8} {check.name}: {check.detail}")
            if check.fix and check.level != "ok":
                click.echo(f"{'':<8} fix: {check.fix}")
        problems = sum(c.level != "ok" for c in report.checks)
        click.echo(f"{len(report.checks)} check(s), {problems} problem(s)", err=True)
    if not report.ok:
        raise Reported()


COMMANDS = [logs_cmd, tensorboard_cmd, status_cmd, doctor_cmd]
