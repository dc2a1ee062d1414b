"""The run record: training_runs/<RUN>/run.json, the run's own account of itself."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.core.atomic import write_json_atomic
from henryvc.errors import BadInput, HenryvcError

if TYPE_CHECKING:
    from filelock import FileLock

RECORD_FILE = "run.json"
LOCK_FILE = ".training.lock"
STATUSES = ("created", "training", "success", "failed", "incomplete")
FINAL_STATUSES = ("success", "failed", "incomplete")


@dataclass
class RunRecord:
    """What henryvc knows about one run; written atomically, never half."""

    name: str
    major: int
    variant: str
    created: str
    config_hash: str
    source_commit: str | None
    status: str = "created"
    description: str = ""
    seed: int | None = None
    environment: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    verdict: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (extra keys are kept at the top level)."""
        data = asdict(self)
        data.update(data.pop("extra"))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """Build a record from its JSON form, keeping unknown keys in extra."""
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        missing = {"name", "major", "variant", "created", "config_hash", "source_commit"} - data.keys()
        if missing:
            raise HenryvcError(f"run record lacks {', '.join(sorted(missing))}")
        if data.get("status", "created") not in STATUSES:
            raise HenryvcError(f"run record has unknown status {data.get('status')!r}")
        return cls(**{k: v for k, v in data.items() if k in known},
                   extra={k: v for k, v in data.items() if k not in known})


def load(run_dir: Path) -> RunRecord:
    """Read the record of the run in RUN_DIR."""
    path = Path(run_dir) / RECORD_FILE
    try:
        return RunRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise BadInput(f"{path} does not exist: is {Path(run_dir).name} a run made by `henryvc new-run`?") from None
    except json.JSONDecodeError as exc:
        raise HenryvcError(f"{path}: broken JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None


def save(run_dir: Path, record: RunRecord) -> None:
    """Write RECORD into RUN_DIR atomically."""
    write_json_atomic(Path(run_dir) / RECORD_FILE, record.to_dict())


def update(run_dir: Path, **changes: Any) -> RunRecord:
    """Read, change and atomically rewrite the record; dict fields are merged, others replaced."""
    record = load(run_dir)
    for key, value in changes.items():
        current = getattr(record, key, None) if key in RunRecord.__dataclass_fields__ else None
        if key == "status" and value not in STATUSES:
            raise HenryvcError(f"unknown run status {value!r}")
        if isinstance(current, dict) and isinstance(value, dict):
            current.update(value)
        elif key in RunRecord.__dataclass_fields__ and key != "extra":
            setattr(record, key, value)
        else:
            record.extra[key] = value
    save(run_dir, record)
    return record


def training_lock(run_dir: Path) -> FileLock:
    """The lock a training process holds for as long as it trains (an OS lock: a kill releases it)."""
    from filelock import FileLock

    return FileLock(str(Path(run_dir) / LOCK_FILE))


def _process_start(pid: int) -> str | None:
    """When process PID started (clock ticks since boot, /proc/PID/stat field 22); None when no live process
    has that pid (gone, or a zombie waiting to be reaped). "" where /proc is not there but the pid exists."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return ""
    fields = stat[stat.rindex(")") + 2:].split()  # after "(comm)", which may hold spaces
    return None if fields[0] in ("Z", "X") else fields[19]


def _holder(run_dir: Path) -> tuple[int, str] | None:
    """(pid, start) the trainer wrote into the lock file, or None (nothing written: an older trainer)."""
    try:
        pid, start = (Path(run_dir) / LOCK_FILE).read_text().split()[:2]
        return int(pid), start
    except (OSError, ValueError):
        return None


def _lock_held(run_dir: Path) -> bool:
    """True while some process (the trainer, or a child that inherited its descriptor) holds the OS lock."""
    if not (Path(run_dir) / LOCK_FILE).exists():
        return False
    lock = training_lock(run_dir)
    try:
        lock.acquire(timeout=0)
    except Exception:  # filelock.Timeout: somebody holds it
        return True
    lock.release()
    return False


def _holder_alive(run_dir: Path) -> bool:
    """Whether the process that wrote itself into the lock file still runs (True when none wrote itself)."""
    holder = _holder(run_dir)
    if holder is None:
        return True
    start = _process_start(holder[0])
    return start is not None and (start == holder[1] or start == "" or holder[1] == "-")


def is_training(run_dir: Path) -> bool:
    """True while a trainer trains RUN_DIR: its lock is held AND the process that took it is alive.

    The one probe every command uses (list, show, status, resume, tag-run, archive, cleanup, reset). A
    SIGKILLed trainer's lock can stay held for seconds by children that inherited its descriptor (Coqui's
    DataLoader workers are forked); the pid and start time it wrote into the lock file tell that apart at once.
    """
    return _lock_held(run_dir) and _holder_alive(run_dir)


@contextmanager
def training(run_dir: Path) -> Iterator[None]:
    """Hold RUN_DIR's training lock for the block, with this process written into it (for is_training).

    NotReady when a live trainer holds it. A lock still held only by a killed trainer's orphaned children is
    stale: its file is replaced (the orphans keep a lock on the old, unlinked file, which no one asks).
    """
    from filelock import Timeout

    from henryvc.errors import NotReady

    run_dir = Path(run_dir)
    lock = training_lock(run_dir)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if _holder_alive(run_dir):
            raise NotReady(f"{run_dir.name} is being trained by another process; wait for it or stop it") from None
        (run_dir / LOCK_FILE).unlink(missing_ok=True)
        lock = training_lock(run_dir)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise NotReady(f"{run_dir.name} is being trained by another process; wait for it or stop it") from None
    try:
        with open(run_dir / LOCK_FILE, "r+") as handle:  # the lock is on the descriptor, not the content
            handle.write(f"{os.getpid()} {_process_start(os.getpid()) or '-'}\n")
            handle.truncate()
        yield
    finally:
        lock.release()


def live_status(run_dir: Path, rec: RunRecord | None = None) -> str:
    """The run's status, with a stale "training" (nobody holds its lock: the trainer was killed) read as incomplete."""
    rec = rec or load(run_dir)
    if rec.status == "training" and not is_training(run_dir):
        return "incomplete"
    return rec.status
