"""henryvc_training.exactness: one bit apart in a loss or a tensor is not identical; a tolerance is only a bound."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import torch

from henryvc_training import exactness


def run_folder(root: Path, loss: float, weight: float) -> Path:
    (root / "logs").mkdir(parents=True)
    (root / "checkpoints").mkdir()
    rows = [{"step": 1, "decoder_loss": 0.5, "lr": 1e-3}, {"step": 2, "decoder_loss": loss, "lr": 1e-3}]
    (root / "logs" / "step_losses.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    torch.save({"model": {"w": torch.tensor([1.0, weight], dtype=torch.float32)}}, root / "checkpoints" / "checkpoint_2.pth")
    return root


def test_one_bit_apart_is_not_identical(tmp_path):
    tag = run_folder(tmp_path / "tag", 0.25, 2.0)
    assert exactness.check(tag, run_folder(tmp_path / "same", 0.25, 2.0))["identical"] is True
    next_loss = math.nextafter(0.25, 1.0)
    next_weight = float(torch.nextafter(torch.tensor(2.0), torch.tensor(3.0)))
    apart = run_folder(tmp_path / "apart", next_loss, next_weight)
    found = exactness.check(tag, apart)
    assert found["identical"] is False
    assert found["differences"][0] == f"step 2 decoder_loss: 0.25 against {next_loss!r}"
    assert found["differences"][1].startswith("w: differs, max |a-b| 2.38e-07")
    assert exactness.check(tag, apart, atol=1e-4)["beyond"] == []  # within the CUDA bound, still not identical


def test_nothing_to_compare_says_why(tmp_path):
    (tmp_path / "tag").mkdir()
    found = exactness.check(tmp_path / "tag", run_folder(tmp_path / "run", 0.25, 2.0))
    assert found["identical"] is None and found["not_compared"] == "the tag holds no logs/step_losses.jsonl"
    done = subprocess.run([sys.executable, "-m", "henryvc_training.exactness", str(tmp_path / "run"),
                           str(tmp_path / "run")], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout)["identical"] is True
