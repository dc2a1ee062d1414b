"""Seconds per training step: bare Coqui Trainer vs the henryvc train stage, same config, side by side.

Both train the debug Tacotron2 config on the same locally made sample data, alternating A/B rounds so
that background load hits both alike. A step's time is the wall time from the start of one training
step to the start of the next within an epoch (data loading, forward, backward, optimizer, logging and
henryvc's hooks included; epoch-end evaluation and checkpoint-at-epoch-end excluded for both).

Usage: python benchmarks/bench_train_overhead.py [--rounds 3] [--epochs 3] [--clips 16] [--json]
Not a test: timings depend on the machine; BENCHMARKS.md records what was measured where.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RUN = "henry_v2_debug_20250101_000000"


class StepTimer:
    """A Coqui callback pair recording the start time of every training step, per epoch."""

    def __init__(self) -> None:
        self.starts: list[tuple[int, float]] = []

    def on_train_step_start(self, trainer: Any) -> None:
        self.starts.append((trainer.epochs_done, time.perf_counter()))

    def step_seconds(self) -> list[float]:
        """Start-to-start deltas of consecutive steps in the same epoch (first epoch skipped: warm-up)."""
        deltas = []
        for (epoch_a, t_a), (epoch_b, t_b) in zip(self.starts, self.starts[1:]):
            if epoch_a == epoch_b and epoch_a > 0:
                deltas.append(t_b - t_a)
        return deltas


def make_project(base: Path, clips: int, epochs: int) -> Path:
    """A project shaped like `henryvc new-run` makes one (no git/DVC: the stage does not need them)."""
    import yaml

    from henryvc.core import record
    from henryvc_training.sample_data import make_dataset

    root = base / "project"
    root.mkdir(parents=True)
    make_dataset(root / "voice_data", clips)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["run"] = RUN
    params["evaluation"]["every_epochs"] = 0  # no henryvc evaluations: per-step cost only
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run_dir = root / "training_runs" / RUN
    run_dir.mkdir(parents=True)
    config = json.loads((REPO / "configs" / "henry_voice_v2_debug.json").read_text().replace("{RUN_NAME}", RUN))
    config.update(epochs=epochs, test_delay_epochs=10_000)  # Coqui's own per-epoch test run off for both
    (run_dir / "config.json").write_text(json.dumps(config, indent=2))
    (run_dir / "README.md").write_text(f"# {RUN}\n")
    record.save(run_dir, record.RunRecord(name=RUN, major=2, variant="debug", created="2025-01-01T00:00:00",
                                          config_hash="bench", source_commit=None, seed=config["seed"]))
    from henryvc_training import prepare

    prepare.prepare(root)
    return root


def bare_coqui(root: Path, out: Path) -> list[float]:
    """The same config and split trained by a plain Coqui Trainer, as Coqui's recipes do it."""
    from trainer import Trainer, TrainerArgs
    from TTS.config.shared_configs import BaseDatasetConfig
    from TTS.tts.datasets import load_tts_samples
    from TTS.tts.models.tacotron2 import Tacotron2

    from henryvc.core import runfolder
    from henryvc_training import common

    paths = runfolder.RunPaths(root, RUN)
    config = common.coqui_config(common.read_config(paths))
    config.datasets = [BaseDatasetConfig(formatter="ljspeech", path=str(root / "voice_data"),
                                         meta_file_train=str(paths.data / "train.csv"),
                                         meta_file_val=str(paths.data / "eval.csv"), language="en")]
    train_samples, eval_samples = load_tts_samples(config, eval_split=True)
    from henryvc_training.determinism import seed_everything

    seed_everything(int(config.training_seed))
    model = Tacotron2(config)
    timer = StepTimer()
    trainer = Trainer(TrainerArgs(), model.config, output_path=str(out), model=model,
                      train_samples=train_samples, eval_samples=eval_samples, parse_command_line_args=False,
                      callbacks={"on_train_step_start": timer.on_train_step_start})
    try:
        trainer.fit()
    finally:
        import logging

        # Coqui leaves its file handler on the "trainer" logger; it would also log the henryvc round.
        for handler in list(logging.getLogger("trainer").handlers):
            if isinstance(handler, logging.FileHandler):
                logging.getLogger("trainer").removeHandler(handler)
                handler.close()
    return timer.step_seconds()


def henryvc_stage(root: Path) -> list[float]:
    """The henryvc train stage on the same project (lock, run log, hooks, NaN guard, loss lines)."""
    from henryvc.core import record
    from henryvc_training import train

    run_dir = root / "training_runs" / RUN
    record.update(run_dir, status="created", training={})  # fresh start each round
    timer = StepTimer()
    result = train.train(root, callbacks={"on_train_step_start": timer.on_train_step_start})
    if result.status != "finished":
        raise SystemExit(f"henryvc stage ended {result.status}: {result.message}")
    return timer.step_seconds()


def hook_cost(repeats: int = 2000) -> float:
    """Seconds per step of what henryvc adds inside a step: the NaN check and the loss line, measured alone.

    This does not suffer from other processes' load the way the A/B step times do on a shared machine.
    """
    import torch

    from henryvc.core import runfolder
    from henryvc_training import hooks as training_hooks
    from henryvc_training import trainer

    keys = ("decoder_loss", "postnet_loss", "stopnet_loss", "ga_loss", "decoder_diff_spec_loss",
            "postnet_diff_spec_loss", "loss", "align_error", "decoder_b_loss", "decoder_c_loss")
    tensors = {k: torch.rand(()) for k in keys}
    floats = {k: float(v) for k, v in tensors.items()} | {"current_lr": 1e-3, "grad_norm": 1.0}
    base = Path(tempfile.mkdtemp(prefix="henryvc-hooks-"))
    try:
        paths = runfolder.RunPaths(base, RUN)
        paths.run_dir.mkdir(parents=True)

        class Progress:  # the two counters record_step reads from the Trainer
            total_steps_done = 1
            epochs_done = 0

        hooks = training_hooks.Hooks(paths, trainer.Settings(), None)
        start = time.perf_counter()
        for _ in range(repeats):
            training_hooks.non_finite_losses(tensors)
            hooks.record_step(Progress, floats)
        elapsed = time.perf_counter() - start
        hooks.close()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return elapsed / repeats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="A/B rounds (each trains both once)")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per training (the first is warm-up)")
    parser.add_argument("--clips", type=int, default=16, help="sample clips (2 are held out for eval)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    import torch

    base = Path(tempfile.mkdtemp(prefix="henryvc-bench-"))
    try:
        root = make_project(base, args.clips, args.epochs)
        bare: list[float] = []
        henry: list[float] = []
        for index in range(args.rounds):
            bare += bare_coqui(root, base / f"bare_{index}")
            henry += henryvc_stage(root)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    result = {
        "date": datetime.now().isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "config": "configs/henry_voice_v2_debug.json", "rounds": args.rounds, "epochs": args.epochs,
        "steps_measured": {"bare": len(bare), "henryvc": len(henry)},
        "median_s_per_step": {"bare": round(statistics.median(bare), 4), "henryvc": round(statistics.median(henry), 4)},
        "mean_s_per_step": {"bare": round(statistics.mean(bare), 4), "henryvc": round(statistics.mean(henry), 4)},
    }
    per_step = hook_cost()
    result["henryvc_in_step_cost_s"] = round(per_step, 7)
    result["henryvc_in_step_cost_percent_of_bare_median"] = round(100 * per_step / result["median_s_per_step"]["bare"], 4)
    result["overhead_percent_median"] = round(100 * (result["median_s_per_step"]["henryvc"] /
                                                     result["median_s_per_step"]["bare"] - 1), 2)
    result["overhead_percent_mean"] = round(100 * (result["mean_s_per_step"]["henryvc"] /
                                                   result["mean_s_per_step"]["bare"] - 1), 2)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"bare Coqui: {result['median_s_per_step']['bare']} s/step (median of {len(bare)}), "
              f"henryvc stage: {result['median_s_per_step']['henryvc']} s/step (median of {len(henry)}), "
              f"overhead {result['overhead_percent_median']} % (median), {result['overhead_percent_mean']} % (mean); "
              f"henryvc's in-step work alone: {per_step * 1e6:.0f} us/step = "
              f"{result['henryvc_in_step_cost_percent_of_bare_median']} % of a bare step")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
