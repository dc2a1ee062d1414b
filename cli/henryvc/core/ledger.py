"""The hash ledger: what henryvc itself has hashed, keyed by file identity, so a restore does not re-read
4 GB that it read before and that has not changed since.

A file counts as known only while its device, inode, size and mtime are those it had when henryvc read
it and found the hash. Writing into a file changes its mtime, so a flipped byte written by any program
is read again; `henryvc verify` (full) ignores the ledger and re-reads everything. Hard links make the
ledger pay off: a restored worktree's files are the cache's inodes, read once for all restores.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from henryvc.hashing import md5_stream

LEDGER_FILE = "hashes.sqlite"
_SCHEMA = ("CREATE TABLE IF NOT EXISTS hashes (dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER, "
           "md5 TEXT, PRIMARY KEY (dev, ino))")


Identity = tuple[int, int, int, int]  # (device, inode, size, mtime_ns): what a hash is recorded against


def identity(st: os.stat_result) -> Identity:
    """The identity of a file from its stat."""
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def hash_unchanged(path: Path) -> tuple[str, Identity | None]:
    """MD5 of PATH and the identity its file had before it was read; None for the identity when the file
    changed while it was read. One open: both stats are of the very inode whose bytes were hashed."""
    with open(path, "rb") as handle:
        before = os.fstat(handle.fileno())
        md5 = md5_stream(handle)[0]
        after = os.fstat(handle.fileno())
    ident = identity(before)
    return md5, ident if ident == identity(after) else None


def _identity(path: Path) -> Identity | None:
    try:
        return identity(os.stat(path))
    except OSError:
        return None


class Ledger:
    """A small SQLite table in the project's .henryvc/ folder."""

    def __init__(self, folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / LEDGER_FILE

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute(_SCHEMA)
        if "at" not in {row[1] for row in db.execute("PRAGMA table_info(hashes)")}:
            db.execute("ALTER TABLE hashes ADD COLUMN at REAL")  # when it was read (older rows: unknown)
        return db

    def hashed_since(self, paths: list[Path]) -> float | None:
        """The earliest time (epoch seconds) henryvc last read any of PATHS (by their identity); None if unknown."""
        identities = [i for i in (_identity(p) for p in paths) if i is not None]
        if not identities:
            return None
        with closing(self._connect()) as db:
            rows: dict[Identity, float | None] = {(dev, ino, size, mtime): at for dev, ino, size, mtime, at in db.execute(
                "SELECT dev, ino, size, mtime_ns, at FROM hashes")}
        times = [rows.get(i) for i in identities]
        known = [t for t in times if t is not None]
        return None if not known or len(known) < len(times) else min(known)

    def known(self, paths: list[Path]) -> dict[Path, str]:
        """Path → md5 for the PATHS whose identity is unchanged since henryvc hashed them."""
        identities = {path: _identity(path) for path in paths}
        with closing(self._connect()) as db:
            rows = {(dev, ino): (size, mtime, md5) for dev, ino, size, mtime, md5 in db.execute(
                "SELECT dev, ino, size, mtime_ns, md5 FROM hashes")}
        found = {}
        for path, ident in identities.items():
            if ident is not None and rows.get(ident[:2], (None, None, None))[:2] == ident[2:]:
                found[path] = rows[ident[:2]][2]
        return found

    def identities(self) -> set[Identity]:
        """Every (dev, inode, size, mtime_ns) henryvc has a hash for."""
        with closing(self._connect()) as db:
            return set(db.execute("SELECT dev, ino, size, mtime_ns FROM hashes"))

    def remember_identities(self, hashed: list[tuple[Identity, str]]) -> None:
        """Record that the file of each identity, taken before reading it, had this md5."""
        with closing(self._connect()) as db, db:
            now = time.time()
            db.executemany("INSERT OR REPLACE INTO hashes (dev, ino, size, mtime_ns, md5, at) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           [(*ident, md5, now) for ident, md5 in hashed])
