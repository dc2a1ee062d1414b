"""`restore` never says "match" for a file it did not read (issue 15, item 5).

Bit rot flips a byte and leaves size and mtime alone; henryvc's hash ledger trusts a file whose device,
inode, size and mtime are unchanged. restore must say how many files it read and how many it trusted
from the ledger (and since when), `--rehash` reads them all, and `schedule` proposes a periodic full
verify (a scrub).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tests.helpers.cli import run_cli
from tests.helpers.reliability import big_project, train


def _flip_keeping_mtime(path) -> None:
    info = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def test_restore_counts_read_and_trusted_and_rehash_finds_bit_rot(tmp_path):
    project = big_project(tmp_path / "project", tmp_path / "dvc-remote")
    name = train(project, seed=21)
    assert run_cli(project.root, "tag-run", name, process=True).returncode == 0
    first = run_cli(project.root, "restore", name, "--json", process=True)
    assert first.returncode == 0, first.stderr
    worktree = Path(json.loads(first.stdout)["path"])
    checkpoint = sorted((worktree / "training_runs" / name / "checkpoints").glob("*.pth"))[0]
    _flip_keeping_mtime(checkpoint)

    again = run_cli(project.root, "restore", name, process=True)
    assert again.returncode == 0, again.stderr  # the ledger trusts it: honest about it, not a false "match"
    text = again.stdout + again.stderr
    assert "files match the tag" not in text
    assert "read" in text and "trusted" in text and "ledger" in text and "since" in text, text
    assert "--rehash" in text, text

    rehashed = run_cli(project.root, "restore", name, "--rehash", process=True)
    assert rehashed.returncode == 1, rehashed.stdout + rehashed.stderr
    assert checkpoint.name in rehashed.stdout + rehashed.stderr


def test_schedule_proposes_a_periodic_full_verify(project):
    done = run_cli(project.root, "schedule", process=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    scrub = [i for i, line in enumerate(lines) if line.startswith("# scrub")]
    assert len(scrub) == 1, done.stdout  # the comment naming the job, then its cron line: the full read-back
    job = lines[scrub[0] + 1]
    assert job.startswith("0 5 15 * * "), job  # monthly, on the 15th
    assert re.fullmatch(r"\S*/henryvc backup --verify --deep >> \S+ 2>&1", job.split(" && ", 1)[1]), job
