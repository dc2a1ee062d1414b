"""`henryvc restore` and `henryvc verify` on a real tagged run: restore prints where and how to re-create,
verify exits 0 when every hash matches and 1 naming each mismatch; exclusive options and untagged runs refused."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import picture, run_with_status


def test_restore_into_a_worktree_prints_where_and_how_to_recreate(project):
    name = run_with_status(project, "success", seed=1, tag=True)
    result = run_cli(project.root, "restore", name)
    assert result.exit_code == 0, result.output
    where = project.root / ".henryvc" / "restore" / name
    first, second = result.stdout.splitlines()
    assert first.startswith(f"restored {name} at {where}: ") and "all match the tag" in first
    assert second.startswith("re-create it with: ") and name in second
    assert (where / "training_runs" / name / "checkpoints" / "checkpoint_500.pth").is_file()


def test_restore_json_into_a_chosen_folder(project):
    name = run_with_status(project, "success", seed=1, tag=True)
    result = run_cli(project.root, "restore", name, "--into", ".henryvc/elsewhere", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["name"] == name and Path(data["path"]) == project.root / ".henryvc" / "elsewhere"
    assert data["read_files"] + data["known_files"] > 0


def test_restore_refuses_both_into_and_in_place_and_an_untagged_run(project):
    tagged = run_with_status(project, "success", seed=1, tag=True)
    untagged = run_with_status(project, "success", seed=2)
    before = picture(project.root)
    both = run_cli(project.root, "restore", tagged, "--into", "x", "--in-place")
    assert both.exit_code == 2 and "--into and --in-place exclude each other" in both.stderr
    missing = run_cli(project.root, "restore", untagged)
    assert missing.exit_code == 2 and f"no tag {untagged}" in missing.stderr
    assert picture(project.root) == before


def test_verify_passes_then_names_a_damaged_file(project):
    name = run_with_status(project, "success", seed=1, tag=True)
    ok = run_cli(project.root, "verify", name)
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.rstrip().endswith("all match") and "mismatch" not in ok.stdout
    checkpoint = project.run_dir(name) / "checkpoints" / "checkpoint_500.pth"
    data = checkpoint.read_bytes()
    checkpoint.unlink()  # the work tree holds a link into the cache: replace the file, never write into it
    checkpoint.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    bad = run_cli(project.root, "verify", name)
    assert bad.exit_code == 1
    assert any(line.startswith("mismatch: ") and "checkpoint_500.pth" in line for line in bad.stdout.splitlines())
    report = json.loads(run_cli(project.root, "verify", name, "--json").stdout)
    assert report["ok"] is False and report["checked_files"] > 0
    assert [m["path"] for m in report["mismatches"] if "checkpoint_500.pth" in m["path"]]
