"""henryvc.commands._common: the shared options and printers (run-name argument checked before any project is
looked up, new-run and start options, JSON, tables, sizes, the confirmation that never guesses off a terminal)."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from henryvc.commands import _common
from henryvc.errors import BadInput
from tests.helpers.cli import run_cli


def invoke(command: click.Command, *args: str, input: str | None = None):
    return CliRunner().invoke(command, list(args), input=input)


def test_a_bad_run_name_is_bad_input_before_any_project_is_looked_up(tmp_path):
    # tmp_path is no project: were the project looked up first, this would be exit 1 naming `henryvc init`
    result = run_cli(tmp_path, "show", "../etc", process=True)
    assert result.exit_code == 2 and "henryvc init" not in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("henryvc: error:")
    assert run_cli(tmp_path, "show", "henry_v2_debug_20261124_101500").exit_code == 1  # a good name gets that far


def test_run_name_argument_hands_the_command_the_parsed_name():
    @click.command()
    @_common.run_name_argument()
    def echo_name(name):
        click.echo(repr(name))

    @click.command()
    @_common.run_name_argument(required=False)
    def maybe(name):
        click.echo(repr(name))

    name = "henry_v2_debug_20261124_101500"
    assert invoke(echo_name, name).output == repr(name) + "\n"  # a str, not the RunName object
    assert invoke(maybe).output == "None\n"
    assert "[NAME]" in invoke(maybe, "--help").output and "NAME" in invoke(echo_name, "--help").output
    failed = invoke(echo_name, "henry_v2_nonsense_1")
    assert isinstance(failed.exception, BadInput)


def test_new_run_and_start_options_parse_what_a_new_run_is(tmp_path):
    template = tmp_path / "t.json"
    template.write_text("{}")

    @click.command()
    @_common.new_run_options
    @_common.start_options
    def made(**kwargs):
        click.echo(json.dumps(kwargs, default=str, sort_keys=True))

    result = invoke(made, "--major", "2", "--variant", "debug", "--config", str(template), "-S", "lr=0.1",
                    "--set", "a.b=2", "--from", "henry_v2_debug_20261124_101500")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"major": 2, "variant": "debug", "config_path": str(template),
                                         "description": "", "sets": ["lr=0.1", "a.b=2"],
                                         "parent": "henry_v2_debug_20261124_101500"}
    assert invoke(made, "--variant", "debug").exit_code == 2  # --major is required
    assert invoke(made, "--major", "two", "--variant", "debug").exit_code == 2
    assert invoke(made, "--major", "2", "--variant", "debug", "--config", str(tmp_path / "none.json")).exit_code == 2


def test_emit_json_sorts_keys_and_writes_paths_as_text(capsys):
    _common.emit_json({"b": Path("/x/y"), "a": [1, 2.5]})
    out = capsys.readouterr().out
    assert json.loads(out) == {"a": [1, 2.5], "b": "/x/y"}
    assert out.index('"a"') < out.index('"b"')


def test_table_aligns_columns_and_strips_trailing_blanks(capsys):
    _common.table([["henry_v2_debug_1", "ok"], ["x", ""]], ["RUN", "STATUS"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].index("STATUS") == lines[1].index("ok") == len("henry_v2_debug_1") + 2
    assert lines[2] == "x" and all(line == line.rstrip() for line in lines)


@pytest.mark.parametrize("n,text", [(None, "0 B"), (512, "512 B"), (1024, "1.0 KiB"), (3.2 * 2**20, "3.2 MiB"),
                                    (1.5 * 2**30, "1.5 GiB"), (2**50, "1024.0 TiB")])
def test_size_is_bytes_for_people(n, text):
    assert _common.size(n) == text


def test_fmt_number_shortens_floats_and_shows_none_as_a_dash():
    assert _common.fmt_number(1.23456789) == "1.235"
    assert _common.fmt_number(None) == "-"
    assert _common.fmt_number(7) == "7" and _common.fmt_number("x") == "x"


def test_progress_is_none_off_a_terminal():
    with _common.progress("hashing", 10) as bar:  # pytest's stderr is no terminal
        assert bar is None


def test_confirm_goes_on_with_yes_and_never_guesses_off_a_terminal():
    _common.confirm(True, "Delete?")  # --yes: no question

    @click.command()
    @click.option("--typed", default=None)
    def ask(typed):
        _common.confirm(False, "Delete?", typed=typed)
        click.echo("went ahead")

    off_terminal = invoke(ask)  # CliRunner's stdin is no terminal
    assert isinstance(off_terminal.exception, BadInput) and "--yes" in str(off_terminal.exception)
    assert "went ahead" not in off_terminal.output

