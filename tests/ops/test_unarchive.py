"""henryvc.ops.unarchive on real git + DVC projects: an archived run moves back to training_runs/ with a journal
line and (when git tracked it) a commit of the move; a run not archived, missing, in the way or training is refused
with nothing moved."""

from __future__ import annotations

import pytest

from henryvc.core import journal as journals
from henryvc.errors import NotReady, RunNotFound
from henryvc.ops import archive as archives
from henryvc.ops import unarchive as unarchives
from tests.helpers.lifecycle import picture, run_with_status, training
from tests.helpers.project import sh


def _tracked_changes(project) -> list[str]:
    return [line for line in sh(project.root, "git", "status", "--porcelain").stdout.splitlines()
            if not line.startswith("??")]


def test_a_tracked_archived_run_comes_back_with_a_commit_and_a_journal_line(project):
    name = run_with_status(project, "failed", seed=1, tag=True)
    archives.archive(project)
    archived = project.runs / "archive" / "failed" / name
    files = sorted(p.relative_to(archived).as_posix() for p in archived.rglob("*") if p.is_file())

    moved = unarchives.unarchive(project, name)
    assert moved.name == name and moved.source == f"training_runs/archive/failed/{name}"
    assert not archived.exists()
    assert sorted(p.relative_to(project.run_dir(name)).as_posix()
                  for p in project.run_dir(name).rglob("*") if p.is_file()) == files
    assert moved.commit == sh(project.root, "git", "rev-parse", "HEAD").stdout.strip()
    assert sh(project.root, "git", "log", "-1", "--format=%s").stdout.strip() == (
        f"henryvc: unarchive {name} (back from archive/failed to resume it)")
    assert _tracked_changes(project) == []  # the move is recorded whole: nothing left staged or deleted
    assert sh(project.root, "git", "ls-files", "training_runs/archive").stdout == ""
    assert f"training_runs/{name}/run.json" in sh(project.root, "git", "ls-files", f"training_runs/{name}").stdout
    [line] = [e for e in journals.read_journal(project) if e["action"] == "unarchive"]
    assert (line["run"], line["from"], line["to"]) == (name, moved.source, f"training_runs/{name}")


def test_an_untracked_archived_run_comes_back_without_a_commit(project):
    name = run_with_status(project, "incomplete", seed=1)
    archives.archive(project)
    head = sh(project.root, "git", "rev-parse", "HEAD").stdout
    moved = unarchives.unarchive(project, name)
    assert moved.commit is None and moved.source == f"training_runs/archive/incomplete/{name}"
    assert (project.run_dir(name) / "checkpoints" / "checkpoint_500.pth").is_file()
    assert sh(project.root, "git", "rev-parse", "HEAD").stdout == head


def test_a_run_not_archived_is_left_where_it_is(project):
    name = run_with_status(project, "failed", seed=1)
    before = picture(project.root)
    assert unarchives.unarchive(project, name) is None
    assert picture(project.root) == before
    with pytest.raises(RunNotFound) as raised:
        unarchives.unarchive(project, "henry_v2_debug_20990101_000000")
    assert raised.value.exit_code == 2


def test_refused_when_the_name_is_taken_or_the_run_trains(project):
    name = run_with_status(project, "incomplete", seed=1)
    archives.archive(project)
    archived = project.runs / "archive" / "incomplete" / name
    project.run_dir(name).write_text("not a run folder")  # something else holds the name in training_runs/
    before = picture(project.root)
    with pytest.raises(NotReady, match="compare the two folders"):
        unarchives.unarchive(project, name)
    assert picture(project.root) == before

    project.run_dir(name).unlink()
    with training(archived):
        with pytest.raises(NotReady, match="being trained right now"):
            unarchives.unarchive(project, name)
        assert archived.is_dir() and not project.run_dir(name).exists()
    assert unarchives.unarchive(project, name).source == f"training_runs/archive/incomplete/{name}"


def test_a_detached_head_is_refused_before_a_tracked_run_moves(project):
    name = run_with_status(project, "failed", seed=1, tag=True)
    archives.archive(project)
    sh(project.root, "git", "checkout", "-q", "--detach", "HEAD")
    with pytest.raises(NotReady, match="detached"):
        unarchives.unarchive(project, name)
    assert (project.runs / "archive" / "failed" / name).is_dir() and not project.run_dir(name).exists()
