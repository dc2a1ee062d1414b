"""cleanup-failed's listing check agrees with DVC's cache layouts (issue 15, item 8).

A `cache: false` output (the run's logs/) is git's: its listing is never required, whether or not git
holds its files at a revision, and never deleted when DVC wrote one. A listing kept in DVC 2's older cache
layout (cache/xx/yyyy instead of cache/files/md5/xx/yyyy) is found where DVC 3 finds it.
"""

from __future__ import annotations

import shutil

from henryvc.adapters import dvcrepo
from henryvc.core import record as records
from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import run_with_status
from tests.helpers.project import sh


def _dir_objects(cache):
    return sorted(p for p in (cache / "files" / "md5").rglob("*.dir"))


def test_an_uncommitted_cache_false_listing_does_not_block_cleanup(project):
    failed = run_with_status(project, "failed", seed=1, tag=True)
    assert run_cli(project.root, "backup", process=True).returncode == 0
    # A second run whose dvc.lock is committed alone: its logs/ (cache: false) is in no commit.
    other = run_with_status(project, "incomplete", seed=2)
    sh(project.root, "git", "add", "dvc.lock")
    sh(project.root, "git", "commit", "-qm", "dvc.lock only")
    cache = dvcrepo.cache_dir(project.root)
    lock = (project.root / "dvc.lock").read_text()
    logs = next(o for o in dvcrepo.workspace_outs(project.root) if o.path == f"{project.run_rel(other)}/logs")
    assert logs.is_dir and not logs.cached and f"{logs.md5}.dir" in lock
    listing = dvcrepo.object_path(cache, logs)
    if listing.exists():  # an older DVC wrote one, and the first cleanup of the issue deleted it
        listing.unlink()
    # The state under test: dvc.lock names a logs/ listing that no cache holds and no commit has the files of
    # (DVC 3.x writes no listing for a `cache: false` output at all).
    assert not listing.exists() and not any(p.name == listing.name for p in cache.rglob("*.dir"))
    assert sh(project.root, "git", "ls-files", logs.path).stdout == ""
    done = run_cli(project.root, "cleanup-failed", "--dry-run", process=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert failed in done.stdout and "neither in the cache nor on the remote" not in done.stdout + done.stderr
    assert records.load(project.run_dir(other)).status == "incomplete"


def test_a_listing_in_the_older_cache_layout_is_found(project):
    failed = run_with_status(project, "failed", seed=3, tag=True)  # tagged, nothing pushed: the cache is all
    cache = dvcrepo.cache_dir(project.root)
    moved = 0
    for listing in _dir_objects(cache):
        legacy = cache / listing.parent.name / listing.name
        legacy.parent.mkdir(exist_ok=True)
        shutil.move(listing, legacy)  # where DVC 2 kept it, and DVC 3 still reads it
        moved += 1
    assert moved and not _dir_objects(cache)  # no listing is left where DVC 3 writes them
    done = run_cli(project.root, "cleanup-failed", "--dry-run", process=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "neither in the cache nor on the remote" not in done.stdout + done.stderr
    assert failed in done.stdout
