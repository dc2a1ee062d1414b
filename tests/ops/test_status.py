"""henryvc.ops.status on real projects: which runs train now (a real process holds the lock) with their last log
line, disk use counting each inode once and following no symlink, and the cache, disk and CPU figures."""

from __future__ import annotations

import json
import os

from henryvc.core import record as records
from henryvc.core.runfolder import LOG_FILE
from henryvc.ops import status as statuses
from tests.helpers.lifecycle import run_with_status, training


def test_disk_use_counts_each_inode_once_and_follows_no_symlink(tmp_path):
    top = tmp_path / "run"
    top.mkdir()
    (top / "a.bin").write_bytes(os.urandom(64 * 1024))
    os.link(top / "a.bin", top / "b.bin")  # the same inode under two names
    outside = tmp_path / "outside.bin"
    outside.write_bytes(os.urandom(1024 * 1024))
    (top / "link.bin").symlink_to(outside)
    used, files = statuses.disk_use(top)
    assert files == 3  # three entries, ...
    one = (top / "a.bin").stat().st_blocks * 512
    link = (top / "link.bin").lstat().st_blocks * 512
    assert used == one + link < outside.stat().st_size  # ... the data once, the symlink's target never
    assert statuses.disk_use(tmp_path / "missing") == (0, 0)
    (tmp_path / "linked-run").symlink_to(top)
    assert statuses.disk_use(tmp_path / "linked-run") == (0, 0)  # a symlinked folder is not walked


def test_status_shows_the_run_training_now_with_its_last_log_line(project):
    done = run_with_status(project, "success", seed=1)
    busy = run_with_status(project, "training", seed=2)
    (project.run_dir(busy) / LOG_FILE).write_text("epoch 1\nstep 40 loss 2.1\n")
    with training(project.run_dir(busy)):
        result = statuses.status(project)
        assert [r.name for r in result.training] == [busy]
        runs = {r.name: r for r in result.runs}
        assert runs[busy].last_log_line == "step 40 loss 2.1" and runs[busy].log_updated is not None
        assert runs[done].training is False and runs[done].status == "success" and runs[done].last_log_line is None
        assert runs[done].files == sum(1 for p in project.run_dir(done).rglob("*") if p.is_file())
        assert runs[done].bytes >= 2 * 128 * 1024  # its two checkpoints at least
        assert json.loads(json.dumps(result.to_dict()))["training"] == [busy]
    # The holder is gone: nobody trains it, whatever its record says.
    after = statuses.status(project)
    assert after.training == [] and {r.name: r.status for r in after.runs}[busy] == "training"
    assert records.live_status(project.run_dir(busy)) == "incomplete"


def test_status_reports_the_cache_disks_and_cpu(project):
    run_with_status(project, "success", seed=1)
    result = statuses.status(project)
    cache = project.root / ".dvc" / "cache"
    assert result.cache_dir == str(cache) and result.cache_bytes >= 2 * 128 * 1024  # the checkpoints are cached
    disk = result.disk["project"]
    assert disk["total"] >= disk["used"] > 0 and disk["free"] > 0
    assert "cache" not in result.disk  # the cache is on the project's file system here
    assert result.cpu["cpus"] == os.cpu_count() and result.cpu["memory_total"] >= result.cpu["memory_available"] > 0
    assert isinstance(result.gpus, list)


def test_an_unreadable_record_and_a_symlinked_run_are_shown_not_followed(project, tmp_path):
    broken = run_with_status(project, "success", seed=1)
    (project.run_dir(broken) / records.RECORD_FILE).write_text("{not json")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "big.bin").write_bytes(os.urandom(512 * 1024))
    linked = "henry_v2_debug_20200101_000000"
    (project.runs / linked).symlink_to(outside)
    runs = {r.name: r for r in statuses.status(project).runs}
    assert runs[broken].status == "unreadable" and runs[broken].files > 0
    assert (runs[linked].status, runs[linked].bytes, runs[linked].files, runs[linked].training) == ("?", 0, 0, False)
