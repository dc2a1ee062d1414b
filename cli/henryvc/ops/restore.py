"""Getting a tagged run back: `henryvc restore` (a worktree or in place, data from the cache or the remote)
and `henryvc verify` (re-hash a tag's DVC data against what the tag records)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.adapters import dvcremote, dvcrepo, gitrepo
from henryvc.adapters.dvcrepo import Out
from henryvc.core.ledger import Identity, Ledger, hash_unchanged, identity
from henryvc.errors import BadInput, HenryvcError, IntegrityError, NotReady, RunNotFound
from henryvc.hashing import md5_file

if TYPE_CHECKING:
    from henryvc.adapters.gitrepo import GitRepo
    from henryvc.core.project import Project

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Mismatch:
    """One DVC-tracked file that does not match the hash recorded at the tag."""

    path: str
    problem: str


@dataclass
class CheckResult:
    """What a re-hash of a tag's data found."""

    checked_files: int = 0
    checked_bytes: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    trusted_files: int = 0  # of checked_files: unchanged since DVC hashed them (its state db), not re-read

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _expected_files(cache: Path, out: Out) -> tuple[dict[str, str], list[Mismatch]]:
    """relpath → md5 of every file OUT holds, read from the cache's .dir listing for directories."""
    if not out.is_dir:
        return {"": out.md5}, []
    if not out.cached:
        return {}, []  # a `cache: false` folder: git checked it out, and DVC keeps no listing of it
    listing = dvcrepo.object_path(cache, out)
    if not listing.exists():
        return {}, [Mismatch(out.path, "the directory listing is not in the DVC cache: run with --pull")]
    if md5_file(listing) != out.md5:
        return {}, [Mismatch(out.path, "the directory listing in the DVC cache is corrupt")]
    return {e["relpath"]: e["md5"] for e in json.loads(listing.read_text())}, []


def _check_file(path: Path, want: str, cache: Path, label: str,
                in_cache: bool = True) -> tuple[int, list[Mismatch], Identity | None]:
    """Hash one file (and its cache object when that is another inode; IN_CACHE: DVC caches it, so a missing
    cache object is reported); its identity before the read when it matched and did not change while read
    (what the ledger may record), else None."""
    if not path.is_file():
        return 0, [Mismatch(label, "missing")], None
    got, ident = hash_unchanged(path)
    problems = [] if got == want else [Mismatch(label, f"content hash {got} != {want} recorded at the tag")]
    cached = dvcrepo.object_path(cache, Out("", want, False))
    if not cached.exists():
        if in_cache:
            problems.append(Mismatch(label, f"its DVC cache copy ({cached.relative_to(cache)}) is missing: only this "
                                            "file holds the data here (`dvc fetch` brings the copy back from the remote)"))
    elif not os.path.samefile(cached, path) and md5_file(cached) != want:
        problems.append(Mismatch(label, f"the DVC cache's copy ({cached.name}) is corrupt"))
    return path.stat().st_size, problems, None if problems else ident


def check_outs(workdir: Path, outs: list[Out], cache: Path, progress: Progress | None = None,
               known: Callable[[list[Path]], dict[Path, str]] | None = None,
               remember: Callable[[list[tuple[Identity, str]]], None] | None = None) -> CheckResult:
    """Re-hash every file of OUTS under WORKDIR (and its cache object) against the recorded hashes.

    With KNOWN (paths -> a hash already established for those files while unchanged: DVC's state db, or
    henryvc's own ledger), a file whose known hash is the recorded one is not read again. REMEMBER is
    told the identity (taken before reading) of every file that was read, matched and did not change.
    """
    result = CheckResult()
    jobs: list[tuple[Path, str, str]] = []
    uncached: set[str] = set()  # labels of `cache: false` files: git's, with no cache copy to look for
    for out in outs:
        expected, problems = _expected_files(cache, out)
        result.mismatches += problems
        base = workdir / out.path
        jobs += [(base / rel if rel else base, md5, f"{out.path}/{rel}" if rel else out.path)
                 for rel, md5 in expected.items()]
        if not out.cached:
            uncached |= {f"{out.path}/{rel}" if rel else out.path for rel in expected}
        if out.is_dir and base.is_dir() and expected:
            present = _files_under(base)
            result.mismatches += [Mismatch(f"{out.path}/{rel}", "not recorded at the tag")
                                  for rel in sorted(present - expected.keys())]
    trusted = known([path for path, _, _ in jobs]) if known else {}
    taken = [job for job in jobs if trusted.get(job[0]) == job[1]]
    result.trusted_files = result.checked_files = len(taken)
    result.checked_bytes = sum(path.stat().st_size for path, _, _ in taken)
    jobs = [job for job in jobs if trusted.get(job[0]) != job[1]]
    matched: list[tuple[Identity, str]] = []

    def check(job: tuple[Path, str, str]) -> tuple[int, list[Mismatch], Identity | None]:
        return _check_file(job[0], job[1], cache, job[2], job[2] not in uncached)

    with ThreadPoolExecutor(max_workers=min(8, 2 * (os.cpu_count() or 1))) as pool:
        for job, (size, problems, ident) in zip(jobs, pool.map(check, jobs)):
            result.checked_files += 1
            result.checked_bytes += size
            result.mismatches += problems
            if ident is not None:
                matched.append((ident, job[1]))
            if progress:
                progress(1)
    if remember and matched:
        remember(matched)
    return result


def _files_under(base: Path) -> set[str]:
    """Every file below BASE, relative to it with "/" (string slicing: relpath on 13,000 files cost 0.1 s)."""
    root = str(base)
    cut = len(root) + 1
    return {f"{top[cut:]}/{name}" if len(top) > len(root) else name
            for top, _, files in os.walk(root) for name in files}


@dataclass
class RestoreResult:
    """Where a run was restored and what was checked."""

    name: str
    commit: str
    path: str
    in_place: bool
    pulled: bool
    checked_files: int
    checked_bytes: int
    recreate: str
    known_files: int = 0  # of checked_files: NOT read, trusted unchanged since henryvc last read them (its ledger)
    known_since: str | None = None  # the earliest of those last reads (ISO time), when the ledger knows it
    rehashed: bool = False  # --rehash: every file read, the ledger not consulted

    @property
    def read_files(self) -> int:
        return self.checked_files - self.known_files

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "read_files": self.read_files}


def tag_commit(git_repo: GitRepo, name: str) -> str:
    """The commit tag NAME points at (fetching tags from origin once if it is not here)."""
    if not gitrepo.tag_exists(git_repo, name):
        gitrepo.fetch_tags(git_repo)
    if not gitrepo.tag_exists(git_repo, name):
        raise RunNotFound(f"no tag {name}: list tagged runs with `henryvc list`")
    return gitrepo.commit_of(git_repo, name)


def _prepare_worktree(project: Project, git_repo: GitRepo, name: str, commit: str, into: Path | None) -> Path:
    target = project.inside(into) if into else project.state / "restore" / name
    existing = gitrepo.worktrees(git_repo)
    if str(target) in existing:
        if existing[str(target)] != commit:
            raise BadInput(f"{target} is a worktree of another commit; choose another --into")
        gitrepo.complete_worktree(target)  # a restore that was interrupted: carry on where it stopped
        return target
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BadInput(f"{target} exists and is not empty; choose another --into")
    target.parent.mkdir(parents=True, exist_ok=True)
    gitrepo.worktree_add(git_repo, target, commit)
    return target


def restore(project: Project, name: str, into: Path | None = None, in_place: bool = False, pull: bool = False,
            progress: Progress | None = None, rehash: bool = False) -> RestoreResult:
    """Check tag NAME out (worktree or in place), bring its DVC data from the cache or remote, check it.

    Files whose identity (device, inode, size, mtime) is unchanged since henryvc last read them are trusted
    from its hash ledger, not read: the result counts them apart (and since when), never as read. REHASH
    reads every file.
    """
    git_repo = gitrepo.open_git(project.root)
    commit = tag_commit(git_repo, name)
    outs = dvcrepo.outs_at(git_repo, commit)
    if in_place:
        if gitrepo.is_dirty(git_repo):
            raise NotReady("the work tree has uncommitted changes: commit or stash them, or restore into a worktree")
        gitrepo.checkout_detached(git_repo, commit)
        target, cache = project.root, dvcrepo.cache_dir(project.root)
    else:
        main_dvc = dvcrepo.open_repo(project.root)  # before the worktree: a broken .dvc/config makes nothing
        dvcremote.checked_default(main_dvc, project.root)
        target = _prepare_worktree(project, git_repo, name, commit, into)
        cache = dvcremote.share_cache(target, project.root, main_dvc)
    pulled = pull
    if not pull:
        try:
            dvcrepo.checkout(target)
        except NotReady:  # the cache lacks objects: fetch them from the remote
            pulled = True
    hashes = Ledger(project.state)
    if pulled:
        try:
            with HashWhilePulling(cache, outs, hashes):
                dvcrepo.pull(target)  # DVC's pull is fetch + checkout: a second checkout would only re-stat every file
        except HenryvcError as exc:
            raise _pull_failure(project, git_repo, name, cache) or exc from None
    trusted: list[Path] = []

    def known(paths: list[Path]) -> dict[Path, str]:
        found = hashes.known(paths)
        trusted.extend(found)
        return found

    checked = check_outs(target, outs, cache, progress, known=None if rehash else known,
                         remember=hashes.remember_identities)
    if not checked.ok:
        raise IntegrityError(_mismatch_text(name, checked))
    since = hashes.hashed_since(trusted) if checked.trusted_files else None
    return RestoreResult(name, commit, str(target), in_place, pulled, checked.checked_files,
                         checked.checked_bytes, f"cd {target} && dvc repro --force", checked.trusted_files,
                         _iso(since), rehash)


def _pull_failure(project: Project, git_repo: GitRepo, name: str, cache: Path) -> HenryvcError | None:
    """Why a pull of tag NAME failed when the remote lacks some of its objects: which remote, which of the
    tag's objects it lacks (asked of the remote itself) and the next step; None when it holds them all or
    cannot be asked (DVC's own error then says more)."""
    from henryvc.adapters import dvcstore
    from henryvc.core import coverage

    dvc_repo = dvcrepo.open_repo(project.root)
    remote = dvcremote.Remote.of(dvc_repo)
    try:
        odb = remote.odb(dvc_repo)
        wanted = coverage.tag_objects(git_repo, [name], cache, odb)
        lacking = {oid for oid in wanted if not dvcstore.in_cache(cache, oid)}  # what the pull had to bring
        missing = sorted(lacking - dvcstore.on_remote(odb, lacking, cache), key=lambda oid: wanted[oid][1])
    except Exception:  # unreachable, unreadable: DVC's error is the better report then
        return None
    if not missing:
        return None
    where = f"DVC remote {remote.name!r} ({remote.url})" if remote.name else "the DVC remote"
    shown = ", ".join(f"{wanted[oid][1]}{' (its listing)' if oid.endswith('.dir') else ''} [{oid}]"
                      for oid in missing[:5])
    more = f" (+{len(missing) - 5} more)" if len(missing) > 5 else ""
    return HenryvcError(
        f"restore {name} pulled from {where}, which lacks {len(missing)} object(s) of the tag that this box's "
        f"cache lacks too: {shown}{more}; push them from the box that made the run (`henryvc tag-run --push` "
        "for a run not pushed yet, else `henryvc backup`), then restore again")


def _iso(epoch: float | None) -> str | None:
    from datetime import datetime

    return None if epoch is None else datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


class HashWhilePulling:
    """While DVC pulls, hash each object the tag needs as it lands in the cache, and tell the ledger.

    A pull is bound by the disk or the network, and the check after it by md5 on the CPU: hashing each
    object while the next ones are copied hides most of that check. DVC writes an object to a temporary
    name and renames it, so an object visible under its name is whole (and if it were not, its hash
    would not match). Only matches are recorded, by the identity the file had before it was read; the
    checked-out files are hard links to these objects, so the check after the pull finds them known.
    A mismatch, or an object not reached in time, is simply left to that check, which re-reads it.
    New objects are found by watching the mtime of the cache's 256 prefix folders.
    """

    POLL_S = 0.1

    def __init__(self, cache: Path, outs: list[Out], ledger: Ledger):
        self.base = cache / "files" / "md5"
        self.wanted = {out.md5 for out in outs if out.cached and not out.is_dir}
        self.listings = {out.md5 for out in outs if out.is_dir and out.cached}
        self.ledger = ledger
        self.matched: list[tuple[Identity, str]] = []
        self.known = ledger.identities()  # read before: a warm cache's objects need no second read
        self.seen: dict[str, int] = {}  # prefix folder -> its mtime when last listed
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="henryvc-hash-while-pulling", daemon=True)

    def __enter__(self) -> HashWhilePulling:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        try:
            if self.matched:
                self.ledger.remember_identities(self.matched)
        except (sqlite3.Error, OSError):
            pass  # only a saving: the check after the pull reads whatever the ledger lacks

    def _run(self) -> None:
        while not self.stop.is_set() and (self.wanted or self.listings):
            if not self._scan():
                self.stop.wait(self.POLL_S)

    def _scan(self) -> bool:
        found = False
        try:
            prefixes = list(os.scandir(self.base))
        except OSError:
            return False
        for prefix in prefixes:
            try:
                mtime = prefix.stat().st_mtime_ns
                if self.seen.get(prefix.name) == mtime:
                    continue
                self.seen[prefix.name] = mtime  # before listing: a rename during the listing shows next time
                names = [e.name for e in os.scandir(prefix.path)]
            except OSError:
                continue
            for name in names:
                oid = prefix.name + name
                if self.stop.is_set():
                    return True
                if oid in self.wanted:
                    self.wanted.discard(oid)
                    self._hash(Path(prefix.path, name), oid)
                    found = True
                elif oid.endswith(".dir") and oid[:-4] in self.listings:
                    self.listings.discard(oid[:-4])
                    self._add_listing(Path(prefix.path, name), oid[:-4])
                    found = True
        return found

    def _hash(self, path: Path, oid: str) -> None:
        try:
            if identity(os.stat(path)) in self.known:
                return
            got, ident = hash_unchanged(path)
        except OSError:
            return
        if got == oid and ident is not None:
            self.matched.append((ident, oid))

    def _add_listing(self, path: Path, oid: str) -> None:
        try:
            if md5_file(path) == oid:
                self.wanted |= {entry["md5"] for entry in json.loads(path.read_text())}
                self.seen.clear()  # objects of this listing may have landed before it: look everywhere again
        except (OSError, ValueError, KeyError, TypeError):
            return


def verify(project: Project, name: str, path: Path | None = None, progress: Progress | None = None,
           fast: bool = False) -> CheckResult:
    """Re-hash the DVC data of tag NAME as found in PATH (default: the project's work tree) and its cache copies.

    FAST takes files DVC's state db knows unchanged (inode, mtime, size) at the hash it holds, as
    `dvc status` does, and re-reads only the others (nor their cache copies).
    """
    git_repo = gitrepo.open_git(project.root)
    commit = tag_commit(git_repo, name)
    target = project.inside(path) if path else project.root
    outs = dvcrepo.outs_at(git_repo, commit)
    if not outs:
        raise HenryvcError(f"tag {name} records no DVC data")
    state_root = target if (target / ".dvc").is_dir() else project.root
    known = (lambda paths: dvcrepo.known_hashes(state_root, paths)) if fast else None
    # The full check re-reads everything and tells the ledger, so later restores need not re-read it.
    return check_outs(target, outs, dvcrepo.cache_dir(project.root), progress, known,
                      remember=None if fast else Ledger(project.state).remember_identities)


def _mismatch_text(name: str, result: CheckResult) -> str:
    shown = "; ".join(f"{m.path}: {m.problem}" for m in result.mismatches[:5])
    more = f" (+{len(result.mismatches) - 5} more)" if len(result.mismatches) > 5 else ""
    return f"data of {name} does not match its tag: {shown}{more}"
