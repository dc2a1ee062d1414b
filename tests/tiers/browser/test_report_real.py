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


def periodic_records(project: Path) -> list[dict]:
    log = project / "training_runs" / tf.RUN / "logs" / "evaluations.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_periodic_evaluations_carry_the_voice_scores_of_the_final_one(trained):
    """A periodic evaluation scores each clip as the evaluate stage does (the same listen.plan and
    listen.listen): speaker similarity everywhere, the distances to Henry's recording for held-out clips;
    both kinds share Henry's side (his reference embedding, the recognizer and its transcripts)."""
    from henryvc_training import listen, quality, voice

    records = periodic_records(trained)
    assert [r["epoch"] for r in records] == [1, 2]
    final = json.loads((trained / "training_runs" / tf.RUN / "samples" / "utterances.json").read_text())
    metrics = json.loads((trained / "training_runs" / tf.RUN / "metrics.json").read_text())
    held = sorted(k for k in final if k.startswith("eval_"))
    for record in records:
        utterances = record["utterances"]
        assert sorted(utterances) == sorted(k for k in final if k != "short_text")  # the final's, but the short text
        for key, u in utterances.items():
            assert -1.0 <= u["speaker_similarity"] <= 1.0, (key, u)
            assert ("mcd" in u) == (key in held) == ("log_f0_rmse" in u) == ("recording_speaker_similarity" in u)
        for key in held:
            assert utterances[key]["mcd"] > 0 and utterances[key]["recording_transcript"] == final[key]["recording_transcript"]
        scores = record["scores"]
        assert scores["speaker_similarity"] == pytest.approx(
            sum(u["speaker_similarity"] for u in utterances.values()) / len(utterances), abs=1e-4)
        # Henry's held-out recordings against his reference clips: the same embeddings as the final evaluation's.
        assert scores["speaker_similarity_reference"] == metrics["speaker_similarity_reference"]
        assert scores["mcd"] == pytest.approx(sum(utterances[k]["mcd"] for k in held) / len(held), abs=1e-3)
        assert record["voice_seconds"] > 0
    # Recomputed from the clip the evaluation saved and Henry's recording: the record's numbers are that clip's.
    record, key = records[-1], held[0]
    clip = trained / "training_runs" / tf.RUN / record["audio"] / f"{key}.wav"
    samples, rate = voice.read(clip)
    text = record["utterances"][key]["text"]
    samples = samples[: int((quality.characters(text) / 5.0 + listen.ASR_MARGIN_SECONDS) * rate)]
    again = voice.distances(voice.to_rate(samples, rate), voice.to_rate(*voice.read(trained / "voice_data" / "wavs" /
                                                                                    f"{key.removeprefix('eval_')}.wav")))
    assert again["mcd"] == pytest.approx(record["utterances"][key]["mcd"], abs=0.05)
    # Henry's side was computed once, by the training, and the evaluate stage found it: one embedding per
    # recording (5 reference clips + the held-out ones), one transcript per held-out recording, all by one
    # recognizer (periodic and final evaluations' language models are the same: the short text is in both).
    cache = trained / ".henryvc"
    assert len(list((cache / "voice-embeddings").glob("*.json"))) == 5 + len(held)
    transcripts = sorted((cache / "recording-transcripts").glob("*.json"))
    assert len(transcripts) == len(held) and len({t.stem.split("-")[1] for t in transcripts}) == 1


def test_report_of_a_real_run_plays_in_chromium(trained, tmp_path):
    from selenium.webdriver.support.ui import Select

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
        # A periodic evaluation's clips carry the same scores (its record's), shown when the selector picks it.
        record = periodic_records(trained)[0]
        Select(driver.find_element("id", "evaluation")).select_by_visible_text(f"epoch 1 (step {record['step']})")
        cell = f"tr[data-key='{held[0]}'] td.clip"
        assert driver.find_element("css selector", f"{cell} audio").get_attribute("src").endswith(
            f"/epoch_1/{held[0]}.wav")
        shown = driver.find_element("css selector", f"{cell} .scores").text
        u = record["utterances"][held[0]]
        assert f" · similarity {u['speaker_similarity']:.3f} · MCD {u['mcd']:.2f} dB" in shown, (shown, u)
        assert "similarity " in driver.find_element("css selector", "tr[data-key='sentence_0'] td.clip .scores").text
        assert plot_marks(driver) and all(plot_marks(driver))
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    finally:
        driver.quit()
