"""Stage `evaluate`: judge the trained run against params.yaml `criteria`.

Writes metrics.json (DVC metrics), plots/ (loss curves and the latest alignment, DVC plots), samples/
(the short test text as audio), the verdict into run.json and a dated section of the run's README,
and a SUCCESS marker when every criterion is met.
Usage (from the project root): python -m henryvc_training.evaluate
"""

from __future__ import annotations

import argparse
import csv
import logging
from pathlib import Path
from typing import Any

from henryvc.core import atomic, published, record, review
from henryvc.core.verdict import Verdict, by_fix, judge, listener_metrics, problem_line
from henryvc.errors import BadInput
from henryvc.exits import entry_point
from henryvc_training import common
from henryvc_training.common import RunPaths

log = logging.getLogger("henryvc.training.evaluate")

LOSS_COLUMNS = ("loss", "decoder_loss", "postnet_loss", "stopnet_loss", "align_error")
SUCCESS_MARKER = "SUCCESS"
def loss_metrics(paths: RunPaths) -> dict[str, Any]:
    """Total loss, alignment error and stopnet loss of the last epoch (eval averages when there are any)."""
    epochs = common.read_jsonl(paths.epoch_losses)
    if not epochs:
        return {}
    last = epochs[-1]
    source = "eval" if "avg_loss" in (last.get("eval") or {}) else "train"
    values = last[source]
    return {"total_loss": values.get("avg_loss"), "align_error": values.get("avg_align_error"),
            "stopnet_loss": values.get("avg_stopnet_loss"), "loss_source": f"{source} average of epoch {last['epoch']}",
            "epochs": last["epoch"] + 1, "steps": last["step"]}


def non_finite_losses(paths: RunPaths) -> list[str]:
    """Names of the losses that were NaN/inf at any step or in any epoch average."""
    bad: set[str] = set()
    for row in common.read_jsonl(paths.step_losses):
        bad.update(k for k, v in row.items() if k.endswith(("loss", "error")) and not common.is_finite_number(v))
    for row in common.read_jsonl(paths.epoch_losses):
        for part in ("train", "eval"):
            bad.update(k for k, v in (row.get(part) or {}).items()
                       if k.endswith(("loss", "error")) and not common.is_finite_number(v))
    return sorted(bad)


def model_config(paths: RunPaths) -> Any:
    """The trained model's configuration (checkpoints/config.json, Coqui's defaults filled in)."""
    from TTS.tts.configs.tacotron2_config import Tacotron2Config

    config = Tacotron2Config()
    config.load_json(str(paths.checkpoints / "config.json"))
    return config


def load_model(paths: RunPaths, config: Any | None = None) -> tuple[Any, Path]:
    """The run's delivered model (best_model.pth, else the last checkpoint) and its file."""
    from TTS.tts.models.tacotron2 import Tacotron2

    candidates = [paths.checkpoints / "best_model.pth"]
    from henryvc_training.checkpoints import last_checkpoint

    last = last_checkpoint(paths.checkpoints)
    if last is not None:
        candidates.append(last)
    chosen = next((c for c in candidates if c.exists()), None)
    if chosen is None:
        raise BadInput(f"{paths.checkpoints} holds no checkpoint: train the run first (`dvc repro`)")
    config = model_config(paths) if config is None else config
    model = Tacotron2(config)
    model.load_checkpoint(config, str(chosen), eval=True)
    return model, chosen


def write_loss_plots(paths: RunPaths) -> None:
    """plots/loss.csv (for `dvc plots`) and plots/loss.png from the per-step loss lines."""
    from henryvc_training.compare import read_step_losses

    rows = read_step_losses(paths.run_dir)  # a resumed run's re-trained steps: the later row wins
    paths.plots.mkdir(parents=True, exist_ok=True)
    with (paths.plots / "loss.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("step",) + LOSS_COLUMNS)
        for row in rows:
            writer.writerow([row["step"]] + [row.get(c, "") for c in LOSS_COLUMNS])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(LOSS_COLUMNS), 1, figsize=(8, 2.2 * len(LOSS_COLUMNS)), sharex=True)
    for ax, column in zip(axes, LOSS_COLUMNS):
        points = [(r["step"], r[column]) for r in rows if column in r]
        if points:
            ax.plot(*zip(*points), marker="." if len(points) < 50 else None)
        ax.set_ylabel(column, fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("step")
    fig.suptitle(f"{paths.name}: training losses")
    fig.tight_layout()
    fig.savefig(paths.plots / "loss.png")
    plt.close(fig)


def listen_metrics(root: Path, paths: RunPaths, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Synthesize the evaluation texts with the delivered model, measure and transcribe them; save their
    audio in samples/ and the short text's alignment; return (metrics, utterances)."""
    from henryvc_training import listen, synth

    evaluation = params.get("evaluation") or {}
    criteria = params.get("criteria") or {}
    text = str(evaluation.get("short_text", listen.SHORT_TEXT))
    max_steps = int(evaluation.get("max_decoder_steps", 500))
    data_dir = root / (params.get("data") or {}).get("dir", "voice_data")
    config = model_config(paths)
    asr = bool(evaluation.get("asr", True))
    planned = listen.plan(paths, data_dir, text, list(config.test_sentences or []), periodic=False,
                          voice_scores=bool(evaluation.get("voice_scores", True)))
    # Henry's side of the scores (his recordings' transcripts and embeddings) is computed once per machine and
    # data version, by whichever evaluation comes first: the training's periodic ones, usually. What is not
    # cached yet (and the encoder and recognizer) is computed here after synthesis, in the scores' own time.
    listen.set_cache(root)
    model, chosen = load_model(paths, config)
    heard = listen.listen(model, planned.todo, max_steps, paths.samples, asr,
                          float(criteria.get("min_chars_per_second", 5.0)), planned.references, planned.texts)
    synth.save_alignment_png(heard.alignments["short_text"], paths.plots / "alignment.png", f"{chosen.name}: {text}")
    short = heard.utterances["short_text"]
    for key, u in heard.utterances.items():
        if not u["stopped_by_itself"]:
            log.warning("%s %r ran to max_decoder_steps=%d: the model does not predict the end yet", key, u["text"],
                        max_steps)
    metrics = {"short_text_seconds": short["seconds"], "short_text_decoder_steps": short["decoder_steps"],
               "short_text_hit_max_decoder_steps": not short["stopped_by_itself"], "model_file": chosen.name,
               **heard.asr, **heard.voice, "eval_synthesis_seconds": round(heard.synthesis_seconds, 3),
               "eval_asr_seconds": round(heard.asr_seconds, 3), "speaker_reference_clips": len(planned.references)}
    # Not in metrics.json: `henryvc recreate` compares every metric but eval_synthesis/asr_seconds.
    metrics["_voice_seconds"] = round(heard.voice_seconds, 3)
    return metrics, heard.utterances


def log_tensorboard(paths: RunPaths, metrics: dict[str, Any]) -> None:
    """The final evaluation's scores as TensorBoard scalars in samples/tensorboard (the evaluate stage's
    output; training's tensorboard/ is the train stage's and must not change after it)."""
    from torch.utils.tensorboard import SummaryWriter

    from henryvc_training import listen

    writer = SummaryWriter(str(paths.samples / "tensorboard"))
    try:
        step = int(metrics.get("steps") or 0)
        for key in listen.EVAL_SCALARS:
            if common.is_finite_number(metrics.get(key)):
                writer.add_scalar(f"FinalEvaluation/{key}", float(metrics[key]), step)
    finally:
        writer.close()


def _json_safe(metrics: dict[str, Any]) -> dict[str, Any]:
    """Non-finite floats as null (has_nan says why): metrics.json stays strict JSON for DVC and others."""
    return {k: (None if isinstance(v, float) and not common.is_finite_number(v) else v) for k, v in metrics.items()}


def readme_lines(verdict: Verdict, metrics: dict[str, Any], utterances: dict[str, Any] | None = None) -> list[str]:
    """The README section body: the verdict, a criteria table, each utterance, the reasons and what to try."""
    from henryvc_training import listen

    lines = [f"**{verdict.status.upper()}**", "", "| criterion | value | threshold | passed |", "|---|---|---|---|"]
    for item in verdict.criteria:
        value = "not measured" if item.value is None else f"{item.value:.4g}"
        lines.append(f"| {item.metric} {getattr(item, 'op', '<')} threshold | {value} | {item.threshold:g} | "
                     f"{'-' if item.passed is None else ('yes' if item.passed else 'no')} |")
    if verdict.problems:  # each distinct problem once, under its fix (every line: run.json verdict.reasons)
        lines += ["", "What to try: each problem once, with the utterances it hit, under the team's troubleshooting "
                      "step (with this run's current values)."]
        for fix, problems in by_fix(verdict.problems):
            lines += ["", *(f"- {problem_line(p)}" for p in problems)]
            if fix:
                lines.append(f"  - **fix:** {fix}")
    else:
        lines += ["", *(f"- {reason}" for reason in verdict.reasons)]
    lines += [f"- {note}" for note in verdict.notes]
    if utterances:
        lines += ["", *listen.table(utterances)]
    if "asr_wer" in metrics:
        lines += ["", f"Intelligibility (pocketsphinx, language model from the evaluation texts): WER "
                      f"{metrics['asr_wer']:.3f} on the synthesized eval clips against "
                      f"{metrics['asr_wer_reference']:.3f} "
                      f"on their real recordings (gap {metrics['asr_wer_gap']:+.3f}; CER {metrics['asr_cer']:.3f} "
                      f"vs {metrics['asr_cer_reference']:.3f})."]
    if "speaker_similarity" in metrics:
        lines += ["", f"Voice (henryvc_training.voice): speaker similarity to Henry's {metrics.get('speaker_reference_clips')} "
                      f"reference clips {metrics['speaker_similarity']:.3f} on average (lowest "
                      f"{metrics.get('speaker_similarity_min', 0):.3f}; his held-out recordings "
                      f"{metrics.get('speaker_similarity_reference', float('nan')):.3f}); against those recordings: "
                      f"mel-cepstral distance {metrics.get('mcd', float('nan')):.2f} dB, log-F0 RMSE "
                      f"{metrics.get('log_f0_rmse', float('nan')):.3f}."]
    lines += ["", f"Trained {metrics.get('steps', '?')} steps in {metrics.get('epochs', '?')} epochs; "
                  f"losses: {metrics.get('loss_source', 'none recorded')}; "
                  f"evaluated with {metrics.get('model_file', '-')}."]
    return lines


def evaluate(root: Path) -> Verdict:
    """Run the stage in project ROOT; return the verdict (also written to the run record and README)."""
    params = common.load_params(root)
    paths = common.run_paths(root, params)
    criteria = params.get("criteria") or {}
    rec = record.load(paths.run_dir)
    training = rec.extra.get("training") or {}
    metrics: dict[str, Any] = {**loss_metrics(paths)}
    nan = non_finite_losses(paths)
    metrics.update(has_nan=bool(nan), nan_losses=nan, training_finished=bool(training.get("finished")))
    write_loss_plots(paths)
    utterances: dict[str, Any] = {}
    try:
        heard, utterances = listen_metrics(root, paths, params)
        metrics.update(heard)
    except BadInput:
        raise
    except Exception as exc:  # the verdict is still written: without the measurement it is incomplete
        log.error("evaluation synthesis failed: %s: %s", type(exc).__name__, exc, exc_info=True)
    config = common.read_config(paths)
    # production: success needs a review
    verdict = review.hold(judge(metrics, criteria, config, utterances), paths.run_dir, params)
    metrics.update(listener_metrics(utterances))
    metrics["verdict"] = verdict.status
    timing = {"synthesis": metrics.get("eval_synthesis_seconds"), "asr": metrics.get("eval_asr_seconds"),
              "voice": metrics.pop("_voice_seconds", None)}
    if utterances:
        atomic.write_json_atomic(paths.samples / "utterances.json", utterances)
        log_tensorboard(paths, metrics)
    atomic.write_json_atomic(paths.metrics, _json_safe(metrics))
    marker = paths.run_dir / SUCCESS_MARKER
    if verdict.status == "success":
        marker.write_text(f"{paths.name} met every criterion; see metrics.json\n", encoding="utf-8")
    else:
        marker.unlink(missing_ok=True)
    from datetime import datetime, timezone

    event = {"event": f"evaluated-{verdict.status}", "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    record.update(paths.run_dir, status=verdict.status, metrics=_json_safe(metrics), verdict=verdict.to_dict(),
                  history=rec.history + [event], evaluation_seconds=timing)
    common.append_readme(paths, f"Verdict: {verdict.status}", readme_lines(verdict, metrics, utterances))
    published.publish(root, paths.run_dir)  # metrics/run.json, plots/loss.csv...: what `dvc metrics diff` compares
    level = logging.INFO if verdict.status == "success" else logging.WARNING
    log.log(level, "verdict %s: %s", verdict.status, "; ".join(verdict.reasons))
    return verdict


@entry_point("evaluate")
def main(argv: list[str] | None = None) -> int:
    """Stage entry point (dvc.yaml: python -m henryvc_training.evaluate). A failed verdict is still exit 0."""
    parser = argparse.ArgumentParser(prog="python -m henryvc_training.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="project root (where dvc.yaml is)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    with common.stage_log(root, "evaluate"):
        verdict = evaluate(root)
    print(f"evaluate: {verdict.status}: " + "; ".join(verdict.reasons))
    for note in verdict.notes:
        print(f"  {note}")
    for item in verdict.criteria:
        shown = "not measured" if item.value is None else f"{item.value:.4g}"
        print(f"  {item.metric}: {shown} ({item.op} {item.threshold:g}: {item.passed})")
    for step in verdict.advice:
        print(f"  try: {step}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
