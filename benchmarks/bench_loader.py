"""Data loader throughput (clips/s) for a config template with 0 vs N loader workers, next to its step time.

The loader is the one the train stage uses: Coqui's Tacotron2 loader (audio read, silence trim, mel
spectrogram, text to ids, padding) rebuilt by henryvc_training.loader.tune (pinned memory on CUDA,
persistent workers). Each setting iterates the training split for --epochs epochs; the first epoch
(worker start-up) is reported apart from the steady ones. The step time is what the loader must keep up
with: forward + backward + optimizer step of the same config's Tacotron2 on this machine's device, one
batch of the config's batch size, after one warm-up step. A loader keeps up when its clips/s is at least
batch_size / step time.

Usage: python benchmarks/bench_loader.py [--variant stable] [--workers 0 2 4] [--clips 66] [--epochs 3]
       [--steps 2] [--json]
Not a test: figures depend on the machine and its load; docs/distributed.md records what was measured where.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RUN = "henry_v2_stable_20250101_000000"


def make_data(base: Path, clips: int) -> Path:
    """Sample clips (espeak-ng) in LJSpeech layout under BASE/voice_data."""
    from henryvc_training.sample_data import make_dataset

    data = base / "voice_data"
    make_dataset(data, clips)
    return data


def coqui_config(variant: str, data: Path, workers: int) -> Any:
    """The template's Coqui config with WORKERS loader workers and the sample data as its dataset."""
    from TTS.config.shared_configs import BaseDatasetConfig

    from henryvc_training import common

    raw = json.loads((REPO / "configs" / f"henry_voice_v2_{variant}.json").read_text().replace("{RUN_NAME}", RUN))
    config = common.coqui_config(raw)
    config.num_loader_workers = workers
    config.datasets = [BaseDatasetConfig(formatter="ljspeech", path=str(data), meta_file_train="metadata.csv",
                                         language="en")]
    config.eval_split_size = 2
    return config, raw


def samples(config: Any) -> list[Any]:
    from TTS.tts.datasets import load_tts_samples

    train, _eval = load_tts_samples(config, eval_split=True, eval_split_size=2)
    return train


def loader_throughput(variant: str, data: Path, workers: int, epochs: int) -> dict[str, Any]:
    """Clips/s of the train loader over EPOCHS epochs (first epoch apart: it starts the workers)."""
    from TTS.tts.models.tacotron2 import Tacotron2

    from henryvc_training import loader as loaders

    config, raw = coqui_config(variant, data, workers)
    train = samples(config)
    model = Tacotron2(config)
    loader = loaders.tune(model.get_data_loader(config=model.config, is_eval=False, samples=train, verbose=False),
                          loaders.LoaderSettings.from_config(raw))
    seconds, clips = [], []
    for _ in range(epochs):
        count = 0
        start = time.perf_counter()
        for batch in loader:
            count += len(batch["token_id_lengths"])
        seconds.append(time.perf_counter() - start)
        clips.append(count)
    del loader  # ends persistent workers
    steady = [c / s for c, s in zip(clips[1:], seconds[1:])] or [clips[0] / seconds[0]]
    return {"workers": workers, "clips_per_epoch": clips[0], "first_epoch_s": round(seconds[0], 3),
            "first_epoch_clips_per_s": round(clips[0] / seconds[0], 2),
            "steady_clips_per_s": round(statistics.median(steady), 2)}


def step_time(variant: str, data: Path, steps: int) -> dict[str, Any]:
    """Seconds per optimizer step of the template's Tacotron2 at its batch size on this machine's device."""
    import torch
    from TTS.tts.models.tacotron2 import Tacotron2

    config, _raw = coqui_config(variant, data, 0)
    model = Tacotron2(config)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device).train()
    criterion = model.get_criterion().to(device)
    optimizer = torch.optim.RAdam(model.parameters(), lr=config.lr)
    loader = model.get_data_loader(config=model.config, is_eval=False, samples=samples(config), verbose=False)
    batch = model.format_batch(next(iter(loader)))
    batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
    times = []
    for index in range(steps + 1):  # the first step warms up allocators and kernels
        start = time.perf_counter()
        _outputs, losses = model.train_step(batch, criterion)
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        if index:
            times.append(time.perf_counter() - start)
    batch_size = int(batch["text_input"].shape[0])
    median = statistics.median(times)
    return {"device": device, "batch_size": batch_size, "steps": steps, "s_per_step": round(median, 3),
            "clips_per_s_needed": round(batch_size / median, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="stable", help="config template (configs/henry_voice_v2_<variant>.json)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2, 4], help="loader worker counts to compare")
    parser.add_argument("--clips", type=int, default=66, help="sample clips (2 are held out for eval)")
    parser.add_argument("--epochs", type=int, default=3, help="loader epochs per setting (the first starts workers)")
    parser.add_argument("--steps", type=int, default=2, help="timed training steps (after one warm-up); 0 skips")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    import torch

    base = Path(tempfile.mkdtemp(prefix="henryvc-bench-loader-"))
    try:
        data = make_data(base, args.clips)
        loaders = [loader_throughput(args.variant, data, workers, args.epochs) for workers in args.workers]
        step = step_time(args.variant, data, args.steps) if args.steps else None
    finally:
        shutil.rmtree(base, ignore_errors=True)
    result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} CPUs, "
                         f"{torch.get_num_threads()} torch threads, cuda={torch.cuda.is_available()}",
              "config": f"configs/henry_voice_v2_{args.variant}.json", "loader": loaders, "step": step}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['config']} on {result['machine']}")
    for row in loaders:
        print(f"  {row['workers']} workers: {row['steady_clips_per_s']} clips/s steady, first epoch "
              f"{row['first_epoch_clips_per_s']} clips/s ({row['first_epoch_s']} s for {row['clips_per_epoch']} clips)")
    if step:
        print(f"  step: {step['s_per_step']} s for a batch of {step['batch_size']} on {step['device']} -> the loader "
              f"must deliver {step['clips_per_s_needed']} clips/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
