"""henryvc.ops.restore and henryvc.core.ledger parts that stand alone: hashing objects while a pull lands them."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path

from henryvc.adapters.dvcrepo import Out
from henryvc.core.ledger import Ledger, hash_unchanged
from henryvc.ops.restore import HashWhilePulling


def _land(cache: Path, oid: str, data: bytes) -> Path:
    """Put an object in CACHE the way DVC does: a temporary file in its folder, then a rename."""
    folder = cache / "files" / "md5" / oid[:2]
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{oid}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, folder / oid[2:])
    return folder / oid[2:]


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_objects_landing_during_a_pull_are_hashed_once_and_only_matches_are_recorded(tmp_path):
    cache, ledger = tmp_path / "cache", Ledger(tmp_path / "state")
    files = {f"wav_{i}.wav": os.urandom(1000 + i) for i in range(40)}
    listing = json.dumps([{"relpath": rel, "md5": _md5(data)} for rel, data in files.items()]).encode()
    ckpt = os.urandom(5000)
    outs = [Out("voice_data", _md5(listing), True), Out("run/checkpoint_500.pth", _md5(ckpt), False)]
    (cache / "files" / "md5").mkdir(parents=True)
    corrupt = "wav_7.wav"

    def pull() -> None:  # objects arrive over time, files before their listing, one of them damaged
        for rel, data in files.items():
            _land(cache, _md5(data), data[:-1] + b"\0" if rel == corrupt else data)
            time.sleep(0.002)
        _land(cache, _md5(listing) + ".dir", listing)
        _land(cache, _md5(ckpt), ckpt)
        time.sleep(3 * HashWhilePulling.POLL_S)

    with HashWhilePulling(cache, outs, ledger):
        worker = threading.Thread(target=pull)
        worker.start()
        worker.join()

    obj = lambda oid: cache / "files" / "md5" / oid[:2] / oid[2:]  # noqa: E731
    paths = {rel: obj(_md5(data)) for rel, data in files.items()} | {"ckpt": obj(_md5(ckpt))}
    known = ledger.known(list(paths.values()))
    assert set(known) == {p for rel, p in paths.items() if rel != corrupt}  # everything whole, nothing damaged
    assert all(known[p] == p.parent.name + p.name for p in known)


def test_nothing_is_recorded_when_the_pull_ends_before_anything_lands(tmp_path):
    ledger = Ledger(tmp_path / "state")
    with HashWhilePulling(tmp_path / "no-cache", [Out("x", "0" * 32, False)], ledger):
        pass
    assert ledger.identities() == set()


def test_hash_unchanged_gives_the_identity_of_the_inode_it_read(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"henry" * 1000)
    st = os.stat(path)
    assert hash_unchanged(path) == (_md5(b"henry" * 1000), (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
