"""Reliability: SIGKILL at chosen points of real henryvc commands, two commands at once, a full disk,
and hostile input. The commands run as real subprocesses on real git and DVC; the kill points are made
deterministic with git's own hooks (a hook that announces itself and sleeps) or by polling the remote
for objects, and the whole process group is killed, git children included.

After every kill: git fsck is clean, no stale git lock blocks the next command, every tag has its commit
and record, no run.json is half-written, every object in the DVC cache and remote re-hashes to its name,
a tag on the git remote always has all its data on the DVC remote, and re-running the command completes.

Figures (kill point, time to kill, recovery time, bytes lost, partial-transfer litter) are printed with
-s and appended as JSON lines to $HENRYVC_RELIABILITY_FIGURES when set.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from cli import dvcrepo
from cli.project import Project
from tests.conftest import sh
from tests.reliability_fixtures import (big_project, git_consistency, git_locks, henryvc, kill_when, md5, record_problems,
                                        rehash_store, remote_tags, spawn, train)

CKPT_MB, CKPT_FILES = 32, 8  # 256 MB of checkpoints: a push takes long enough to be killed half-way


def figure(scenario: str, **numbers) -> None:
    """Report one measured figure (stdout with -s; JSON lines to $HENRYVC_RELIABILITY_FIGURES)."""
    line = json.dumps({"scenario": scenario, **numbers}, sort_keys=True)
    print(f"FIGURE {line}")
    if os.environ.get("HENRYVC_RELIABILITY_FIGURES"):
        with open(os.environ["HENRYVC_RELIABILITY_FIGURES"], "a") as handle:
            handle.write(line + "\n")


def hook(root: Path, name: str, body: str) -> Path:
    """Install git hook NAME in ROOT's repository (common dir: worktrees share it)."""
    hooks = Path(sh(root, "git", "rev-parse", "--git-common-dir").stdout.strip())
    hooks = (hooks if hooks.is_absolute() else root / hooks) / "hooks"
    hooks.mkdir(exist_ok=True)
    path = hooks / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def stall(marker: Path, condition: str = "true") -> str:
    """Hook body: when CONDITION holds, announce itself in MARKER and sleep (to be killed there)."""
    return f'if {condition}; then touch "{marker}"; exec sleep 120; fi\nexit 0\n'


def expected_objects(project: Project, name: str) -> int:
    """How many objects tag NAME's data needs in a cache or remote (each .dir listing plus its files)."""
    from cli import gitrepo

    outs = dvcrepo.outs_at(gitrepo.open_repo(project.root), name)
    cache = dvcrepo.cache_dir(project.root)
    total = set()
    for out in (o for o in outs if getattr(o, "cached", True)):  # metrics.json is git's, not DVC's cache
        total.add(out.md5 + (".dir" if out.is_dir else ""))
        if out.is_dir:
            total |= {e["md5"] for e in json.loads(dvcrepo.object_path(cache, out).read_text())}
    return len(total)


def assert_consistent(project: Project, remote: Path | None = None, origin: Path | None = None,
                      name: str | None = None) -> dict:
    """The invariants that must hold after any kill; returns litter figures."""
    assert git_consistency(project.root) == []
    assert record_problems(project.root) == []
    cache = rehash_store(dvcrepo.cache_dir(project.root))
    assert cache.corrupt == []
    litter = {"cache_litter_files": len(cache.litter), "cache_litter_bytes": cache.litter_bytes}
    if remote is not None:
        store = rehash_store(remote)
        assert store.corrupt == []
        litter.update(remote_litter_files=len(store.litter), remote_litter_bytes=store.litter_bytes)
        if origin is not None and name in remote_tags(origin):  # data first, tag second
            assert store.good >= expected_objects(project, name)
    return litter


def listed(project: Project, name: str) -> dict:
    done = henryvc(project.root, "list", "--json")
    assert done.returncode == 0, done.stderr
    return {r["name"]: r for r in json.loads(done.stdout)["runs"]}[name]


@pytest.fixture
def pushed_setup(tmp_path):
    """A project with a 256 MB trained run, a DVC remote folder and a bare git remote."""
    remote, origin = tmp_path / "dvc-remote", tmp_path / "origin.git"
    project = big_project(tmp_path / "project", remote)
    sh(tmp_path, "git", "init", "-q", "--bare", str(origin))
    sh(project.root, "git", "remote", "add", "origin", str(origin))
    sh(project.root, "git", "push", "-q", "origin", "main")
    name = train(project, seed=11, mb=CKPT_MB, files=CKPT_FILES)
    return project, name, remote, origin


def test_sigkill_mid_tag_run_at_each_step_then_rerun_completes(pushed_setup, tmp_path):
    project, name, remote, origin = pushed_setup
    marks = tmp_path / "marks"
    marks.mkdir()
    head_before = sh(project.root, "git", "rev-parse", "HEAD").stdout.strip()
    objects = lambda: sum(1 for p in (remote / "files" / "md5").rglob("*") if p.is_file()) \
        if (remote / "files").is_dir() else 0  # noqa: E731
    # `git add` runs clean filters while it holds .git/index.lock: a stalling filter is a kill point there.
    sh(project.root, "git", "config", "filter.stall.clean", f'sh -c "touch {marks / "add"}; sleep 120; cat"')
    attributes = project.root / ".git" / "info" / "attributes"
    attributes.parent.mkdir(exist_ok=True)
    attributes.write_text("README.md filter=stall\n")
    steps = [
        # (kill point, hook to install or None, marker)
        ("mid-git-add (.git/index.lock held)", None, lambda: (marks / "add").exists()),
        ("mid-commit (prepare-commit-msg hook)", ("prepare-commit-msg", stall(marks / "commit")),
         lambda: (marks / "commit").exists()),
        ("mid-tag (refs/tags lock held)", ("reference-transaction",
                                           stall(marks / "tag", '[ "$1" = prepared ] && grep -q refs/tags/')),
         lambda: (marks / "tag").exists()),
        ("mid-dvc-push (remote partly filled)", None, lambda: objects() >= 3),
        ("mid-git-push (data pushed, tag on its way)", ("pre-push", stall(marks / "push")),
         lambda: (marks / "push").exists()),
    ]
    for label, hook_spec, marker in steps:
        installed = hook(project.root, *hook_spec) if hook_spec else None
        process = spawn(project.root, "tag-run", "--push")
        kill = kill_when(process, marker)
        assert kill.fired, f"{label}: the command finished (rc {kill.returncode}) before the kill point: {kill.stderr}"
        if installed:
            installed.unlink()
        attributes.write_text("")
        locks = git_locks(project.root)
        litter = assert_consistent(project, remote, origin, name)
        # The tool tells the truth about where it stopped.
        tagged_here = name in sh(project.root, "git", "tag", "--list").stdout.split()
        assert listed(project, name)["tagged"] is tagged_here
        assert listed(project, name)["status"] == "success"
        figure("tag-run --push", kill_point=label, killed_after_s=round(kill.after_s, 2), tagged=tagged_here,
               on_origin=name in remote_tags(origin), git_locks_left=locks, **litter)

    stale = project.root / ".git" / "index.lock"
    started = time.monotonic()
    done = henryvc(project.root, "tag-run", "--push")
    recovery = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert not stale.exists() and git_locks(project.root) == []
    assert remote_tags(origin) == [name]
    assert_consistent(project, remote, origin, name)
    commits = sh(project.root, "git", "rev-list", f"{head_before}..{name}").stdout.split()
    assert len(commits) == 1  # one run commit however many kills: the retry reused it
    verified = henryvc(project.root, "verify", name, "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"]
    assert rehash_store(remote).good >= expected_objects(project, name)
    figure("tag-run --push", kill_point="re-run after 5 kills", recovery_s=round(recovery, 2),
           bytes_lost=0, data_bytes=json.loads(verified.stdout)["checked_bytes"])


def test_sigkill_mid_restore_at_each_step_then_rerun_completes(pushed_setup, tmp_path):
    project, name, remote, origin = pushed_setup
    assert henryvc(project.root, "tag-run", "--push").returncode == 0
    box = tmp_path / "second-box"
    sh(tmp_path, "git", "clone", "-q", str(origin), str(box))
    clone = Project(box)
    marks = tmp_path / "marks"
    marks.mkdir()
    want = expected_objects(project, name)
    cached = lambda: rehash_count(box / ".dvc" / "cache")  # noqa: E731
    # A smudge filter runs while `git worktree add` checks files out: a kill point half-way through it.
    sh(box, "git", "config", "filter.stall.smudge", f'sh -c "touch {marks / "checkout"}; sleep 120; cat"')
    attributes = box / ".git" / "info" / "attributes"
    attributes.parent.mkdir(exist_ok=True)
    steps = [
        ("mid-worktree-checkout (smudge filter)", "README.md filter=stall\n", lambda: (marks / "checkout").exists()),
        ("mid-dvc-pull (cache partly filled)", "", lambda: cached() >= 3),
        ("after pull, mid-checkout/re-hash", "", lambda: cached() >= want),
    ]
    worktree = box / ".henryvc" / "restore" / name
    for label, attrs, marker in steps:
        attributes.write_text(attrs)
        process = spawn(box, "restore", name, "--pull")
        kill = kill_when(process, marker)
        assert kill.fired, f"{label}: the command finished (rc {kill.returncode}) before the kill point: {kill.stderr}"
        attributes.write_text("")
        litter = assert_consistent(clone)
        locks = git_locks(box)
        # Honest state: verify of the half-restored worktree fails (exit 1, names what is wrong), never crashes.
        checked = henryvc(box, "verify", name, "--path", str(worktree)) if worktree.is_dir() else None
        if checked is not None:
            assert checked.returncode in (0, 1), checked.stderr
        figure("restore --pull", kill_point=label, killed_after_s=round(kill.after_s, 2), git_locks_left=locks,
               cached_objects=cached(), verify_rc=checked.returncode if checked else None, **litter)

    started = time.monotonic()
    done = henryvc(box, "restore", name, "--pull", "--json")
    recovery = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert Path(json.loads(done.stdout)["path"]) == worktree
    assert_consistent(clone)
    assert git_locks(box) == []
    assert sh(worktree, "git", "status", "--porcelain").stdout == ""  # git's files all there, unchanged
    for original in sorted((project.run_dir(name) / "checkpoints").iterdir()):
        assert md5(worktree / "training_runs" / name / "checkpoints" / original.name) == md5(original)
    verified = henryvc(box, "verify", name, "--path", str(worktree), "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"]
    figure("restore --pull", kill_point="re-run after 3 kills", recovery_s=round(recovery, 2), bytes_lost=0,
           data_bytes=json.loads(verified.stdout)["checked_bytes"])


def rehash_count(cache: Path) -> int:
    """Objects (not temp files) in a DVC cache, without hashing them: cheap enough to poll."""
    base = cache / "files" / "md5"
    return sum(1 for p in base.rglob("*") if p.is_file() and not p.name.endswith(".tmp")) if base.is_dir() else 0
