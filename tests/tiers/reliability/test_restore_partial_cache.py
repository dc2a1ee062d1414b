"""A killed `restore --pull` can leave objects at their final names only in part (issue 15, item 1: one hypothesis).

DVC's transfer to a cache may write at the object's final path first; killed there, the file is an object
by name and not by content. DVC's fetch then skips it (the name exists) and its checkout either fails
("Checkout failed ... Is your cache up to date?") or links the partial bytes. The re-run of
`restore --pull` must complete: damaged objects of the tag are dropped from the cache and pulled again.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from henryvc.adapters import dvcrepo
from henryvc.core.project import Project
from tests.helpers.cli import run_cli
from tests.helpers.project import sh
from tests.helpers.reliability import md5, pushed_project, rehash_store, train

pytestmark = pytest.mark.reliability


def test_restore_pull_completes_over_partial_objects_in_the_cache(tmp_path):
    project, remote, origin = pushed_project(tmp_path)
    name = train(project, seed=41, mb=2, files=3)
    assert run_cli(project.root, "tag-run", "--push", process=True).returncode == 0
    box = tmp_path / "second-box"
    sh(tmp_path, "git", "clone", "-q", str(origin), str(box))

    # What a kill mid-pull leaves: two of the tag's objects at their final names, each half written.
    source = dvcrepo.cache_dir(project.root) / "files" / "md5"
    objects = sorted((p for p in source.rglob("*") if p.is_file() and not p.name.endswith(".dir")),
                     key=lambda p: p.stat().st_size, reverse=True)[:2]
    for obj in objects:
        partial = box / ".dvc" / "cache" / "files" / "md5" / obj.parent.name / obj.name
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.write_bytes(obj.read_bytes()[: obj.stat().st_size // 2])
    assert len(rehash_store(box / ".dvc" / "cache").corrupt) == 2

    done = run_cli(box, "restore", name, "--pull", "--json", process=True)
    assert done.returncode == 0, done.stderr
    worktree = json.loads(done.stdout)["path"]
    assert rehash_store(box / ".dvc" / "cache").corrupt == []
    for original in sorted((project.run_dir(name) / "checkpoints").iterdir()):
        assert md5(Path(worktree) / "training_runs" / name / "checkpoints" / original.name) == md5(original)
    assert json.loads(run_cli(box, "verify", name, "--path", worktree, "--json", process=True).stdout)["ok"]
    assert Project(box).root == box
