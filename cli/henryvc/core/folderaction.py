"""The one guarded action on run folders: what archive, unarchive, cleanup-failed and reset all check before they
move or delete a run's folder, and the journal line they write after.

In the spirit of DVC's `@locked`: an operation runs inside `guarded(project)` (the layout check, then the
project lock), asks `refusal()` whether a folder may be touched at all while it plans (never through a
symlink or out of the project, never a live training), and acts on each folder inside `acting_on()`, which
checks again, holds the run's training lock while it acts, and writes the journal line once it is done.
See docs/lifecycle.md for the rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.core.journal import journal
from henryvc.core.runfolder import RunFolder, check_layout, escape_reason, holding_training_lock, live_training

if TYPE_CHECKING:
    from henryvc.core.project import Project


@contextmanager
def guarded(project: Project, reads_only: bool = False) -> Iterator[None]:
    """Refuse a layout that leads out of the project, then hold the project lock (READS_ONLY: no lock, no file)."""
    check_layout(project)
    if reads_only:
        yield
        return
    with project.lock():
        yield


def refusal(project: Project, folder: RunFolder, training: str) -> str:
    """Why FOLDER must not be acted on (a symlink, out of the project, or TRAINING when a process trains it);
    "" when it may."""
    return escape_reason(project, folder.path) or (training if live_training(folder) else "")


@dataclass
class Act:
    """One folder being acted on: why not (REFUSED, then act on nothing), where it is, and its journal line."""

    refused: str
    held: list[Path] = field(default_factory=list)
    entry: dict[str, Any] | None = None
    sync: bool = True

    def moved_to(self, target: Path) -> None:
        """The folder is now at TARGET (so the training lock made for the act is removed from there)."""
        self.held[0] = target

    def record(self, entry: dict[str, Any], sync: bool = True) -> None:
        """Write ENTRY to the journal when the act ends (SYNC=False: the caller syncs the batch once)."""
        self.entry, self.sync = entry, sync


@contextmanager
def acting_on(project: Project, path: Path, training: str) -> Iterator[Act]:
    """Act on the run folder at PATH holding its training lock; the Act says why not (an escape, or TRAINING
    when a process trains it) and is then to be left alone. The journal line it records is written after the
    lock is released, only when the act ended without an error."""
    reason = escape_reason(project, path)
    if reason:
        yield Act(reason)
        return
    with holding_training_lock(path) as held:
        act = Act("" if held else training, held)
        yield act
    if act.entry is not None:
        journal(project, act.entry, sync=act.sync)
