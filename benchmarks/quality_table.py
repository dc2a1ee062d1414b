"""The table docs/quality.md shows: each voice score for Henry's recordings, another take of his voice, another
voice, an untrained model and a trained demo model, and what each score cost.

"Henry" is the espeak-ng sample voice (henryvc_training.sample_data, `en-us`): reference clips are the first
5 clips, the held-out clips the last 6. Each row says the held-out clips' texts and is scored the way the
evaluate stage scores a model (henryvc_training.listen.score and voice_scores): speaker similarity to the
reference clips, WER gap to the recordings, mel-cepstral distance and log-F0 RMSE against the recordings.

Usage: python benchmarks/quality_table.py [--demo PROJECT] [--json]
  --demo: a project whose run is trained (its delivered model speaks the held-out texts: "demo model" row).
Not a test: tests/training/test_voice.py asserts the thresholds on the same kinds of audio.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RATE = 22050


def espeak(text: str, voice: str, speed: int, out: Path) -> np.ndarray:
    """TEXT spoken by espeak-ng VOICE at SPEED words per minute, at RATE."""
    from henryvc_training import voice as scores

    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(out), text], check=True)
    wav, rate = scores.read(out)
    return scores.to_rate(wav, rate, RATE)


def score_row(todo: list[Any], wavs: dict[str, np.ndarray], references: list[Path]) -> dict[str, Any]:
    """The evaluate stage's scores of WAVS (key -> audio at RATE) for the items TODO, with their costs."""
    from henryvc_training import listen

    utterances: dict[str, dict[str, Any]] = {i.key: {} for i in todo}
    started = time.perf_counter()
    asr = listen.score(todo, wavs, RATE, 5.0, utterances)
    asr_seconds = time.perf_counter() - started
    started = time.perf_counter()
    voice = listen.voice_scores(todo, wavs, RATE, 5.0, utterances, references)
    voice_seconds = time.perf_counter() - started
    return {"speaker_similarity": voice.get("speaker_similarity"), "asr_wer_gap": asr.get("asr_wer_gap"),
            "mcd": voice.get("mcd"), "log_f0_rmse": voice.get("log_f0_rmse"),
            "asr_seconds": round(asr_seconds, 2), "voice_seconds": round(voice_seconds, 2),
            "audio_seconds": round(sum(len(w) for w in wavs.values()) / RATE, 2)}


def table(base: Path, demo: Path | None) -> dict[str, Any]:
    """Every row of the table, measured on sample data made in BASE."""
    sys.path.insert(0, str(REPO))
    from henryvc_training import listen, sample_data
    from henryvc_training import voice as scores
    from tests.helpers.listening import speak, untrained_model

    data = base / "voice"
    sample_data.make_dataset(data, 16)
    lines = [line.split("|") for line in (data / "metadata.csv").read_text().splitlines()]
    references = [data / "wavs" / f"{clip}.wav" for clip, *_ in lines[:5]]
    todo = [listen.Item(f"eval_{clip}", text, data / "wavs" / f"{clip}.wav") for clip, text, _ in lines[-6:]]
    rows: dict[str, dict[str, np.ndarray]] = {
        "Henry's recordings (held-out clips)": {i.key: scores.to_rate(*scores.read(i.recording), RATE)
                                                for i in todo if i.recording},
        "Henry's voice, another take (espeak-ng en-us, 175 wpm)": {
            i.key: espeak(i.text, "en-us", 175, base / f"{i.key}_take.wav") for i in todo},
        "another voice (espeak-ng en-us+f3)": {i.key: espeak(i.text, "en-us+f3", 150, base / f"{i.key}_f3.wav")
                                               for i in todo},
    }
    model = untrained_model()
    rows["untrained model (debug config, 60 decoder steps)"] = {i.key: np.asarray(speak(model, i.text, 60).wav)
                                                                for i in todo}
    rng = np.random.default_rng(0)
    rows["white noise"] = {i.key: rng.normal(0, 0.1, len(w)).astype(np.float32)
                           for i, w in zip(todo, rows["Henry's recordings (held-out clips)"].values(), strict=True)}
    if demo is not None:
        from henryvc_training import common, evaluate

        paths = common.run_paths(demo, common.load_params(demo))
        trained, _ = evaluate.load_model(paths)
        rows[f"demo model ({paths.name}, {trained.config.max_decoder_steps} steps cap)"] = {
            i.key: np.asarray(speak(trained, i.text, 500).wav) for i in todo}
    return {name: score_row(todo, wavs, references) for name, wavs in rows.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", type=Path, help="a project whose run is trained (the demo model row)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = table(Path(tmp), args.demo.resolve() if args.demo else None)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print("| audio | speaker similarity | WER gap | MCD (dB) | log-F0 RMSE | ASR s | voice s | audio s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, row in result.items():
        print(f"| {name} | " + " | ".join("-" if row[k] is None else str(row[k]) for k in
                                          ("speaker_similarity", "asr_wer_gap", "mcd", "log_f0_rmse", "asr_seconds",
                                           "voice_seconds", "audio_seconds")) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
