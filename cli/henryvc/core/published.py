"""A run's metrics and plot data at stable paths, so that DVC's own views compare runs.

Every run writes into its own folder (training_runs/<RUN>/metrics.json, .../plots/loss.csv), so two run
tags hold two unrelated files as far as `dvc metrics diff`, `dvc plots diff` and `dvc exp show` can tell.
The evaluate stage and tag-run copy the run's files to the paths below; dvc.yaml declares them as its
top-level metrics and plots, and each run's tagged commit carries its own copy. They are plain git files
(not stage outputs), so `dvc status` never reports them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# stable path (relative to the project root) -> the run folder's file it is a copy of
STABLE = {
    "metrics/run.json": "metrics.json",
    "metrics/data.json": "data/manifest.json",
    "plots/loss.csv": "plots/loss.csv",
    "plots/alignment.png": "plots/alignment.png",
}
PATHS = tuple(sorted({path.split("/", 1)[0] for path in STABLE}))  # the folders tag-run commits


def publish(root: Path, run_dir: Path) -> list[str]:
    """Copy RUN_DIR's metrics and plot files to their stable paths under ROOT; the paths written.

    A stable file the run does not have is removed, so no run's commit carries another run's copy.
    """
    written = []
    for stable, own in STABLE.items():
        source, target = Path(run_dir) / own, Path(root) / stable
        if source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.tmp")
            shutil.copyfile(source, tmp)
            tmp.replace(target)
            written.append(stable)
        else:
            target.unlink(missing_ok=True)
    return written
