"""Helpers for the lifecycle and monitor tests: runs in a chosen state, a real process holding a run's
training lock, and a picture of everything on disk and in git to prove that a command wrote nothing."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from henryvc import api
from henryvc.core import record as records
from henryvc.core.project import Project
from tests.helpers.cli import command
from tests.helpers.project import dvc, sh

HENRYVC = tuple(command())  # the real henryvc as a process (tests.helpers.cli runs it)
# The trainer's own lock holder (henryvc.core.record.training: the OS lock, with this pid and start time written in
# it), imported by the installed name: the child runs in the run folder, where no source checkout is importable.
HOLD_LOCK = ("import sys, time\nfrom henryvc.core.record import training\nwith training(sys.argv[1]):\n"
             "    print('locked', flush=True)\n    time.sleep(600)\n")


def train(project: Project, seed: int, variant: str = "debug") -> str:
    """new-run + a real `dvc repro` of conftest's fake stage with SEED (its checkpoints differ per seed)."""
    name = api.new_run(project, 2, variant, description=f"seed {seed}").name
    project.params.write_text(re.sub(r"(?m)^(\s+seed:) .*$", rf"\g<1> {seed}", project.params.read_text()))
    dvc(project.root, "repro", "-q")
    return name


def run_with_status(project: Project, status: str, seed: int, tag: bool = False, variant: str = "debug") -> str:
    """A trained run whose record then says STATUS; tagged afterwards when TAG."""
    name = train(project, seed, variant)
    if status != "success":
        records.update(project.run_dir(name), status=status)
    if tag:
        api.tag_run(project, name)
    time.sleep(1.0 - (time.time() % 1.0))  # the next run gets the next second's name
    return name


@contextmanager
def training(run_dir: Path) -> Iterator[subprocess.Popen]:
    """A real child process holding RUN_DIR's training lock, as the train stage does, until the block ends."""
    child = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(run_dir)], cwd=run_dir, stdout=subprocess.PIPE,
                             text=True)
    try:
        assert child.stdout.readline().strip() == "locked"
        yield child
    finally:
        child.kill()
        child.wait()


def picture(root: Path) -> dict[str, tuple]:
    """snapshot_tree of ROOT (every file's kind, size, mode, mtime, content) plus git's refs, HEAD and status:
    what `--dry-run` must leave exactly as it was."""
    from tests.helpers.reliability import snapshot_tree

    found = snapshot_tree(root)
    for args in (("show-ref",), ("rev-parse", "HEAD"), ("status", "--porcelain", "--ignored", "--untracked-files=all")):
        found["git " + " ".join(args)] = (sh(root, "git", *args, check=False).stdout,)
    return found


def tree(folder: Path) -> list[str]:
    """Every file under FOLDER, relative, sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() or p.is_symlink())


def remote_objects(remote: Path) -> list[Path]:
    """The object files of a local DVC remote."""
    return sorted(p for p in (remote / "files" / "md5").rglob("*") if p.is_file())


def relink(project: Project) -> None:
    """Make the work tree's DVC outputs links into the cache (what `dvc checkout` does after a restore)."""
    dvc(project.root, "checkout", "--relink", "-q")
