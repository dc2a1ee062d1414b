"""The environment a run was made in, read without importing torch or coqui."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

BUILD_INFO = Path("/etc/henryvc/build-info.json")  # written by the Dockerfile


def package_version(name: str) -> str | None:
    """Installed version of distribution NAME, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_version() -> str | None:
    """`git --version` without the words."""
    from henryvc.adapters import gitrepo

    return gitrepo.git_version()


def project_head(root: Path) -> str | None:
    """HEAD of the project's git repository at ROOT (None outside one or before its first commit)."""
    from henryvc.adapters import gitrepo
    from henryvc.errors import HenryvcError

    try:
        return gitrepo.head(gitrepo.open_repo(root))
    except HenryvcError:
        return None


def has_nvidia_smi() -> bool:
    """Whether nvidia-smi is installed (a driver's tool: a GPU may still be missing or unseen)."""
    return shutil.which("nvidia-smi") is not None


def nvidia_smi(fields: list[str]) -> list[list[str]]:
    """One row per GPU of nvidia-smi's FIELDS (`--query-gpu`, no units); [] without nvidia-smi or a GPU.
    The one place henryvc asks nvidia-smi (doctor, status, the run's environment and lock)."""
    if not has_nvidia_smi():
        return []
    try:
        out = subprocess.run(["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = [[part.strip() for part in line.split(",")] for line in out.splitlines() if line.strip()]
    return [row for row in rows if len(row) == len(fields)]


def gpus() -> list[str]:
    """Names of the NVIDIA GPUs nvidia-smi sees (empty without one)."""
    return [row[0] for row in nvidia_smi(["name"])]


def nvidia_driver() -> str | None:
    """The NVIDIA driver version nvidia-smi reports (None without a driver)."""
    rows = nvidia_smi(["driver_version"])
    return rows[0][0] if rows else None


def cuda() -> dict[str, Any]:
    """CUDA as the training process sees it: for the run record, only where torch.cuda is available.

    Imports torch (call it from the stages, never from read commands). Keys: cuda (the runtime torch was
    built with), cudnn, cuda_driver (the driver's CUDA API version, e.g. 13.0), nvidia_driver (the
    kernel driver, e.g. 580.95.05), gpu_count and one entry per visible device (name, memory, capability).
    """
    import torch

    if not torch.cuda.is_available():
        return {}
    cudnn: Any = torch.backends.cudnn  # its version() is untyped
    info: dict[str, Any] = {"cuda": torch.version.cuda, "cudnn": cudnn.version(),
                            "nvidia_driver": nvidia_driver(), "gpu_count": torch.cuda.device_count()}
    try:
        private: Any = torch._C  # the driver's CUDA version has no public API
        driver = int(private._cuda_getDriverVersion())  # e.g. 13000 for CUDA 13.0
        info["cuda_driver"] = f"{driver // 1000}.{driver % 1000 // 10}"
    except (AttributeError, RuntimeError, TypeError, ValueError):
        info["cuda_driver"] = None
    devices = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        devices.append({"name": props.name, "memory_mib": int(props.total_memory // 2**20),
                        "capability": f"{props.major}.{props.minor}"})
    info["devices"] = devices
    return info


def container_info() -> dict[str, Any]:
    """The image's build info when running inside the henryvc image, else {}."""
    import json

    info: dict[str, Any] = {}
    if BUILD_INFO.exists():
        try:
            info = json.loads(BUILD_INFO.read_text())
        except (OSError, ValueError):
            info = {"error": f"unreadable {BUILD_INFO}"}
    if os.environ.get("HENRYVC_IMAGE_ID"):
        info["image_id"] = os.environ["HENRYVC_IMAGE_ID"]
    return info


def capture() -> dict[str, Any]:
    """Versions, machine and accelerator of this process's environment."""
    return {
        "python": platform.python_version(),
        "torch": package_version("torch"),
        "torchaudio": package_version("torchaudio"),
        "coqui_tts": package_version("coqui-tts"),
        "coqui_trainer": package_version("coqui-tts-trainer"),
        "dvc": package_version("dvc"),
        "henryvc": package_version("henryvc"),
        "git": git_version(),
        "arch": platform.machine(),
        "os": f"{platform.system()} {platform.release()}",
        "host": socket.gethostname(),
        "gpus": gpus(),
        "container": container_info(),
        "executable": Path(sys.executable).name,
    }
