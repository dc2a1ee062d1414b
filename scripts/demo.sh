#!/usr/bin/env bash
# The embedded default (make demo): a fresh project in DIR (default demo/), a sample voice made locally with
# espeak-ng, a tiny debug Tacotron2 trained on CPU by `dvc repro`, judged, tagged, restored into a worktree
# and verified, then a report page written for it (henryvc report). Nothing is downloaded. The run honestly
# fails the quality criteria: it is tiny.
set -euo pipefail
DIR=${1:-demo}
CLIPS=${HENRYVC_DEMO_CLIPS:-24}
mkdir -p "$DIR"
cd "$DIR"
henryvc init
if [ ! -f voice_data.dvc ]; then
    python -m henryvc_training.sample_data --out voice_data --clips "$CLIPS"
    dvc add -q voice_data
    git add voice_data.dvc .gitignore
    git commit -qm "Sample voice data: $CLIPS clips spoken by espeak-ng"
fi
NAME=$(henryvc run --major 2 --variant debug --description "embedded demo: espeak-ng sample voice, tiny model")
NAME=$(printf '%s\n' "$NAME" | tail -n 1)
henryvc show "$NAME"
henryvc restore "$NAME"
henryvc verify "$NAME" --path ".henryvc/restore/$NAME"
henryvc report "$NAME"  # prints where the page is (.henryvc/reports/...): metrics, loss curves, audio
echo "demo run $NAME: trained, evaluated, tagged, restored and verified in $(pwd)"
