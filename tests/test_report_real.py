"""`henryvc report` on what the real train and evaluate stages write (tiny Coqui Tacotron2 on CPU): the
periodic evaluations' audio and alignments, the final sample, the loss table; the page in headless
chromium; and the evaluate stage's copies at DVC's stable paths."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.helpers import training as tf
from tests.helpers.browser import browser, plot_marks
from tests.helpers.project import scratch
from tests.helpers.report import load_all_audio

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def trained(request, tmp_path_factory) -> Path:
    """One tiny run trained and evaluated by the real `dvc repro`, with an evaluation every epoch."""
    base = scratch(request, tmp_path_factory, "report-real")
    data = tf.sample_data(base / "voice", clips=10)
    project = tf.make_project(base / "proj", data, params={"evaluation": {"every_epochs": 1, "max_decoder_steps": 40}})
    result = tf.dvc("repro", cwd=project, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return project


def test_evaluate_publishes_the_run_at_the_stable_paths(trained):
    run_dir = trained / "training_runs" / tf.RUN
    published = json.loads((trained / "metrics" / "run.json").read_text())
    assert published == json.loads((run_dir / "metrics.json").read_text())
    assert (trained / "plots" / "loss.csv").read_bytes() == (run_dir / "plots" / "loss.csv").read_bytes()
    assert (trained / "metrics" / "data.json").is_file() and (trained / "plots" / "alignment.png").is_file()
    assert "up to date" in tf.dvc("status", cwd=trained).stdout  # the copies are no stage's outputs
    shown = json.loads(tf.dvc("metrics", "show", "--json", cwd=trained).stdout)
    assert "metrics/run.json" in json.dumps(shown) and "training_runs" not in json.dumps(shown)


def test_report_of_a_real_run_plays_in_chromium(trained, tmp_path):
    out = tmp_path / "page"
    henryvc = str(Path(sys.executable).parent / "henryvc")
    made = tf.sh(henryvc, "report", tf.RUN, "--out", str(out), "--json", cwd=trained, check=False)
    assert made.returncode == 0, made.stdout + made.stderr
    result = json.loads(made.stdout)
    run_dir = trained / "training_runs" / tf.RUN
    evaluations = sorted((run_dir / "checkpoints" / "evaluations").glob("epoch_*"))
    assert len(evaluations) == 2  # 2 epochs, one evaluation each
    periodic = [w for e in evaluations for w in e.glob("*.wav")]
    final = sorted(p.stem for p in (run_dir / "samples").glob("*.wav"))
    held = [k for k in final if k.startswith("eval_")]
    assert final == sorted(["short_text", "sentence_0", *held]) and len(held) == 2
    assert result["audio_files"] == len(periodic) + len(final) + len(held)  # + Henry's recording of each held clip
    html = (out / "index.html").read_text()
    assert "epoch 1 (step " in html and "epoch 2 (step " in html and "Hello, I am Henry." in html
    driver = browser(tmp_path)
    try:
        driver.get((out / "index.html").as_uri())
        rows = [tr.get_attribute("data-key") for tr in driver.find_elements("css selector", "#listen tbody tr")]
        assert rows == ["short_text", "sentence_0", *sorted(held)]
        audio = load_all_audio(driver)
        assert len(audio) == len(rows) + len(held) and all(s[0] >= 1 and s[1] > 0 and s[2] is None for s in audio), audio
        # The evaluate stage's scores beside each clip of the final model: WER, duration, speaker similarity,
        # and for the held-out clips the distances to Henry's recording.
        scores = driver.find_element("css selector", f"tr[data-key='{held[0]}'] td.clip .scores").text
        assert scores.startswith("WER ") and " s · similarity " in scores and " · MCD " in scores, scores
        assert plot_marks(driver) and all(plot_marks(driver))
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    finally:
        driver.quit()
