"""Click glue for the run registry: init, validate, new-run, tag-run, list, show, diff, restore, verify."""

from __future__ import annotations

from pathlib import Path

import click

from henryvc import api
from henryvc.commands._common import emit_json, fmt_number, json_option, progress, run_name_argument, table
from henryvc.runname import VARIANTS

# metrics.json keys of the evaluate stage shown as `list` columns
KEY_METRICS = ("total_loss", "align_error", "stopnet_loss")


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
        raise SystemExit(1)


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


@click.command("list")
@click.option("--major", type=int, help="Only this major version.")
@click.option("--variant", type=click.Choice(VARIANTS), help="Only this variant.")
@click.option("--status", help="Only this status (created, training, success, failed, incomplete).")
@json_option
def list_cmd(major: int | None, variant: str | None, status: str | None, as_json: bool) -> None:
    """List runs, newest first: every tagged run plus run folders not tagged yet, and where each folder is.

    Example: henryvc list --variant stable --status success
    """
    listing = api.list_runs(api.require_project(), major, variant, status)
    if as_json:
        emit_json(listing.to_dict())
    else:
        from henryvc.review import brief

        table([[r.name, r.status, "yes" if r.tagged else "no", *(fmt_number(r.metrics.get(k)) for k in KEY_METRICS),
                brief(r.reviews), _where(r.folder)] for r in listing.runs],
              ["RUN", "STATUS", "TAGGED", *KEY_METRICS, "REVIEW", "FOLDER"])
    for name in listing.unreadable:
        click.secho(f"warning: tag {name} looks like a run but has no henryvc summary", fg="yellow", err=True)


def _where(folder: str | None) -> str:
    """A run folder's place, short: `training_runs`, `archive/failed`, ...; `-` when there is none here."""
    if folder is None:
        return "-"
    place = folder.rsplit("/", 1)[0]
    return place.removeprefix("training_runs/")


@click.command("show")
@run_name_argument()
@json_option
def show_cmd(name: str, as_json: bool) -> None:
    """Show one run: status, metrics, data hashes and environment.

    Example: henryvc show henry_v2_debug_20261124_101500 --json
    """
    info = api.show(api.require_project(), name)
    if as_json:
        emit_json(info.to_dict())
        return
    click.echo(f"run:     {info.name}\nstatus:  {info.status}\ntagged:  "
               + (f"yes, commit {info.commit} ({info.tag_date})" if info.tagged else "no")
               + f"\nfolder:  {info.folder or '- (none in this work tree: henryvc restore ' + info.name + ')'}")
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


@click.command("restore")
@run_name_argument()
@click.option("--into", type=click.Path(path_type=Path), help="Worktree folder inside the project "
              "(default .henryvc/restore/NAME).")
@click.option("--in-place", is_flag=True, help="Check the tag out in the project itself (refuses if dirty).")
@click.option("--pull", is_flag=True, help="dvc pull from the remote first (done anyway for what the cache lacks).")
@json_option
def restore_cmd(name: str, into: Path | None, in_place: bool, pull: bool, as_json: bool) -> None:
    """Restore a tagged run (git worktree + DVC data from the shared cache), then check every hash.

    Example: henryvc restore henry_v2_debug_20261124_101500 --pull
    """
    with progress("checking hashes") as bar:
        result = api.restore(api.require_project(), name, into, in_place, pull, bar)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(f"restored {result.name} at {result.path} ({result.checked_files} files match the tag)")
    click.echo(f"re-create it with: {result.recreate}")


@click.command("verify")
@run_name_argument()
@click.option("--path", type=click.Path(path_type=Path), help="Work tree to check (default: the project).")
@click.option("--fast", is_flag=True, help="Trust DVC's state db, as `dvc status` does, for files unchanged "
              "(inode, mtime, size) since DVC hashed them; re-read only the others (and no cache copies).")
@json_option
def verify_cmd(name: str, path: Path | None, fast: bool, as_json: bool) -> None:
    """Re-hash a run's DVC data and its cache copies against its tag; exit 1 on any mismatch.

    Example: henryvc verify henry_v2_debug_20261124_101500 --path .henryvc/restore/henry_v2_debug_20261124_101500
    """
    with progress("hashing") as bar:
        result = api.verify(api.require_project(), name, path, bar, fast)
    if as_json:
        emit_json({"ok": result.ok, "checked_files": result.checked_files, "checked_bytes": result.checked_bytes,
                   "trusted_files": result.trusted_files, "mismatches": [m.__dict__ for m in result.mismatches]})
    else:
        for m in result.mismatches:
            click.echo(f"mismatch: {m.path}: {m.problem}")
        click.echo(f"{result.checked_files} files, {result.checked_bytes} bytes checked "
                   f"({result.checked_files - result.trusted_files} re-hashed, {result.trusted_files} taken from "
                   "DVC's state db): " + ("all match" if result.ok else f"{len(result.mismatches)} mismatch(es)"))
    if not result.ok:
        raise SystemExit(1)


COMMANDS = [init_cmd, validate_cmd, new_run_cmd, tag_run_cmd, list_cmd, show_cmd, diff_cmd, restore_cmd, verify_cmd]
