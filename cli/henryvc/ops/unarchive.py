"""Bringing an archived run back to training_runs/ (what `henryvc resume` of an archived incomplete run does).

`archive` moves incomplete runs to training_runs/archive/incomplete/ and commits the move; a user who then
wants to continue one expects `resume` to find it. This reverses archive's move the same way: the rename
under the run's training lock, a journal line, and a commit of the git-tracked files' move.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from henryvc.adapters import gitrepo
from henryvc.core.folderaction import acting_on, guarded
from henryvc.core.journal import sync_journal
from henryvc.core.runfolder import find_run, run_path
from henryvc.errors import NotReady

if TYPE_CHECKING:
    from henryvc.core.project import Project


@dataclass
class Unarchived:
    """Where the run was, and the commit recording its move back (None when git tracked none of it)."""

    name: str
    source: str
    commit: str | None


def unarchive(project: Project, name: str) -> Unarchived | None:
    """Move archived run NAME back to training_runs/NAME and commit the move; None when it is not archived."""
    folder = find_run(project, name)
    if not folder.place:
        return None
    target = project.run_dir(folder.name)
    with guarded(project):
        with acting_on(project, folder.path, f"{folder.rel} is being trained right now: wait for it") as act:
            if act.refused:
                raise NotReady(act.refused)
            if target.exists() or target.is_symlink():
                raise NotReady(f"{run_path(folder.name)} exists and so does {folder.rel}: compare the two "
                               "folders and remove one")
            git_repo = gitrepo.open_git(project.root)
            old_files = gitrepo.tracked(git_repo, [folder.rel])
            if old_files:
                gitrepo.require_branch(git_repo, "recording the move back")
            os.rename(folder.path, target)
            act.moved_to(target)
            act.record({"action": "unarchive", "run": folder.name, "from": folder.rel,
                        "to": run_path(folder.name)}, sync=False)
        sync_journal(project)
        commit = None
        if old_files:
            new = run_path(folder.name)
            gitrepo.write(git_repo, "rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", folder.rel)
            moved = [new + f[len(folder.rel):] for f in old_files]
            present = [f for f in moved if (project.root / f).exists()]
            if present:
                gitrepo.write(git_repo, "add", "-f", "--", *present)
            commit = gitrepo.commit_only(git_repo, [folder.rel, *present],
                                         f"henryvc: unarchive {folder.name} (back from {folder.place} to resume it)")
    return Unarchived(folder.name, folder.rel, commit)
