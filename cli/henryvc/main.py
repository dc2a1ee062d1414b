"""The henryvc command line: the root group, where a command's errors become exit codes (henryvc.exits)."""

from __future__ import annotations

import importlib

import click

from henryvc import __version__, exits
from henryvc.commands import COMMAND_MODULES


class HenryvcGroup(click.Group):
    """Root group: imports a command's module only when that command runs (or help lists it); maps
    HenryvcError to its exit code, Ctrl-C to 130, anything else to 3 (henryvc.exits.outcome)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name, without importing any command module."""
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command CMD_NAME, importing only the module that declares it."""
        module_name = COMMAND_MODULES.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(f"henryvc.commands.{module_name}")
        return next((c for c in module.COMMANDS if c.name == cmd_name), None)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except (Exception, KeyboardInterrupt) as exc:
            import henryvc.ops  # noqa: F401  (registers DVC's user-file recogniser with exits, when no op has yet)

            code, line = exits.outcome(exc)  # the one mapping, shared with every `python -m` entry point
            if code == exits.EXIT_UNEXPECTED and ctx.obj and ctx.obj.get("traceback"):
                raise
            if line:
                click.secho(line, fg="red", err=True)
            ctx.exit(code)


@click.group(cls=HenryvcGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="henryvc")
@click.option("--traceback", is_flag=True, help="Show the full traceback of unexpected errors.")
@click.pass_context
def cli(ctx: click.Context, traceback: bool) -> None:
    """Version control and reproducibility for Henry Voice training runs.

    Example: henryvc new-run --major 2 --variant debug && dvc repro && henryvc tag-run
    """
    ctx.obj = {"traceback": traceback}


def entry() -> None:
    """Console-script entry point. Click's own usage errors already exit 2."""
    exits.silence_third_party()  # before any command imports DVC (and through it asyncssh)
    cli(prog_name="henryvc")


if __name__ == "__main__":  # pragma: no cover
    entry()  # click exits with the command's code itself
