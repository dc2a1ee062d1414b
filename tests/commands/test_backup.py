"""`henryvc backup`, `snapshot` and `schedule` as printed: flags that exclude each other refused (exit 2) before
any project is read, backup then --verify on a real local remote, an unknown remote named, snapshot's line and
--json, schedule's cron and systemd text (printed, never installed)."""

from __future__ import annotations

import json

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import remote_objects, run_with_status
from tests.helpers.project import sh

EXCLUDES = "--verify excludes --best-only and --repair (it writes nothing)"


@pytest.mark.parametrize("args,why", [(["--verify", "--best-only"], EXCLUDES), (["--verify", "--repair"], EXCLUDES),
                                      (["--deep"], "--deep goes with --verify")])
def test_backup_refuses_flags_that_exclude_each_other_before_reading_any_project(tmp_path, args, why):
    result = run_cli(tmp_path, "backup", *args)  # tmp_path is no project: the flags are checked first
    assert result.exit_code == 2 and result.stderr == f"henryvc: error: {why}\n"


def test_backup_pushes_every_tag_then_verify_finds_them_all(project, tmp_path):
    name = run_with_status(project, "success", seed=1, tag=True)
    remote = tmp_path / "dvc-remote"
    result = run_cli(project.root, "backup")
    assert result.exit_code == 0, result.output
    pushed = len(remote_objects(remote))
    assert pushed > 0
    assert result.stdout.startswith(f"backup of 1 tag(s) to storage ({remote}): ")
    assert "object(s) pushed" in result.stdout
    check = run_cli(project.root, "backup", "--verify")
    assert check.exit_code == 0, check.output
    assert check.stdout.startswith(f"storage ({remote}): 1 tag(s), ") and check.stdout.rstrip().endswith("all there")
    data = json.loads(run_cli(project.root, "backup", "--verify", "--json").stdout)
    assert data["ok"] is True and data["tags"] == 1 and data["missing"] == []
    assert name in sh(project.root, "git", "tag").stdout


def test_backup_verify_exits_1_naming_what_the_remote_lacks(project, tmp_path):
    run_with_status(project, "success", seed=1, tag=True)
    assert run_cli(project.root, "backup").exit_code == 0
    lost = remote_objects(tmp_path / "dvc-remote")[0]
    lost.unlink()
    check = run_cli(project.root, "backup", "--verify")
    assert check.exit_code == 1
    oid = lost.parent.name + lost.name
    assert any(line.startswith("missing: ") and f"({oid})" in line for line in check.stdout.splitlines())
    assert "run `henryvc backup`" in check.stdout


def test_backup_to_an_unknown_remote_is_bad_input(project):
    result = run_cli(project.root, "backup", "--remote", "nowhere")
    assert result.exit_code == 2
    assert "no DVC remote named 'nowhere' (configured: storage)" in result.stderr


def test_snapshot_no_push_tags_and_prints_its_line(project):
    (project.root / "notes.txt").write_text("before v3\n")
    result = run_cli(project.root, "snapshot", "-m", "before v3", "--no-push")
    assert result.exit_code == 0, result.output
    [tag] = sh(project.root, "git", "tag", "--list", "snapshot_*").stdout.split()
    commit = sh(project.root, "git", "rev-parse", f"{tag}^{{commit}}").stdout.strip()
    assert result.stdout == f"snapshot {tag} at {commit[:10]}\n"  # no push: no remote named
    assert "notes.txt" in sh(project.root, "git", "show", "--stat", commit).stdout


def test_schedule_prints_cron_by_default_and_systemd_when_asked(project):
    cron = run_cli(project.root, "schedule")
    assert cron.exit_code == 0, cron.output
    jobs = [line for line in cron.stdout.splitlines() if not line.startswith("#")]
    assert len(jobs) == 3 and all(f"cd {project.root} && " in line for line in jobs)
    assert [line.split()[:5] for line in jobs] == [["0", "3", "*", "*", "0"], ["0", "4", "1", "*", "*"],
                                                  ["0", "5", "15", "*", "*"]]
    assert "backup --best-only" in jobs[0] and "backup --verify --deep" in jobs[2]
    systemd = run_cli(project.root, "schedule", "--systemd", "--json")
    data = json.loads(systemd.stdout)
    assert data["kind"] == "systemd" and "OnCalendar=" in data["text"] and "[Timer]" in data["text"]
    assert data["text"].count("# henryvc-backup-") == 6  # a service and a timer for each of three jobs
    assert run_cli(project.root, "schedule", "--json").stdout == json.dumps(
        {"kind": "cron", "text": cron.stdout}, indent=2, sort_keys=True) + "\n"


def test_schedule_names_each_job_once(project):
    text = run_cli(project.root, "schedule").stdout + run_cli(project.root, "schedule", "--systemd").stdout
    for job in ("weekly", "monthly", "scrub"):
        assert f"{job}: {job}" not in text and f"henryvc {job} {job}" not in text
