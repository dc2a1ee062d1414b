#!/usr/bin/env bash
# The seed's cleanup script, now a thin call of `henryvc cleanup-failed`: frees failed runs' checkpoints
# that can be brought back from their tag (logs, config, metrics and README stay), then DVC's gc of the
# cache keeping every tagged run's data. It prints what it frees first. Run it inside the project.
#   scripts/cleanup_failed_runs.sh --older-than 30 --dry-run
set -euo pipefail
exec henryvc cleanup-failed "$@"
