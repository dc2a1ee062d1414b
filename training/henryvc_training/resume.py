"""Exact resume: what a checkpoint carries so that a run killed mid-epoch and continued is, step for step,
the run it would have been.

Coqui's Trainer saves model, optimizer, scheduler, grad-scaler, step and epoch, and on `continue_path`
restarts the checkpoint's epoch from its first batch with fresh random numbers. henryvc adds one entry to
every checkpoint it saves, `henryvc_resume` (through the `**kwargs` Coqui's io.save_checkpoint and
io.save_best_model store in the file):

- where training stood: epoch, batches of that epoch already trained, the next step, and the kind of
  point ("step": between two training steps; "epoch_end": an epoch trained, evaluated and tested, its
  on_epoch_end callbacks still to run; "finished": after the last epoch);
- the random number generators (Python, NumPy, torch CPU and CUDA) at that point, and at the start of
  the epoch's data-loader pass, which fixes the epoch's batch order;
- the running averages Coqui's per-epoch log and best-model choice use, and the best loss so far.

On resume the Trainer is rebuilt as Coqui does, then `Tracker.arm` sets the step/epoch, and the
data loader replays the epoch's sampler from the saved start state, skipping the batches already trained
without loading them, before the generators are set to the checkpoint's state.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("henryvc.training.train")

KEY = "henryvc_resume"
FORMAT = 1
# What a checkpoint must hold for an exact resume, beside henryvc_resume (Coqui's own entries).
COQUI_KEYS = ("model", "optimizer", "scheduler", "scaler", "step", "epoch")


# --------------------------------------------------------------------------- random number generators


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch (CPU, and CUDA when present) generator states, in torch.load-safe types."""
    import numpy as np
    import torch

    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss},
        "numpy": {"name": name, "keys": [int(k) for k in keys], "pos": int(pos), "has_gauss": int(has_gauss),
                  "cached_gaussian": float(cached)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Put every generator back to STATE (CUDA's only when this process has CUDA)."""
    import numpy as np
    import torch

    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss_next"]))
    nps = state["numpy"]
    np.random.set_state((nps["name"], np.array(nps["keys"], dtype=np.uint32), nps["pos"], nps["has_gauss"],
                         nps["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextmanager
def forked_rng(seed: int) -> Iterator[None]:
    """Run the body with every generator seeded from SEED, then put them back as they were.

    Data loaders are built inside it: a loader built at epoch 0 and one built when a run is resumed in
    epoch 7 get the same sample order, and building neither moves the training's random numbers.
    """
    from henryvc_training.determinism import seed_everything

    saved = rng_state()
    seed_everything(seed)
    try:
        yield
    finally:
        set_rng_state(saved)


# --------------------------------------------------------------------------- the data loader


class SkippingBatchSampler:
    """A batch sampler that, for one pass, drops its first batches of indices (no data is loaded for them)."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.skip = 0
        self.after_skip: Callable[[], None] | None = None

    def __len__(self) -> int:
        return len(self.inner)

    def __iter__(self) -> Iterator[Any]:
        skip, after_skip = self.skip, self.after_skip
        self.skip, self.after_skip = 0, None
        batches = iter(self.inner)  # a shuffling sampler draws the epoch's order on the first next()
        for _ in range(skip):
            if next(batches, None) is None:
                break
        if after_skip is not None:
            after_skip()
        yield from batches


class ResumableLoader:
    """Coqui's training DataLoader, rebuilt on a SkippingBatchSampler, counting the batches it hands out.

    Each pass records the generators' state just before the loader's iterator is made (the state that
    decides the epoch's batch order); a pass the tracker has armed for a resume starts from a saved state
    instead and skips the batches the checkpoint had already trained.
    """

    def __init__(self, loader: Any, tracker: Tracker):
        from torch.utils.data import DataLoader

        self.batches = SkippingBatchSampler(loader.batch_sampler)
        options: dict[str, Any] = {"collate_fn": loader.collate_fn, "num_workers": loader.num_workers,
                                   "pin_memory": loader.pin_memory, "timeout": loader.timeout,
                                   "worker_init_fn": loader.worker_init_fn, "generator": loader.generator}
        if loader.num_workers:
            options.update(prefetch_factor=loader.prefetch_factor, persistent_workers=loader.persistent_workers,
                           multiprocessing_context=loader.multiprocessing_context)
        self.loader = DataLoader(loader.dataset, batch_sampler=self.batches, **options)
        self.dataset = loader.dataset
        # henryvc_training.ddp reads the sampler: set_epoch on a rank's shard sampler, its padding per epoch
        self.sampler = loader.sampler
        self.tracker = tracker
        self.handed_out = 0  # batches of the current epoch trained or being trained, skipped ones included

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Any]:
        pending = self.tracker.take_loader_resume()
        if pending is None:
            self.tracker.epoch_start_rng = rng_state()
            self.tracker.offset = self.handed_out = 0
        else:
            start_rng, skip, now_rng = pending
            set_rng_state(start_rng)
            self.tracker.epoch_start_rng = start_rng
            self.tracker.offset = self.handed_out = skip
            self.batches.skip = skip
            self.batches.after_skip = lambda: set_rng_state(now_rng)
        for batch in self.loader:
            self.handed_out += 1
            yield batch


# --------------------------------------------------------------------------- the tracker


class Tracker:
    """Knows where training stands (for the state a checkpoint saves) and applies a saved state on resume."""

    def __init__(self) -> None:
        self.loader: ResumableLoader | None = None
        self.epoch_start_rng: dict[str, Any] | None = None
        self.offset = 0  # batches skipped at the start of the current loader pass
        self.phase = "unknown"  # "step" inside train_step; "boundary" after a step; "epoch_end"; "finished"
        self.stop_requested: int | None = None  # a signal asked training to stop after the current step
        self.pending: dict[str, Any] | None = None  # the checkpoint's state, until applied
        self.best_loss: Any = None  # the checkpoint's best loss, until Coqui's _restore_best_loss ran
        self.training = False  # inside Coqui's epoch loop: a stop signal waits for the step to end

    # ---- saving

    def state(self, trainer: Any, phase: str | None = None, best_loss: Any = None) -> dict[str, Any]:
        """The henryvc_resume entry for a checkpoint saved now."""
        phase = phase or self.phase
        exact = phase in ("step", "boundary", "epoch_end", "finished")
        next_step = trainer.total_steps_done + (1 if phase == "step" else 0)  # Coqui saves before its += 1
        state: dict[str, Any] = {
            "format": FORMAT, "exact": exact, "kind": "step" if phase == "boundary" else phase,
            "epoch": trainer.epochs_done, "batches_done": self.loader.handed_out if self.loader else 0,
            "next_step": next_step, "rng": rng_state(), "epoch_start_rng": self.epoch_start_rng,
            "keep_avg_train": _averages(trainer.keep_avg_train), "keep_avg_eval": _averages(trainer.keep_avg_eval),
            "best_loss": best_loss if best_loss is not None else trainer.best_loss,
        }
        world_size = int(getattr(getattr(trainer, "rank", None), "world_size", 1) or 1)
        if world_size > 1:
            # Each rank's loader holds its own shard and position; only rank 0's would be saved here.
            state["exact"] = False
            state["reason"] = multi_process_reason(world_size)
        elif not exact:
            state["reason"] = "saved when training was stopped in the middle of a step"
        return state

    # ---- resuming

    def arm(self, trainer: Any, state: dict[str, Any]) -> dict[str, Any]:
        """Apply STATE's position to a Trainer Coqui has just restored; the rest happens as training runs."""
        self.pending = state
        self.best_loss = state["best_loss"]
        trainer.total_steps_done = int(state["next_step"])
        trainer.epochs_done = int(state["epoch"])
        return {"kind": state["kind"], "epoch": trainer.epochs_done, "next_step": trainer.total_steps_done,
                "batches_done": int(state["batches_done"])}

    def restore_best_loss(self, trainer: Any) -> None:
        """After Coqui's _restore_best_loss (which takes the checkpoint's own loss): the best so far."""
        if self.best_loss is not None:
            trainer.best_loss, self.best_loss = self.best_loss, None

    def before_fit(self, trainer: Any) -> bool:
        """Finish what the checkpoint's point left to do before Coqui's epoch loop; False: nothing left."""
        state = self.pending
        if state is None:
            return True
        if state["kind"] == "finished":
            self.pending = None
            set_rng_state(state["rng"])
            return False
        if state["kind"] == "epoch_end":
            # The epoch was trained, evaluated and tested; its on_epoch_end callbacks had not run.
            from trainer.generic_utils import KeepAverage

            self.pending = None
            trainer.keep_avg_train = _keep_average(KeepAverage(), state["keep_avg_train"])
            trainer.keep_avg_eval = (_keep_average(KeepAverage(), state["keep_avg_eval"])
                                     if state["keep_avg_eval"] is not None else None)
            set_rng_state(state["rng"])
            trainer.callbacks.on_epoch_end(trainer)
            trainer.epochs_done += 1
            return trainer.epochs_done < trainer.config.epochs
        return True

    def epoch_starting(self, trainer: Any) -> None:
        """At train_epoch: give the fresh running averages of a resumed epoch what it had already trained."""
        if self.pending is not None and self.pending["kind"] == "step":
            _keep_average(trainer.keep_avg_train, self.pending["keep_avg_train"])

    def take_loader_resume(self) -> tuple[dict[str, Any], int, dict[str, Any]] | None:
        """For the loader's pass: (epoch start state, batches to skip, state after them), once."""
        state = self.pending
        if state is None or state["kind"] != "step":
            return None
        self.pending = None
        return state["epoch_start_rng"], int(state["batches_done"]), state["rng"]


def multi_process_reason(world_size: int) -> str:
    """Why a multi-process run's checkpoint is not an exact-resume point (exact resume is single-process)."""
    return (f"saved by a multi-process run (world size {world_size}): exact resume covers one-process "
            "runs only, every rank's shard position is not saved")


def _averages(keep: Any) -> dict[str, Any] | None:
    if keep is None:
        return None
    return {"avg_values": dict(keep.avg_values), "iters": dict(keep.iters)}


def _keep_average(keep: Any, saved: dict[str, Any] | None) -> Any:
    if keep is not None and saved:
        keep.avg_values.update(saved["avg_values"])
        keep.iters.update(saved["iters"])
    return keep


# --------------------------------------------------------------------------- checking a checkpoint


def problem(checkpoint: dict[str, Any], name: str) -> str | None:
    """Why CHECKPOINT (a loaded checkpoint called NAME) cannot be resumed exactly; None when it can."""
    import torch

    missing = [key for key in COQUI_KEYS if key not in checkpoint]
    if missing:
        return f"{name} lacks {', '.join(missing)}"
    state = checkpoint.get(KEY)
    if not isinstance(state, dict):
        return (f"{name} holds no random-generator and data-loader state (saved by a henryvc older than "
                "exact resume)")
    if state.get("format") != FORMAT:
        return f"{name} holds exact-resume state format {state.get('format')}, this henryvc reads {FORMAT}"
    if not state.get("exact"):
        return f"{name} was {state.get('reason', 'saved at a point that cannot be resumed exactly')}"
    if state["rng"].get("cuda") is not None and not torch.cuda.is_available():
        return f"{name} was saved on CUDA and this process has no CUDA device"
    return None
