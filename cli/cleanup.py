"""The life of runs after training: archive, cleanup-failed, reset, backup (+ verify), snapshot, schedule.

One plain function per command, returning dataclasses; nothing here prints or imports click. What was
decided where the issue was silent:

- **Where runs are.** A run folder is `training_runs/NAME`, `training_runs/archive/failed/NAME` or
  `training_runs/archive/incomplete/NAME`, NAME a run name. Anything else there is left alone. A run
  folder (or `training_runs`, or an archive folder) that is a symlink, or resolves outside the project,
  is never moved, deleted or read through: the command refuses it and says so.
- **Training now** means some process holds the run's training lock (`.training.lock`, an OS lock the
  train stage holds while it trains; a kill releases it): never a guess from timestamps. `archive`
  holds that lock itself while it renames a folder, so training cannot start in a folder being moved.
- **archive** judges each run in `training_runs/` by run.json `status` (the evaluate stage writes it):
  success stays and gets a `SUCCESS` marker; failed goes to `archive/failed/`; incomplete, created and
  training-without-a-live-lock go to `archive/incomplete/`. When the run is tagged, its tag's status must
  agree, else the run is skipped with both named (the tag is the source of truth; a record changed after
  tagging is a question for a human). Moves are single `rename(2)` calls inside `training_runs/`, so a
  folder is either here or there. Re-running moves nothing more. Every move is appended to
  `.henryvc/journal.jsonl`, and, when the run's files are tracked by git (tagged runs), the move is
  committed (`henryvc: archive ...`, only those paths, other staged changes untouched) so the work tree
  stays clean. No tag and no existing commit is changed. A detached HEAD is refused before anything
  moves (such a commit would be lost when the branch is checked out again).
- **cleanup-failed** looks at failed runs (run.json status failed, wherever the folder is). Their
  `checkpoints/` is deleted only when recoverable: the run is tagged, every file there is recorded at the
  tag with the same content (same inode as the cache object, else re-hashed), and every object is in
  the DVC cache or on the remote. Logs, config, metrics, README, tensorboard and samples stay.
  `--force` also deletes what is not recoverable (never a run that is training). Then DVC's own
  garbage collector (`dvc_data`'s gc, under DVC's repo lock) keeps what the work tree, every branch,
  every experiment and every tag use, except the tags of those failed runs (not training) whose every
  object (all outputs, not only checkpoints) is on the default remote, the one `henryvc restore` pulls
  from: every tagged run keeps its data, in the cache or there. What a commit uses is read from its
  dvc.lock and .dvc files in git, not through DVC's revision collection, which fails on every old
  revision once a remote is added with a local-only keyfile; a directory listing found nowhere stops
  the gc (what it keeps cannot be known). The remote is never trimmed. Cache
  objects that a symlink among the runs or in a restore worktree points at are kept too. "Will free"
  counts each inode once, and only when every one of its links goes. A dry run and the confirmation
  prompt show that plan; the real run plans again under the locks and acts only on the runs confirmed.
  While another DVC process holds DVC's lock (a `dvc repro` that trains for hours), checkpoints are
  still freed and the gc is skipped, saying so: a full disk mid-training is when this is needed.
- **reset** clears every run folder (archive included) only when each file in it is covered, i.e. the
  same content is in git at the run's tag (or a snapshot made now) or in DVC data recorded there, and
  that data is on the backup remote. Tagged data missing from the remote is pushed first; anything
  not covered by a tag is snapshotted first (`henryvc snapshot`, pushed); whatever even a snapshot
  cannot hold (a file git ignores that no DVC output records, a file over 5 MB that git would have to
  take) makes it refuse, naming the files, before anything is written. Coverage is checked again after
  pushing and snapshotting, and only then are folders deleted; the deletion of git-tracked run files is
  committed (`henryvc: reset workspace runs`). The DVC cache is not touched (`cleanup-failed` or
  `dvc gc` does that).
- **backup** pushes to the remote named `--remote`, else `backup` when configured, else the default
  remote: DVC's `repo.push(all_tags=True)` (every tag's data: voice data, checkpoints incl. best
  models, tensorboard, samples, plus the work tree's), then a completeness pass: every object of every
  run and snapshot tag is asked of the remote itself, and any it lacks is sent from the cache one object
  at a time (DVC's push takes a directory whose listing is on the remote as complete, and trusts its
  remote index, so a file deleted there would never come back otherwise). Objects neither in the cache
  nor on the remote are listed (exit 1). `--best-only` (the weekly job) sends just the work tree's voice
  data and every tag's `best_model*` files. When a git remote `origin` exists, the henryvc tags are
  pushed there too (configs and records live in git). `--verify` reads only: for every run and snapshot
  tag, every object its dvc.lock/.dvc files name (and the files each directory listing names, the
  listing read from the cache or the remote), asked of the remote directly; what is missing is listed
  (exit 1). "On the remote" always means a file of the right size there (the cache copy's size, or
  at least not empty): a push killed mid-transfer can leave an empty file under an object's name
  (DVC tries a reflink at the final path first) that DVC then takes as present forever; `verify`
  reports it as damaged, `backup` replaces it with the cache's copy, `cleanup-failed` and `reset`
  do not count it as backed up.
- **snapshot** commits the whole work tree as git would add it (`git add -A`, .gitignore honoured;
  a file over 5 MB refuses: it belongs in DVC) and tags it `snapshot_YYYYMMDD_HHMMSS` (local time;
  never a run name, see SNAPSHOT_* below), annotated with a JSON summary (`format:
  henryvc-snapshot/1`), then pushes the work tree's DVC data to the backup remote and the tag to
  `origin` when it exists. DVC outputs changed since `dvc.lock` (dvc status "modified"/"new") refuse:
  the snapshot could not bring them back.
- **schedule** prints crontab lines or systemd user units (weekly `backup --best-only`, monthly full
  `backup` then `backup --verify`); it installs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from henryvc import dvcrepo, gitrepo, record as records, runname
from henryvc.dvcrepo import Out
from henryvc.errors import BadInput, HenryvcError, IntegrityError, NotReady, RunExists, RunNotFound
from henryvc.project import ARCHIVE_DIRS, Project

# The snapshot tag grammar, in this one place. It can never be a run name (runname.TAG_GLOB is henry_v*).
# The snapshot tag grammar lives with the run-name grammar (all tag patterns in one module).
SNAPSHOT_GLOB, SNAPSHOT_PATTERN = runname.SNAPSHOT_GLOB, runname.SNAPSHOT_PATTERN
snapshot_name, is_snapshot_name = runname.snapshot_name, runname.is_snapshot_name
SNAPSHOT_FORMAT = "henryvc-snapshot/1"
SNAPSHOT_RETRIES = 3
MAX_GIT_FILE_BYTES = 5 * 1024 * 1024  # the most a snapshot lets git take in one file; bigger belongs in DVC

PLACES = ("", *ARCHIVE_DIRS)
FAILED_PLACE, INCOMPLETE_PLACE = ARCHIVE_DIRS
MARKER = "SUCCESS"
MAX_DAYS = 100 * 366
MAX_MESSAGE = 10_000
JOURNAL = "journal.jsonl"
BACKUP_REMOTE = "backup"
GIT_REMOTE = "origin"
CHECKPOINTS = "checkpoints"
BEST_MODEL = re.compile(r"(\A|/)best_model[^/]*\Z")
# Files henryvc itself puts in a run folder: derivable, not part of the run's data.
HENRYVC_FILES = (records.LOCK_FILE, MARKER)
UNSAVED_STATES = ("modified", "new", "not in cache")
CACHE_DROPPED = "dropped from the cache: every object of its tag is on the default remote"
CACHE_KEPT = "kept in the cache: its tag's objects are not all on the default remote (`henryvc backup` first)"


# --- run folders -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunFolder:
    """One run folder in the work tree."""

    name: str
    path: Path
    place: str  # "" (training_runs/), "archive/failed" or "archive/incomplete"

    @property
    def rel(self) -> str:
        return "/".join(p for p in ("training_runs", self.place, self.name) if p)


def relative(project: Project, path: Path) -> str:
    """PATH relative to the project root, for messages (as is when outside)."""
    try:
        return Path(path).relative_to(project.root).as_posix()
    except ValueError:
        return str(path)


def escape_reason(project: Project, path: Path) -> str | None:
    """Why PATH must not be moved, deleted or read through (a symlink, or outside the project); None if fine."""
    if path.is_symlink():
        return f"{relative(project, path)} is a symlink (to {os.readlink(path)}); henryvc never acts through one"
    resolved = path.resolve()
    if resolved != project.root and project.root not in resolved.parents:
        return f"{relative(project, path)} resolves outside the project ({resolved})"
    return None


def check_layout(project: Project) -> None:
    """Refuse when training_runs/ or an archive folder leads out of the project."""
    for folder in (project.runs, *(project.runs / place for place in ARCHIVE_DIRS)):
        if (folder.exists() or folder.is_symlink()) and project.root not in folder.resolve().parents:
            raise NotReady(f"{relative(project, folder)} resolves outside the project ({folder.resolve()}); "
                           "henryvc moves and deletes nothing there: make it a folder inside the project")


def run_folders(project: Project, places: Iterable[str] = PLACES) -> list[RunFolder]:
    """Every entry named like a run in training_runs/ and its archive folders (symlinks included)."""
    found = []
    for place in places:
        folder = project.runs / place if place else project.runs
        if not folder.is_dir() or folder.is_symlink():
            continue
        for entry in sorted(folder.iterdir()):
            if runname.is_run_name(entry.name) and (entry.is_dir() or entry.is_symlink()):
                found.append(RunFolder(entry.name, entry, place))
    return found


def find_run(project: Project, name: str) -> RunFolder:
    """The folder of run NAME, in training_runs/ or its archive."""
    name = str(runname.parse(name))
    for folder in run_folders(project):
        if folder.name == name:
            return folder
    raise RunNotFound(f"no run folder {name} in training_runs/ or its archive: see `henryvc list`")


def inside_file(project: Project, path: Path) -> Path:
    """PATH, when reading it reads a file inside the project; NotReady when it leads out (no reading through)."""
    resolved = path.resolve()
    if project.root not in resolved.parents:
        raise NotReady(f"{relative(project, path)} leads outside the project ({resolved}); henryvc will not read it")
    return path


def load_record(project: Project, folder: RunFolder) -> records.RunRecord:
    """FOLDER's run.json, refused when it is a symlink or the folder leads out of the project."""
    path = folder.path / records.RECORD_FILE
    reason = escape_reason(project, folder.path) or (escape_reason(project, path) if path.is_symlink() else None)
    if reason:
        raise NotReady(reason)
    return records.load(folder.path)


def live_training(folder: RunFolder) -> bool:
    """True while a process holds the run's training lock (a symlinked lock file counts as held: unsafe)."""
    return (folder.path / records.LOCK_FILE).is_symlink() or records.is_training(folder.path)


# --- the journal ---------------------------------------------------------------------------------------

def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def journal(project: Project, entry: dict[str, Any], sync: bool = True) -> None:
    """Append ENTRY to .henryvc/journal.jsonl in one write, so a kill leaves whole lines.

    SYNC=False leaves the fsync to one sync_journal() after a batch: a killed process loses nothing
    (the kernel has the line), only a power cut can, and archive re-records what it finds unrecorded.
    """
    project.state.mkdir(exist_ok=True)
    line = json.dumps({"at": _now(), **entry}, sort_keys=True) + "\n"
    try:
        fd = os.open(project.state / JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise HenryvcError(f"could not write {project.state / JOURNAL} ({exc.strerror}) after: {entry}; "
                           "free space, then run the command again (it carries on)") from None


def sync_journal(project: Project) -> None:
    """fsync the journal once, after a batch of journal(..., sync=False) lines."""
    try:
        fd = os.open(project.state / JOURNAL, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise HenryvcError(f"could not open {project.state / JOURNAL} ({exc.strerror}) to sync it") from None
    try:
        os.fsync(fd)
    except OSError as exc:
        raise HenryvcError(f"could not sync {project.state / JOURNAL} ({exc.strerror}): free space or check the "
                           "disk, then run the command again (it carries on)") from None
    finally:
        os.close(fd)


def read_journal(project: Project) -> list[dict[str, Any]]:
    """The journal's entries, oldest first (a torn last line is skipped)."""
    path = project.state / JOURNAL
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


# --- git: tags (commits of moved or deleted run files go through cli.gitrepo) ---------------------------

def tag_summaries(git_repo, pattern: str = runname.TAG_GLOB) -> dict[str, dict[str, Any]]:
    """Tag name → its henryvc summary ({} for a tag without one), in one git call."""
    from henryvc.summary import parse_message

    return {tag.name: (parse_message(tag.body) or {}) for tag in gitrepo.read_tags(git_repo, pattern)}


# --- archive -------------------------------------------------------------------------------------------

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


def active_run(project: Project) -> str | None:
    """The run params.yaml points at (what `dvc repro` trains), or None."""
    import yaml

    try:
        data = yaml.safe_load(project.params.read_text(encoding="utf-8")) if project.params.is_file() else None
    except (yaml.YAMLError, OSError, UnicodeDecodeError):
        return None
    return str(data.get("run")) if isinstance(data, dict) and data.get("run") else None


def _judge(project: Project, folder: RunFolder, tags: dict[str, dict[str, Any]],
           active: str | None = None) -> ArchiveAction:
    action = ArchiveAction(folder.name, None, "skip", folder.rel)
    action.reason = escape_reason(project, folder.path) or ""
    if action.reason:
        return action
    if live_training(folder):
        action.reason = "training now (a process holds its training lock): never moved"
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
    target = f"training_runs/{FAILED_PLACE if action.verdict == 'failed' else INCOMPLETE_PLACE}/{folder.name}"
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


@contextmanager
def holding_training_lock(folder: Path) -> Iterator[list[Path]]:
    """Hold FOLDER's training lock so training cannot start while henryvc moves or deletes it.

    Yields a list: empty when a process trains it (act on nothing), else [FOLDER]; a caller that moves
    the folder replaces that entry with where it went, so a lock file made here is removed from there.
    """
    from filelock import Timeout

    lock_file = folder / records.LOCK_FILE
    if lock_file.is_symlink():  # never opened through a symlink: treated as held
        yield []
        return
    created = not lock_file.exists()
    lock = records.training_lock(folder)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        yield []
        return
    where = [folder]
    try:
        yield where
    finally:
        lock.release()
        if created and where and where[0].is_dir():
            (where[0] / records.LOCK_FILE).unlink(missing_ok=True)


def _move(folder: RunFolder, target: Path) -> str | None:
    """Rename FOLDER to TARGET holding its training lock; why it did not, or None."""
    with holding_training_lock(folder.path) as held:
        if not held:
            return "training started meanwhile: never moved"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(folder.path, target)
        except OSError as exc:
            return f"rename failed ({exc.strerror}): nothing moved"
        held[0] = target
    return None


def _git_moves(project: Project, git_repo) -> list[tuple[str, str]]:
    """(old, new) of archived runs git still tracks at their old place: this archive's moves and a killed one's."""
    tracked_top = {Path(f).name for f in map(run_folder_of, gitrepo.tracked(git_repo, ["training_runs"]))
                   if f and f.count("/") == 1}
    return [(f"training_runs/{f.name}", f.rel) for f in run_folders(project, ARCHIVE_DIRS)
            if f.name in tracked_top and not (project.root / "training_runs" / f.name).exists()]


def _commit_moves(project: Project, git_repo, moves: list[tuple[str, str]]) -> str | None:
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
    check_layout(project)
    if dry_run:  # reads only: no lock file, no marker, no journal
        tags, active = tag_summaries(gitrepo.open_repo(project.root)), active_run(project)
        return ArchiveResult(True, [_judge(project, f, tags, active) for f in run_folders(project, ("",))])
    with project.lock():
        return _archive_locked(project)


def _archive_locked(project: Project) -> ArchiveResult:
    git_repo = gitrepo.open_repo(project.root)
    tags, active = tag_summaries(git_repo), active_run(project)
    plans = [(f, _judge(project, f, tags, active)) for f in run_folders(project, ("",))]
    if _git_moves(project, git_repo) or gitrepo.tracked(git_repo, [a.source for _, a in plans if a.action == "move"]):
        gitrepo.require_branch(git_repo, "recording the moves")
    result = ArchiveResult(False)
    for folder, action in plans:
        if action.action == "keep":
            action.done = _mark_success(folder)
        elif action.action == "move":
            problem = _move(folder, project.root / action.target)
            if problem:
                action.action, action.target, action.reason = "skip", None, problem
            else:
                action.done = True
                # One fsync for the whole batch (below), not one per folder: 200 fsyncs were most of
                # an archive's time on a busy disk.
                journal(project, {"action": "archive", "run": folder.name, "verdict": action.verdict,
                                  "from": action.source, "to": action.target}, sync=False)
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


# --- DVC: which remote a backup goes to (the remote, listing and lock helpers are in cli.dvcrepo) --------

def backup_remote(dvc_repo, name: str | None = None) -> str:
    """NAME, else the remote called "backup" when configured, else the default remote."""
    remotes = dvc_repo.config.get("remote", {})
    if name:
        if name not in remotes:
            raise BadInput(f"no DVC remote named {name!r} (configured: {', '.join(remotes) or 'none'}); "
                           f"add one with `dvc remote add {name} URL`")
        return name
    if BACKUP_REMOTE in remotes:
        return BACKUP_REMOTE
    default = dvcrepo.default_remote(dvc_repo)
    if not default:
        raise NotReady("no DVC remote is configured: `dvc remote add -d storage URL` (or `henryvc init --remote`)")
    return default


# --- coverage: is every file of a run folder held by some tag, in git or as DVC data? -----------------

@dataclass
class Source:
    """One git revision that may hold a run folder: where the folder was then, its git files and DVC outputs."""

    rev: str
    prefix: str
    blobs: dict[str, tuple[str, str, int]]  # path → (mode, sha, size)
    outs: list[Out]


def source_at(git_repo, rev: str, prefix: str) -> Source:
    """The git files under PREFIX and the DVC outputs under PREFIX at REV."""
    blobs = {}
    for line in git_repo.git.ls_tree("-r", "-l", "-z", rev, "--", prefix + "/").split("\0"):
        meta, _, path = line.partition("\t")
        parts = meta.split()
        if len(parts) == 4 and parts[1] == "blob":
            blobs[path] = (parts[0], parts[2], int(parts[3]))
    outs = [o for o in dvcrepo.outs_at(git_repo, rev) if o.cached and o.path.startswith(prefix + "/")]
    return Source(rev, prefix, blobs, outs)


def walk_files(top: Path) -> Iterator[Path]:
    """Every file and symlink under TOP (TOP itself when it is a symlink), never following a symlink."""
    if top.is_symlink():
        yield top
        return
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        base = Path(dirpath)
        yield from (base / name for name in dirnames if (base / name).is_symlink())
        yield from (base / name for name in filenames)


def _git_blob(path: Path) -> str:
    data = os.fsencode(os.readlink(path)) if path.is_symlink() else path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _in_git(source: Source, path: Path, rel: str) -> bool:
    entry = source.blobs.get(f"{source.prefix}/{rel}")
    if entry is None:
        return False
    mode, sha, size = entry
    link = path.is_symlink()
    if link != (mode == "120000") or not (link or path.is_file()):  # a FIFO or device is never read
        return False
    try:
        return (link or path.lstat().st_size == size) and _git_blob(path) == sha
    except OSError:
        return False


def same_content(path: Path, md5: str, cache: Path) -> bool:
    """True when PATH holds object MD5: the cache's inode, a symlink to it, or the same bytes (re-hashed)."""
    from henryvc.snapshot import md5_file

    obj = dvcrepo.object_path(cache, Out("", md5, False))
    if path.is_symlink():
        return os.path.realpath(path) == os.path.realpath(obj)  # link targets only: nothing is read through
    if not path.is_file():
        return False
    try:
        if obj.is_file():
            if os.path.samefile(obj, path):
                return True
            if obj.stat().st_size != path.stat().st_size:
                return False
        return md5_file(path) == md5
    except OSError:  # unreadable: cannot be shown to match
        return False


@dataclass
class Coverage:
    """Files of a run folder that no source holds, and the DVC objects the others need."""

    uncovered: list[str] = field(default_factory=list)
    oids: set[str] = field(default_factory=set)


def coverage(folder: Path, sources: list[Source], cache: Path, odb=None, subdir: str | None = None) -> Coverage:
    """Check every file under FOLDER (or FOLDER/SUBDIR) against the git files and DVC outputs of SOURCES."""
    outs = []  # (out, its path inside the run folder, relpath → md5)
    for source in sources:
        for out in source.outs:
            files = dvcrepo.out_files(cache, odb, out)
            if files is not None:
                outs.append((out, out.path[len(source.prefix) + 1:], files))
    result = Coverage()
    top = folder / subdir if subdir else folder
    for path in walk_files(top) if top.is_dir() or top.is_symlink() else []:
        rel = path.relative_to(folder).as_posix()
        if rel in HENRYVC_FILES or any(_in_git(source, path, rel) for source in sources):
            continue
        needed = _dvc_cover(path, rel, outs, cache)
        if needed is None:
            result.uncovered.append(rel)
        else:
            result.oids |= needed
    return result


def _dvc_cover(path: Path, rel: str, outs: list, cache: Path) -> set[str] | None:
    """The objects that hold PATH (at REL in its run folder) in one of OUTS, or None."""
    for out, out_rel, files in outs:
        if out.is_dir and rel.startswith(out_rel + "/"):
            md5 = files.get(rel[len(out_rel) + 1:])
        elif not out.is_dir and rel == out_rel:
            md5 = out.md5
        else:
            continue
        if md5 and same_content(path, md5, cache):
            return {md5, out.md5 + ".dir"} if out.is_dir else {md5}
    return None


# --- cleanup-failed ------------------------------------------------------------------------------------

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


def _candidate(project: Project, git_repo, folder: RunFolder, tags, cache: Path, odb) -> _Candidate:
    """What is known about FOLDER's checkpoints before asking the remote."""
    ckpt = folder.path / CHECKPOINTS
    cand = _Candidate(folder, CleanupItem(folder.name, f"{folder.rel}/{CHECKPOINTS}", "skip"))
    cand.item.reason = escape_reason(project, folder.path) or ""
    if cand.item.reason:
        return cand
    if live_training(folder):
        cand.item.reason = "training now: never deleted"
        return cand
    if folder.name in tags:  # whatever the work tree holds, the cache may give back what the remote has
        outs = dvcrepo.cached_outs_at(git_repo, folder.name)
        if all(dvcrepo.out_files(cache, odb, out) is not None for out in outs):
            cand.tag_oids = set().union(*(dvcrepo.out_oids(cache, odb, out) for out in outs))
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
    source = source_at(git_repo, folder.name, f"training_runs/{folder.name}")
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
    if cand.problem is None and cand.oids and not all(o in present or dvcrepo.in_cache(cache, o) for o in cand.oids):
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


def kept_commits(git_repo, keep_tags: set[str]) -> list[str]:
    """The commits of KEEP_TAGS, of every branch and of every DVC experiment (one git call)."""
    out = git_repo.git.for_each_ref("--format=%(refname)%00%(objectname)%00%(*objectname)",
                                    "refs/heads", "refs/exps", "refs/tags")
    commits = set()
    for line in out.splitlines():
        ref, obj, peeled = line.split("\0")
        if not ref.startswith("refs/tags/") or ref[len("refs/tags/"):] in keep_tags:
            commits.add(peeled or obj)
    return sorted(commits)


def used_oids(project: Project, git_repo, commits: list[str], cache: Path, odb) -> set[str]:
    """Every object the DVC outputs of COMMITS and of the work tree need, read from git itself (not through
    DVC, whose view of an old revision breaks when a remote was added later with a local keyfile)."""
    outs = [out for out in dvcrepo.workspace_outs(project.root) if out.cached]
    outs += [out for commit in commits for out in dvcrepo.cached_outs_at(git_repo, commit)]
    used = set()
    for out in set(outs):
        if dvcrepo.out_files(cache, odb, out) is None:
            raise NotReady(f"the listing of {out.path} ({out.md5}.dir) is neither in the cache nor on the remote, "
                           "so what it keeps cannot be known: the cache is left alone")
        used |= dvcrepo.out_oids(cache, odb, out)
    return used


def _gc_scope(dvc_repo, used_values: set[str]) -> list[tuple[Any, set, list[Path]]]:
    """(cache ODB, used hash infos, paths gc would remove) per cache ODB; USED_VALUES are kept under either
    hash name (md5 and DVC 2's md5-dos2unix), so nothing is dropped for a naming difference."""
    from dvc_data.hashfile.hash_info import HashInfo

    used = {HashInfo(name, value) for value in used_values for name in ("md5", "md5-dos2unix")}
    scopes, seen = [], set()
    for _scheme, odb in dvc_repo.cache.by_scheme():
        if odb and odb.path not in seen:
            seen.add(odb.path)
            scopes.append((odb, used, [Path(odb.oid_to_path(oid)) for oid in odb.all() if oid not in used_values]))
    return scopes


def cleanup_failed(project: Project, older_than: float | None = None, dry_run: bool = False,
                   force: bool = False, only: set[str] | None = None,
                   now: Callable[[], datetime] = datetime.now) -> CleanupPlan:
    """`henryvc cleanup-failed`: free failed runs' checkpoints that can be brought back, then DVC's gc."""
    if older_than is not None and not 0 <= older_than <= MAX_DAYS:  # also refuses nan and inf
        raise BadInput(f"--older-than takes a number of days from 0 to {MAX_DAYS}, got {older_than}")
    check_layout(project)
    if dry_run:
        return _cleanup(project, older_than, force, only, now(), execute=False)
    with project.lock():
        return _cleanup(project, older_than, force, only, now(), execute=True)


def _cleanup(project: Project, older_than: float | None, force: bool, only: set[str] | None, now: datetime,
             execute: bool) -> CleanupPlan:
    from dvc_data.hashfile.gc import gc as dvc_gc

    git_repo = gitrepo.open_repo(project.root)
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
        keep = sorted((set(tags) - dropped) | set(tag_summaries(git_repo, SNAPSHOT_GLOB)))
        plan.kept_tags = len(keep)
        scopes = []
        if not gc_allowed:
            plan.gc_skipped = ("another DVC process (a `dvc repro`?) holds DVC's repository lock: the cache is "
                               "left alone; run cleanup-failed again when it has finished")
        else:
            try:
                used = used_oids(project, git_repo, kept_commits(git_repo, set(keep)), cache, odb)
                scopes = _gc_scope(dvc_repo, used | _protected_oids(project, cache, set(deletions)))
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
        for gc_odb, used, _ in scopes:
            dvc_gc(gc_odb, used)
        if scopes:
            journal(project, {"action": "gc", "kept_tags": len(keep), "objects": plan.gc_objects,
                              "bytes": plan.gc_bytes})
    plan.done = True
    return plan


def _delete_checkpoints(project: Project, cand: _Candidate, force: bool) -> None:
    item = cand.item
    with holding_training_lock(cand.folder.path) as held:
        if not held:
            item.action, item.reason = "skip", "training started meanwhile: never deleted"
            return
        _remove(project.root / item.path)
    journal(project, {"action": "cleanup-failed", "run": item.run, "deleted": item.path, "files": item.files,
                      "recoverable": item.recoverable, "forced": force})


def _default_odb(dvc_repo):
    name = dvcrepo.default_remote(dvc_repo)
    try:
        return dvcrepo.remote_odb(dvc_repo, name) if name else None
    except Exception:  # a remote that cannot even be configured holds nothing we can count on
        return None


def _remote_subset(odb, oids: set[str], cache: Path) -> set[str]:
    if odb is None:
        return set()
    try:
        return dvcrepo.on_remote(odb, oids, cache)
    except HenryvcError:
        return set()  # unreachable: nothing counts as backed up, so nothing leaves the cache


def _remove(path: Path) -> None:
    """Delete PATH: a symlink is unlinked (its target untouched), a folder removed without following links."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


# --- snapshot ------------------------------------------------------------------------------------------

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


def _too_big_for_git(project: Project, git_repo) -> list[str]:
    """Files `git add -A` would take (untracked and not ignored, or modified) that are over MAX_GIT_FILE_BYTES."""
    listed = git_repo.git.ls_files("-z", "--others", "--modified", "--exclude-standard").split("\0")
    found = []
    for rel in sorted({r for r in listed if r}):
        path = project.root / rel
        if path.is_file() and not path.is_symlink() and path.stat().st_size > MAX_GIT_FILE_BYTES:
            found.append(f"{rel} ({path.stat().st_size} bytes)")
    return found


def _free_snapshot_name(git_repo, now: Callable[[], datetime]) -> str:
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
        return _snapshot_locked(project, message, push, remote, now)


def _snapshot_locked(project: Project, message: str, push: bool, remote: str | None,
                     now: Callable[[], datetime]) -> SnapshotResult:
    git_repo = gitrepo.open_repo(project.root)
    unsaved = _unsaved(dvcrepo.status(project.root))
    if unsaved:
        raise NotReady(f"DVC outputs differ from dvc.lock: {', '.join(unsaved[:5])}; a snapshot could not bring "
                       "them back: `dvc commit` (or `dvc repro`) first")
    big = _too_big_for_git(project, git_repo)
    if big:
        raise NotReady(f"git would have to take {', '.join(big[:5])}: track it with DVC (`dvc add`) or list it "
                       "in .gitignore, then snapshot again")
    with dvcrepo.open_repo(project.root) as dvc_repo:
        remote = backup_remote(dvc_repo, remote) if push else None
        outs = dvcrepo.workspace_outs(project.root)
        missing = dvcrepo.missing_objects(dvcrepo.cache_of(dvc_repo), outs)
    name = _free_snapshot_name(git_repo, now)
    gitrepo.write(git_repo, "add", "-A")
    if gitrepo.head(git_repo) is None or git_repo.index.diff("HEAD"):
        gitrepo.write(git_repo, "commit", "--quiet", "--no-verify", "-m", f"henryvc: snapshot {name}")
    commit = gitrepo.head(git_repo)
    summary = {"format": SNAPSHOT_FORMAT, "snapshot": name, "message": message, "created": _now(),
               "runs": [f.rel for f in run_folders(project)], "data": {o.path: o.to_dict() for o in outs},
               "not_in_cache": missing}
    subject = f"henryvc snapshot {name}" + (f": {message.strip().splitlines()[0]}" if message.strip() else "")
    gitrepo.create_tag(git_repo, name, commit, f"{subject}\n\n{json.dumps(summary, indent=2, sort_keys=True)}\n")
    journal(project, {"action": "snapshot", "tag": name, "commit": commit})
    pushed = dvcrepo.push(project.root, remote) if push else 0
    return SnapshotResult(name, commit, message, remote, pushed, push and _push_tags(git_repo, [name]), summary)


def _push_tags(git_repo, names: list[str]) -> bool:
    """Push tags NAMES to origin when it exists (tags never move, so this never overwrites one)."""
    if not names or GIT_REMOTE not in [r.name for r in git_repo.remotes]:
        return False
    import git

    try:
        git_repo.git.push(GIT_REMOTE, *(f"refs/tags/{n}:refs/tags/{n}" for n in names))
    except git.GitCommandError as exc:
        raise HenryvcError(f"git push of tags to {GIT_REMOTE} failed: {exc.stderr.strip()}") from None
    from henryvc import review

    gitrepo.push_ref(git_repo, review.NOTES_REF, GIT_REMOTE)  # the runs' reviews travel with their tags
    return True


def _push_all(dvc_repo, remote: str) -> int:
    """Push every tag's and the work tree's DVC data to REMOTE; how many objects went."""
    from dvc.exceptions import DvcException

    try:
        return dvc_repo.push(all_tags=True, remote=remote)
    except (DvcException, OSError) as exc:  # ssh remotes fail with OSError (refused key, server down)
        raise HenryvcError(f"dvc push to {remote} failed: {exc}") from None


# --- reset ---------------------------------------------------------------------------------------------

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
    check_layout(project)
    return _plan_reset(project, remote, snapshot_tag=None)


def _plan_reset(project: Project, remote: str | None, snapshot_tag: str | None) -> ResetPlan:
    git_repo = gitrepo.open_repo(project.root)
    tags = tag_summaries(git_repo)
    with dvcrepo.open_repo(project.root) as dvc_repo:
        plan = ResetPlan(backup_remote(dvc_repo, remote))
        cache, odb = dvcrepo.cache_of(dvc_repo), dvcrepo.remote_odb(dvc_repo, plan.remote)
        found: dict[str, Coverage] = {}
        for folder in run_folders(project):
            item, cover = _judge_reset(project, git_repo, folder, tags, cache, odb, snapshot_tag)
            plan.items.append(item)
            if cover is not None:
                found[folder.name] = cover
        wanted = set().union(*(c.oids for c in found.values()))
        present = dvcrepo.on_remote(odb, wanted, cache)
    plan.to_push = len(wanted - present)
    for item in plan.items:
        cover = found.get(item.run)
        lost = sorted(o for o in cover.oids - present if not dvcrepo.in_cache(cache, o)) if cover else []
        if lost:
            item.state, item.reason = "refused", f"{len(lost)} DVC object(s) are neither in the cache nor on the remote"
        elif item.state == "backed-up" and cover and not cover.oids <= present:
            item.state, item.reason = "push", f"{len(cover.oids - present)} object(s) to push to {plan.remote}"
    return plan


def _judge_reset(project: Project, git_repo, folder: RunFolder, tags, cache: Path, odb,
                 snapshot_tag: str | None) -> tuple[ResetItem, Coverage | None]:
    item = ResetItem(folder.name, folder.rel, "refused", folder.name in tags)
    item.reason = escape_reason(project, folder.path) or ("training now: never deleted" if live_training(folder) else "")
    if item.reason:
        return item, None
    sources = [source_at(git_repo, folder.name, f"training_runs/{folder.name}")] if item.tagged else []
    if snapshot_tag:
        sources.append(source_at(git_repo, snapshot_tag, folder.rel))
    cover = coverage(folder.path, sources, cache, odb)
    item.files = sum(1 for _ in walk_files(folder.path))
    item.uncovered = cover.uncovered
    item.state = "snapshot" if cover.uncovered else "backed-up"
    if cover.uncovered and snapshot_tag is None:
        _predict_snapshot(project, git_repo, folder, item, cache)
    return item, cover


def _predict_snapshot(project: Project, git_repo, folder: RunFolder, item: ResetItem, cache: Path) -> None:
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


def _git_would_not_take(project: Project, git_repo, paths: list[str]) -> list[str]:
    """Those of PATHS a snapshot commit could not hold: ignored by git, or too big for it."""
    import git

    if not paths:
        return []
    try:
        ignored = set(git_repo.git.check_ignore("--no-index", "--", *paths).splitlines())
    except git.GitCommandError:  # exit 1: none is ignored
        ignored = set()
    return [p for p in paths if p in ignored or
            (not (project.root / p).is_symlink() and (project.root / p).lstat().st_size > MAX_GIT_FILE_BYTES)]


def reset(project: Project, remote: str | None = None, only: set[str] | None = None,
          message: str = "before henryvc reset") -> ResetPlan:
    """`henryvc reset`: push and snapshot what is not backed up, check every file is held, then clear the runs."""
    check_layout(project)
    with project.lock():
        plan = _plan_reset(project, remote, snapshot_tag=None)
        _refuse(plan, only)
        git_repo = gitrepo.open_repo(project.root)
        if gitrepo.tracked(git_repo, [i.path for i in plan.items]):
            gitrepo.require_branch(git_repo, "recording the reset")
        snap = None
        if any(i.state == "snapshot" for i in plan.items):
            snap = _snapshot_locked(project, message, True, plan.remote, datetime.now).name
        if plan.to_push:
            with dvcrepo.open_repo(project.root) as dvc_repo:
                _push_all(dvc_repo, plan.remote)
        final = _plan_reset(project, plan.remote, snapshot_tag=snap)
        final.snapshot = snap
        unheld = [i for i in final.items if i.state != "backed-up"]
        if unheld:
            shown = "; ".join(f"{i.run}: {i.reason or ', '.join(i.uncovered[:3])}" for i in unheld[:5])
            raise IntegrityError(f"after pushing and snapshotting, not everything is held ({shown}); nothing was deleted")
        for item in final.items:
            with holding_training_lock(project.root / item.path) as held:
                if not held:
                    raise NotReady(f"{item.run} started training meanwhile; it and the runs after it were kept")
                _remove(project.root / item.path)
            journal(project, {"action": "reset", "run": item.run, "deleted": item.path, "snapshot": snap})
        final.commit = _commit_deletions(project, git_repo)
        final.done = True
        return final


def _refuse(plan: ResetPlan, only: set[str] | None) -> None:
    if plan.refused:
        shown = "; ".join(f"{i.run}: {i.reason}" for i in plan.refused[:5])
        raise NotReady(f"reset refuses, nothing was deleted: {shown}")
    if only is not None and {i.run for i in plan.items} - only:
        raise NotReady("the runs changed since you confirmed; run `henryvc reset` again")


def _commit_deletions(project: Project, git_repo) -> str | None:
    """Commit the removal of git-tracked run folders gone from the work tree (this reset's, and a killed one's)."""
    gone = sorted({f for f in map(run_folder_of, gitrepo.tracked(git_repo, ["training_runs"]))
                   if f and not (project.root / f).exists()})
    if not gone:
        return None
    gitrepo.write(git_repo, "rm", "-r", "-q", "--cached", "--ignore-unmatch", "--", *gone)
    return gitrepo.commit_only(git_repo, gone, "henryvc: reset workspace runs")


def run_folder_of(path: str) -> str | None:
    """The run folder (training_runs/NAME or training_runs/archive/X/NAME) that PATH lies in, or None."""
    parts = Path(path).parts
    if len(parts) > 2 and runname.is_run_name(parts[1]):
        return "/".join(parts[:2])
    if len(parts) > 4 and "/".join(parts[1:3]) in ARCHIVE_DIRS and runname.is_run_name(parts[3]):
        return "/".join(parts[:4])
    return None


# --- backup --------------------------------------------------------------------------------------------

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

    @property
    def ok(self) -> bool:
        return not self.missing

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def all_tags(git_repo) -> list[str]:
    """Every run tag and snapshot tag."""
    return sorted(tag_summaries(git_repo)) + sorted(
        t for t in tag_summaries(git_repo, SNAPSHOT_GLOB) if is_snapshot_name(t))


def tag_objects(git_repo, tags: list[str], cache: Path, odb) -> dict[str, tuple[str, str]]:
    """oid → (tag, path) of its first user, for every object the DVC outputs of TAGS need."""
    wanted: dict[str, tuple[str, str]] = {}
    for tag in tags:
        for out in dvcrepo.cached_outs_at(git_repo, tag):
            if out.is_dir:
                wanted.setdefault(out.md5 + ".dir", (tag, out.path))
            for rel, md5 in (dvcrepo.out_files(cache, odb, out) or {}).items():
                wanted.setdefault(md5, (tag, f"{out.path}/{rel}" if rel else out.path))
    return wanted


def _best_objects(project: Project, git_repo, tags: list[str], cache: Path) -> dict[str, tuple[str, str]]:
    """The work tree's voice data (outputs outside training_runs/) and each tag's best_model* files."""
    wanted = {oid: ("workspace", out.path) for out in dvcrepo.workspace_outs(project.root)
              if out.cached and not out.path.startswith("training_runs/") for oid in dvcrepo.out_oids(cache, None, out)}
    for oid, (tag, path) in tag_objects(git_repo, tags, cache, None).items():
        if BEST_MODEL.search(path):
            wanted.setdefault(oid, (tag, path))
    return wanted


def backup(project: Project, remote: str | None = None, best_only: bool = False) -> BackupResult:
    """`henryvc backup`: push every tag's critical data (and the work tree's) to the backup remote."""
    git_repo = gitrepo.open_repo(project.root)
    tags = all_tags(git_repo)
    with dvcrepo.open_repo(project.root) as dvc_repo:
        name = backup_remote(dvc_repo, remote)
        cache, odb = dvcrepo.cache_of(dvc_repo), dvcrepo.remote_odb(dvc_repo, name)
        if best_only:
            pushed, wanted = 0, _best_objects(project, git_repo, tags, cache)
        else:
            pushed, wanted = _push_all(dvc_repo, name), tag_objects(git_repo, tags, cache, odb)
        filled, holes = dvcrepo.fill_holes(dvc_repo, name, odb, wanted.keys(), cache)
        url = dvcrepo.remote_url(dvc_repo, name)
    lost = _missing(wanted, holes)
    return BackupResult(name, url, best_only, tags, pushed + filled, _push_tags(git_repo, tags), lost)


def verify_backup(project: Project, remote: str | None = None) -> BackupCheck:
    """`henryvc backup --verify`: does the remote hold every object of every tag? (Reads only.)"""
    git_repo = gitrepo.open_repo(project.root)
    tags = all_tags(git_repo)
    with dvcrepo.open_repo(project.root) as dvc_repo:
        name = backup_remote(dvc_repo, remote)
        cache, odb = dvcrepo.cache_of(dvc_repo), dvcrepo.remote_odb(dvc_repo, name)
        wanted = tag_objects(git_repo, tags, cache, odb)
        problems = dvcrepo.remote_problems(odb, wanted.keys(), cache)
        check = BackupCheck(name, dvcrepo.remote_url(dvc_repo, name), len(tags), len(wanted))
    check.missing = _missing(wanted, problems)
    return check


def _missing(wanted: dict[str, tuple[str, str]], problems: dict[str, str]) -> list[MissingObject]:
    """The objects with PROBLEMS, named by the (tag, path) WANTED records for each, in that order."""
    return [MissingObject(*wanted[oid], oid, problems[oid]) for oid in sorted(problems, key=wanted.get)]


# --- schedule ------------------------------------------------------------------------------------------

@dataclass
class Schedule:
    """Text to install by hand: crontab lines or systemd user units."""

    kind: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# (name, what, henryvc arguments, crontab time, systemd OnCalendar)
JOBS = (
    ("weekly", "best-model backup", ["backup", "--best-only"], "0 3 * * 0", "Sun *-*-* 03:00:00"),
    ("monthly", "full backup, then a check that the remote holds every tag's objects", ["backup"],
     "0 4 1 * *", "*-*-01 04:00:00"),
)


def henryvc_command() -> list[str]:
    """How a scheduler should start this henryvc: the console script beside this Python, else python -m."""
    script = Path(sys.executable).parent / "henryvc"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("henryvc")
    return [found] if found else [sys.executable, "-m", "henryvc.main"]


def schedule(project: Project, kind: str = "cron") -> Schedule:
    """`henryvc schedule`: the seed's weekly best-model and monthly full backups, as text to install."""
    if kind not in ("cron", "systemd"):
        raise BadInput(f"schedule kind must be cron or systemd, got {kind!r}")
    return Schedule(kind, _cron(project) if kind == "cron" else _systemd(project))


def _cron(project: Project) -> str:
    exe = " ".join(shlex.quote(p) for p in henryvc_command())
    root, log = shlex.quote(str(project.root)), shlex.quote(str(project.state / "backup.log"))
    lines = [f"# henryvc backups of {project.root}: add them with `crontab -e` (henryvc installs nothing)"]
    for when, what, args, cron, _ in JOBS:
        command = f"cd {root} && {exe} {' '.join(args)} >> {log} 2>&1"
        if when == "monthly":
            command += f" && {exe} backup --verify >> {log} 2>&1"
        lines += [f"# {when}: {what}", f"{cron} {command.replace('%', chr(92) + '%')}"]  # % ends a cron command
    return "\n".join(lines) + "\n"


def _systemd(project: Project) -> str:
    exe = " ".join(_systemd_quote(p) for p in henryvc_command())
    units = [f"# henryvc backups of {project.root}: save each unit below under ~/.config/systemd/user/, then\n"
             "#   systemctl --user daemon-reload\n#   systemctl --user enable --now "
             + " ".join(f"henryvc-backup-{when}.timer" for when, *_ in JOBS)]
    for when, what, args, _, calendar in JOBS:
        starts = [f"ExecStart={exe} {' '.join(args)}"] + ([f"ExecStart={exe} backup --verify"] if when == "monthly" else [])
        units.append(f"# henryvc-backup-{when}.service\n[Unit]\nDescription=henryvc {when} {what}\n\n[Service]\n"
                     f"Type=oneshot\nWorkingDirectory={project.root}\n" + "\n".join(starts) + "\n")
        units.append(f"# henryvc-backup-{when}.timer\n[Unit]\nDescription=henryvc {when} backup\n\n[Timer]\n"
                     f"OnCalendar={calendar}\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n")
    return "\n".join(units)


def _systemd_quote(word: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_./:=+-]+", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
