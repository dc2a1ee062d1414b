"""henryvc side by side with the raw tools it drives (issue 7). A benchmark, not a test.

It builds the data in a temporary folder (an LJSpeech-sized voice dataset, Tacotron2-sized checkpoints,
thousands of tagged runs), then times each henryvc command and its by-hand equivalent as subprocesses
(both pay process start-up), alternating their order, REPS times each, and prints min/median/max and the
ratio of medians. `--write` puts the table and the exact command into BENCHMARKS.md.

Example (defaults are the issue's sizes, about 4.3 GB plus the copies the operations make):
    python benchmarks/bench.py --workdir /var/tmp --write BENCHMARKS.md
Scaled down:
    python benchmarks/bench.py --wavs 1310 --checkpoint-mb 34 --tags 2000 --reps 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shlex
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from henryvc.adapters.dvcrepo import Out  # noqa: E402
from henryvc.core import summary as summaries  # noqa: E402  (the tag message format, built exactly as tag-run builds it)
from tests.helpers.project import FAKE_TRAIN, fake_dvc_yaml  # noqa: E402

BIN = Path(sys.executable).parent
HENRYVC = [str(BIN / "henryvc")] if (BIN / "henryvc").exists() else [sys.executable, "-m", "henryvc.main"]
DVC = [str(BIN / "dvc")] if (BIN / "dvc").exists() else [sys.executable, "-m", "dvc"]
GTO = [str(BIN / "gto")] if (BIN / "gto").exists() else None
BLOCK = 8 << 20
MARKS = "<!-- bench:{}:begin -->", "<!-- bench:{}:end -->"
HEAVY_MODULES = ("torch", "torchaudio", "TTS", "trainer", "coqpit", "dvc", "dvc_data", "dvc_objects", "scmrepo")

# The one stand-in training stage of tests and benchmarks (N checkpoints of a given size, unique per
# file) and its one-stage dvc.yaml, both from the test helpers.
BENCH_TRAIN = FAKE_TRAIN
BENCH_DVC_YAML = fake_dvc_yaml("fake_train.py", logs=False)


@dataclass
class Row:
    """One comparison: our command against a baseline, with its target."""

    operation: str
    ours: str
    baseline: str
    ours_s: list[float]
    base_s: list[float]
    target: str  # "<= 1.1x" (ours/baseline at most) or ">= 50x faster" (baseline/ours at least)
    note: str = ""

    @property
    def ratio(self) -> float:
        """ours/baseline, or baseline/ours for a ">=" (speed-up) target; of the medians."""
        a, b = statistics.median(self.ours_s), statistics.median(self.base_s)
        return b / a if self.target.startswith(">=") else a / b

    @property
    def met(self) -> bool:
        limit = float(self.target.split()[1].rstrip("x"))
        return self.ratio >= limit if self.target.startswith(">=") else self.ratio <= limit


@dataclass
class Bench:
    """The benchmark's folders, environment and settings."""

    work: Path
    args: argparse.Namespace
    env: dict[str, str] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def project(self) -> Path:
        return self.work / "project"

    @property
    def remote(self) -> Path:
        return self.work / "dvc-remote"


def run(argv: list[str], cwd: Path, env: dict[str, str], stdout=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    """Run ARGV in CWD; on failure show its stderr and stop."""
    proc = subprocess.run(argv, cwd=cwd, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {shlex.join(argv)} in {cwd}\n{proc.stderr[-3000:]}")
    return proc


def timed(b: Bench, steps: list[tuple[list[str], Path]]) -> float:
    """Wall seconds of running STEPS one after the other."""
    start = time.perf_counter()
    for argv, cwd in steps:
        run(argv, cwd, b.env)
    return time.perf_counter() - start


def alternate(reps: int, sides: list[Callable[[int], float]]) -> list[list[float]]:
    """Times of each side, REPS times, rotating which side goes first in each repetition."""
    times: list[list[float]] = [[] for _ in sides]
    for rep in range(reps):
        for k in range(len(sides)):
            index = (k + rep) % len(sides)
            times[index].append(sides[index](rep))
            print(f"    rep {rep + 1}/{reps} side {index + 1}: {times[index][-1]:.3f} s", flush=True)
    return times


def say(text: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {text}", flush=True)


# ---------------------------------------------------------------------------------------------- data


def environment(work: Path) -> dict[str, str]:
    """An isolated HOME, git identity and DVC site cache (where DVC keeps its state db)."""
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[user]\n\tname = Henry Bench\n\temail = bench@henryvc.invalid\n"
                         "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
                         "[gc]\n\tauto = 0\n")
    return dict(os.environ, HOME=str(home), GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1",
                DVC_NO_ANALYTICS="1", DVC_SITE_CACHE_DIR=str(home / "dvc-site"),
                PATH=str(BIN) + os.pathsep + os.environ.get("PATH", ""))


def wav_header(data_bytes: int, rate: int = 22050) -> bytes:
    """A 16-bit mono PCM RIFF header for DATA_BYTES of samples."""
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", data_bytes))


def write_dataset(root: Path, count: int, size: int) -> None:
    """COUNT LJSpeech-style clips of SIZE bytes (header + random samples) and metadata.csv."""
    wavs = root / "wavs"
    wavs.mkdir(parents=True, exist_ok=True)
    pool = os.urandom(BLOCK * 4)
    lines = []
    for i in range(count):
        clip = f"LJ{i // 1000 + 1:03d}-{i % 1000 + 1:04d}"
        body = size - 44
        start = (i * 7919) % (len(pool) - body) if body < len(pool) else 0
        samples = struct.pack("<Q", i) + pool[start:start + body - 8]
        (wavs / f"{clip}.wav").write_bytes(wav_header(len(samples)) + samples)
        lines.append(f"{clip}|Clip number {i}.|Clip number {i}.")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")


def build_project(b: Bench) -> None:
    """A henryvc project (real `henryvc init`) with the dataset DVC-tracked and a checkpoint-writing stage."""
    a = b.args
    p = b.project
    p.mkdir(parents=True)
    run(HENRYVC + ["init", "--remote", str(b.remote)], p, b.env)
    (p / "dvc.yaml").write_text(BENCH_DVC_YAML)
    (p / "params.yaml").write_text(f"# the run dvc repro trains\nrun: null\nfake:\n  seed: 1\n  files: {a.checkpoints}\n"
                                   f"  bytes: {a.checkpoint_mb << 20}\n  step: 1000\n  logs: false\n")
    (p / "fake_train.py").write_text(BENCH_TRAIN)
    say(f"writing {a.wavs} clips of {a.wav_kb} KB")
    write_dataset(p / "voice_data", a.wavs, a.wav_kb * 1024)
    say("dvc add voice_data")
    run(DVC + ["add", "-q", "voice_data"], p, b.env)
    run(["git", "add", "-A"], p, b.env)
    run(["git", "commit", "-qm", "bench project: dataset and checkpoint-writing stage"], p, b.env)


def trained_run(b: Bench) -> str:
    """`henryvc new-run` + `dvc repro`: a finished run whose checkpoints are in the DVC cache."""
    name = run(HENRYVC + ["new-run", "--major", "2", "--variant", "debug"], b.project, b.env,
               stdout=subprocess.PIPE).stdout.strip()
    params = b.project / "params.yaml"  # a fresh seed: every run's checkpoints are its own bytes
    params.write_text(re.sub(r"seed: \d+", f"seed: {random.randrange(1 << 30)}", params.read_text()))
    run(DVC + ["repro", "-q"], b.project, b.env)
    return name


# ---------------------------------------------------------------------------------------------- operations


def bench_tag_run(b: Bench) -> str:
    """tag-run against dvc commit + git commit + git tag -a; returns a run tagged by henryvc (workspace at it)."""
    say("tag-run: each repetition trains a fresh run per side (untimed)")
    p = b.project

    def ours(_: int) -> float:
        name = trained_run(b)
        t = timed(b, [(HENRYVC + ["tag-run", name], p)])
        shutil.rmtree(p / "training_runs" / name / "checkpoints")  # disk: the cache keeps its copy until the gc
        return t

    def raw(_: int) -> float:
        name = trained_run(b)
        t = timed(b, [(DVC + ["commit", "-f", "-q"], p),
                      (["git", "add", f"training_runs/{name}", "dvc.lock", "params.yaml"], p),
                      (["git", "commit", "-q", "-m", f"run {name}"], p),
                      (["git", "tag", "-a", name, "-m", f"run {name}"], p)])
        shutil.rmtree(p / "training_runs" / name / "checkpoints")
        return t

    t_ours, t_raw = alternate(b.args.reps, [ours, raw])
    run(DVC + ["gc", "-w", "-f", "-q"], p, b.env)  # drop those runs' cache objects (untimed)
    b.rows.append(Row("tag-run (dataset + checkpoints)", "henryvc tag-run",
                      "dvc commit + git add/commit + git tag -a", t_ours, t_raw, "<= 1.1x"))
    say("reference run for the read benchmarks (trained and tagged with henryvc, untimed)")
    ref = trained_run(b)
    run(HENRYVC + ["tag-run", ref], p, b.env)
    return ref


def remove_worktree(b: Bench, path: Path) -> None:
    run(["git", "worktree", "remove", "--force", str(path)], b.project, b.env)
    shutil.rmtree(path, ignore_errors=True)


def bench_restore_warm(b: Bench, ref: str) -> None:
    """restore into a worktree (warm cache) against worktree + dvc checkout by hand, and against cp -al."""
    say("restore, warm cache")
    p, cache = b.project, b.project / ".dvc" / "cache"
    area = p / ".henryvc" / "bench"
    area.mkdir(parents=True, exist_ok=True)

    def ours(rep: int) -> float:
        target = area / f"ours{rep}"
        t = timed(b, [(HENRYVC + ["restore", ref, "--into", str(target)], p)])
        remove_worktree(b, target)
        return t

    def raw(rep: int) -> float:
        target = area / f"raw{rep}"
        t = timed(b, [(["git", "worktree", "add", "--detach", "--quiet", str(target), ref], p),
                      (DVC + ["config", "--local", "cache.dir", str(cache)], target),
                      (DVC + ["checkout", "-q"], target)])
        remove_worktree(b, target)
        return t

    floor_src = area / "floor"
    run(HENRYVC + ["restore", ref, "--into", str(floor_src)], p, b.env)
    b.notes.append(f"restored worktree: {linked(floor_src / 'voice_data')} (dataset), "
                   f"{linked(floor_src / 'training_runs' / ref / 'checkpoints')} (checkpoints); main work tree "
                   f"after dvc add / dvc repro: {linked(p / 'voice_data')} (dataset), "
                   f"{linked(p / 'training_runs' / ref / 'checkpoints')} (checkpoints)")

    def floor(rep: int) -> float:
        target = b.work / f"cp-al{rep}"
        t = timed(b, [(["cp", "-al", str(floor_src), str(target)], b.work)])
        shutil.rmtree(target)
        return t

    t_ours, t_raw, t_floor = alternate(b.args.reps, [ours, raw, floor])
    remove_worktree(b, floor_src)
    b.rows.append(Row("restore into a worktree, warm cache", "henryvc restore --into",
                      "git worktree add + dvc config cache.dir + dvc checkout", t_ours, t_raw, "<= 1.0x"))
    b.rows.append(Row("restore, warm cache, vs the physical floor", "henryvc restore --into",
                      "cp -al of the restored tree", t_ours, t_floor, "<= 5x"))


def linked(folder: Path) -> str:
    """How many files under FOLDER share their inode with another link (the DVC cache object)."""
    files = [f for f in folder.rglob("*") if f.is_file() and not f.is_symlink()]
    return f"{sum(f.stat().st_nlink > 1 for f in files)} of {len(files)} files hard-linked"


def bench_restore_pull(b: Bench, ref: str) -> None:
    """restore --pull into a fresh clone (empty DVC cache) against worktree + dvc pull by hand."""
    say("restore --pull, cold cache: dvc push to the local remote first (untimed)")
    run(DVC + ["push", "-q"], b.project, b.env)

    def clone(tag: str) -> Path:
        target = b.work / f"clone-{tag}"
        shutil.rmtree(target, ignore_errors=True)
        run(["git", "clone", "-q", str(b.project), str(target)], b.work, b.env)
        return target

    def ours(rep: int) -> float:
        c = clone(f"ours{rep}")
        t = timed(b, [(HENRYVC + ["restore", ref, "--pull"], c)])
        shutil.rmtree(c)
        return t

    def raw(rep: int) -> float:
        c = clone(f"raw{rep}")
        target = c / ".henryvc" / "restore" / ref
        target.parent.mkdir(parents=True)
        t = timed(b, [(["git", "worktree", "add", "--detach", "--quiet", str(target), ref], c),
                      (DVC + ["config", "--local", "cache.dir", str(c / ".dvc" / "cache")], target),
                      (DVC + ["pull", "-q"], target)])
        shutil.rmtree(c)
        return t

    t_ours, t_raw = alternate(b.args.reps, [ours, raw])
    b.rows.append(Row("restore --pull from the local remote, cold cache", "henryvc restore --pull",
                      "git worktree add + dvc config cache.dir + dvc pull", t_ours, t_raw, "<= 1.1x"))


def bench_verify(b: Bench, ref: str) -> None:
    """verify --fast (DVC's state db) and verify (full re-hash) of the work tree's run against dvc status."""
    say("verify --fast, verify (full re-hash), dvc status")
    p = b.project
    t_fast, t_full, t_raw = alternate(b.args.reps, [lambda _: timed(b, [(HENRYVC + ["verify", ref, "--fast"], p)]),
                                                    lambda _: timed(b, [(HENRYVC + ["verify", ref], p)]),
                                                    lambda _: timed(b, [(DVC + ["status"], p)])])
    b.rows.append(Row("verify of a run", "henryvc verify --fast", "dvc status", t_fast, t_raw, "<= 1.2x"))
    b.rows.append(Row("verify of a run, every byte re-read", "henryvc verify", "dvc status", t_full, t_raw, "info"))


def tag_stream(count: int, kind: str, start: datetime) -> tuple[bytes, list[str]]:
    """A git fast-import stream: COUNT commits, each with one annotated tag (henryvc's or GTO's format)."""
    chunks, names = [], []
    data = {"voice_data": Out("voice_data", "0" * 32, True, 2_600_000_000, 13100)}
    for i in range(count):
        name = f"henry_v2_{('debug', 'stable', 'experimental', 'production')[i % 4]}_" \
               f"{start + timedelta(minutes=i):%Y%m%d_%H%M%S}"
        names.append(name)
        ts = int((start + timedelta(minutes=i)).timestamp())
        record = {"name": name, "status": "success", "major": 2, "variant": name.split("_")[2]}
        blob = json.dumps(record).encode()
        commit_msg = f"henryvc: run {name} (success)".encode()
        chunks.append(b"commit refs/heads/main\nmark :%d\ncommitter Henry Bench <bench@henryvc.invalid> %d +0000\n"
                      b"data %d\n%s\n" % (i + 1, ts, len(commit_msg), commit_msg))
        if i:
            chunks.append(b"from :%d\n" % i)
        chunks.append(b"M 644 inline training_runs/%s/run.json\ndata %d\n%s\n" % (name.encode(), len(blob), blob))
        if kind == "henryvc":
            outs = [data["voice_data"], Out(f"training_runs/{name}/checkpoints", f"{i:032x}", True, 1_700_000_000, 5),
                    Out(f"training_runs/{name}/tensorboard", f"{i + 1:032x}", True, 65536, 1)]
            metrics = {"loss": 1.0 + i / count, "align_error": 0.05, "stopnet_loss": 0.2,
                       "eval": {"loss": 1.1, "short_text_seconds": 2.5}}
            summary = summaries.build(name, {**record, "created": f"{start + timedelta(minutes=i):%Y-%m-%dT%H:%M:%S}",
                                                    "config_hash": f"{i:064x}", "seed": 54321,
                                                    "description": "bench run"},
                                             metrics, outs, {"python": "3.11", "dvc": "3.67.1", "host": "bench"})
            tag_name, message = name, summaries.message(summary).encode()
        else:
            tag_name = f"{name}@v0.0.1"
            message = f"Registering artifact {name} version v0.0.1".encode()
        chunks.append(b"tag %s\nfrom :%d\ntagger Henry Bench <bench@henryvc.invalid> %d +0000\ndata %d\n%s\n"
                      % (tag_name.encode(), i + 1, ts, len(message), message))
    return b"".join(chunks), names


def import_tags(b: Bench, repo: Path, kind: str) -> None:
    stream, _ = tag_stream(b.args.tags, kind, datetime(2026, 1, 1, 8, 0, 0))
    # An ordinary import on top of the repository's HEAD; the first commit continues main.
    head = run(["git", "rev-parse", "HEAD"], repo, b.env, stdout=subprocess.PIPE).stdout.strip()
    first_end = stream.index(b"\nM 644")
    stream = stream[:first_end] + f"\nfrom {head}".encode() + stream[first_end:]
    proc = subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, env=b.env, input=stream,
                          capture_output=True)
    if proc.returncode != 0:
        raise SystemExit(f"git fast-import failed: {proc.stderr.decode()[-2000:]}")
    run(["git", "reset", "--hard", "-q", "main"], repo, b.env)


def bench_list(b: Bench) -> None:
    """list over N tagged runs against for-each-ref (floor) and gto show over N GTO tags."""
    say(f"list: {b.args.tags} henryvc tags and {b.args.tags} GTO tags via git fast-import (untimed)")
    reg = b.work / "registry"
    reg.mkdir()
    run(HENRYVC + ["init", "--remote", str(b.work / "registry-remote")], reg, b.env)
    import_tags(b, reg, "henryvc")
    if b.args.packed_refs:  # as `git gc` leaves them; fast-import and `git tag` write loose refs
        run(["git", "pack-refs", "--all"], reg, b.env)
    gto_repo = b.work / "gto-registry"
    gto_repo.mkdir()
    run(["git", "init", "-q"], gto_repo, b.env)
    (gto_repo / "README.md").write_text("GTO-style registry for the benchmark\n")
    run(["git", "add", "README.md"], gto_repo, b.env)
    run(["git", "commit", "-qm", "init"], gto_repo, b.env)
    import_tags(b, gto_repo, "gto")
    fmt = "%00".join(["%(refname:strip=2)", "%(objecttype)", "%(*objectname)", "%(objectname)",
                      "%(creatordate:iso-strict)", "%(contents:body)"]) + "%01"
    listed = run(HENRYVC + ["list", "--json"], reg, b.env, stdout=subprocess.PIPE).stdout
    got = len(json.loads(listed)["runs"])
    if got != b.args.tags:
        raise SystemExit(f"henryvc list shows {got} runs, expected {b.args.tags}")
    index = reg / ".henryvc" / "registry-index.json"
    if not index.is_file():
        raise SystemExit("henryvc list wrote no tag index")

    def cold(_: int) -> float:  # the first list after all 2,000 tags arrived (a fresh clone, a fetch)
        index.unlink()
        return timed(b, [(HENRYVC + ["list"], reg)])

    sides = [lambda _: timed(b, [(HENRYVC + ["list"], reg)]),
             lambda _: timed(b, [(["git", "for-each-ref", f"--format={fmt}", "refs/tags/henry_v*"], reg)]),
             cold]
    if GTO:
        sides.append(lambda _: timed(b, [(GTO + ["show"], gto_repo)]))
    times = alternate(b.args.reps, sides)
    b.rows.append(Row(f"list over {b.args.tags} tagged runs", "henryvc list",
                      "git for-each-ref, same format (floor)", times[0], times[1], "<= 3x"))
    b.rows.append(Row(f"list over {b.args.tags} tagged runs, none in the tag index yet", "henryvc list (cold index)",
                      "git for-each-ref, same format (floor)", times[2], times[1], "<= 3x"))
    if GTO:
        b.rows.append(Row(f"list over {b.args.tags} tagged runs vs GTO", "henryvc list",
                          f"gto show over {b.args.tags} GTO tags", times[0], times[3], ">= 50x faster"))


def run_folders(runs: Path, count: int, start: datetime) -> dict[str, list[str]]:
    """COUNT finished-but-unsuccessful run folders (half failed, half incomplete); names by status."""
    by_status: dict[str, list[str]] = {"failed": [], "incomplete": []}
    for i in range(count):
        status = ("failed", "incomplete")[i % 2]
        stamp = start + timedelta(minutes=i)
        name = f"henry_v2_experimental_{stamp:%Y%m%d_%H%M%S}"
        folder = runs / name
        (folder / "logs").mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps({"run_name": name, "seed": 54321}))
        (folder / "logs" / "trainer_0_log.txt").write_text("step 1 loss nan\n" * 50)
        (folder / "run.json").write_text(json.dumps({
            "name": name, "major": 2, "variant": "experimental", "created": f"{stamp:%Y-%m-%dT%H:%M:%S}",
            "config_hash": f"{i:064x}", "source_commit": None, "status": status}, indent=2))
        by_status[status].append(name)
    return by_status


def bench_archive(b: Bench) -> None:
    """archive of N run folders against mv by hand (only when the archive command exists)."""
    proj = b.work / "archive-project"
    proj.mkdir()
    run(HENRYVC + ["init", "--remote", str(b.work / "archive-remote")], proj, b.env)
    if subprocess.run(HENRYVC + ["archive", "--help"], cwd=proj, env=b.env, capture_output=True).returncode != 0:
        b.notes.append("archive: not measured, this henryvc has no `archive` command")
        say(b.notes[-1])
        return
    say(f"archive of {b.args.archive_runs} run folders")
    runs = proj / "training_runs"

    def fresh(rep: int, side: int) -> dict[str, list[str]]:
        for place in ("archive/failed", "archive/incomplete"):
            shutil.rmtree(runs / place)
            (runs / place).mkdir()
        return run_folders(runs, b.args.archive_runs, datetime(2026, 3, 1) + timedelta(days=2 * rep + side))

    def ours(rep: int) -> float:
        fresh(rep, 0)
        return timed(b, [(HENRYVC + ["archive"], proj)])

    def raw(rep: int) -> float:
        names = fresh(rep, 1)
        return timed(b, [(["mv", *names["failed"], "archive/failed/"], runs),
                         (["mv", *names["incomplete"], "archive/incomplete/"], runs)])

    t_ours, t_raw = alternate(b.args.reps, [ours, raw])
    left = [p.name for p in runs.glob("henry_v*")]
    if left:
        raise SystemExit(f"archive left {len(left)} run folders in training_runs/")
    b.rows.append(Row(f"archive of {b.args.archive_runs} run folders", "henryvc archive",
                      "mv into archive/failed + mv into archive/incomplete", t_ours, t_raw, "<= 2x"))


def startup(b: Bench) -> None:
    """Start-up of `henryvc --help` and `henryvc list` (small project) and what they import."""
    say("start-up and imports")
    p = b.project
    times = alternate(max(b.args.reps, 5), [
        lambda _: timed(b, [([sys.executable, "-c", "pass"], p)]),
        lambda _: timed(b, [(HENRYVC + ["--help"], p)]),
        lambda _: timed(b, [(HENRYVC + ["list"], p)]),
    ])
    for label, argv in (("--help", ["--help"]), ("list", ["list"])):
        proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "henryvc.main", *argv], cwd=p, env=b.env,
                              capture_output=True, text=True)
        modules = [line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]
        modules = [m for m in modules if m != "package"]
        heavy = sorted({m.split(".")[0] for m in modules} & set(HEAVY_MODULES))
        total_us = sum(int(line.split("|")[1]) for line in proc.stderr.splitlines()
                       if line.startswith("import time:") and not line.split("|")[-1].startswith("  ")
                       and line.split("|")[1].strip().isdigit())
        b.notes.append(f"`henryvc {label}` imports {len(modules)} modules ({total_us / 1000:.0f} ms of imports); "
                       f"heavy ones: {', '.join(heavy) or 'none'}")
        say(b.notes[-1])
    b.rows.append(Row("start-up: henryvc --help", "henryvc --help", "python -c pass", times[1], times[0],
                      "info", ""))
    b.rows.append(Row("start-up: henryvc list (small project)", "henryvc list", "python -c pass", times[2],
                      times[0], "info", ""))


# ---------------------------------------------------------------------------------------------- report


def fmt_times(times: list[float]) -> str:
    return f"{min(times):.3f} / {statistics.median(times):.3f} / {max(times):.3f}"


def table(b: Bench) -> str:
    lines = ["| operation | henryvc | baseline | henryvc s (min / med / max) | baseline s (min / med / max) "
             "| ratio | target | met |", "|---|---|---|---|---|---|---|---|"]
    for r in b.rows:
        info = r.target == "info"
        ratio = statistics.median(r.ours_s) / statistics.median(r.base_s) if info else r.ratio
        shown = f"{ratio:.1f}x faster" if r.target.startswith(">=") else f"{ratio:.2f}x"
        met = "-" if info or r.note else ("yes" if r.met else "**no**")
        lines.append(f"| {r.operation} | `{r.ours}` | `{r.baseline}` | {fmt_times(r.ours_s)} | {fmt_times(r.base_s)} "
                     f"| {shown} | {'-' if info else r.target} | {met}{' (' + r.note + ')' if r.note else ''} |")
    return "\n".join(lines)


def machine(before: str, commit: str) -> str:
    def version(argv: list[str]) -> str:
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        except (OSError, IndexError):
            return "?"
    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal")), 0)
    return (f"{platform.machine()}, {os.cpu_count()} cores, {mem_kb / 2**20:.0f} GiB RAM, Python "
            f"{platform.python_version()}, {version(['git', '--version'])}, dvc {version(DVC + ['--version'])}, "
            f"gto {version(GTO + ['--version']).split()[-1] if GTO else 'absent'}, henryvc at commit {commit}; "
            f"load average before: {before}, after: {load()}")


def load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def report(b: Bench, command: str, before: str, started: float, commit: str) -> str:
    a = b.args
    return "\n".join([
        MARKS[0].format(a.block),
        f"Run {datetime.now():%Y-%m-%d %H:%M}, {(time.time() - started) / 60:.0f} min in all, {a.reps} repetitions "
        f"per side, sides alternating.",
        "",
        f"Data: {a.wavs} wav files of {a.wav_kb} KB ({a.wavs * a.wav_kb / 2**20:.2f} GiB), {a.checkpoints} "
        f"checkpoints of {a.checkpoint_mb} MB per run, {a.tags} tagged runs "
        f"({'packed refs, as after git gc' if a.packed_refs else 'loose refs, as git tag leaves them'}).",
        "",
        f"Machine: {machine(before, commit)}.",
        "",
        "```",
        command,
        "```",
        "",
        table(b),
        "",
        *(f"- {note}" for note in b.notes),
        MARKS[1].format(a.block),
    ])


def write_markdown(path: Path, block: str, name: str) -> None:
    """Replace block NAME of PATH (between its markers), or append it; the rest of the file is kept."""
    begin, end = (mark.format(name) for mark in MARKS)
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wavs", type=int, default=13100, help="wav files in the dataset (13100)")
    parser.add_argument("--wav-kb", type=int, default=200, help="size of each wav file in KB (200)")
    parser.add_argument("--checkpoints", type=int, default=5, help="checkpoint files per run (5)")
    parser.add_argument("--checkpoint-mb", type=int, default=340, help="size of each checkpoint in MB (340)")
    parser.add_argument("--tags", type=int, default=2000, help="tagged runs for list (2000)")
    parser.add_argument("--archive-runs", type=int, default=200, help="run folders for archive (200)")
    parser.add_argument("--packed-refs", action="store_true",
                        help="pack the registry's refs (as git gc does) before timing list (default: loose refs)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per side (3)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the temporary folder goes (system temp)")
    parser.add_argument("--only", default="tag-run,restore,restore-pull,verify,list,archive,startup",
                        help="comma-separated operations to run")
    parser.add_argument("--keep", action="store_true", help="keep the generated data")
    parser.add_argument("--write", type=Path, help="put the results into this markdown file (BENCHMARKS.md)")
    parser.add_argument("--block", default="results", help="name of the generated block in that file (results)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(["python", "benchmarks/bench.py", *(sys.argv[1:] if argv is None else argv)])
    only = set(args.only.split(","))
    before, started = load(), time.time()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                            text=True).stdout.strip() + (" + uncommitted changes" if subprocess.run(
                                ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                                capture_output=True, text=True).stdout.strip() else "")
    work = Path(tempfile.mkdtemp(prefix="henryvc-bench-", dir=args.workdir))
    b = Bench(work, args, environment(work))
    say(f"working in {work}")
    try:
        build_project(b)
        if only & {"tag-run", "restore", "restore-pull", "verify"}:
            ref = bench_tag_run(b) if "tag-run" in only else None
            if ref is None:
                ref = trained_run(b)
                run(HENRYVC + ["tag-run", ref], b.project, b.env)
            if "restore" in only:
                bench_restore_warm(b, ref)
            if "restore-pull" in only:
                bench_restore_pull(b, ref)
            if "verify" in only:
                bench_verify(b, ref)
        if "list" in only:
            bench_list(b)
        if "archive" in only:
            bench_archive(b)
        if "startup" in only:
            startup(b)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    block = report(b, command, before, started, commit)
    print(block)
    if args.write:
        write_markdown(args.write, block, args.block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
