"""`henryvc archive`: move failed and incomplete runs into training_runs/archive/, mark successful ones.

See docs/lifecycle.md (archive) for the rules.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.adapters import gitrepo
from henryvc.core import params
from henryvc.core.folderaction import acting_on, guarded, refusal
from henryvc.core.journal import journal, read_journal, sync_journal
from henryvc.core.runfolder import (
    ARCHIVE_DIRS,
    FAILED_PLACE,
    INCOMPLETE_PLACE,
    MARKER,
    RUNS_DIR,
    RunFolder,
    load_record,
    run_dir,
    run_folder_of,
    run_folders,
    run_path,
)
from henryvc.core.summary import tag_summaries
from henryvc.errors import HenryvcError

if TYPE_CHECKING:
    from henryvc.adapters.gitrepo import GitRepo
    from henryvc.core.project import Project


@dataclass
class ArchiveAction:
    """What archive did (or, in a dry run, would do) with one run."""

    run: str
    verdict: str | None
    action: str  # "move" | "keep" | "skip"
    source: str
    target: str | None = None
    done: bool = False
    reason: str = ""


@dataclass
class ArchiveResult:
    """Every run archive looked at, and the commit recording the moves of git-tracked runs."""

    dry_run: bool
    actions: list[ArchiveAction] = field(default_factory=list)
    commit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def verdict_of(status: str) -> str:
    """The archive verdict of a run.json status: success, failed, or incomplete for everything else."""
    return status if status in ("success", "failed") else "incomplete"


def _judge(project: Project, folder: RunFolder, tags: dict[str, dict[str, Any]],
           active: str | None = None) -> ArchiveAction:
    action = ArchiveAction(folder.name, None, "skip", folder.rel)
    action.reason = refusal(project, folder, "training now (a process holds its training lock): never moved")
    if action.reason:
        return action
    try:
        status = load_record(project, folder).status
    except HenryvcError as exc:
        action.reason = f"unreadable run record: {exc}"
        return action
    tagged = tags.get(folder.name)
    if tagged is not None and verdict_of(str(tagged.get("status"))) != verdict_of(status):
        action.reason = (f"run.json says {status} but its tag says {tagged.get('status')}: see `henryvc show "
                         f"{folder.name}`, then correct run.json")
        return action
    if status == "created" and folder.name == active:
        action.reason = "params.yaml points at it and it has not trained yet (`dvc repro` trains it)"
        return action
    action.verdict = verdict_of(status)
    if action.verdict == "success":
        action.action = "keep"
        return action
    target = f"{RUNS_DIR}/{FAILED_PLACE if action.verdict == 'failed' else INCOMPLETE_PLACE}/{folder.name}"
    if (project.root / target).exists() or (project.root / target).is_symlink():
        action.reason = f"{target} already exists: compare the two folders and remove one"
        return action
    action.action, action.target = "move", target
    return action


def _mark_success(folder: RunFolder) -> bool:
    """Create the SUCCESS marker unless anything is there already (never written through a symlink)."""
    try:
        fd = os.open(folder.path / MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{folder.name}: success (run.json status, written by the evaluate stage)\n")
    return True


def _move(project: Project, folder: RunFolder, action: ArchiveAction) -> str | None:
    """Rename FOLDER to ACTION's target holding its training lock, and journal it; why it did not, or None."""
    assert action.target is not None  # the plan names a target for every move
    target = project.root / action.target
    with acting_on(project, folder.path, "training started meanwhile: never moved") as act:
        if act.refused:
            return act.refused
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(folder.path, target)
        except OSError as exc:
            return f"rename failed ({exc.strerror}): nothing moved"
        act.moved_to(target)
        # One fsync for the whole batch (archive's sync_journal), not one per folder: 200 fsyncs were most
        # of an archive's time on a busy disk.
        act.record({"action": "archive", "run": folder.name, "verdict": action.verdict,
                    "from": action.source, "to": action.target}, sync=False)
    return None


def _git_moves(project: Project, git_repo: GitRepo) -> list[tuple[str, str]]:
    """(old, new) of archived runs git still tracks at their old place: this archive's moves and a killed one's."""
    tracked_top = {Path(f).name for f in map(run_folder_of, gitrepo.tracked(git_repo, [RUNS_DIR]))
                   if f and f.count("/") == 1}
    return [(run_path(f.name), f.rel) for f in run_folders(project, ARCHIVE_DIRS)
            if f.name in tracked_top and not run_dir(project.root, f.name).exists()]


def _commit_moves(project: Project, git_repo: GitRepo, moves: list[tuple[str, str]]) -> str | None:
    """Stage the moves of git-tracked run files (old paths out, new paths in) and commit just those."""
    paths = []
    for old, new in moves:
        files = gitrepo.tracked(git_repo, [old])
        gitrepo.write(git_repo, "rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", old)
        present = [new + f[len(old):] for f in files if (project.root / (new + f[len(old):])).exists()]
        if present:
            gitrepo.write(git_repo, "add", "-f", "--", *present)
        paths += [old, *present]
    names = ", ".join(Path(new).name for _, new in moves)
    return gitrepo.commit_only(git_repo, paths, f"henryvc: archive {names}")


def archive(project: Project, dry_run: bool = False) -> ArchiveResult:
    """`henryvc archive`: move failed and incomplete runs into the archive, mark successful ones."""
    with guarded(project, reads_only=dry_run):
        if dry_run:  # reads only: no lock file, no marker, no journal
            tags, active = tag_summaries(gitrepo.open_git(project.root)), params.active_run_or_none(project.root)
            return ArchiveResult(True, [_judge(project, f, tags, active) for f in run_folders(project, ("",))])
        return _archive_locked(project)


def _archive_locked(project: Project) -> ArchiveResult:
    git_repo = gitrepo.open_git(project.root)
    tags, active = tag_summaries(git_repo), params.active_run_or_none(project.root)
    plans = [(f, _judge(project, f, tags, active)) for f in run_folders(project, ("",))]
    if _git_moves(project, git_repo) or gitrepo.tracked(git_repo, [a.source for _, a in plans if a.action == "move"]):
        gitrepo.require_branch(git_repo, "recording the moves")
    result = ArchiveResult(False)
    for folder, action in plans:
        if action.action == "keep":
            action.done = _mark_success(folder)
        elif action.action == "move":
            problem = _move(project, folder, action)
            if problem:
                action.action, action.target, action.reason = "skip", None, problem
            else:
                action.done = True
        result.actions.append(action)
    _journal_unrecorded(project)
    sync_journal(project)
    moves = _git_moves(project, git_repo)
    result.commit = _commit_moves(project, git_repo, moves) if moves else None
    return result


def _journal_unrecorded(project: Project) -> None:
    """Record archived runs the journal lacks (an archive killed between its rename and its journal line)."""
    known = {e.get("run") for e in read_journal(project) if e.get("action") == "archive"}
    for folder in run_folders(project, ARCHIVE_DIRS):
        if folder.name not in known:
            journal(project, {"action": "archive", "run": folder.name, "to": folder.rel, "found": True},
                    sync=False)
