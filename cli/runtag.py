"""Snapshots: a run's commit + annotated tag (tag-run), and getting it back (restore, verify)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from henryvc import dvcrepo, gitrepo
from henryvc import summary as summaries
from henryvc.dvcrepo import Out
from henryvc.ledger import Identity, Ledger, identity
from henryvc.errors import BadInput, HenryvcError, IntegrityError, NotReady, RunExists, RunNotFound

HASH_CHUNK = 4 * 1024 * 1024
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


def md5_file(path: Path) -> str:
    """MD5 of a file's bytes, the hash DVC 3 records."""
    return hash_unchanged(path)[0]


def hash_unchanged(path: Path) -> tuple[str, Identity | None]:
    """MD5 of PATH and the identity its file had before it was read; None for the identity when the file
    changed while it was read. One open: both stats are of the very inode whose bytes were hashed."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        before = os.fstat(handle.fileno())
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
        after = os.fstat(handle.fileno())
    ident = identity(before)
    return digest.hexdigest(), ident if ident == identity(after) else None


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


def _check_file(path: Path, want: str, cache: Path, label: str) -> tuple[int, list[Mismatch], Identity | None]:
    """Hash one file (and its cache object when that is another inode); its identity before the read
    when it matched and did not change while read (what the ledger may record), else None."""
    if not path.is_file():
        return 0, [Mismatch(label, "missing")], None
    got, ident = hash_unchanged(path)
    problems = [] if got == want else [Mismatch(label, f"content hash {got} != {want} recorded at the tag")]
    cached = dvcrepo.object_path(cache, Out("", want, False))
    if cached.exists() and not os.path.samefile(cached, path) and md5_file(cached) != want:
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
    for out in outs:
        expected, problems = _expected_files(cache, out)
        result.mismatches += problems
        base = workdir / out.path
        jobs += [(base / rel if rel else base, md5, f"{out.path}/{rel}" if rel else out.path)
                 for rel, md5 in expected.items()]
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
    with ThreadPoolExecutor(max_workers=min(8, 2 * (os.cpu_count() or 1))) as pool:
        for job, (size, problems, ident) in zip(jobs, pool.map(lambda j: _check_file(j[0], j[1], cache, j[2]), jobs)):
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


def run_outs(outs: list[Out], name: str) -> list[Out]:
    """The outputs that live in run NAME's folder."""
    prefix = f"training_runs/{name}/"
    return [out for out in outs if out.path.startswith(prefix)]


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
    known_files: int = 0  # of checked_files: unchanged since henryvc last read them (its hash ledger)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tag_commit(git_repo, name: str) -> str:
    """The commit tag NAME points at (fetching tags from origin once if it is not here)."""
    if not gitrepo.tag_exists(git_repo, name):
        gitrepo.fetch_tags(git_repo)
    if not gitrepo.tag_exists(git_repo, name):
        raise RunNotFound(f"no tag {name}: list tagged runs with `henryvc list`")
    return git_repo.commit(name).hexsha


def _prepare_worktree(project, git_repo, name: str, commit: str, into: Path | None) -> Path:
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


def restore(project, name: str, into: Path | None = None, in_place: bool = False, pull: bool = False,
            progress: Progress | None = None) -> RestoreResult:
    """Check tag NAME out (worktree or in place), bring its DVC data from the cache or remote, check it."""
    git_repo = gitrepo.open_repo(project.root)
    commit = tag_commit(git_repo, name)
    outs = dvcrepo.outs_at(git_repo, commit)
    if in_place:
        if gitrepo.is_dirty(git_repo):
            raise NotReady("the work tree has uncommitted changes: commit or stash them, or restore into a worktree")
        git_repo.git.checkout("--detach", "--quiet", commit)
        target, cache = project.root, dvcrepo.cache_dir(project.root)
    else:
        target = _prepare_worktree(project, git_repo, name, commit, into)
        cache = dvcrepo.share_cache(target, project.root)
    pulled = pull
    if not pull:
        try:
            dvcrepo.checkout(target)
        except NotReady:  # the cache lacks objects: fetch them from the remote
            pulled = True
    hashes = Ledger(project.state)
    if pulled:
        with HashWhilePulling(cache, outs, hashes):
            dvcrepo.pull(target)  # DVC's pull is fetch + checkout: a second checkout would only re-stat every file
    checked = check_outs(target, outs, cache, progress, known=hashes.known, remember=hashes.remember_identities)
    if not checked.ok:
        raise IntegrityError(_mismatch_text(name, checked))
    return RestoreResult(name, commit, str(target), in_place, pulled, checked.checked_files,
                         checked.checked_bytes, f"cd {target} && dvc repro --force", checked.trusted_files)


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
        self.ledger, self.matched = ledger, []
        self.known = ledger.identities()  # read before: a warm cache's objects need no second read
        self.seen: dict[str, int] = {}  # prefix folder -> its mtime when last listed
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="henryvc-hash-while-pulling", daemon=True)

    def __enter__(self) -> "HashWhilePulling":
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


def verify(project, name: str, path: Path | None = None, progress: Progress | None = None,
           fast: bool = False) -> CheckResult:
    """Re-hash the DVC data of tag NAME as found in PATH (default: the project's work tree) and its cache copies.

    FAST takes files DVC's state db knows unchanged (inode, mtime, size) at the hash it holds, as
    `dvc status` does, and re-reads only the others (nor their cache copies).
    """
    git_repo = gitrepo.open_repo(project.root)
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


@dataclass
class TagResult:
    """The commit and tag made for a run."""

    name: str
    commit: str
    status: str
    pushed: bool
    summary: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def commit_subject(name: str) -> str:
    """The subject of a run's commit."""
    return f"henryvc: run {name}"


def _run_commit(project, git_repo, name: str, status: str) -> str:
    """Commit the run's git-side files; after a kill between commit and tag, reuse that commit."""
    from henryvc import published

    published.publish(project.root, project.run_dir(name))  # its metrics and plots at DVC's stable paths
    paths = [f"training_runs/{name}", "dvc.lock", "params.yaml", "dvc.yaml", ".gitignore", *published.PATHS,
             *(p.name for p in dvcrepo.dvcfiles(project.root))]
    made = gitrepo.commit_paths(git_repo, paths, f"{commit_subject(name)} ({status})")
    if made:
        return made
    if gitrepo.show(git_repo, "HEAD", f"training_runs/{name}/run.json") is None:
        raise NotReady(f"nothing of run {name} could be committed: is training_runs/{name} ignored by git?")
    return gitrepo.head(git_repo)


def _params(project) -> dict[str, Any]:
    import yaml

    return (yaml.safe_load(project.params.read_text()) if project.params.exists() else None) or {}


def tag_run(project, name: str, environment: dict[str, Any], push: bool = False) -> TagResult:
    """Commit run NAME (record, config, metrics, README, dvc.lock, params) and tag it NAME, annotated."""
    from henryvc import record as records

    git_repo = gitrepo.open_repo(project.root)
    if gitrepo.tag_exists(git_repo, name):
        if not push:
            raise RunExists(f"run {name} is already tagged at {git_repo.commit(name).hexsha[:10]}; "
                            "tags are never moved (use --push to push it)")
        return _push(project, git_repo, name, summaries.parse_message(git_repo.tag(name).tag.message) or {})
    run_dir = project.run_dir(name)
    if not run_dir.is_dir():
        raise RunNotFound(f"no run folder {run_dir.relative_to(project.root)}: see `henryvc list`")
    record = records.load(run_dir)
    if records.is_training(run_dir):
        raise NotReady(f"run {name} is still training; tag it when it has finished")
    outs = dvcrepo.workspace_outs(project.root)
    if not run_outs(outs, name):
        raise NotReady(f"dvc.lock records no outputs of {name}: point params.yaml's run at it and run `dvc repro`")
    dvcrepo.require_clean(project.root)
    missing = dvcrepo.missing_objects(dvcrepo.cache_dir(project.root), outs)
    if missing:
        raise NotReady(f"not in the DVC cache: {', '.join(missing[:5])}: run `dvc commit` first")
    metrics_file = run_dir / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
    if records.live_status(run_dir, record) != record.status:  # a killed trainer's "training" is incomplete
        record = records.update(run_dir, status="incomplete")
    from henryvc import review

    review.require_for_tag(name, record.status, _params(project), run_dir)  # production: an approving review
    summary = summaries.build(name, record.to_dict(), metrics, outs, environment)
    commit = _run_commit(project, git_repo, name, record.status)
    gitrepo.create_tag(git_repo, name, commit, summaries.message(summary))
    review.note_at_tag(project.root, name, commit, run_dir)  # reviews made before tagging
    if push:
        return _push(project, git_repo, name, summary)
    return TagResult(name, commit, record.status, False, summary)


def _push(project, git_repo, name: str, summary: dict[str, Any]) -> TagResult:
    # Data first, tag second: a tag that reached the remote always has its data there.
    if git_repo.commit(name).hexsha != gitrepo.head(git_repo):
        raise NotReady(f"the work tree is not at {name}: `henryvc restore {name} --in-place` first, then push")
    dvcrepo.push(project.root)
    _fill_remote_holes(project, git_repo, name)
    gitrepo.push_tag(git_repo, name)
    from henryvc import review

    review.push(project.root)  # the reviews' notes travel with the tag
    return TagResult(name, git_repo.commit(name).hexsha, summary.get("status", "?"), True, summary)


def _fill_remote_holes(project, git_repo, name: str) -> None:
    """Make sure the default remote holds every object of tag NAME whole, sending what it lacks.

    `dvc push` skips an object whose name exists on the remote, and a push killed at the wrong moment
    leaves an empty file under an object's final name (DVC tries a reflink there first): without this
    check a re-run of tag-run --push would push the tag with damaged data behind it.
    """
    from henryvc import lifecycle

    with dvcrepo.open_repo(project.root) as dvc_repo:
        remote = dvcrepo.default_remote(dvc_repo)  # where dvcrepo.push sent it
        cache, odb = dvcrepo.cache_of(dvc_repo), dvcrepo.remote_odb(dvc_repo, remote)
        wanted = lifecycle.tag_objects(git_repo, [name], cache, odb)
        _, lost = dvcrepo.fill_holes(dvc_repo, remote, odb, wanted.keys(), cache)
    if lost:
        first = min(lost, key=wanted.get)
        raise IntegrityError(f"{len(lost)} object(s) of {name} are neither in the DVC cache nor whole on "
                             f"{remote} (first: {wanted[first][1]}); the tag was not pushed")
