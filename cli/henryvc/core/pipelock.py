"""One pipeline at a time per project: the lock `henryvc run` and `resume` hold from before new-run to the tag.

params.yaml's `run` is the one run `dvc repro` trains. Between `new-run` pointing it at run A and A's
`dvc repro` taking DVC's own lock there is a window (seconds: DVC's start-up) in which a second
`henryvc run` could re-point it at B, so that A's `dvc repro` trained B's folder. Holding this lock for the
whole pipeline, and refusing at once when another process holds it, closes that window: the second
command is refused before it writes anything and says which run holds the project.

It is an OS lock (filelock): a SIGKILLed `henryvc run` releases it with its process. Who holds it is
written beside it (holder.json) for the refusal message only; the lock itself is the truth.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from henryvc.errors import Busy

LOCK_NAME = "pipeline.lock"
HOLDER_NAME = "pipeline.holder.json"
_HELD_HERE: set[Path] = set()  # projects whose pipeline lock this process holds (new-run inside `run`)


def _paths(project: Any) -> tuple[Path, Path]:
    return project.state / LOCK_NAME, project.state / HOLDER_NAME


def _holder_text(project: Any) -> str:
    """'run NAME (pid N, since T)' as the holder wrote it, or a plain phrase when it cannot be read."""
    try:
        holder = json.loads(_paths(project)[1].read_text())
        run = f"run {holder['run']}" if holder.get("run") else "a new run"
        return f"{holder.get('command', 'henryvc run')} of {run} (pid {holder['pid']}, since {holder['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another `henryvc run`"


def busy_message(project: Any) -> str | None:
    """Why a pipeline cannot start now (another holds the lock), or None when it is free."""
    from filelock import FileLock, Timeout

    lock_path, _ = _paths(project)
    if not lock_path.exists() or Path(project.root) in _HELD_HERE:
        return None
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return (f"`henryvc run` is already training in this project: {_holder_text(project)} owns params.yaml "
                "until it ends; wait for it (`henryvc list`), or run the second in another clone")
    lock.release()
    return None


class Held:
    """The held lock; `name(run)` records which run it trains once new-run has named it."""

    def __init__(self, project: Any, command: str):
        self.project, self.command = project, command
        self.since = datetime.now(timezone.utc).isoformat(timespec="seconds")

    def name(self, run: str | None) -> None:
        from henryvc.core.atomic import write_json_atomic

        write_json_atomic(_paths(self.project)[1], {"command": self.command, "run": run, "pid": os.getpid(),
                                                     "since": self.since})


@contextmanager
def hold(project: Any, command: str = "henryvc run", run: str | None = None) -> Iterator[Held]:
    """Hold the project's pipeline lock for the block; Busy at once (nothing done) when another holds it."""
    from filelock import FileLock, Timeout

    lock_path, holder_path = _paths(project)
    project.state.mkdir(exist_ok=True)
    lock = FileLock(str(lock_path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise Busy(busy_message(project) or f"another `henryvc run` holds {lock_path}; try again") from None
    _HELD_HERE.add(Path(project.root))
    try:
        held = Held(project, command)
        held.name(run)
        yield held
    finally:
        _HELD_HERE.discard(Path(project.root))
        try:
            holder_path.unlink()
        except OSError:
            pass
        lock.release()
