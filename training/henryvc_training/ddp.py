"""The distributed half of HenryTrainer: what each rank does differently from a one-process run.

Mixed in before Coqui's Trainer (HenryTrainer(DistributedTrainer, Trainer)); with `rank` None (one
process) every method here is a plain pass-through. With a rank:
- forward and backward run through DistributedDataParallel (gradients averaged over the ranks);
- each rank's loader holds its own shard (henryvc_training.distributed.shard_sampler), reshuffled per
  epoch when the config shuffles; the clip ids each rank trained on are gathered to rank 0 per epoch and
  checked (disjoint, covering the epoch) into logs/shards.jsonl;
- per-step losses are averaged over the ranks before rank 0 records them; epoch averages (train and
  eval) are merged over the ranks, so best-model choice and epoch_losses.jsonl see the whole epoch;
- a non-finite loss on any rank stops every rank in the same step;
- a lost peer (killed, crashed) surfaces on the survivors as an interruption: the run stays incomplete
  and resumable instead of failed.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from henryvc_training import common, distributed
from henryvc_training import loader as loaders
from henryvc_training.hooks import Hooks, NonFiniteLoss, non_finite_losses

log = logging.getLogger("henryvc.training.train")

PEER_LOST = ("Connection closed by peer", "Connection reset by peer", "Broken pipe", "NCCL communicator was aborted")


class DistributedTrainer:
    """Rank-aware overrides of Coqui's Trainer (see the module docstring)."""

    rank: distributed.Rank | None = None
    ddp: Any = None
    loader_settings: loaders.LoaderSettings = loaders.LoaderSettings()
    shards_file: Path | None = None
    _clips: list[str]
    # Coqui's Trainer's own attributes (it comes after this mixin in HenryTrainer's bases): declared, not set.
    config: Any
    total_steps_done: int
    epochs_done: int
    train_loader: Any
    keep_avg_train: Any
    keep_avg_eval: Any

    # ---------------------------------------------------------------- loaders

    def get_train_dataloader(self, samples, verbose=True):  # type: ignore[no-untyped-def]
        loader = super().get_train_dataloader(samples, verbose=verbose)  # type: ignore[misc]
        return loaders.tune(loader, self.loader_settings, self._shard(loader, bool(self.config.shuffle)))

    def get_eval_dataloader(self, samples, verbose=True):  # type: ignore[no-untyped-def]
        loader = super().get_eval_dataloader(samples, verbose=verbose)  # type: ignore[misc]
        return loaders.tune(loader, self.loader_settings, self._shard(loader, False))

    def _shard(self, loader: Any, shuffle: bool) -> Any:
        if self.rank is None:
            return None
        return distributed.shard_sampler(loader.dataset, shuffle, int(self.config.training_seed))

    # ---------------------------------------------------------------- steps

    def _model_train_step(self, batch, criterion, optimizer_idx=None):  # type: ignore[no-untyped-def]
        if self.ddp is None:
            return super()._model_train_step(batch, criterion, optimizer_idx)  # type: ignore[misc]
        return self.ddp(batch, criterion)

    def _compute_loss(self, batch, criterion, optimizer_idx):  # type: ignore[no-untyped-def]
        outputs, loss_dict = super()._compute_loss(batch=batch, criterion=criterion,  # type: ignore[misc]
                                                   optimizer_idx=optimizer_idx)
        if self.rank is not None and loss_dict is not None:
            here = bool(non_finite_losses(loss_dict))
            if distributed.any_rank(here) and not here:
                raise NonFiniteLoss(f"another rank's loss is non-finite at step {self.total_steps_done}; "
                                    "every rank stops (rank 0's logs/nan_debug.json when it was rank 0's)")
        return outputs, loss_dict

    def train_step(self, batch, batch_n_steps, step, loader_start_time):  # type: ignore[no-untyped-def]
        if self.rank is not None:
            self._clips.extend(distributed.clip_id(p) for p in batch.get("item_idxs", []))
        outputs, loss_dict = super().train_step(batch, batch_n_steps, step, loader_start_time)  # type: ignore[misc]
        if self.rank is not None and loss_dict:
            numbers = {k: float(v) for k, v in loss_dict.items() if isinstance(v, (int, float))}
            loss_dict = {**loss_dict, **distributed.world_mean(numbers)}
        return outputs, loss_dict

    # ---------------------------------------------------------------- epochs

    def train_epoch(self) -> None:
        if self.rank is None:
            return super().train_epoch()  # type: ignore[misc]
        self._clips = []
        sampler = getattr(self.train_loader, "sampler", None)
        if sampler is not None and hasattr(sampler, "set_epoch"):
            sampler.set_epoch(self.epochs_done)
        super().train_epoch()  # type: ignore[misc]
        _merge(self.keep_avg_train)
        self._check_shards()
        return None

    def eval_epoch(self) -> None:
        super().eval_epoch()  # type: ignore[misc]
        if self.rank is not None:
            _merge(self.keep_avg_eval)

    def _fit(self) -> None:
        try:
            super()._fit()  # type: ignore[misc]
        except RuntimeError as exc:
            if self.rank is None or not peer_lost(exc):
                raise
            # Not a failure of this run: a rank went away. Rank 0 saves and records it incomplete.
            raise KeyboardInterrupt(f"rank {self.rank.rank}: a peer rank stopped ({str(exc).splitlines()[0][:200]})") from exc

    def _check_shards(self) -> None:
        """Gather every rank's clip ids of this epoch to rank 0 and record whether they were disjoint and complete."""
        per_rank = distributed.gather(sorted(self._clips))
        if not self.rank.is_writer or self.shards_file is None:  # type: ignore[union-attr]
            return
        dataset = self.train_loader.dataset
        expected = [distributed.clip_id(s["audio_file"]) for s in dataset.samples]
        sampler = self.train_loader.sampler
        padding = int(getattr(sampler, "total_size", len(expected))) - len(expected)
        report = distributed.shard_report(self.epochs_done, per_rank, expected, padding)
        distributed.write_report(self.shards_file, report)
        if not report["ok"]:
            log.error("epoch %d: the ranks' shards overlap or miss clips: overlap %s, missing %s",
                      self.epochs_done, report["overlap"][:10], report["missing"][:10])


def peer_lost(exc: BaseException) -> bool:
    """True when EXC says another rank's connection is gone (killed or crashed), not a bug here."""
    try:
        from torch.distributed import DistError
    except ImportError:  # pragma: no cover - every torch henryvc supports has it
        DistError = ()  # type: ignore[assignment,misc]
    text = str(exc)
    return isinstance(exc, DistError) or any(marker in text for marker in PEER_LOST)


def _merge(keep_avg: Any) -> None:
    """Coqui's KeepAverage of this rank replaced in place by the average over all ranks' values."""
    if keep_avg is None:
        return
    # KeepAverage's first value sets the average with iters 0 and the next k values make it their mean
    # (iters k): so an average stands for max(iters, 1) values.
    counts = {k: max(int(keep_avg.iters.get(k, 0)), 1) for k in keep_avg.avg_values}
    merged = distributed.weighted_mean(dict(keep_avg.avg_values), counts)
    keep_avg.avg_values.update(merged)


class FollowerHooks(Hooks):
    """Hooks of a rank other than 0: the same checks, no writes into the run folder."""

    def __init__(self, paths: Any, settings: Any, config: Any):  # no log files opened
        self.paths = paths
        self.settings = settings
        self.config = config
        self.data_dir = None

    def close(self) -> None:
        return None

    def listen_to(self, data_dir: Any) -> None:  # only rank 0 evaluates
        return None

    def record_step(self, trainer: Any, loss_dict: dict[str, Any]) -> None:
        return None

    def on_non_finite(self, trainer: Any, batch: dict[str, Any], loss_dict: dict[str, Any], bad: list[str]) -> None:
        raise NonFiniteLoss(f"non-finite loss ({', '.join(bad)}) on rank {trainer.rank.rank} at step "
                            f"{trainer.total_steps_done}, epoch {trainer.epochs_done}")

    def on_epoch_end(self, trainer: Any) -> None:
        return None

    def maybe_evaluate(self, trainer: Any) -> None:
        return None


def scratch_folder() -> Path:
    """Where Coqui's Trainer of a rank other than 0 puts its own files (its log, a config copy): a
    temporary folder outside the project, removed when the process ends."""
    folder = Path(tempfile.mkdtemp(prefix="henryvc-rank-"))
    atexit.register(shutil.rmtree, folder, True)
    return folder


def attach(trainer: Any, paths: Any, rank: distributed.Rank | None, continuing: bool) -> None:
    """Give a freshly built HenryTrainer its loader settings and, in a multi-process run, its rank, its
    checkpoint (ranks other than 0 restore it themselves: Coqui's continue_path would make the run's
    checkpoints/ their output folder) and DistributedDataParallel."""
    trainer.loader_settings = loaders.LoaderSettings.from_config(common.read_config(paths))
    if rank is None:
        return
    trainer.rank = rank
    trainer._clips = []
    if rank.is_writer:
        trainer.shards_file = paths.logs / "shards.jsonl"
    elif continuing:
        from henryvc_training.checkpoints import last_checkpoint

        last = last_checkpoint(paths.checkpoints)
        trainer.continue_run = True
        trainer.args.restore_path = str(last)
        trainer.restore_model()
    trainer.ddp = distributed.wrap_model(trainer.model)
