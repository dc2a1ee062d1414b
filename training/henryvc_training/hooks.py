"""What henryvc adds to the Coqui Trainer: per-step and per-epoch loss records, the NaN guard and
periodic evaluations (synthesized test sentences with their alignments)."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from henryvc.core import atomic
from henryvc.errors import HenryvcError
from henryvc_training import common
from henryvc_training.common import RunPaths, Settings

log = logging.getLogger("henryvc.training.train")


class NonFiniteLoss(HenryvcError):
    """A loss became NaN or infinite: training stopped, the run is failed."""


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
        self.data_dir: Path | None = None
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
        atomic.write_json_atomic(self.paths.logs / "nan_debug.json", summary)
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

    def listen_to(self, data_dir: Path) -> None:
        """The held-out clips' real recordings and Henry's reference clips live in DATA_DIR; with periodic
        evaluations on, Henry's side of their scores (the recognizer and its transcripts of his recordings,
        the speaker encoder and his recordings' embeddings and features) gets ready in the background while
        the first epochs train (listen.prepare), cached in the project for the evaluate stage too."""
        self.data_dir = data_dir
        if self.settings.every_epochs <= 0:
            return
        from henryvc_training import listen

        try:
            listen.set_cache(self.paths.root)
            listen.prepare(self._plan(), self.settings.asr)
        except Exception as exc:  # like a failed evaluation, this must not cost the training run
            log.warning("could not prepare the evaluations' scoring (%s: %s); the first evaluation does it",
                        type(exc).__name__, exc)

    def _plan(self) -> Any:
        """What every periodic evaluation listens to (listen.plan, as the evaluate stage's, but the short text)."""
        from henryvc_training import listen

        return listen.plan(self.paths, self.data_dir, self.settings.short_text, list(self.config.test_sentences),
                           periodic=True, voice_scores=self.settings.voice_scores)

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
        """Synthesize the test sentences and the held-out clips' texts; measure, transcribe and log them."""
        from henryvc.core.verdict import listener_metrics
        from henryvc_training import listen, synth

        started = time.perf_counter()
        model = trainer._get_model()
        out_dir = self.paths.checkpoints / "evaluations" / f"epoch_{epoch:04d}"
        planned = self._plan()
        heard = listen.listen(model, planned.todo, self.settings.max_decoder_steps, out_dir, self.settings.asr,
                              self.settings.min_chars_per_second, planned.references, planned.texts)
        step = trainer.total_steps_done
        for key, alignment in heard.alignments.items():
            synth.save_alignment_png(alignment, out_dir / f"{key}_alignment.png",
                                     f"epoch {epoch}: {heard.utterances[key]['text']}")
        for index, _text in enumerate(self.config.test_sentences):
            trainer.dashboard_logger.test_audios(step, {f"{index}-audio": heard.wavs[f"sentence_{index}"]},
                                                 model.ap.sample_rate)
        scores = {**listener_metrics(heard.utterances), **heard.asr, **heard.voice}
        for key in listen.EVAL_SCALARS:
            if common.is_finite_number(scores.get(key)):
                trainer.dashboard_logger.add_scalar(f"Evaluation/{key}", float(scores[key]), step)
        for key, u in heard.utterances.items():
            if not u["stopped_by_itself"]:
                log.warning("epoch %d: %s %r ran to max_decoder_steps=%d (the model does not stop yet)",
                            epoch, key, u["text"], self.settings.max_decoder_steps)
        rows = [{"text": u["text"], "seconds": u["seconds"], "decoder_steps": u["decoder_steps"],
                 "hit_max_decoder_steps": not u["stopped_by_itself"]}
                for key, u in heard.utterances.items() if key.startswith("sentence_")]
        train = dict(trainer.keep_avg_train.avg_values) if trainer.keep_avg_train is not None else {}
        evaluation = dict(trainer.keep_avg_eval.avg_values) if trainer.keep_avg_eval is not None else {}
        losses = {k: round(float(v), 5) for k, v in (evaluation or train).items()
                  if k in ("avg_loss", "avg_align_error", "avg_stopnet_loss", "avg_decoder_loss", "avg_postnet_loss")}
        summary = {"epoch": epoch, "step": step, "sentences": rows, "losses": losses, "scores": scores,
                   "utterances": heard.utterances, "audio": str(out_dir.relative_to(self.paths.run_dir)),
                   "synthesis_seconds": round(heard.synthesis_seconds, 3), "asr_seconds": round(heard.asr_seconds, 3),
                   "voice_seconds": round(heard.voice_seconds, 3),
                   # the warm-up's wall seconds so far (Henry's side, in the background beside training)
                   "preparation_seconds": round(listen.preparation_seconds(), 3),
                   "seconds": round(time.perf_counter() - started, 3)}  # the whole evaluation but its README lines
        with (self.paths.logs / "evaluations.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(summary) + "\n")
        lines = [f"Step {step}; audio and alignments in `{summary['audio']}/`.", "", *listen.table(heard.utterances)]
        if "asr_wer" in scores:
            lines += ["", f"Intelligibility: WER {scores['asr_wer']:.3f} on the synthesized eval clips, "
                          f"{scores['asr_wer_reference']:.3f} on their real recordings "
                          f"(gap {scores['asr_wer_gap']:+.3f})."]
        if "speaker_similarity" in scores:
            lines += ["", f"Voice: speaker similarity to Henry's {len(planned.references)} reference clips "
                          f"{scores['speaker_similarity']:.3f} on average (lowest {scores['speaker_similarity_min']:.3f})"
                          + (f"; against his held-out recordings: mel-cepstral distance {scores['mcd']:.2f} dB"
                             if "mcd" in scores else "")
                          + (f", log-F0 RMSE {scores['log_f0_rmse']:.3f}" if "log_f0_rmse" in scores else "") + "."]
        lines += ["", "Losses: " + ", ".join(f"{k.removeprefix('avg_')} {v}" for k, v in losses.items())]
        common.append_readme(self.paths, f"Evaluation at epoch {epoch}", lines)
        log.info("evaluation at epoch %d: %s%s", epoch,
                 "; ".join(f"{u['text']!r} {u['seconds']} s" for u in heard.utterances.values()),
                 f"; ASR WER {scores['asr_wer']:.3f} (recordings {scores['asr_wer_reference']:.3f})"
                 if "asr_wer" in scores else "")
