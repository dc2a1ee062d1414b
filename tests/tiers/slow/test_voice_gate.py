"""The voice gate through the real evaluate stage, on a really trained tiny run: intelligibility (the WER gap
to Henry's recordings) and speaker similarity, as the stable template sets them; each fails the run with its
line and fix, each passes under a lenient threshold (the threshold decides, not the model alone); the debug
template leaves them off and the verdict says so. The scores are measured either way."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from henryvc_training import evaluate, prepare, train, voice
from tests.helpers import training as tf
from tests.helpers.project import scratch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(request, tmp_path_factory) -> Path:
    """One tiny debug run, prepared and trained by the real stages (evaluated by each test)."""
    base = scratch(request, tmp_path_factory, "voice-gate")
    data = tf.sample_data(base / "voice", clips=10)
    project = tf.make_project(base / "proj", data, params={"evaluation": tf.TINY_PARAMS})
    assert prepare.main(["--root", str(project)]) == 0
    assert train.main(["--root", str(project)]) == 0
    return project


def template_criteria(variant: str) -> dict[str, Any]:
    criteria: dict[str, Any] = json.loads((tf.REPO / "configs" / f"henry_voice_v2_{variant}.json").read_text())["criteria"]
    return criteria


def evaluated(project: Path, criteria: dict[str, Any], variant: str = "debug",
              capsys: Any = None) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Run the evaluate stage with CRITERIA as the run config's own; (run.json, metrics.json, stage output)."""
    run_dir = project / "training_runs" / tf.RUN
    config = json.loads((run_dir / "config.json").read_text())
    config.update(criteria=criteria, variant=variant)
    (run_dir / "config.json").write_text(json.dumps(config, indent=2))
    assert evaluate.main(["--root", str(project)]) == 0
    printed = capsys.readouterr().out if capsys else ""
    return (json.loads((run_dir / "run.json").read_text()), json.loads((run_dir / "metrics.json").read_text()),
            printed)


def results(record: dict[str, Any]) -> dict[str, Any]:
    return {c["metric"]: c for c in record["verdict"]["criteria"]}


def test_stable_gate_fails_a_run_that_is_unintelligible_and_not_henry(trained, capsys):
    stable = template_criteria("stable")
    assert stable == {"max_asr_wer_gap": 0.25, "min_speaker_similarity": 0.8}  # docs/quality.md's calibration
    record, metrics, printed = evaluated(trained, stable, "stable", capsys)
    checks = results(record)
    assert checks["asr_wer_gap"] == {"metric": "asr_wer_gap", "value": metrics["asr_wer_gap"], "threshold": 0.25,
                                     "passed": False, "op": "<="}
    assert checks["speaker_similarity"]["passed"] is False and checks["speaker_similarity"]["op"] == ">="
    assert metrics["asr_wer_gap"] > 0.25 and metrics["speaker_similarity"] < 0.8
    # Henry's own held-out recordings are far above the threshold the model misses: the score tells voices apart.
    assert metrics["speaker_similarity_reference"] >= 0.85 and metrics["speaker_reference_clips"] == 5
    assert record["status"] == "failed" and record["verdict"]["notes"] == []
    problems = {p["check"]: p for p in record["verdict"]["problems"]}
    assert problems["asr_wer_gap"]["problem"].startswith(
        f"intelligibility: the recognizer's WER on the synthesis is {metrics['asr_wer_gap']:.3f} above")
    assert problems["asr_wer_gap"]["fix"].startswith("raise `ga_alpha`")
    assert problems["speaker_similarity"]["problem"] == (
        f"speaker similarity: the synthesis sounds like Henry's reference clips {metrics['speaker_similarity']:.3f} "
        f"on average, {0.8 - metrics['speaker_similarity']:.3f} below 0.8 (his own held-out recordings: "
        f"{metrics['speaker_similarity_reference']:.3f})")
    assert problems["speaker_similarity"]["fix"] == ("train longer on Henry's clips only: more `epochs` or a continued "
                                                     "run (now 2); check voice_data holds no other speaker")
    assert "speaker_similarity: " in printed and "(>= 0.8: False)" in printed
    readme = (trained / "training_runs" / tf.RUN / "README.md").read_text()
    assert f"- {problems['speaker_similarity']['problem']}" in readme
    # The reference-based distances, per held-out clip (what the page shows beside each clip).
    utterances = json.loads((trained / "training_runs" / tf.RUN / "samples" / "utterances.json").read_text())
    clips = [u for key, u in utterances.items() if key.startswith("eval_")]
    assert len(clips) == 2 and all(u["mcd"] > 3.0 and u["recording_speaker_similarity"] >= 0.85 for u in clips)
    assert all(0.0 <= u["speaker_similarity"] < 0.8 for u in utterances.values())


def test_lenient_thresholds_pass_the_same_scores(trained):
    record, metrics, _ = evaluated(trained, {"max_asr_wer_gap": 1.0, "min_speaker_similarity": 0.3}, "stable")
    checks = results(record)
    assert checks["asr_wer_gap"]["passed"] is True and checks["speaker_similarity"]["passed"] is True
    assert not {"asr_wer_gap", "speaker_similarity"} & {p["check"] for p in record["verdict"]["problems"]}
    assert record["status"] == "failed"  # the tiny run still fails the loss and listener checks


def test_debug_template_leaves_the_voice_gate_off_and_the_verdict_says_so(trained, capsys):
    debug = template_criteria("debug")
    assert debug == {"max_asr_wer_gap": None, "min_speaker_similarity": None}
    record, metrics, printed = evaluated(trained, debug, "debug", capsys)
    assert not {"asr_wer_gap", "speaker_similarity"} & set(results(record))
    assert record["verdict"]["notes"] == [
        "not judged: intelligibility (criteria.max_asr_wer_gap): the run's config.json criteria set it null "
        "(debug template); measured and reported only",
        "not judged: speaker similarity (criteria.min_speaker_similarity): the run's config.json criteria set "
        "it null (debug template); measured and reported only"]
    assert "speaker_similarity" in metrics and "asr_wer_gap" in metrics  # measured all the same
    assert record["verdict"]["notes"][0] in printed
    assert f"- {record['verdict']['notes'][1]}" in (trained / "training_runs" / tf.RUN / "README.md").read_text()


def test_recordings_embeddings_are_cached_in_the_project(trained):
    cache = trained / ".henryvc" / "voice-embeddings"
    before = {p.name: p.read_text() for p in cache.glob("*.json")}
    assert len(before) == 5 + 2  # the reference clips and the held-out clips, by content hash
    _, cached, _ = evaluated(trained, template_criteria("stable"), "stable")
    shutil.rmtree(cache)
    voice._RECORDINGS.clear()  # as a new process would start
    voice._REFERENCES.clear()
    _, recomputed, _ = evaluated(trained, template_criteria("stable"), "stable")
    assert {p.name: p.read_text() for p in cache.glob("*.json")} == before
    # Henry's side is the same whether read from the cache or computed (the synthesis is re-run each time).
    assert cached["speaker_similarity_reference"] == recomputed["speaker_similarity_reference"]
