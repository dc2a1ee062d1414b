"""Click glue for re-creating runs on the host: `henryvc recreate` and `henryvc env build`."""

from __future__ import annotations

from pathlib import Path

import click

from henryvc.commands._common import emit_json, fmt_number, json_option, run_name_argument, table


def _echo(line: str) -> None:
    click.echo(line, err=True)  # progress on stderr: stdout stays the result (and pure JSON with --json)


@click.command("recreate")
@run_name_argument()
@click.option("--allow-drift", is_flag=True,
              help="Re-run even when code, imported packages, python, arch or image differ from the tag's (the "
                   "drift is recorded in the re-created run).")
@click.option("--check", "check_only", is_flag=True,
              help="Only compare this environment with the tag's: exit 0 when nothing blocks, "
                   "1 with one line per blocking difference.")
@json_option
def recreate_cmd(name: str, allow_drift: bool, check_only: bool, as_json: bool) -> None:
    """Restore a tagged run into a worktree, re-run its stages here (dvc repro --force), compare with the tag.

    Refuses first, one line per difference, when the stage code, python, arch, image or a package the run's
    training imported differ from those the run recorded (environment.json, environment.lock); packages it
    never imported are listed and do not block. Build the environment back with
    `henryvc env build NAME --venv DIR`. Exit 0 when every per-step loss and model tensor is bit-identical
    to the tag's and every metric is equal ("identical": true in --json); a run trained on CUDA is held to
    a tolerance instead, which the output names.

    Example: henryvc recreate henry_v2_debug_20261124_101500
    """
    from henryvc import api
    from henryvc.errors import Reported

    project = api.require_project()
    if check_only:
        drift = api.recreate_check(project, name)
        blocking = [d for d in drift if d.blocks]
        if as_json:
            emit_json([d.to_dict() for d in drift])
            if blocking:
                raise Reported()
            return
        if blocking:
            raise api.drift_refusal(name, drift)
        for line in drift:
            click.echo(f"differs: {line.line()}")
        click.echo(f"{name}: this environment is the one the run recorded"
                   + (" (in every package its training imported)" if drift else ""))
        return
    result = api.recreate(project, name, allow_drift=allow_drift, output=_echo)
    rec = result.recreation
    if as_json:
        emit_json(result.to_dict())
    else:
        print_recreation(rec)
    if not rec.matches:
        raise Reported()


def print_recreation(rec) -> None:
    """The drift, the metric table and the verdict lines of a re-creation (host or image)."""
    for line in rec.drift:
        click.echo(f"drift: {line}")
    for line in rec.not_imported:
        click.echo(f"differs, not blocking: {line}")
    table([[m.key, fmt_number(m.tagged), fmt_number(m.recreated), fmt_number(m.delta), "yes" if m.same else "NO"]
           for m in rec.metrics], ["metric", "tag", "recreated", "delta", "same"])
    if rec.identical is None:
        click.echo(f"training not compared: {rec.not_compared}")
    else:
        click.echo("training: every step loss and model tensor " + ("bit-identical to the tag's" if rec.identical
                   else f"NOT identical to the tag's ({len(rec.differences)} difference(s))"))
        for line in rec.differences[:10]:
            click.echo(f"  {line}")
    if rec.tolerance:
        click.echo(f"tolerance: losses and tensors within {rec.tolerance['atol']}, metrics within relative "
                   f"{rec.tolerance['metrics_rtol']} ({rec.tolerance['why']}): "
                   + ("within" if rec.within_tolerance else "NOT within"))
    verdict = "matches the tag" if rec.matches else "does NOT match the tag"
    click.echo(f"{rec.name} re-created in {rec.worktree} (exit {rec.exit_code}): {verdict}")


@click.group("env")
def env_group() -> None:
    """Environments of runs: build one back from a run's environment.lock.

    Example: henryvc env build henry_v2_debug_20261124_101500 --venv ../henry-env
    """


@env_group.command("build")
@run_name_argument(required=False)
@click.option("--venv", "venv", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="New folder for the virtual environment.")
@click.option("--lock", "lock", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Build from this lock file instead of a run's (henryvc itself is then not installed).")
@click.option("--python", "python", default=None, metavar="PATH",
              help="Interpreter for the venv (default: this one; must be the run's python version).")
@click.option("--henryvc-source", default=None, metavar="REPO",
              help="henryvc git repository (path or URL) to install the recorded commit from "
                   "(default: the checkout this henryvc runs from).")
@click.option("--pip-arg", "pip_args", multiple=True, metavar="ARG",
              help="Extra pip argument, e.g. --pip-arg=--index-url=URL (repeatable).")
@json_option
def env_build_cmd(name: str | None, venv: Path, lock: Path | None, python: str | None, henryvc_source: str | None,
                  pip_args: tuple[str, ...], as_json: bool) -> None:
    """Build a virtual environment from run NAME's environment.lock, with henryvc at the recorded commit.

    Then checks it the way `henryvc recreate` does and lists what still differs.

    Example: henryvc env build henry_v2_debug_20261124_101500 --venv ../henry-env
    """
    from henryvc import api
    from henryvc.errors import BadInput

    if (name is None) == (lock is None):
        raise BadInput("name a run or give --lock FILE (one of them)")
    if lock is not None:
        result = api.env_build_from_lock(lock, venv, python, pip_args, output=_echo)
    else:
        assert name is not None  # exactly one of name and lock, checked above
        result = api.env_build(api.require_project(), name, venv, python, pip_args, henryvc_source, _echo)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(f"built {result.venv}: python {result.python}, {result.packages} packages"
               + (f", {result.henryvc}" if result.henryvc else ""))
    for line in result.remaining_drift:
        click.echo(f"still differs: {line}")
    if name and not result.remaining_drift:
        click.echo(f"re-create with: {api.venv_python(Path(result.venv))} -m henryvc.main recreate {name}")


COMMANDS = [recreate_cmd, env_group]
