"""Stage `train`: Henry's Tacotron2 trained by the Coqui Trainer, in-process, into training_runs/<RUN>/.

Layout it writes: checkpoints/ (Coqui checkpoints, best_model.pth, config.json, periodic evaluations),
tensorboard/ (event files), logs/ (per-step and per-epoch losses, evaluation summaries), training_v2.log.
A run whose record says it was cut short (killed, interrupted, crashed) is continued from its last
checkpoint with Coqui's continue_path; otherwise training starts fresh.
Usage (from the project root): python -m henryvc_training.train
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from henryvc import record
from henryvc.errors import HenryvcError
from henryvc_training import common
from henryvc_training.common import RunPaths

log = logging.getLogger("henryvc.training.train")

EXIT_INTERRUPTED = 130


class NonFiniteLoss(HenryvcError):
    """A loss became NaN or infinite: training stopped, the run is failed."""


class RestoreMismatch(HenryvcError):
    """Continuing a run did not restore the step or learning rate the checkpoint holds."""


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

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "Settings":
        evaluation = params.get("evaluation") or {}
        train = params.get("train") or {}
        return cls(int(evaluation.get("every_epochs", 25)), int(evaluation.get("max_decoder_steps", 500)),
                   train.get("keep_checkpoints"))


# --------------------------------------------------------------------------- environment


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
    """HEAD of the project's git repository (None outside one)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


# --------------------------------------------------------------------------- checkpoints


def last_checkpoint(checkpoints: Path) -> Path | None:
    """The checkpoint Coqui's continue_path would pick (None when there is none)."""
    if not any(checkpoints.glob("*.pth")):
        return None
    from trainer.io import get_last_checkpoint

    try:
        last, _best = get_last_checkpoint(str(checkpoints))
    except ValueError:
        return None
    return Path(last)


def checkpoint_state(path: Path) -> dict[str, Any]:
    """Step, epoch and learning rate stored in checkpoint PATH."""
    import torch

    state = torch.load(str(path), map_location="cpu", weights_only=False)
    optimizers = state.get("optimizer") or []
    optimizers = optimizers if isinstance(optimizers, list) else [optimizers]
    lrs = [group["lr"] for opt in optimizers for group in opt.get("param_groups", [])[:1]]
    return {"checkpoint": path.name, "step": int(state["step"]), "epoch": int(state["epoch"]), "lr": lrs}


def drop_unreadable_checkpoints(checkpoints: Path) -> list[str]:
    """Rename checkpoints a kill cut off mid-write to *.pth.partial, newest first, until one loads.

    Coqui's continue_path takes the newest checkpoint by its step number; torch.save writes in place,
    so a SIGKILL during a save leaves a truncated newest file that would make every resume crash.
    """
    dropped = []
    while (last := last_checkpoint(checkpoints)) is not None:
        try:
            checkpoint_state(last)
            break
        except Exception as exc:  # truncated zip, EOF, unpickling errors: all mean "unreadable"
            last.rename(last.with_name(last.name + ".partial"))
            log.warning("checkpoint %s is unreadable (%s: %s); set aside as %s.partial",
                        last.name, type(exc).__name__, exc, last.name)
            dropped.append(last.name)
    return dropped


def should_continue(rec: record.RunRecord, paths: RunPaths) -> bool:
    """True when the run was cut short (killed, interrupted, crashed) and a checkpoint exists."""
    training = rec.extra.get("training") or {}
    cut_short = rec.status in ("training", "incomplete") and not training.get("finished", False)
    return cut_short and training.get("started", False) and last_checkpoint(paths.checkpoints) is not None


def clear_outputs(paths: RunPaths) -> None:
    """Remove what an earlier training of this run left (DVC keeps these outputs: persist: true)."""
    for folder in (paths.checkpoints, paths.tensorboard, paths.logs, paths.plots, paths.samples):
        shutil.rmtree(folder, ignore_errors=True)
    for name in ("metrics.json", "SUCCESS"):
        (paths.run_dir / name).unlink(missing_ok=True)


# --------------------------------------------------------------------------- the trainer


def non_finite_losses(loss_dict: dict[str, Any]) -> list[str]:
    """Names of the losses in LOSS_DICT that are NaN or infinite."""
    import torch

    bad = []
    for key, value in loss_dict.items():
        if isinstance(value, torch.Tensor):
            if value.numel() and not bool(torch.isfinite(value.detach()).all()):
                bad.append(key)
        elif isinstance(value, float) and not common.is_finite_number(value):
            bad.append(key)
    return bad


class Hooks:
    """What henryvc adds to the Coqui Trainer: loss records, NaN guard, periodic evaluation."""

    def __init__(self, paths: RunPaths, settings: Settings, config: Any):
        self.paths = paths
        self.settings = settings
        self.config = config
        paths.logs.mkdir(parents=True, exist_ok=True)
        # Line-buffered appends: a SIGKILL loses at most the line being written.
        self.steps_file = paths.step_losses.open("a", encoding="utf-8", buffering=1)
        self.epochs_file = paths.epoch_losses.open("a", encoding="utf-8", buffering=1)

    def close(self) -> None:
        self.steps_file.close()
        self.epochs_file.close()

    def record_step(self, trainer: Any, loss_dict: dict[str, Any]) -> None:
        """One JSON line per optimizer step: the step index Coqui logs to TensorBoard and its losses."""
        row = {"step": trainer.total_steps_done - 1, "epoch": trainer.epochs_done}
        row.update({k: float(v) for k, v in loss_dict.items() if isinstance(v, (int, float))})
        self.steps_file.write(json.dumps(row) + "\n")

    def on_non_finite(self, trainer: Any, batch: dict[str, Any], loss_dict: dict[str, Any], bad: list[str]) -> None:
        """Save what is needed to debug the NaN, then stop training by raising NonFiniteLoss."""
        import torch

        step = trainer.total_steps_done
        debug_dir = self.paths.checkpoints / "nan_debug"
        debug_dir.mkdir(parents=True, exist_ok=True)
        # The weights are still the ones that produced the NaN: the guard runs before backward().
        torch.save({
            "step": step, "epoch": trainer.epochs_done,
            "model": trainer.model.state_dict(),
            "optimizer": [opt.state_dict() for opt in trainer.optimizer],
            "batch": {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in batch.items()},
            "loss": {k: v.detach().cpu() if isinstance(v, torch.Tensor) else v for k, v in loss_dict.items()},
        }, debug_dir / f"nan_step_{step}.pt")
        losses = {k: float(v.detach().float().mean()) if isinstance(v, torch.Tensor) else v
                  for k, v in loss_dict.items()}
        summary = {"step": step, "epoch": trainer.epochs_done, "non_finite": bad, "losses": losses,
                   "clips": [Path(p).stem for p in batch.get("audio_unique_names", batch.get("item_idxs", []))
                             if isinstance(p, str)],
                   "debug_state": str((debug_dir / f"nan_step_{step}.pt").relative_to(self.paths.run_dir))}
        record.write_json_atomic(self.paths.logs / "nan_debug.json", summary)
        raise NonFiniteLoss(f"non-finite loss ({', '.join(bad)}) at step {step}, epoch {trainer.epochs_done}; "
                            f"debug state in {summary['debug_state']}, summary in logs/nan_debug.json")

    def on_epoch_end(self, trainer: Any) -> None:
        """One JSON line per epoch with Coqui's train/eval averages; NaN in eval stops training too."""
        train = dict(trainer.keep_avg_train.avg_values) if trainer.keep_avg_train is not None else {}
        evaluation = dict(trainer.keep_avg_eval.avg_values) if trainer.keep_avg_eval is not None else {}
        row = {"epoch": trainer.epochs_done, "step": trainer.total_steps_done,
               "lr": [opt.param_groups[0]["lr"] for opt in trainer.optimizer],
               "train": {k: float(v) for k, v in train.items()}, "eval": {k: float(v) for k, v in evaluation.items()}}
        self.epochs_file.write(json.dumps(row) + "\n")
        bad = [f"eval {k}" for k, v in evaluation.items() if k.endswith("loss") and not common.is_finite_number(v)]
        if bad:
            raise NonFiniteLoss(f"non-finite evaluation loss ({', '.join(bad)}) at epoch {trainer.epochs_done}")
        log.info("epoch %d done at step %d: train loss %.4f%s", trainer.epochs_done, trainer.total_steps_done,
                 train.get("avg_loss", float("nan")),
                 f", eval loss {evaluation['avg_loss']:.4f}" if "avg_loss" in evaluation else "")

    def maybe_evaluate(self, trainer: Any) -> None:
        """Every `evaluation.every_epochs` epochs: synthesize the test sentences, keep audio and alignments."""
        epoch = trainer.epochs_done + 1  # epochs completed, counting this one
        if self.settings.every_epochs <= 0 or epoch % self.settings.every_epochs:
            return
        try:
            self.evaluate(trainer, epoch)
        except Exception as exc:  # a failed evaluation must not cost the training run
            log.error("evaluation at epoch %d failed, training goes on: %s: %s", epoch, type(exc).__name__, exc)

    def evaluate(self, trainer: Any, epoch: int) -> None:
        from henryvc_training import synth

        model = trainer._get_model()
        out_dir = self.paths.checkpoints / "evaluations" / f"epoch_{epoch:04d}"
        rows = []
        for index, text in enumerate(self.config.test_sentences):
            result = synth.synthesize(model, text, self.settings.max_decoder_steps)
            synth.save_wav(model, result.wav, out_dir / f"sentence_{index}.wav")
            synth.save_alignment_png(result.alignment, out_dir / f"sentence_{index}_alignment.png",
                                     f"epoch {epoch}: {text}")
            trainer.dashboard_logger.test_audios(trainer.total_steps_done, {f"{index}-audio": result.wav},
                                                 model.ap.sample_rate)
            rows.append({"text": text, "seconds": round(result.seconds, 3), "decoder_steps": result.decoder_steps,
                         "hit_max_decoder_steps": result.hit_cap})
            if result.hit_cap:
                log.warning("epoch %d: %r ran to max_decoder_steps=%d (the model does not stop yet)",
                            epoch, text, self.settings.max_decoder_steps)
        train = dict(trainer.keep_avg_train.avg_values) if trainer.keep_avg_train is not None else {}
        evaluation = dict(trainer.keep_avg_eval.avg_values) if trainer.keep_avg_eval is not None else {}
        losses = {k: round(float(v), 5) for k, v in (evaluation or train).items()
                  if k in ("avg_loss", "avg_align_error", "avg_stopnet_loss", "avg_decoder_loss", "avg_postnet_loss")}
        summary = {"epoch": epoch, "step": trainer.total_steps_done, "sentences": rows, "losses": losses,
                   "audio": str(out_dir.relative_to(self.paths.run_dir))}
        with (self.paths.logs / "evaluations.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(summary) + "\n")
        lines = [f"Step {trainer.total_steps_done}; audio and alignments in `{summary['audio']}/`.", "",
                 "| sentence | seconds | decoder steps | hit cap |", "|---|---|---|---|"]
        lines += [f"| {r['text']} | {r['seconds']} | {r['decoder_steps']} | {r['hit_max_decoder_steps']} |" for r in rows]
        lines += ["", "Losses: " + ", ".join(f"{k.removeprefix('avg_')} {v}" for k, v in losses.items())]
        common.append_readme(self.paths, f"Evaluation at epoch {epoch}", lines)
        log.info("evaluation at epoch %d: %s", epoch, "; ".join(f"{r['text']!r} {r['seconds']} s" for r in rows))


def trainer_class() -> type:
    """The Coqui Trainer with henryvc's hooks (built lazily: importing trainer imports torch)."""
    from trainer import Trainer

    class HenryTrainer(Trainer):
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


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch before the model exists: Coqui seeds only inside Trainer(), after
    the model's initial weights were drawn, which would make two runs of one config differ from step 0."""
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _detach_trainer_file_log(output_path: Path) -> None:
    """Drop the plain-text log file Coqui opened in OUTPUT_PATH: training_v2.log already has its lines."""
    logger = logging.getLogger("trainer")
    for handler in list(logger.handlers):
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).parent == output_path:
            logger.removeHandler(handler)
            handler.close()
            Path(handler.baseFilename).unlink(missing_ok=True)


def build_trainer(paths: RunPaths, config: Any, settings: Settings, data_dir: Path, continuing: bool,
                  callbacks: dict[str, Any] | None = None) -> Any:
    """Model, data and a HenryTrainer whose checkpoints land in PATHS.checkpoints."""
    from trainer import TrainerArgs
    from trainer.logging.tensorboard_logger import TensorboardLogger
    from TTS.config.shared_configs import BaseDatasetConfig
    from TTS.tts.datasets import load_tts_samples
    from TTS.tts.models.tacotron2 import Tacotron2

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
    paths.checkpoints.mkdir(parents=True, exist_ok=True)
    args = TrainerArgs(continue_path=str(paths.checkpoints) if continuing else "")
    hooks = Hooks(paths, settings, config)
    # Where Coqui's own output folder goes: a fresh Trainer invents <output_path>/<run>-<date>-<commit>/
    # and Trainer.fit() deletes that folder on any exception while it holds no .pth. So the Trainer never
    # gets the run folder: it is pointed at logs/trainer/ (its invented folder is removed right after
    # construction), its checkpoints are redirected into checkpoints/, and henryvc calls _fit() itself with
    # its own exception handling, so remove_experiment_folder() is never reached. When continuing, Coqui
    # uses continue_path (checkpoints/, which holds .pth files) as its folder.
    trainer = trainer_class()(
        args, config, output_path=str(paths.logs / "trainer"), model=model,
        train_samples=train_samples, eval_samples=eval_samples,
        parse_command_line_args=False,  # the stage's argv is henryvc's, not Coqui's
        dashboard_logger=TensorboardLogger(str(paths.tensorboard), model_name="tacotron2"),
        callbacks={**(callbacks or {}), "on_epoch_end": _chain(hooks.on_epoch_end, (callbacks or {}).get("on_epoch_end"))},
    )
    trainer.hooks = hooks
    invented = trainer.output_path
    _detach_trainer_file_log(invented)
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


def check_restored(trainer: Any, expected: dict[str, Any]) -> dict[str, Any]:
    """Compare the Trainer's step and learning rates with the checkpoint's; RestoreMismatch if they differ."""
    restored = {"step": trainer.total_steps_done, "epoch": trainer.epochs_done,
                "lr": [opt.param_groups[0]["lr"] for opt in trainer.optimizer]}
    # Coqui resumes at step + 1 so that it does not immediately checkpoint the same step again.
    if restored["step"] != expected["step"] + 1 or restored["epoch"] != expected["epoch"]:
        raise RestoreMismatch(f"continuing from {expected['checkpoint']} restored step {restored['step']} "
                              f"epoch {restored['epoch']}, expected step {expected['step'] + 1} epoch {expected['epoch']}")
    if any(abs(a - b) > 1e-12 * max(1.0, abs(b)) for a, b in zip(restored["lr"], expected["lr"])) \
            or len(restored["lr"]) != len(expected["lr"]):
        raise RestoreMismatch(f"continuing from {expected['checkpoint']} restored learning rate {restored['lr']}, "
                              f"the checkpoint holds {expected['lr']}")
    return restored


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
                 callbacks: dict[str, Any] | None = None) -> TrainResult:
    """Train (or continue) and report how it ended; exceptions become a TrainResult, never a deleted folder."""
    trainer = None
    continued_from = None
    try:
        with sigterm_as_interrupt():
            if continuing:
                continued_from = checkpoint_state(last_checkpoint(paths.checkpoints))
                log.info("continuing %s from %s (step %d, epoch %d)", paths.name, continued_from["checkpoint"],
                         continued_from["step"], continued_from["epoch"])
            trainer = build_trainer(paths, config, settings, data_dir, continuing, callbacks)
            if continued_from:
                restored = check_restored(trainer, continued_from)
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


def train(root: Path, callbacks: dict[str, Any] | None = None) -> TrainResult:
    """Run the train stage in project ROOT, holding the run's training lock the whole time.

    CALLBACKS are extra Coqui Trainer callbacks (the overhead benchmark times steps with one).
    """
    params = common.load_params(root)
    paths = common.run_paths(root, params)
    settings = Settings.from_params(params)
    with record.training(paths.run_dir):  # NotReady when a live trainer holds it
        handler = common.open_run_log(paths)
        try:
            return _train_locked(root, params, paths, settings, callbacks)
        finally:
            common.close_run_log(handler)


def _train_locked(root: Path, params: dict[str, Any], paths: RunPaths, settings: Settings,
                  callbacks: dict[str, Any] | None) -> TrainResult:
    raw = common.read_config(paths)
    config = common.coqui_config(raw)
    if settings.keep_checkpoints is not None:
        config.save_n_checkpoints = int(settings.keep_checkpoints)  # params.yaml's retention rule wins
    if config.scheduler_after_epoch:
        # coqui-tts-trainer 0.4 never steps the scheduler after an epoch (it only steps optimizers it
        # saw this step), so the learning rate would stay frozen: step it per optimizer step instead.
        log.warning("scheduler_after_epoch is true in config.json; using false so the learning rate moves")
        config.scheduler_after_epoch = False
    rec = record.load(paths.run_dir)
    continuing = should_continue(rec, paths)
    if continuing:
        drop_unreadable_checkpoints(paths.checkpoints)
        continuing = last_checkpoint(paths.checkpoints) is not None
    if continuing:
        from henryvc import dvcrepo

        # Committed outputs are links to the DVC cache's objects; Coqui rewrites best_model.pth in place,
        # which would write into the cache. Private copies first (`dvc unprotect`).
        dvcrepo.unprotect(root, [str(paths.checkpoints), str(paths.tensorboard)])
    if not continuing:
        clear_outputs(paths)
    from henryvc import environment

    env = {**environment.capture(), **torch_environment(config), "source_commit": source_commit(root)}
    history = rec.history + [{"event": "train-continue" if continuing else "train-start", "at": _now()}]
    record.update(paths.run_dir, status="training", seed=int(config.training_seed), environment=env,
                  history=history, training={"started": True, "finished": False})
    if not continuing or not (paths.run_dir / "environment.lock").exists():
        from henryvc import envlock  # the locked environment and code identity, kept with the run

        record.update(paths.run_dir, **envlock.write(paths.run_dir, accelerator_of(env)))
    data_dir = root / (params.get("data") or {}).get("dir", "voice_data")
    result = run_training(paths, config, settings, data_dir, continuing, callbacks)
    _record_result(paths, result)
    return result


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _record_result(paths: RunPaths, result: TrainResult) -> None:
    """Write how training ended into the run record (and, for a NaN, the verdict and README)."""
    rec = record.load(paths.run_dir)
    training = {"started": True, "finished": result.status == "finished", "steps": result.steps,
                "epochs": result.epochs, "ended": result.status}
    event = {"event": f"train-{result.status}", "at": _now(), "steps": result.steps}
    if result.continued_from:
        event["continued_from"] = result.continued_from
    if result.message:
        event["message"] = result.message
    changes: dict[str, Any] = {"training": training, "history": rec.history + [event]}
    if result.status in ("failed", "crashed"):
        from henryvc.verdict import Verdict

        # A crash is a failure with its reason on record (not "incomplete": resuming would crash again).
        reason = (f"NaN guard stopped training: {result.message}" if result.status == "failed"
                  else f"training crashed at step {result.steps}: {result.message}")
        verdict = Verdict(status="failed", criteria=[], reasons=[reason])
        changes.update(status="failed", verdict=verdict.to_dict())
        common.append_readme(paths, "Verdict: failed", [f"- {r}" for r in verdict.reasons])
    else:
        # Finished training still awaits the evaluate stage; cut-short training awaits `henryvc resume`.
        changes["status"] = "incomplete"
    record.update(paths.run_dir, **changes)


def main(argv: list[str] | None = None) -> int:
    """Stage entry point (dvc.yaml: python -m henryvc_training.train)."""
    parser = argparse.ArgumentParser(prog="python -m henryvc_training.train", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="project root (where dvc.yaml is)")
    args = parser.parse_args(argv)
    try:
        result = train(args.root.resolve())
    except HenryvcError as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"train: {result.status} after {result.steps} steps" + (f": {result.message}" if result.message else ""))
    if result.status == "finished":
        return 0
    return EXIT_INTERRUPTED if result.status == "interrupted" else 1


if __name__ == "__main__":
    raise SystemExit(main())
