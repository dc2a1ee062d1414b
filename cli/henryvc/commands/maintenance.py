"""Click glue for tidying runs after training: archive, cleanup-failed, reset (logic in henryvc.ops.archive,
henryvc.ops.cleanup, henryvc.ops.reset)."""

from __future__ import annotations

import click

from henryvc import api
from henryvc.commands._common import confirm, emit_json, json_option, remote_option, size

dry_run_option = click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing.")
yes_option = click.option("--yes", is_flag=True, help="Do not ask (for scripts); a terminal asks otherwise.")


@click.command("archive")
@dry_run_option
@json_option
def archive_cmd(dry_run: bool, as_json: bool) -> None:
    """Sort runs by verdict: failed to archive/failed, incomplete to archive/incomplete, success stays.

    A run that is training now is never moved. Moves are renames, recorded in .henryvc/journal.jsonl
    (and committed when git tracks the run); running it again moves nothing more.

    Example: henryvc archive --dry-run && henryvc archive
    """
    result = api.archive(api.require_project(), dry_run)
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
    project = api.require_project()
    plan = api.cleanup_failed(project, older_than, dry_run=True, force=force)
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
    done = api.cleanup_failed(project, older_than, force=force,
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
    from henryvc.errors import NotReady

    project = api.require_project()
    plan = api.plan_reset(project, remote)
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
    done = api.reset(project, plan.remote, only={i.run for i in plan.items})
    if as_json:
        emit_json(done.to_dict())
        return
    click.echo(f"cleared {len(done.items)} run folder(s)" + (f"; snapshot {done.snapshot}" if done.snapshot else "")
               + (f"; committed {done.commit[:10]}" if done.commit else ""))


COMMANDS = [archive_cmd, cleanup_failed_cmd, reset_cmd]
