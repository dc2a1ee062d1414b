"""Watching runs: logs (follow training_v2.log), tensorboard, status and doctor.

Plain functions returning data; nothing here prints or imports click. What was decided:

- **logs** reads `training_runs/[archive/...]/NAME/training_v2.log` (the file the train stage appends
  to); `follow` yields new text as it is appended, like `tail -F`: a truncated or replaced file is read
  again from its start, a file not there yet is waited for. A log that is a symlink leading out of the
  project is refused, never read through.
- **tensorboard** runs one TensorBoard over the chosen runs (default: every run in `training_runs/`
  with a `tensorboard/` folder) with `--logdir_spec NAME:training_runs/NAME/tensorboard,...` from the
  project root; the paths are relative and run names cannot contain `,` or `:`, so the spec is never
  ambiguous. TensorBoard comes with the `train` extra; without it the command says how to install it.
- **status**: runs training now (their training lock is held), each run's disk use (allocated blocks,
  each inode once per run, symlinks not followed), free space where the project and the DVC cache
  live, the cache's size, GPU use from `nvidia-smi` and CPU load/memory from /proc, where available.
- **doctor** runs the seed's emergency checks, each with a fix: disk space (error under 2 GiB free,
  warning under 10 GiB or 10 %), GPU visibility (nvidia-smi, and whether torch sees CUDA when torch is
  installed, asked in a subprocess so henryvc never imports torch), every DVC remote reachable (asked
  in a thread with a time limit), config errors (params.yaml, dvc.yaml, the templates and every run's
  config.json, through `henryvc validate`'s lint), and environment problems (git identity, the
  `python` on PATH that `dvc repro` runs being able to import henryvc's stages, runs that say
  "training" while nothing holds their lock). Exit 1 when any check is an error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from henryvc import lifecycle, record as records
from henryvc.errors import NotReady
from henryvc.project import Project

LOG_FILE = "training_v2.log"  # training.common.LOG_FILE; not imported: training pulls in the stages
TENSORBOARD_DIR = "tensorboard"
POLL_S = 0.25
CHUNK = 64 * 1024
GIB = 1024 ** 3
DISK_ERROR_BYTES = 2 * GIB
DISK_WARN_BYTES = 10 * GIB
DISK_WARN_FRACTION = 0.10
REMOTE_TIMEOUT_S = float(os.environ.get("HENRYVC_REMOTE_TIMEOUT", "20"))
PROBE_TIMEOUT_S = 60.0


# --- logs ----------------------------------------------------------------------------------------------

def log_path(project: Project, name: str) -> Path:
    """The training_v2.log of run NAME (it may not exist yet)."""
    folder = lifecycle.find_run(project, name)
    reason = lifecycle.escape_reason(project, folder.path)
    if reason:
        raise NotReady(reason)
    return folder.path / LOG_FILE


def _open_inside(project: Project, path: Path):
    lifecycle.inside_file(project, path)
    return open(path, "rb")


def tail_start(handle, lines: int | None) -> None:
    """Seek HANDLE to where its last LINES lines begin (None: stay at the start)."""
    if lines is None:
        return
    size = handle.seek(0, os.SEEK_END)
    data = b""
    while size > 0 and data.count(b"\n") <= lines:
        step = min(8192, size)
        size -= step
        handle.seek(size)
        data = handle.read(step) + data
    keep = data.splitlines(keepends=True)[-lines:] if lines else []
    handle.seek(size + len(data) - sum(len(line) for line in keep))


def read_log(project: Project, name: str, follow: bool = False, lines: int | None = None,
             stop: Callable[[], bool] | None = None, poll_s: float = POLL_S) -> Iterator[str]:
    """Text of run NAME's training_v2.log, then (FOLLOW) whatever is appended, until STOP() is true."""
    path = log_path(project, name)
    stop = stop or (lambda: False)
    while not path.exists():
        if not follow:
            raise NotReady(f"{lifecycle.relative(project, path)} does not exist yet: the train stage writes it "
                           "(`dvc repro`); `henryvc logs NAME -f` waits for it")
        if stop():
            return
        time.sleep(poll_s)
    handle = _open_inside(project, path)
    try:
        tail_start(handle, lines)
        while True:
            chunk = handle.read(CHUNK)
            if chunk:
                yield chunk.decode("utf-8", errors="replace")
                continue
            if not follow or stop():
                return
            time.sleep(poll_s)
            change = _change(path, handle)
            if change == "replaced":  # rotated: finish the old file, then read the new one from its start
                rest = handle.read()
                if rest:
                    yield rest.decode("utf-8", errors="replace")
                handle.close()
                handle = _open_inside(project, path)
            elif change == "truncated":
                handle.seek(0)
    finally:
        handle.close()


def _change(path: Path, handle) -> str | None:
    """"replaced" when PATH is now another file than HANDLE's, "truncated" when it shrank, else None."""
    try:
        current = path.stat()
    except FileNotFoundError:
        return None  # being replaced: keep reading the old one until the new one is there
    opened = os.fstat(handle.fileno())
    if (current.st_ino, current.st_dev) != (opened.st_ino, opened.st_dev):
        return "replaced"
    return "truncated" if current.st_size < handle.tell() else None


# --- tensorboard ---------------------------------------------------------------------------------------

@dataclass
class TensorBoardLaunch:
    """The TensorBoard command for some runs, and where to run it."""

    argv: list[str]
    cwd: str
    runs: list[str]
    url: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tensorboard_executable() -> list[str]:
    """How to start TensorBoard: its script beside this Python, on PATH, or `python -m tensorboard.main`."""
    import importlib.util

    script = Path(sys.executable).parent / "tensorboard"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    if importlib.util.find_spec("tensorboard") is not None:
        return [sys.executable, "-m", "tensorboard.main"]
    found = shutil.which("tensorboard")
    if found:
        return [found]
    raise NotReady("TensorBoard is not installed: `pip install 'henryvc[train]'` (or `pip install tensorboard`)")


def tensorboard(project: Project, names: list[str], port: int = 6006, host: str = "localhost") -> TensorBoardLaunch:
    """One TensorBoard over the runs NAMES (default: every run in training_runs/ that has event files)."""
    folders = ([lifecycle.find_run(project, n) for n in names] if names
               else [f for f in lifecycle.run_folders(project, ("",)) if (f.path / TENSORBOARD_DIR).is_dir()])
    if not folders:
        raise NotReady("no run in training_runs/ has a tensorboard/ folder yet: name runs, or train one")
    spec = []
    for folder in folders:
        logdir = folder.path / TENSORBOARD_DIR
        reason = lifecycle.escape_reason(project, folder.path) or (
            lifecycle.escape_reason(project, logdir) if logdir.is_symlink() else None)
        if reason:
            raise NotReady(reason)
        spec.append(f"{folder.name}:{folder.rel}/{TENSORBOARD_DIR}")
    argv = [*tensorboard_executable(), "--logdir_spec", ",".join(spec), "--port", str(port), "--host", host]
    return TensorBoardLaunch(argv, str(project.root), [f.name for f in folders], f"http://{host}:{port}/")


def run_tensorboard(launch: TensorBoardLaunch) -> int:
    """Run LAUNCH in the foreground until it ends or Ctrl-C; its exit code."""
    process = subprocess.Popen(launch.argv, cwd=launch.cwd)
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=10)
        raise


# --- status --------------------------------------------------------------------------------------------

@dataclass
class RunUsage:
    """One run folder: where, its status, whether it trains now, and its disk use."""

    name: str
    path: str
    status: str
    training: bool
    bytes: int
    files: int
    log_updated: float | None = None
    last_log_line: str | None = None


@dataclass
class Status:
    """The machine and project at a glance."""

    runs: list[RunUsage] = field(default_factory=list)
    disk: dict[str, Any] = field(default_factory=dict)
    cache_dir: str = ""
    cache_bytes: int = 0
    gpus: list[dict[str, Any]] = field(default_factory=list)
    cpu: dict[str, Any] = field(default_factory=dict)

    @property
    def training(self) -> list[RunUsage]:
        return [r for r in self.runs if r.training]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "training": [r.name for r in self.training]}


def disk_use(top: Path) -> tuple[int, int]:
    """(allocated bytes, files) under TOP: each inode once, symlinks not followed."""
    seen, used, files = set(), 0, 0
    for path in lifecycle.walk_files(top) if top.is_dir() and not top.is_symlink() else []:
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue
        files += 1
        if (info.st_dev, info.st_ino) not in seen:
            seen.add((info.st_dev, info.st_ino))
            used += info.st_blocks * 512
    return used, files


def _last_line(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            tail_start(handle, 1)
            line = handle.read(CHUNK).decode("utf-8", errors="replace").strip()
    except OSError:
        return None
    return line or None


def _run_usage(project: Project, folder: lifecycle.RunFolder) -> RunUsage:
    unsafe = lifecycle.escape_reason(project, folder.path)
    try:
        status = "?" if unsafe else lifecycle.load_record(project, folder).status
    except Exception:
        status = "unreadable"
    training = not unsafe and lifecycle.live_training(folder)
    used, files = (0, 0) if unsafe else disk_use(folder.path)
    usage = RunUsage(folder.name, folder.rel, status, training, used, files)
    log = folder.path / LOG_FILE
    if training and not unsafe and log.is_file() and not log.is_symlink():
        usage.log_updated = log.stat().st_mtime
        usage.last_log_line = _last_line(log)
    return usage


def disk_space(path: Path) -> dict[str, int]:
    """Total, used and free bytes of the file system holding PATH."""
    usage = shutil.disk_usage(path)
    return {"total": usage.total, "used": usage.used, "free": usage.free}


def gpu_usage() -> list[dict[str, Any]]:
    """Per GPU: name, utilisation % and memory (MiB) from nvidia-smi; [] without one."""
    if shutil.which("nvidia-smi") is None:
        return []
    query = "name,utilization.gpu,memory.used,memory.total"
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 4:
            gpus.append({"name": parts[0], "utilization": _int(parts[1]), "memory_used_mib": _int(parts[2]),
                         "memory_total_mib": _int(parts[3])})
    return gpus


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def cpu_usage() -> dict[str, Any]:
    """CPU count, load averages and memory (from /proc/meminfo), where the system has them."""
    info: dict[str, Any] = {"cpus": os.cpu_count()}
    if hasattr(os, "getloadavg"):
        info["load"] = list(os.getloadavg())
    try:
        meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines() if ":" in line)
        info["memory_total"] = int(meminfo["MemTotal"].split()[0]) * 1024
        info["memory_available"] = int(meminfo["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        pass
    return info


def status(project: Project) -> Status:
    """`henryvc status`: runs training now, disk use per run, free space, cache size, GPU and CPU use."""
    from henryvc import dvcrepo

    result = Status(runs=[_run_usage(project, f) for f in lifecycle.run_folders(project)])
    cache = dvcrepo.cache_dir(project.root)
    result.cache_dir = str(cache)
    result.cache_bytes = disk_use(cache)[0]
    result.disk = {"project": disk_space(project.root)}
    if cache.exists() and os.stat(cache).st_dev != os.stat(project.root).st_dev:
        result.disk["cache"] = disk_space(cache)
    result.gpus, result.cpu = gpu_usage(), cpu_usage()
    return result


# --- doctor --------------------------------------------------------------------------------------------

@dataclass
class Check:
    """One emergency check: ok, warning or error, what was found, and the fix."""

    name: str
    level: str  # "ok" | "warning" | "error"
    detail: str
    fix: str = ""


@dataclass
class Report:
    """Every check doctor made."""

    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.level != "error" for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks]}


def doctor(project: Project) -> Report:
    """`henryvc doctor`: disk space, GPU visibility, DVC remotes, config errors, environment problems."""
    report = Report()
    for check in (check_disk, check_gpu, check_remotes, check_configs, check_environment, check_runs):
        report.checks += check(project)
    return report


def check_disk(project: Project) -> list[Check]:
    """Free space where the project and the DVC cache live."""
    from henryvc import dvcrepo

    places = {"project": project.root}
    try:
        places["DVC cache"] = dvcrepo.cache_dir(project.root)
    except Exception:
        pass
    checks, seen = [], set()
    for label, path in places.items():
        path = path if path.exists() else path.parent
        if os.stat(path).st_dev in seen:
            continue
        seen.add(os.stat(path).st_dev)
        space = disk_space(path)
        free, fraction = space["free"], space["free"] / max(space["total"], 1)
        detail = f"{label} file system ({path}): {free / GIB:.1f} GiB free of {space['total'] / GIB:.1f} GiB"
        fix = ("free space: `henryvc cleanup-failed --dry-run` shows what failed runs' checkpoints and the "
               "DVC cache would give back; `henryvc archive` sorts runs first; `df -h` and `du -sh training_runs/*`")
        if free < DISK_ERROR_BYTES:
            checks.append(Check("disk", "error", detail + ": training will die writing a checkpoint", fix))
        elif free < DISK_WARN_BYTES or fraction < DISK_WARN_FRACTION:
            checks.append(Check("disk", "warning", detail, fix))
        else:
            checks.append(Check("disk", "ok", detail))
    return checks


def check_gpu(project: Project) -> list[Check]:
    """nvidia-smi's GPUs, and whether torch (when installed) sees CUDA."""
    import importlib.util

    gpus = gpu_usage()
    checks = []
    if gpus:
        checks.append(Check("gpu", "ok", "nvidia-smi sees " + ", ".join(g["name"] for g in gpus)))
    elif shutil.which("nvidia-smi"):
        checks.append(Check("gpu", "error", "nvidia-smi is installed but lists no GPU (driver not loaded?)",
                            "check `nvidia-smi`; reboot after a driver update; in a container pass the GPU "
                            "(`henryvc docker run --gpus all`)"))
    else:
        checks.append(Check("gpu", "warning", "no NVIDIA GPU visible (no nvidia-smi): training runs on CPU, slowly",
                            "install the NVIDIA driver, or in a container use `henryvc docker run --gpus all`"))
    if importlib.util.find_spec("torch") is not None:
        checks.append(_torch_check(bool(gpus)))
    return checks


def _torch_check(have_gpu: bool) -> Check:
    code = "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available())"
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("torch", "warning", f"could not ask torch about CUDA: {exc}", "run `python -c 'import torch'`")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return Check("torch", "error", f"torch does not import: {last}",
                     "reinstall the measured set: `pip install -e '.[train]'`")
    version, cuda, available = (done.stdout.split() + ["?", "?", "?"])[:3]
    if available == "True":
        return Check("torch", "ok", f"torch {version} sees CUDA {cuda}")
    level = "error" if have_gpu else "warning"
    return Check("torch", level, f"torch {version} (CUDA build {cuda}) sees no CUDA device",
                 "a CPU-only torch or a driver older than the CUDA build: install the `train` extra's torch "
                 "(pyproject.toml pins it) and a driver that supports it" if have_gpu else
                 "training runs on CPU; fine for debug runs")


def _reachable(dvc_repo, name: str) -> str | None:
    """None when remote NAME answers within REMOTE_TIMEOUT_S, else why not."""
    outcome: list[str | None] = []

    def probe() -> None:
        try:
            remote = dvc_repo.cloud.get_remote(name, "doctor")
            outcome.append(None if remote.fs.exists(remote.path) else f"{remote.path} does not exist")
        except Exception as exc:  # anything the transport raises means "not reachable"
            outcome.append(f"{type(exc).__name__}: {exc}")

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(REMOTE_TIMEOUT_S)
    return outcome[0] if outcome else f"no answer within {REMOTE_TIMEOUT_S:.0f} s"


def check_remotes(project: Project) -> list[Check]:
    """Every configured DVC remote answers."""
    from henryvc import dvcrepo

    try:
        with dvcrepo.open_repo(project.root) as dvc_repo:
            remotes = dict(dvc_repo.config.get("remote", {}))
            default = dvcrepo.default_remote(dvc_repo)
            if not remotes:
                return [Check("remote", "error", "no DVC remote is configured: nothing is backed up",
                              "`dvc remote add -d storage /mnt/henry-storage` (or an ssh:// URL)")]
            checks = []
            for name, conf in sorted(remotes.items()):
                label = f"DVC remote {name}{' (default)' if name == default else ''} at {conf.get('url')}"
                problem = _reachable(dvc_repo, name)
                checks.append(Check("remote", "ok", f"{label} answers") if problem is None else
                              Check("remote", "error", f"{label} is not reachable: {problem}", _remote_fix(conf)))
            return checks
    except Exception as exc:  # a broken .dvc/config is itself the finding
        return [Check("remote", "error", f"DVC cannot read its configuration: {exc}",
                      "fix .dvc/config (`dvc remote list`, `dvc config --list`)")]


def _remote_fix(conf: dict[str, Any]) -> str:
    url = str(conf.get("url", ""))
    if url.startswith("ssh://"):
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        target = f"{parts.username}@{parts.hostname}" if parts.username else parts.hostname
        port = f"-p {parts.port} " if parts.port else ""
        return (f"check the server and your key: `ssh -o BatchMode=yes {port}{target} true`; then "
                "`dvc remote modify NAME url ...` if the address changed")
    if "://" not in url:
        return f"mount or create the folder ({url}), or point the remote elsewhere: `dvc remote modify NAME url PATH`"
    return "check the URL and credentials: `dvc remote list`, `dvc remote modify NAME ...`"


def check_configs(project: Project) -> list[Check]:
    """params.yaml, dvc.yaml, the config templates and every run's config.json."""
    from henryvc import config as configs

    checks = _yaml_checks(project)
    paths = sorted((project.root / "configs").glob("henry_voice_v*.json"))
    for folder in lifecycle.run_folders(project, ("",)):
        config = folder.path / "config.json"
        if not lifecycle.escape_reason(project, folder.path) and config.is_file() and not config.is_symlink():
            paths.append(config)
    findings = [f for path in paths for f in configs.validate_file(path)]
    for finding in findings:
        level = "error" if finding.severity == "error" else "warning"
        checks.append(Check("config", level, f"{_short(project, finding.file)}: {finding.field}: {finding.problem}",
                            finding.fix))
    if not findings:
        checks.append(Check("config", "ok", f"{len(paths)} config file(s) pass `henryvc validate`"))
    return checks


def _short(project: Project, path: str) -> str:
    return lifecycle.relative(project, Path(path))


def _yaml_checks(project: Project) -> list[Check]:
    import yaml

    checks = []
    for name in ("params.yaml", "dvc.yaml"):
        path = project.root / name
        if not path.is_file():
            checks.append(Check("config", "error", f"{name} is missing",
                                "`henryvc init` puts the default back (it never overwrites)"))
            continue
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            checks.append(Check("config", "error", f"{name} does not parse: {str(exc).splitlines()[0]}",
                                f"fix the YAML in {name} (`git diff {name}` shows what changed)"))
            continue
        if name == "params.yaml":
            run = (data or {}).get("run") if isinstance(data, dict) else None
            if run and run != "no_run_yet" and not (project.runs / str(run)).is_dir():
                checks.append(Check("config", "warning", f"params.yaml's run {run} has no folder in training_runs/",
                                    "create a run (`henryvc new-run`) or restore it (`henryvc restore NAME`)"))
    return checks


def check_environment(project: Project) -> list[Check]:
    """Git identity, and the `python` that `dvc repro` runs can import henryvc's stages."""
    import git

    checks = []
    reader = git.Repo(project.root).config_reader()
    missing = [key for key in ("name", "email") if not reader.get_value("user", key, default="")]
    if missing:
        checks.append(Check("environment", "error", f"git has no user.{' and user.'.join(missing)}: tag-run cannot commit",
                            'git config --global user.name "Your Name" && git config --global user.email you@example.org'))
    else:
        checks.append(Check("environment", "ok", "git identity is set"))
    python = shutil.which("python") or shutil.which("python3")
    if python is None:
        checks.append(Check("environment", "error", "no `python` on PATH: `dvc repro` cannot run the stages",
                            "activate henryvc's virtualenv (`. .venv/bin/activate`)"))
        return checks
    try:
        done = subprocess.run([python, "-c", "import henryvc_training, henryvc"], capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT_S, cwd=project.root)
        ok = done.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        ok = False
    checks.append(Check("environment", "ok", f"{python} imports henryvc's stages") if ok else
                  Check("environment", "error", f"{python} (what `dvc repro` runs) cannot import henryvc's stages",
                        "activate henryvc's virtualenv (`. .venv/bin/activate`), or `pip install -e .` into this one"))
    return checks


def check_runs(project: Project) -> list[Check]:
    """Runs whose record says training while nothing holds their training lock (killed)."""
    checks = []
    for folder in lifecycle.run_folders(project, ("",)):
        unsafe = lifecycle.escape_reason(project, folder.path)
        if unsafe:
            checks.append(Check("runs", "warning", unsafe, "make it a plain folder inside the project"))
            continue
        try:
            rec = lifecycle.load_record(project, folder)
        except Exception as exc:
            checks.append(Check("runs", "error", f"{folder.rel}/{records.RECORD_FILE}: {exc}",
                                f"restore it from git (`git checkout -- {folder.rel}/{records.RECORD_FILE}`) "
                                "or from its tag (`henryvc restore NAME`)"))
            continue
        if rec.status == "training" and not lifecycle.live_training(folder):
            checks.append(Check("runs", "warning", f"{folder.name} says training but nothing is training it (killed?)",
                                "`dvc repro` continues it; or `henryvc archive` moves it to archive/incomplete"))
    return checks
