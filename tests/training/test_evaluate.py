"""Stage `evaluate` without a model: the loss metrics it judges (eval over train averages, NaN anywhere found), the
loss plots, strict JSON metrics, the README section, and bad input refused with one line (exit 2) and nothing made.
The stage on a real trained run: tests/tiers/slow/test_training_pipeline.py and test_training_nan.py."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from henryvc.core.runfolder import RunPaths
from henryvc.core.verdict import CriterionResult, Verdict
from henryvc.errors import BadInput
from henryvc_training import evaluate
from tests.helpers import training as tf


@pytest.fixture
def paths(tmp_path) -> RunPaths:
    paths = RunPaths(tmp_path, tf.RUN)
    paths.logs.mkdir(parents=True)
    return paths


def lines(path, *rows: dict) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_loss_metrics_take_the_last_epochs_eval_averages(paths):
    assert evaluate.loss_metrics(paths) == {}  # nothing trained
    lines(paths.epoch_losses,
          {"epoch": 0, "step": 3, "train": {"avg_loss": 3.0}, "eval": {"avg_loss": 2.5}},
          {"epoch": 1, "step": 6, "train": {"avg_loss": 2.0, "avg_align_error": 0.5},
           "eval": {"avg_loss": 1.5, "avg_align_error": 0.25, "avg_stopnet_loss": 0.125}})
    assert evaluate.loss_metrics(paths) == {"total_loss": 1.5, "align_error": 0.25, "stopnet_loss": 0.125,
                                            "loss_source": "eval average of epoch 1", "epochs": 2, "steps": 6}
    lines(paths.epoch_losses, {"epoch": 0, "step": 3, "train": {"avg_loss": 3.0, "avg_align_error": 0.5}, "eval": {}})
    assert evaluate.loss_metrics(paths) == {"total_loss": 3.0, "align_error": 0.5, "stopnet_loss": None,
                                            "loss_source": "train average of epoch 0", "epochs": 1, "steps": 3}


def test_non_finite_losses_are_found_in_steps_and_epoch_averages(paths):
    assert evaluate.non_finite_losses(paths) == []
    lines(paths.step_losses, {"step": 0, "loss": 1.0, "grad_norm": float("nan")},  # not a loss: not counted
          {"step": 1, "loss": float("nan"), "align_error": float("inf")})
    lines(paths.epoch_losses, {"epoch": 0, "step": 2, "train": {"avg_loss": 1.0},
                               "eval": {"avg_stopnet_loss": float("-inf")}})
    assert evaluate.non_finite_losses(paths) == ["align_error", "avg_stopnet_loss", "loss"]


def test_loss_plots_hold_every_step_once(paths):
    lines(paths.step_losses, {"step": 0, "loss": 3.0, "decoder_loss": 1.0}, {"step": 1, "loss": 2.0},
          {"step": 1, "loss": 2.5, "stopnet_loss": 0.5})  # step 1 re-trained after a resume: that row wins
    evaluate.write_loss_plots(paths)
    with (paths.plots / "loss.csv").open() as handle:
        table = list(csv.reader(handle))
    assert table == [["step", *evaluate.LOSS_COLUMNS], ["0", "3.0", "1.0", "", "", ""], ["1", "2.5", "", "", "0.5", ""]]
    assert (paths.plots / "loss.png").read_bytes().startswith(b"\x89PNG")


def test_a_run_without_a_checkpoint_has_no_model_to_load(paths):
    with pytest.raises(BadInput, match=r"holds no checkpoint: train the run first \(`dvc repro`\)"):
        evaluate.load_model(paths)
    paths.checkpoints.mkdir()
    (paths.checkpoints / "config.json").write_text("{}")
    with pytest.raises(BadInput, match="holds no checkpoint"):
        evaluate.load_model(paths)


def test_metrics_json_stays_strict_json():
    safe = evaluate._json_safe({"total_loss": float("nan"), "align_error": float("inf"), "steps": 6,
                                "verdict": "failed", "has_nan": True})
    assert safe == {"total_loss": None, "align_error": None, "steps": 6, "verdict": "failed", "has_nan": True}
    json.dumps(safe, allow_nan=False)  # DVC and others read it


def test_readme_lines_show_the_verdict_its_criteria_and_what_was_trained():
    metrics = {"total_loss": 3.0, "align_error": 0.05, "stopnet_loss": 0.1, "training_finished": True,
               "short_text_seconds": 1.2, "steps": 6, "epochs": 2, "loss_source": "eval average of epoch 1",
               "model_file": "best_model.pth"}
    verdict = Verdict("failed", [CriterionResult("total_loss", 3.0, 2.0, False),
                                 CriterionResult("align_error", 0.05, 0.1, True)],
                      reasons=["total_loss 3 is not below 2"], notes=["the voice gate is off for debug runs"])
    text = evaluate.readme_lines(verdict, metrics)
    assert text[:6] == ["**FAILED**", "", "| criterion | value | threshold | passed |", "|---|---|---|---|",
                        "| total_loss < threshold | 3 | 2 | no |", "| align_error < threshold | 0.05 | 0.1 | yes |"]
    assert text.index("- total_loss 3 is not below 2") < text.index("- the voice gate is off for debug runs")
    assert text[-1] == ("Trained 6 steps in 2 epochs; losses: eval average of epoch 1; evaluated with "
                        "best_model.pth.")
    unmeasured = Verdict("incomplete", [CriterionResult("short_text_seconds", None, 5.0, None)], ["not measured"])
    shown = evaluate.readme_lines(unmeasured, {})
    assert "| short_text_seconds < threshold | not measured | 5 | - |" in shown and "- not measured" in shown
    assert shown[-1] == "Trained ? steps in ? epochs; losses: none recorded; evaluated with -."


def test_the_stage_outside_a_project_is_one_line_and_exit_2(tmp_path):
    done = subprocess.run([sys.executable, "-m", "henryvc_training.evaluate"], cwd=tmp_path, capture_output=True,
                          text=True, env=tf.env())
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"evaluate: error: {tmp_path / 'params.yaml'} does not exist: run the "
                                        "stages from the project root (where dvc.yaml is)"]
    assert list(tmp_path.iterdir()) == []


def test_the_stage_for_a_run_without_its_folder_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "params.yaml").write_text(f"run: {tf.RUN}\n")
    assert evaluate.main(["--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("evaluate: error: ") and "`henryvc new-run` has not created" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params.yaml"]
