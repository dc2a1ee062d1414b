"""Manual reviews of runs: a listener's rating and verdict, and the gate they open (recording one in git is
the operation henryvc.ops.review; the evaluate stage holds a run at the gate with this module alone).

Where a review is kept (the tag never moves):
- in the run folder, `training_runs/<RUN>/reviews.json` (machine-readable) and a dated section of its
  README.md, committed in a new commit (`henryvc: review RUN ...`) when the folder is in this work tree;
- for a tagged run, also as a git note on the tag's commit under `refs/notes/henryvc-reviews` (JSON, all
  reviews of that run). Notes are what `list`/`show` read for tagged runs (one `git notes list` for all of
  them), they need no run folder here, and `tag-run --push` and `backup` push them with the tags.
  tag-run copies the reviews made before tagging into the note.

The gate: params.yaml `review: {required_for: [production]}` names the variants that need an approving
review. The evaluate stage then withholds `success` (status stays incomplete, with the reason) until
`henryvc review RUN --verdict approve`, which releases it; tag-run refuses to tag such a run success
without an approving latest review.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.core import runname
from henryvc.errors import BadInput, NotReady

if TYPE_CHECKING:
    from henryvc.core.verdict import Verdict

REVIEWS_FILE = "reviews.json"
NOTES_REF = "refs/notes/henryvc-reviews"
FORMAT = "henryvc-reviews/1"
VERDICTS = ("approve", "reject")
HOLD_REASON = "awaiting an approving review"


def check(rating: Any, verdict: Any, notes: Any) -> tuple[int, str, str]:
    """RATING 1-5, VERDICT approve|reject, NOTES text; BadInput naming what is wrong."""
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise BadInput(f"rating must be a whole number from 1 to 5; got {rating!r}")
    if verdict not in VERDICTS:
        raise BadInput(f"verdict must be one of {', '.join(VERDICTS)}; got {verdict!r}")
    if not isinstance(notes, str):
        raise BadInput(f"notes must be text; got {notes!r}")
    return rating, verdict, notes


def parse(text: str | None) -> list[dict[str, Any]]:
    """The reviews in a reviews.json or note text ([] for nothing or something not ours).

    A note merged from two boxes (`git notes merge -s union`) holds two JSON documents one after the
    other: the reviews of both, each once.
    """
    decoder, text, pos, found = json.JSONDecoder(), text or "", 0, []
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            break
        try:
            data, pos = decoder.raw_decode(text, pos)
        except ValueError:
            break
        reviews = data.get("reviews") if isinstance(data, dict) and data.get("format") == FORMAT else None
        if isinstance(reviews, list):
            found.append([r for r in reviews if isinstance(r, dict) and r.get("verdict") in VERDICTS])
    return merged(*found) if found else []


def dumps(name: str, reviews: list[dict[str, Any]]) -> str:
    """The JSON text of reviews.json / the note."""
    return json.dumps({"format": FORMAT, "run": name, "reviews": reviews}, indent=2, sort_keys=True) + "\n"


def merged(*lists: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reviews of LISTS, each once (by id), oldest first."""
    seen: dict[str, dict[str, Any]] = {}
    for reviews in lists:
        for review in reviews:
            seen.setdefault(str(review.get("id")), review)
    return sorted(seen.values(), key=lambda r: str(r.get("at")))


def latest(reviews: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest review, None when there is none; of reviews made in the same second, the one recorded last
    (REVIEWS are in recording order within a second: merged() sorts stably)."""
    return max(reversed(reviews), key=lambda r: str(r.get("at")), default=None)


def brief(reviews: list[dict[str, Any]]) -> str:
    """`approve 4/5` (the latest), with `(+N)` for N earlier reviews; `-` when none."""
    last = latest(reviews)
    if last is None:
        return "-"
    more = f" (+{len(reviews) - 1})" if len(reviews) > 1 else ""
    return f"{last['verdict']} {last.get('rating', '?')}/5{more}"


def read_folder(run_dir: Path) -> list[dict[str, Any]]:
    """The reviews in RUN_DIR/reviews.json ([] when there is none)."""
    try:
        return parse((Path(run_dir) / REVIEWS_FILE).read_text(encoding="utf-8"))
    except OSError:
        return []


# --- the gate ------------------------------------------------------------------------------------------

def required(params: dict[str, Any], variant: str) -> bool:
    """True when params.yaml `review.required_for` lists VARIANT."""
    wanted = (params.get("review") or {}).get("required_for") if isinstance(params.get("review"), dict) else None
    return isinstance(wanted, list) and variant in wanted


def gate(name: str, params: dict[str, Any], reviews: list[dict[str, Any]]) -> str | None:
    """Why run NAME may not be success yet (None when it may): its variant needs an approving latest review."""
    variant = runname.parse(name).variant
    if not required(params, variant):
        return None
    last = latest(reviews)
    if last is not None and last.get("verdict") == "approve":
        return None
    had = f"its latest review is a reject ({last.get('rating')}/5)" if last else "it has no review"
    return (f"{HOLD_REASON}: params.yaml review.required_for lists {variant} and {had}; listen with "
            f"`henryvc report {name}`, then `henryvc review {name} --verdict approve`")


def hold(verdict: Verdict, run_dir: Path, params: dict[str, Any]) -> Verdict:
    """The evaluate stage's verdict with success withheld (incomplete, reason given) while the gate is shut."""
    from henryvc.core.verdict import Verdict

    if verdict.status != "success":
        return verdict
    why = gate(Path(run_dir).name, params, read_folder(run_dir))
    return verdict if why is None else Verdict("incomplete", verdict.criteria, [why])


def held(record_verdict: dict[str, Any]) -> bool:
    """True when the evaluate stage withheld success for want of a review (every criterion met)."""
    reasons = record_verdict.get("reasons") or []
    return record_verdict.get("status") == "incomplete" and any(str(r).startswith(HOLD_REASON) for r in reasons)


def require_for_tag(name: str, status: str, params: dict[str, Any], run_dir: Path) -> None:
    """tag-run's check: a run about to be tagged success passes the gate, else NotReady with the line."""
    if status != "success":
        return
    why = gate(name, params, read_folder(run_dir))
    if why is not None:
        raise NotReady(f"{name} cannot be tagged success: {why}")


# --- a review record -------------------------------------------------------------------------------

def new(name: str, rating: Any, verdict: Any, notes: Any, reviewer: str, source: str = "cli",
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> dict[str, Any]:
    """A review record (checked)."""
    rating, verdict, notes = check(rating, verdict, notes)
    return {"id": uuid.uuid4().hex[:12], "run": name, "rating": rating, "verdict": verdict, "notes": notes,
            "reviewer": reviewer, "source": source,
            # microseconds: two boxes reviewing in the same second must still have a latest one
            "at": now().isoformat(timespec="microseconds")}


def readme_section(review: dict[str, Any]) -> str:
    """The README section of one review."""
    stamp = review["at"][:19].replace("T", " ") + (" UTC" if review["at"].endswith("+00:00") else "")
    body = review["notes"].strip() or "(no notes)"
    return (f"\n### Review: {review['verdict']}, {review['rating']}/5 ({stamp})\n\n"
            f"By {review['reviewer']} ({review['source']}).\n\n{body}\n")
