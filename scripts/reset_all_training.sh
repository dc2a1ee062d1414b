#!/usr/bin/env bash
# The seed's "Full reset (BE CAREFUL!)", now a thin call of `henryvc reset`: clears every run folder only
# once each is tagged and on the backup remote (pushing or snapshotting first, refusing otherwise).
# A terminal asks you to type "reset"; scripts pass --yes. Run it inside the project.
#   scripts/reset_all_training.sh --dry-run
set -euo pipefail
exec henryvc reset "$@"
