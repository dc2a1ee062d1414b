"""`henryvc review`: recording a listener's review of a run in git (the run folder's reviews.json and README,
committed; the git note on a tagged run's commit), releasing a success the gate withheld, the notes pushed with
the tags, and ratings read from a blind report page. The review record and the gate are henryvc.core.review's.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.adapters import gitnotes, gitrepo
from henryvc.core import runname
from henryvc.core.review import (
    NOTES_REF,
    REVIEWS_FILE,
    check,
    dumps,
    held,
    merged,
    new,
    parse,
    read_folder,
    readme_section,
)
from henryvc.errors import BadInput, RunNotFound

if TYPE_CHECKING:
    from henryvc.core.project import Project


@dataclass
class ReviewResult:
    """One recorded review and where it went."""

    review: dict[str, Any]
    commit: str | None = None  # the new commit carrying README.md / reviews.json, if any
    noted: str | None = None  # the tag commit the note is attached to, if tagged
    status: str | None = None  # the run's status after the review (run.json), when the folder is here
    released: bool = False  # a production run's withheld success was released by this approval
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def by_commit(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Tag commit -> its reviews, from every note under NOTES_REF."""
    return {commit: parse(text) for commit, text in gitnotes.notes(root, NOTES_REF).items()}


def reviewer_of(root: Path) -> str:
    """The git identity of whoever reviews here: `Name <email>`."""
    return gitrepo.identity(gitrepo.open_git(root))


def record(project: Project, name: str, review: dict[str, Any]) -> ReviewResult:
    """Append REVIEW to run NAME: run folder (file, README, commit) and/or the note on its tag's commit."""
    from henryvc.core import record as records
    from henryvc.core.atomic import write_text_atomic

    repo = gitrepo.open_git(project.root)
    tagged = gitrepo.tag_exists(repo, name)
    run_dir = project.run_dir(name)
    here = (run_dir / records.RECORD_FILE).is_file()
    if not tagged and not here:
        raise RunNotFound(f"no run {name} here (no tag, no run folder): see `henryvc list`")
    if here:
        gitrepo.require_branch(repo, "of the review")  # before anything is written
    result = ReviewResult(review)
    if tagged:
        commit = gitrepo.commit_of(repo, name)
        old = parse(gitnotes.note(repo, NOTES_REF, commit))
        gitnotes.set_note(repo, NOTES_REF, commit, dumps(name, merged(old, [review])))
        result.noted = commit
    if not here:
        result.notes.append(f"run folder not in this work tree: the review is in the note on {name}'s commit only")
        return result
    reviews = merged(read_folder(run_dir), [review])
    write_text_atomic(run_dir / REVIEWS_FILE, dumps(name, reviews))
    with (run_dir / "README.md").open("a", encoding="utf-8") as handle:
        handle.write(readme_section(review))
    paths = [f"{project.runs.name}/{name}/{REVIEWS_FILE}", f"{project.runs.name}/{name}/README.md"]
    rec = records.load(run_dir)
    if review["verdict"] == "approve" and rec.status == "incomplete" and held(rec.verdict) and not tagged:
        rec = _release(run_dir, rec, review)
        result.released = True
        paths += [f"{project.runs.name}/{name}/{records.RECORD_FILE}", f"{project.runs.name}/{name}/SUCCESS"]
    result.status = rec.status
    result.commit = gitrepo.commit_paths(
        repo, paths, f"henryvc: review {name} ({review['verdict']}, {review['rating']}/5)")
    return result


def _release(run_dir: Path, rec: Any, review: dict[str, Any]) -> Any:
    """A withheld success, released by an approving review: status, verdict reasons, history, SUCCESS marker."""
    from henryvc.core import record as records

    verdict = dict(rec.verdict)
    verdict.update(status="success", reasons=[f"every criterion met; approved by {review['reviewer']} "
                                              f"({review['rating']}/5, review {review['id']})"])
    event = {"event": "review-approved-success", "at": review["at"], "review": review["id"]}
    updated = records.update(run_dir, status="success", verdict=verdict, history=rec.history + [event])
    (run_dir / "SUCCESS").write_text(f"{run_dir.name} met every criterion and was approved by review "
                                     f"{review['id']}; see metrics.json and reviews.json\n", encoding="utf-8")
    return updated


def note_at_tag(root: Path, name: str, commit: str, run_dir: Path) -> None:
    """tag-run's hook: copy the reviews made before tagging into the note on the new tag's commit."""
    reviews = read_folder(run_dir)
    if reviews:
        repo = gitrepo.open_git(root)
        old = parse(gitnotes.note(repo, NOTES_REF, commit))
        gitnotes.set_note(repo, NOTES_REF, commit, dumps(name, merged(old, reviews)))


def push(root: Path, remote: str = "origin") -> bool:
    """Push the reviews' notes ref (tag-run --push, backup, snapshot), merged first with the remote's:
    reviews written on another box are kept (union of the two notes; `parse` reads both halves)."""
    repo = gitrepo.open_git(root)
    gitnotes.merge_remote_notes(repo, NOTES_REF, remote)
    return gitrepo.push_ref(repo, NOTES_REF, remote)


# --- ratings from a blind report page ----------------------------------------------------------------

RATINGS_FORMAT = "henryvc-blind-ratings/1"  # the first blind pages: one rating and verdict per run label
KEY_FORMAT = "henryvc-blind-key/1"
KEY_FILE = "blind-key.json"
# Blind pages since issue 21: per row (utterance) a fresh order of clips, a rating per clip, a preference per row.
RATINGS_FORMAT_ROWS = "henryvc-blind-ratings/2"
KEY_FORMAT_ROWS = "henryvc-blind-key/2"
BLIND_APPROVE_AT = 4.0  # a run whose clips average at least this on a blind page is approved, else rejected


MAX_RATINGS_BYTES = 1 << 20  # a ratings or key file is a few KB; /dev/zero never ends


def _load_json(path: Path, what: str) -> dict[str, Any]:
    try:
        if not Path(path).is_file():  # a FIFO blocks, a device never ends: regular files only
            raise BadInput(f"the {what} {path} is not a regular file")
        with open(path, "rb") as handle:
            raw = handle.read(MAX_RATINGS_BYTES + 1)
        if len(raw) > MAX_RATINGS_BYTES:
            raise BadInput(f"the {what} {path} is over {MAX_RATINGS_BYTES} bytes: not a ratings file")
        data = json.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise BadInput(f"cannot read the {what} {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise BadInput(f"the {what} {path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise BadInput(f"the {what} {path} is not a JSON object")
    return data


def find_key(project: Project, ratings_path: Path, page: str, key_path: Path | None) -> Path:
    """The key of blind page PAGE: KEY_PATH, else blind-key.json beside the ratings, else the project's copy."""
    candidates = [key_path] if key_path else [Path(ratings_path).parent / KEY_FILE, keys_dir(project) / f"{page}.json"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise BadInput(f"no key for blind page {page}: pass --key (the {KEY_FILE} written next to the report page)")


def keys_dir(project: Project) -> Path:
    """Where report --blind keeps a copy of every key (outside any page folder)."""
    return project.state / "blind-keys"


def from_ratings(project: Project, ratings_path: Path, key_path: Path | None = None,
                 reviewer: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The (run, review) pairs a blind page's ratings file stands for, all checked before any is recorded."""
    ratings = _load_json(ratings_path, "ratings file")
    if ratings.get("format") == RATINGS_FORMAT_ROWS:
        return _from_rows(project, ratings_path, ratings, key_path, reviewer)
    if ratings.get("format") != RATINGS_FORMAT or not isinstance(ratings.get("ratings"), dict):
        raise BadInput(f"{ratings_path} is not a ratings file of a blind report page (format {RATINGS_FORMAT})")
    page = str(ratings.get("page"))
    key = _load_json(find_key(project, ratings_path, page, key_path), "key file")
    if key.get("format") != KEY_FORMAT or key.get("page") != page or not isinstance(key.get("runs"), dict):
        raise BadInput(f"the key does not belong to blind page {page}")
    who = reviewer or str(ratings.get("reviewer") or "").strip() or reviewer_of(project.root)
    pairs = []
    for label, given in sorted(ratings["ratings"].items()):
        run = key["runs"].get(label)
        if run is None:
            raise BadInput(f"label {label!r} of the ratings is not on blind page {page}")
        if not isinstance(given, dict):
            raise BadInput(f"rating of {label} is not an object")
        pairs.append((str(runname.parse(run)), new(str(runname.parse(run)), given.get("rating"), given.get("verdict"),
                                                   given.get("notes", ""), who, f"blind report {page}, as {label}")))
    if not pairs:
        raise BadInput(f"{ratings_path} rates no run")
    return pairs


def _from_rows(project: Project, ratings_path: Path, ratings: dict[str, Any], key_path: Path | None,
               reviewer: str | None) -> list[tuple[str, dict[str, Any]]]:
    """The reviews of a per-row blind page's ratings: per run, its clips' mean rating (rounded), approve at
    BLIND_APPROVE_AT or more, and per utterance its rating and whether the listener preferred it."""
    page = str(ratings.get("page"))
    key = _load_json(key_path or keys_dir(project) / f"{page}.json", "key file") if key_path or \
        (keys_dir(project) / f"{page}.json").is_file() else None
    if key is None:
        raise BadInput(f"no key for blind page {page} in this project ({keys_dir(project)}): import the ratings "
                       "in the project that made the page, or pass --key")
    if key.get("format") != KEY_FORMAT_ROWS or key.get("page") != page or not isinstance(key.get("rows"), dict):
        raise BadInput(f"the key does not belong to blind page {page}")
    rows = ratings.get("rows")
    if not isinstance(rows, dict):
        raise BadInput(f"{ratings_path} holds no rows of ratings")
    per_run: dict[str, dict[str, Any]] = {}
    for row_id, given in sorted(rows.items()):
        entry = key["rows"].get(row_id)
        if not isinstance(entry, dict) or not isinstance(given, dict):
            raise BadInput(f"row {row_id!r} of the ratings is not on blind page {page}")
        clips, utterance = entry.get("clips") or {}, str(entry.get("utterance"))
        preference = given.get("preference") or None
        if preference is not None and preference not in clips:
            raise BadInput(f"row {row_id}: preference {preference!r} is not a clip of that row")
        scores = given.get("ratings") or {}
        if not isinstance(scores, dict):
            raise BadInput(f"row {row_id}: ratings must map clip labels to 1-5")
        for label, value in scores.items():
            if label not in clips:
                raise BadInput(f"row {row_id}: clip {label!r} is not on blind page {page}")
            check(value, "approve", "")
        for label, run in clips.items():
            if label in scores or label == preference:
                got = per_run.setdefault(str(run), {"ratings": [], "utterances": {}, "preferred": 0})
                got["utterances"][utterance] = {"rating": scores.get(label), "preferred": label == preference}
                if label in scores:
                    got["ratings"].append(scores[label])
                got["preferred"] += label == preference
    who = reviewer or str(ratings.get("reviewer") or "").strip() or reviewer_of(project.root)
    notes = str(ratings.get("notes") or "").strip()
    chosen = sum(1 for r in rows.values() if isinstance(r, dict) and r.get("preference"))
    pairs = []
    for run, got in sorted(per_run.items()):
        if not got["ratings"]:
            continue  # preferred somewhere but never rated: no rating to record
        mean = sum(got["ratings"]) / len(got["ratings"])
        name = str(runname.parse(run))
        summary = (f"blind page {page}: {len(got['ratings'])} clip(s) rated, mean {mean:.2f}; preferred in "
                   f"{got['preferred']} of {chosen} row(s) with a preference")
        review = new(name, int(mean + 0.5), "approve" if mean >= BLIND_APPROVE_AT else "reject",
                     f"{summary}. {notes}" if notes else summary, who, f"blind report {page}")
        review["utterances"] = got["utterances"]
        pairs.append((name, review))
    if not pairs:
        raise BadInput(f"{ratings_path} rates no clip")
    return pairs


# --- the commands' functions ---------------------------------------------------------------------------

def review_run(project: Project, name: str, rating: int, verdict: str, notes: str = "",
               reviewer: str | None = None) -> ReviewResult:
    """`henryvc review NAME --rating --verdict --notes`."""
    name = str(runname.parse(name))
    review = new(name, rating, verdict, notes, reviewer or reviewer_of(project.root))
    with project.lock():
        return record(project, name, review)


def review_from_file(project: Project, ratings_path: Path, key_path: Path | None = None,
                     reviewer: str | None = None) -> list[ReviewResult]:
    """`henryvc review --from FILE`: one review per run rated on a blind report page."""
    pairs = from_ratings(project, ratings_path, key_path, reviewer)
    with project.lock():
        return [record(project, name, review) for name, review in pairs]
