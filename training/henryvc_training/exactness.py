"""Is a re-created training the tag's, bit for bit? `python -m henryvc_training.exactness TAG_DIR RUN_DIR`.

`henryvc recreate` keeps the tag's per-step losses and final checkpoint in TAG_DIR (the layout of a run
folder) before the stages run again, then runs this where torch is (the host's interpreter, or the image for
`docker recreate`): one JSON line on stdout with every difference in the per-step losses and in the model
tensors of the final checkpoint (henryvc_training.compare, tolerance 0), and with `--atol X` the differences
beyond X too. No stage imports this module, so it is no stage's code dependency.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from henryvc.errors import BadInput
from henryvc.exits import entry_point
from henryvc_training import compare


def comparable(run_dir: Path) -> str | None:
    """Why RUN_DIR holds nothing to compare (no per-step losses, no checkpoint), or None."""
    if not (Path(run_dir) / compare.STEP_LOSSES).is_file():
        return f"no {compare.STEP_LOSSES.as_posix()}"
    if not list(Path(run_dir).glob("checkpoints/checkpoint_*.pth")):
        return "no checkpoints/checkpoint_<step>.pth"
    return None


def check(tag_dir: Path, run_dir: Path, atol: float = 0.0) -> dict[str, Any]:
    """identical (bool, None when the tag holds nothing to compare), its differences, and those beyond ATOL."""
    missing = comparable(tag_dir)
    if missing:
        return {"identical": None, "not_compared": f"the tag holds {missing}", "differences": [], "beyond": []}
    missing = comparable(run_dir)
    if missing:
        return {"identical": False, "not_compared": None, "differences": [f"the re-run wrote {missing}"],
                "beyond": [f"the re-run wrote {missing}"]}
    differences = compare.compare_runs(Path(tag_dir), Path(run_dir))
    beyond = compare.compare_runs(Path(tag_dir), Path(run_dir), atol) if atol and differences else differences
    return {"identical": not differences, "not_compared": None, "differences": differences, "beyond": beyond}


@entry_point("exactness")
def main(argv: list[str] | None = None) -> int:
    """Print check()'s result as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m henryvc_training.exactness", description=__doc__.splitlines()[0])
    parser.add_argument("tag_dir", type=Path, help="the tag's run folder (per-step losses, final checkpoint)")
    parser.add_argument("run_dir", type=Path, help="the re-created run folder")
    parser.add_argument("--atol", type=float, default=0.0, help="also list differences beyond this (CUDA)")
    args = parser.parse_args(argv)
    for folder in (args.tag_dir, args.run_dir):
        if not folder.is_dir():
            raise BadInput(f"{folder} is not a run folder")
    sys.stdout.write(json.dumps(check(args.tag_dir, args.run_dir, args.atol)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
