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
import resource
import subprocess
import time
from pathlib import Path

import pytest

from henryvc.adapters import dvcrepo
from henryvc.core.project import Project
from tests.helpers.cli import run_cli, spawn_cli
from tests.helpers.completeness import good_objects
from tests.helpers.project import scratch, sh
from tests.helpers.reliability import (
    HENRYVC,
    big_project,
    git_consistency,
    git_locks,
    git_state,
    kill_when,
    md5,
    pushed_project,
    record_problems,
    rehash_store,
    remote_tags,
    snapshot_tree,
    train,
)

# Heavy: real kills, tmpfs, sshd and big checkpoints (make test runs them; make test-fast does not).
pytestmark = pytest.mark.reliability

CKPT_MB, CKPT_FILES = 32, 6  # 192 MB of checkpoints: a push takes long enough to be killed half-way


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


def expected_objects(project: Project, name: str) -> set[str]:
    """The objects tag NAME's data needs in a cache or remote (each .dir listing plus its files)."""
    from henryvc.adapters import gitrepo

    outs = dvcrepo.outs_at(gitrepo.open_repo(project.root), name)
    cache = dvcrepo.cache_dir(project.root)
    total = set()
    for out in (o for o in outs if getattr(o, "cached", True)):  # metrics.json is git's, not DVC's cache
        total.add(out.md5 + (".dir" if out.is_dir else ""))
        if out.is_dir:
            total |= {e["md5"] for e in json.loads(dvcrepo.object_path(cache, out).read_text())}
    return total


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
            assert expected_objects(project, name) <= good_objects(remote)
    return litter


def listed(project: Project, name: str) -> dict:
    done = run_cli(project.root, "list", "--json", process=True)
    assert done.returncode == 0, done.stderr
    return {r["name"]: r for r in json.loads(done.stdout)["runs"]}[name]


@pytest.fixture
def pushed_setup(tmp_path):
    """A project with a 192 MB trained run, a DVC remote folder and a bare git remote."""
    project, remote, origin = pushed_project(tmp_path)
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
        process = spawn_cli(project.root, "tag-run", "--push")
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
    done = run_cli(project.root, "tag-run", "--push", process=True)
    recovery = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert not stale.exists() and git_locks(project.root) == []
    assert remote_tags(origin) == [name]
    assert_consistent(project, remote, origin, name)
    commits = sh(project.root, "git", "rev-list", f"{head_before}..{name}").stdout.split()
    assert len(commits) == 1  # one run commit however many kills: the retry reused it
    verified = run_cli(project.root, "verify", name, "--json", process=True)
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"]
    assert expected_objects(project, name) <= good_objects(remote)  # as sets: every object the tag needs
    figure("tag-run --push", kill_point="re-run after 5 kills", recovery_s=round(recovery, 2),
           bytes_lost=0, data_bytes=json.loads(verified.stdout)["checked_bytes"])


def test_sigkill_mid_restore_at_each_step_then_rerun_completes(pushed_setup, tmp_path):
    project, name, remote, origin = pushed_setup
    assert run_cli(project.root, "tag-run", "--push", process=True).returncode == 0
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
        ("after pull, mid-checkout/re-hash", "", lambda: cached() >= len(want)),
    ]
    worktree = box / ".henryvc" / "restore" / name
    for label, attrs, marker in steps:
        attributes.write_text(attrs)
        process = spawn_cli(box, "restore", name, "--pull")
        kill = kill_when(process, marker)
        assert kill.fired, f"{label}: the command finished (rc {kill.returncode}) before the kill point: {kill.stderr}"
        attributes.write_text("")
        litter = assert_consistent(clone)
        locks = git_locks(box)
        # Honest state: verify of the half-restored worktree fails (exit 1, names what is wrong), never crashes.
        checked = run_cli(box, "verify", name, "--path", str(worktree), process=True) if worktree.is_dir() else None
        if checked is not None:
            assert checked.returncode in (0, 1), checked.stderr
        figure("restore --pull", kill_point=label, killed_after_s=round(kill.after_s, 2), git_locks_left=locks,
               cached_objects=cached(), verify_rc=checked.returncode if checked else None, **litter)

    started = time.monotonic()
    done = run_cli(box, "restore", name, "--pull", "--json", process=True)
    recovery = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert Path(json.loads(done.stdout)["path"]) == worktree
    assert_consistent(clone)
    assert git_locks(box) == []
    assert sh(worktree, "git", "status", "--porcelain").stdout == ""  # git's files all there, unchanged
    for original in sorted((project.run_dir(name) / "checkpoints").iterdir()):
        assert md5(worktree / "training_runs" / name / "checkpoints" / original.name) == md5(original)
    verified = run_cli(box, "verify", name, "--path", str(worktree), "--json", process=True)
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"]
    figure("restore --pull", kill_point="re-run after 3 kills", recovery_s=round(recovery, 2), bytes_lost=0,
           data_bytes=json.loads(verified.stdout)["checked_bytes"])


def rehash_count(cache: Path) -> int:
    """Objects (not temp files) in a DVC cache, without hashing them: cheap enough to poll."""
    base = cache / "files" / "md5"
    return sum(1 for p in base.rglob("*") if p.is_file() and not p.name.endswith(".tmp")) if base.is_dir() else 0


def lock_holders(project: Project) -> set[int]:
    """PIDs holding the project lock now, read from the kernel's lock table (/proc/locks)."""
    path = project.state / "lock"
    if not path.exists():
        return set()
    inode = path.stat().st_ino
    holders = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" not in fields and len(fields) >= 6 and fields[5].rsplit(":", 1)[-1] == str(inode):
            holders.add(int(fields[4]))
    return holders


def test_a_held_lock_makes_a_writing_command_wait_then_refuse_clearly(project):
    params = project.params.read_text()
    with project.lock():
        started = time.monotonic()
        done = run_cli(project.root, "new-run", "--major", "2", "--variant", "debug", env={"HENRYVC_LOCK_TIMEOUT": "1"},
                       process=True)
        waited = time.monotonic() - started
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("henryvc: error: another henryvc command holds")
    assert len(done.stderr.splitlines()) == 1
    assert not [p for p in project.runs.iterdir() if p.name.startswith("henry_v")]
    assert project.params.read_text() == params
    figure("lock", case="held by another process, HENRYVC_LOCK_TIMEOUT=1", refused_after_s=round(waited, 2))


def test_commands_at_once_are_serialised_by_the_lock(pushed_setup):
    project, name, remote, origin = pushed_setup
    first = spawn_cli(project.root, "tag-run", name, "--push")
    started = time.monotonic()
    while first.pid not in lock_holders(project):
        assert first.poll() is None, first.communicate()
        assert time.monotonic() - started < 60
        time.sleep(0.005)
    # While the first holds the lock: the same tag-run again and three new-runs (two of the same variant).
    others = {args: (spawn_cli(project.root, *args), time.monotonic()) for args in [
        ("tag-run", name, "--push"),
        ("new-run", "--major", "2", "--variant", "debug"),
        ("new-run", "--major", "2", "--variant", "debug", "--description", "twin"),
        ("new-run", "--major", "2", "--variant", "stable"),
    ]}
    seen_holders: list[int] = []
    finished: dict[tuple, float] = {}
    while any(p.poll() is None for p, _ in others.values()) or first.poll() is None:
        finished.update({args: time.monotonic() - begun for args, (p, begun) in others.items()
                         if args not in finished and p.poll() is not None})
        holders = lock_holders(project)
        assert len(holders) <= 1
        seen_holders += [pid for pid in holders if not seen_holders or seen_holders[-1] != pid]
        time.sleep(0.002)
    out, err = first.communicate()
    held_s = time.monotonic() - started
    assert first.returncode == 0, err
    results = {}
    for args, (process, _begun) in others.items():
        out, err = process.communicate()
        assert process.returncode == 0, f"{args}: {err}"
        results[args] = out.strip()
    new_names = [results[a] for a in results if a[0] == "new-run"]
    assert len(set(new_names)) == 3  # the twin got its own second, nobody overwrote anybody
    assert first.pid in seen_holders and len(seen_holders) >= 2  # the others took the lock after it, in turn
    for run in new_names:
        record = json.loads((project.run_dir(run) / "run.json").read_text())
        assert record["name"] == run and record["status"] == "created"
        assert json.loads((project.run_dir(run) / "config.json").read_text())["run_name"] == run
    assert remote_tags(origin) == [name]
    assert_consistent(project, remote, origin, name)
    shown = json.loads(run_cli(project.root, "show", name, "--json", process=True).stdout)
    assert shown["tagged"] and shown["status"] == "success"
    assert run_cli(project.root, "verify", name, process=True).returncode == 0
    figure("lock", case=f"tag-run --push ({CKPT_MB * CKPT_FILES} MB) holding the lock, 4 commands queued",
           first_held_s=round(held_s, 2),
           holders_in_order=len(seen_holders), queued_max_wait_s=round(max(finished.values(), default=0), 2))


def test_disk_full_on_the_dvc_remote_fails_clearly_then_completes(tmp_path, tmpfs):
    remote, origin = tmp_path / "dvc-remote", tmp_path / "origin.git"
    project = big_project(tmp_path / "project", remote)
    tmpfs(remote, 20)  # 20 MB for 32 MB of checkpoints
    sh(tmp_path, "git", "init", "-q", "--bare", str(origin))
    sh(project.root, "git", "remote", "add", "origin", str(origin))
    name = train(project, seed=21, mb=8, files=4)
    done = run_cli(project.root, "tag-run", "--push", process=True)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("henryvc: error: dvc push failed") and len(done.stderr.splitlines()) == 1
    assert "No space left on device" in done.stderr
    assert remote_tags(origin) == []  # no tag reached the git remote without its data
    litter = assert_consistent(project, remote, origin, name)  # partial uploads are DVC temp files, not objects
    figure("disk full", where="DVC remote (tmpfs 20 MB, 32 MB to push)", message=done.stderr.strip()[:200],
           **litter)

    sh(tmp_path, "mount", "-o", "remount,size=64m", str(remote))  # space freed
    started = time.monotonic()
    done = run_cli(project.root, "tag-run", "--push", process=True)
    assert done.returncode == 0, done.stderr
    assert remote_tags(origin) == [name]
    assert expected_objects(project, name) <= good_objects(remote)  # as sets: every object the tag needs
    assert_consistent(project, remote, origin, name)
    assert run_cli(project.root, "verify", name, process=True).returncode == 0
    figure("disk full", where="DVC remote, after space was freed", recovery_s=round(time.monotonic() - started, 2),
           remote_litter_files_left=len(rehash_store(remote).litter))


def test_disk_full_while_writing_a_checkpoint_marks_nothing_success(tmp_path, tmpfs):
    project = big_project(tmp_path / "project", tmp_path / "dvc-remote")
    from henryvc import api

    name = api.new_run(project, 2, "debug").name
    folder = project.run_dir(name)  # the run folder on a 20 MB disk (DVC deletes outputs before a stage runs)
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    tmpfs(folder, 20)
    for file, content in files.items():
        (folder / file).write_bytes(content)
    from tests.helpers.reliability import set_fake

    set_fake(project, seed=31, mb=8, files=4)
    repro = sh(project.root, "dvc", "repro", check=False)
    assert repro.returncode != 0 and "No space left on device" in repro.stderr + repro.stdout
    # The stage could not even write "failed" on the full disk; the atomic write kept the record whole.
    assert json.loads((project.run_dir(name) / "run.json").read_text())["status"] in ("training", "failed")
    assert listed(project, name)["status"] != "success"
    done = run_cli(project.root, "tag-run", name, process=True)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "dvc repro" in done.stderr  # says what to do next
    assert sh(project.root, "git", "tag", "--list").stdout == ""
    assert_consistent(project)
    figure("disk full", where="checkpoint folder (tmpfs 20 MB, 32 MB to write)", message=done.stderr.strip()[:200])

    sh(tmp_path, "mount", "-o", "remount,size=64m", str(folder))  # space freed
    sh(project.root, "dvc", "repro", "-q")
    assert run_cli(project.root, "tag-run", name, process=True).returncode == 0
    assert run_cli(project.root, "verify", name, process=True).returncode == 0
    assert_consistent(project)


def test_disk_full_in_the_dvc_cache_accepts_no_partial_object(tmp_path, tmpfs):
    project = big_project(tmp_path / "project", tmp_path / "dvc-remote")
    cache = tmpfs(tmp_path / "small-cache", 20)
    sh(project.root, "dvc", "cache", "dir", "--local", str(cache))
    sh(project.root, "dvc", "commit", "-q", "-f", "voice_data.dvc")  # voice_data into the new cache
    from henryvc import api
    from tests.helpers.reliability import set_fake

    name = api.new_run(project, 2, "debug").name
    set_fake(project, seed=41, mb=8, files=4)
    # With a copying cache type DVC 3.67 logs "failed to transfer ... No space left on device" yet exits
    # 0 and writes dvc.lock (objects simply absent: henryvc must notice); with the link types henryvc
    # sets, the move into the cache fails and dvc.lock is not written. Either way: refused, next step named.
    repro = sh(project.root, "dvc", "repro", check=False)
    assert "No space left on device" in repro.stderr + repro.stdout
    store = rehash_store(cache)
    assert store.corrupt == []  # nothing half-written was accepted as an object
    done = run_cli(project.root, "tag-run", name, process=True)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1, done.stderr
    assert ("not in the DVC cache" in done.stderr and "dvc commit" in done.stderr) or (
        "records no outputs" in done.stderr and "dvc repro" in done.stderr), done.stderr
    assert sh(project.root, "git", "tag", "--list").stdout == ""
    assert_consistent(project)
    figure("disk full", where="DVC cache (tmpfs 20 MB, 32 MB to commit)", dvc_repro_rc=repro.returncode,
           message=done.stderr.strip()[:200], cache_litter_bytes=store.litter_bytes)

    sh(tmp_path, "mount", "-o", "remount,size=64m", str(cache))
    sh(project.root, "dvc", "commit", "-q", "-f")  # what the message said to do
    assert run_cli(project.root, "tag-run", name, process=True).returncode == 0
    assert run_cli(project.root, "verify", name, process=True).returncode == 0
    assert_consistent(project)


# ---------------------------------------------------------------------------------------------------------
# Hostile input: exit 2, one clear line, nothing written in the project, nothing touched outside it.

RUN = "henry_v2_debug_20261124_101500"  # well-formed, but no such run
LONG = "henry_v2_debug_20261124_101500" * 10  # 300 characters


@pytest.fixture(scope="module")
def hostile_project(request, tmp_path_factory):
    """One project with a tagged run, hostile files in it and a sentinel folder outside it (shared: read-only)."""
    base = scratch(request, tmp_path_factory, "hostile")
    home = base / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = Henry Tester\n\temail = tester@henryvc.invalid\n")
    with pytest.MonkeyPatch.context() as env:
        for key, value in {"HOME": str(home), "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
                           "GIT_CONFIG_NOSYSTEM": "1", "DVC_NO_ANALYTICS": "1",
                           "DVC_SITE_CACHE_DIR": str(home / "dvc-site")}.items():
            env.setenv(key, value)
        project = big_project(base / "project", base / "dvc-remote")
        name = train(project, seed=3)
        assert run_cli(project.root, "tag-run", name, process=True).returncode == 0
        sentinel = base / "sentinel"
        (sentinel / "keep").mkdir(parents=True)
        (sentinel / "keep" / "precious.pth").write_bytes(b"do not touch" * 1000)
        (sentinel / "config.json").write_text(json.dumps({"model": "tacotron2"}))
        root = project.root
        (root / "broken.json").write_text('{"model": "tacotron2",,}')
        (root / "huge.json").write_text('{"pad": "' + "x" * (5 * 1024 * 1024) + '"}')
        (root / "deep.json").write_text("[" * 100000 + "]" * 100000)
        (root / "list.json").write_text("[1, 2, 3]")
        (root / "types.json").write_text(json.dumps({"model": 5, "run_name": ["x"], "run_description": None,
                                                     "version": 2, "variant": {}, "output_path": 7}))
        (root / "latin1.json").write_bytes(b'{"model": "tacotr\xe9"}')
        (root / "escape").symlink_to(sentinel)  # a symlink in the project pointing out of it
        (project.run_dir(name) / "plots").mkdir(exist_ok=True)
        (project.run_dir(name) / "plots" / "outside").symlink_to(sentinel / "keep")
        os.mkfifo(root / "pipe.json")
        yield project, name, sentinel, dict(os.environ)


HOSTILE = [
    ["new-run", "--major", "-1", "--variant", "debug"],
    ["new-run", "--major", "1000", "--variant", "debug"],
    ["new-run", "--major", "two", "--variant", "debug"],
    ["new-run", "--major", "2", "--variant", "../debug"],
    ["new-run", "--major", "2", "--variant", "nightly"],
    ["new-run", "--major", "2", "--variant", "debug", "--config", "broken.json"],
    ["new-run", "--major", "2", "--variant", "debug", "--config", "huge.json"],
    ["new-run", "--major", "2", "--variant", "debug", "--config", "deep.json"],
    ["new-run", "--major", "2", "--variant", "debug", "--config", "list.json"],
    ["new-run", "--major", "2", "--variant", "debug", "--config", "types.json"],
    ["new-run", "--major", "2", "--variant", "debug", "--config", "latin1.json"],
    ["new-run", "--major", "2", "--variant", "debug", "--config", "missing.json"],
    ["new-run", "--major", "2", "--variant", "debug", "--config", "configs"],
    ["new-run", "--major", "2", "--variant", "debug", "--config", "pipe.json"],
    ["new-run", "--major", "2", "--variant", "debug", "--config", "/dev/zero"],
    ["tag-run", f"../{RUN}"],
    ["tag-run", f"{RUN}/x"],
    ["tag-run", "-x"],
    ["tag-run", "henry v2 debug 20261124 101500"],
    ["tag-run", "henry_v2_débug_20261124_101500"],
    ["tag-run", LONG],
    ["tag-run", RUN],
    ["show", "HEAD"],
    ["show", ""],
    ["show", "henry_v2_debug_20261124_101500\n"],
    ["diff", RUN, ".."],
    ["restore", "{run}", "--into", "../outside"],
    ["restore", "{run}", "--into", "/tmp/henryvc-hostile-outside"],
    ["restore", "{run}", "--into", "escape/restored"],
    ["restore", "{run}", "--into", "x", "--in-place"],
    ["restore", f"{RUN}/../../x"],
    ["verify", "{run}", "--path", ".."],
    ["verify", "{run}", "--path", "escape"],
    ["verify", "HEAD"],
    ["list", "--status", "exploded"],
    ["list", "--variant", "../x"],
    ["logs", "../../etc/passwd"],
    ["logs", "{run}", "-n", "-1"],
    ["archive", "--bogus"],
    ["cleanup-failed", "--older-than", "-1"],
    ["cleanup-failed", "--older-than", "soon"],
    ["backup", "--remote", "../x"],
    ["backup", "--remote", "no-such-remote"],
    ["reset", "--remote", "-x"],
    ["snapshot", "--remote", "no-such-remote", "--no-push", "--bogus"],
    ["docker", "recreate", f"../{RUN}"],
    ["resume", f"../{RUN}"],
    ["resume", "-x"],
    ["run", "--major", "-1", "--variant", "debug"],
    ["run", "--major", "2", "--variant", "debug", "--config", "broken.json"],
    ["tensorboard", "../../etc"],
    ["validate"],
    ["init", "--bogus"],
    ["status", "--bogus"],
    ["doctor", "--bogus"],
    ["env", "build", f"../{RUN}"],
    ["recreate", f"../{RUN}"],
    ["recreate", f"{RUN}/x"],
    ["report", "../{run}"],
    ["report", "{run}", "--out", "pipe.json"],
    ["report", "{run}", "{run}"],
    ["review", f"../{RUN}", "--rating", "5", "--verdict", "approve", "--notes", "x"],
    ["review", "{run}", "--rating", "9", "--verdict", "approve", "--notes", "x"],
    ["review", "--from", "/dev/zero"],
    ["review", "--from", "pipe.json"],
    ["review", "--from", "huge.json"],
    # refused before any scheduler is asked (none runs here): the request itself is wrong
    ["submit", "--major", "-1", "--variant", "debug"],
    ["submit", "--major", "2", "--variant", "debug", "--config", "broken.json"],
    ["submit", "--major", "2", "--variant", "debug", "-S", "../x=1"],
    ["submit", "--major", "2", "--variant", "debug", "-S", "noequals"],
    ["submit", "--major", "2", "--variant", "debug", "--time", "soon"],
    ["submit", "--major", "2", "--variant", "debug", "--gpus", "0"],
    ["submit", "--major", "2", "--variant", "debug", "--from", f"../{RUN}"],
    ["run", "--major", "2", "--variant", "debug", "--from", "{run}", "--config", "broken.json"],
    ["jobs", "--bogus"],
    ["cancel", f"../{RUN}"],
]


@pytest.mark.parametrize("args", HOSTILE, ids=lambda a: " ".join(a)[:60])
def test_hostile_input_exits_2_writes_nothing_touches_nothing_outside(hostile_project, args):
    project, name, sentinel, env = hostile_project
    args = [a.replace("{run}", name) for a in args]
    outside = Path("/tmp/henryvc-hostile-outside")
    before = (snapshot_tree(project.root), git_state(project.root), snapshot_tree(sentinel),
              sorted(p.name for p in project.root.parent.iterdir()))
    done = subprocess.run([*HENRYVC, *args], cwd=project.root, capture_output=True, text=True, timeout=120,
                          env=env, preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30)))
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert lines and (len(lines) == 1 or "Usage:" in done.stderr), done.stderr
    assert "Traceback" not in done.stderr
    after = (snapshot_tree(project.root), git_state(project.root), snapshot_tree(sentinel),
             sorted(p.name for p in project.root.parent.iterdir()))
    assert after == before
    assert not outside.exists()


def test_every_command_that_takes_input_has_hostile_cases():
    from henryvc.commands import COMMAND_MODULES

    without_input = {"schedule"}  # prints crontab/systemd text from its flags; nothing to mislead
    missing = set(COMMAND_MODULES) - without_input - {args[0] for args in HOSTILE}
    assert not missing, f"no hostile-input case for: {sorted(missing)}"


# ---------------------------------------------------------------------------------------------------------
# Lifecycle commands (ops.backup, ops.archive, ...): kills mid-backup and mid-archive, and deleting commands vs symlinks.

def test_sigkill_mid_backup_then_rerun_completes(pushed_setup):
    project, name, remote, origin = pushed_setup
    assert run_cli(project.root, "tag-run", name, process=True).returncode == 0  # tagged, nothing pushed yet
    objects = lambda: sum(1 for p in (remote / "files" / "md5").rglob("*") if p.is_file()) \
        if (remote / "files").is_dir() else 0  # noqa: E731
    for label, marker in [("mid-backup (remote partly filled)", lambda: objects() >= 3),
                          ("mid-backup again (more of the remote filled)", lambda: objects() >= 9)]:
        kill = kill_when(spawn_cli(project.root, "backup"), marker)
        assert kill.fired, f"{label}: the backup finished first (rc {kill.returncode}): {kill.stderr}"
        litter = assert_consistent(project)  # git, records and the cache; the remote is judged below
        store = rehash_store(remote)
        whole = not store.corrupt and expected_objects(project, name) <= good_objects(remote)
        checked = run_cli(project.root, "backup", "--verify", process=True)
        # Honest either way: a kill can land after the last object, and DVC can leave an empty file under
        # an object's name (it tries a reflink at the final path first); --verify must call that damaged.
        assert checked.returncode == (0 if whole else 1), (store.corrupt, checked.stdout, checked.stderr)
        figure("backup", kill_point=label, killed_after_s=round(kill.after_s, 2),
               damaged_remote_objects=len(store.corrupt), **litter)
    started = time.monotonic()
    done = run_cli(project.root, "backup", process=True)
    recovery = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert run_cli(project.root, "backup", "--verify", process=True).returncode == 0
    assert_consistent(project, remote)
    assert expected_objects(project, name) <= good_objects(remote)  # as sets: every object the tag needs
    figure("backup", kill_point="re-run after 2 kills", recovery_s=round(recovery, 2), bytes_lost=0)


def failed_tagged_run(project: Project, seed: int) -> str:
    """A trained run recorded as failed, tagged (so archive commits its move)."""
    from henryvc.core import record as records

    name = train(project, seed=seed)
    records.update(project.run_dir(name), status="failed")
    assert run_cli(project.root, "tag-run", name, process=True).returncode == 0
    return name


def test_sigkill_mid_archive_then_rerun_completes(project_with_remote, tmp_path):
    project = project_with_remote
    name = failed_tagged_run(project, seed=5)
    marks = tmp_path / "marks"
    marks.mkdir()
    installed = hook(project.root, "prepare-commit-msg", stall(marks / "commit"))
    kill = kill_when(spawn_cli(project.root, "archive"), lambda: (marks / "commit").exists())
    installed.unlink()
    if not kill.fired:
        pytest.fail(f"archive finished (rc {kill.returncode}) without committing the move: {kill.stderr}")
    locks = git_locks(project.root)
    litter = assert_consistent(project)
    places = [p for p in (project.run_dir(name), project.runs / "archive" / "failed" / name) if p.is_dir()]
    assert len(places) == 1  # the run is in exactly one place, whole
    assert json.loads((places[0] / "run.json").read_text())["name"] == name
    figure("archive", kill_point="mid-commit of the move (prepare-commit-msg hook)",
           killed_after_s=round(kill.after_s, 2), git_locks_left=locks, **litter)
    started = time.monotonic()
    done = run_cli(project.root, "archive", process=True)
    recovery = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    moved = project.runs / "archive" / "failed" / name
    assert moved.is_dir() and not project.run_dir(name).exists()
    assert json.loads((moved / "run.json").read_text())["status"] == "failed"
    assert git_locks(project.root) == [] and assert_consistent(project) is not None
    assert sh(project.root, "git", "status", "--porcelain", "training_runs").stdout == ""  # the move is committed
    assert run_cli(project.root, "archive", process=True).returncode == 0  # again: moves nothing more
    figure("archive", kill_point="re-run", recovery_s=round(recovery, 2), bytes_lost=0)


@pytest.fixture
def project_with_remote(tmp_path):
    return big_project(tmp_path / "project", tmp_path / "dvc-remote")


@pytest.mark.parametrize("args", [["cleanup-failed", "--yes", "--force"], ["archive"], ["reset", "--yes"]],
                         ids=lambda a: a[0])
def test_deleting_commands_never_follow_symlinks_out_of_the_project(project_with_remote, tmp_path, args):
    project = project_with_remote
    sentinel = tmp_path / "sentinel"
    (sentinel / "ckpts").mkdir(parents=True)
    (sentinel / "ckpts" / "best_model.pth").write_bytes(b"precious" * 4096)
    (sentinel / "notes.txt").write_text("outside the project")
    name = failed_tagged_run(project, seed=9)
    folder = project.run_dir(name)
    (folder / "plots").mkdir(exist_ok=True)
    (folder / "plots" / "elsewhere").symlink_to(sentinel)  # a folder link pointing out
    (folder / "logs").mkdir(exist_ok=True)
    (folder / "logs" / "notes.txt").symlink_to(sentinel / "notes.txt")  # a file link pointing out
    before = snapshot_tree(sentinel)
    done = run_cli(project.root, *args, process=True)
    assert done.returncode in (0, 1, 2), done.stderr  # refusing is fine; crashing or escaping is not
    assert "unexpected error" not in done.stderr
    assert snapshot_tree(sentinel) == before
    assert (sentinel / "ckpts" / "best_model.pth").read_bytes() == b"precious" * 4096
    figure("symlinks out", command=" ".join(args), rc=done.returncode, message=done.stderr.strip()[:200])
