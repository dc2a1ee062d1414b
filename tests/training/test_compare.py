"""henryvc_training.compare on real run folders (step_losses.jsonl, torch checkpoints): every difference of two
trainings, one line each, and none when they agree. Two real trainings compared: tests/tiers/slow/test_training_determinism.py."""

from __future__ import annotations

import json
import math

import pytest
import torch

from henryvc.errors import BadInput
from henryvc_training import compare


def losses(run_dir, *rows: dict) -> None:
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    (run_dir / "logs" / "step_losses.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def checkpoint(run_dir, step: int, **tensors: torch.Tensor) -> None:
    (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    torch.save({"step": step, "model": tensors}, run_dir / "checkpoints" / f"checkpoint_{step}.pth")


def test_a_resumed_runs_later_row_of_a_step_wins(tmp_path):
    losses(tmp_path, {"step": 0, "loss": 3.0}, {"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.9},
           {"step": 1, "loss": 2.5}, {"step": 2, "loss": 1.5})  # killed after step 2, resumed from step 0's
    (tmp_path / "logs" / "step_losses.jsonl").open("a").write("\n")  # a blank line is no row
    assert compare.read_step_losses(tmp_path) == [{"step": 0, "loss": 3.0}, {"step": 1, "loss": 2.5},
                                                  {"step": 2, "loss": 1.5}]


def test_loss_keys_are_the_losses_and_errors_only():
    row = {"step": 3, "epoch": 0, "loss": 1.0, "decoder_loss": 0.5, "align_error": 0.1, "lr": 1e-3,
           "grad_norm": 2.0, "step_time": 0.3}
    assert compare.loss_keys(row) == ["align_error", "decoder_loss", "loss"]


def test_same_losses_agree_and_one_bit_apart_differs(tmp_path):
    rows = [{"step": 0, "loss": 0.25, "lr": 1e-3}, {"step": 1, "loss": 0.125, "lr": 1e-3}]
    losses(tmp_path / "a", *rows)
    losses(tmp_path / "b", rows[0], {**rows[1], "lr": 5.0})  # the learning rate is not compared
    assert compare.compare_step_losses(tmp_path / "a", tmp_path / "b") == []
    apart = math.nextafter(0.125, 1.0)
    losses(tmp_path / "c", rows[0], {**rows[1], "loss": apart})
    assert compare.compare_step_losses(tmp_path / "a", tmp_path / "c") == [f"step 1 loss: 0.125 against {apart!r}"]
    assert compare.compare_step_losses(tmp_path / "a", tmp_path / "c", tolerance=1e-9) == []


def test_different_steps_or_loss_names_are_one_line(tmp_path):
    losses(tmp_path / "a", {"step": 0, "loss": 1.0}, {"step": 1, "loss": 1.0}, {"step": 2, "loss": 1.0})
    losses(tmp_path / "b", {"step": 0, "loss": 1.0}, {"step": 1, "loss": 1.0})
    assert compare.compare_step_losses(tmp_path / "a", tmp_path / "b") == [
        "steps differ: 3 steps (0..2) against 2 (0..1)"]
    losses(tmp_path / "c", {"step": 0, "loss": 1.0}, {"step": 1, "stopnet_loss": 1.0}, {"step": 2, "loss": 1.0})
    assert compare.compare_step_losses(tmp_path / "a", tmp_path / "c") == [
        "step 1: losses ['loss'] against ['stopnet_loss']"]


def test_a_nan_loss_differs_from_a_finite_one_whatever_the_tolerance(tmp_path):
    losses(tmp_path / "a", {"step": 0, "loss": 1.0})
    losses(tmp_path / "b", {"step": 0, "loss": float("nan")})
    assert compare.compare_step_losses(tmp_path / "a", tmp_path / "b") != []  # bitwise: found
    assert compare.compare_step_losses(tmp_path / "a", tmp_path / "b", tolerance=1e-4) != []


def test_compare_checkpoints_names_every_tensor_that_differs(tmp_path):
    w = torch.tensor([1.0, 2.0])
    checkpoint(tmp_path / "a", 4, w=w, b=torch.zeros(2), old=torch.ones(1))
    checkpoint(tmp_path / "b", 4, w=w.clone(), b=torch.zeros(2, dtype=torch.float64), new=torch.ones(1))
    a, b = tmp_path / "a" / "checkpoints" / "checkpoint_4.pth", tmp_path / "b" / "checkpoints" / "checkpoint_4.pth"
    assert compare.compare_checkpoints(a, a) == []
    assert compare.compare_checkpoints(a, b) == [
        "only in checkpoint_4.pth: old", "only in checkpoint_4.pth: new",
        "b: (2,) torch.float32 against (2,) torch.float64"]
    checkpoint(tmp_path / "c", 4, w=w + 1e-3, b=torch.zeros(2), old=torch.ones(1))
    c = tmp_path / "c" / "checkpoints" / "checkpoint_4.pth"
    [line] = compare.compare_checkpoints(a, c)
    assert line.startswith("w: differs, max |a-b| 0.001")
    assert compare.compare_checkpoints(a, c, atol=1e-2) == []
    assert compare.compare_checkpoints(a, c, atol=1e-4)[0].startswith("w: differs beyond 0.0001, max |a-b| 0.001")


def test_final_checkpoint_is_the_highest_step(tmp_path):
    with pytest.raises(BadInput, match="holds no checkpoint_<step>.pth under checkpoints/"):
        compare.final_checkpoint(tmp_path)
    for step in (2, 10, 9):
        checkpoint(tmp_path, step, w=torch.zeros(1))
    (tmp_path / "checkpoints" / "checkpoint_final.pth").write_bytes(b"")  # not a step: never the final one
    assert compare.final_checkpoint(tmp_path).name == "checkpoint_10.pth"


def test_compare_runs_is_losses_then_tensors(tmp_path):
    for name, weight in (("a", 1.0), ("b", 1.0), ("c", 2.0)):
        losses(tmp_path / name, {"step": 0, "loss": 1.0})
        checkpoint(tmp_path / name, 1, w=torch.tensor([0.0]))
        checkpoint(tmp_path / name, 2, w=torch.tensor([weight]))
    assert compare.compare_runs(tmp_path / "a", tmp_path / "b") == []
    losses(tmp_path / "c", {"step": 0, "loss": 1.5})
    found = compare.compare_runs(tmp_path / "a", tmp_path / "c")
    assert found[0] == "step 0 loss: 1.0 against 1.5" and found[1].startswith("w: differs, max |a-b| 1")
    assert len(found) == 2  # only the final checkpoints' tensors are compared
