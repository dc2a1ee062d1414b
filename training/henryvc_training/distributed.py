"""One training run on N processes (GPUs) and M nodes through torch.distributed, launched by torchrun.

The train stage (`python -m henryvc_training.train`) reads params.yaml's `train.gpus` (processes per node)
and `train.nodes`. With more than one process in all it does not train itself: it hands the same stage
module to torchrun (`python -m torch.distributed.run`, static rendezvous on train.master_addr and
train.master_port; this machine is node `--node-rank`), and each worker torchrun starts is one rank.
Rank 0 is the run's only writer (run.json, training_v2.log, checkpoints, TensorBoard, logs/); the other
ranks read the run's config, split and data (and, when continuing, its checkpoint) and write nothing there.

Why not Coqui's own multi-GPU path: coqui-tts-trainer 0.4's `python -m trainer.distribute` starts one
process per GPU of one machine (no nodes, no CPU/gloo), its init_distributed asserts CUDA, and its
Trainer wraps the model in DistributedDataParallel but then trains `ddp_model.module` (the bare model),
so DDP's gradient all-reduce never runs. Here every rank's forward and backward go through DDP, each
rank reads its own shard (Coqui's DistributedSampler, made to follow the config's `shuffle` and seed),
and the clip ids every rank saw are gathered to rank 0 and checked (logs/shards.jsonl).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from henryvc.errors import BadInput

ENV_NODE_RANK = "HENRYVC_NODE_RANK"
DEFAULT_PORT = 29500


@dataclass(frozen=True)
class Scale:
    """How many processes train one run: params.yaml's train.gpus per node times train.nodes."""

    gpus: int = 1
    nodes: int = 1
    master_addr: str = "127.0.0.1"
    master_port: int = DEFAULT_PORT
    backend: str | None = None  # None: nccl where CUDA is available, gloo otherwise

    @property
    def world_size(self) -> int:
        return self.gpus * self.nodes

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Scale:
        """The scale params.yaml's `train` section asks for; BadInput naming the field when it is wrong."""
        train = params.get("train") or {}
        scale = cls(gpus=_positive(train, "gpus", 1), nodes=_positive(train, "nodes", 1),
                    # in a SLURM job step the node that ran srun (the batch step's node) holds rank 0
                    master_addr=str(train.get("master_addr") or os.environ.get("SLURM_LAUNCH_NODE_IPADDR")
                                    or "127.0.0.1"),
                    master_port=_positive(train, "master_port", DEFAULT_PORT),
                    backend=train.get("backend") or None)
        if scale.master_port > 65535:
            raise BadInput(f"params.yaml train.master_port is {scale.master_port}: use a TCP port (1-65535)")
        if scale.backend not in (None, "gloo", "nccl"):
            raise BadInput(f"params.yaml train.backend is {scale.backend!r}: use gloo, nccl or leave it out")
        return scale


def _positive(section: dict[str, Any], key: str, default: int) -> int:
    value = section.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadInput(f"params.yaml train.{key} is {value!r}: it must be a whole number of at least 1")
    return value


def node_rank(explicit: int | None, scale: Scale) -> int:
    """This machine's node rank: --node-rank, else $HENRYVC_NODE_RANK, else the node's place in a SLURM job
    step (srun sets SLURM_NODEID), else 0 (the node that holds rank 0)."""
    in_step = "SLURM_STEP_ID" in os.environ and "SLURM_NODEID" in os.environ
    value: Any = explicit if explicit is not None else os.environ.get(
        ENV_NODE_RANK, os.environ["SLURM_NODEID"] if in_step else "0")
    try:
        rank = int(value)
    except ValueError:
        raise BadInput(f"node rank {value!r} is not a number") from None
    if not 0 <= rank < scale.nodes:
        raise BadInput(f"node rank {rank} is outside 0..{scale.nodes - 1} (params.yaml train.nodes is {scale.nodes})")
    return rank


def torchrun_command(scale: Scale, node: int, root: Path) -> list[str]:
    """The torchrun command line that starts this node's ranks of the train stage."""
    return [sys.executable, "-m", "torch.distributed.run", f"--nnodes={scale.nodes}",
            f"--nproc-per-node={scale.gpus}", f"--node-rank={node}", f"--master-addr={scale.master_addr}",
            f"--master-port={scale.master_port}", "--max-restarts=0",
            "-m", "henryvc_training.train", "--root", str(root)]


def needs_fan_out(scale: Scale) -> bool:
    """True in the batch step of a SLURM job with the run's nodes: the stage then starts one torchrun per node
    with srun instead of typing `--node-rank` on every node."""
    return (scale.nodes > 1 and "SLURM_JOB_ID" in os.environ and "SLURM_STEP_ID" not in os.environ
            and int(os.environ.get("SLURM_JOB_NUM_NODES", "1")) >= scale.nodes)


def fan_out(scale: Scale, root: Path) -> int:
    """srun this stage once per node of the job (each then runs torchrun for its node); its exit code.
    --kill-on-bad-exit: a rank that dies takes the others down, and the run is left incomplete."""
    command = ["srun", f"--nodes={scale.nodes}", f"--ntasks={scale.nodes}", "--ntasks-per-node=1",
               "--kill-on-bad-exit=1", sys.executable, "-m", "henryvc_training.train", "--root", str(root)]
    return subprocess.run(command, cwd=root, check=False).returncode


def launch(scale: Scale, node: int, root: Path) -> int:
    """Run torchrun for this node and return its exit code (non-zero when any rank failed or was killed)."""
    env = dict(os.environ)
    if scale.backend:
        env["HENRYVC_DIST_BACKEND"] = scale.backend
    return subprocess.run(torchrun_command(scale, node, root), cwd=root, env=env, check=False).returncode


# --------------------------------------------------------------------------- inside a rank


@dataclass(frozen=True)
class Rank:
    """This process's place in the run (from the variables torchrun sets)."""

    rank: int
    local_rank: int
    world_size: int
    local_world_size: int = 1
    backend: str = ""

    @property
    def is_writer(self) -> bool:
        return self.rank == 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def from_env() -> Rank | None:
    """The rank torchrun gave this process; None outside torchrun or in a world of one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or "RANK" not in os.environ:
        return None
    return Rank(int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), world,
                int(os.environ.get("LOCAL_WORLD_SIZE", str(world))))


def one_gpu_per_rank(rank: Rank) -> None:
    """Show each rank only its own GPU before CUDA starts: Coqui's Trainer counts visible GPUs and would
    otherwise switch on its own (broken) DDP path or refuse to start with several visible."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = [d for d in visible.split(",") if d.strip()] if visible else None
    if devices is None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(rank.local_rank)
    elif rank.local_rank < len(devices):
        os.environ["CUDA_VISIBLE_DEVICES"] = devices[rank.local_rank].strip()


def init(rank: Rank) -> Rank:
    """Join the process group (env:// rendezvous torchrun prepared); nccl on CUDA, gloo otherwise."""
    import torch
    import torch.distributed as dist

    backend = os.environ.get("HENRYVC_DIST_BACKEND") or ("nccl" if torch.cuda.is_available() else "gloo")
    if backend == "nccl":
        torch.cuda.set_device(0)  # one_gpu_per_rank left each rank exactly one visible GPU
    dist.init_process_group(backend=backend, rank=rank.rank, world_size=rank.world_size)
    return Rank(rank.rank, rank.local_rank, rank.world_size, rank.local_world_size, backend)


def as_rank(rank: Rank, work: Callable[[Rank], Any]) -> Any:
    """WORK(rank) inside the process group: joined before, left after, whatever happens."""
    one_gpu_per_rank(rank)
    rank = init(rank)
    if not rank.is_writer:
        # Not the run log (rank 0's alone): this rank's henryvc lines go to the launcher's output.
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"%(asctime)s rank {rank.rank} %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("henryvc").addHandler(handler)
        logging.getLogger("henryvc").setLevel(logging.INFO)
    try:
        return work(rank)
    finally:
        shutdown()


def record_entry(rank: Rank) -> dict[str, Any]:
    """What run.json says about how the run was trained."""
    return {"world_size": rank.world_size, "nodes": rank.world_size // max(1, rank.local_world_size),
            "processes_per_node": rank.local_world_size, "backend": rank.backend, "launcher": "torchrun"}


def share(obj: Any) -> Any:
    """Rank 0's OBJ on every rank (the others pass None)."""
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def shutdown() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def _device() -> Any:
    import torch
    import torch.distributed as dist

    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def wrap_model(model: Any) -> Any:
    """MODEL's train_step behind DistributedDataParallel: DDP all-reduces gradients only for what runs
    through its forward, and Coqui's Trainer calls model.train_step, not model()."""
    import torch
    from torch.nn.parallel import DistributedDataParallel

    class TrainStep(torch.nn.Module):
        def __init__(self, inner: Any):
            super().__init__()
            self.inner = inner

        def forward(self, batch: Any, criterion: Any) -> Any:
            return self.inner.train_step(batch, criterion)

    device = _device()
    return DistributedDataParallel(TrainStep(model), device_ids=[device.index] if device.type == "cuda" else None)


def any_rank(flag: bool) -> bool:
    """True on every rank when FLAG is true on at least one (so all ranks stop together)."""
    import torch
    import torch.distributed as dist

    value = torch.tensor([1.0 if flag else 0.0], device=_device())
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def world_mean(values: dict[str, float]) -> dict[str, float]:
    """VALUES averaged over the ranks (every rank must call this with the same keys)."""
    import torch
    import torch.distributed as dist

    keys = sorted(values)
    tensor = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=_device())
    dist.all_reduce(tensor)
    tensor /= dist.get_world_size()
    return dict(zip(keys, tensor.tolist()))


def weighted_mean(averages: dict[str, float], counts: dict[str, int]) -> dict[str, float]:
    """Per-key averages of all ranks, weighted by how many values each rank averaged (Coqui's KeepAverage)."""
    import torch
    import torch.distributed as dist

    keys = sorted(averages)
    sums = torch.tensor([float(averages[k]) * counts.get(k, 1) for k in keys] + [float(counts.get(k, 1)) for k in keys],
                        dtype=torch.float64, device=_device())
    dist.all_reduce(sums)
    n = len(keys)
    return {k: (sums[i] / sums[n + i]).item() if sums[n + i] else float("nan") for i, k in enumerate(keys)}


def gather(obj: Any) -> list[Any]:
    """OBJ from every rank, in rank order (on every rank)."""
    import torch.distributed as dist

    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def shard_sampler(dataset: Any, shuffle: bool, seed: int) -> Any:
    """This rank's shard of DATASET: Coqui's DistributedSampler always shuffles with seed 0; this one
    follows the config's `shuffle` and training seed, so an unshuffled config keeps Coqui's length-sorted
    order and N ranks together see the batches one process would (each a 1/N slice of them)."""
    from torch.utils.data.distributed import DistributedSampler

    return DistributedSampler(dataset, shuffle=shuffle, seed=seed)


# --------------------------------------------------------------------------- the sharding proof


def clip_id(path: str) -> str:
    return Path(path).stem


def shard_report(epoch: int, per_rank: list[list[str]], expected: list[str], padding: int) -> dict[str, Any]:
    """Were the ranks' clips of EPOCH disjoint, and did they cover the epoch? (DistributedSampler repeats
    PADDING clips so that every rank gets as many; those may appear on two ranks.)"""
    seen: dict[str, list[int]] = {}
    for rank, clips in enumerate(per_rank):
        for clip in set(clips):
            seen.setdefault(clip, []).append(rank)
    overlap = sorted(c for c, ranks in seen.items() if len(ranks) > 1)
    missing = sorted(set(expected) - set(seen))
    unexpected = sorted(set(seen) - set(expected))
    return {"epoch": epoch, "world_size": len(per_rank), "clips": len(expected),
            "per_rank": [len(c) for c in per_rank], "padding": padding,
            "disjoint": not overlap, "covers_epoch": not missing, "overlap": overlap, "missing": missing,
            "unexpected": unexpected,
            "ok": not missing and not unexpected and len(overlap) <= padding,
            "ranks": [sorted(c) for c in per_rank]}


def write_report(path: Path, report: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(report) + "\n")
