"""The one way tests run the henryvc command line: run_cli(cwd, *args) -> CliResult (exit code, stdout, stderr).

In-process (the default) is click's runner: fast, and what most tests need. `process=True` runs the real
command line as a child process (`python -m henryvc.main`, as the console script runs it): for a test that
needs what only a process has (its own exit, signals, another Python, an environment, stdin that is not a
terminal, a kill). spawn_cli starts one and returns at once, in its own process group, for the kill tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

HENRYVC = ("-m", "henryvc.main")  # after the interpreter: the console script's own entry


@dataclass(frozen=True)
class CliResult:
    """What a run of henryvc gave: its exit code, stdout and stderr; OUTPUT is both as a terminal shows them."""

    exit_code: int
    stdout: str
    stderr: str
    output: str

    @property
    def returncode(self) -> int:  # the name subprocess uses
        return self.exit_code


def command(python: str | Path | None = None) -> list[str]:
    """The argv that starts henryvc with PYTHON (this interpreter by default)."""
    return [str(python or sys.executable), *HENRYVC]


def run_cli(cwd: Path | str, *args: str, process: bool = False, python: str | Path | None = None,
            env: dict[str, str] | None = None, input: str | None = None, timeout: float = 300) -> CliResult:
    """Run `henryvc ARGS` in CWD.

    process=False: in this process through click (ENV, PYTHON and TIMEOUT need a process: passing them is an
    error). process=True: a child process with this environment plus ENV, stdin INPUT ("" by default: never a
    terminal), killed after TIMEOUT seconds.
    """
    if not process:
        if python is not None or env is not None:
            raise TypeError("python= and env= need process=True")
        from henryvc.main import cli

        old = Path.cwd()
        os.chdir(cwd)
        try:
            done = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
        finally:
            os.chdir(old)
        return CliResult(done.exit_code, done.stdout, done.stderr, done.output)
    ran = subprocess.run([*command(python), *args], cwd=cwd, input=input if input is not None else "",
                         capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
    return CliResult(ran.returncode, ran.stdout, ran.stderr, ran.stdout + ran.stderr)


def spawn_cli(cwd: Path | str, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start the real henryvc in its own process group (so a kill takes its git and ssh children too)."""
    return subprocess.Popen([*command(), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env={**os.environ, **(env or {})})
