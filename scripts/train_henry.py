#!/usr/bin/env python3
"""The seed's entry points: `python3 scripts/train_henry_v2_stable.py [--description TEXT] [--no-tag] [--json]`.

Each scripts/train_henry_v{MAJOR}_{VARIANT}.py is a link to this file; the name it is called by picks the
template configs/henry_voice_v{MAJOR}_{VARIANT}.json, and the run starts exactly like
`henryvc run --major MAJOR --variant VARIANT` (the same command, in the current project).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

SCRIPT_NAME = re.compile(r"\Atrain_henry_v(?P<major>[0-9]+)_(?P<variant>[a-z]+)\Z")


def main(argv: list[str]) -> int:
    match = SCRIPT_NAME.match(Path(argv[0]).stem)
    if match is None:
        print(f"{argv[0]}: call it through a link named train_henry_v<MAJOR>_<VARIANT>.py", file=sys.stderr)
        return 2
    from henryvc.main import cli

    return cli.main(["run", "--major", match["major"], "--variant", match["variant"], *argv[1:]],
                    prog_name="henryvc", standalone_mode=True) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
