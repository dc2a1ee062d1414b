"""DVC's pipeline side: `dvc repro` of a project's dvc.yaml stages, run as DVC's own command line.

A child process and not DVC's Python API: the stages are long (training), their output is streamed line by
line, and a kill of henryvc's process group reaches DVC and the stage alike.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path


def repro(root: Path, args: tuple[str, ...], env: dict[str, str], on_line: Callable[[str], None]) -> int:
    """The real `dvc repro [ARGS]` in ROOT, as a child process with ENV (its PATH led by this interpreter's
    folder: dvc.yaml's `python -m henryvc_training.<stage>` must be the Python with henryvc); each line of
    its output to ON_LINE; its exit code."""
    env = {**env, "PATH": str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")}
    process = subprocess.Popen([sys.executable, "-m", "dvc", "repro", *args], cwd=root, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1)
    assert process.stdout is not None
    for line in process.stdout:
        on_line(line.rstrip("\n"))
    return process.wait()
