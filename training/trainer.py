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

from henryvc_training import checkpoints
from henryvc_training.checkpoints import RestoreMismatch
from henryvc_training.common import RunPaths
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


@dataclass
class Settings:
    """The parts of params.yaml the train stage uses."""

    every_epochs: int = 25
    max_decoder_steps: int = 500
    keep_checkpoints: int | None = None
    asr: bool = True  # periodic evaluations transcribe what the model says (henryvc_training.intelligibility)
    min_chars_per_second: float = 5.0  # audio past the longest plausible duration is not transcribed

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Settings:
        evaluation = params.get("evaluation") or {}
        train = params.get("train") or {}
        criteria = params.get("criteria") or {}
        return cls(int(evaluation.get("every_epochs", 25)), int(evaluation.get("max_decoder_steps", 500)),
                   train.get("keep_checkpoints"), bool(evaluation.get("asr", True)),
                   float(criteria.get("min_chars_per_second", 5.0)))


def trainer_class() -> type:
    """The Coqui Trainer with henryvc's hooks (built lazily: importing trainer imports torch)."""
    from trainer import Trainer

    from henryvc_training.ddp import DistributedTrainer

    class HenryTrainer(DistributedTrainer, Trainer):
        """Coqui's Trainer plus a NaN guard before backward(), per-step loss lines and henryvc evaluations."""

        hooks: Hooks

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
            outputs, loss_dict = super().train_step(batch, batch_n_steps, step, loader_start_time)
            if loss_dict:
                self.hooks.record_step(self, loss_dict)
            return outputs, loss_dict

        def test_run(self) -> None:
            # Coqui would synthesize every epoch with an uncapped decoder; henryvc evaluates every N epochs.
            self.hooks.maybe_evaluate(self)

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
    args = TrainerArgs(continue_path=str(paths.checkpoints) if continuing and writer else "",
                       rank=rank.rank if rank is not None else 0)
    hooks = Hooks(paths, settings, config) if writer else ddp.FollowerHooks(paths, settings, config)
    hooks.data_dir = data_dir  # the held-out clips' real recordings, for the periodic evaluations
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
        callbacks={**(callbacks or {}), "on_epoch_end": _chain(hooks.on_epoch_end, (callbacks or {}).get("on_epoch_end"))},
    )
    trainer.hooks = hooks
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



@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM (docker stop, kill) into KeyboardInterrupt so the run is saved and marked incomplete."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_training(paths: RunPaths, config: Any, settings: Settings, data_dir: Path, continuing: bool,
                 callbacks: dict[str, Any] | None = None, rank: Any = None) -> TrainResult:
    """Train (or continue) and report how it ended; exceptions become a TrainResult, never a deleted folder."""
    trainer = None
    continued_from = None
    try:
        with sigterm_as_interrupt():
            if continuing:
                last = checkpoints.last_checkpoint(paths.checkpoints)
                if last is None:
                    raise RestoreMismatch(f"no checkpoint left in {paths.checkpoints} to continue from")
                continued_from = checkpoints.checkpoint_state(last)
                log.info("continuing %s from %s (step %d, epoch %d)", paths.name, continued_from["checkpoint"],
                         continued_from["step"], continued_from["epoch"])
            trainer = build_trainer(paths, config, settings, data_dir, continuing, callbacks, rank)
            if continued_from:
                restored = checkpoints.check_restored(trainer, continued_from)
                log.info("restored step %d and learning rate %s from %s", restored["step"], restored["lr"],
                         continued_from["checkpoint"])
                continued_from["restored"] = restored
            log.info("training %s: %d epochs, batch size %d, save_step %d, evaluation every %d epochs",
                     paths.name, trainer.config.epochs, trainer.config.batch_size, trainer.config.save_step,
                     settings.every_epochs)
            # Not trainer.fit(): it deletes its output folder on exceptions and calls os._exit on Ctrl-C.
            trainer._fit()
            trainer.save_checkpoint()  # the final state is always a checkpoint that restore/resume can use
            trainer.dashboard_logger.finish()
            return TrainResult("finished", trainer.total_steps_done, trainer.epochs_done + 1, continued_from)
    except NonFiniteLoss as exc:
        log.critical("NaN guard: %s; training stopped, run marked failed", exc)
        return TrainResult("failed", _steps(trainer), _epochs(trainer), continued_from, str(exc))
    except KeyboardInterrupt as exc:
        if trainer is not None and trainer.config.save_on_interrupt:
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

