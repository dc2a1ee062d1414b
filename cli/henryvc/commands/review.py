"""Click glue for judging runs by ear: review (a listener's verdict, kept in git) and report (the page)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from henryvc.commands._common import emit_json, json_option


def _ask(value: Any, label: str, **prompt: Any) -> Any:
    """VALUE, or asked on a terminal; a missing value off a terminal is bad input (exit 2, one line)."""
    if value is not None:
        return value
    if sys.stdin.isatty():
        return click.prompt(label, **prompt)
    from henryvc.errors import BadInput

    raise BadInput(f"--{label.split()[0].lower()} is required (or run on a terminal to be asked)")


@click.command("review")
@click.argument("name", required=False, metavar="[NAME]")
@click.option("--rating", type=int, help="1 (unusable) to 5 (ready to ship).")
@click.option("--verdict", type=click.Choice(("approve", "reject")), help="Approve or reject the run.")
@click.option("--notes", help="What you heard (free text).")
@click.option("--reviewer", help="Who reviews (default: git user.name <user.email>).")
@click.option("--from", "ratings", type=click.Path(path_type=Path, dir_okay=False),
              help="A ratings file downloaded from a blind report page (instead of NAME and the options).")
@click.option("--key", type=click.Path(path_type=Path, dir_okay=False),
              help="The page's key (default: the project's copy in .henryvc/blind-keys/).")
@click.option("--push", is_flag=True, help="Also push the reviews' git notes to origin (merged with what is there).")
@json_option
def review_cmd(name: str | None, rating: int | None, verdict: str | None, notes: str | None, reviewer: str | None,
               ratings: Path | None, key: Path | None, push: bool, as_json: bool) -> None:
    """Record a listener's review of a run: README entry, reviews.json, git commit, note on its tag.

    Asks for what is missing when run on a terminal. A production run (params.yaml review.required_for)
    is success only with an approving latest review.

    Example: henryvc review henry_v2_production_20261124_101500 --rating 4 --verdict approve --notes "clear"
    """
    from henryvc import api
    from henryvc.errors import BadInput

    project = api.require_project()
    if ratings is not None:
        if name is not None:
            raise BadInput("give either NAME or --from FILE, not both")
        results = api.review_from_file(project, ratings, key, reviewer)
    else:
        if name is None:
            raise BadInput("name the run to review (or --from FILE with a blind page's ratings)")
        from henryvc.core import runname

        name = str(runname.parse(name))
        rating = _ask(rating, "Rating (1-5)", type=click.IntRange(1, 5))
        verdict = _ask(verdict, "Verdict", type=click.Choice(("approve", "reject")))
        notes = _ask(notes, "Notes", default="", show_default=False)
        results = [api.review_run(project, name, rating, verdict, notes, reviewer)]
    pushed = api.push_reviews(project) if push else False
    if as_json:
        emit_json([r.to_dict() for r in results])
        return
    for result in results:
        r = result.review
        where = ", ".join(filter(None, [f"commit {result.commit[:10]}" if result.commit else None,
                                        f"note on {result.noted[:10]}" if result.noted else None]))
        click.echo(f"reviewed {r['run']}: {r['verdict']} {r['rating']}/5 ({where or 'nothing committed'})"
                   + (f"; status {result.status}" if result.status else "")
                   + ("; success released by this approval" if result.released else ""))
        for line in result.notes:
            click.echo(f"note: {line}", err=True)
    if push:
        click.echo("reviews pushed to origin (refs/notes/henryvc-reviews)" if pushed
                   else "nothing pushed: no git remote origin")


@click.command("report")
@click.argument("names", nargs=-1, required=True, metavar="NAME [NAME...]")
@click.option("--blind", is_flag=True, help="A blind listening test instead: audio only, a new random order per row "
              "(A, B, ...); the page makes a ratings file for `henryvc review --from`; the key stays in the project.")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False),
              help="Folder for the page (default .henryvc/reports/report_YYYYMMDD_HHMMSS).")
@json_option
def report_cmd(names: tuple[str, ...], blind: bool, out: Path | None, as_json: bool) -> None:
    """Write a static page for listening to runs: one row per utterance with Henry's recording and each run's clip.

    An evaluation selector (final model or any periodic one), scores beside each clip, sortable; then the
    verdicts, metrics and loss curves. Tagged runs are restored from their tags (hashes checked). Opens from
    disk; needs no server.

    Example: henryvc report henry_v2_debug_20261124_101500 henry_v2_debug_20261124_113000 --blind
    """
    from henryvc import api

    result = api.report(api.require_project(), list(names), blind, out)
    if as_json:
        emit_json(result.to_dict())
        return
    click.echo(f"report of {len(result.runs)} run(s), {result.audio_files} audio file(s): {result.page}")
    if result.key:
        click.echo(f"blind key, kept in the project (hand the listener only the page's folder): {result.key}")


COMMANDS = [review_cmd, report_cmd]
