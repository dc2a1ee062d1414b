"""The command line as a whole: help and examples everywhere, light start-up, error lines and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from cli.main import cli

HEAVY = ("torch", "TTS", "trainer", "dvc", "docker", "git")


def all_commands(group: click.Group = cli, prefix: tuple[str, ...] = ()):
    for name, command in sorted(group.commands.items()):
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from all_commands(command, prefix + (name,))


@pytest.mark.parametrize("path,command", list(all_commands()), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_help_with_an_example(path, command, invoke, tmp_path):
    assert command.help and len(command.help.strip()) > 20, f"{' '.join(path)} lacks help"
    if not isinstance(command, click.Group):
        assert "Example: henryvc " in command.help, f"{' '.join(path)} lacks an example"
    result = invoke([*path, "--help"], tmp_path)
    assert result.exit_code == 0 and "Usage:" in result.output


def test_registry_commands_are_listed(invoke, tmp_path):
    output = invoke(["--help"], tmp_path).output
    for name in ("init", "validate", "new-run", "tag-run", "list", "show", "diff", "restore", "verify"):
        assert f"  {name} " in output


@pytest.mark.parametrize("args", [["--help"], ["list", "--json"], ["show", "henry_v2_debug_20261124_101500"],
                                  ["validate", "x.json"]])
def test_read_commands_do_not_import_heavy_packages(args, tmp_path):
    probe = ("import sys, runpy\nsys.argv = ['henryvc', *sys.argv[1:]]\n"
             "try:\n    from cli.main import entry; entry()\nexcept SystemExit:\n    pass\n"
             "import json; print(json.dumps(sorted(m for m in sys.modules)), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", probe, *args], cwd=tmp_path, capture_output=True, text=True)
    modules = set(json.loads(result.stderr.strip().splitlines()[-1]))
    loaded = {m for m in modules if m.split(".")[0] in HEAVY and m.split(".")[0] != "git" or m in ("torch", "TTS")}
    assert not {m for m in loaded if m.split(".")[0] in ("torch", "TTS", "trainer", "dvc", "docker")}, sorted(loaded)[:10]


def test_errors_are_one_line_with_exit_codes(tmp_path):
    result = subprocess.run([sys.executable, "-m", "cli.main", "show", "../etc"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    result = subprocess.run([sys.executable, "-m", "cli.main", "list"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 1 and "henryvc init" in result.stderr
