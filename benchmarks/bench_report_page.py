"""How fast the listening page of `henryvc report` opens in chromium: 10 runs x 20 utterances (budget: < 1 s).

Builds the page the way `henryvc report` does (henryvc.ops.report.listening_data + report_page.render, the real
Vega bundle and loss specs) for RUNS synthetic runs of UTTERANCES clips each at a final and a periodic
evaluation (1 s WAVs, every clip scored), opens it from file:// in Debian's headless chromium and reads the
browser's own navigation timing: DOMContentLoaded, the load event (every script run, the first evaluation's
sources and scores set) and when every <audio> has its metadata. ROUNDS fresh page loads, median reported.

Usage: python benchmarks/bench_report_page.py [--runs 10] [--utterances 20] [--rounds 3] [--json]
Not a test: timings depend on the machine; BENCHMARKS.md records what was measured where.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _wav(path: Path, seconds: float, freq: float) -> None:
    import numpy as np

    rate = 22050
    t = np.arange(int(seconds * rate)) / rate
    data = (6000 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(data.tobytes())


def build(base: Path, runs: int, utterances: int) -> tuple[Path, int]:
    """The page of RUNS synthetic runs in BASE/page; its path and how many audio files it holds."""
    import vl_convert

    from henryvc.ops import report, report_page

    data_runs = []
    names = [f"henry_v2_debug_20261206_{10 + i:02d}0000" for i in range(runs)]
    for i, (name, legend) in enumerate(zip(names, report.legends(names), strict=True)):
        run = report.RunData(name, name, base / name, "failed", legend=legend,
                             losses=[{"step": str(s), "loss": str(3.0 / s + i / 10)} for s in range(1, 200)])
        for evaluation in ("final", "epoch_25"):
            for u in range(utterances):
                key = f"sentence_{u}" if u < utterances // 2 else f"eval_henry_{u:04d}"
                wav = base / name / evaluation / f"{key}.wav"
                _wav(wav, 1.0, 180 + 20 * i + u)
                run.clips.setdefault(evaluation, {})[key] = {
                    "wav": wav, "text": f"Sentence number {u} of the evaluation.",
                    "scores": {"wer": 0.1 * i, "seconds": 1.0, "speaker_similarity": 0.5 + 0.04 * i, "mcd": 5.0 + u,
                               "log_f0_rmse": 0.2}}
        data_runs.append(run)
    out = base / "page"
    out.mkdir()
    data, count = report.listening_data(data_runs, out)
    html = report_page.render(data_runs, report._metric_rows(data_runs), report.loss_specs(data_runs), data,
                              vl_convert.javascript_bundle(), page_id="bench")
    (out / "index.html").write_text(html, encoding="utf-8")
    return out / "index.html", count


def open_times(page: Path, rounds: int) -> list[dict[str, float]]:
    """Navigation timing of ROUNDS fresh loads of PAGE in headless chromium (milliseconds)."""
    sys.path.insert(0, str(REPO))
    from tests.helpers.browser import browser

    found = []
    with tempfile.TemporaryDirectory() as downloads:
        driver = browser(Path(downloads))
        try:
            for _ in range(rounds):
                driver.get("about:blank")
                started = time.perf_counter()
                driver.get(page.as_uri())  # returns after the load event
                loaded = (time.perf_counter() - started) * 1000
                timing = driver.execute_script(
                    "const t=performance.getEntriesByType('navigation')[0];"
                    "return [t.domContentLoadedEventEnd, t.loadEventEnd]")
                while driver.execute_script("return Array.from(document.querySelectorAll('audio[preload=metadata]'))"
                                            ".some(a => a.getAttribute('src') && a.readyState < 1)"):
                    time.sleep(0.01)
                metadata = (time.perf_counter() - started) * 1000
                errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
                if errors:
                    raise SystemExit(f"the page logged errors: {errors[:3]}")
                found.append({"dom_content_loaded_ms": round(timing[0], 1), "load_event_ms": round(timing[1], 1),
                              "driver_get_ms": round(loaded, 1), "all_audio_metadata_ms": round(metadata, 1)})
        finally:
            driver.quit()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--utterances", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        page, count = build(Path(tmp), args.runs, args.utterances)
        built = time.perf_counter() - started
        size = page.stat().st_size
        rounds = open_times(page, args.rounds)
    result: dict[str, Any] = {"runs": args.runs, "utterances": args.utterances, "audio_files": count,
                              "html_bytes": size, "build_seconds": round(built, 2), "rounds": rounds}
    for key in rounds[0]:
        result[f"median_{key}"] = statistics.median(r[key] for r in rounds)
    print(json.dumps(result, indent=2) if args.json else
          "\n".join(f"{k}: {v}" for k, v in result.items() if k != "rounds"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
