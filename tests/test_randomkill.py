"""The seeded random-kill tier (marker `randomkill`, run by CI through `make test`).

Every writing command (tag-run --push, restore --pull, backup, archive, cleanup-failed, snapshot) is
started as the real command line on real git and DVC and SIGKILLed, whole process group, after a random
delay, at least KILLS times (env HENRYVC_KILLS, default 10). The delays come from one seed, printed at the
start (`randomkill seed: N`); HENRYVC_KILL_SEED=N replays the same delays.

Each command first runs once unkilled on a saved copy of its sandbox to measure how long it takes (D); the
kills land uniformly in [0.1 D, 0.8 D], where it writes. A kill that lands after the command ended counts as
"finished first" and the sandbox is put back to its saved copy, so that the next kill has work to hit;
otherwise the next attempt starts from whatever the kill left (kills pile up, as in real life).

After every kill: git fsck is clean and every tag has its commit and record, no run.json is half-written,
every object in the DVC cache re-hashes to its name, and no object on the remote differs from its hash
except an empty or partial file DVC leaves at an object's name when killed mid-transfer (counted). After
the last kill the command is re-run: it must complete (exit 0), every run tag verifies (`henryvc verify`),
and the remote then holds no damaged object. Counts are printed as `RANDOMKILL {json}` lines and appended to
$HENRYVC_RELIABILITY_FIGURES when set.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from henryvc import dvcrepo
from henryvc import record as records
from tests.helpers.project import isolate, scratch, sh
from tests.helpers.reliability import git_consistency, henryvc, pushed_project, record_problems, rehash_store, spawn, train

pytestmark = [pytest.mark.reliability, pytest.mark.randomkill]

KILLS = int(os.environ.get("HENRYVC_KILLS", "10"))
MB, FILES = 2, 4  # 8 MB of checkpoints per run: enough objects to be killed between, quick to copy back


def _seed() -> int:
    chosen = os.environ.get("HENRYVC_KILL_SEED")
    return int(chosen) if chosen else random.SystemRandom().randrange(1, 2**31)


SEED = _seed()


@pytest.fixture(scope="session", autouse=True)
def announce_seed():
    print(f"\nrandomkill seed: {SEED} (replay with HENRYVC_KILL_SEED={SEED})")
    yield


@dataclass
class Sandbox:
    """Everything a command touches (project, remotes, clone) under one folder ROOT, and the saved copy
    of it (SAVED, at a sibling path) that put_back() restores. Absolute paths inside (DVC remote, git
    origin) stay valid because ROOT is always the same folder."""

    root: Path
    cwd: Path
    remote: Path
    saved: Path

    def put_back(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.copytree(self.saved, self.root, symlinks=True)


@dataclass
class Tally:
    command: str
    seed: int
    kills: int = 0
    finished_first: int = 0
    failed_before_kill: list[str] = field(default_factory=list)
    remote_damaged_after_kill: int = 0
    calibration_s: float = 0.0
    rerun_s: float = 0.0
    total_s: float = 0.0


def _invariants(box: Sandbox, tally: Tally) -> None:
    """What must hold after any kill (see the module docstring)."""
    assert git_consistency(box.cwd) == [], tally.command
    assert record_problems(box.cwd) == [], tally.command
    cache = rehash_store(dvcrepo.cache_dir(box.cwd))
    assert cache.corrupt == [], (tally.command, cache.corrupt)
    if box.remote.is_dir():
        remote = rehash_store(box.remote)
        # DVC may leave an empty/partial file at an object's final name when killed mid-copy; the re-run
        # (and `backup --verify`) must deal with it: counted here, judged after the re-run.
        tally.remote_damaged_after_kill += bool(remote.corrupt)


def _verify_tags(box: Sandbox, path: Path | None = None, only: str | None = None) -> int:
    """`henryvc verify` every run tag of the work tree (or tag ONLY in the restore worktree PATH); how many."""
    tags = [only] if only else sh(box.cwd, "git", "tag", "--list", "henry_v*").stdout.split()
    checked = 0
    for tag in tags:
        args = ["verify", tag, "--json"] + (["--path", str(path)] if path is not None else [])
        if path is None and not (box.cwd / "training_runs" / tag).is_dir():
            continue  # archived or not restored here: nothing on disk to verify
        done = henryvc(box.cwd, *args)
        assert done.returncode == 0 and json.loads(done.stdout)["ok"], (tag, done.stdout, done.stderr)
        checked += 1
    return checked


def kill_loop(box: Sandbox, args: list[str], rng: random.Random, after: Callable[[Sandbox], None] | None = None
              ) -> Tally:
    """Calibrate, kill KILLS times at random delays, re-run; the invariants after each kill."""
    tally = Tally(" ".join(args), SEED)
    began = time.monotonic()
    box.put_back()
    started = time.monotonic()
    done = henryvc(box.cwd, *args)
    tally.calibration_s = time.monotonic() - started
    assert done.returncode == 0, f"{args}: the unkilled run failed: {done.stderr}"
    box.put_back()
    while tally.kills < KILLS:
        delay = rng.uniform(0.1, 0.8) * tally.calibration_s
        process = spawn(box.cwd, *args)
        try:
            process.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            tally.kills += 1
            _invariants(box, tally)
            continue
        _, err = process.communicate()
        tally.finished_first += 1
        if process.returncode != 0:  # a command re-run over a kill's leftovers must not fail
            tally.failed_before_kill.append(err.strip().splitlines()[-1] if err.strip() else f"rc {process.returncode}")
        _invariants(box, tally)
        box.put_back()
        if tally.finished_first > 3 * KILLS:
            pytest.fail(f"{args}: finished before the kill {tally.finished_first} times (calibration too short?)")
    started = time.monotonic()
    done = henryvc(box.cwd, *args)
    tally.rerun_s = time.monotonic() - started
    assert done.returncode == 0, f"{args}: the re-run after {tally.kills} kills failed: {done.stderr}"
    _invariants(box, tally)
    if after is not None:
        after(box)
    if box.remote.is_dir():
        assert rehash_store(box.remote).corrupt == [], f"{args}: the remote holds damaged objects after the re-run"
    tally.total_s = time.monotonic() - began
    line = json.dumps(asdict(tally), sort_keys=True)
    print(f"RANDOMKILL {line}")
    if os.environ.get("HENRYVC_RELIABILITY_FIGURES"):
        with open(os.environ["HENRYVC_RELIABILITY_FIGURES"], "a") as handle:
            handle.write(line + "\n")
    assert tally.failed_before_kill == [], tally.failed_before_kill
    return tally


def _rng(command: str) -> random.Random:
    """One stream per command from the one seed: replaying one command replays its delays."""
    return random.Random(f"{SEED}:{command}")


@dataclass
class Lab:
    """The states the commands start from, built once (two fake trainings) and saved beside ROOT:
    trained (run T trained, untagged; failed run F tagged), tagged (T tagged too), backed (and `backup`
    done: data on the DVC remote, tags on origin), cloned (a fresh clone of origin, empty cache)."""

    root: Path
    failed: str
    trained: str

    def box(self, state: str, cwd: str = "project") -> Sandbox:
        return Sandbox(self.root, self.root / cwd, self.root / "dvc-remote", self.root.with_name(f"saved-{state}"))


@pytest.fixture(scope="module")
def lab(request, tmp_path_factory) -> Lab:
    with pytest.MonkeyPatch.context() as patch:  # the autouse isolated_env is per test: isolate the build too
        isolate(patch, tmp_path_factory.mktemp("home"))
        return _build_lab(scratch(request, tmp_path_factory, "randomkill"))


def _build_lab(base: Path) -> Lab:
    root = base / "sb"
    project, remote, origin = pushed_project(root)
    failed = train(project, seed=7, mb=MB, files=FILES)
    records.update(project.run_dir(failed), status="failed")
    assert henryvc(project.root, "tag-run", failed).returncode == 0
    trained = train(project, seed=3, mb=MB, files=FILES)

    def save(state: str) -> None:
        shutil.copytree(root, base / f"saved-{state}", symlinks=True)

    save("trained")
    assert henryvc(project.root, "tag-run", trained).returncode == 0
    save("tagged")
    done = henryvc(project.root, "backup")
    assert done.returncode == 0, done.stderr
    sh(project.root, "git", "push", "-q", "origin", "--tags")
    save("backed")
    sh(root, "git", "clone", "-q", str(origin), str(root / "second-box"))
    save("cloned")
    return Lab(root, failed, trained)


def test_randomkill_tag_run_push(lab):
    kill_loop(lab.box("trained"), ["tag-run", "--push"], _rng("tag-run"),
              after=lambda b: _verify_tags(b) == 2 or pytest.fail("a tag did not verify"))


def test_randomkill_restore_pull(lab):
    box = lab.box("cloned", cwd="second-box")
    worktree = box.cwd / ".henryvc" / "restore" / lab.trained

    def after(b: Sandbox) -> None:
        assert _verify_tags(b, worktree, only=lab.trained) == 1

    kill_loop(box, ["restore", lab.trained, "--pull"], _rng("restore"), after=after)


def test_randomkill_backup(lab):
    box = lab.box("tagged")
    tally = kill_loop(box, ["backup"], _rng("backup"), after=lambda b: _verify_tags(b) >= 1 or pytest.fail())
    assert henryvc(box.cwd, "backup", "--verify").returncode == 0, tally


def test_randomkill_archive(lab):
    def after(b: Sandbox) -> None:
        assert (b.cwd / "training_runs" / "archive" / "failed" / lab.failed / "run.json").is_file()
        assert not (b.cwd / "training_runs" / lab.failed).exists()
        # the move is committed (a successful run's SUCCESS mark is henryvc's, untracked by design)
        assert sh(b.cwd, "git", "status", "--porcelain", "training_runs/archive", f"training_runs/{lab.failed}"
                  ).stdout == ""

    kill_loop(lab.box("tagged"), ["archive"], _rng("archive"), after=after)


def test_randomkill_cleanup_failed(lab):
    def after(b: Sandbox) -> None:
        assert not list((b.cwd / "training_runs" / lab.failed / "checkpoints").glob("*.pth"))
        assert (b.cwd / "training_runs" / lab.failed / "run.json").is_file()

    kill_loop(lab.box("backed"), ["cleanup-failed", "--yes"], _rng("cleanup-failed"), after=after)


def test_randomkill_snapshot(lab):
    def after(b: Sandbox) -> None:
        assert sh(b.cwd, "git", "tag", "--list", "snapshot_*").stdout.split()

    kill_loop(lab.box("trained"), ["snapshot", "-m", "before a big change"], _rng("snapshot"), after=after)
