"""henryvc.core.journal: one whole JSON line per entry, stamped with local time; a torn last line is skipped when
read back, and a journal that is a symlink is never written through."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from henryvc.core import journal as journals
from henryvc.core.project import Project
from henryvc.errors import HenryvcError


def test_entries_are_appended_as_whole_lines_and_read_back_oldest_first(tmp_path):
    project = Project(tmp_path)
    assert journals.read_journal(project) == []  # no .henryvc/ yet: nothing, and nothing made
    assert not project.state.exists()
    journals.journal(project, {"action": "archive", "run": "a"})
    journals.journal(project, {"action": "delete", "run": "b"}, sync=False)
    journals.sync_journal(project)
    lines = (project.state / journals.JOURNAL).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["run"] for line in lines] == ["a", "b"]
    entries = journals.read_journal(project)
    assert [(e["action"], e["run"]) for e in entries] == [("archive", "a"), ("delete", "b")]
    stamp = datetime.fromisoformat(entries[0]["at"])
    assert stamp.utcoffset() is not None and stamp.microsecond == 0  # local time with its offset, to the second


def test_a_torn_last_line_is_skipped(tmp_path):
    project = Project(tmp_path)
    journals.journal(project, {"action": "gc", "freed": 3})
    with (project.state / journals.JOURNAL).open("a") as handle:
        handle.write('{"action": "archive", "ru')  # what a power cut mid-write could leave
    assert [e["action"] for e in journals.read_journal(project)] == ["gc"]


def test_sync_without_a_journal_does_nothing(tmp_path):
    project = Project(tmp_path)
    journals.sync_journal(project)
    assert not (project.state / journals.JOURNAL).exists()


def test_a_journal_that_is_a_symlink_is_never_written_through(tmp_path):
    project = Project(tmp_path / "project")
    project.state.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere.txt"
    elsewhere.write_text("not henryvc's\n")
    (project.state / journals.JOURNAL).symlink_to(elsewhere)
    with pytest.raises(HenryvcError, match="could not write") as raised:
        journals.journal(project, {"action": "archive", "run": "x"})
    assert raised.value.exit_code == 1 and "'run': 'x'" in str(raised.value)  # says which entry was not written
    assert elsewhere.read_text() == "not henryvc's\n"
    with pytest.raises(HenryvcError, match="could not open"):
        journals.sync_journal(project)
