"""The lifecycle journal: .henryvc/journal.jsonl, one JSON line per archive move, deletion, gc or snapshot."""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import TYPE_CHECKING, Any

from henryvc.errors import HenryvcError

if TYPE_CHECKING:
    from henryvc.core.project import Project

JOURNAL = "journal.jsonl"


def now_local_iso() -> str:
    """Now in local time with its UTC offset, to the second (the journal's and snapshot summaries' `at`)."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def journal(project: Project, entry: dict[str, Any], sync: bool = True) -> None:
    """Append ENTRY to .henryvc/journal.jsonl in one write, so a kill leaves whole lines.

    SYNC=False leaves the fsync to one sync_journal() after a batch: a killed process loses nothing
    (the kernel has the line), only a power cut can, and archive re-records what it finds unrecorded.
    """
    project.state.mkdir(exist_ok=True)
    line = json.dumps({"at": now_local_iso(), **entry}, sort_keys=True) + "\n"
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
