#!/usr/bin/env bash
# The seed's archive script, now a thin call of `henryvc archive`: failed runs to
# training_runs/archive/failed/, incomplete ones to training_runs/archive/incomplete/, successful ones
# stay with a SUCCESS marker; a run still training is never moved. Run it inside the project.
#   scripts/archive_training_runs.sh --dry-run     # see what would move
set -euo pipefail
exec henryvc archive "$@"
