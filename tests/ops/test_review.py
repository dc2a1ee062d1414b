"""henryvc.ops.review on real git: a review recorded in the run folder (file, README, commit) and in the note on a
tagged run's commit, asked on a terminal, pushed and merged across boxes; ratings from a blind page turned into
reviews (all checked before any is recorded); bad input and files that are not ratings refused with nothing written."""

from __future__ import annotations

import json
import os

import pytest

from henryvc import api
from henryvc.core import review as reviews
from henryvc.errors import BadInput, NotReady, RunNotFound
from henryvc.ops import review
from tests.helpers.cli import run_cli
from tests.helpers.project import sh, trained_run

PAGE = "page0001"


def _head(project) -> str:
    return sh(project.root, "git", "rev-parse", "HEAD").stdout.strip()


def _subject(project) -> str:
    return sh(project.root, "git", "log", "-1", "--format=%s").stdout.strip()


def _note(project, name: str) -> list[dict]:
    done = sh(project.root, "git", "notes", "--ref", review.NOTES_REF, "show", f"{name}^{{commit}}", check=False)
    return review.parse(done.stdout) if done.returncode == 0 else []


def _rows_key(project, a: str, b: str) -> None:
    """The key report --blind keeps in the project: two rows, clips A and B in a different order per row."""
    folder = review.keys_dir(project)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{PAGE}.json").write_text(json.dumps({
        "format": review.KEY_FORMAT_ROWS, "page": PAGE, "evaluation": "final", "runs": sorted([a, b]),
        "rows": {"r1": {"utterance": "sentence_0", "clips": {"A": a, "B": b}},
                 "r2": {"utterance": "sentence_1", "clips": {"A": b, "B": a}}}}))


def _rows_ratings(tmp_path, rows: dict, **extra) -> os.PathLike:
    path = tmp_path / f"ratings-{PAGE}.json"
    path.write_text(json.dumps({"format": review.RATINGS_FORMAT_ROWS, "page": PAGE, "rows": rows, **extra}))
    return path


def test_a_review_of_an_untagged_run_is_committed_in_its_folder(project):
    name = trained_run(project)
    assert review.reviewer_of(project.root) == "Henry Tester <tester@henryvc.invalid>"
    result = review.review_run(project, name, 4, "approve", "clear")
    assert result.commit == _head(project) and result.noted is None and result.status == "success"
    assert not result.released and result.review["reviewer"] == "Henry Tester <tester@henryvc.invalid>"
    assert [r["id"] for r in reviews.read_folder(project.run_dir(name))] == [result.review["id"]]
    assert sh(project.root, "git", "show", "--name-only", "--format=", "HEAD").stdout.split() == [
        f"training_runs/{name}/README.md", f"training_runs/{name}/reviews.json"]
    assert review.by_commit(project.root) == {}  # no tag, no note


def test_a_tagged_run_gets_the_note_and_by_commit_reads_it(project):
    name = trained_run(project)
    api.tag_run(project, name)
    tag_commit = sh(project.root, "git", "rev-parse", f"{name}^{{commit}}").stdout.strip()
    first = review.review_run(project, name, 2, "reject", "buzzy", reviewer="Ear <ear@example.invalid>")
    second = review.review_run(project, name, 5, "approve", "fixed")
    assert first.noted == second.noted == tag_commit
    found = review.by_commit(project.root)
    assert list(found) == [tag_commit]
    assert [(r["verdict"], r["reviewer"]) for r in found[tag_commit]] == [
        ("reject", "Ear <ear@example.invalid>"), ("approve", "Henry Tester <tester@henryvc.invalid>")]
    assert sh(project.root, "git", "rev-parse", f"{name}^{{commit}}").stdout.strip() == tag_commit  # tag never moves


def test_no_run_and_a_detached_head_are_refused_before_anything_is_written(project):
    with pytest.raises(RunNotFound):
        review.review_run(project, "henry_v2_debug_20990101_000000", 3, "approve")
    name = trained_run(project)
    sh(project.root, "git", "add", "-A")
    sh(project.root, "git", "commit", "-qm", "the run")
    sh(project.root, "git", "checkout", "-q", "--detach", "HEAD")
    head = _head(project)
    with pytest.raises(NotReady, match="detached"):
        review.review_run(project, name, 3, "approve")
    assert not (project.run_dir(name) / reviews.REVIEWS_FILE).exists() and _head(project) == head
    assert "Review:" not in (project.run_dir(name) / "README.md").read_text()


def test_blind_row_ratings_become_one_review_per_run(project, tmp_path):
    a, b = trained_run(project, seed=1), trained_run(project, seed=2)
    _rows_key(project, a, b)
    ratings = _rows_ratings(tmp_path, {"r1": {"ratings": {"A": 5, "B": 2}, "preference": "A"},
                                       "r2": {"ratings": {"A": 3, "B": 4}, "preference": None}},
                            reviewer="Blind Listener", notes="warm")
    results = review.review_from_file(project, ratings)
    got = {r.review["run"]: r.review for r in results}
    # a: clips 5 and 4, mean 4.5 -> 5, approve; b: 2 and 3, mean 2.5 -> 3, reject (below BLIND_APPROVE_AT)
    assert (got[a]["rating"], got[a]["verdict"], got[b]["rating"], got[b]["verdict"]) == (5, "approve", 3, "reject")
    assert got[a]["notes"] == (f"blind page {PAGE}: 2 clip(s) rated, mean 4.50; preferred in 1 of 1 row(s) with a "
                               "preference. warm")
    assert got[a]["utterances"] == {"sentence_0": {"rating": 5, "preferred": True},
                                    "sentence_1": {"rating": 4, "preferred": False}}
    assert got[b]["reviewer"] == "Blind Listener" and got[b]["source"] == f"blind report {PAGE}"
    for name in (a, b):
        assert [r["id"] for r in reviews.read_folder(project.run_dir(name))] == [got[name]["id"]]


@pytest.mark.parametrize("rows, says", [
    ({"r1": {"ratings": {"A": 5}}, "r2": {"ratings": {"C": 4}}}, "clip 'C' is not on blind page"),
    ({"r1": {"ratings": {"A": 5}}, "r9": {"ratings": {"A": 4}}}, "row 'r9' of the ratings is not on blind page"),
    ({"r1": {"ratings": {"A": 5}}, "r2": {"ratings": {"A": 6}}}, "rating must be a whole number from 1 to 5"),
    ({"r1": {"ratings": {"A": 5}, "preference": "Z"}}, "preference 'Z' is not a clip"),
    ({"r1": {"preference": "A"}}, "rates no clip"),
])
def test_every_rating_is_checked_before_any_review_is_recorded(project, tmp_path, rows, says):
    a, b = trained_run(project, seed=1), trained_run(project, seed=2)
    _rows_key(project, a, b)
    head = _head(project)
    with pytest.raises(BadInput, match=says):
        review.review_from_file(project, _rows_ratings(tmp_path, rows))
    assert _head(project) == head
    assert not any((project.run_dir(n) / reviews.REVIEWS_FILE).exists() for n in (a, b))


def test_the_first_blind_format_finds_its_key_beside_the_ratings_or_as_given(project, tmp_path):
    name = trained_run(project)
    page = tmp_path / "page"
    page.mkdir()
    ratings = page / "ratings.json"
    ratings.write_text(json.dumps({"format": review.RATINGS_FORMAT, "page": "p1",
                                   "ratings": {"A": {"rating": 4, "verdict": "approve", "notes": "ok"}}}))
    with pytest.raises(BadInput, match="no key for blind page p1"):
        review.from_ratings(project, ratings)
    key = {"format": review.KEY_FORMAT, "page": "p1", "runs": {"A": name}}
    elsewhere = tmp_path / "kept-key.json"
    elsewhere.write_text(json.dumps(key))
    assert review.find_key(project, ratings, "p1", elsewhere) == elsewhere
    (page / review.KEY_FILE).write_text(json.dumps(key))
    assert review.find_key(project, ratings, "p1", None) == page / review.KEY_FILE
    [(run, made)] = review.from_ratings(project, ratings, reviewer="Someone")
    assert (run, made["rating"], made["verdict"], made["source"]) == (name, 4, "approve", "blind report p1, as A")
    (page / review.KEY_FILE).write_text(json.dumps({**key, "page": "p2"}))
    with pytest.raises(BadInput, match="does not belong to blind page p1"):
        review.from_ratings(project, ratings)


def test_files_that_are_not_ratings_are_refused_without_blocking(project, tmp_path):
    fifo = tmp_path / "ratings.fifo"
    os.mkfifo(fifo)  # reading it would block forever
    huge = tmp_path / "huge.json"
    huge.write_text('{"format": "' + "x" * review.MAX_RATINGS_BYTES + '"}')
    cases = {fifo: "not a regular file", huge: "over 1048576 bytes", tmp_path / "missing.json": "not a regular file"}
    for path, text in {"bad.json": "{torn", "list.json": "[1, 2]", "other.json": '{"format": "something else"}'}.items():
        (tmp_path / path).write_text(text)
    cases.update({tmp_path / "bad.json": "not JSON", tmp_path / "list.json": "not a JSON object",
                  tmp_path / "other.json": "is not a ratings file of a blind report page"})
    head = _head(project)
    for path, says in cases.items():
        with pytest.raises(BadInput, match=says) as raised:
            review.review_from_file(project, path)
        assert raised.value.exit_code == 2
    assert _head(project) == head


# --- moved from tests/core/test_review.py (recording a review through the command line) ----------------

def test_review_before_and_after_tagging(project):
    name = trained_run(project)
    before = _head(project)
    result = run_cli(project.root, "review", name, "--rating", "4", "--verdict", "approve", "--notes", "clear and natural")
    assert result.exit_code == 0, result.output
    assert f"reviewed {name}: approve 4/5" in result.output
    after = _head(project)
    assert after != before
    assert _subject(project) == f"henryvc: review {name} (approve, 4/5)"
    run_dir = project.run_dir(name)
    saved = review.read_folder(run_dir)
    assert [(r["rating"], r["verdict"], r["notes"]) for r in saved] == [(4, "approve", "clear and natural")]
    assert saved[0]["reviewer"] == "Henry Tester <tester@henryvc.invalid>"
    readme = (run_dir / "README.md").read_text()
    assert "### Review: approve, 4/5 (" in readme and "clear and natural" in readme
    # Committed: nothing of the review is left unstaged.
    assert sh(project.root, "git", "status", "--porcelain", "--", f"training_runs/{name}/reviews.json",
              f"training_runs/{name}/README.md").stdout == ""

    assert run_cli(project.root, "tag-run", name).exit_code == 0
    tag_commit = sh(project.root, "git", "rev-parse", f"{name}^{{commit}}").stdout.strip()
    assert [r["id"] for r in _note(project, name)] == [saved[0]["id"]]  # copied into the note at tagging

    result = run_cli(project.root, "review", name, "--rating", "2", "--verdict", "reject", "--notes", "buzzy at the end")
    assert result.exit_code == 0, result.output
    assert sh(project.root, "git", "rev-parse", f"{name}^{{commit}}").stdout.strip() == tag_commit  # tag never moves
    assert [r["verdict"] for r in _note(project, name)] == ["approve", "reject"]
    assert _subject(project) == f"henryvc: review {name} (reject, 2/5)"

    listing = run_cli(project.root, "list").output
    header, row = listing.splitlines()[0], next(line for line in listing.splitlines() if line.startswith(name))
    assert "REVIEW" in header and "reject 2/5 (+1)" in row
    shown = run_cli(project.root, "show", name).output
    assert "approve 4/5 by Henry Tester" in shown
    assert "reject 2/5 by Henry Tester <tester@henryvc.invalid>: buzzy" in shown
    as_json = json.loads(run_cli(project.root, "show", name, "--json").output)
    assert [r["rating"] for r in as_json["reviews"]] == [4, 2]
    listed = json.loads(run_cli(project.root, "list", "--json").output)
    assert [r["verdict"] for r in listed["runs"][0]["reviews"]] == ["approve", "reject"]


def test_review_of_a_tagged_run_without_its_folder_goes_to_the_note(project):
    name = trained_run(project)
    assert run_cli(project.root, "tag-run", name).exit_code == 0
    sh(project.root, "git", "rm", "-rq", f"training_runs/{name}")
    sh(project.root, "git", "commit", "-qm", "drop the run folder")
    head = _head(project)
    result = run_cli(project.root, "review", name, "--rating", "3", "--verdict", "approve", "--notes", "")
    assert result.exit_code == 0, result.output
    assert "note on" in result.output and _head(project) == head
    assert [r["rating"] for r in _note(project, name)] == [3]
    assert "approve 3/5" in run_cli(project.root, "list").output
    sh(project.root, "git", "pack-refs", "--all")  # the notes ref in packed-refs (as after git gc) still reads
    assert not (project.root / ".git" / review.NOTES_REF).exists()
    assert "approve 3/5" in run_cli(project.root, "list").output


def test_bad_review_input_is_one_line_and_writes_nothing(project):
    name = trained_run(project)
    head = _head(project)
    for args in (["--rating", "7", "--verdict", "approve", "--notes", "x"],
                 ["--rating", "3", "--verdict", "maybe", "--notes", "x"],
                 ["--verdict", "approve", "--notes", "x"]):  # no terminal to ask for the rating
        result = run_cli(project.root, "review", name, *args)
        assert result.exit_code == 2, (args, result.output)
    assert not (project.run_dir(name) / review.REVIEWS_FILE).exists()
    assert "Review:" not in (project.run_dir(name) / "README.md").read_text()
    assert _head(project) == head
    assert run_cli(project.root, "review", "henry_v2_debug_20990101_000000", "--rating", "3", "--verdict", "approve",
                   "--notes", "").exit_code == 2


def test_tag_run_push_and_backup_push_the_review_notes(project, tmp_path):
    name = trained_run(project)
    bare = tmp_path / "origin.git"
    sh(tmp_path, "git", "init", "-q", "--bare", str(bare))
    sh(project.root, "git", "remote", "add", "origin", str(bare))
    sh(project.root, "git", "push", "-q", "origin", "main")
    approve = ["review", name, "--rating", "4", "--verdict", "approve", "--notes", "ok"]
    assert run_cli(project.root, *approve).exit_code == 0
    assert run_cli(project.root, "tag-run", name, "--push").exit_code == 0
    remote_refs = sh(project.root, "git", "ls-remote", "origin").stdout
    assert review.NOTES_REF in remote_refs and f"refs/tags/{name}" in remote_refs
    # A clone that fetches the notes sees the review without the run folder.
    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(bare), str(clone))
    sh(clone, "git", "fetch", "-q", "origin", f"{review.NOTES_REF}:{review.NOTES_REF}")
    assert [r["rating"] for r in review.parse(sh(clone, "git", "notes", "--ref", review.NOTES_REF, "show",
                                                    f"{name}^{{commit}}").stdout)] == [4]
    reject = ["review", name, "--rating", "1", "--verdict", "reject", "--notes", "later"]
    assert run_cli(project.root, *reject).exit_code == 0
    result = run_cli(project.root, "backup")
    assert result.exit_code == 0, result.output
    remote_note = sh(project.root, "git", "ls-remote", "origin", review.NOTES_REF).stdout.split()[0]
    assert remote_note == sh(project.root, "git", "rev-parse", review.NOTES_REF).stdout.strip()


def test_review_asks_on_a_terminal(project):
    import os
    import pty
    import select
    import subprocess
    import sys
    import time
    from pathlib import Path

    name = trained_run(project)
    master, slave = pty.openpty()
    henryvc = str(Path(sys.executable).parent / "henryvc")
    proc = subprocess.Popen([henryvc, "review", name], cwd=project.root, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    seen = b""

    def until(prompt: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 60
        while prompt not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
        assert prompt in seen, seen.decode(errors="replace")

    for prompt, answer in ((b"Rating (1-5):", b"5\n"), (b"Verdict", b"approve\n"), (b"Notes:", b"asked on a tty\n")):
        until(prompt)
        os.write(master, answer)
    until(b"reviewed ")
    assert proc.wait(timeout=60) == 0
    os.close(master)
    [saved] = review.read_folder(project.run_dir(name))
    assert (saved["rating"], saved["verdict"], saved["notes"]) == (5, "approve", "asked on a tty")


def test_reviews_from_two_boxes_merge_when_pushed(project, tmp_path):
    name = trained_run(project)
    bare = tmp_path / "origin.git"
    sh(tmp_path, "git", "init", "-q", "--bare", str(bare))
    sh(project.root, "git", "remote", "add", "origin", str(bare))
    assert run_cli(project.root, "tag-run", name, "--push").exit_code == 0
    sh(project.root, "git", "push", "-q", "origin", "main")
    other = tmp_path / "other-box"
    sh(tmp_path, "git", "clone", "-q", str(bare), str(other))
    first = ["review", name, "--rating", "3", "--verdict", "approve", "--notes", "box two", "--push"]
    result = run_cli(other, *first)
    assert result.exit_code == 0 and "reviews pushed to origin" in result.output, result.output
    second = ["review", name, "--rating", "2", "--verdict", "reject", "--notes", "box one", "--push"]
    result = run_cli(project.root, *second)  # its notes ref never saw box two's: merged, not rejected
    assert result.exit_code == 0, result.output
    remote = review.parse(sh(bare, "git", "notes", "--ref", review.NOTES_REF, "show", f"{name}^{{commit}}").stdout)
    assert sorted(r["notes"] for r in remote) == ["box one", "box two"]
    assert "reject 2/5 (+1)" in run_cli(project.root, "list").output
