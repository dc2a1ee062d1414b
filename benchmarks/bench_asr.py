"""Share of an evaluation spent on scoring (pocketsphinx + jiwer, and the voice scores): budget <= 10 % together.

Trains a tiny debug run on locally made sample data (or uses --root, a project whose run is trained),
then runs the real evaluate stage ROUNDS times (Henry's side of the scores cached by the training's
periodic evaluations, as after `dvc repro`), then once more without that cache (a machine that did not
train the run), and reads what the stage measured itself: the seconds spent transcribing and scoring
(metrics.json eval_asr_seconds, run.json evaluation_seconds.voice) against the stage's wall time (process
start to exit: imports, model load, synthesis, plots, README, record). The periodic evaluations the
training ran are reported the same way (logs/evaluations.jsonl: asr_seconds + voice_seconds vs the
evaluation's seconds).

Usage: python benchmarks/bench_asr.py [--root PROJECT] [--rounds 3] [--json]
Not a test: timings depend on the machine; docs/quality.md records what was measured where.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def trained_project(base: Path) -> Path:
    """A tiny trained run (prepare + train of the tests' TINY config, evaluation every 2 epochs)."""
    sys.path.insert(0, str(REPO))
    from tests.helpers import training as tf

    data = tf.sample_data(base / "voice", clips=10)
    root = tf.make_project(base / "proj", data, params={"evaluation": tf.TINY_PARAMS})
    for stage in ("prepare", "train"):
        subprocess.run([sys.executable, "-m", f"henryvc_training.{stage}", "--root", str(root)], check=True,
                       env=tf.env(), capture_output=True)
    return root


def evaluate_once(root: Path) -> dict[str, Any]:
    """One evaluate stage in a fresh process: its wall time and its own ASR/synthesis seconds."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "henryvc_training.evaluate", "--root", str(root)], check=True,
                   capture_output=True, env={**os.environ, "DVC_NO_ANALYTICS": "1"})
    wall = time.perf_counter() - started
    import yaml

    run = yaml.safe_load((root / "params.yaml").read_text())["run"]
    metrics = json.loads((root / "training_runs" / run / "metrics.json").read_text())
    spent = json.loads((root / "training_runs" / run / "run.json").read_text()).get("evaluation_seconds") or {}
    voice = spent.get("voice") or 0.0  # speaker similarity, MCD, log-F0 RMSE (run.json: not a compared metric)
    asr = metrics.get("eval_asr_seconds") or 0.0
    return {"wall_seconds": round(wall, 2), "asr_seconds": metrics.get("eval_asr_seconds"), "voice_seconds": voice,
            "synthesis_seconds": metrics.get("eval_synthesis_seconds"),
            "utterances": metrics.get("utterances_checked"),
            "asr_share": round(asr / wall, 4) if asr else None, "voice_share": round(voice / wall, 4),
            "scoring_share": round((asr + voice) / wall, 4)}


def periodic(root: Path) -> list[dict[str, Any]]:
    """The training's periodic evaluations: ASR seconds against the evaluation's synthesis + ASR seconds."""
    import yaml

    run = yaml.safe_load((root / "params.yaml").read_text())["run"]
    rows = []
    log = root / "training_runs" / run / "logs" / "evaluations.jsonl"
    for line in log.read_text().splitlines() if log.exists() else []:
        row = json.loads(line)
        # The whole evaluation (synthesis, scoring, alignment plots, TensorBoard) where the run recorded it.
        total = row.get("seconds") or (row.get("synthesis_seconds") or 0) + (row.get("asr_seconds") or 0)
        scoring = (row.get("asr_seconds") or 0) + (row.get("voice_seconds") or 0)
        rows.append({"epoch": row["epoch"], "asr_seconds": row.get("asr_seconds"),
                     "voice_seconds": row.get("voice_seconds"), "evaluation_seconds": round(total, 3),
                     "asr_share": round(row["asr_seconds"] / total, 4) if total else None,
                     "scoring_share": round(scoring / total, 4) if total else None,
                     "speaker_similarity": (row.get("scores") or {}).get("speaker_similarity"),
                     # the training's warm-up (Henry's side, beside the epochs before it), wall seconds so far
                     "preparation_seconds": row.get("preparation_seconds")})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, help="a project whose params.yaml run is trained (default: train one)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="henryvc-bench-asr-") as tmp:
        root = args.root.resolve() if args.root else trained_project(Path(tmp))
        rounds = [evaluate_once(root) for _ in range(args.rounds)]
        # A machine that did not train the run (nor evaluate it): Henry's side is computed by the stage itself.
        for cache in ("voice-embeddings", "recording-transcripts"):
            shutil.rmtree(root / ".henryvc" / cache, ignore_errors=True)
        cold = evaluate_once(root)
        result = {"rounds": rounds, "cold": cold, "periodic": periodic(root),
                  "median_asr_share": statistics.median(r["asr_share"] for r in rounds if r["asr_share"] is not None),
                  "median_scoring_share": statistics.median(r["scoring_share"] for r in rounds),
                  "load_average": os.getloadavg(), "cpus": os.cpu_count()}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for label, r in [*((f"round {i + 1}", r) for i, r in enumerate(rounds)), ("no cache", cold)]:
            print(f"evaluate stage, {label}: {r['wall_seconds']} s wall, ASR {r['asr_seconds']} s "
                  f"({100 * (r['asr_share'] or 0):.1f} %), voice scores {r['voice_seconds']} s "
                  f"({100 * r['voice_share']:.1f} %), synthesis {r['synthesis_seconds']} s, "
                  f"{r['utterances']} utterances")
        for r in result["periodic"]:
            print(f"periodic evaluation at epoch {r['epoch']}: ASR {r['asr_seconds']} s + voice {r['voice_seconds']} s "
                  f"of {r['evaluation_seconds']} s ({100 * (r['scoring_share'] or 0):.1f} %; ASR alone "
                  f"{100 * (r['asr_share'] or 0):.1f} %), speaker similarity {r['speaker_similarity']}; the training's "
                  f"warm-up of Henry's side before it: {r['preparation_seconds']} s beside the epochs")
        print(f"median scoring share of the evaluate stage (ASR + voice): {100 * result['median_scoring_share']:.1f} % "
              f"(budget 10 %); ASR alone {100 * result['median_asr_share']:.1f} %; "
              f"load average {result['load_average'][0]:.1f} on {result['cpus']} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
