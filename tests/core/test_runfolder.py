"""henryvc.core.runfolder: where a run's folder is (training_runs/ and its archive), which entries count as runs,
and path safety: symlinks and escapes are refused, never followed, and the training lock it takes is its own."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from henryvc.core import record as records
from henryvc.core import runfolder
from henryvc.core.project import Project
from henryvc.errors import BadInput, NotReady, RunNotFound
from tests.helpers.lifecycle import training

A, B, C = "henry_v2_debug_20200101_000000", "henry_v2_stable_20200102_000000", "henry_v3_debug_20200103_000000"


def _record(folder: Path, name: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    records.save(folder, records.RunRecord(name=name, major=2, variant="debug", created="2020-01-01T00:00:00",
                                           config_hash="x", source_commit=None, status="failed"))


def test_paths_of_a_run_are_the_ones_git_and_dvc_name(tmp_path):
    assert runfolder.run_path(A) == f"training_runs/{A}"
    assert runfolder.run_path(A, "logs", "x.txt") == f"training_runs/{A}/logs/x.txt"
    paths = runfolder.RunPaths(tmp_path, A)
    assert paths.run_dir == tmp_path / "training_runs" / A == runfolder.run_dir(tmp_path, A)
    assert paths.step_losses == paths.run_dir / "logs" / "step_losses.jsonl"
    assert paths.log_file.name == runfolder.LOG_FILE and paths.metrics.name == "metrics.json"
    assert runfolder.RunFolder(A, tmp_path, "archive/failed").rel == f"training_runs/archive/failed/{A}"
    assert runfolder.RunFolder(A, tmp_path, "").rel == f"training_runs/{A}"


def test_run_folders_lists_run_named_entries_in_every_place_and_find_run_finds_them(tmp_path):
    project = Project(tmp_path)
    runs = tmp_path / "training_runs"
    (runs / A).mkdir(parents=True)
    (runs / "archive" / "failed" / B).mkdir(parents=True)
    (runs / "archive" / "incomplete").mkdir(parents=True)
    (runs / "notes").mkdir()  # not a run name
    (runs / C).write_text("a file named like a run is no run folder")
    (tmp_path / "elsewhere").mkdir()
    (runs / "archive" / "incomplete" / C).symlink_to(tmp_path / "elsewhere")  # listed, so it can be refused
    found = [(f.name, f.place) for f in runfolder.run_folders(project)]
    assert found == [(A, ""), (B, "archive/failed"), (C, "archive/incomplete")]
    assert [f.name for f in runfolder.run_folders(project, ("",))] == [A]
    assert runfolder.find_run(project, B).path == runs / "archive" / "failed" / B
    with pytest.raises(RunNotFound, match="henryvc list"):
        runfolder.find_run(project, "henry_v9_debug_20200101_000000")
    with pytest.raises(BadInput):
        runfolder.find_run(project, "../../etc")


def test_folder_index_holds_real_folders_only_and_the_first_place_wins(tmp_path):
    project = Project(tmp_path)
    runs = tmp_path / "training_runs"
    for folder in (runs / A, runs / "archive" / "failed" / A, runs / "archive" / "failed" / B):
        folder.mkdir(parents=True)
    (runs / C).symlink_to(runs / A)
    assert runfolder.folder_index(project) == {A: f"training_runs/{A}", B: f"training_runs/archive/failed/{B}"}
    assert runfolder.folder_index(Project(tmp_path / "none")) == {}


def test_escapes_and_symlinks_are_named_and_the_layout_refused(tmp_path):
    project = Project(tmp_path / "project")
    (project.root / "training_runs" / A).mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    link = project.root / "training_runs" / B
    link.symlink_to(outside)
    assert runfolder.escape_reason(project, project.root / "training_runs" / A) is None
    assert "is a symlink" in runfolder.escape_reason(project, link)
    assert "resolves outside the project" in runfolder.escape_reason(project, project.root / ".." / "outside")
    runfolder.check_layout(project)  # a plain layout is fine
    (project.root / "training_runs" / "archive").mkdir()
    (project.root / "training_runs" / "archive" / "failed").symlink_to(outside)
    with pytest.raises(NotReady, match="archive/failed resolves outside"):
        runfolder.check_layout(project)


def test_reading_through_a_link_out_of_the_project_is_refused(tmp_path):
    project = Project(tmp_path / "project")
    folder = project.root / "training_runs" / A
    _record(folder, A)
    assert runfolder.inside_file(project, folder / "run.json") == folder / "run.json"
    assert runfolder.load_record(project, runfolder.RunFolder(A, folder, "")).name == A
    secret = tmp_path / "secret.json"
    secret.write_text((folder / "run.json").read_text())
    (folder / "run.json").unlink()
    (folder / "run.json").symlink_to(secret)
    with pytest.raises(NotReady, match="leads outside the project"):
        runfolder.inside_file(project, folder / "run.json")
    with pytest.raises(NotReady, match="symlink"):
        runfolder.load_record(project, runfolder.RunFolder(A, folder, ""))


def test_holding_the_training_lock_leaves_no_lock_file_and_yields_nothing_while_a_process_trains(tmp_path):
    folder = tmp_path / A
    folder.mkdir()
    with runfolder.holding_training_lock(folder) as held:
        assert held == [folder] and (folder / records.LOCK_FILE).exists()
    assert not (folder / records.LOCK_FILE).exists()  # the lock file it made is gone again
    moved = tmp_path / "moved"
    with runfolder.holding_training_lock(folder) as held:
        folder.rename(moved)
        held[0] = moved
    assert not (moved / records.LOCK_FILE).exists()  # removed from where the folder went
    with training(moved):
        assert runfolder.live_training(runfolder.RunFolder(A, moved, ""))
        with runfolder.holding_training_lock(moved) as held:
            assert held == []
    assert (moved / records.LOCK_FILE).exists()  # the trainer's own lock file is not henryvc's to remove
    (moved / records.LOCK_FILE).unlink()
    (moved / records.LOCK_FILE).symlink_to(tmp_path / "anything")
    with runfolder.holding_training_lock(moved) as held:
        assert held == []  # a symlinked lock file is never opened: treated as held
    assert runfolder.live_training(runfolder.RunFolder(A, moved, ""))


def test_walk_files_and_remove_never_follow_a_symlink(tmp_path):
    top = tmp_path / "run"
    (top / "checkpoints").mkdir(parents=True)
    (top / "checkpoints" / "c.pth").write_bytes(b"x")
    target = tmp_path / "precious"
    (target / "inner").mkdir(parents=True)
    (target / "inner" / "keep.txt").write_text("keep")
    (top / "link_dir").symlink_to(target)
    (top / "link_file").symlink_to(target / "inner" / "keep.txt")
    walked = sorted(p.relative_to(top).as_posix() for p in runfolder.walk_files(top))
    assert walked == ["checkpoints/c.pth", "link_dir", "link_file"]
    assert list(runfolder.walk_files(top / "link_dir")) == [top / "link_dir"]
    runfolder.remove(top / "link_dir")
    runfolder.remove(top)
    assert not top.exists() and (target / "inner" / "keep.txt").read_text() == "keep"
    runfolder.remove(top)  # gone already: nothing to do


@dataclass
class _Out:
    path: str


def test_run_folder_of_and_run_outs_place_a_path_in_its_run(tmp_path):
    assert runfolder.run_folder_of(f"training_runs/{A}/checkpoints/c.pth") == f"training_runs/{A}"
    assert runfolder.run_folder_of(f"training_runs/archive/failed/{A}/run.json") == f"training_runs/archive/failed/{A}"
    assert runfolder.run_folder_of(f"training_runs/{A}") is None  # the folder itself is in no run folder
    assert runfolder.run_folder_of("voice_data/wavs/a.wav") is None
    assert runfolder.run_folder_of(f"training_runs/archive/other/{A}/x") is None
    outs = [_Out(f"training_runs/{A}/checkpoints"), _Out(f"training_runs/{A}x/checkpoints"), _Out("voice_data")]
    assert runfolder.run_outs(outs, A) == outs[:1]
    assert runfolder.relative(Project(tmp_path), tmp_path / "a" / "b") == "a/b"
    assert runfolder.relative(Project(tmp_path), Path(os.sep) / "etc") == "/etc"
