"""Click glue for the run lifecycle (archive, cleanup-failed, reset, backup, snapshot, schedule) and for
watching runs (logs, tensorboard, status, doctor)."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click

from henryvc.commands._common import emit_json, json_option, table
from henryvc.errors import BadInput, HenryvcError

dry_run_option = click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing.")
yes_option = click.option("--yes", is_flag=True, help="Do not ask (for scripts); a terminal asks otherwise.")
remote_option = click.option("--remote", metavar="NAME",
                             help='DVC remote (default: "backup" when configured, else the default remote).')


def _project():
    from henryvc import api

    return api.require_project()


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
    if not sys.stdin.isatty():
        raise BadInput("stdin is not a terminal, so nobody can confirm: check with --dry-run, then pass --yes")
    if typed is not None:
        answer = click.prompt(f"{question} Type {typed} to go ahead", default="", show_default=False)
        agreed = answer.strip() == typed
    else:
        agreed = click.confirm(question, default=False)
    if not agreed:
        raise HenryvcError("not confirmed; nothing was changed")


# --- archive -------------------------------------------------------------------------------------------

@click.command("archive")
@dry_run_option
@json_option
def archive_cmd(dry_run: bool, as_json: bool) -> None:
    """Sort runs by verdict: failed to archive/failed, incomplete to archive/incomplete, success stays.

    A run that is training now is never moved. Moves are renames, recorded in .henryvc/journal.jsonl
    (and committed when git tracks the run); running it again moves nothing more.

    Example: henryvc archive --dry-run && henryvc archive
    """
    from henryvc import lifecycle

    result = lifecycle.archive(_project(), dry_run)
    if as_json:
        emit_json(result.to_dict())
        return
    verbs = {"move": "would move" if dry_run else "moved", "keep": "keeps" if dry_run else "kept", "skip": "skipped"}
    for a in result.actions:
        where = f" -> {a.target}" if a.target else ""
        note = f": {a.reason}" if a.reason else (": SUCCESS marker written" if a.action == "keep" and a.done else "")
        click.echo(f"{verbs[a.action]:<10} {a.run} ({a.verdict or '?'}){where}{note}")
    counts = {k: sum(1 for a in result.actions if a.action == k) for k in verbs}
    click.echo(f"{len(result.actions)} run(s): {counts['move']} {verbs['move']}, {counts['keep']} kept, "
               f"{counts['skip']} skipped" + (f"; committed {result.commit[:10]}" if result.commit else ""), err=True)


# --- cleanup-failed ------------------------------------------------------------------------------------

def _print_cleanup(plan) -> None:
    for item in plan.items:
        if item.action == "delete":
            note = f"; its tag's data is {item.cache}" if item.recoverable else f"; forced: {item.reason}"
            click.echo(f"delete  {item.path}  {item.files} file(s), {size(item.bytes)}{note}")
        else:
            click.echo(f"skip    {item.path}: {item.reason}" + (f"; its tag's data is {item.cache}" if item.cache else ""))
    if plan.gc_skipped:
        click.echo(f"DVC gc: skipped: {plan.gc_skipped}")
    else:
        click.echo(f"DVC gc: {plan.gc_objects} cache object(s), {size(plan.gc_bytes)} (keeps the data of "
                   f"{plan.kept_tags} tag(s), the work tree and branches; the remote is never trimmed)")
    click.echo(f"will free: {size(plan.will_free)}")


@click.command("cleanup-failed")
@click.option("--older-than", type=float, metavar="DAYS", help="Only runs created more than DAYS days ago.")
@dry_run_option
@yes_option
@click.option("--force", is_flag=True, help="Also delete checkpoints that could NOT be brought back (lost for good).")
@json_option
def cleanup_failed_cmd(older_than: float | None, dry_run: bool, yes: bool, force: bool, as_json: bool) -> None:
    """Free failed runs' checkpoints (logs, config, metrics, README stay), then DVC gc of the cache.

    Only checkpoints that can be brought back are deleted: the run is tagged and its files are in the
    DVC cache or on the remote. Every tagged run keeps its data. Prints what it frees before doing it.

    Example: henryvc cleanup-failed --older-than 30 --dry-run
    """
    from henryvc import lifecycle

    project = _project()
    plan = lifecycle.cleanup_failed(project, older_than, dry_run=True, force=force)
    if as_json and dry_run:
        emit_json(plan.to_dict())
        return
    if not as_json:
        _print_cleanup(plan)
    if dry_run:
        return
    if not plan.will_free and not any(i.action == "delete" for i in plan.items):
        click.echo("nothing to free", err=True)
        return
    confirm(yes, f"Free {size(plan.will_free)}?")
    done = lifecycle.cleanup_failed(project, older_than, force=force,
                                    only={i.run for i in plan.items if i.action == "delete"})
    if as_json:
        emit_json(done.to_dict())
    else:
        click.echo(f"freed {size(done.will_free)} ({sum(i.action == 'delete' for i in done.items)} run(s), "
                   f"{done.gc_objects} cache object(s))")


# --- reset ---------------------------------------------------------------------------------------------

@click.command("reset")
@remote_option
@dry_run_option
@yes_option
@json_option
def reset_cmd(remote: str | None, dry_run: bool, yes: bool, as_json: bool) -> None:
    """Full reset (BE CAREFUL!): clear every run folder, archive included, once each is backed up.

    Every file must be held by the run's tag (git or DVC data on the backup remote); what is not is
    pushed or snapshotted first, and what even a snapshot cannot hold makes it refuse. A terminal
    asks you to type "reset"; scripts pass --yes.

    Example: henryvc reset --dry-run && henryvc reset --yes
    """
    from henryvc import lifecycle
    from henryvc.errors import NotReady

    project = _project()
    plan = lifecycle.plan_reset(project, remote)
    if as_json and (dry_run or plan.refused):
        emit_json(plan.to_dict())
    elif not as_json:
        for item in plan.items:
            note = item.reason or (f"{len(item.uncovered)} file(s) not held by its tag" if item.uncovered else "")
            click.echo(f"{item.state:<10} {item.path} ({item.files} files){': ' + note if note else ''}")
        click.echo(f"{len(plan.items)} run folder(s); backup remote {plan.remote}; {plan.to_push} object(s) to push"
                   + ("; a snapshot first" if any(i.state == "snapshot" for i in plan.items) else ""))
    if plan.refused:
        raise NotReady(f"reset refuses, nothing was changed: {', '.join(i.run for i in plan.refused)} "
                       "cannot be backed up (see above)")
    if dry_run or not plan.items:
        return
    confirm(yes, f"This deletes {len(plan.items)} run folder(s) from the work tree.", typed="reset")
    done = lifecycle.reset(project, plan.remote, only={i.run for i in plan.items})
    if as_json:
        emit_json(done.to_dict())
        return
    click.echo(f"cleared {len(done.items)} run folder(s)" + (f"; snapshot {done.snapshot}" if done.snapshot else "")
               + (f"; committed {done.commit[:10]}" if done.commit else ""))


# --- backup, snapshot, schedule ------------------------------------------------------------------------

@click.command("backup")
@remote_option
@click.option("--verify", is_flag=True, help="Push nothing; prove the remote holds every object of every tag (exit 1 if not).")
@click.option("--best-only", is_flag=True, help="Push only voice data and each tag's best_model* files (the weekly backup).")
@json_option
def backup_cmd(remote: str | None, verify: bool, best_only: bool, as_json: bool) -> None:
    """Push voice data, configs and every tagged run's checkpoints and best model to the backup remote.

    Example: henryvc backup --remote backup && henryvc backup --verify
    """
    from henryvc import lifecycle

    if verify and best_only:
        raise BadInput("--verify and --best-only exclude each other")
    project = _project()
    if verify:
        check = lifecycle.verify_backup(project, remote)
        if as_json:
            emit_json(check.to_dict())
        else:
            for m in check.missing:
                click.echo(f"{m.problem}: {m.tag}: {m.path} ({m.oid})")
            click.echo(f"{check.remote} ({check.url}): {check.tags} tag(s), {check.objects} object(s) checked: "
                       + ("all there" if check.ok else f"{len(check.missing)} missing; run `henryvc backup`"))
        if not check.ok:
            raise SystemExit(1)
        return
    result = lifecycle.backup(project, remote, best_only)
    if as_json:
        emit_json(result.to_dict())
    else:
        for m in result.lost:
            click.echo(f"lost: {m.tag}: {m.path} ({m.oid}) is in no DVC cache and {m.problem} on {result.remote}")
        click.echo(f"{'best models' if best_only else 'backup'} of {len(result.tags)} tag(s) to {result.remote} "
                   f"({result.url}): {result.pushed_objects} object(s) pushed"
                   + ("; tags pushed to origin" if result.git_pushed else ""))
    if result.lost:
        raise SystemExit(1)


@click.command("snapshot")
@click.option("--message", "-m", default="", help="Why (e.g. what major change comes next).")
@remote_option
@click.option("--no-push", is_flag=True, help="Tag only; push nothing.")
@json_option
def snapshot_cmd(message: str, remote: str | None, no_push: bool, as_json: bool) -> None:
    """Commit the current state and tag it snapshot_YYYYMMDD_HHMMSS before major changes; push its data.

    Example: henryvc snapshot -m "before switching to the v3 config"
    """
    from henryvc import lifecycle

    result = lifecycle.snapshot(_project(), message, push=not no_push, remote=remote)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(f"snapshot {result.name} at {result.commit[:10]}"
               + (f"; {result.pushed_objects} object(s) pushed to {result.remote}" if result.remote else "")
               + ("; tag pushed to origin" if result.git_pushed else ""))


@click.command("schedule")
@click.option("--systemd", "kind", flag_value="systemd", help="Print systemd user units and timers.")
@click.option("--cron", "kind", flag_value="cron", default=True, help="Print crontab lines (the default).")
@json_option
def schedule_cmd(kind: str, as_json: bool) -> None:
    """Print (never install) the weekly best-model and monthly full backup jobs for cron or systemd.

    Example: henryvc schedule >> /tmp/cron && crontab -l | cat - /tmp/cron | crontab -
    """
    from henryvc import lifecycle

    result = lifecycle.schedule(_project(), kind)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.text, nl=False)


# --- monitoring ----------------------------------------------------------------------------------------

@click.command("logs")
@click.argument("name")
@click.option("--follow", "-f", is_flag=True, help="Keep printing what is appended (Ctrl-C stops).")
@click.option("--lines", "-n", type=click.IntRange(min=0), default=None, help="Start with the last N lines only.")
def logs_cmd(name: str, follow: bool, lines: int | None) -> None:
    """Print a run's training_v2.log; with -f, follow it while it trains.

    Example: henryvc logs henry_v2_debug_20261124_101500 -f -n 50
    """
    from henryvc import monitor

    for chunk in monitor.read_log(_project(), name, follow=follow, lines=lines):
        click.echo(chunk, nl=False)


@click.command("tensorboard")
@click.argument("names", nargs=-1)
@click.option("--port", type=click.IntRange(0, 65535), default=6006, show_default=True, help="Port to serve on.")
@click.option("--host", default="localhost", show_default=True, help="Address to bind (0.0.0.0: every interface).")
@click.option("--print", "print_only", is_flag=True, help="Print the TensorBoard command instead of running it.")
@click.pass_context
def tensorboard_cmd(ctx: click.Context, names: tuple[str, ...], port: int, host: str, print_only: bool) -> None:
    """One TensorBoard over the chosen runs (default: every run in training_runs/ with event files).

    Example: henryvc tensorboard henry_v2_debug_20261124_101500 henry_v2_stable_20261124_113000
    """
    import shlex

    from henryvc import monitor

    launch = monitor.tensorboard(_project(), list(names), port, host)
    if print_only:
        click.echo(f"cd {shlex.quote(launch.cwd)} && {shlex.join(launch.argv)}")
        return
    click.echo(f"TensorBoard over {len(launch.runs)} run(s) at {launch.url} (Ctrl-C stops)", err=True)
    ctx.exit(monitor.run_tensorboard(launch))


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
    from henryvc import monitor

    result = monitor.status(_project())
    emit_json(result.to_dict()) if as_json else _print_status(result)


@click.command("doctor")
@json_option
def doctor_cmd(as_json: bool) -> None:
    """Emergency checks, each with its fix: disk, GPU, DVC remotes, configs, environment. Exit 1 on an error.

    Example: henryvc doctor
    """
    from henryvc import monitor

    report = monitor.doctor(_project())
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
        raise SystemExit(1)


COMMANDS = [archive_cmd, cleanup_failed_cmd, reset_cmd, backup_cmd, snapshot_cmd, schedule_cmd,
            logs_cmd, tensorboard_cmd, status_cmd, doctor_cmd]
