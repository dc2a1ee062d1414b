"""Click glue for getting a tagged run back: restore, verify (logic in henryvc.ops.restore)."""

from __future__ import annotations

from pathlib import Path

import click

from henryvc import api
from henryvc.commands._common import emit_json, json_option, progress, run_name_argument
from henryvc.errors import Reported


@click.command("restore")
@run_name_argument()
@click.option("--into", type=click.Path(path_type=Path), help="Worktree folder inside the project "
              "(default .henryvc/restore/NAME).")
@click.option("--in-place", is_flag=True, help="Check the tag out in the project itself (refuses if dirty).")
@click.option("--pull", is_flag=True, help="dvc pull from the remote first (done anyway for what the cache lacks).")
@click.option("--rehash", is_flag=True, help="Read and re-hash every file, trusting nothing from henryvc's hash "
              "ledger (finds bit rot, which keeps size and mtime).")
@json_option
def restore_cmd(name: str, into: Path | None, in_place: bool, pull: bool, rehash: bool, as_json: bool) -> None:
    """Restore a tagged run (git worktree + DVC data from the shared cache), then check every hash.

    Example: henryvc restore henry_v2_debug_20261124_101500 --pull
    """
    with progress("checking hashes") as bar:
        result = api.restore(api.require_project(), name, into, in_place, pull, bar, rehash)
    if as_json:
        emit_json(result.to_dict())
        return
    line = f"restored {result.name} at {result.path}: {result.read_files} file(s) read, all match the tag"
    if result.known_files:
        since = f" since {result.known_since}" if result.known_since else ""
        line += (f"; {result.known_files} trusted unread from henryvc's hash ledger (same inode, size and mtime"
                 f"{since}; `--rehash` reads them too)")
    click.echo(line)
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
        raise Reported()


COMMANDS = [restore_cmd, verify_cmd]
