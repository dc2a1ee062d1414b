"""henryvc.hashing: the md5 henryvc computes is the name DVC 3 gives the same bytes (files and .dir listings),
whatever the size, and md5_stream counts exactly the bytes it read."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import yaml

from henryvc.hashing import CHUNK, md5_bytes, md5_file, md5_stream
from tests.helpers.project import dvc, sh


def dvc_project(root: Path) -> Path:
    root.mkdir()
    sh(root, "git", "init", "-q")
    dvc(root, "init", "-q")
    return root


def test_md5_file_is_the_hash_dvc_records_for_the_same_file(tmp_path):
    root = dvc_project(tmp_path / "p")
    (root / "model.bin").write_bytes(os.urandom(100_000))
    dvc(root, "add", "-q", "model.bin")
    recorded = yaml.safe_load((root / "model.bin.dvc").read_text())["outs"][0]["md5"]
    assert md5_file(root / "model.bin") == recorded


def test_md5_bytes_of_a_dir_listing_is_the_name_dvc_gives_it(tmp_path):
    root = dvc_project(tmp_path / "p")
    for i in range(3):
        (root / "data" / f"f{i}.txt").parent.mkdir(exist_ok=True)
        (root / "data" / f"f{i}.txt").write_text(f"clip {i}\n")
    dvc(root, "add", "-q", "data")
    name = yaml.safe_load((root / "data.dvc").read_text())["outs"][0]["md5"]
    assert name.endswith(".dir")
    listing = root / ".dvc" / "cache" / "files" / "md5" / name[:2] / name[2:]
    assert md5_bytes(listing.read_bytes()) == name.removesuffix(".dir")


def test_md5_stream_reads_past_one_chunk_and_counts_every_byte():
    data = os.urandom(CHUNK + 12345)  # two reads, the second a short one
    assert md5_stream(io.BytesIO(data)) == (hashlib.md5(data).hexdigest(), len(data))


def test_md5_stream_hashes_only_what_is_left_after_the_handle_position():
    handle = io.BytesIO(b"header|payload")
    handle.read(7)
    assert md5_stream(handle) == (hashlib.md5(b"payload").hexdigest(), 7)


def test_an_empty_file_hashes_to_dvcs_empty_md5(tmp_path):
    from henryvc.adapters.dvcrepo import EMPTY_MD5

    (tmp_path / "empty").write_bytes(b"")
    assert md5_file(tmp_path / "empty") == EMPTY_MD5 == md5_bytes(b"")
    assert md5_stream(io.BytesIO(b"")) == (EMPTY_MD5, 0)
