"""A thin adapter over DVC's Python API: tracked outputs, status, cache, checkout, pull and push."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.adapters import dvcfiles as userfiles
from henryvc.adapters.dvcfiles import Out as Out
from henryvc.adapters.dvcfiles import outs_from_dvcfile as outs_from_dvcfile
from henryvc.adapters.dvcfiles import outs_from_lock as outs_from_lock
from henryvc.errors import HenryvcError, NotReady

if TYPE_CHECKING:
    from dvc.repo import Repo

    from henryvc.adapters.gitrepo import Repository

    DvcRepo = Repo  # DVC's repository as the layers above hold it (they never import dvc)

# Links only, so nothing copies gigabytes when a link works; no "copy" fallback. Reflink only where the
# filesystem has it: DVC's add/commit copies instead of trying the next type when the first is an
# unsupported reflink (measured on ext4: every `dvc repro` then copied every checkpoint into the cache).
REFLINK_TYPES = "reflink,hardlink,symlink"
LINK_TYPES = "hardlink,symlink"
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"
# Checks made before DVC opens a project (each raises to refuse); henryvc.ops registers params.yaml's here.
BEFORE_OPEN: list[Callable[[Path], object]] = []


def is_busy(root: Path) -> bool:
    """True while a DVC process (`dvc repro`, push, ...) holds the repository's lock (.dvc/tmp/lock)."""
    import zc.lockfile

    path = Path(root) / ".dvc" / "tmp" / "lock"
    if not path.exists():
        return False
    try:
        lock = zc.lockfile.LockFile(str(path))
    except zc.lockfile.LockError:
        return True
    lock.close()
    return False


def open_repo(root: Path) -> Repo:
    """DVC's Repo at ROOT (imports DVC only when called).

    DVC fills dvc.yaml's ${run} from params.yaml whenever it reads the pipeline, so the BEFORE_OPEN checks
    run first (henryvc.ops registers params.yaml's: `run: ../../etc` is BadInput, exit 2, never a path
    outside the project that DVC would read, hash or collect).
    """
    from dvc.repo import Repo

    for check in BEFORE_OPEN:
        check(root)
    try:
        dvc_repo = Repo(str(root))
    except Exception as exc:  # a .dvc/config that does not parse or validate: the user's file, named
        found = userfiles.user_error(exc, Path(root))
        if found is None:
            raise
        raise found from None
    _drop_if_torn(dvc_repo)  # drop_torn_rwlock says why
    return dvc_repo


def drop_torn_rwlock(root: Path) -> bool:
    """Remove ROOT's DVC stage lock table (.dvc/tmp/rwlock) when it is not JSON; True when it did.

    DVC rewrites that file in place while it holds rwlock.lock, so a process killed mid-write leaves it
    torn, and every later `dvc status`, add or repro then refuses with "JSON structure is corrupted" until
    someone deletes it (the random-kill tier met it after a killed `snapshot`). The table only records which
    live processes read or write which stage paths, and DVC itself drops the entries of dead ones; a torn
    table's entries are lost already. So, holding rwlock.lock as DVC's writers do (none is mid-write then),
    a file that still does not parse is removed, and DVC starts a fresh table. A guard held by another
    process for DVC's lock timeout leaves the file alone. open_repo does this every time; henryvc calls
    this before it starts DVC's own command line (`dvc repro`), which it does not open.
    """
    table = Path(root) / ".dvc" / "tmp" / "rwlock"
    if _parses(table):
        return False
    open_repo(root).close()
    return _parses(table)


def _drop_if_torn(dvc_repo: Repo) -> None:
    from dvc.lock import LockError, make_lock

    if dvc_repo.tmp_dir is None or _parses(table := Path(dvc_repo.tmp_dir) / "rwlock"):
        return
    guard = make_lock(str(table.with_name("rwlock.lock")), tmp_dir=dvc_repo.tmp_dir,
                      hardlink_lock=dvc_repo.config["core"].get("hardlink_lock", False))
    try:
        with guard:
            if not _parses(table):
                table.unlink()
    except LockError:
        pass


def _parses(table: Path) -> bool:
    """True when TABLE is absent or holds JSON."""
    import json

    try:
        json.loads(table.read_bytes())
    except FileNotFoundError:
        return True
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        return False
    return True


def init(root: Path) -> None:
    """Run `dvc init` in ROOT unless .dvc/ exists."""
    import logging

    from dvc.repo import Repo

    if not (Path(root) / ".dvc").is_dir():
        logger = logging.getLogger("dvc")
        level = logger.level
        logger.setLevel(logging.WARNING)  # DVC prints its "Initialized" banner at INFO; we return data
        try:
            Repo.init(str(root))
        finally:
            logger.setLevel(level)


def cache_types(folder: Path) -> str:
    """The cache link types for a cache in FOLDER: reflink first only where a reflink works there."""
    import tempfile

    from dvc_objects.fs.system import reflink

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as probe:
        source = Path(probe) / "source"
        source.write_bytes(b"henryvc reflink probe")
        try:
            reflink(str(source), str(Path(probe) / "clone"))  # type: ignore[no-untyped-call]  # dvc_objects leaves it unannotated
        except OSError:
            return LINK_TYPES
    return REFLINK_TYPES


def cache_of(dvc_repo: Repo) -> Path:
    """The cache directory (the folder holding files/md5) of an open DVC repo."""
    return Path(dvc_repo.cache.local.path).parent.parent


def cache_dir(root: Path) -> Path:
    """The cache directory DVC uses for ROOT (the folder holding files/md5)."""
    return cache_of(open_repo(root))


def object_path(cache: Path, out: Out) -> Path:
    """Where OUT's object (a file, or the .dir listing) lives in CACHE.

    DVC 3 keeps objects under files/md5/; outputs recorded by DVC 2 (dvc.lock entries without `hash: md5`)
    stay in the older layout at the cache's top (xx/yyyy), and DVC 3 still reads them there. The new place
    is answered unless only the older one holds the object, so every henryvc check sees what DVC sees.
    """
    suffix = ".dir" if out.is_dir else ""
    current = cache / "files" / "md5" / out.md5[:2] / (out.md5[2:] + suffix)
    if not current.exists():
        legacy = cache / out.md5[:2] / (out.md5[2:] + suffix)
        if legacy.is_file():
            return legacy
    return current


def _mark_git_tracked(outs: list[Out], files: set[str]) -> list[Out]:
    """Outputs git holds at this revision are `cache: false` ones: DVC has no cache object for them."""
    prefixes = {f.rsplit("/", i)[0] for f in files for i in range(1, f.count("/") + 1)}
    return [replace(o, cached=False) if o.path in files or o.path in prefixes else o for o in outs]


def outs_at(git_repo: Repository, rev: str) -> list[Out]:
    """Every DVC-tracked output at git revision REV (dvc.lock and .dvc files)."""
    from henryvc.adapters import gitrepo

    outs = []
    files = gitrepo.ls_tree(git_repo, rev)
    for path in files:
        fix = f"a commit cannot change: `git show {rev[:10]}:{path}` shows it; this revision's data cannot be read"
        if path == "dvc.lock" or path.endswith("/dvc.lock"):
            outs += [Out(str(Path(path).parent / o.path) if "/" in path else o.path, o.md5, o.is_dir, o.size, o.nfiles)
                     for o in outs_from_lock(gitrepo.show(git_repo, rev, path) or "", f"{path} at {rev[:10]}", fix)]
        elif path.endswith(".dvc") and not path.startswith(".dvc/"):
            outs += outs_from_dvcfile(gitrepo.show(git_repo, rev, path) or "", str(Path(path).parent),
                                      f"{path} at {rev[:10]}", fix)
    uncached = _uncached_patterns(gitrepo.show(git_repo, rev, "dvc.yaml") or "") if "dvc.yaml" in files else []
    outs = [replace(o, cached=False) if any(fnmatch.fnmatchcase(o.path, p) for p in uncached) else o for o in outs]
    return _mark_git_tracked(outs, set(files))


def _uncached_patterns(text: str) -> list[str]:
    """Glob patterns of the `cache: false` outputs in a dvc.yaml text (${...} templates match any name).

    Whether git happens to hold an output's files at a revision (an interrupted run's logs/ may be in no
    commit) must not decide whether henryvc looks for its listing in DVC's cache.
    """
    import re

    import yaml

    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return []
    patterns = []
    for stage in (data.get("stages") or {}).values() if isinstance(data, dict) else []:
        for kind in ("outs", "metrics", "plots"):
            for entry in (stage or {}).get(kind) or []:
                if isinstance(entry, dict):
                    for path, options in entry.items():
                        if isinstance(options, dict) and options.get("cache") is False:
                            patterns.append(re.sub(r"\$\{[^}]*\}", "*", str(path)).rstrip("/"))
    return patterns


def dvcfiles(root: Path) -> list[Path]:
    """The top-level .dvc files of ROOT (voice_data.dvc and the like)."""
    return sorted(p for p in Path(root).glob("*.dvc") if p.is_file())


def workspace_outs(root: Path) -> list[Out]:
    """Every DVC-tracked output recorded in ROOT's work tree (dvc.lock and top-level .dvc files)."""
    root = Path(root)
    outs = outs_from_lock((root / "dvc.lock").read_text()) if (root / "dvc.lock").exists() else []
    for dvcfile in dvcfiles(root):
        outs += outs_from_dvcfile(dvcfile.read_text(), ".", dvcfile.name)
    uncached = {str(Path(o.fs_path).relative_to(Path(root).resolve())) for o in open_repo(root).index.outs
                if not o.use_cache}
    return [replace(o, cached=False) if o.path in uncached else o for o in outs]


def check_files(root: Path) -> None:
    """Refuse, before anything is made, ROOT's dvc.yaml, dvc.lock or .dvc files that henryvc or DVC cannot read."""
    from dvc.exceptions import DvcException

    try:
        workspace_outs(root)  # henryvc's readers, then DVC's index: every stage and .dvc file, validated
    except DvcException as exc:
        raise userfiles.user_error(exc, Path(root)) or HenryvcError(f"DVC cannot load {root}'s pipeline: {exc}") from None


def status(root: Path) -> dict[str, Any]:
    """`dvc status` of the whole pipeline and .dvc files ({} when clean)."""
    from dvc.exceptions import DvcException

    try:
        result: dict[str, Any] = open_repo(root).status()
        return result
    except DvcException as exc:
        raise HenryvcError(f"dvc status failed: {exc}") from None


def known_hashes(root: Path, paths: list[Path]) -> dict[Path, str]:
    """The md5 DVC's state db holds for each of PATHS whose inode, mtime and size still match.

    This is what `dvc status` trusts instead of reading the file again. It proves the file is unchanged
    since DVC recorded it, not that its bytes are right (DVC also records files it checks out unread).
    """
    repo = open_repo(root)
    try:
        keys = {str(path): path for path in paths}
        return {keys[key]: hash_info.value for key, _meta, hash_info in repo.state.get_many(list(keys), repo.fs, {})
                if hash_info is not None and hash_info.name == "md5"}
    finally:
        repo.close()


def missing_objects(cache: Path, outs: list[Out]) -> list[str]:
    """Paths of OUTS whose objects (or the files a .dir lists) are absent from CACHE."""
    import json

    missing = []
    for out in (o for o in outs if o.cached):
        listing = object_path(cache, out)
        if not listing.exists():
            missing.append(out.path)
        elif out.is_dir:
            entries = json.loads(listing.read_text())
            if any(not object_path(cache, Out("", e["md5"], False)).exists() for e in entries):
                missing.append(out.path)
    return missing


def checkout(root: Path, targets: list[str] | None = None) -> None:
    """`dvc checkout --force [TARGETS]` in ROOT; raises NotReady naming what the cache lacks."""
    from dvc.exceptions import CheckoutError, DvcException

    try:
        open_repo(root).checkout(targets=targets, force=True)
    except CheckoutError as exc:
        raise NotReady(f"the DVC cache lacks data for {', '.join(map(str, exc.target_infos))[:300]}: "
                       "run again with --pull to fetch it from the remote") from None
    except DvcException as exc:  # a dvc.yaml, dvc.lock or .dvc file DVC refuses, a stage it cannot load, ...
        found = userfiles.user_error(exc, Path(root))  # exit 1 all the same: the checkout had begun writing
        raise HenryvcError(str(found) if found else f"dvc checkout in {root} failed: {exc}") from None


def pull(root: Path, remote: str | None = None, targets: list[str] | None = None) -> None:
    """`dvc pull [TARGETS]` in ROOT from REMOTE (default remote when None).

    Killed pulls can leave DVC taking objects for present in the cache that are not there (its data index
    in the site cache is the suspect): the next pull then fetches too little and its checkout fails with
    "missing files". Such a checkout failure drops DVC's data index, which DVC rebuilds, and pulls once
    more (the random-kill tier's `restore --pull`: docs/status.md has the figures)."""
    paths = [str(Path(root) / t) for t in targets] if targets else None
    with _dvc_logs() as logged:
        try:
            _pull_retrying(open_repo(root), paths, remote)
        except Exception as exc:  # ssh remotes fail with OSError (refused key, server down) or worse
            if not is_remote_failure(exc):
                raise
            raise HenryvcError(f"dvc pull failed: {_cause(exc, logged)}") from None


def _pull_retrying(dvc_repo: Any, paths: list[str] | None, remote: str | None) -> None:
    """DVC_REPO.pull; once more after dropping DVC's data index when its checkout finds objects missing."""
    from dvc.exceptions import CheckoutError

    try:
        dvc_repo.pull(targets=paths, remote=remote, force=True)
    except CheckoutError:
        dvc_repo.drop_data_index()
        dvc_repo.pull(targets=paths, remote=remote, force=True)


def add(root: Path, paths: list[str]) -> None:
    """`dvc add PATHS` in ROOT (writes PATH.dvc and the folder's .gitignore; the data goes into the cache)."""
    from dvc.exceptions import DvcException

    with _dvc_logs() as logged:
        try:
            open_repo(root).add([str(Path(root) / p) for p in paths])  # DVC resolves against the cwd
        except (DvcException, OSError) as exc:
            raise HenryvcError(f"dvc add failed: {_cause(exc, logged)}") from None


class DamagedListing(HenryvcError):
    """`dvc push` stopped on a folder listing that does not parse (on the remote, or in the cache)."""


def push(root: Path, remote: str | None = None, targets: list[str] | None = None, all_tags: bool = False,
         dvc_repo: Any = None) -> int:
    """`dvc push` of TARGETS (all tracked outputs when None; ALL_TAGS: every tag's too); how many objects went.

    Raises DamagedListing when DVC stops on a folder listing the remote holds damaged (DVC reads listings
    back from the remote; a killed push can leave one short, and every push after stops on it):
    henryvc.adapters.dvcstore.push_mending mends that and pushes again."""
    from dvc_objects.errors import ObjectFormatError

    with _dvc_logs() as logged:
        try:
            pushed: int = (dvc_repo or open_repo(root)).push(targets=targets, remote=remote, all_tags=all_tags)
            return pushed
        except ObjectFormatError as exc:
            raise DamagedListing(f"dvc push failed: {exc}") from None
        except Exception as exc:  # ssh remotes fail with OSError (refused key, server down) or worse
            if not is_remote_failure(exc):
                raise
            where = f" (remote {remote})" if remote else ""
            raise HenryvcError(f"dvc push failed{where}: {_cause(exc, logged)}") from None


DVC_LOGGERS = ("dvc", "dvc_objects", "dvc_data")


@contextmanager
def _dvc_logs() -> Iterator[list[str]]:
    """Keep DVC's own warnings and errors (it prints them itself) so henryvc reports one line."""
    import logging

    kept: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            cause = f" - {record.exc_info[1]}" if record.exc_info and record.exc_info[1] else ""
            kept.append(record.getMessage() + cause)

    loggers = [logging.getLogger(name) for name in DVC_LOGGERS]
    saved = [logger.handlers[:] for logger in loggers]
    keep = Keep(logging.WARNING)
    for logger in loggers:
        logger.handlers[:] = [keep]
    try:
        yield kept
    finally:
        for logger, handlers in zip(loggers, saved):
            logger.handlers[:] = handlers


def _cause(exc: Exception, logged: list[str]) -> str:
    """EXC's message, with the first thing DVC logged when that says more (e.g. why a connection failed),
    and the next step when the failure is one henryvc recognises."""
    errors = [line for line in logged if line]
    text = f"{exc}: {errors[0]}" if errors else str(exc)
    if not isinstance(exc, (_dvc_exception(), OSError)):
        text = f"{type(exc).__name__}: {text}"
    return text + _next_step(text)


# Packages DVC's remotes talk through: an exception raised inside them is the remote failing (exit 1),
# whatever its type (sshfs raises ValueError("Can't create any SFTP connections!") for a server without SFTP).
REMOTE_PACKAGES = ("sshfs", "asyncssh", "fsspec", "dvc_ssh", "dvc_objects", "dvc_data", "aiohttp", "s3fs",
                   "gcsfs", "adlfs", "botocore", "paramiko")


def _dvc_exception() -> type:
    from dvc.exceptions import DvcException

    exception: type = DvcException
    return exception


def is_remote_failure(exc: BaseException) -> bool:
    """True for DVC's own errors, OS errors, and any exception raised inside the remote's transport."""
    import traceback

    if isinstance(exc, (_dvc_exception(), OSError)):
        return True
    if not isinstance(exc, Exception):
        return False
    return any(package in Path(frame.filename).parts for frame in traceback.extract_tb(exc.__traceback__)
               for package in REMOTE_PACKAGES)


def remote_failure_text(exc: BaseException) -> str:
    """One line for a remote that failed outside a push or pull (listing, reading back): cause and next step."""
    text = str(exc) if isinstance(exc, (_dvc_exception(), OSError)) else f"{type(exc).__name__}: {exc}"
    return text + _next_step(text)


def _next_step(text: str) -> str:
    if "SFTP" in text:
        return (" (the SSH server answers but serves no SFTP, which DVC's ssh remote needs: enable it in its "
                "sshd_config, `Subsystem sftp internal-sftp`, or use another remote; `sftp -P PORT USER@HOST` checks)")
    return ""


def require_clean(root: Path) -> None:
    """Raise NotReady unless `dvc status` is clean for the whole project."""
    changed = status(root)
    if changed:
        listed = "; ".join(f"{stage}: {_describe(info)}" for stage, info in list(changed.items())[:5])
        raise NotReady(f"dvc status is not clean ({listed}): run `dvc repro` (or `dvc commit`) first")


def _describe(info: Any) -> str:
    if isinstance(info, list):
        return ", ".join(_describe(i) for i in info)
    if isinstance(info, dict):
        return ", ".join(f"{k} {_describe(v)}" for k, v in info.items())
    return str(info)


# --- the repo lock (remotes: henryvc.adapters.dvcremote; objects on remotes and in the cache: henryvc.adapters.dvcstore)

@contextmanager
def lock_if_free(dvc_repo: Repo) -> Iterator[bool]:
    """Hold DVC's own repo lock (what `dvc gc` and `dvc repro` take) and yield True; False when another DVC
    process (a `dvc repro` training for hours, say) holds it."""
    from dvc.lock import LockError
    from dvc.repo import lock_repo

    try:
        with lock_repo(dvc_repo):
            yield True
    except LockError:
        yield False
