"""`henryvc doctor`: the seed's emergency checks, each with a fix.

Disk space (error under 2 GiB free, warning under 10 GiB or 10 %), GPU visibility (nvidia-smi, and
whether torch sees CUDA when torch is installed, asked in a subprocess so henryvc never imports torch),
every DVC remote reachable (asked in a thread with a time limit), config errors (params.yaml, dvc.yaml,
the templates and every run's config.json, through `henryvc validate`'s lint), and environment problems
(git identity, the `python` on PATH that `dvc repro` runs being able to import henryvc's stages, runs that
say "training" while nothing holds their lock). The command exits 1 when any check is an error.

Plain functions returning data; nothing here prints or imports click.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.core import environment, runfolder
from henryvc.core import record as records
from henryvc.errors import BadInput
from henryvc.ops.status import disk_space, gpu_usage

if TYPE_CHECKING:
    from henryvc.adapters.dvcrepo import DvcRepo
    from henryvc.core.project import Project

GIB = 1024 ** 3
DISK_ERROR_BYTES = 2 * GIB
DISK_WARN_BYTES = 10 * GIB
DISK_WARN_FRACTION = 0.10
REMOTE_TIMEOUT_S = float(os.environ.get("HENRYVC_REMOTE_TIMEOUT", "20"))
PROBE_TIMEOUT_S = 60.0


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
    from henryvc.adapters import dvcrepo

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
               "DVC cache would give back; `henryvc archive` sorts runs first; `df -h` and `du -sh " + runfolder.RUNS_DIR + "/*`")
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
    elif environment.has_nvidia_smi():
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


def _reachable(dvc_repo: DvcRepo, name: str) -> str | None:
    """None when remote NAME answers within REMOTE_TIMEOUT_S, else why not."""
    from henryvc.adapters.dvcremote import Remote

    outcome: list[str | None] = []
    thread = threading.Thread(target=lambda: outcome.append(Remote.of(dvc_repo, name).problem(dvc_repo)), daemon=True)
    thread.start()
    thread.join(REMOTE_TIMEOUT_S)
    return outcome[0] if outcome else f"no answer within {REMOTE_TIMEOUT_S:.0f} s"


def check_remotes(project: Project) -> list[Check]:
    """Every configured DVC remote answers."""
    from henryvc.adapters import dvcremote, dvcrepo

    try:
        with dvcrepo.open_repo(project.root) as dvc_repo:
            remotes = dvcremote.remotes(dvc_repo)
            default = dvcremote.default_remote(dvc_repo)
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
    from henryvc.core import config as configs

    checks = _yaml_checks(project)
    paths = sorted((project.root / "configs").glob("henry_voice_v*.json"))
    for folder in runfolder.run_folders(project, ("",)):
        config = folder.path / "config.json"
        if not runfolder.escape_reason(project, folder.path) and config.is_file() and not config.is_symlink():
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
    return runfolder.relative(project, Path(path))


def _yaml_checks(project: Project) -> list[Check]:
    import yaml

    from henryvc.core import params

    checks = []
    for name in (params.PARAMS_FILE, "dvc.yaml"):
        path = project.root / name
        if not path.is_file():
            checks.append(Check("config", "error", f"{name} is missing",
                                "`henryvc init` puts the default back (it never overwrites)"))
            continue
        fix = f"fix the YAML in {name} (`git diff {name}` shows what changed)"
        try:
            data = params.read(project.root) if name == params.PARAMS_FILE else yaml.safe_load(
                path.read_text(encoding="utf-8"))
        except BadInput as exc:  # params.yaml's one reader says what is wrong with it
            checks.append(Check("config", "error", f"{name} does not parse: {exc}", fix))
            continue
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            checks.append(Check("config", "error", f"{name} does not parse: {str(exc).splitlines()[0]}", fix))
            continue
        if name == params.PARAMS_FILE:
            run = (data or {}).get("run") if isinstance(data, dict) else None
            if run and run != "no_run_yet" and not (project.runs / str(run)).is_dir():
                checks.append(Check("config", "warning", f"params.yaml's run {run} has no folder in {runfolder.RUNS_DIR}/",
                                    "create a run (`henryvc new-run`) or restore it (`henryvc restore NAME`)"))
    return checks


def check_environment(project: Project) -> list[Check]:
    """Git identity, and the `python` that `dvc repro` runs can import henryvc's stages."""
    from henryvc.adapters import gitrepo

    checks = []
    missing = gitrepo.missing_identity(gitrepo.open_git(project.root))
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
    for folder in runfolder.run_folders(project, ("",)):
        unsafe = runfolder.escape_reason(project, folder.path)
        if unsafe:
            checks.append(Check("runs", "warning", unsafe, "make it a plain folder inside the project"))
            continue
        try:
            rec = runfolder.load_record(project, folder)
        except Exception as exc:
            checks.append(Check("runs", "error", f"{folder.rel}/{records.RECORD_FILE}: {exc}",
                                f"restore it from git (`git checkout -- {folder.rel}/{records.RECORD_FILE}`) "
                                "or from its tag (`henryvc restore NAME`)"))
            continue
        if rec.status == "training" and not runfolder.live_training(folder):
            checks.append(Check("runs", "warning", f"{folder.name} says training but nothing is training it (killed?)",
                                "`dvc repro` continues it; or `henryvc archive` moves it to archive/incomplete"))
    return checks
