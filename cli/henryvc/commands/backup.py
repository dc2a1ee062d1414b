"""Click glue for keeping runs safe elsewhere: backup (+ --verify), snapshot, schedule (logic in henryvc.ops.backup,
henryvc.ops.snapshot, henryvc.ops.schedule)."""

from __future__ import annotations

import click

from henryvc import api
from henryvc.commands._common import emit_json, json_option, remote_option
from henryvc.errors import BadInput, Reported


@click.command("backup")
@remote_option
@click.option("--verify", is_flag=True, help="Push nothing; prove the remote holds every object of every tag (exit 1 if not).")
@click.option("--deep", is_flag=True, help="With --verify: read every object back from a network remote too "
              "(a local remote is always read back).")
@click.option("--repair", is_flag=True, help="Also read every object back from the remote and replace "
              "damaged ones from a good DVC cache copy.")
@click.option("--best-only", is_flag=True, help="Push only voice data and each tag's best_model* files (the weekly backup).")
@json_option
def backup_cmd(remote: str | None, verify: bool, deep: bool, repair: bool, best_only: bool, as_json: bool) -> None:
    """Push voice data, configs and every tagged run's checkpoints and best model to the backup remote.

    Example: henryvc backup --remote backup && henryvc backup --verify
    """
    if verify and (best_only or repair):
        raise BadInput("--verify excludes --best-only and --repair (it writes nothing)")
    if deep and not verify:
        raise BadInput("--deep goes with --verify")
    project = api.require_project()
    if verify:
        check = api.verify_backup(project, remote, deep)
        if as_json:
            emit_json(check.to_dict())
        else:
            for m in check.missing:
                click.echo(f"{m.problem}: {m.tag}: {m.path} ({m.oid})")
            how = (f"read back and re-hashed ({check.read_bytes / 1e6:.1f} MB in {check.read_seconds:.1f} s)"
                   if check.content_checked else "present with the right size, NOT read back (add --deep to re-hash)")
            damaged = any(m.problem != "missing" for m in check.missing)
            click.echo(f"{check.remote} ({check.url}): {check.tags} tag(s), {check.objects} object(s) {how}: "
                       + ("all there" if check.ok else f"{len(check.missing)} missing or damaged; run `henryvc backup"
                          + (" --repair`" if damaged else "`")))
        if not check.ok:
            raise Reported()
        return
    result = api.backup(project, remote, best_only, repair)
    if as_json:
        emit_json(result.to_dict())
    else:
        for m in result.lost:
            click.echo(f"lost: {m.tag}: {m.path} ({m.oid}) is in no DVC cache and {m.problem} on {result.remote}")
        click.echo(f"{'best models' if best_only else 'backup'} of {len(result.tags)} tag(s) to {result.remote} "
                   f"({result.url}): {result.pushed_objects} object(s) pushed"
                   + (f" ({result.repaired_objects} damaged one(s) replaced from the cache after reading "
                      f"{result.read_bytes / 1e6:.1f} MB back)" if repair else "")
                   + ("; tags pushed to origin" if result.git_pushed else ""))
    if result.lost:
        raise Reported()


@click.command("snapshot")
@click.option("--message", "-m", default="", help="Why (e.g. what major change comes next).")
@remote_option
@click.option("--no-push", is_flag=True, help="Tag only; push nothing.")
@json_option
def snapshot_cmd(message: str, remote: str | None, no_push: bool, as_json: bool) -> None:
    """Commit the current state and tag it snapshot_YYYYMMDD_HHMMSS before major changes; push its data.

    Example: henryvc snapshot -m "before switching to the v3 config"
    """
    result = api.snapshot(api.require_project(), message, push=not no_push, remote=remote)
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
    result = api.schedule(api.require_project(), kind)
    if as_json:
        emit_json(result.to_dict())
    else:
        click.echo(result.text, nl=False)


COMMANDS = [backup_cmd, snapshot_cmd, schedule_cmd]
