"""henryvc.ops.reset on real git + DVC projects: what cannot be held is refused with nothing written, the rest is
pushed and snapshotted before the runs are cleared, the plan reads only, and a run training now or a changed set of
runs stops it before anything is deleted."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
from pathlib import Path

import pytest

from henryvc import api
from henryvc.core import runfolder, runname
from henryvc.core.project import Project
from henryvc.errors import NotReady
from henryvc.ops import archive as archives
from henryvc.ops import backup as backups
from henryvc.ops import reset as resets
from henryvc.ops import snapshot as snapshots
from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import HENRYVC, picture, remote_objects, run_with_status, training
from tests.helpers.project import sh


def restores(project: Project, name: str) -> bool:
    """The tag restores into a worktree (pulling what the cache lacks) and every hash matches."""
    result = api.restore(project, name)
    return api.verify(project, name, Path(result.path)).ok and result.checked_files > 0


def test_reset_refuses_what_cannot_be_backed_up_and_writes_nothing(project):
    run_with_status(project, "success", seed=1, tag=True)
    stray = run_with_status(project, "incomplete", seed=2)  # untagged, and dvc.lock moves on to the next run
    run_with_status(project, "success", seed=3, tag=True)
    before = picture(project.root)
    result = run_cli(project.root, "reset", "--yes")
    assert result.exit_code == 1, result.output
    assert stray in result.output and "checkpoints/checkpoint_500.pth" in result.output
    assert picture(project.root) == before
    assert "snapshot_" not in sh(project.root, "git", "tag").stdout


def test_reset_snapshots_pushes_then_clears(project, tmp_path):
    tagged = run_with_status(project, "failed", seed=1, tag=True)
    archives.archive(project)
    active = run_with_status(project, "success", seed=2)  # untagged: a snapshot must hold it
    remote = tmp_path / "dvc-remote"
    assert remote_objects(remote) == []

    result = run_cli(project.root, "reset", process=True)
    assert result.returncode == 2 and "--yes" in result.stderr  # scripts must say --yes
    result = run_cli(project.root, "reset", "--dry-run", "--json")
    states = {i["run"]: i["state"] for i in json.loads(result.output)["items"]}
    assert states == {tagged: "push", active: "snapshot"}

    result = run_cli(project.root, "reset", "--yes", "--json")
    assert result.exit_code == 0, result.output
    done = json.loads(result.output)
    snap = done["snapshot"]
    assert snapshots.is_snapshot_name(snap) and not runname.is_run_name(snap)
    assert runfolder.run_folders(project) == []
    assert not [line for line in sh(project.root, "git", "status", "--porcelain").stdout.splitlines()
                if not line.startswith("??")]
    # Everything is on the remote: even with the cache gone, both come back.
    check = backups.verify_backup(project)
    assert check.ok and check.tags == 2
    shutil.rmtree(project.root / ".dvc" / "cache")
    assert restores(project, tagged)
    where = project.state / "snap"
    sh(project.root, "git", "worktree", "add", "-q", "--detach", str(where), snap)
    from henryvc.adapters import dvcremote, dvcrepo

    dvcremote.share_cache(where, project.root)
    dvcrepo.pull(where)
    assert (where / "training_runs" / active / "checkpoints" / "checkpoint_500.pth").is_file()


def test_reset_asks_for_typed_confirmation_on_a_terminal(project):
    name = run_with_status(project, "success", seed=1, tag=True)
    backups.backup(project)
    leader, follower = pty.openpty()
    child = subprocess.Popen([*HENRYVC, "reset"], cwd=project.root, stdin=follower, stdout=follower,
                             stderr=follower, close_fds=True)
    os.close(follower)
    output = b""
    while b"Type reset" not in output:
        output += os.read(leader, 4096)
    os.write(leader, b"no\n")
    assert child.wait(timeout=60) == 1
    os.close(leader)
    assert project.run_dir(name).is_dir()


def test_the_plan_reads_only_and_says_how_each_run_is_made_safe(project):
    tagged = run_with_status(project, "success", seed=1, tag=True)
    backups.backup(project)
    pushed = run_with_status(project, "failed", seed=2, tag=True)  # tagged after the backup: its data to push
    loose = run_with_status(project, "success", seed=3)  # untagged: only a snapshot can hold it
    before = picture(project.root)
    plan = resets.plan_reset(project)
    assert picture(project.root) == before
    assert plan.remote == "storage" and not plan.done and plan.snapshot is None and plan.to_push > 0
    states = {i.run: i.state for i in plan.items}
    assert states == {tagged: "backed-up", pushed: "push", loose: "snapshot"}
    [item] = [i for i in plan.items if i.run == loose]
    assert item.tagged is False and item.files > 0 and "checkpoints/checkpoint_500.pth" in item.uncovered
    as_dict = json.loads(json.dumps(plan.to_dict()))
    assert as_dict["refused"] == [] and {i["run"] for i in as_dict["items"]} == {tagged, pushed, loose}


def test_a_run_training_now_is_refused_and_nothing_is_deleted(project):
    done = run_with_status(project, "success", seed=1, tag=True)
    busy = run_with_status(project, "training", seed=2, tag=False)
    with training(project.run_dir(busy)):
        plan = resets.plan_reset(project)
        assert [(i.run, i.state) for i in plan.refused] == [(busy, "refused")]
        assert "training now" in plan.refused[0].reason
        before = picture(project.root)
        with pytest.raises(NotReady, match=f"reset refuses, nothing was deleted: {busy}: training now") as raised:
            resets.reset(project)
        assert raised.value.exit_code == 1
        assert picture(project.root) == before
    assert project.run_dir(done).is_dir() and project.run_dir(busy).is_dir()


def test_a_run_added_since_the_confirmation_stops_the_reset(project):
    confirmed = run_with_status(project, "success", seed=1, tag=True)
    backups.backup(project)
    added = run_with_status(project, "success", seed=2, tag=True)
    backups.backup(project)
    before = picture(project.root)
    with pytest.raises(NotReady, match="the runs changed since you confirmed"):
        resets.reset(project, only={confirmed})
    assert picture(project.root) == before
    done = resets.reset(project, only={confirmed, added})
    assert done.done and done.snapshot is None and done.to_push == 0  # all was held: nothing pushed, no snapshot
    assert runfolder.run_folders(project) == []
    assert done.commit == sh(project.root, "git", "rev-parse", "HEAD").stdout.strip()
    assert sh(project.root, "git", "log", "-1", "--format=%s").stdout.strip() == "henryvc: reset workspace runs"


def test_reset_of_a_project_without_runs_does_nothing(project):
    head = sh(project.root, "git", "rev-parse", "HEAD").stdout
    done = resets.reset(project)
    assert (done.items, done.snapshot, done.commit, done.done) == ([], None, None, True)
    assert sh(project.root, "git", "rev-parse", "HEAD").stdout == head
