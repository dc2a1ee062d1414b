"""henryvc.core.folderaction: the guard every folder-moving command stands behind: the layout check and the project
lock, refusals for symlinks, escapes and live training, the run's training lock held while acting, and the journal
line written only after an act that ended without an error."""

from __future__ import annotations

import os

import pytest

from henryvc.core import folderaction, journal, runfolder
from henryvc.core import record as records
from henryvc.core.project import Project
from henryvc.errors import Busy, NotReady
from tests.helpers.lifecycle import training

NAME = "henry_v2_debug_20200101_000000"


def _project(tmp_path) -> Project:
    project = Project(tmp_path / "project")
    for place in runfolder.PLACES:
        (project.runs / place).mkdir(parents=True, exist_ok=True)
    (project.runs / NAME).mkdir()
    return project


def test_guarded_holds_the_project_lock_and_reads_only_takes_none(tmp_path):
    project = _project(tmp_path)
    with folderaction.guarded(project), pytest.raises(Busy), project.lock(timeout=0.1):
        pass
    with folderaction.guarded(project, reads_only=True), project.lock(timeout=0.1):
        pass  # a read-only plan leaves the lock to writers


def test_guarded_refuses_a_layout_leading_out_before_taking_the_lock(tmp_path):
    project = _project(tmp_path)
    os.rmdir(project.runs / "archive" / "incomplete")
    (tmp_path / "elsewhere").mkdir()
    (project.runs / "archive" / "incomplete").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(NotReady, match="resolves outside the project"), folderaction.guarded(project):
        pytest.fail("acted behind a layout leading out of the project")
    assert not (project.state / "lock").exists()  # refused before the lock file was even made


def test_refusal_names_symlinks_escapes_and_live_training(tmp_path):
    project = _project(tmp_path)
    folder = runfolder.RunFolder(NAME, project.run_dir(NAME), "")
    assert folderaction.refusal(project, folder, "training now") == ""
    (tmp_path / "outside").mkdir()
    link = project.runs / "henry_v2_debug_20200102_000000"
    link.symlink_to(tmp_path / "outside")
    assert "symlink" in folderaction.refusal(project, runfolder.RunFolder(link.name, link, ""), "training now")
    with training(folder.path):
        assert folderaction.refusal(project, folder, "training now") == "training now"


def test_acting_on_holds_the_training_lock_and_journals_after(tmp_path):
    project = _project(tmp_path)
    path = project.run_dir(NAME)
    with folderaction.acting_on(project, path, "training now") as act:
        assert act.refused == "" and act.held == [path]
        assert (path / records.LOCK_FILE).exists()
        act.record({"action": "archive", "run": NAME})
        assert journal.read_journal(project) == []  # not yet: only once the act has ended
        target = project.runs / "archive" / "failed" / NAME
        os.rename(path, target)
        act.moved_to(target)
    assert [(e["action"], e["run"]) for e in journal.read_journal(project)] == [("archive", NAME)]
    assert not (target / records.LOCK_FILE).exists()  # the lock file made for the act went with it


def test_an_act_that_fails_writes_no_journal_line(tmp_path):
    project = _project(tmp_path)
    with pytest.raises(OSError), folderaction.acting_on(project, project.run_dir(NAME), "training now") as act:
        act.record({"action": "delete", "run": NAME})
        raise OSError("disk gone")
    assert journal.read_journal(project) == []


def test_acting_on_refuses_a_training_run_and_a_symlink(tmp_path):
    project = _project(tmp_path)
    path = project.run_dir(NAME)
    with training(path), folderaction.acting_on(project, path, "training now") as act:
        assert act.refused == "training now" and act.held == []
    (tmp_path / "outside").mkdir()
    link = project.runs / "henry_v2_debug_20200102_000000"
    link.symlink_to(tmp_path / "outside")
    with folderaction.acting_on(project, link, "training now") as act:
        assert "symlink" in act.refused and act.held == []
    assert list((tmp_path / "outside").iterdir()) == []  # no lock file made through the link
