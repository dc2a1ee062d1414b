"""The registry of runs: the run tags, plus run folders not tagged yet.

`list` reads the tags through an index in .henryvc/ keyed by each tag's *object id*: a tag object never
changes, so a row derived from it cannot go stale. A list asks git only for the refs (name -> object id,
no object reads) and reads in full only the tags the index has not seen; tags deleted or moved fall out
of the index when it is written back. Losing the file only costs one full read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from henryvc.adapters import gitrepo, gittags
from henryvc.core import runfolder, runname
from henryvc.core.numbers import is_number
from henryvc.core.summary import flatten, parse_message
from henryvc.errors import RunNotFound

if TYPE_CHECKING:
    from henryvc.core.project import Project

INDEX_FILE = "registry-index.json"
INDEX_FORMAT = "henryvc-registry-index/2"  # change it whenever a row's layout or meaning changes
# What `list` carries of a tag's summary; `show` has the rest (data hashes, environment, config hash...).
LIST_FIELDS = ("status", "verdict", "metrics", "created", "description")
FULL_READ_ABOVE = 64  # more unseen tags than this: one for-each-ref over all of them, not one pattern each


@dataclass
class RunInfo:
    """One run as the registry sees it."""

    name: str
    major: int
    variant: str
    status: str
    tagged: bool
    commit: str | None = None
    tag_date: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    folder: str | None = None  # its run folder in this work tree (training_runs/..., archive too), if any
    reviews: list[dict[str, Any]] = field(default_factory=list)  # listeners' reviews, oldest first (henryvc.core.review)
    environment: dict[str, Any] = field(default_factory=dict)  # henryvc.core.environment.summary, filled by api.show

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Listing:
    """The runs, plus tags that look like runs but could not be read (never dropped silently)."""

    runs: list[RunInfo]
    unreadable: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"runs": [r.to_dict() for r in self.runs], "unreadable": self.unreadable}


def _info(tag_name: str, name: runname.RunName, commit: str, date: str, summary: dict[str, Any]) -> RunInfo:
    return RunInfo(tag_name, name.major, name.variant, summary.get("status") or "unknown", True, commit, date,
                   summary.get("metrics") or {}, summary)


def _workspace_runs(project: Project, folders: dict[str, str],
                    tagged: set[str]) -> list[tuple[runname.RunName, RunInfo]]:
    """Run folders whose run has no tag yet, read from their run.json."""
    from henryvc.core import record as records

    found = []
    for rel in sorted(rel for name, rel in folders.items() if name not in tagged):
        run_dir = project.root / rel
        if not runname.is_run_name(run_dir.name) or run_dir.is_symlink():
            continue
        try:
            rec = records.load(run_dir)
            key = runname.parse(rec.name)
        except Exception:  # an unreadable record, or one naming no run: not a run folder of ours
            continue
        found.append((key, RunInfo(rec.name, rec.major, rec.variant, records.live_status(run_dir, rec), False,
                                   metrics=flatten(rec.metrics), summary=rec.to_dict(), folder=rel)))
    return found


def list_runs(project: Project, major: int | None = None, variant: str | None = None,
              status: str | None = None) -> Listing:
    """Tagged runs (through the tag index) and untagged run folders, newest first, filtered."""
    runs: list[tuple[runname.RunName, RunInfo]] = []
    rows = _tag_rows(project)
    unreadable = []
    for tag_name, row in rows.items():
        try:
            name = runname.parse(tag_name)
        except Exception:
            name = None
        if name is None or row.head is None:
            unreadable.append(tag_name)
        else:
            runs.append((name, _info(tag_name, name, row.commit, row.date, row.head)))
    folders = runfolder.folder_index(project)
    for _, info in runs:
        info.folder = folders.get(info.name)
    runs += _workspace_runs(project, folders, set(rows))
    _attach_reviews(project, [info for _, info in runs])
    keep = [(key, r) for key, r in runs if (major is None or r.major == major)
            and (variant is None or r.variant == variant) and (status is None or r.status == status)]
    keep.sort(key=lambda pair: pair[0], reverse=True)
    return Listing([r for _, r in keep], unreadable)


def _attach_reviews(project: Project, runs: list[RunInfo]) -> list[RunInfo]:
    """Each run's reviews: the notes on tag commits (one read for all), the run folder's file for untagged runs."""
    from henryvc.core import review
    from henryvc.ops import review as recorded

    noted = recorded.by_commit(project.root) if any(r.tagged for r in runs) else {}
    for info in runs:
        if info.tagged:
            info.reviews = noted.get(info.commit or "", [])
        elif info.folder:
            info.reviews = review.read_folder(project.root / info.folder)
    return runs


class _Row(NamedTuple):
    """What list keeps of one tag (index row): HEAD is LIST_FIELDS of its summary, None if not henryvc's."""

    kind: str
    commit: str
    date: str
    head: dict[str, Any] | None


def _row(tag: gittags.TagInfo) -> _Row:
    summary = parse_message(tag.body) if tag.kind == "tag" else None
    head = None if summary is None else {k: summary.get(k) for k in LIST_FIELDS}
    return _Row(tag.kind, tag.commit, tag.date, head)


def _tag_rows(project: Project) -> dict[str, _Row]:
    """Tag name -> row for every run-looking tag: refs from git, rows from the index or read for new tags."""
    refs = gittags.tag_oids(project.root, runname.TAG_GLOB)
    index = _load_index(project)
    unseen = [name for name, oid in refs.items() if oid not in index]
    if unseen:
        patterns = [runname.TAG_GLOB] if len(unseen) > FULL_READ_ABOVE else unseen
        for tag in gittags.iter_tags(project.root, *patterns):
            index[tag.oid] = _row(tag)
            refs[tag.name] = tag.oid  # made or moved between the two git calls: the newer read wins
    used = set(refs.values())
    if unseen or not used.issuperset(index):  # new tags read, or rows of deleted/moved tags to drop
        _save_index(project, {oid: row for oid, row in index.items() if oid in used})
    return {name: index[oid] for name, oid in refs.items() if oid in index}


def _index_path(project: Project) -> Path:
    return project.state / INDEX_FILE


def _load_index(project: Project) -> dict[str, _Row]:
    """The index's rows; {} for a missing, torn, foreign or other-format file (a full read rebuilds it)."""
    try:
        data = json.loads(_index_path(project).read_text(encoding="utf-8"))
        if data.get("format") != INDEX_FORMAT:
            return {}
        rows = {oid: _Row(*row) for oid, row in data["rows"].items()}
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return {}
    good = all(isinstance(r.commit, str) and isinstance(r.date, str) and isinstance(r.head, (dict, type(None)))
               for r in rows.values())
    return rows if good else {}


def _save_index(project: Project, rows: dict[str, _Row]) -> None:
    """Write the index atomically; a project whose state folder cannot be written just goes without one."""
    from henryvc.core.atomic import write_atomic

    try:
        write_atomic(_index_path(project), lambda handle: json.dump(
            {"format": INDEX_FORMAT, "rows": rows}, handle, separators=(",", ":")), mode=0o644, fsync=False)
    except OSError:
        pass  # others sharing the project may read it; a state folder that cannot be written goes without


def show(project: Project, name: str) -> RunInfo:
    """Everything known about run NAME (its tag with its whole summary, else its run folder)."""
    parsed = runname.parse(name)
    for tag in gittags.read_tags(project.root, name):
        summary = parse_message(tag.body) if tag.kind == "tag" else None
        if summary is not None:
            info = _info(tag.name, parsed, tag.commit, tag.date, summary)
            info.folder = runfolder.folder_index(project).get(name)
            return _attach_reviews(project, [info])[0]
    for _, info in _workspace_runs(project, runfolder.folder_index(project), set()):
        if info.name == name:
            return _attach_reviews(project, [info])[0]
    raise RunNotFound(f"no run {name}: see `henryvc list`")


def _files_of(project: Project, repo, name: str, tagged: bool) -> tuple[dict, dict]:
    from henryvc.core import params

    path = runfolder.run_path(name, "config.json")
    if tagged:
        config_text = gitrepo.show(repo, name, path) or "{}"
        run_params = params.parse(gitrepo.show(repo, name, params.PARAMS_FILE) or "{}", f"{name}:{params.PARAMS_FILE}")
    else:
        config_file = project.root / path
        config_text = config_file.read_text() if config_file.exists() else "{}"
        run_params = params.read(project.root) or {}
    return json.loads(config_text), run_params


def _changes(a: dict[str, Any], b: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    fa, fb = flatten(a), flatten(b)
    return [{"key": k, "a": fa.get(k), "b": fb.get(k)} for k in sorted(fa.keys() | fb.keys())
            if fa.get(k) != fb.get(k) and k not in ignore]


def diff(project: Project, a: str, b: str) -> dict[str, Any]:
    """Config and params differences and metric deltas (B minus A) between runs A and B."""
    repo = gitrepo.open_git(project.root)
    run_a, run_b = show(project, a), show(project, b)
    config_a, params_a = _files_of(project, repo, a, run_a.tagged)
    config_b, params_b = _files_of(project, repo, b, run_b.tagged)
    metrics = [{"key": k, "a": run_a.metrics.get(k), "b": run_b.metrics.get(k),
                "delta": run_b.metrics[k] - run_a.metrics[k]
                if is_number(run_a.metrics.get(k)) and is_number(run_b.metrics.get(k)) else None}
               for k in sorted(run_a.metrics.keys() | run_b.metrics.keys())]
    return {
        "a": a, "b": b,
        "status": {"a": run_a.status, "b": run_b.status},
        "config": _changes(config_a, config_b, ignore=("run_name", "output_path")),
        "params": _changes(params_a, params_b, ignore=("run",)),
        "metrics": [m for m in metrics if m["a"] != m["b"]],
    }
