"""The command line as a whole: help and examples everywhere, light start-up, error lines and exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from henryvc import api
from henryvc.main import cli
from tests.helpers.cli import run_cli


def all_commands(group: click.Group = cli, prefix: tuple[str, ...] = ()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, f"{' '.join(prefix + (name,))} is listed but does not load"
        yield prefix + (name,), command
        if isinstance(command, click.Group):
            yield from all_commands(command, prefix + (name,))


@pytest.mark.parametrize("path,command", list(all_commands()), ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_every_command_has_help_with_an_example(path, command, tmp_path):
    assert command.help and len(command.help.strip()) > 20, f"{' '.join(path)} lacks help"
    if not isinstance(command, click.Group):
        assert "Example: henryvc " in command.help, f"{' '.join(path)} lacks an example"
    result = run_cli(tmp_path, *path, "--help")
    assert result.exit_code == 0 and "Usage:" in result.output


def test_the_lazy_command_map_is_exactly_what_the_modules_declare():
    import importlib

    from henryvc.commands import COMMAND_MODULES

    declared = {command.name: module for module in set(COMMAND_MODULES.values())
                for command in importlib.import_module(f"henryvc.commands.{module}").COMMANDS}
    assert declared == COMMAND_MODULES


def test_registry_commands_are_listed(tmp_path):
    output = run_cli(tmp_path, "--help").output
    for name in ("init", "validate", "new-run", "tag-run", "list", "show", "diff", "restore", "verify"):
        assert f"  {name} " in output


@pytest.fixture(scope="module")
def tagged_project(tmp_path_factory):
    """A real project with one tagged run, shared by the start-up probes below (read-only for them)."""
    from tests.helpers.project import make_project, trained_run

    base = tmp_path_factory.mktemp("startup")
    mp = pytest.MonkeyPatch()
    mp.setenv("HOME", str(base))
    mp.setenv("GIT_CONFIG_GLOBAL", str(base / ".gitconfig"))
    (base / ".gitconfig").write_text("[user]\n\tname = T\n\temail = t@henryvc.invalid\n")
    mp.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    try:
        project = make_project(base / "project", base / "remote")
        name = trained_run(project)
        api.tag_run(project, name)
        yield project, name
    finally:
        mp.undo()


@pytest.mark.parametrize("args", [["--help"], ["list", "--json"], ["show", "{run}"], ["diff", "{run}", "{run}"],
                                  ["validate", "configs/henry_voice_v2_debug.json"], ["list", "--variant", "debug"]])
def test_read_commands_do_not_import_heavy_packages(args, tagged_project):
    project, name = tagged_project
    probe = ("import sys\nsys.argv = ['henryvc', *sys.argv[1:]]\ncode = 0\n"
             "try:\n    from henryvc.main import entry; entry()\nexcept SystemExit as exc:\n    code = exc.code or 0\n"
             "import json; print(json.dumps([code, sorted(sys.modules)]), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", probe, *(a.replace("{run}", name) for a in args)],
                            cwd=project.root, capture_output=True, text=True)
    code, modules = json.loads(result.stderr.strip().splitlines()[-1])
    assert code == 0, result.stderr  # the real read path ran, not an early error
    heavy = sorted(m for m in modules if m.split(".")[0] in ("torch", "TTS", "trainer", "dvc", "docker", "pocketsphinx",
                                                         "jiwer", "scipy", "numpy"))
    assert not heavy, heavy[:10]


def test_help_loads_only_the_command_layer_of_henryvc(tmp_path):
    """`henryvc --help` (start-up time, benchmarked in docs/architecture.md) loads the command glue and what its
    options name, never an operation, an adapter or a noun with its own imports (run folders, records...)."""
    probe = ("import sys\nsys.argv = ['henryvc', '--help']\ntry:\n    from henryvc.main import entry; entry()\n"
             "except SystemExit:\n    pass\nimport json; print(json.dumps(sorted(sys.modules)), file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    ours = {m for m in json.loads(result.stderr.strip().splitlines()[-1]) if m.split(".")[0] == "henryvc"
            and not m.startswith("henryvc.commands.")}  # the Click glue itself: every command's module
    assert ours <= {"henryvc", "henryvc.main", "henryvc.api", "henryvc.errors", "henryvc.exits", "henryvc.commands",
                    "henryvc.core", "henryvc.core.runname"}, sorted(ours)
    assert "henryvc.main" in ours  # the probe really ran henryvc


def test_errors_are_one_line_with_exit_codes(tmp_path):
    result = run_cli(tmp_path, "show", "../etc", process=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    result = run_cli(tmp_path, "list", process=True)
    assert result.returncode == 1 and "henryvc init" in result.stderr
