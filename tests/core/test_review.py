"""Manual reviews on real git + DVC: README entry, reviews.json, a new commit, the note on the tag's commit,
list/show, the production gate, pushing the notes, and bad input."""

from __future__ import annotations

import json

from henryvc.core import review
from henryvc.core.verdict import Verdict, judge
from tests.helpers.cli import run_cli
from tests.helpers.project import gen, minimal_config, sh, trained_run


def _head(project) -> str:
    return sh(project.root, "git", "rev-parse", "HEAD").stdout.strip()


def _subject(project) -> str:
    return sh(project.root, "git", "log", "-1", "--format=%s").stdout.strip()


def _note(project, name: str) -> list[dict]:
    done = sh(project.root, "git", "notes", "--ref", review.NOTES_REF, "show", f"{name}^{{commit}}", check=False)
    return review.parse(done.stdout) if done.returncode == 0 else []


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


def _production_project(project):
    gen(project, {"configs/henry_voice_v2_production.json": json.dumps(minimal_config("production")),
                  "params.yaml": (project.root / "params.yaml").read_text()
                  + "review:\n  required_for: [production]\n"}, commit="production template, review gate")


def test_production_run_is_not_tagged_success_without_an_approving_review(project):
    _production_project(project)
    name = trained_run(project, "production")  # the fake stage marks it success
    result = run_cli(project.root, "tag-run", name)
    assert result.exit_code == 1
    assert f"{name} cannot be tagged success: awaiting an approving review" in result.output
    assert "review.required_for lists production and it has no review" in result.output
    assert sh(project.root, "git", "tag", "-l", name).stdout == ""
    assert run_cli(project.root, "review", name, "--rating", "2", "--verdict", "reject", "--notes", "robotic").exit_code == 0
    result = run_cli(project.root, "tag-run", name)
    assert result.exit_code == 1 and "its latest review is a reject (2/5)" in result.output
    assert run_cli(project.root, "review", name, "--rating", "4", "--verdict", "approve",
                   "--notes", "fixed by ear").exit_code == 0
    result = run_cli(project.root, "tag-run", name)
    assert result.exit_code == 0, result.output
    assert f"tagged {name} (success)" in result.output
    assert [r["verdict"] for r in _note(project, name)] == ["reject", "approve"]


def test_evaluate_withholds_success_until_an_approving_review_releases_it(project):
    _production_project(project)
    name = trained_run(project, "production")
    run_dir = project.run_dir(name)
    params = {"review": {"required_for": ["production"]}}
    met = judge({"total_loss": 1.0, "align_error": 0.01, "stopnet_loss": 0.1, "short_text_seconds": 1.0,
                 "training_finished": True, "chars_per_second_min": 11.0, "chars_per_second_max": 12.5,
                 "decoder_runaways": 0, "attention_focus_min": 0.7, "attention_diagonality_min": 0.9},
                {"max_total_loss": 2.0, "max_align_error": 0.1, "max_stopnet_loss": 0.5, "max_short_text_seconds": 5})
    assert met.status == "success"
    withheld = review.hold(met, run_dir, params)  # the rule alone; the evaluate stage applying it: test_training_pipeline
    assert withheld.status == "incomplete" and withheld.reasons[0].startswith(review.HOLD_REASON)
    assert review.hold(met, project.run_dir(trained_run(project, "debug", seed=2)), params).status == "success"
    assert review.hold(Verdict("failed", [], ["x"]), run_dir, params).status == "failed"
    from henryvc.core import record as records

    records.update(run_dir, status=withheld.status, verdict=withheld.to_dict())
    assert run_cli(project.root, "review", name, "--rating", "5", "--verdict", "approve", "--notes", "ship it").exit_code == 0
    rec = records.load(run_dir)
    assert rec.status == "success" and rec.history[-1]["event"] == "review-approved-success"
    assert (run_dir / "SUCCESS").exists()
    assert "approved by Henry Tester" in rec.verdict["reasons"][0]
    assert sh(project.root, "git", "show", f"HEAD:training_runs/{name}/run.json").stdout.count('"success"') >= 1


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
