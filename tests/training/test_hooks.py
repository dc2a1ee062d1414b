"""henryvc_training.hooks with real torch tensors, models and Coqui's running averages: NaN and inf losses found,
one JSON line per step and per epoch, the NaN guard's debug state and its stop, and a failed evaluation that
does not stop training. On a real training: tests/tiers/slow/test_training_nan.py and test_training_eval_error.py."""

from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest
import torch
from trainer.generic_utils import KeepAverage

from henryvc.core.runfolder import RunPaths
from henryvc_training import common, hooks
from tests.helpers import training as tf


@pytest.fixture
def paths(tmp_path) -> RunPaths:
    return RunPaths(tmp_path, tf.RUN)


def open_hooks(paths: RunPaths, every_epochs: int = 2) -> hooks.Hooks:
    return hooks.Hooks(paths, common.Settings(every_epochs=every_epochs), SimpleNamespace(test_sentences=["Hi."]))


def averages(**values: float) -> KeepAverage:
    keep = KeepAverage()
    keep.update_values(values)
    return keep


def trainer(step: int = 3, epoch: int = 0, train: KeepAverage | None = None, evaluation: KeepAverage | None = None):
    """What the hooks read of a Coqui Trainer: counters, a real model and optimizer, the running averages."""
    model = torch.nn.Linear(3, 1)
    return SimpleNamespace(total_steps_done=step, epochs_done=epoch, model=model,
                           optimizer=[torch.optim.SGD(model.parameters(), lr=0.01)],
                           keep_avg_train=train, keep_avg_eval=evaluation)


def test_non_finite_losses_names_nan_and_inf_only():
    loss_dict = {"loss": torch.tensor(1.0), "decoder_loss": torch.tensor(float("nan")),
                 "postnet_loss": torch.tensor([1.0, float("inf")]), "stopnet_loss": float("-inf"),
                 "align_error": 0.5, "empty": torch.tensor([]), "step_time": 3, "note": "nan"}
    assert hooks.non_finite_losses(loss_dict) == ["decoder_loss", "postnet_loss", "stopnet_loss"]
    assert hooks.non_finite_losses({"loss": torch.tensor(2.0, requires_grad=True)}) == []


def test_one_json_line_per_step_appended(paths):
    first = open_hooks(paths)
    # Coqui's train_step hands the losses over detached, as numbers: whatever is not a number is left out.
    first.record_step(trainer(step=1), {"loss": 1.5, "decoder_loss": 0.25, "note": "x"})
    first.close()
    again = open_hooks(paths)  # a continued run appends
    again.record_step(trainer(step=2), {"loss": 1.25})
    again.close()
    assert tf.rows(paths.step_losses) == [{"step": 0, "epoch": 0, "loss": 1.5, "decoder_loss": 0.25},
                                          {"step": 1, "epoch": 0, "loss": 1.25}]


def test_the_nan_guard_keeps_the_state_that_produced_the_nan_and_stops(paths):
    hook = open_hooks(paths)
    run = trainer(step=7, epoch=1)
    batch = {"text_input": torch.ones(2, 3), "audio_unique_names": ["wavs/henry_0003.wav", "wavs/henry_0007.wav"]}
    loss_dict = {"loss": torch.tensor(float("nan")), "align_error": 0.1}
    with pytest.raises(hooks.NonFiniteLoss, match=r"non-finite loss \(loss\) at step 7, epoch 1; debug state in "
                                                  r"checkpoints/nan_debug/nan_step_7.pt, summary in logs/nan_debug.json"):
        hook.on_non_finite(run, batch, loss_dict, ["loss"])
    hook.close()
    summary = json.loads((paths.logs / "nan_debug.json").read_text())
    assert summary["step"] == 7 and summary["non_finite"] == ["loss"] and summary["clips"] == ["henry_0003",
                                                                                                 "henry_0007"]
    saved = torch.load(paths.checkpoints / "nan_debug" / "nan_step_7.pt", weights_only=False)
    assert torch.equal(saved["model"]["weight"], run.model.weight) and saved["step"] == 7
    assert torch.equal(saved["batch"]["text_input"], batch["text_input"]) and saved["loss"]["loss"].isnan()


def test_one_json_line_per_epoch_and_a_nan_evaluation_stops(paths, caplog):
    hook = open_hooks(paths)
    with caplog.at_level(logging.INFO, logger="henryvc.training.train"):
        hook.on_epoch_end(trainer(step=3, train=averages(avg_loss=1.5), evaluation=averages(avg_loss=1.25)))
    assert "epoch 0 done at step 3: train loss 1.5000, eval loss 1.2500" in caplog.text
    with pytest.raises(hooks.NonFiniteLoss, match=r"non-finite evaluation loss \(eval avg_loss\) at epoch 1"):
        hook.on_epoch_end(trainer(step=6, epoch=1, train=averages(avg_loss=1.0),
                                  evaluation=averages(avg_loss=float("nan"), avg_align_error=0.2)))
    hook.close()
    rows = common.read_jsonl(paths.epoch_losses)
    assert rows[0] == {"epoch": 0, "step": 3, "lr": [0.01], "train": {"avg_loss": 1.5}, "eval": {"avg_loss": 1.25}}
    assert rows[1]["epoch"] == 1 and len(rows) == 2  # the NaN epoch is on record too
    hook = open_hooks(paths)
    hook.on_epoch_end(trainer(step=9, epoch=2, train=averages(avg_loss=0.5)))  # no evaluation set: train only
    hook.close()
    assert common.read_jsonl(paths.epoch_losses)[-1]["eval"] == {}


def test_a_failed_evaluation_is_an_error_line_and_training_goes_on(paths, caplog):
    hook = open_hooks(paths, every_epochs=2)
    broken = trainer(epoch=0)  # it has no model to synthesize with: every evaluation fails
    with caplog.at_level(logging.ERROR, logger="henryvc.training.train"):
        hook.maybe_evaluate(broken)  # epoch 1 of every 2: no evaluation
        assert caplog.text == ""
        broken.epochs_done = 1
        hook.maybe_evaluate(broken)  # epoch 2: it evaluates, fails, and says so
    hook.close()
    [line] = caplog.records
    assert line.getMessage().startswith("evaluation at epoch 2 failed, training goes on: AttributeError")
    assert not (paths.logs / "evaluations.jsonl").exists()


def test_no_periodic_evaluations_prepare_nothing(paths, tmp_path):
    hook = open_hooks(paths, every_epochs=0)
    hook.listen_to(tmp_path / "voice_data")
    hook.maybe_evaluate(trainer(epoch=1))  # every_epochs 0: never
    hook.close()
    assert hook.data_dir == tmp_path / "voice_data"
    assert not (tmp_path / ".henryvc").exists()  # no recognizer, no transcripts, no embeddings cached
    assert sorted(p.name for p in paths.logs.iterdir()) == ["epoch_losses.jsonl", "step_losses.jsonl"]
