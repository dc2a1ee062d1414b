"""`henryvc snapshot`: commit the whole work tree, tag it snapshot_YYYYMMDD_HHMMSS, push its data.

See docs/lifecycle.md (snapshot) for the rules.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from henryvc.adapters import dvcrepo, gitrepo
from henryvc.core import runname
from henryvc.core.journal import journal, now_local_iso
from henryvc.core.runfolder import run_folders
from henryvc.errors import BadInput, NotReady, RunExists
from henryvc.ops.backup import backup_remote, push_tag_data, push_tags

if TYPE_CHECKING:
    from henryvc.adapters.gitrepo import GitRepo
    from henryvc.core.project import Project

# The snapshot tag grammar lives with the run-name grammar (all tag patterns in one module); it can never be
# a run name (runname.TAG_GLOB is henry_v*).
SNAPSHOT_GLOB, SNAPSHOT_PATTERN = runname.SNAPSHOT_GLOB, runname.SNAPSHOT_PATTERN
snapshot_name, is_snapshot_name = runname.snapshot_name, runname.is_snapshot_name
SNAPSHOT_FORMAT = "henryvc-snapshot/1"
SNAPSHOT_RETRIES = 3
MAX_GIT_FILE_BYTES = 5 * 1024 * 1024  # the most a snapshot lets git take in one file; bigger belongs in DVC
MAX_MESSAGE = 10_000
UNSAVED_STATES = ("modified", "new", "not in cache")


@dataclass
class SnapshotResult:
    """The snapshot tag, its commit and what was pushed."""

    name: str
    commit: str
    message: str
    remote: str | None
    pushed_objects: int
    git_pushed: bool
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _unsaved(dvc_status: dict[str, Any]) -> list[str]:
    """Outputs whose files differ from dvc.lock/.dvc files (deleted ones are fine: their data is recorded)."""
    found = []
    for entries in dvc_status.values():
        for entry in entries if isinstance(entries, list) else []:
            changed = entry.get("changed outs") if isinstance(entry, dict) else None
            found += [f"{path} ({state})" for path, state in (changed or {}).items() if state in UNSAVED_STATES]
    return found


def _too_big_for_git(project: Project, git_repo: GitRepo) -> list[str]:
    """Files `git add -A` would take (untracked and not ignored, or modified) that are over MAX_GIT_FILE_BYTES."""
    found = []
    for rel in gitrepo.changed_files(git_repo):
        path = project.root / rel
        if path.is_file() and not path.is_symlink() and path.stat().st_size > MAX_GIT_FILE_BYTES:
            found.append(f"{rel} ({path.stat().st_size} bytes)")
    return found


def _free_snapshot_name(git_repo: GitRepo, now: Callable[[], datetime]) -> str:
    for _ in range(SNAPSHOT_RETRIES + 1):
        name = snapshot_name(now())
        if not gitrepo.tag_exists(git_repo, name):
            return name
        time.sleep(1.0 - datetime.now().microsecond / 1e6)
    raise RunExists(f"snapshot tag {name} already exists and no free name came up in {SNAPSHOT_RETRIES} s")


def snapshot(project: Project, message: str = "", push: bool = True, remote: str | None = None,
             now: Callable[[], datetime] = datetime.now) -> SnapshotResult:
    """`henryvc snapshot`: commit the work tree, tag it snapshot_YYYYMMDD_HHMMSS, push its data."""
    if "\0" in message or len(message) > MAX_MESSAGE:
        raise BadInput(f"the snapshot message must be text of at most {MAX_MESSAGE} characters without NUL")
    with project.lock():
        return snapshot_locked(project, message, push, remote, now)


def snapshot_locked(project: Project, message: str, push: bool, remote: str | None,
                     now: Callable[[], datetime]) -> SnapshotResult:
    git_repo = gitrepo.open_git(project.root)
    unsaved = _unsaved(dvcrepo.status(project.root))
    if unsaved:
        raise NotReady(f"DVC outputs differ from dvc.lock: {', '.join(unsaved[:5])}; a snapshot could not bring "
                       "them back: `dvc commit` (or `dvc repro`) first")
    big = _too_big_for_git(project, git_repo)
    if big:
        raise NotReady(f"git would have to take {', '.join(big[:5])}: track it with DVC (`dvc add`) or list it "
                       "in .gitignore, then snapshot again")
    with dvcrepo.open_repo(project.root) as dvc_repo:
        remote = backup_remote(dvc_repo, remote).name if push else None
        outs = dvcrepo.workspace_outs(project.root)
        missing = dvcrepo.missing_objects(dvcrepo.cache_of(dvc_repo), outs)
    name = _free_snapshot_name(git_repo, now)
    gitrepo.write(git_repo, "add", "-A")
    if gitrepo.has_staged_changes(git_repo):
        gitrepo.write(git_repo, "commit", "--quiet", "--no-verify", "-m", f"henryvc: snapshot {name}")
    commit = gitrepo.head(git_repo)
    if commit is None:
        raise NotReady("nothing to snapshot: the project has no files git tracks and no commit yet")
    summary = {"format": SNAPSHOT_FORMAT, "snapshot": name, "message": message, "created": now_local_iso(),
               "runs": [f.rel for f in run_folders(project)], "data": {o.path: o.to_dict() for o in outs},
               "not_in_cache": missing}
    subject = f"henryvc snapshot {name}" + (f": {message.strip().splitlines()[0]}" if message.strip() else "")
    gitrepo.create_tag(git_repo, name, commit, f"{subject}\n\n{json.dumps(summary, indent=2, sort_keys=True)}\n")
    journal(project, {"action": "snapshot", "tag": name, "commit": commit})
    pushed = push_tag_data(project, git_repo, name, remote) if push else 0  # data first, tag second
    return SnapshotResult(name, commit, message, remote, pushed, push and push_tags(git_repo, [name]), summary)
