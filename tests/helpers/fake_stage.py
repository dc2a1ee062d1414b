"""The one stand-in training stage (tests and benchmarks): `python fake_train.py` in a project.

It trains the run params.yaml names the way the real stage records it (run.json: training, then success
or failed), deterministically per seed. params.yaml `fake:` seed, files (checkpoints, default 2), bytes
(per checkpoint, default 128 KiB; `mb` also accepted), step (checkpoint interval, default 500), logs (write
logs/trainer.txt, default true).
"""
import json
import os
import pathlib
import random
import sys

import yaml

params = yaml.safe_load(pathlib.Path("params.yaml").read_text())
run, fake = params["run"], params["fake"]
seed = fake["seed"]
size = fake.get("bytes", fake.get("mb", 0) << 20 or 128 * 1024)
folder = pathlib.Path("training_runs") / run


def record(status):
    path = folder / "run.json"
    data = json.loads(path.read_text())
    data["status"] = status
    tmp = folder / ".run.json.stage"
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


record("training")
for sub in ("checkpoints", "tensorboard"):
    (folder / sub).mkdir(parents=True, exist_ok=True)
try:
    for index in range(fake.get("files", 2)):
        block = random.Random(f"{seed}-{index}").randbytes(min(size, 8 << 20))  # unique per file and seed
        with open(folder / "checkpoints" / f"checkpoint_{(index + 1) * fake.get('step', 500)}.pth", "wb") as out:
            left = size
            while left > 0:
                out.write(block[:left])
                left -= len(block)
except OSError as exc:
    record("failed")
    sys.exit(f"fake training failed writing a checkpoint: {exc}")
if fake.get("logs", True):
    (folder / "logs").mkdir(exist_ok=True)
    (folder / "logs" / "trainer.txt").write_text(f"trained with seed {seed}\n")
(folder / "tensorboard" / "events.out.tfevents.0").write_bytes(b"events " + str(seed).encode())
# The keys and shape of the evaluate stage's metrics.json (henryvc_training.evaluate).
(folder / "metrics.json").write_text(json.dumps({"total_loss": 1.5 + seed / 100, "align_error": 0.05,
                                                "stopnet_loss": 0.2, "has_nan": False, "training_finished": True,
                                                "steps": 1000, "epochs": 2, "verdict": "success"}))
record("success")
