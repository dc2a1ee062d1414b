"""The run lifecycle on real git + DVC projects: archive, cleanup-failed, snapshot, schedule and the seed's
scripts (backup's own tests: tests/ops/test_backup.py; reset's: tests/ops/test_reset.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from henryvc import api
from henryvc.adapters import dvcstore, gitrepo
from henryvc.core import journal as journals
from henryvc.core import record as records
from henryvc.core import runname
from henryvc.core.project import Project
from henryvc.errors import BadInput, NotReady
from henryvc.ops import archive as archives
from henryvc.ops import backup as backups
from henryvc.ops import cleanup as cleanups
from henryvc.ops import snapshot as snapshots
from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import picture, relink, run_with_status, train, training, tree
from tests.helpers.project import dvc, sh

REPO = Path(__file__).resolve().parents[2]
KEPT = ["README.md", "config.json", "logs/trainer.txt", "metrics.json", "run.json"]


def tag_commit(project: Project, name: str) -> str:
    return sh(project.root, "git", "rev-parse", f"{name}^{{commit}}").stdout.strip()


def checkpoint_files(project: Project, name: str) -> dict[str, str]:
    """relpath → md5 of the checkpoints recorded at tag NAME (the listing read from the cache)."""
    [out] = [o for o in dvcstore.cached_outs_at(gitrepo.open_repo(project.root), name) if o.path.endswith("checkpoints")]
    return dvcstore.out_files(project.root / ".dvc" / "cache", None, out)


def restores(project: Project, name: str) -> bool:
    """The tag restores into a worktree (pulling what the cache lacks) and every hash matches."""
    result = api.restore(project, name)
    return api.verify(project, name, Path(result.path)).ok and result.checked_files > 0


# --- archive -------------------------------------------------------------------------------------------

def test_archive_moves_by_verdict_is_idempotent_and_recorded(project):
    failed = run_with_status(project, "failed", seed=1, tag=True)
    incomplete = run_with_status(project, "incomplete", seed=2)
    success = run_with_status(project, "success", seed=3, tag=True)
    tagged_at = tag_commit(project, failed)

    before = picture(project.root)
    result = run_cli(project.root, "archive", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    planned = {a["run"]: (a["action"], a["target"]) for a in json.loads(result.output)["actions"]}
    assert planned == {failed: ("move", f"training_runs/archive/failed/{failed}"),
                       incomplete: ("move", f"training_runs/archive/incomplete/{incomplete}"),
                       success: ("keep", None)}
    assert picture(project.root) == before  # a dry run writes nothing at all

    result = run_cli(project.root, "archive")
    assert result.exit_code == 0, result.output
    assert (project.runs / "archive" / "failed" / failed / "run.json").is_file()
    assert (project.runs / "archive" / "incomplete" / incomplete / "checkpoints" / "checkpoint_500.pth").is_file()
    assert not project.run_dir(failed).exists() and not project.run_dir(incomplete).exists()
    assert (project.run_dir(success) / "SUCCESS").is_file()
    # The tag stays the source of truth: not moved; the move of the tracked run is a new commit of its own.
    assert tag_commit(project, failed) == tagged_at
    assert sh(project.root, "git", "log", "-1", "--format=%s").stdout.strip() == f"henryvc: archive {failed}"
    assert not [line for line in sh(project.root, "git", "status", "--porcelain").stdout.splitlines()
                if not line.startswith("??")]  # nothing tracked is left modified or deleted
    moves = [e for e in journals.read_journal(project) if e["action"] == "archive"]
    assert {(e["run"], e["to"]) for e in moves} == {
        (failed, f"training_runs/archive/failed/{failed}"), (incomplete, f"training_runs/archive/incomplete/{incomplete}")}

    head, journal = sh(project.root, "git", "rev-parse", "HEAD").stdout, journals.read_journal(project)
    again = archives.archive(project)
    assert [(a.run, a.action, a.done) for a in again.actions] == [(success, "keep", False)]
    assert sh(project.root, "git", "rev-parse", "HEAD").stdout == head and journals.read_journal(project) == journal
    # The registry still knows every run, and the archived tagged run still restores.
    assert {r["name"] for r in json.loads(run_cli(project.root, "list", "--json").output)["runs"]} == {
        failed, incomplete, success}
    assert restores(project, failed)


def test_archive_finishes_what_a_killed_archive_left(project):
    a = run_with_status(project, "failed", seed=1, tag=True)
    b = run_with_status(project, "failed", seed=2, tag=True)
    for name in (a, b):  # as if killed after the rename: one before `git rm --cached`, one after it
        os.rename(project.run_dir(name), project.runs / "archive" / "failed" / name)
    sh(project.root, "git", "rm", "-r", "-q", "--cached", f"training_runs/{b}")
    result = archives.archive(project)
    assert result.actions == [] and result.commit
    assert not [line for line in sh(project.root, "git", "status", "--porcelain").stdout.splitlines()
                if not line.startswith("??")]
    assert sh(project.root, "git", "ls-files", "training_runs/archive/failed").stdout.count("run.json") == 2
    assert {e["run"] for e in journals.read_journal(project) if e["action"] == "archive"} == {a, b}


def test_archive_leaves_the_run_about_to_be_trained(project):
    done = run_with_status(project, "failed", seed=1)
    fresh = api.new_run(project, 2, "debug").name  # params.yaml points at it; not trained yet
    actions = {a.run: a for a in archives.archive(project).actions}
    assert actions[done].done and actions[fresh].action == "skip" and "not trained yet" in actions[fresh].reason
    api.new_run(project, 2, "stable")  # now another run is next: the abandoned one is incomplete
    assert archives.archive(project).actions[0].target == f"training_runs/archive/incomplete/{fresh}"


def test_archive_never_moves_a_run_that_is_training(project):
    name = run_with_status(project, "training", seed=1)
    with training(project.run_dir(name)):
        result = archives.archive(project)
        [action] = result.actions
        assert action.action == "skip" and "training now" in action.reason
        assert project.run_dir(name).is_dir()
    # The lock died with the process: status "training" with nobody training is incomplete.
    [action] = archives.archive(project).actions
    assert action.done and action.target == f"training_runs/archive/incomplete/{name}"


def test_archive_skips_a_record_that_disagrees_with_its_tag(project):
    name = run_with_status(project, "success", seed=1, tag=True)
    records.update(project.run_dir(name), status="failed")
    [action] = archives.archive(project).actions
    assert action.action == "skip" and "its tag says success" in action.reason
    assert project.run_dir(name).is_dir()


def test_archive_never_acts_through_symlinks(project, tmp_path):
    outside = tmp_path / "outside"
    shutil.copytree(project.root / "configs", outside / "henry_v2_debug_20200101_000000")
    records.save(outside / "henry_v2_debug_20200101_000000", records.RunRecord(
        name="henry_v2_debug_20200101_000000", major=2, variant="debug", created="2020-01-01T00:00:00",
        config_hash="x", source_commit=None, status="failed"))
    link = project.runs / "henry_v2_debug_20200101_000000"
    link.symlink_to(outside / "henry_v2_debug_20200101_000000")
    before = sorted(p.name for p in (outside / "henry_v2_debug_20200101_000000").iterdir())
    [action] = archives.archive(project).actions
    assert action.action == "skip" and "symlink" in action.reason
    assert link.is_symlink() and sorted(p.name for p in link.resolve().iterdir()) == before

    # An archive folder leading out of the project: refuse before moving anything.
    link.unlink()
    name = run_with_status(project, "failed", seed=1)
    shutil.rmtree(project.runs / "archive" / "failed")
    (tmp_path / "elsewhere").mkdir()
    (project.runs / "archive" / "failed").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(NotReady, match="outside the project"):
        archives.archive(project)
    assert project.run_dir(name).is_dir() and not any((tmp_path / "elsewhere").iterdir())


def test_archive_refuses_a_detached_head_before_moving(project):
    name = run_with_status(project, "failed", seed=1, tag=True)
    sh(project.root, "git", "checkout", "-q", "--detach", "HEAD")
    with pytest.raises(NotReady, match="detached"):
        archives.archive(project)
    assert project.run_dir(name).is_dir()


# --- cleanup-failed ------------------------------------------------------------------------------------

def test_cleanup_failed_frees_recoverable_checkpoints_and_every_tag_still_restores(project, tmp_path):
    failed = run_with_status(project, "failed", seed=2, tag=True)
    kept = run_with_status(project, "success", seed=1, tag=True)  # the branch's dvc.lock moves on from FAILED
    untagged = run_with_status(project, "failed", seed=3)
    assert run_cli(project.root, "backup").exit_code == 0
    assert run_cli(project.root, "archive").exit_code == 0
    failed_dir = project.runs / "archive" / "failed" / failed
    untagged_dir = project.runs / "archive" / "failed" / untagged
    cache = project.root / ".dvc" / "cache" / "files" / "md5"
    ckpt_md5 = checkpoint_files(project, failed)

    before = picture(project.root)
    result = run_cli(project.root, "cleanup-failed", "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)
    assert picture(project.root) == before
    items = {i["run"]: i for i in plan["items"]}
    assert items[failed]["action"] == "delete" and items[failed]["recoverable"]
    assert items[failed]["files"] == 2 and "dropped" in items[failed]["cache"]
    assert items[untagged]["action"] == "skip" and "not tagged" in items[untagged]["reason"]
    assert plan["will_free"] >= 2 * 131072  # the checkpoints' bytes, once per inode (links or copies)

    result = run_cli(project.root, "cleanup-failed", process=True)  # not a terminal and no --yes: refuses, frees nothing
    assert result.returncode == 2 and "--yes" in result.stderr
    assert (failed_dir / "checkpoints").is_dir()

    result = run_cli(project.root, "cleanup-failed", "--yes")
    assert result.exit_code == 0, result.output
    assert result.output.index("will free") < result.output.index("freed")  # said before it did
    assert not (failed_dir / "checkpoints").exists()
    assert [f for f in tree(failed_dir) if not f.startswith("tensorboard/")] == sorted(KEPT + [".gitignore"])
    assert (untagged_dir / "checkpoints" / "checkpoint_500.pth").is_file()  # not recoverable: kept
    assert not any((cache / md5[:2] / md5[2:]).exists() for md5 in ckpt_md5.values())  # left the cache
    assert all(restores(project, name) for name in (kept, failed))  # from the cache, or pulled from the remote

    result = run_cli(project.root, "cleanup-failed", "--force", "--yes")
    assert result.exit_code == 0, result.output
    assert not (untagged_dir / "checkpoints").exists() and (untagged_dir / "run.json").is_file()


def test_cleanup_counts_each_inode_once_and_keeps_what_the_remote_lacks(project):
    failed = run_with_status(project, "failed", seed=2, tag=True)
    run_with_status(project, "success", seed=4, tag=True)  # the work tree and branch move on from FAILED
    sh(project.root, "git", "checkout", "-q", failed, "--", "dvc.lock", "params.yaml")
    relink(project)  # FAILED's checkpoints are now hard links of the cache objects
    sh(project.root, "git", "checkout", "-q", "HEAD", "--", "dvc.lock", "params.yaml")
    ckpt = project.run_dir(failed) / "checkpoints" / "checkpoint_500.pth"
    assert ckpt.stat().st_nlink == 2
    plan = cleanups.cleanup_failed(project, dry_run=True)
    [item] = plan.items
    # Nothing is on the remote yet, so the cache keeps its copy and deleting the links frees nothing.
    assert item.action == "delete" and item.bytes == 0 and "kept" in item.cache and plan.will_free < 131072
    backups.backup(project)
    plan = cleanups.cleanup_failed(project, dry_run=True)
    assert "dropped" in plan.items[0].cache
    assert 2 * 131072 <= plan.will_free < 3 * 131072  # each checkpoint's bytes once, not once per link
    cleanups.cleanup_failed(project)
    assert restores(project, failed)


def test_cleanup_never_follows_a_symlink_out_and_never_touches_a_training_run(project, tmp_path):
    failed = run_with_status(project, "failed", seed=2, tag=True)
    outside = tmp_path / "precious.pth"
    outside.write_bytes(b"not henryvc's" * 1000)
    (project.run_dir(failed) / "checkpoints" / "stray.pth").symlink_to(outside)
    [item] = cleanups.cleanup_failed(project).items
    assert item.action == "skip" and "not recoverable" in item.reason
    assert (project.run_dir(failed) / "checkpoints" / "checkpoint_500.pth").exists()

    with training(project.run_dir(failed)):
        [item] = cleanups.cleanup_failed(project, force=True).items
        assert item.action == "skip" and "training now" in item.reason
        assert (project.run_dir(failed) / "checkpoints").is_dir()

    [item] = cleanups.cleanup_failed(project, force=True).items
    assert item.action == "delete" and not (project.run_dir(failed) / "checkpoints").exists()
    assert outside.read_bytes() == b"not henryvc's" * 1000  # the link went, never its target


def test_cleanup_frees_checkpoints_while_dvc_repro_holds_the_dvc_lock(project):
    failed = run_with_status(project, "failed", seed=2, tag=True)
    run_with_status(project, "success", seed=4, tag=True)
    backups.backup(project)
    hold = ("import sys, time\nfrom dvc.repo import Repo, lock_repo\nwith lock_repo(Repo('.')):\n"
            "    print('locked', flush=True)\n    time.sleep(600)\n")
    holder = subprocess.Popen([sys.executable, "-c", hold], cwd=project.root, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = run_cli(project.root, "cleanup-failed", "--yes")
        assert result.exit_code == 0, result.output
        assert "DVC gc: skipped" in result.output and not (project.run_dir(failed) / "checkpoints").exists()
    finally:
        holder.kill()
        holder.wait()
    [item] = cleanups.cleanup_failed(project, dry_run=True).items  # the skipped gc is not forgotten:
    assert item.action == "skip" and "dropped" in item.cache  # the tag's objects can still leave the cache
    [ckpt] = [o for o in dvcstore.cached_outs_at(gitrepo.open_repo(project.root), failed) if o.path.endswith("checkpoints")]
    cleanups.cleanup_failed(project)
    assert not (project.root / ".dvc" / "cache" / "files" / "md5" / ckpt.md5[:2] / (ckpt.md5[2:] + ".dir")).exists()
    assert restores(project, failed)


def test_cleanup_keeps_the_cache_copy_of_an_object_damaged_on_the_remote(project, tmp_path):
    failed = run_with_status(project, "failed", seed=2, tag=True)
    run_with_status(project, "success", seed=4, tag=True)
    backups.backup(project)
    md5 = checkpoint_files(project, failed)["checkpoint_500.pth"]
    damaged = tmp_path / "dvc-remote" / "files" / "md5" / md5[:2] / md5[2:]
    damaged.unlink()
    damaged.write_bytes(b"")  # what a push killed mid-reflink leaves behind
    [item] = cleanups.cleanup_failed(project).items
    assert item.action == "delete" and "kept in the cache" in item.cache
    assert (project.root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]).is_file()  # the only good copy
    assert restores(project, failed)


def test_cleanup_and_backup_after_a_remote_with_local_only_settings_was_added(project, tmp_path):
    failed = run_with_status(project, "failed", seed=2, tag=True)
    run_with_status(project, "success", seed=4, tag=True)
    # A backup remote added later, its settings partly in config.local (as an ssh keyfile would be):
    # DVC itself can no longer collect the older tags' data (their .dvc/config lacks the remote's url).
    dvc(project.root, "remote", "add", "backup", str(tmp_path / "backup-remote"))
    dvc(project.root, "remote", "modify", "--local", "backup", "jobs", "2")
    assert run_cli(project.root, "backup").exit_code == 0
    assert run_cli(project.root, "backup", "--verify").exit_code == 0
    backups.backup(project, remote="storage")
    result = run_cli(project.root, "cleanup-failed", "--yes")
    assert result.exit_code == 0, result.output
    assert not (project.run_dir(failed) / "checkpoints").exists() and restores(project, failed)


def test_cleanup_older_than_filters_by_the_run_name_date(project):
    failed = run_with_status(project, "failed", seed=2, tag=True)
    backups.backup(project)
    assert cleanups.cleanup_failed(project, older_than=30, dry_run=True).items == []
    for days in ("-1", "nan", "inf", "1e300"):
        assert run_cli(project.root, "cleanup-failed", "--older-than", days).exit_code == 2
    assert [i.run for i in cleanups.cleanup_failed(project, older_than=0, dry_run=True).items] == [failed]


# --- snapshot, schedule -------------------------------------------------------------------------------

def test_snapshot_tags_the_state_outside_the_run_grammar(project):
    name = train(project, seed=1)
    result = run_cli(project.root, "snapshot", "-m", "before switching to v3", "--json")
    assert result.exit_code == 0, result.output
    snap = json.loads(result.output)
    assert snapshots.SNAPSHOT_PATTERN.match(snap["name"]) and not runname.is_run_name(snap["name"])
    assert sh(project.root, "git", "cat-file", "-t", snap["name"]).stdout.strip() == "tag"
    body = sh(project.root, "git", "tag", "-l", "--format=%(contents)", snap["name"]).stdout
    assert "before switching to v3" in body.splitlines()[0]
    summary = json.loads(body[body.index("{"):])
    assert summary["format"] == "henryvc-snapshot/1" and f"training_runs/{name}/checkpoints" in summary["data"]
    assert sh(project.root, "git", "show", f"{snap['name']}:training_runs/{name}/run.json").returncode == 0
    assert snap["pushed_objects"] > 0
    assert json.loads(run_cli(project.root, "list", "--json").output)["unreadable"] == []
    with pytest.raises(BadInput):
        snapshots.snapshot(project, "a\0b")

    edited = project.run_dir(name) / "checkpoints" / "checkpoint_500.pth"
    edited.unlink()  # a link into the cache: edit a copy, as `dvc unprotect` would
    edited.write_bytes(b"changed after dvc repro")
    result = run_cli(project.root, "snapshot")
    assert result.exit_code == 1 and "dvc commit" in result.output
    dvc(project.root, "checkout", "-f", "-q")
    (project.root / "hüge file.bin").write_bytes(b"\0" * (6 * 1024 * 1024))
    result = run_cli(project.root, "snapshot", "--no-push")
    assert result.exit_code == 1 and "hüge file.bin" in result.output and "dvc add" in result.output


def test_schedule_prints_cron_and_systemd_lines(project):
    result = run_cli(project.root, "schedule")
    assert result.exit_code == 0
    jobs = [line for line in result.output.splitlines() if line and not line.startswith("#")]
    assert len(jobs) == 3
    weekly, monthly, scrub = (line.split(None, 5) for line in jobs)
    assert weekly[:5] == ["0", "3", "*", "*", "0"] and "backup --best-only" in weekly[5]
    assert monthly[:5] == ["0", "4", "1", "*", "*"] and "backup --verify" in monthly[5]
    assert scrub[:5] == ["0", "5", "15", "*", "*"] and "backup --verify --deep" in scrub[5]  # reads every byte back
    assert str(project.root) in weekly[5]
    result = run_cli(project.root, "schedule", "--systemd")
    assert result.output.count("[Timer]") == 3 and "OnCalendar=Sun *-*-* 03:00:00" in result.output
    assert "ExecStart=" in result.output and "backup --verify" in result.output
    assert f"WorkingDirectory={project.root}" in result.output


@pytest.mark.parametrize("script,args,expect", [
    ("archive_training_runs.sh", ["--dry-run"], "would move"),
    ("cleanup_failed_runs.sh", ["--dry-run"], "will free"),
    ("reset_all_training.sh", ["--dry-run"], "run folder(s)"),
])
def test_seed_scripts_call_the_commands(project, script, args, expect):
    run_with_status(project, "failed", seed=1, tag=True)
    before = picture(project.root)
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    result = subprocess.run(["bash", str(REPO / "scripts" / script), *args], cwd=project.root, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert expect in result.stdout + result.stderr
    assert picture(project.root) == before
