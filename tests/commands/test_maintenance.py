"""`henryvc archive`, `cleanup-failed` and `reset` as printed: one line per run and a count, dry runs that change
nothing, nothing to do without a question asked, bad options (exit 2); the operations themselves:
tests/ops/test_lifecycle.py."""

from __future__ import annotations

import json

from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import picture, run_with_status
from tests.helpers.project import sh


def test_archive_prints_a_line_per_run_and_a_count(project):
    failed = run_with_status(project, "failed", seed=1, tag=True)
    kept = run_with_status(project, "success", seed=2, tag=True)
    before = picture(project.root)
    dry = run_cli(project.root, "archive", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert picture(project.root) == before
    lines = dry.stdout.splitlines()
    assert f"would move {failed} (failed) -> training_runs/archive/failed/{failed}" in lines
    assert any(line.split()[:3] == ["keeps", kept, "(success)"] for line in lines)
    assert dry.stderr == "2 run(s): 1 would move, 1 kept, 0 skipped\n"
    done = run_cli(project.root, "archive")
    assert done.exit_code == 0, done.output
    assert f"moved      {failed} (failed) -> training_runs/archive/failed/{failed}" in done.stdout.splitlines()
    assert f"{kept} (success): SUCCESS marker written" in done.stdout
    head = sh(project.root, "git", "rev-parse", "HEAD").stdout.strip()
    assert done.stderr == f"2 run(s): 1 moved, 1 kept, 0 skipped; committed {head[:10]}\n"


def test_archive_of_a_project_without_runs_moves_nothing(project):
    result = run_cli(project.root, "archive", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["actions"] == []
    assert run_cli(project.root, "archive").stderr == "0 run(s): 0 moved, 0 kept, 0 skipped\n"


def test_cleanup_failed_prints_its_plan_and_with_nothing_to_free_asks_nothing(project):
    run_with_status(project, "success", seed=1, tag=True)
    untagged = run_with_status(project, "failed", seed=2)
    plan = run_cli(project.root, "cleanup-failed", "--dry-run")
    assert plan.exit_code == 0, plan.output
    assert f"skip    training_runs/{untagged}/checkpoints: not recoverable: " in plan.stdout
    assert "DVC gc: 0 cache object(s), 0 B (keeps the data of 1 tag(s)" in plan.stdout
    assert plan.stdout.splitlines()[-1] == "will free: 0 B"
    before = sh(project.root, "git", "status", "--porcelain").stdout
    # Not a terminal and no --yes: were anything to go, it would refuse (exit 2); nothing goes, so it says so.
    result = run_cli(project.root, "cleanup-failed", process=True)
    assert result.returncode == 0 and result.stderr == "nothing to free\n"
    assert (project.run_dir(untagged) / "checkpoints" / "checkpoint_500.pth").is_file()
    assert sh(project.root, "git", "status", "--porcelain").stdout == before


def test_cleanup_failed_refuses_a_non_number_of_days(project):
    result = run_cli(project.root, "cleanup-failed", "--older-than", "a-month", "--dry-run")
    assert result.exit_code == 2 and "--older-than" in result.output


def test_reset_dry_run_lists_each_folder_and_changes_nothing(project):
    tagged = run_with_status(project, "success", seed=1, tag=True)
    before = picture(project.root)
    result = run_cli(project.root, "reset", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    [row] = [line for line in lines if tagged in line]
    assert row.split()[0] in ("backed-up", "push") and f"training_runs/{tagged}" in row
    assert lines[-1].startswith("1 run folder(s); backup remote storage; ")
    data = json.loads(run_cli(project.root, "reset", "--dry-run", "--json").stdout)
    assert [i["run"] for i in data["items"]] == [tagged] and data["remote"] == "storage"
    assert picture(project.root) == before


def test_reset_without_run_folders_asks_nothing(project):
    result = run_cli(project.root, "reset", process=True)  # no terminal, no --yes: fine, there is nothing to clear
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("0 run folder(s)")
    unknown = run_cli(project.root, "reset", "--remote", "nowhere", "--dry-run")
    assert unknown.exit_code == 2 and "no DVC remote named 'nowhere' (configured: storage)" in unknown.stderr
