"""`henryvc review` and `henryvc report` as printed: a review's line (commit, note, status) and --json, a push
without origin said plainly, what is missing off a terminal or contradictory refused (exit 2, nothing committed),
and report's page line and blind key. The page in a real browser: tests/tiers/browser/test_report_real.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import run_with_status
from tests.helpers.project import sh
from tests.helpers.report import two_tagged_runs

NOTES_REF = "refs/notes/henryvc-reviews"


def head(project) -> str:
    return sh(project.root, "git", "rev-parse", "HEAD").stdout.strip()


def test_review_prints_its_commit_note_and_status(project):
    name = run_with_status(project, "success", seed=1, tag=True)
    tagged = sh(project.root, "git", "rev-parse", f"{name}^{{commit}}").stdout.strip()
    result = run_cli(project.root, "review", name, "--rating", "4", "--verdict", "approve", "--notes", "clear")
    assert result.exit_code == 0, result.output
    assert result.stdout == (f"reviewed {name}: approve 4/5 (commit {head(project)[:10]}, note on {tagged[:10]}); "
                             "status success\n")
    assert "clear" in sh(project.root, "git", "notes", f"--ref={NOTES_REF}", "show", tagged).stdout
    shown = run_cli(project.root, "show", name).stdout
    assert "review:  " in shown and "approve 4/5 by Henry Tester <tester@henryvc.invalid>: clear" in shown


def test_review_json_and_a_push_without_origin(project):
    name = run_with_status(project, "success", seed=1, tag=True)
    result = run_cli(project.root, "review", name, "--rating", "2", "--verdict", "reject", "--notes", "robotic",
                     "--reviewer", "Ann <ann@henryvc.invalid>", "--json")
    assert result.exit_code == 0, result.output
    [done] = json.loads(result.stdout)
    assert done["review"]["run"] == name and done["review"]["rating"] == 2 and done["review"]["verdict"] == "reject"
    assert done["review"]["reviewer"] == "Ann <ann@henryvc.invalid>" and done["commit"] == head(project)
    pushed = run_cli(project.root, "review", name, "--rating", "3", "--verdict", "approve", "--notes", "", "--push")
    assert pushed.exit_code == 0, pushed.output
    assert pushed.stdout.splitlines()[-1] == "nothing pushed: no git remote origin"


@pytest.mark.parametrize("args,says", [
    ([], "name the run to review (or --from FILE with a blind page's ratings)"),
    (["{run}", "--from", "ratings.json"], "give either NAME or --from FILE, not both"),
    (["{run}", "--verdict", "approve", "--notes", "x"], "--rating is required (or run on a terminal to be asked)"),
    (["{run}", "--rating", "4", "--notes", "x"], "--verdict is required (or run on a terminal to be asked)"),
    (["{run}", "--rating", "9", "--verdict", "approve", "--notes", "x"], "rating must be a whole number from 1 to 5"),
])
def test_review_refuses_missing_or_contradictory_input_and_commits_nothing(project, args, says):
    name = run_with_status(project, "success", seed=1, tag=True)
    (project.root / "ratings.json").write_text("{}")
    before = head(project)
    result = run_cli(project.root, "review", *[a.replace("{run}", name) for a in args])
    assert result.exit_code == 2 and says in result.stderr and result.stdout == ""
    assert head(project) == before
    assert sh(project.root, "git", "notes", f"--ref={NOTES_REF}", "list", check=False).stdout == ""


def test_review_refuses_a_bad_verdict_through_click(project):
    name = run_with_status(project, "success", seed=1, tag=True)
    result = run_cli(project.root, "review", name, "--rating", "3", "--verdict", "maybe", "--notes", "")
    assert result.exit_code == 2 and "maybe" in result.stderr


def test_report_prints_where_the_page_is(project, tmp_path):
    name = run_with_status(project, "success", seed=1, tag=True)
    result = run_cli(project.root, "report", name, "--out", str(tmp_path / "page"))
    assert result.exit_code == 0, result.output
    page = tmp_path / "page" / "index.html"
    assert result.stdout == f"report of 1 run(s), 0 audio file(s): {page}\n"
    assert page.is_file() and name in page.read_text()


def test_blind_report_keeps_its_key_in_the_project(project, tmp_path):
    a, b = two_tagged_runs(project)
    result = run_cli(project.root, "report", a, b, "--blind", "--out", str(tmp_path / "blind"))
    assert result.exit_code == 0, result.output
    first, second = result.stdout.splitlines()
    assert first.startswith("report of 2 run(s), ") and first.endswith(str(tmp_path / "blind" / "index.html"))
    prefix = "blind key, kept in the project (hand the listener only the page's folder): "
    assert second.startswith(prefix)
    key = Path(second.removeprefix(prefix))
    assert key.is_file() and key.is_relative_to(project.root) and not key.is_relative_to(tmp_path / "blind")
    page = "".join(p.read_text(errors="replace") for p in (tmp_path / "blind").rglob("*") if p.is_file())
    assert a not in page and b not in page  # the listener never sees the runs' names


def test_blind_report_of_runs_without_audio_is_refused(project):
    name = run_with_status(project, "success", seed=1, tag=True)
    result = run_cli(project.root, "report", name, "--blind")
    assert result.exit_code == 2 and "nothing to compare blind" in result.stderr
    assert not (project.state / "blind-keys").exists() or not any((project.state / "blind-keys").iterdir())


def test_report_needs_a_run(project):
    result = run_cli(project.root, "report")
    assert result.exit_code == 2 and "Missing argument" in result.output
