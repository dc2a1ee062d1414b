"""Reading a run's output: `henryvc logs` (follow training_v2.log) and `henryvc tensorboard`.

- **logs** reads `training_runs/[archive/...]/NAME/training_v2.log` (the file the train stage appends
  to); `follow` yields new text as it is appended, like `tail -F`: a truncated or replaced file is read
  again from its start, a file not there yet is waited for. A log that is a symlink leading out of the
  project is refused, never read through.
- **tensorboard** runs one TensorBoard over the chosen runs (default: every run in `training_runs/`
  with a `tensorboard/` folder) with `--logdir_spec NAME:training_runs/NAME/tensorboard,...` from the
  project root; the paths are relative and run names cannot contain `,` or `:`, so the spec is never
  ambiguous. TensorBoard comes with the `train` extra; without it the command says how to install it.

Plain functions returning data; nothing here prints or imports click.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.core import runfolder, runname
from henryvc.core.runfolder import LOG_FILE, RUNS_DIR
from henryvc.errors import NotReady, RunNotFound

if TYPE_CHECKING:
    from henryvc.core.project import Project

TENSORBOARD_DIR = "tensorboard"
POLL_S = 0.25
CHUNK = 64 * 1024


def log_path(project: Project, name: str) -> Path:
    """The training_v2.log of run NAME (it may not exist yet), a submitted run's in its job worktree."""
    try:
        folder = runfolder.find_run(project, name)
    except RunNotFound:
        from henryvc.core.project import Project as Checkout
        from henryvc.ops import submit

        worktree = submit.worktree_of(project, str(runname.parse(name)))
        if not worktree.is_dir():
            raise
        folder = runfolder.find_run(Checkout(worktree), name)
    reason = runfolder.escape_reason(project, folder.path)
    if reason:
        raise NotReady(reason)
    return folder.path / LOG_FILE


def _open_inside(project: Project, path: Path):
    runfolder.inside_file(project, path)
    return open(path, "rb")


def tail_start(handle, lines: int | None) -> None:
    """Seek HANDLE to where its last LINES lines begin (None: stay at the start)."""
    if lines is None:
        return
    size = handle.seek(0, os.SEEK_END)
    data = b""
    while size > 0 and data.count(b"\n") <= lines:
        step = min(8192, size)
        size -= step
        handle.seek(size)
        data = handle.read(step) + data
    keep = data.splitlines(keepends=True)[-lines:] if lines else []
    handle.seek(size + len(data) - sum(len(line) for line in keep))


def read_log(project: Project, name: str, follow: bool = False, lines: int | None = None,
             stop: Callable[[], bool] | None = None, poll_s: float = POLL_S) -> Iterator[str]:
    """Text of run NAME's training_v2.log, then (FOLLOW) whatever is appended, until STOP() is true."""
    path = log_path(project, name)
    stop = stop or (lambda: False)
    while not path.exists():
        if not follow:
            raise NotReady(f"{runfolder.relative(project, path)} does not exist yet: the train stage writes it "
                           "(`dvc repro`); `henryvc logs NAME -f` waits for it")
        if stop():
            return
        time.sleep(poll_s)
    handle = _open_inside(project, path)
    try:
        tail_start(handle, lines)
        while True:
            chunk = handle.read(CHUNK)
            if chunk:
                yield chunk.decode("utf-8", errors="replace")
                continue
            if not follow or stop():
                return
            time.sleep(poll_s)
            change = _change(path, handle)
            if change == "replaced":  # rotated: finish the old file, then read the new one from its start
                rest = handle.read()
                if rest:
                    yield rest.decode("utf-8", errors="replace")
                handle.close()
                handle = _open_inside(project, path)
            elif change == "truncated":
                handle.seek(0)
    finally:
        handle.close()


def _change(path: Path, handle) -> str | None:
    """"replaced" when PATH is now another file than HANDLE's, "truncated" when it shrank, else None."""
    try:
        current = path.stat()
    except FileNotFoundError:
        return None  # being replaced: keep reading the old one until the new one is there
    opened = os.fstat(handle.fileno())
    if (current.st_ino, current.st_dev) != (opened.st_ino, opened.st_dev):
        return "replaced"
    return "truncated" if current.st_size < handle.tell() else None


@dataclass
class TensorBoardLaunch:
    """The TensorBoard command for some runs, and where to run it."""

    argv: list[str]
    cwd: str
    runs: list[str]
    url: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tensorboard_executable() -> list[str]:
    """How to start TensorBoard: its script beside this Python, on PATH, or `python -m tensorboard.main`."""
    import importlib.util

    script = Path(sys.executable).parent / "tensorboard"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    if importlib.util.find_spec("tensorboard") is not None:
        return [sys.executable, "-m", "tensorboard.main"]
    found = shutil.which("tensorboard")
    if found:
        return [found]
    raise NotReady("TensorBoard is not installed: `pip install 'henryvc[train]'` (or `pip install tensorboard`)")


def tensorboard(project: Project, names: list[str], port: int = 6006, host: str = "localhost") -> TensorBoardLaunch:
    """One TensorBoard over the runs NAMES (default: every run in training_runs/ that has event files)."""
    folders = ([runfolder.find_run(project, n) for n in names] if names
               else [f for f in runfolder.run_folders(project, ("",)) if (f.path / TENSORBOARD_DIR).is_dir()])
    if not folders:
        raise NotReady(f"no run in {RUNS_DIR}/ has a tensorboard/ folder yet: name runs, or train one")
    spec = []
    for folder in folders:
        logdir = folder.path / TENSORBOARD_DIR
        reason = runfolder.escape_reason(project, folder.path) or (
            runfolder.escape_reason(project, logdir) if logdir.is_symlink() else None)
        if reason:
            raise NotReady(reason)
        spec.append(f"{folder.name}:{folder.rel}/{TENSORBOARD_DIR}")
    argv = [*tensorboard_executable(), "--logdir_spec", ",".join(spec), "--port", str(port), "--host", host]
    return TensorBoardLaunch(argv, str(project.root), [f.name for f in folders], f"http://{host}:{port}/")


def run_tensorboard(launch: TensorBoardLaunch) -> int:
    """Run LAUNCH in the foreground until it ends or Ctrl-C; its exit code."""
    process = subprocess.Popen(launch.argv, cwd=launch.cwd)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=10)
        raise
