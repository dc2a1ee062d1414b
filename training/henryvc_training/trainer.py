"""The Coqui Trainer as henryvc runs it: HenryTrainer (the Trainer plus henryvc's hooks), its build from a
run folder, and run_training, which turns every way training can end into a TrainResult."""

from __future__ import annotations

import logging
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from henryvc_training import checkpoints, resume
from henryvc_training.checkpoints import RestoreMismatch
from henryvc_training.common import RunPaths, Settings
from henryvc_training.determinism import seed_everything
from henryvc_training.hooks import Hooks, NonFiniteLoss, non_finite_losses

log = logging.getLogger("henryvc.training.train")


@dataclass
class TrainResult:
    """How a training stage ended."""

    status: str  # "finished" | "failed" (NaN) | "interrupted" | "crashed" (-> failed) | "refused" (restore mismatch)
    steps: int = 0
    epochs: int = 0
    continued_from: dict[str, Any] | None = None
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def trainer_class() -> type:
    """The Coqui Trainer with henryvc's hooks (built lazily: importing trainer imports torch)."""
    from trainer import Trainer
    from trainer.io import save_best_model, save_checkpoint
    from trainer.utils.distributed import rank_zero_only

    from henryvc_training.ddp import DistributedTrainer

    class HenryTrainer(DistributedTrainer, Trainer):
        """Coqui's Trainer plus a NaN guard before backward(), per-step loss lines, henryvc evaluations,
        and the exact-resume state (henryvc_training.resume) in every checkpoint it saves. Its loaders
        wrap the ones DistributedTrainer tuned and sharded (henryvc_training.loader.tune)."""

        hooks: Hooks
        tracker: resume.Tracker

        def _compute_loss(self, batch, criterion, optimizer_idx):  # type: ignore[override]
            outputs, loss_dict = super()._compute_loss(batch=batch, criterion=criterion, optimizer_idx=optimizer_idx)
            # Checked before backward(): the saved debug state is the one that produced the NaN,
            # not weights an optimizer step has already poisoned.
            if loss_dict:
                bad = non_finite_losses(loss_dict)
                if bad:
                    self.hooks.on_non_finite(self, batch, loss_dict, bad)
            return outputs, loss_dict

        def train_step(self, batch, batch_n_steps, step, loader_start_time):  # type: ignore[override]
            self.tracker.phase = "step"
            try:
                # STEP counts from the epoch's first batch, also when a resumed pass skipped some
                outputs, loss_dict = super().train_step(batch, batch_n_steps, step + self.tracker.offset,
                                                        loader_start_time)
            finally:
                self.tracker.phase = "unknown"
            if loss_dict:
                self.hooks.record_step(self, loss_dict)
            if self.tracker.stop_requested is not None:
                self.tracker.phase = "boundary"  # between two steps: the checkpoint saved now is exact
                raise KeyboardInterrupt(f"signal {self.tracker.stop_requested}")
            return outputs, loss_dict

        def get_train_dataloader(self, samples, *, verbose=True):  # type: ignore[override]
            with resume.forked_rng(int(self.config.training_seed)):
                loader = super().get_train_dataloader(samples, verbose=verbose)
            self.tracker.loader = resume.ResumableLoader(loader, self.tracker)
            return self.tracker.loader

        def get_eval_dataloader(self, samples, *, verbose=True):  # type: ignore[override]
            with resume.forked_rng(int(self.config.training_seed) + 1):
                return super().get_eval_dataloader(samples, verbose=verbose)

        def train_epoch(self) -> None:
            self.tracker.epoch_starting(self)
            super().train_epoch()

        def _restore_best_loss(self) -> None:
            super()._restore_best_loss()
            self.tracker.restore_best_loss(self)

        def test_run(self) -> None:
            # Coqui would synthesize every epoch with an uncapped decoder; henryvc evaluates every N epochs.
            self.hooks.maybe_evaluate(self)

        @rank_zero_only
        def save_checkpoint(self) -> None:
            # Coqui's Trainer.save_checkpoint, plus the exact-resume state (io.save_checkpoint stores kwargs).
            save_checkpoint(
                self.config, self._get_model(), self.output_path, current_step=self.total_steps_done,
                epoch=self.epochs_done, optimizer=self.optimizer, scheduler=self.scheduler,
                scaler=self.scaler if self.use_amp_scaler else None,
                model_loss={"train_loss": self._pick_target_avg_loss(self.keep_avg_train),
                            "eval_loss": self._pick_target_avg_loss(self.keep_avg_eval)},
                save_n_checkpoints=self.config.save_n_checkpoints, **{resume.KEY: self.tracker.state(self)})

        def save_best_model(self) -> None:
            # Coqui's Trainer.save_best_model, plus the exact-resume state of an epoch's end.
            current: Any = {"train_loss": self._pick_target_avg_loss(self.keep_avg_train) or float("inf"),
                            "eval_loss": self._pick_target_avg_loss(self.keep_avg_eval)}
            self.best_loss = save_best_model(
                current, self.best_loss, self.config, self._get_model(), self.output_path,
                current_step=self.total_steps_done, epoch=self.epochs_done, optimizer=self.optimizer,
                scheduler=self.scheduler, scaler=self.scaler if self.use_amp_scaler else None,
                keep_all_best=self.config.save_all_best, keep_after=self.config.save_best_after,
                **{resume.KEY: self.tracker.state(self, phase="epoch_end", best_loss=current)})

        def save_training_script(self) -> None:
            # Coqui copies sys.argv[0] (this module) into its output folder, which is checkpoints/ when
            # continuing: code does not belong in a DVC output; the run record names the source commit.
            return None

    return HenryTrainer


def _detach_trainer_file_log(output_path: Path) -> None:
    """Drop the plain-text log file Coqui opened in OUTPUT_PATH: training_v2.log already has its lines."""
    logger = logging.getLogger("trainer")
    for handler in list(logger.handlers):
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).parent == output_path:
            logger.removeHandler(handler)
            handler.close()
            Path(handler.baseFilename).unlink(missing_ok=True)


def build_trainer(paths: RunPaths, config: Any, settings: Settings, data_dir: Path, continuing: bool,
                  callbacks: dict[str, Any] | None = None, rank: Any = None) -> Any:
    """Model, data and a HenryTrainer whose checkpoints land in PATHS.checkpoints (RANK: this process's
    henryvc_training.distributed.Rank in a multi-process run; only rank 0 writes the run folder)."""
    from trainer import TrainerArgs
    from trainer.logging.tensorboard_logger import TensorboardLogger
    from TTS.config.shared_configs import BaseDatasetConfig
    from TTS.tts.datasets import load_tts_samples
    from TTS.tts.models.tacotron2 import Tacotron2

    from henryvc_training import ddp

    dataset = BaseDatasetConfig(formatter="ljspeech", path=str(data_dir),
                                meta_file_train=str(paths.data / "train.csv"),
                                meta_file_val=str(paths.data / "eval.csv"), language="en")
    config.datasets = [dataset]
    # prepare made the split; an explicit meta_file_val makes Coqui use it instead of splitting again.
    train_samples, eval_samples = load_tts_samples(config, eval_split=True)
    seed_everything(int(config.training_seed))
    # Tacotron2 builds its AudioProcessor(config.audio) and tokenizer from the config itself (passing
    # them is deprecated in coqui-tts 0.28); the tokenizer completes config.characters in place.
    model = Tacotron2(config)
    config = model.config
    writer = rank is None or rank.is_writer
    if writer:
        paths.checkpoints.mkdir(parents=True, exist_ok=True)
    args = TrainerArgs(continue_path=checkpoints.coqui_folder(paths.checkpoints) if continuing and writer else "",
                       rank=rank.rank if rank is not None else 0)
    hooks = Hooks(paths, settings, config) if writer else ddp.FollowerHooks(paths, settings, config)
    hooks.listen_to(data_dir)  # the held-out clips' real recordings, for the periodic evaluations
    # Where Coqui's own output folder goes: a fresh Trainer invents <output_path>/<run>-<date>-<commit>/
    # and Trainer.fit() deletes that folder on any exception while it holds no .pth. So the Trainer never
    # gets the run folder: it is pointed at logs/trainer/ (its invented folder is removed right after
    # construction), its checkpoints are redirected into checkpoints/, and henryvc calls _fit() itself with
    # its own exception handling, so remove_experiment_folder() is never reached. When continuing, Coqui
    # uses continue_path (checkpoints/, which holds .pth files) as its folder.
    trainer = trainer_class()(
        args, config, output_path=str(paths.logs / "trainer" if writer else ddp.scratch_folder()), model=model,
        train_samples=train_samples, eval_samples=eval_samples,
        parse_command_line_args=False,  # the stage's argv is henryvc's, not Coqui's
        # Ranks other than 0 get Coqui's DummyLogger: nothing of theirs reaches tensorboard/.
        dashboard_logger=TensorboardLogger(str(paths.tensorboard), model_name="tacotron2") if writer else None,
        callbacks={**(callbacks or {}),
                   "on_epoch_end": _chain(hooks.on_epoch_end, (callbacks or {}).get("on_epoch_end"))},
    )
    trainer.hooks = hooks
    trainer.tracker = resume.Tracker()
    invented = trainer.output_path
    _detach_trainer_file_log(invented)
    ddp.attach(trainer, paths, rank, continuing)
    if not writer:
        return trainer
    if not continuing:
        trainer.output_path = paths.checkpoints
        shutil.rmtree(invented, ignore_errors=True)
        shutil.rmtree(paths.logs / "trainer", ignore_errors=True)
    # continue_path reads the config from the checkpoint folder: keep it there, as Coqui resolved it.
    trainer.config.save_json(str(paths.checkpoints / "config.json"))
    return trainer


def _chain(first: Any, second: Any) -> Any:
    """One Coqui callback calling FIRST then SECOND (Coqui takes a single function per event)."""
    if second is None:
        return first

    def both(trainer: Any) -> None:
        first(trainer)
        second(trainer)

    return both



class StopSignals:
    """SIGTERM (docker stop, kill) and SIGINT (Ctrl-C) while henryvc trains.

    Inside Coqui's epoch loop the first signal asks training to stop when the current step is done, so
    the checkpoint written on the way out is an exact-resume point; a second signal, or one before
    training started, raises KeyboardInterrupt at once (that checkpoint then says it is not exact).
    """

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.tracker: resume.Tracker | None = None

    def handle(self, signum: int, frame: Any) -> None:
        tracker = self.tracker
        if tracker is not None and tracker.training and tracker.stop_requested is None:
            tracker.stop_requested = signum
            log.warning("signal %d: training stops when the current step is done (send it again to stop now)",
                        signum)
            return
        raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def stop_signals() -> Iterator[StopSignals]:
    """Install StopSignals' handler for the body (the run is saved and marked incomplete on a stop)."""
    stops = StopSignals()
    try:
        previous = [(sig, signal.signal(sig, stops.handle)) for sig in StopSignals.SIGNALS]
    except ValueError:  # not the main thread: leave signals alone
        yield stops
        return
    try:
        yield stops
    finally:
        for sig, handler in previous:
            signal.signal(sig, handler)


def run_training(paths: RunPaths, config: Any, settings: Settings, data_dir: Path, continuing: bool,
                 callbacks: dict[str, Any] | None = None, rank: Any = None,
                 inexact_reason: str | None = None) -> TrainResult:
    """Train (or continue) and report how it ended; exceptions become a TrainResult, never a deleted folder.

    Continuing, the checkpoint's exact-resume state is applied unless INEXACT_REASON says why it cannot
    be (the caller allowed an inexact resume): then Coqui's own continue_path behaviour is all there is.
    A multi-process run (RANK given) always continues that way: exact resume is single-process only.
    """
    trainer = None
    continued_from = None
    try:
        with stop_signals() as stops:
            state = None
            if continuing:
                last = checkpoints.last_checkpoint(paths.checkpoints)
                if last is None:
                    raise RestoreMismatch(f"no checkpoint left in {paths.checkpoints} to continue from")
                continued_from = checkpoints.checkpoint_state(last)
                log.info("continuing %s from %s (step %d, epoch %d)", paths.name, continued_from["checkpoint"],
                         continued_from["step"], continued_from["epoch"])
                if rank is not None and inexact_reason is None:
                    inexact_reason = resume.multi_process_reason(rank.world_size)
                state = None if inexact_reason else checkpoints.resume_state(last)
            trainer = build_trainer(paths, config, settings, data_dir, continuing, callbacks, rank)
            stops.tracker = trainer.tracker
            if continued_from:
                restored = checkpoints.check_restored(trainer, continued_from)
                log.info("restored step %d and learning rate %s from %s", restored["step"], restored["lr"],
                         continued_from["checkpoint"])
                continued_from["restored"] = restored
                continued_from["exact"] = state is not None
                if state is not None:
                    continued_from["resumed_at"] = trainer.tracker.arm(trainer, state)
                    log.info("exact resume at epoch %(epoch)d, step %(next_step)d, %(batches_done)d batches of "
                             "the epoch done (%(kind)s)", continued_from["resumed_at"])
                else:
                    continued_from["inexact_reason"] = inexact_reason
                    log.warning("inexact resume (%s): Coqui restarts epoch %d with new random numbers",
                                inexact_reason, continued_from["epoch"])
            log.info("training %s: %d epochs, batch size %d, save_step %d, evaluation every %d epochs",
                     paths.name, trainer.config.epochs, trainer.config.batch_size, trainer.config.save_step,
                     settings.every_epochs)
            # Not trainer.fit(): it deletes its output folder on exceptions and calls os._exit on Ctrl-C.
            trainer.tracker.training = True
            if trainer.tracker.before_fit(trainer):
                trainer._fit()
            trainer.tracker.training = False
            trainer.tracker.phase = "finished"
            trainer.save_checkpoint()  # the final state is always a checkpoint that restore/resume can use
            trainer.dashboard_logger.finish()
            return TrainResult("finished", trainer.total_steps_done, trainer.epochs_done + 1, continued_from)
    except NonFiniteLoss as exc:
        log.critical("NaN guard: %s; training stopped, run marked failed", exc)
        return TrainResult("failed", _steps(trainer), _epochs(trainer), continued_from, str(exc))
    except KeyboardInterrupt as exc:
        if trainer is not None:
            trainer.tracker.training = False
            if trainer.config.save_on_interrupt:
                trainer.save_checkpoint()
        log.critical("training interrupted (%s) at step %d; continue with `henryvc resume %s`",
                     exc or "Ctrl-C", _steps(trainer), paths.name)
        return TrainResult("interrupted", _steps(trainer), _epochs(trainer), continued_from, "interrupted")
    except RestoreMismatch as exc:
        log.critical("%s", exc)
        return TrainResult("refused", _steps(trainer), _epochs(trainer), continued_from, str(exc))
    except Exception as exc:
        reason = describe_crash(exc)
        log.critical("training crashed at step %d: %s", _steps(trainer), reason, exc_info=True)
        return TrainResult("crashed", _steps(trainer), _epochs(trainer), continued_from, reason)
    finally:
        if trainer is not None:
            trainer.hooks.close()
            trainer.dashboard_logger.flush()


def describe_crash(exc: BaseException) -> str:
    """A readable one-line reason for EXC, even when its message is empty (a bare `assert` in Coqui):
    the exception type, its message, and the file, line and source of the frame that raised it."""
    import traceback

    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    frames = traceback.extract_tb(exc.__traceback__)
    where = ""
    if frames:
        last = frames[-1]
        parts = Path(last.filename).parts
        short = "/".join(parts[-3:]) if len(parts) > 3 else last.filename
        where = f" at {short}:{last.lineno}" + (f" ({last.line.strip()[:100]})" if last.line else "")
    return f"{type(exc).__name__}{': ' + message if message else ''}{where}"


def _steps(trainer: Any) -> int:
    return int(trainer.total_steps_done) if trainer is not None else 0


def _epochs(trainer: Any) -> int:
    return int(trainer.epochs_done) if trainer is not None else 0

