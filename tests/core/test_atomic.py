"""henryvc.core.atomic: a reader sees the old file or the new one, never a part; a failed write leaves no trace."""

from __future__ import annotations

import json
import stat

import pytest

from henryvc.core.atomic import write_atomic, write_json_atomic, write_text_atomic


def test_text_replaces_the_file_and_creates_its_folder(tmp_path):
    path = tmp_path / "a" / "b" / "note.txt"
    write_text_atomic(path, "one\n")
    write_text_atomic(path, "two\n")
    assert path.read_text() == "two\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["note.txt"]  # no temporary file left


def test_json_is_sorted_and_indented_with_a_final_newline(tmp_path):
    path = tmp_path / "run.json"
    write_json_atomic(path, {"b": 1, "a": [1, 2]})
    text = path.read_text()
    assert text.endswith("}\n") and text.index('"a"') < text.index('"b"') and "\n  " in text
    assert json.loads(text) == {"a": [1, 2], "b": 1}


def test_a_writer_that_fails_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("run: old\n")

    def half(handle):
        handle.write("run: ne")
        raise RuntimeError("killed mid-write")

    with pytest.raises(RuntimeError):
        write_atomic(path, half)
    assert path.read_text() == "run: old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["params.yaml"]


def test_mode_is_set_on_the_new_file(tmp_path):
    path = tmp_path / "job.sh"
    write_atomic(path, lambda h: h.write("#!/bin/sh\n"), mode=0o755, fsync=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
