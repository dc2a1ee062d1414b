"""henryvc.ops.snapshot on real git + DVC projects: the work tree committed and tagged snapshot_YYYYMMDD_HHMMSS
with a summary, its data and tag pushed, a taken name skipping a second, and bad input or unsaved work refused with
nothing written."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from henryvc.core import journal as journals
from henryvc.errors import BadInput, NotReady
from henryvc.ops import snapshot as snapshots
from tests.helpers.lifecycle import picture, remote_objects, train
from tests.helpers.project import dvc, sh

STAMP = datetime(2024, 5, 6, 7, 8, 9)


def _body(project, tag: str) -> str:
    return sh(project.root, "git", "tag", "-l", "--format=%(contents)", tag).stdout


def test_snapshot_commits_the_work_tree_and_tags_it_without_pushing(project, tmp_path):
    name = train(project, seed=1)
    (project.root / "notes.txt").write_text("untracked, small: git takes it\n")
    made = snapshots.snapshot(project, "before v3\nsecond line", push=False, now=lambda: STAMP)
    assert made.name == "snapshot_20240506_070809" and snapshots.is_snapshot_name(made.name)
    assert (made.remote, made.pushed_objects, made.git_pushed) == (None, 0, False)
    assert made.commit == sh(project.root, "git", "rev-parse", "HEAD").stdout.strip()
    assert sh(project.root, "git", "rev-parse", f"{made.name}^{{commit}}").stdout.strip() == made.commit
    assert sh(project.root, "git", "status", "--porcelain").stdout == ""  # everything is in the commit
    assert sh(project.root, "git", "show", f"{made.name}:notes.txt").stdout == "untracked, small: git takes it\n"
    body = _body(project, made.name)
    assert body.splitlines()[0] == f"henryvc snapshot {made.name}: before v3"
    summary = json.loads(body[body.index("{"):])
    assert summary == made.summary and summary["format"] == snapshots.SNAPSHOT_FORMAT
    assert summary["runs"] == [f"training_runs/{name}"] and summary["not_in_cache"] == []
    assert f"training_runs/{name}/checkpoints" in summary["data"]
    assert remote_objects(tmp_path / "dvc-remote") == []  # no push asked, none made
    assert [(e["tag"], e["commit"]) for e in journals.read_journal(project) if e["action"] == "snapshot"] == [
        (made.name, made.commit)]


def test_snapshot_of_a_clean_tree_tags_head_and_pushes_data_and_tag(project, tmp_path):
    train(project, seed=1)
    sh(project.root, "git", "add", "-A")
    sh(project.root, "git", "commit", "-qm", "trained")
    origin = tmp_path / "origin.git"
    sh(tmp_path, "git", "init", "-q", "--bare", str(origin))
    sh(project.root, "git", "remote", "add", "origin", str(origin))
    head = sh(project.root, "git", "rev-parse", "HEAD").stdout.strip()
    made = snapshots.snapshot(project)
    assert made.commit == head  # nothing to commit: the tag points at HEAD
    assert made.remote == "storage" and made.pushed_objects > 0 and made.git_pushed
    assert len(remote_objects(tmp_path / "dvc-remote")) >= 2
    assert f"refs/tags/{made.name}" in sh(project.root, "git", "ls-remote", "origin").stdout
    assert _body(project, made.name).splitlines()[0] == f"henryvc snapshot {made.name}"  # no message, no colon


def _trained_with_origin(project, tmp_path) -> None:
    train(project, seed=1)
    sh(project.root, "git", "add", "-A")
    sh(project.root, "git", "commit", "-qm", "trained")
    sh(tmp_path, "git", "init", "-q", "--bare", str(tmp_path / "origin.git"))
    sh(project.root, "git", "remote", "add", "origin", str(tmp_path / "origin.git"))


def test_snapshot_replaces_an_object_a_killed_push_left_empty_before_it_pushes_the_tag(project, tmp_path):
    _trained_with_origin(project, tmp_path)
    dvc(project.root, "push", "-q")
    victim = max(remote_objects(tmp_path / "dvc-remote"), key=lambda p: p.stat().st_size)
    whole = victim.read_bytes()
    victim.write_bytes(b"")  # what a push killed mid-transfer leaves at the object's final name
    dvc(project.root, "push", "-q")
    assert victim.read_bytes() == b""  # DVC alone takes the name for the object and sends nothing
    made = snapshots.snapshot(project, "over a half-pushed remote")
    assert victim.read_bytes() == whole and made.git_pushed and made.pushed_objects >= 1


def test_a_taken_snapshot_name_moves_to_the_next_second(project):
    sh(project.root, "git", "tag", "snapshot_20240506_070809")
    clock = iter([STAMP, STAMP + timedelta(seconds=1)])
    made = snapshots.snapshot(project, push=False, now=lambda: next(clock))
    assert made.name == "snapshot_20240506_070810"
    assert sh(project.root, "git", "tag", "-l", "snapshot_*").stdout.split() == [
        "snapshot_20240506_070809", "snapshot_20240506_070810"]


@pytest.mark.parametrize("message", ["a\0b", "x" * (snapshots.MAX_MESSAGE + 1)])
def test_a_bad_message_is_bad_input_and_writes_nothing(project, message):
    before = picture(project.root)
    with pytest.raises(BadInput) as raised:
        snapshots.snapshot(project, message, push=False)
    assert raised.value.exit_code == 2
    assert picture(project.root) == before


def test_unsaved_outputs_and_files_too_big_for_git_are_refused_with_nothing_written(project):
    name = train(project, seed=1)
    edited = project.run_dir(name) / "checkpoints" / "checkpoint_500.pth"
    edited.unlink()
    edited.write_bytes(b"changed after dvc repro")
    before = picture(project.root)
    with pytest.raises(NotReady, match="dvc commit"):
        snapshots.snapshot(project, push=False)
    assert picture(project.root) == before

    dvc(project.root, "checkout", "-f", "-q")
    (project.root / "weights.bin").write_bytes(b"\0" * (snapshots.MAX_GIT_FILE_BYTES + 1))
    before = picture(project.root)
    with pytest.raises(NotReady, match="weights.bin"):
        snapshots.snapshot(project, push=False)
    assert picture(project.root) == before
    assert sh(project.root, "git", "tag", "-l", "snapshot_*").stdout == ""
