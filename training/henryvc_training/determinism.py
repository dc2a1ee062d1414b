"""Determinism of a training process: seeding, deterministic torch settings, and the torch side of a
run's environment (device, threads).

`configure` is called once per train stage before the model exists; what it set is recorded in the run
record as `determinism` (docs/reproducibility.md says what it does and does not promise on CPU and CUDA).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# cuBLAS picks reduction workspaces per stream; a fixed configuration makes its results repeatable
# (https://docs.nvidia.com/cuda/cublas/#results-reproducibility). Must be set before cuBLAS starts.
CUBLAS_WORKSPACE_CONFIG = ":4096:8"
THREADS_ENV = "HENRYVC_TORCH_THREADS"  # overrides params.yaml train.threads (e.g. to recreate a run's count)


def thread_count(params: dict[str, Any]) -> int | None:
    """The intra-op thread count asked for: $HENRYVC_TORCH_THREADS, else params.yaml train.threads, else None."""
    from henryvc.errors import BadInput

    raw = os.environ.get(THREADS_ENV) or (params.get("train") or {}).get("threads")
    if raw in (None, ""):
        return None
    try:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError(raw)  # int() would cut 2.5 to 2
        threads = int(raw)
    except (TypeError, ValueError):
        raise BadInput(f"torch thread count must be a whole number >= 1, got {raw!r}") from None
    if threads < 1:
        raise BadInput(f"torch thread count must be a whole number >= 1, got {raw!r}")
    return threads


def configure(config: Any, threads: int | None = None, world_size: int = 1) -> dict[str, Any]:
    """Make this process train deterministically; return the settings for the run record.

    Seeds Python, NumPy and torch from the config's training_seed, fixes torch's thread count (THREADS,
    else torch's default for this machine, made explicit), turns on torch's deterministic algorithms
    (strict on CPU: an op without a deterministic kernel stops training; warn-only on CUDA, where some of
    Coqui's kernels have none), and on CUDA sets CUBLAS_WORKSPACE_CONFIG, cuDNN deterministic without
    benchmark, and TF32 off. The Coqui config gets the same cuDNN/TF32 values, because the Trainer sets
    these flags again from it. A multi-process run (WORLD_SIZE > 1) is warn-only too: strict mode under
    DistributedDataParallel's collectives is untried, and such a run promises no bitwise match anyway.
    """
    import torch

    cuda = torch.cuda.is_available()
    if cuda:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE_CONFIG)
    torch.set_num_threads(threads or torch.get_num_threads())
    warn_only = cuda or world_size > 1
    torch.use_deterministic_algorithms(True, warn_only=warn_only)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    config.cudnn_deterministic, config.cudnn_benchmark, config.allow_tf32 = True, False, False
    seed = int(config.training_seed)
    seed_everything(seed)
    return {
        "seed": seed,
        "device": "cuda" if cuda else "cpu",
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "threads_source": "HENRYVC_TORCH_THREADS or params train.threads" if threads else "torch default",
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "deterministic_warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "cudnn_deterministic": torch.backends.cudnn.deterministic,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "tf32": False,
        "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG") if cuda else None,
        "world_size": world_size,
        "promise": ("close, not bitwise: see docs/reproducibility.md (atomics, cuDNN algorithms, GPU/driver)"
                    if cuda else "bitwise on this CPU, torch build and thread count" if world_size == 1 else
                    "close, not bitwise: a multi-process run (see docs/reproducibility.md)"),
    }


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
                              "and model tensors (checked by tests/tiers/slow/test_training_determinism.py)")
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


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch before the model exists: Coqui seeds only inside Trainer(), after
    the model's initial weights were drawn, which would make two runs of one config differ from step 0."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
