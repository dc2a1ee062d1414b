"""`backup --verify` reads the remote back (issue 15, item 6); `backup --repair` replaces damaged objects
from a good cache copy; a complete backup prints none of DVC's "failed to collect ..., skipping" (item 9)."""

from __future__ import annotations

import json

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.reliability import big_project, rehash_store, train

pytestmark = pytest.mark.reliability


def _biggest_object(remote):
    return max((p for p in (remote / "files" / "md5").rglob("*") if p.is_file() and not p.name.endswith(".dir")),
               key=lambda p: p.stat().st_size)


def test_a_flipped_byte_on_the_remote_is_found_and_repaired(tmp_path):
    remote = tmp_path / "dvc-remote"
    project = big_project(tmp_path / "project", remote)
    name = train(project, seed=31)
    assert run_cli(project.root, "tag-run", name, process=True).returncode == 0
    done = run_cli(project.root, "backup", process=True)
    assert done.returncode == 0, done.stderr
    assert "failed to collect" not in done.stdout + done.stderr and "WARNING" not in done.stderr, done.stderr
    checked = run_cli(project.root, "backup", "--verify", "--json", process=True)
    assert checked.returncode == 0 and json.loads(checked.stdout)["content_checked"] is True, checked.stdout

    victim = _biggest_object(remote)
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0x40  # bit rot: same size, same name
    victim.write_bytes(bytes(data))
    oid = victim.parent.name + victim.name

    checked = run_cli(project.root, "backup", "--verify", process=True)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "damaged" in checked.stdout and oid in checked.stdout and "--repair" in checked.stdout, checked.stdout

    repaired = run_cli(project.root, "backup", "--repair", "--json", process=True)
    assert repaired.returncode == 0, repaired.stderr
    assert json.loads(repaired.stdout)["repaired_objects"] == 1  # the one flipped object, nothing else
    assert rehash_store(remote).corrupt == []
    assert run_cli(project.root, "backup", "--verify", process=True).returncode == 0
