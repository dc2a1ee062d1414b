"""The one atomic file writer: a temporary file in the same folder, fsync, then a rename."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def write_atomic(path: Path, write: Callable[[IO[str]], None], *, mode: int | None = None,
                 fsync: bool = True) -> None:
    """Call WRITE on a temporary file beside PATH and rename it onto PATH: readers see all or nothing."""
    import tempfile  # only writers need it; read commands import the modules that use this one

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)  # mkstemp makes 0600
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            write(handle)
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write TEXT to PATH atomically."""
    def put(handle: IO[str]) -> None:
        handle.write(text)
    write_atomic(path, put)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write DATA as indented, key-sorted JSON to PATH atomically."""
    def dump(handle: IO[str]) -> None:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")

    write_atomic(path, dump)
