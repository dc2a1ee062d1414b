"""`henryvc backup` (+ `--best-only`, `--verify`): every tag's DVC data on the backup remote, checked object by
object. See docs/lifecycle.md (backup) for the rules."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.adapters import dvcrepo, dvcstore, gitrepo
from henryvc.adapters.dvcremote import Remote, default_remote, remotes
from henryvc.core.coverage import tag_objects
from henryvc.core.runfolder import RUNS_DIR
from henryvc.core.summary import all_tags
from henryvc.errors import BadInput, IntegrityError, NotReady

if TYPE_CHECKING:
    from henryvc.adapters.dvcrepo import DvcRepo
    from henryvc.adapters.gitrepo import GitRepo
    from henryvc.core.project import Project

BACKUP_REMOTE = "backup"
BEST_MODEL = re.compile(r"(\A|/)best_model[^/]*\Z")


def backup_remote(dvc_repo: DvcRepo, name: str | None = None) -> Remote:
    """NAME, else the remote called "backup" when configured, else the default remote."""
    configured = remotes(dvc_repo)
    if name:
        if name not in configured:
            raise BadInput(f"no DVC remote named {name!r} (configured: {', '.join(configured) or 'none'}); "
                           f"add one with `dvc remote add {name} URL`")
        return Remote.of(dvc_repo, name)
    if BACKUP_REMOTE in configured:
        return Remote.of(dvc_repo, BACKUP_REMOTE)
    if not default_remote(dvc_repo):
        raise NotReady("no DVC remote is configured: `dvc remote add -d storage URL` (or `henryvc init --remote`)")
    return Remote.of(dvc_repo)



@dataclass
class MissingObject:
    """One object a tag needs that the remote lacks (or holds damaged)."""

    tag: str
    path: str
    oid: str
    problem: str = "missing"


@dataclass
class BackupResult:
    """What one backup pushed, where, and what it could not (objects neither in the cache nor there)."""

    remote: str
    url: str
    best_only: bool
    tags: list[str]
    pushed_objects: int
    git_pushed: bool
    lost: list[MissingObject] = field(default_factory=list)
    repaired_objects: int = 0  # --repair: damaged remote objects replaced from a good cache copy
    read_bytes: int = 0  # --repair: bytes read back from the remote

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BackupCheck:
    """What `backup --verify` found."""

    remote: str
    url: str
    tags: int
    objects: int
    missing: list[MissingObject] = field(default_factory=list)
    content_checked: bool = False  # every object read back and re-hashed (else: present and of the right size)
    read_bytes: int = 0
    read_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.missing

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _best_objects(project: Project, git_repo: GitRepo, tags: list[str], cache: Path) -> dict[str, tuple[str, str]]:
    """The work tree's voice data (outputs outside training_runs/) and each tag's best_model* files."""
    wanted = {oid: ("workspace", out.path) for out in dvcrepo.workspace_outs(project.root)
              if out.cached and not out.path.startswith(f"{RUNS_DIR}/") for oid in dvcstore.out_oids(cache, None, out)}
    for oid, (tag, path) in tag_objects(git_repo, tags, cache, None).items():
        if BEST_MODEL.search(path):
            wanted.setdefault(oid, (tag, path))
    return wanted


def push_tag_data(project: Project, git_repo: GitRepo, name: str, remote: str | None = None) -> int:
    """Push the work tree's DVC data to REMOTE (default: the default remote), then make sure it holds every
    object of tag NAME whole, sending what it lacks; how many objects went. Raises IntegrityError, before
    the caller pushes the tag, for objects neither in the cache nor whole there: data first, tag second, so
    a tag that reached origin always has its data on the remote.

    `dvc push` skips an object whose name exists on the remote, and a push killed at the wrong moment
    leaves an empty or partial file under an object's final name (DVC tries a reflink there first, and
    several transfers run at once): without the check a re-run would push the tag with damaged data
    behind it (tag-run --push and snapshot both met it in the random-kill tier).
    """
    with dvcrepo.open_repo(project.root) as dvc_repo:
        pushed = dvcstore.push_mending(project.root, remote, dvc_repo=dvc_repo)
        target = Remote.of(dvc_repo, remote)
        cache, odb = target.cache, target.odb(dvc_repo)
        wanted = tag_objects(git_repo, [name], cache, odb)
        filled, lost = dvcstore.fill_holes(dvc_repo, target.name, odb, wanted.keys(), cache)
    if lost:
        first = min(lost, key=wanted.__getitem__)
        raise IntegrityError(f"{len(lost)} object(s) of {name} are neither in the DVC cache nor whole on "
                             f"{target.name} (first: {wanted[first][1]}); the tag was not pushed")
    return pushed + filled


def push_tags(git_repo: GitRepo, names: list[str]) -> bool:
    """Push tags NAMES to origin when it exists, and the runs' review notes with them; whether it pushed."""
    from henryvc.ops import review

    pushed = gitrepo.push_tags(git_repo, names)
    if pushed:
        review.push(Path(str(gitrepo.root_of(git_repo))))  # the runs' reviews travel with their tags (merged first)
    return pushed


def content_check_by_default(odb: Any) -> bool:
    """Whether `backup --verify` reads every object back without --deep: on a remote on this machine's own
    file systems (a disk, a mount) yes; over a network (ssh, s3, ...) only when asked (--deep)."""
    protocol = getattr(odb.fs, "protocol", "")
    return protocol == "local" or (isinstance(protocol, tuple) and "local" in protocol)


def backup(project: Project, remote: str | None = None, best_only: bool = False,
           repair: bool = False) -> BackupResult:
    """`henryvc backup`: push every tag's critical data (and the work tree's) to the backup remote."""
    git_repo = gitrepo.open_git(project.root)
    tags = all_tags(git_repo)
    with dvcrepo.open_repo(project.root) as dvc_repo:
        target = backup_remote(dvc_repo, remote)
        name, cache, odb = target.name, target.cache, target.odb(dvc_repo)
        if best_only:
            pushed, wanted = 0, _best_objects(project, git_repo, tags, cache)
        else:
            pushed = dvcstore.push_mending(project.root, name, all_tags=True, dvc_repo=dvc_repo)
            wanted = tag_objects(git_repo, tags, cache, odb)
        read: dict[str, float] = {}
        before = dvcstore.remote_problems(odb, wanted.keys(), cache, content=True, read=read) if repair else {}
        filled, holes = dvcstore.fill_holes(dvc_repo, name, odb, wanted.keys(), cache, content=repair)
    lost = _missing(wanted, holes)
    repaired = sum(1 for oid, problem in before.items() if problem != "missing" and oid not in holes)
    return BackupResult(target.name or "", target.url, best_only, tags, pushed + filled, push_tags(git_repo, tags), lost,
                        repaired, int(read.get("bytes", 0)))


def verify_backup(project: Project, remote: str | None = None, deep: bool = False) -> BackupCheck:
    """`henryvc backup --verify`: does the remote hold every object of every tag, whole? (Reads only.)

    Whole means read back and re-hashed (a flipped byte keeps an object's size) on a local remote, or on
    any remote with DEEP; otherwise present with the size of the good copy, and the result says so.
    """
    git_repo = gitrepo.open_git(project.root)
    tags = all_tags(git_repo)
    with dvcrepo.open_repo(project.root) as dvc_repo:
        target = backup_remote(dvc_repo, remote)
        cache, odb = target.cache, target.odb(dvc_repo)
        wanted = tag_objects(git_repo, tags, cache, odb)
        content = deep or content_check_by_default(odb)
        read: dict[str, float] = {}
        problems = dvcstore.remote_problems(odb, wanted.keys(), cache, content=content, read=read)
        check = BackupCheck(target.name or "", target.url, len(tags), len(wanted),
                            content_checked=content, read_bytes=int(read.get("bytes", 0)),
                            read_seconds=round(read.get("seconds", 0.0), 3))
    check.missing = _missing(wanted, problems)
    return check


def _missing(wanted: dict[str, tuple[str, str]], problems: dict[str, str]) -> list[MissingObject]:
    """The objects with PROBLEMS, named by the (tag, path) WANTED records for each, in that order."""
    return [MissingObject(*wanted[oid], oid, problems[oid]) for oid in sorted(problems, key=wanted.__getitem__)]
