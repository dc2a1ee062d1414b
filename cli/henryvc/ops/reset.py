"""`henryvc reset`: push and snapshot what is not backed up, check every file is held, then clear the runs.

See docs/lifecycle.md (reset) for the rules.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.adapters import dvcrepo, dvcstore, gitrepo
from henryvc.core.coverage import Coverage, Source, coverage, source_at
from henryvc.core.folderaction import acting_on, guarded, refusal
from henryvc.core.runfolder import RUNS_DIR, RunFolder, remove, run_folder_of, run_folders, run_path, walk_files
from henryvc.core.summary import tag_summaries
from henryvc.errors import IntegrityError, NotReady
from henryvc.ops.backup import backup_remote
from henryvc.ops.snapshot import MAX_GIT_FILE_BYTES, snapshot_locked

if TYPE_CHECKING:
    from henryvc.adapters.gitrepo import GitRepo
    from henryvc.core.project import Project


@dataclass
class ResetItem:
    """One run folder: how reset makes it safe to clear, or why it cannot."""

    run: str
    path: str
    state: str  # "backed-up" | "push" | "snapshot" | "refused"
    tagged: bool
    files: int = 0
    uncovered: list[str] = field(default_factory=list)
    reason: str = ""


@dataclass
class ResetPlan:
    """What reset will do (or did)."""

    remote: str
    items: list[ResetItem] = field(default_factory=list)
    to_push: int = 0
    snapshot: str | None = None
    commit: str | None = None
    done: bool = False

    @property
    def refused(self) -> list[ResetItem]:
        return [i for i in self.items if i.state == "refused"]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "refused": [i.run for i in self.refused]}


def plan_reset(project: Project, remote: str | None = None) -> ResetPlan:
    """What `henryvc reset` would do; reads only."""
    with guarded(project, reads_only=True):
        return _plan_reset(project, remote, snapshot_tag=None)


def _plan_reset(project: Project, remote: str | None, snapshot_tag: str | None) -> ResetPlan:
    git_repo = gitrepo.open_git(project.root)
    tags = tag_summaries(git_repo)
    with dvcrepo.open_repo(project.root) as dvc_repo:
        target = backup_remote(dvc_repo, remote)
        plan = ResetPlan(target.name or "")
        cache, odb = target.cache, target.odb(dvc_repo)
        found: dict[str, Coverage] = {}
        for folder in run_folders(project):
            item, cover = _judge_reset(project, git_repo, folder, tags, cache, odb, snapshot_tag)
            plan.items.append(item)
            if cover is not None:
                found[folder.name] = cover
        wanted = set().union(*(c.oids for c in found.values()))
        present = dvcstore.on_remote(odb, wanted, cache)
    plan.to_push = len(wanted - present)
    for item in plan.items:
        cover = found.get(item.run)
        lost = sorted(o for o in cover.oids - present if not dvcstore.in_cache(cache, o)) if cover else []
        if lost:
            item.state, item.reason = "refused", f"{len(lost)} DVC object(s) are neither in the cache nor on the remote"
        elif item.state == "backed-up" and cover and not cover.oids <= present:
            item.state, item.reason = "push", f"{len(cover.oids - present)} object(s) to push to {plan.remote}"
    return plan


def _judge_reset(project: Project, git_repo: GitRepo, folder: RunFolder, tags, cache: Path, odb,
                 snapshot_tag: str | None) -> tuple[ResetItem, Coverage | None]:
    item = ResetItem(folder.name, folder.rel, "refused", folder.name in tags)
    item.reason = refusal(project, folder, "training now: never deleted")
    if item.reason:
        return item, None
    sources = [source_at(git_repo, folder.name, run_path(folder.name))] if item.tagged else []
    if snapshot_tag:
        sources.append(source_at(git_repo, snapshot_tag, folder.rel))
    cover = coverage(folder.path, sources, cache, odb)
    item.files = sum(1 for _ in walk_files(folder.path))
    item.uncovered = cover.uncovered
    item.state = "snapshot" if cover.uncovered else "backed-up"
    if cover.uncovered and snapshot_tag is None:
        _predict_snapshot(project, git_repo, folder, item, cache)
    return item, cover


def _predict_snapshot(project: Project, git_repo: GitRepo, folder: RunFolder, item: ResetItem, cache: Path) -> None:
    """Refuse ITEM now when a snapshot could not hold its uncovered files either (git would not take them
    and the work tree's DVC outputs do not record them)."""
    outs = [o for o in dvcrepo.workspace_outs(project.root) if o.cached and o.path.startswith(folder.rel + "/")]
    rest = coverage(folder.path, [Source("workspace", folder.rel, {}, outs)], cache).uncovered
    bad = [p[len(folder.rel) + 1:] for p in
           _git_would_not_take(project, git_repo, [f"{folder.rel}/{r}" for r in item.uncovered if r in set(rest)])]
    if bad:
        shown = ", ".join(bad[:5]) + (f" (+{len(bad) - 5} more)" if len(bad) > 5 else "")
        item.state = "refused"
        item.reason = (f"no tag holds {shown}, and a snapshot could not (git ignores it or it is over "
                       f"{MAX_GIT_FILE_BYTES // (1024 * 1024)} MB, and no DVC output records it): tag the run, "
                       "`dvc add` the files, or delete them yourself")


def _git_would_not_take(project: Project, git_repo: GitRepo, paths: list[str]) -> list[str]:
    """Those of PATHS a snapshot commit could not hold: ignored by git, or too big for it."""
    ignored = gitrepo.ignored(git_repo, paths)
    return [p for p in paths if p in ignored or
            (not (project.root / p).is_symlink() and (project.root / p).lstat().st_size > MAX_GIT_FILE_BYTES)]


def reset(project: Project, remote: str | None = None, only: set[str] | None = None,
          message: str = "before henryvc reset") -> ResetPlan:
    """`henryvc reset`: push and snapshot what is not backed up, check every file is held, then clear the runs."""
    with guarded(project):
        plan = _plan_reset(project, remote, snapshot_tag=None)
        _refuse(plan, only)
        git_repo = gitrepo.open_git(project.root)
        if gitrepo.tracked(git_repo, [i.path for i in plan.items]):
            gitrepo.require_branch(git_repo, "recording the reset")
        snap = None
        if any(i.state == "snapshot" for i in plan.items):
            snap = snapshot_locked(project, message, True, plan.remote, datetime.now).name
        if plan.to_push:
            with dvcrepo.open_repo(project.root) as dvc_repo:
                dvcstore.push_mending(project.root, plan.remote, all_tags=True, dvc_repo=dvc_repo)
        final = _plan_reset(project, plan.remote, snapshot_tag=snap)
        final.snapshot = snap
        unheld = [i for i in final.items if i.state != "backed-up"]
        if unheld:
            shown = "; ".join(f"{i.run}: {i.reason or ', '.join(i.uncovered[:3])}" for i in unheld[:5])
            raise IntegrityError(f"after pushing and snapshotting, not everything is held ({shown}); nothing was deleted")
        for item in final.items:
            training = f"{item.run} started training meanwhile; it and the runs after it were kept"
            with acting_on(project, project.root / item.path, training) as act:
                if act.refused:
                    raise NotReady(act.refused)
                remove(project.root / item.path)
                act.record({"action": "reset", "run": item.run, "deleted": item.path, "snapshot": snap})
        final.commit = _commit_deletions(project, git_repo)
        final.done = True
        return final


def _refuse(plan: ResetPlan, only: set[str] | None) -> None:
    if plan.refused:
        shown = "; ".join(f"{i.run}: {i.reason}" for i in plan.refused[:5])
        raise NotReady(f"reset refuses, nothing was deleted: {shown}")
    if only is not None and {i.run for i in plan.items} - only:
        raise NotReady("the runs changed since you confirmed; run `henryvc reset` again")


def _commit_deletions(project: Project, git_repo: GitRepo) -> str | None:
    """Commit the removal of git-tracked run folders gone from the work tree (this reset's, and a killed one's)."""
    gone = sorted({f for f in map(run_folder_of, gitrepo.tracked(git_repo, [RUNS_DIR]))
                   if f and not (project.root / f).exists()})
    if not gone:
        return None
    gitrepo.write(git_repo, "rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", *gone)
    return gitrepo.commit_only(git_repo, gone, "henryvc: reset workspace runs")
