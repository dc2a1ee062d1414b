"""`henryvc cleanup-failed`: free failed runs' checkpoints that can be brought back, then DVC's gc of the cache.

See docs/lifecycle.md (cleanup-failed) for the rules.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.adapters import dvcrepo, dvcstore, gitrepo
from henryvc.adapters.dvcremote import Remote
from henryvc.core import runname
from henryvc.core.coverage import coverage, source_at
from henryvc.core.folderaction import acting_on, guarded, refusal
from henryvc.core.journal import journal
from henryvc.core.runfolder import RunFolder, escape_reason, load_record, remove, run_folders, run_path, walk_files
from henryvc.core.summary import tag_summaries
from henryvc.errors import BadInput, HenryvcError, NotReady

if TYPE_CHECKING:
    from henryvc.adapters.dvcrepo import DvcRepo
    from henryvc.adapters.gitrepo import GitRepo
    from henryvc.core.project import Project

MAX_DAYS = 100 * 366
CHECKPOINTS = "checkpoints"
CACHE_DROPPED = "dropped from the cache: every object of its tag is on the default remote"
CACHE_KEPT = "kept in the cache: its tag's objects are not all on the default remote (`henryvc backup` first)"


@dataclass
class CleanupItem:
    """One failed run's checkpoints: whether they go, what that frees, and why (not)."""

    run: str
    path: str
    action: str  # "delete" | "skip"
    files: int = 0
    bytes: int = 0
    recoverable: bool = False
    cache: str = ""
    reason: str = ""


@dataclass
class CleanupPlan:
    """What cleanup-failed will do (or did): per run, then DVC's gc of the cache, then the total freed."""

    items: list[CleanupItem] = field(default_factory=list)
    gc_objects: int = 0
    gc_bytes: int = 0
    will_free: int = 0
    kept_tags: int = 0
    gc_skipped: str = ""
    forced: bool = False
    done: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Candidate:
    folder: RunFolder
    item: CleanupItem
    files: list[Path] = field(default_factory=list)
    problem: str | None = None
    oids: set[str] = field(default_factory=set)  # its checkpoints' objects
    tag_oids: set[str] | None = None  # every object of its tag (None: a listing is unreadable)


def _failed_runs(project: Project, older_than: float | None, now: datetime) -> list[RunFolder]:
    """Every run whose record says failed (wherever its folder is), created more than OLDER_THAN days ago,
    and every run-named symlink (to be refused by name)."""
    found = []
    for folder in run_folders(project):
        if older_than is not None and runname.parse(folder.name).stamp > now - timedelta(days=older_than):
            continue
        if escape_reason(project, folder.path):
            found.append(folder)  # reported as refused, never followed
            continue
        try:
            if load_record(project, folder).status == "failed":
                found.append(folder)
        except HenryvcError:
            continue
    return found


def _unique_bytes(paths: Iterable[Path]) -> int:
    """Bytes freed by deleting PATHS: each inode once, and only when all its links are among PATHS."""
    seen: dict[tuple[int, int], list[int]] = {}
    for path in set(paths):
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        entry = seen.setdefault((info.st_dev, info.st_ino), [0, info.st_nlink, info.st_size])
        entry[0] += 1
    return sum(size for count, links, size in seen.values() if count >= links)


def _candidate(project: Project, git_repo: GitRepo, folder: RunFolder, tags, cache: Path, odb) -> _Candidate:
    """What is known about FOLDER's checkpoints before asking the remote."""
    ckpt = folder.path / CHECKPOINTS
    cand = _Candidate(folder, CleanupItem(folder.name, f"{folder.rel}/{CHECKPOINTS}", "skip"))
    cand.item.reason = refusal(project, folder, "training now: never deleted")
    if cand.item.reason:
        return cand
    if folder.name in tags:  # whatever the work tree holds, the cache may give back what the remote has
        outs = dvcstore.cached_outs_at(git_repo, folder.name)
        if all(dvcstore.out_files(cache, odb, out) is not None for out in outs):
            cand.tag_oids = set().union(*(dvcstore.out_oids(cache, odb, out) for out in outs))
    if not ckpt.is_dir() and not ckpt.is_symlink():
        cand.item.reason = f"no {CHECKPOINTS}/ left"
        return cand
    cand.files = list(walk_files(ckpt))
    cand.item.files = len(cand.files)
    if folder.name not in tags:
        cand.problem = "the run is not tagged (`henryvc tag-run` it first)"
        return cand
    if ckpt.is_symlink():
        cand.problem = f"{CHECKPOINTS}/ is a symlink (to {os.readlink(ckpt)})"
        return cand
    source = source_at(git_repo, folder.name, run_path(folder.name))
    if not any(out.path == f"{source.prefix}/{CHECKPOINTS}" for out in source.outs):
        cand.problem = f"its tag records no {CHECKPOINTS}/ output"
        return cand
    found = coverage(folder.path, [source], cache, odb, subdir=CHECKPOINTS)
    if found.uncovered:
        cand.problem = f"not as recorded at its tag: {', '.join(found.uncovered[:3])}" + \
            (" ..." if len(found.uncovered) > 3 else "")
        return cand
    cand.oids = found.oids
    return cand


def _decide(cand: _Candidate, present: set[str], cache: Path, force: bool) -> bool:
    """Fill CAND's item in from what the remote holds; True when its tag's objects may leave the cache."""
    item = cand.item
    droppable = cand.tag_oids is not None and cand.tag_oids <= present
    item.cache = CACHE_DROPPED if droppable else CACHE_KEPT if cand.tag_oids is not None else ""
    if cand.problem is None and cand.oids and not all(o in present or dvcstore.in_cache(cache, o) for o in cand.oids):
        cand.problem = "some of its objects are neither in the DVC cache nor on the default remote"
    item.recoverable = bool(cand.files) and cand.problem is None
    if not cand.files or (cand.problem and not force) or item.reason:
        item.reason = item.reason or (f"not recoverable: {cand.problem} (--force deletes it anyway)"
                                      if cand.problem else f"{CHECKPOINTS}/ is empty")
        return droppable
    item.action, item.reason = "delete", cand.problem or ""
    item.bytes = _unique_bytes(cand.files)
    return droppable


def _protected_oids(project: Project, cache: Path, skip: set[Path]) -> set[str]:
    """Objects that a symlink among the runs or in a restore worktree points at: gc must keep them."""
    base = os.path.realpath(cache / "files" / "md5")
    found = set()
    for top in (project.runs, project.state / "restore"):
        for path in walk_files(top) if top.is_dir() else []:
            if path.is_symlink() and path not in skip:
                target = os.path.realpath(path)
                if target.startswith(base + os.sep):
                    found.add("".join(Path(target).relative_to(base).parts))
    return found


def used_oids(project: Project, git_repo: GitRepo, commits: list[str], cache: Path, odb) -> set[str]:
    """Every object the DVC outputs of COMMITS and of the work tree need, read from git itself (not through
    DVC, whose view of an old revision breaks when a remote was added later with a local keyfile)."""
    every = dvcrepo.workspace_outs(project.root)
    every += [out for commit in commits for out in dvcrepo.outs_at(git_repo, commit)]
    outs = [out for out in every if out.cached]
    # A `cache: false` folder's listing is never required, and never deleted when DVC wrote one to the cache
    # (DVC reads it back for `dvc status`): one rule whatever git holds at each revision.
    used = {f"{out.md5}.dir" for out in every
            if not out.cached and out.is_dir and dvcstore.in_cache(cache, f"{out.md5}.dir")}
    for out in set(outs):
        if dvcstore.out_files(cache, odb, out) is None:
            raise NotReady(f"the listing of {out.path} ({out.md5}.dir) is neither in the cache nor on the remote, "
                           "so what it keeps cannot be known: the cache is left alone")
        used |= dvcstore.out_oids(cache, odb, out)
    return used


def cleanup_failed(project: Project, older_than: float | None = None, dry_run: bool = False,
                   force: bool = False, only: set[str] | None = None,
                   now: Callable[[], datetime] = datetime.now) -> CleanupPlan:
    """`henryvc cleanup-failed`: free failed runs' checkpoints that can be brought back, then DVC's gc."""
    if older_than is not None and not 0 <= older_than <= MAX_DAYS:  # also refuses nan and inf
        raise BadInput(f"--older-than takes a number of days from 0 to {MAX_DAYS}, got {older_than}")
    with guarded(project, reads_only=dry_run):
        return _cleanup(project, older_than, force, only, now(), execute=not dry_run)


def _cleanup(project: Project, older_than: float | None, force: bool, only: set[str] | None, now: datetime,
             execute: bool) -> CleanupPlan:
    git_repo = gitrepo.open_git(project.root)
    tags = tag_summaries(git_repo)
    plan = CleanupPlan(forced=force)
    with dvcrepo.open_repo(project.root) as dvc_repo, dvcrepo.lock_if_free(dvc_repo) as gc_allowed:
        cache, odb = dvcrepo.cache_of(dvc_repo), _default_odb(dvc_repo)
        cands = [_candidate(project, git_repo, f, tags, cache, odb)
                 for f in _failed_runs(project, older_than, now) if only is None or f.name in only]
        asked = set().union(*(c.oids | (c.tag_oids or set()) for c in cands))
        present = _remote_subset(odb, asked, cache)
        dropped = {c.folder.name for c in cands if _decide(c, present, cache, force)}
        plan.items = [c.item for c in cands]
        deletions = [p for c in cands if c.item.action == "delete" for p in c.files]
        keep = sorted((set(tags) - dropped) | set(tag_summaries(git_repo, runname.SNAPSHOT_GLOB)))
        plan.kept_tags = len(keep)
        scopes = []
        if not gc_allowed:
            plan.gc_skipped = ("another DVC process (a `dvc repro`?) holds DVC's repository lock: the cache is "
                               "left alone; run cleanup-failed again when it has finished")
        else:
            try:
                used = used_oids(project, git_repo, gitrepo.kept_commits(git_repo, set(keep)), cache, odb)
                scopes = dvcstore.gc_plan(dvc_repo, used | _protected_oids(project, cache, set(deletions)))
            except NotReady as exc:
                plan.gc_skipped = str(exc)
        doomed = [p for _, _, paths in scopes for p in paths]
        plan.gc_objects, plan.gc_bytes = len(doomed), _unique_bytes(doomed)
        plan.will_free = _unique_bytes([*deletions, *doomed])
        if not execute:
            return plan
        for cand in cands:
            if cand.item.action == "delete":
                _delete_checkpoints(project, cand, force)
        dvcstore.gc(scopes)
        if scopes:
            journal(project, {"action": "gc", "kept_tags": len(keep), "objects": plan.gc_objects,
                              "bytes": plan.gc_bytes})
    plan.done = True
    return plan


def _delete_checkpoints(project: Project, cand: _Candidate, force: bool) -> None:
    item = cand.item
    with acting_on(project, cand.folder.path, "training started meanwhile: never deleted") as act:
        if act.refused:
            item.action, item.reason = "skip", act.refused
            return
        remove(project.root / item.path)
        act.record({"action": "cleanup-failed", "run": item.run, "deleted": item.path, "files": item.files,
                    "recoverable": item.recoverable, "forced": force})


def _default_odb(dvc_repo: DvcRepo):
    remote = Remote.of(dvc_repo)
    try:
        return remote.odb(dvc_repo) if remote.name else None
    except Exception:  # a remote that cannot even be configured holds nothing we can count on
        return None


def _remote_subset(odb, oids: set[str], cache: Path) -> set[str]:
    if odb is None:
        return set()
    try:
        return dvcstore.on_remote(odb, oids, cache)
    except HenryvcError:
        return set()  # unreachable: nothing counts as backed up, so nothing leaves the cache
