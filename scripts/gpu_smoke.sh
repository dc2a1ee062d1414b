#!/usr/bin/env bash
# The first-GPU check (make gpu-smoke): on a machine with an NVIDIA GPU and nothing but this repository,
# install (make setup), train the debug run on CUDA through `henryvc run` (dvc repro: prepare, train,
# evaluate, tag), restore and verify the tag, then print steps/s and GPU memory and check that the run
# record names the CUDA runtime, cuDNN and driver. Budget: under 10 minutes (checked at the end).
#
#   bash scripts/gpu_smoke.sh [DIR]        # DIR: scratch project (default: a new folder under /var/tmp)
#
# Without a visible GPU it stops at once with one line and exit 1, before installing anything.
# Settings: HENRYVC_DEMO_CLIPS (sample clips, default 24), GPU_SMOKE_BUDGET_S (default 600).
set -euo pipefail
START=$SECONDS
BUDGET=${GPU_SMOKE_BUDGET_S:-600}
REPO=$(cd "$(dirname "$0")/.." && pwd)
say() { printf '[gpu_smoke %3ds] %s\n' "$((SECONDS - START))" "$*" >&2; }
fail() { echo "gpu_smoke: $*" >&2; exit 1; }

# 1. A GPU, or stop now. CUDA_VISIBLE_DEVICES="" or -1 hides every GPU from torch, so it counts as none.
if [ "${CUDA_VISIBLE_DEVICES+set}" = set ] && { [ -z "$CUDA_VISIBLE_DEVICES" ] || [ "$CUDA_VISIBLE_DEVICES" = -1 ]; }; then
    fail "no NVIDIA GPU visible: CUDA_VISIBLE_DEVICES='$CUDA_VISIBLE_DEVICES' hides them all"
fi
command -v nvidia-smi >/dev/null 2>&1 || fail "no NVIDIA GPU visible: nvidia-smi is not installed (no NVIDIA driver)"
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU ' || true)
[ "$gpus" -gt 0 ] || fail "no NVIDIA GPU visible: nvidia-smi lists none ($(nvidia-smi -L 2>&1 | head -n 1))"
say "$gpus GPU(s): $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n 1)"

# 2. Install exactly as a user does.
cd "$REPO"
make setup >&2
BIN="$REPO/.venv/bin"
export PATH="$BIN:$PATH"
"$BIN/python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' \
    || fail "torch $("$BIN/python" -c 'import torch; print(torch.__version__, torch.version.cuda)') sees no CUDA device although nvidia-smi does: driver too old for this CUDA build?"
say "installed: $("$BIN/python" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "cuDNN", torch.backends.cudnn.version())')"

# 3. The debug run on CUDA: train, evaluate, tag, restore, verify (scripts/demo.sh), GPU memory sampled.
DIR=${1:-$(mktemp -d /var/tmp/henryvc-gpu-smoke.XXXXXX)}
MEMLOG=$(mktemp)
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 > "$MEMLOG" 2>/dev/null &
SAMPLER=$!
trap 'kill "$SAMPLER" 2>/dev/null || true; rm -f "$MEMLOG"' EXIT
TRAIN_START=$SECONDS
bash "$REPO/scripts/demo.sh" "$DIR" >&2
kill "$SAMPLER" 2>/dev/null || true
say "debug run trained, tagged, restored and verified in $((SECONDS - TRAIN_START)) s ($DIR)"

# 4. Figures and the run record's CUDA environment.
NAME=$(cd "$DIR" && git tag --list 'henry_v2_debug_*' --sort=-creatordate | head -n 1)
[ -n "$NAME" ] || fail "no debug tag in $DIR"
"$BIN/python" - "$DIR/training_runs/$NAME" "$MEMLOG" "$((SECONDS - START))" "$BUDGET" <<'EOF'
import json, re, sys
from datetime import datetime
from pathlib import Path

run, memlog, elapsed, budget = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
record = json.loads((run / "run.json").read_text())
env, training = record.get("environment", {}), record.get("training", {})
events = {e["event"]: e for e in record.get("history", [])}
step_times = [float(x) for log in run.rglob("*.log") for x in re.findall(r"step_time: ([0-9.]+)", log.read_text(errors="replace"))]
steps = int(training.get("steps") or 0)
wall = None
if "train-start" in events and "train-finished" in events:
    wall = (datetime.fromisoformat(events["train-finished"]["at"]) - datetime.fromisoformat(events["train-start"]["at"])).total_seconds()
memory = [int(x) for x in memlog.read_text().split() if x.isdigit()]
cuda = env.get("cuda") or {}
print(f"run            {record['name']}  status {record.get('status')}")
print(f"device         {env.get('device')}")
print(f"CUDA/cuDNN     runtime {cuda.get('cuda')}  cuDNN {cuda.get('cudnn')}  driver {cuda.get('nvidia_driver')} (CUDA API {cuda.get('cuda_driver')})")
print(f"steps          {steps}" + (f" in {wall:.0f} s of training: {steps / wall:.2f} steps/s incl. loading and checkpoints" if wall else ""))
if step_times:
    mean = sum(step_times) / len(step_times)
    print(f"step time      mean {mean * 1000:.1f} ms over {len(step_times)} steps: {1 / mean:.1f} steps/s (compute only)")
print(f"GPU memory     peak {max(memory) if memory else 'n/a'} MiB used (nvidia-smi, all processes)")
print(f"total          {elapsed} s of a {budget} s budget")
problems = []
if not env.get("cuda_available"):
    problems.append("the run record says cuda_available is false: training ran on the CPU")
for key in ("cuda", "cudnn", "nvidia_driver"):
    if not cuda.get(key):
        problems.append(f"the run record's environment.cuda lacks {key}")
if steps < 1:
    problems.append("no training step was recorded")
if elapsed > budget:
    problems.append(f"took {elapsed} s, over the {budget} s budget")
for p in problems:
    print(f"gpu_smoke: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
