"""`henryvc status`: runs training now (their training lock is held), each run's disk use (allocated blocks,
each inode once per run, symlinks not followed), free space where the project and the DVC cache live, the
cache's size, GPU use from `nvidia-smi` and CPU load/memory from /proc, where available.

Plain functions returning data; nothing here prints or imports click.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.core import runfolder
from henryvc.core.runfolder import LOG_FILE
from henryvc.ops.logs import CHUNK, tail_start

if TYPE_CHECKING:
    from henryvc.core.project import Project


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
    for path in runfolder.walk_files(top) if top.is_dir() and not top.is_symlink() else []:
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


def _run_usage(project: Project, folder: runfolder.RunFolder) -> RunUsage:
    unsafe = runfolder.escape_reason(project, folder.path)
    try:
        status = "?" if unsafe else runfolder.load_record(project, folder).status
    except Exception:
        status = "unreadable"
    training = not unsafe and runfolder.live_training(folder)
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
    from henryvc.core.environment import nvidia_smi
    from henryvc.core.numbers import as_int

    rows = nvidia_smi(["name", "utilization.gpu", "memory.used", "memory.total"])
    return [{"name": name, "utilization": as_int(util), "memory_used_mib": as_int(used),
             "memory_total_mib": as_int(total)} for name, util, used, total in rows]


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
    from henryvc.adapters import dvcrepo

    result = Status(runs=[_run_usage(project, f) for f in runfolder.run_folders(project)])
    cache = dvcrepo.cache_dir(project.root)
    result.cache_dir = str(cache)
    result.cache_bytes = disk_use(cache)[0]
    result.disk = {"project": disk_space(project.root)}
    if cache.exists() and os.stat(cache).st_dev != os.stat(project.root).st_dev:
        result.disk["cache"] = disk_space(cache)
    result.gpus, result.cpu = gpu_usage(), cpu_usage()
    return result
