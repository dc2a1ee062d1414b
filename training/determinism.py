"""Seeding and the torch side of a run's environment (device, threads, determinism)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def torch_environment(config: Any) -> dict[str, Any]:
    """What only the training process can say: torch build, device, threads, determinism."""
    import torch

    cuda = torch.cuda.is_available()
    env: dict[str, Any] = {
        "torch_cuda": torch.version.cuda,
        "cuda_available": cuda,
        "device": torch.cuda.get_device_name(0) if cuda else f"cpu ({_cpu_name()})",
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "torch_threads": torch.get_num_threads(),
        "training_seed": int(config.training_seed),
    }
    if cuda:
        env["determinism"] = (
            "not bit-reproducible on CUDA: cuDNN LSTM/attention kernels and atomic adds are "
            f"non-deterministic (cudnn_deterministic={config.cudnn_deterministic}, "
            f"cudnn_benchmark={config.cudnn_benchmark}); expect small per-step loss differences between reruns")
    else:
        env["determinism"] = ("CPU: same seed, same torch build and thread count reproduce per-step losses "
                              "and model tensors (checked by tests/test_training_determinism.py)")
    return env


def accelerator_of(env: dict[str, Any]) -> dict[str, Any]:
    """The CUDA/cuDNN part of ENV (torch_environment's) that environment.json keeps."""
    return {"cuda": env.get("torch_cuda"), "cudnn": env.get("cudnn"), "device": env.get("device")}


def _cpu_name() -> str:
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def source_commit(root: Path) -> str | None:
    """HEAD of the project's git repository (None outside one or before its first commit)."""
    from henryvc import gitrepo
    from henryvc.errors import HenryvcError

    try:
        return gitrepo.head(gitrepo.open_repo(root))
    except HenryvcError:
        return None


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch before the model exists: Coqui seeds only inside Trainer(), after
    the model's initial weights were drawn, which would make two runs of one config differ from step 0."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
