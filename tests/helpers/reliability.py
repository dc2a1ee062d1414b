"""Helpers for the reliability tests: a fake stage with big checkpoints, the real henryvc as a subprocess
that can be SIGKILLed at chosen moments, consistency checks of git and DVC state, tree snapshots, and
tiny tmpfs file systems for disk-full tests.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from henryvc import api
from henryvc.core.project import Project
from tests.helpers.cli import command
from tests.helpers.project import dvc, fake_dvc_yaml, gen, make_project, sh

# The real command line, exactly as installed (python -m cli.main is what the console script runs).
HENRYVC = tuple(command())  # the real henryvc as a process (tests.helpers.cli runs it)
MB = 1024 * 1024

BIG_DVC_YAML = fake_dvc_yaml("fake_train.py", logs=False)
OBJECT_NAME = re.compile(r"\A[0-9a-f]{30}(\.dir)?\Z")


def big_project(root: Path, remote: Path) -> Project:
    """make_project (conftest) with the big-checkpoint stage instead of the small fake one."""
    project = make_project(root, remote)
    gen(project, {"dvc.yaml": BIG_DVC_YAML,
                  "params.yaml": "# the run dvc repro trains\nrun: null\nfake:\n  seed: 1\n  mb: 1\n  files: 2\n"
                                 "  logs: false\n"})
    sh(project.root, "git", "add", "-A")
    sh(project.root, "git", "commit", "-qm", "big-checkpoint fake stage")
    return project


def pushed_project(base: Path) -> tuple[Project, Path, Path]:
    """big_project at BASE/project with a DVC remote folder (BASE/dvc-remote) and a bare git remote
    (BASE/origin.git) that main is pushed to: (project, DVC remote, git origin)."""
    remote, origin = base / "dvc-remote", base / "origin.git"
    project = big_project(base / "project", remote)
    sh(base, "git", "init", "-q", "--bare", str(origin))
    sh(project.root, "git", "remote", "add", "origin", str(origin))
    sh(project.root, "git", "push", "-q", "origin", "main")
    return project, remote, origin


def set_fake(project: Project, seed: int, mb: int, files: int) -> None:
    """Point the fake stage at SEED and a checkpoint size (keeps params.yaml's run)."""
    from ruamel.yaml import YAML

    yaml = YAML()
    data = yaml.load(project.params.read_text())
    data["fake"] = {"seed": seed, "mb": mb, "files": files, "logs": False}
    with project.params.open("w") as handle:
        yaml.dump(data, handle)


def train(project: Project, seed: int = 1, mb: int = 1, files: int = 2, variant: str = "debug") -> str:
    """new-run + a real `dvc repro` of the big stage; returns the run name."""
    name = api.new_run(project, 2, variant, description=f"seed {seed}").name
    set_fake(project, seed, mb, files)
    dvc(project.root, "repro", "-q")
    return name


@dataclass
class Kill:
    """Where a SIGKILL landed: whether the marker was seen before the command finished, and when."""

    fired: bool
    after_s: float
    returncode: int | None
    stderr: str = ""


def kill_when(process: subprocess.Popen, marker: Callable[[], bool], timeout: float = 120.0,
              poll_s: float = 0.002) -> Kill:
    """SIGKILL PROCESS's whole group as soon as MARKER() is true; report if it finished first."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if process.poll() is not None:
            _, err = process.communicate()
            return Kill(False, time.monotonic() - start, process.returncode, err)
        if marker():
            os.killpg(process.pid, signal.SIGKILL)
            _, err = process.communicate()
            return Kill(True, time.monotonic() - start, process.returncode, err)
        time.sleep(poll_s)
    os.killpg(process.pid, signal.SIGKILL)
    process.communicate()
    raise AssertionError(f"marker not seen within {timeout} s and the command did not finish")


def md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 * MB):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class ObjectStore:
    """What a DVC cache or remote (files/md5 layout) holds."""

    good: int = 0
    bytes: int = 0
    corrupt: list[str] = field(default_factory=list)
    litter: list[str] = field(default_factory=list)  # DVC's partial-transfer temp files, never objects
    litter_bytes: int = 0


def rehash_store(folder: Path) -> ObjectStore:
    """Re-hash every object of a DVC cache/remote folder: each must hash to its own name."""
    store = ObjectStore()
    base = Path(folder) / "files" / "md5"
    for path in sorted(base.rglob("*")) if base.is_dir() else []:
        if not path.is_file():
            continue
        if OBJECT_NAME.match(path.name) and len(path.parent.name) == 2:
            want = path.parent.name + path.name.removesuffix(".dir")
            if md5(path) == want:
                store.good += 1
                store.bytes += path.stat().st_size
            else:
                store.corrupt.append(str(path.relative_to(base)))
        else:
            store.litter.append(str(path.relative_to(base)))
            store.litter_bytes += path.stat().st_size
    return store


def git_locks(root: Path) -> list[str]:
    """Git lock files present in ROOT's repository (left by a killed git: the next command must cope)."""
    gitdir = Path(sh(root, "git", "rev-parse", "--git-common-dir").stdout.strip())
    gitdir = gitdir if gitdir.is_absolute() else Path(root) / gitdir
    return [str(p.relative_to(gitdir)) for p in sorted(gitdir.rglob("*.lock"))]


def git_consistency(root: Path) -> list[str]:
    """Problems in the git repository at ROOT: fsck errors, tags without commits or records."""
    problems = []
    fsck = sh(root, "git", "fsck", "--full", "--no-dangling", "--no-progress", check=False)
    if fsck.returncode != 0:
        problems.append(f"git fsck: {fsck.stdout.strip()} {fsck.stderr.strip()}")
    for tag in sh(root, "git", "tag", "--list", "henry_v*").stdout.split():
        kind = sh(root, "git", "cat-file", "-t", tag).stdout.strip()
        commit = sh(root, "git", "rev-parse", "--verify", "--quiet", f"{tag}^{{commit}}", check=False)
        if kind != "tag" or commit.returncode != 0:
            problems.append(f"tag {tag} is {kind or 'broken'} without a commit")
            continue
        text = sh(root, "git", "show", f"{tag}:training_runs/{tag}/run.json", check=False)
        try:
            if json.loads(text.stdout)["name"] != tag:
                problems.append(f"tag {tag} holds another run's record")
        except (ValueError, KeyError):
            problems.append(f"tag {tag} has no readable run.json")
    return problems


def record_problems(project_root: Path) -> list[str]:
    """run.json files in the work tree that do not parse (a half-written record)."""
    problems = []
    for path in sorted((Path(project_root) / "training_runs").glob("*/run.json")):
        try:
            json.loads(path.read_text())
        except ValueError as exc:
            problems.append(f"{path}: {exc}")
    return problems


def remote_tags(bare: Path) -> list[str]:
    return sh(bare, "git", "tag", "--list").stdout.split()


def snapshot_tree(root: Path, skip: tuple[str, ...] = (".git", ".dvc/tmp")) -> dict[str, tuple]:
    """relpath → (kind, size, mode, mtime_ns, content hash or link target) of everything under ROOT."""
    root = Path(root)
    found: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        rel_dir = Path(dirpath).relative_to(root)
        dirnames[:] = [d for d in dirnames if (rel_dir / d).as_posix() not in skip]
        for name in [*dirnames, *filenames]:
            path = Path(dirpath) / name
            rel = (rel_dir / name).as_posix()
            info = path.lstat()
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                found[rel] = ("dir", info.st_mode)
            elif not path.is_file():  # a FIFO or device: never open it (reading a FIFO blocks)
                found[rel] = ("special", info.st_mode)
            else:
                found[rel] = ("file", info.st_size, info.st_mode, info.st_mtime_ns, md5(path))
    return found


def git_state(root: Path) -> str:
    """Everything git knows that a command could change: refs, HEAD, worktrees, stash, local config."""
    return "\n".join(sh(root, "git", *args, check=False).stdout for args in (
        ("show-ref",), ("rev-parse", "HEAD"), ("worktree", "list", "--porcelain"), ("stash", "list"),
        ("config", "--local", "--list"), ("status", "--porcelain", "--ignored", "--untracked-files=all")))


def unavailable(reason: str) -> None:
    """Skip locally, fail under CI (CI runs as root in a container that may mount tmpfs)."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
def tmpfs():
    """tmpfs(folder, size_mb) mounts a small tmpfs at FOLDER; all are unmounted at teardown."""
    mounted: list[Path] = []

    def mount(folder: Path, size_mb: int) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0755", "tmpfs", str(folder)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            unavailable(f"cannot mount a tmpfs for the disk-full test: {done.stderr.strip() or done.returncode} "
                        "(needs root or CAP_SYS_ADMIN)")
        mounted.append(folder)
        return folder

    yield mount
    for folder in reversed(mounted):
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
