"""Stale git locks: what a killed git leaves behind, and when removing it is safe (part of the git adapter)."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from henryvc.errors import NotReady

if TYPE_CHECKING:
    import git

GIT_LOCK_FILES = ("index.lock", "HEAD.lock", "packed-refs.lock", "config.lock")
LOCK_RECHECK_S = 0.2


def _git_processes_and_open_files(repo: git.Repo) -> tuple[list[int], set[str]] | None:
    """PIDs of git processes working in REPO and every path any process holds open (None: cannot tell)."""
    proc = Path("/proc")
    if not proc.is_dir():
        return None
    places = [str(Path(repo.working_tree_dir or repo.git_dir)), str(Path(repo.common_dir))]
    gits, held = [], set()
    for pid in (p for p in proc.iterdir() if p.name.isdigit()):
        try:
            # GitPython keeps `git cat-file --batch` readers alive for the life of a Repo: they lock nothing.
            if (pid / "comm").read_text().strip().startswith("git") and \
                    (pid / "cmdline").read_bytes().split(b"\0")[1:2] != [b"cat-file"]:
                cwd = os.readlink(pid / "cwd")
                if any(cwd == place or cwd.startswith(place + "/") for place in places):
                    gits.append(int(pid.name))
            for fd in (pid / "fd").iterdir():
                try:
                    held.add(os.readlink(fd))
                except OSError:
                    continue
        except (FileNotFoundError, ProcessLookupError):
            continue  # the process ended meanwhile
        except PermissionError:
            return None  # another user's process: cannot prove a lock is stale
    return gits, held


def clear_stale_locks(repo: git.Repo) -> list[str]:
    """Remove the lock files a killed git left in REPO, or raise NotReady saying what to do.

    A git killed mid-commit leaves .git/index.lock and every later git write fails until it goes. Git
    holds its lock open while it lives (or, running hooks, has its cwd in the repository), so a lock that
    nobody holds and no git process is near, seen twice, is stale; henryvc's own project lock is held.
    """
    common = Path(repo.common_dir)
    candidates = {d / name for d in (Path(repo.git_dir), common) for name in GIT_LOCK_FILES}
    candidates |= set((common / "refs").rglob("*.lock")) | set(Path(repo.git_dir).glob("next-index-*.lock"))
    present = sorted(p for p in candidates if p.exists())
    for attempt in range(2):
        if not present:
            return []
        seen = _git_processes_and_open_files(repo)
        if seen is None:
            raise NotReady(f"{present[0]} exists: a git command is running in this repository or was killed; "
                           f"if no git process is running, remove it (rm {present[0]}) and run the command again")
        gits, held = seen
        busy = [p for p in present if str(p) in held]
        if busy or gits:
            raise NotReady(f"a git process (pid {', '.join(map(str, gits)) or '?'}) is working in this repository "
                           f"and holds {(busy or present)[0]}: try again when it has finished")
        if attempt == 0:
            time.sleep(LOCK_RECHECK_S)
            present = [p for p in present if p.exists()]
    for path in present:
        path.unlink(missing_ok=True)
    return [str(p) for p in present]


def drop_half_made_worktrees(repo: git.Repo) -> list[str]:
    """Remove the worktree entries a killed `git worktree add` left half made; the worktree paths they were for.

    Git makes .git/worktrees/<id>/ file by file (locked "initializing", gitdir, the worktree's .git file,
    commondir, HEAD as the null commit, then the real HEAD), and cleans up on a catchable signal but not
    on SIGKILL. An entry still locked with commondir or gitdir empty or missing, or HEAD not yet a commit,
    makes `git worktree list` and `git fsck` fail (or lists the worktree at the null commit) until it goes.
    Such an entry is removed, with the worktree folder when it holds nothing but git's .git file, once no
    git process works in the repository (seen twice, as for stale locks). An entry whose HEAD names a
    commit is left: its checkout was cut short, and henryvc.adapters.gitrepo.complete_worktree finishes it.
    """
    import shutil

    admin = Path(repo.common_dir) / "worktrees"
    for attempt in range(2):
        torn = [entry for entry in sorted(admin.glob("*")) if _half_made(entry)]
        if not torn:
            return []
        seen = _git_processes_and_open_files(repo)
        if seen is None or seen[0]:
            return []  # a git may be making it now (or we cannot tell): leave it to git
        if attempt == 0:
            time.sleep(LOCK_RECHECK_S)
    dropped = []
    for entry in torn:
        folder = _text(entry / "gitdir")
        worktree = Path(folder).parent if folder else None
        shutil.rmtree(entry, ignore_errors=True)
        if worktree is not None and worktree.is_dir() and [p.name for p in worktree.iterdir()] == [".git"]:
            shutil.rmtree(worktree)
        dropped.append(str(worktree or entry.name))
    return dropped


def _half_made(entry: Path) -> bool:
    """Whether worktree entry ENTRY (.git/worktrees/<id>) is one `git worktree add` began and never finished."""
    head = _text(entry / "HEAD")
    return entry.is_dir() and (entry / "locked").exists() and (
        not _text(entry / "commondir") or not _text(entry / "gitdir") or not head or set(head) == {"0"})


def _text(path: Path) -> str:
    """PATH's text, stripped; "" when it is missing or cannot be read."""
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return ""
