"""Write docs/commands.md from the commands' own --help (the reference cannot drift: a test compares).

Usage: python scripts/command_reference.py [--check]
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from henryvc.main import cli

OUT = Path(__file__).resolve().parent.parent / "docs" / "commands.md"


def _commands(group: click.Group, ctx: click.Context, prefix: list[str]):
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        yield [*prefix, name], command
        if isinstance(command, click.Group):
            sub = click.Context(command, info_name=name, parent=ctx)
            yield from _commands(command, sub, [*prefix, name])


def render() -> str:
    """The whole reference: henryvc --help, then every command's --help, in order."""
    root = click.Context(cli, info_name="henryvc", terminal_width=100, max_content_width=100)
    parts = ["# Command reference\n",
             "Generated from `--help` by `python scripts/command_reference.py`; `tests/repo/test_docs.py` fails when it "
             "differs from the code.\n",
             "```\n" + cli.get_help(root) + "\n```\n"]
    for path, command in _commands(cli, root, []):
        ctx = click.Context(command, info_name=" ".join(["henryvc", *path]), parent=None,
                            terminal_width=100, max_content_width=100)
        parts.append(f"## henryvc {' '.join(path)}\n\n```\n{command.get_help(ctx)}\n```\n")
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print(f"{OUT} is out of date: run python scripts/command_reference.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
