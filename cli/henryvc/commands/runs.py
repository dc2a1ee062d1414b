"""Click glue for runs in the registry: new-run, list, show, diff."""

from __future__ import annotations

from pathlib import Path

import click

from henryvc import api
from henryvc.commands._common import emit_json, fmt_number, json_option, run_name_argument, table
from henryvc.core.runname import VARIANTS

# metrics.json keys of the evaluate stage shown as `list` columns
KEY_METRICS = ("total_loss", "align_error", "stopnet_loss")


@click.command("new-run")
@click.option("--major", type=int, required=True, help="Major version of the voice, e.g. 2.")
@click.option("--variant", type=click.Choice(VARIANTS), required=True, help="Run variant.")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="Config template (default configs/henry_voice_v{MAJOR}_{VARIANT}.json).")
@click.option("--description", default="", help="What this run tries.")
def new_run_cmd(major: int, variant: str, config_path: Path | None, description: str) -> None:
    """Create a run folder with its config, record and README; point params.yaml at it. Prints the name.

    Example: henryvc new-run --major 2 --variant experimental --description "lower LR"
    """
    record = api.new_run(api.require_project(), major, variant, config_path, description)
    click.echo(record.name)


@click.command("list")
@click.option("--major", type=int, help="Only this major version.")
@click.option("--variant", type=click.Choice(VARIANTS), help="Only this variant.")
@click.option("--status", help="Only this status (created, training, success, failed, incomplete).")
@json_option
def list_cmd(major: int | None, variant: str | None, status: str | None, as_json: bool) -> None:
    """List runs, newest first: every tagged run plus run folders not tagged yet, and where each folder is.

    Example: henryvc list --variant stable --status success
    """
    project = api.require_project()
    listing = api.list_runs(project, major, variant, status)
    jobs = api.active_jobs(project)
    if as_json:
        emit_json({**listing.to_dict(), "jobs": [j.to_dict() for j in jobs]})
    else:
        from henryvc.core.review import brief

        table([[r.name, r.status, "yes" if r.tagged else "no", *(fmt_number(r.metrics.get(k)) for k in KEY_METRICS),
                brief(r.reviews), _where(r.folder)] for r in listing.runs],
              ["RUN", "STATUS", "TAGGED", *KEY_METRICS, "REVIEW", "FOLDER"])
        if jobs:
            click.echo("\nsubmitted runs queued or running (henryvc jobs):")
            table([[j.name, j.state, j.job_id, j.nodes or j.reason] for j in jobs], ["RUN", "STATE", "JOB", "NODES/REASON"])
    for name in listing.unreadable:
        click.secho(f"warning: tag {name} looks like a run but has no henryvc summary", fg="yellow", err=True)


def _where(folder: str | None) -> str:
    """A run folder's place, short: `training_runs`, `archive/failed`, ...; `-` when there is none here."""
    if folder is None:
        return "-"
    place = folder.rsplit("/", 1)[0]
    from henryvc.core.runfolder import RUNS_DIR  # here: `henryvc --help` loads no run-folder code

    return place.removeprefix(f"{RUNS_DIR}/")


@click.command("show")
@run_name_argument()
@json_option
def show_cmd(name: str, as_json: bool) -> None:
    """Show one run: status, verdict with what to try, metrics, data hashes and environment.

    Example: henryvc show henry_v2_debug_20261124_101500 --json
    """
    info = api.show(api.require_project(), name)
    if as_json:
        emit_json(info.to_dict())
        return
    click.echo(f"run:     {info.name}\nstatus:  {info.status}\ntagged:  "
               + (f"yes, commit {info.commit} ({info.tag_date})" if info.tagged else "no")
               + f"\nfolder:  {info.folder or '- (none in this work tree: henryvc restore ' + info.name + ')'}")
    from henryvc.core.verdict import summary_lines

    for label, text in summary_lines(info.summary.get("verdict") or {}):  # each problem once, under its fix
        click.echo(f"{label + ':':<9}{text}")
    for key, value in sorted(info.metrics.items()):
        click.echo(f"metric:  {key} = {fmt_number(value)}")
    for path, data in sorted((info.summary.get("data") or {}).items()):
        click.echo(f"data:    {path} {data.get('md5')}")
    for r in info.reviews:
        notes = " ".join(str(r.get("notes") or "").split())
        click.echo(f"review:  {r.get('at')} {r.get('verdict')} {r.get('rating')}/5 by {r.get('reviewer')}"
                   + (f": {notes}" if notes else ""))
    env = info.environment
    if env:
        click.echo(f"env:     {env['python']} {env['arch']} glibc {env['glibc'] or '-'}, {env['packages']} packages "
                   f"locked; cuda {env['cuda'] or '-'}, image {(env['image'] or '-')[:19]}")
        click.echo("env:     " + ", ".join(f"{k} {v}" for k, v in env["key_packages"].items()))
        click.echo(f"code:    {env['code']}")


@click.command("diff")
@run_name_argument("a")
@run_name_argument("b")
@json_option
def diff_cmd(a: str, b: str, as_json: bool) -> None:
    """Config and params differences and metric deltas between runs A and B.

    Example: henryvc diff henry_v2_debug_20261124_101500 henry_v2_debug_20261124_113000
    """
    result = api.diff(api.require_project(), a, b)
    if as_json:
        emit_json(result)
        return
    for section in ("config", "params"):
        for change in result[section]:
            click.echo(f"{section}: {change['key']}: {change['a']!r} -> {change['b']!r}")
    for change in result.get("environment", []):
        label = f"{change['kind']} {change['name']}".strip()
        click.echo(f"environment: {label}: {change['a']} -> {change['b']}")
    for m in result["metrics"]:
        click.echo(f"metric: {m['key']}: {fmt_number(m['a'])} -> {fmt_number(m['b'])} (delta {fmt_number(m['delta'])})")


COMMANDS = [new_run_cmd, list_cmd, show_cmd, diff_cmd]
