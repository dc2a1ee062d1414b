"""The seeded random-kill tier (marker `randomkill`, run by CI through `make test`).

Every writing command (tag-run --push, restore --pull, backup, archive, cleanup-failed, snapshot) is
started as the real command line on real git and DVC and SIGKILLed, whole process group, a random delay
after its first write into the sandbox (the first file or folder it changes, seen by polling mtimes), at
least KILLS times (env HENRYVC_KILLS, default 10). The delays come from one seed, printed at the start
(`randomkill seed: N`) and in every failure message; HENRYVC_KILL_SEED=N replays the same delays: they are
drawn in seconds, log-uniformly, from a fixed range per command (WINDOW_S: from FIRST_S to its end), never
scaled by a timing measured afresh. Log-uniform because how long a command writes differs tenfold between
machines: each tenfold slice of the range gets the same share of kills, so a fast machine still sees about
half of them land, and a slow one sees kills spread over its whole write.
Counting from the first write, not from the start, keeps a slow start-up on a loaded machine from eating
the kills (measured, seed 283500983: counted from the start, 42 of 60 kills landed before the command had
written anything, all 10 of cleanup-failed's among them).

Each command first runs once unkilled on a copy of its saved sandbox (its time is reported, nothing is drawn
from it). A kill that lands after the command ended counts as "finished first" and the sandbox is put back to
its saved copy, so that the next kill has work to hit; otherwise the next attempt starts from whatever the
kill left (kills pile up, as in real life). Sandboxes are saved and put back with `cp -a`, which keeps the
hard links between work tree and DVC cache (the projects' cache type): a plain copy would turn them into
separate files. Where each kill landed is recorded: seconds after the command's first write (the earliest
mtime it left, files and folders).

After every kill, and after the re-run:
- git fsck is clean, every tag has its commit and record, no run.json is half-written; after a kill only,
  a worktree entry `git worktree add` had only begun (git's own SIGKILL leftover: still locked
  "initializing", commondir or HEAD not yet written) is counted and fsck is judged on a copy of .git
  without it; the next command must drop it (after the re-run and after a run that finished, fsck is
  judged on the repository itself);
- every object in the DVC cache re-hashes to its name; after a kill only, an empty file at an object's name
  is counted instead (DVC tries a reflink at the final name first: it creates the file, the clone fails on
  ext4, and it unlinks it; a SIGKILL between leaves it empty); after the re-run and after a run that
  finished, every cache object must re-hash;
- completeness, as object sets (tests.helpers.completeness): every tag that had all its data in the cache
  before the command still has every object it needs there (cleanup-failed may move a failed run's objects
  out, only when the remote holds them), and every tag on origin has every object it needs on the DVC remote
  (data goes first, then the tag);
- no object on the remote differs from its hash except an empty or partial file DVC leaves at an object's
  name when killed mid-transfer (counted; after the re-run there must be none).
After the last kill the command is re-run: it must complete (exit 0), and then every run tag verifies
(`henryvc verify` in the work tree, or restored into a worktree for an archived run), every snapshot tag
has each object it needs in the cache and on the remote, and each test checks what its command promises
(a pushed tag is on origin with its data on the remote, ...). Counts are printed as `RANDOMKILL {json}`
lines and appended to $HENRYVC_RELIABILITY_FIGURES when set.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from henryvc.adapters import dvcrepo
from henryvc.core import record as records
from tests.helpers import completeness
from tests.helpers.cli import run_cli, spawn_cli
from tests.helpers.project import isolate, scratch, sh
from tests.helpers.reliability import git_consistency, pushed_project, record_problems, rehash_store, train

pytestmark = [pytest.mark.reliability, pytest.mark.randomkill]

KILLS = int(os.environ.get("HENRYVC_KILLS", "10"))
MB, FILES = 2, 4  # 8 MB of checkpoints per run: enough objects to be killed between, quick to copy back
# Where the kills may land: seconds after the command's first write, log-uniform from FIRST_S to the command's
# window (fixed: a seed replays the same delays on any machine). Each window's end is about how long the command
# writes, unkilled, on a loaded 2-core machine; a fast one writes far shorter: in CI cleanup-failed wrote for
# about 0.2 s (seed 667449074: of 57 delays drawn uniformly from 3 s only 6 landed, "window too long"), and
# archive for under 0.04 s (seed 279356510). Log-uniform from 5 ms, about half land on either machine.
FIRST_S = 0.005
WINDOW_S = {"tag-run": 2.5, "restore": 3.0, "backup": 3.0, "archive": 0.3, "cleanup-failed": 3.0,
            "snapshot": 2.5}
MAX_FINISHED_FIRST = 5  # per kill asked for: more means the window is far longer than the command here


def _seed() -> int:
    chosen = os.environ.get("HENRYVC_KILL_SEED")
    return int(chosen) if chosen else random.SystemRandom().randrange(1, 2**31)


SEED = _seed()
REPLAY = f"seed {SEED} (replay with HENRYVC_KILL_SEED={SEED})"


@pytest.fixture(scope="session", autouse=True)
def announce_seed():
    print(f"\nrandomkill {REPLAY}")
    yield


def copy_tree(source: Path, target: Path) -> None:
    """SOURCE copied to TARGET with hard links, symlinks, modes and times kept (`cp -a`)."""
    subprocess.run(["cp", "-a", str(source), str(target)], check=True)


def hardlinked(root: Path) -> int:
    """How many files under ROOT share their inode with another file under ROOT."""
    seen: dict[tuple[int, int], int] = {}
    for path in Path(root).rglob("*"):
        info = path.lstat()
        if path.is_file() and not path.is_symlink() and info.st_nlink > 1:
            seen[(info.st_dev, info.st_ino)] = seen.get((info.st_dev, info.st_ino), 0) + 1
    return sum(count for count in seen.values() if count > 1)


@dataclass
class Sandbox:
    """Everything a command touches (project, remotes, clone) under one folder ROOT, and the saved copy
    of it (SAVED, at a sibling path) that put_back() restores. Absolute paths inside (DVC remote, git
    origin) stay valid because ROOT is always the same folder."""

    root: Path
    cwd: Path
    remote: Path
    saved: Path

    @property
    def origin(self) -> Path:
        return self.root / "origin.git"

    @property
    def env(self) -> dict[str, str]:
        """DVC's per-machine site cache (its data index of the repository) inside the sandbox too, so that
        put_back() turns back the whole machine's state and never leaves an index of a cache it rolled back."""
        return {"DVC_SITE_CACHE_DIR": str(self.root / ".dvc-site")}

    def put_back(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        copy_tree(self.saved, self.root)


def wait_for_first_write(process: subprocess.Popen, root: Path, since_ns: int) -> int | None:
    """Poll ROOT until PROCESS has written into it: the first write's mtime, or None when it ended first."""
    while process.poll() is None:
        first = first_write_ns(root, since_ns)
        if first is not None:
            return first
        time.sleep(0.005)
    return None


def first_write_ns(root: Path, since_ns: int) -> int | None:
    """The earliest mtime under ROOT at or after SINCE_NS (a file or folder written, made or emptied), or None."""
    earliest = None
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [".", *dirnames, *filenames]:
            try:
                mtime = os.lstat(os.path.join(dirpath, name)).st_mtime_ns
            except FileNotFoundError:
                continue
            if mtime >= since_ns and (earliest is None or mtime < earliest):
                earliest = mtime
    return earliest


@dataclass
class Tally:
    command: str
    seed: int
    kills: int = 0
    finished_first: int = 0
    failed_before_kill: list[str] = field(default_factory=list)
    remote_damaged_after_kill: int = 0
    half_made_worktrees_after_kill: int = 0  # git worktree entries a kill left begun (see the docstring)
    cache_emptied_after_kill: int = 0  # empty files a kill left at cache objects' names (see the docstring)
    delays_s: list[float] = field(default_factory=list)  # every delay drawn, in order (the replay)
    # per kill: seconds from the command's first write into the sandbox to the kill
    after_first_write_s: list[float] = field(default_factory=list)
    calibration_s: float = 0.0
    rerun_s: float = 0.0
    total_s: float = 0.0
    hardlinks_kept: int = 0
    verified: dict[str, int] = field(default_factory=dict)  # tags verified after the re-run, by how


@dataclass
class Expect:
    """What a command must keep true after every kill (beyond git, records and intact objects)."""

    cache_tags: list[str] = field(default_factory=list)  # complete in the cache before: still complete after
    may_leave_cache: tuple[str, ...] = ()  # ... or, for these, complete on the remote instead


def _complete(box: Sandbox, expect: Expect) -> list[str]:
    """Completeness problems, one line each (see the module docstring)."""
    cache_dir = dvcrepo.cache_dir(box.cwd)
    in_cache = completeness.good_objects(cache_dir)
    on_remote = completeness.good_objects(box.remote) if box.remote.is_dir() else set()
    problems = []
    kept = [t for t in expect.cache_tags if t not in expect.may_leave_cache]
    problems += completeness.gaps(box.cwd, kept, cache_dir, [box.remote], in_cache, "the cache").lines()
    for tag in expect.may_leave_cache:
        anywhere = completeness.gaps(box.cwd, [tag], cache_dir, [box.remote], in_cache | on_remote,
                                     "the cache and the remote")
        problems += anywhere.lines()
    problems += remote_gaps(box, completeness.tags(box.origin), on_remote).lines()
    return problems


def remote_gaps(box: Sandbox, tag_names: list[str], on_remote: set[str] | None = None) -> completeness.Gaps:
    """What TAG_NAMES need that the DVC remote does not hold intact."""
    return completeness.gaps(box.cwd, tag_names, box.remote, [dvcrepo.cache_dir(box.cwd)], on_remote,
                             "the DVC remote")


def begun_worktrees(root: Path) -> list[Path]:
    """Worktree entries of ROOT's repository that `git worktree add` began and never finished: still locked,
    with commondir or gitdir empty or missing, or HEAD not yet a commit."""
    def text(path: Path) -> str:
        return path.read_text().strip() if path.is_file() else ""

    return [entry for entry in sorted((root / ".git" / "worktrees").glob("*"))
            if (entry / "locked").exists() and (not text(entry / "commondir") or not text(entry / "gitdir")
                                                 or text(entry / "HEAD").strip("0") == "")]


def _git_problems(box: Sandbox, tally: Tally, after_kill: bool) -> list[str]:
    """git_consistency of the box; after a kill, judged without the worktree entries git had only begun."""
    begun = begun_worktrees(box.cwd) if after_kill else []
    if not begun:
        return git_consistency(box.cwd)
    tally.half_made_worktrees_after_kill += 1
    judged = box.root.parent / f"{box.root.name}-git"
    shutil.rmtree(judged, ignore_errors=True)
    shutil.copytree(box.cwd / ".git", judged / ".git", symlinks=True)
    for entry in begun:
        shutil.rmtree(judged / ".git" / "worktrees" / entry.name)
    try:
        return git_consistency(judged)
    finally:
        shutil.rmtree(judged, ignore_errors=True)


def _invariants(box: Sandbox, tally: Tally, expect: Expect, after_kill: bool = False) -> None:
    """What must hold after any kill (see the module docstring)."""
    assert _git_problems(box, tally, after_kill) == []
    assert record_problems(box.cwd) == []
    objects = dvcrepo.cache_dir(box.cwd) / "files" / "md5"
    corrupt = rehash_store(dvcrepo.cache_dir(box.cwd)).corrupt
    if after_kill:  # DVC's reflink attempt at an object's final name: an empty file (see the docstring)
        emptied = [name for name in corrupt if (objects / name).stat().st_size == 0]
        tally.cache_emptied_after_kill += len(emptied)
        corrupt = [name for name in corrupt if name not in emptied]
    assert corrupt == [], corrupt
    assert _complete(box, expect) == []
    if box.remote.is_dir():
        remote = rehash_store(box.remote)
        # DVC may leave an empty/partial file at an object's final name when killed mid-copy; the re-run
        # (and `backup --verify`) must deal with it: counted here, judged after the re-run.
        tally.remote_damaged_after_kill += bool(remote.corrupt)


def verify_all(box: Sandbox, run_tags: list[str] | None = None, restore: tuple[str, ...] = ()) -> dict[str, int]:
    """After a re-run: every run tag (RUN_TAGS, default all) verifies: `henryvc verify` in the work tree, or in
    its restore worktree, or restored into one first when its folder is not in the work tree (an archived run;
    RESTORE: restored with --pull whatever the work tree holds). Every snapshot tag has each object it needs in
    the cache, and on the remote when it is on origin. How many of each were checked."""
    checked = {"work_tree": 0, "restored": 0, "snapshot": 0}
    for tag in completeness.tags(box.cwd, "henry_v*") if run_tags is None else run_tags:
        path = box.cwd / ".henryvc" / "restore" / tag
        if tag in restore or not ((box.cwd / "training_runs" / tag).is_dir() or path.is_dir()):
            done = run_cli(box.cwd, "restore", tag, "--json", *(["--pull"] if tag in restore else []), env=box.env, process=True)
            assert done.returncode == 0, (tag, done.stderr)
            path = Path(json.loads(done.stdout)["path"])
        where = ["--path", str(path)] if path.is_dir() else []
        done = run_cli(box.cwd, "verify", tag, "--json", *where, env=box.env, process=True)
        assert done.returncode == 0 and json.loads(done.stdout)["ok"], (tag, done.stdout, done.stderr)
        checked["restored" if where else "work_tree"] += 1
    snapshots = completeness.tags(box.cwd, "snapshot_*")
    cache_dir = dvcrepo.cache_dir(box.cwd)
    assert completeness.gaps(box.cwd, snapshots, cache_dir, [box.remote], label="the cache").lines() == []
    on_origin = [t for t in snapshots if t in completeness.tags(box.origin)]
    assert remote_gaps(box, on_origin).lines() == []
    checked["snapshot"] = len(snapshots)
    return checked


@contextmanager
def replayable(what: str, tally: Tally) -> Iterator[None]:
    """Every failure inside names the seed, the command and the kill it came after."""
    try:
        yield
    except (AssertionError, pytest.fail.Exception) as exc:
        where = f"{tally.command}, after kill {tally.kills} (delays so far {tally.delays_s})"
        raise AssertionError(f"randomkill {REPLAY}: {what} failed, {where}: {exc}") from None


def draw_delay(rng: random.Random, window_s: float) -> float:
    """A delay in seconds, log-uniform from FIRST_S to WINDOW_S: each tenfold slice gets the same share."""
    return round(FIRST_S * (window_s / FIRST_S) ** rng.random(), 4)


def kill_loop(box: Sandbox, args: list[str], rng: random.Random, window_s: float,
              after: Callable[[Sandbox], None] | None = None, may_leave_cache: tuple[str, ...] = (),
              verify: Callable[[Sandbox], dict[str, int]] = verify_all) -> Tally:
    """Time one unkilled run, kill KILLS times at seeded delays, re-run; the invariants after each kill."""
    tally = Tally(" ".join(args), SEED)
    began = time.monotonic()
    box.put_back()
    tally.hardlinks_kept = hardlinked(box.root)
    with replayable("the sandbox copy", tally):
        assert tally.hardlinks_kept == hardlinked(box.saved), "put_back lost the work tree's hard links to the cache"
    expect = Expect([t for t in completeness.tags(box.cwd)
                     if not completeness.gaps(box.cwd, [t], dvcrepo.cache_dir(box.cwd))], may_leave_cache)
    started = time.monotonic()
    done = run_cli(box.cwd, *args, env=box.env, process=True)
    tally.calibration_s = time.monotonic() - started
    with replayable("the unkilled run", tally):
        assert done.returncode == 0, f"{args}: the unkilled run failed: {done.stderr}"
    box.put_back()
    piled = 0  # kills since the sandbox was last put back
    while tally.kills < KILLS:
        delay = draw_delay(rng, window_s)
        tally.delays_s.append(delay)
        since = time.time_ns()
        process = spawn_cli(box.cwd, *args, env=box.env)
        first = wait_for_first_write(process, box.root, since)
        try:
            process.wait(timeout=delay if first is not None else 0)
        except subprocess.TimeoutExpired:
            killed_at = time.time_ns()
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            tally.kills += 1
            piled += 1
            tally.after_first_write_s.append(round((killed_at - (first or killed_at)) / 1e9, 3))
            with replayable("the invariants after a kill", tally):
                _invariants(box, tally, expect, after_kill=True)
            continue
        _, err = process.communicate()
        tally.finished_first += 1
        if process.returncode != 0:  # a command re-run over a kill's leftovers must not fail
            tail = " | ".join(err.strip().splitlines()[-4:]) or f"rc {process.returncode}"
            tally.failed_before_kill.append(f"over the leftovers of {piled} kill(s), delay {delay}: {tail}")
        with replayable("the invariants after a run that finished before its kill", tally):
            _invariants(box, tally, expect)
        box.put_back()
        piled = 0
        if tally.finished_first > MAX_FINISHED_FIRST * KILLS:
            with replayable("the delays", tally):
                pytest.fail(f"{args}: finished before the kill {tally.finished_first} times (window too long?)")
    started = time.monotonic()
    done = run_cli(box.cwd, *args, env=box.env, process=True)
    tally.rerun_s = time.monotonic() - started
    with replayable("the re-run", tally):
        assert done.returncode == 0, f"{args}: the re-run after {tally.kills} kills failed: {done.stderr}"
        _invariants(box, tally, expect)
        if after is not None:
            after(box)
        tally.verified = verify(box)
        if box.remote.is_dir():
            assert rehash_store(box.remote).corrupt == [], f"{args}: the remote holds damaged objects after the re-run"
    tally.total_s = time.monotonic() - began
    line = json.dumps(asdict(tally), sort_keys=True)
    print(f"RANDOMKILL {line}")
    if os.environ.get("HENRYVC_RELIABILITY_FIGURES"):
        with open(os.environ["HENRYVC_RELIABILITY_FIGURES"], "a") as handle:
            handle.write(line + "\n")
    with replayable("a run that finished before its kill", tally):
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
    assert run_cli(project.root, "tag-run", failed, process=True).returncode == 0
    trained = train(project, seed=3, mb=MB, files=FILES)

    def save(state: str) -> None:
        copy_tree(root, base / f"saved-{state}")

    save("trained")
    assert run_cli(project.root, "tag-run", trained, process=True).returncode == 0
    save("tagged")
    done = run_cli(project.root, "backup", process=True)
    assert done.returncode == 0, done.stderr
    sh(project.root, "git", "push", "-q", "origin", "--tags")
    save("backed")
    sh(root, "git", "clone", "-q", str(origin), str(root / "second-box"))
    save("cloned")
    return Lab(root, failed, trained)


def on_origin_with_data(box: Sandbox, tag_names: list[str]) -> None:
    """TAG_NAMES are on origin and the DVC remote holds every object they need."""
    assert set(tag_names) <= set(completeness.tags(box.origin)), (tag_names, completeness.tags(box.origin))
    assert remote_gaps(box, tag_names).lines() == []


def test_randomkill_tag_run_push(lab):
    kill_loop(lab.box("trained"), ["tag-run", "--push"], _rng("tag-run"), WINDOW_S["tag-run"],
              after=lambda b: on_origin_with_data(b, [lab.trained]))


def test_randomkill_restore_pull(lab):
    box = lab.box("cloned", cwd="second-box")

    def after(b: Sandbox) -> None:
        cache_dir = dvcrepo.cache_dir(b.cwd)
        assert completeness.gaps(b.cwd, [lab.trained], cache_dir, label="the cache").lines() == []

    kill_loop(box, ["restore", lab.trained, "--pull"], _rng("restore"), WINDOW_S["restore"], after=after,
              verify=lambda b: verify_all(b, [lab.trained]))


def test_randomkill_backup(lab):
    def after(b: Sandbox) -> None:
        on_origin_with_data(b, completeness.tags(b.cwd))
        assert run_cli(b.cwd, "backup", "--verify", env=b.env, process=True).returncode == 0

    kill_loop(lab.box("tagged"), ["backup"], _rng("backup"), WINDOW_S["backup"], after=after)


def test_randomkill_archive(lab):
    def after(b: Sandbox) -> None:
        assert (b.cwd / "training_runs" / "archive" / "failed" / lab.failed / "run.json").is_file()
        assert not (b.cwd / "training_runs" / lab.failed).exists()
        # the move is committed (a successful run's SUCCESS mark is henryvc's, untracked by design)
        assert sh(b.cwd, "git", "status", "--porcelain", "training_runs/archive", f"training_runs/{lab.failed}"
                  ).stdout == ""

    def verify(b: Sandbox) -> dict[str, int]:
        checked = verify_all(b)
        assert checked["restored"] == 1  # the archived run, restored from its tag
        return checked

    kill_loop(lab.box("tagged"), ["archive"], _rng("archive"), WINDOW_S["archive"], after=after, verify=verify)


def test_randomkill_cleanup_failed(lab):
    def after(b: Sandbox) -> None:
        assert not list((b.cwd / "training_runs" / lab.failed / "checkpoints").glob("*.pth"))
        assert (b.cwd / "training_runs" / lab.failed / "run.json").is_file()
        on_origin_with_data(b, completeness.tags(b.cwd))

    # The failed run's checkpoints may leave the cache (the remote holds them): it is restored with --pull.
    kill_loop(lab.box("backed"), ["cleanup-failed", "--yes"], _rng("cleanup-failed"), WINDOW_S["cleanup-failed"],
              after=after, may_leave_cache=(lab.failed,), verify=lambda b: verify_all(b, restore=(lab.failed,)))


def test_randomkill_snapshot(lab):
    def after(b: Sandbox) -> None:
        snapshots = completeness.tags(b.cwd, "snapshot_*")  # the timestamp in the name sorts them
        assert snapshots
        on_origin_with_data(b, snapshots[-1:])  # the re-run's own; a killed one's may be local only
        left = sorted(set(snapshots) - set(completeness.tags(b.origin)))
        print(f"\nsnapshot tags a kill left on this box only (never pushed): {len(left)}")

    kill_loop(lab.box("trained"), ["snapshot", "-m", "before a big change"], _rng("snapshot"), WINDOW_S["snapshot"],
              after=after)


def test_the_completeness_check_catches_a_deleted_remote_object(lab):
    """One object a tag needs, taken off the remote: the per-kill invariants fail naming it (with the seed),
    though every object left still re-hashes to its name (the old check passed); put back, they pass."""
    box = lab.box("backed")
    box.put_back()
    expect = Expect(completeness.tags(box.cwd))
    tally = Tally("deleted remote object", SEED)
    assert _complete(box, expect) == []
    wanted = completeness.needed(box.cwd, lab.trained, [box.remote])
    oid = next(o for o, path in sorted(wanted.items()) if "/checkpoints/" in path and not o.endswith(".dir"))
    victim = box.remote / "files" / "md5" / oid[:2] / oid[2:]
    aside = box.root.with_name("aside-object")
    victim.rename(aside)
    try:
        problems = _complete(box, expect)
        assert problems == [f"the DVC remote lacks {oid} ({wanted[oid]}) that tag {lab.trained} needs"], problems
        assert rehash_store(box.remote).corrupt == []  # intact, yet incomplete: only the set check sees it
        with pytest.raises(AssertionError, match=f"(?s)HENRYVC_KILL_SEED={SEED}.*lacks {oid}"), \
                replayable("the invariants", tally):
            _invariants(box, tally, expect)
    finally:
        aside.rename(victim)  # undo the deletion
    assert _complete(box, expect) == []
    print(f"\ndeleted remote object {oid} ({wanted[oid]}): caught; put back: complete again")
