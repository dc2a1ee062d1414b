"""Run folders: where a run's folder is (training_runs/NAME, training_runs/archive/failed/NAME,
training_runs/archive/incomplete/NAME) and whether henryvc may act on it (path safety).

The one owner of that question: the registry, the lifecycle commands, monitoring and the project ask here.
See docs/lifecycle.md for the rules. Reads only, except remove() and the training lock held while moving.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from henryvc.core import record as records
from henryvc.core import runname
from henryvc.errors import NotReady, RunNotFound


class Out(Protocol):
    """What a run folder needs of a DVC output (henryvc.adapters.dvcrepo.Out has it): its repo-relative path."""

    @property
    def path(self) -> str: ...


OutT = TypeVar("OutT", bound=Out)


class Project(Protocol):
    """What a run folder needs of its project (henryvc.core.project.Project has it): its root."""

    @property
    def root(self) -> Path: ...


RUNS_DIR = "training_runs"
ARCHIVE_DIRS = ("archive/failed", "archive/incomplete")
PLACES = ("", *ARCHIVE_DIRS)
FAILED_PLACE, INCOMPLETE_PLACE = ARCHIVE_DIRS
MARKER = "SUCCESS"  # archive's mark on a successful run
LOG_FILE = "training_v2.log"  # the train stage's log in a run folder
# Files henryvc itself puts in a run folder: derivable, not part of the run's data.
HENRYVC_FILES = (records.LOCK_FILE, MARKER)


def runs_dir(root: Path) -> Path:
    """The training_runs/ folder of the project at ROOT."""
    return Path(root) / RUNS_DIR


def run_dir(root: Path, name: object) -> Path:
    """The folder of run NAME in training_runs/ (NAME a RunName, so never a path that escapes)."""
    return runs_dir(root) / str(name)


def run_path(name: object, *parts: str) -> str:
    """The repo-relative path (posix) of run NAME's folder, or of PARTS inside it, as git and DVC name it."""
    return "/".join((RUNS_DIR, str(name), *parts))


@dataclass(frozen=True)
class RunPaths:
    """Where a run keeps what in its folder training_runs/NAME: one place, so the stages, the commands and the
    tests agree."""

    root: Path
    name: str

    @property
    def run_dir(self) -> Path:
        return run_dir(self.root, self.name)

    @property
    def config(self) -> Path:
        return self.run_dir / "config.json"

    @property
    def data(self) -> Path:
        return self.run_dir / "data"

    @property
    def checkpoints(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def tensorboard(self) -> Path:
        return self.run_dir / "tensorboard"

    @property
    def logs(self) -> Path:
        return self.run_dir / "logs"

    @property
    def plots(self) -> Path:
        return self.run_dir / "plots"

    @property
    def samples(self) -> Path:
        return self.run_dir / "samples"

    @property
    def log_file(self) -> Path:
        return self.run_dir / LOG_FILE

    @property
    def step_losses(self) -> Path:
        return self.logs / "step_losses.jsonl"

    @property
    def epoch_losses(self) -> Path:
        return self.logs / "epoch_losses.jsonl"

    @property
    def metrics(self) -> Path:
        return self.run_dir / "metrics.json"


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
    for folder in (runs_dir(project.root), *(runs_dir(project.root) / place for place in ARCHIVE_DIRS)):
        if (folder.exists() or folder.is_symlink()) and project.root not in folder.resolve().parents:
            raise NotReady(f"{relative(project, folder)} resolves outside the project ({folder.resolve()}); "
                           "henryvc moves and deletes nothing there: make it a folder inside the project")


def run_folders(project: Project, places: Iterable[str] = PLACES) -> list[RunFolder]:
    """Every entry named like a run in training_runs/ and its archive folders (symlinks included)."""
    found = []
    for place in places:
        folder = runs_dir(project.root) / place if place else runs_dir(project.root)
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


def walk_files(top: Path) -> Iterator[Path]:
    """Every file and symlink under TOP (TOP itself when it is a symlink), never following a symlink."""
    if top.is_symlink():
        yield top
        return
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        base = Path(dirpath)
        yield from (base / name for name in dirnames if (base / name).is_symlink())
        yield from (base / name for name in filenames)


def run_folder_of(path: str) -> str | None:
    """The run folder (training_runs/NAME or training_runs/archive/X/NAME) that PATH lies in, or None."""
    parts = Path(path).parts
    if len(parts) > 2 and runname.is_run_name(parts[1]):
        return "/".join(parts[:2])
    if len(parts) > 4 and "/".join(parts[1:3]) in ARCHIVE_DIRS and runname.is_run_name(parts[3]):
        return "/".join(parts[:4])
    return None


def remove(path: Path) -> None:
    """Delete PATH: a symlink is unlinked (its target untouched), a folder removed without following links."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def run_outs(outs: list[OutT], name: str) -> list[OutT]:
    """The DVC outputs that live in run NAME's folder in training_runs/."""
    prefix = run_path(name) + "/"
    return [out for out in outs if out.path.startswith(prefix)]


def folder_index(project: Project) -> dict[str, str]:
    """Run-named folder -> its path relative to the project, in training_runs/ or its archive (first wins).

    One scandir per place: 2,000 tagged runs cost no Path and no stat each.
    """
    found: dict[str, str] = {}
    for place in PLACES:
        prefix = "/".join(p for p in (runs_dir(project.root).name, place) if p)
        try:
            with os.scandir(runs_dir(project.root) / place) as entries:
                # Real folders only (d_type, no stat): a symlink or a file is never read through.
                names = [e.name for e in entries if e.name.startswith("henry_v") and e.is_dir(follow_symlinks=False)]
        except (FileNotFoundError, NotADirectoryError):
            continue
        found.update((n, f"{prefix}/{n}") for n in names if n not in found)
    return found
