"""The one md5 hasher: DVC 3 names a file's object by the md5 of its bytes, and henryvc checks files, cache
objects and remote objects against those names. In the foundation because both the hash ledger (core) and
the DVC store adapter hash, and an adapter may not import core."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO

CHUNK = 4 * 1024 * 1024  # read 4 MiB at a time: a checkpoint of gigabytes never sits in memory whole


def md5_stream(handle: IO[bytes]) -> tuple[str, int]:
    """The md5 of the bytes HANDLE gives until its end, and how many there were."""
    digest, total = hashlib.md5(), 0
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
        total += len(chunk)
    return digest.hexdigest(), total


def md5_file(path: Path) -> str:
    """The md5 of the file at PATH, the hash DVC 3 records."""
    with open(path, "rb") as handle:
        return md5_stream(handle)[0]


def md5_bytes(data: bytes) -> str:
    """The md5 of DATA (a .dir listing read whole)."""
    return hashlib.md5(data).hexdigest()
