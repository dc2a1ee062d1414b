"""The registry of runs: tags read in one git call, plus run folders not tagged yet."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from cli import gitrepo, runname
from cli.errors import RunNotFound
from cli.snapshot import flatten, parse_message

ARCHIVE_PLACES = ("archive/failed", "archive/incomplete")


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Listing:
    """The runs, plus tags that look like runs but could not be read (never dropped silently)."""

    runs: list[RunInfo]
    unreadable: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {"runs": [r.to_dict() for r in self.runs], "unreadable": self.unreadable}


def _from_tag(tag: gitrepo.TagInfo) -> RunInfo | None:
    try:
        name = runname.parse(tag.name)
    except Exception:
        return None
    summary = parse_message(tag.body) if tag.kind == "tag" else None
    if summary is None:
        return None
    return RunInfo(tag.name, name.major, name.variant, summary.get("status") or "unknown", True, tag.commit,
                   tag.date, summary.get("metrics") or {}, summary)


def _workspace_runs(project, tagged: set[str]) -> list[RunInfo]:
    from cli import record as records

    found = []
    for place in ("", *ARCHIVE_PLACES):
        folder = project.runs / place
        for run_dir in sorted(folder.glob("henry_v*")) if folder.is_dir() else []:
            if run_dir.name in tagged or not runname.is_run_name(run_dir.name) or run_dir.is_symlink():
                continue
            try:
                rec = records.load(run_dir)
            except Exception:
                continue
            found.append(RunInfo(rec.name, rec.major, rec.variant, records.live_status(run_dir, rec), False,
                                 metrics=flatten(rec.metrics), summary=rec.to_dict()))
    return found


def list_runs(project, major: int | None = None, variant: str | None = None,
              status: str | None = None) -> Listing:
    """Tagged runs (one for-each-ref) and untagged run folders, newest first, filtered."""
    runs, unreadable = [], []
    for tag in gitrepo.read_tags(project.root, runname.TAG_GLOB):
        info = _from_tag(tag)
        if info is None:
            unreadable.append(tag.name)
        else:
            runs.append(info)
    runs += _workspace_runs(project, {r.name for r in runs} | set(unreadable))
    keep = [r for r in runs if (major is None or r.major == major) and (variant is None or r.variant == variant)
            and (status is None or r.status == status)]
    keep.sort(key=lambda r: runname.parse(r.name), reverse=True)
    return Listing(keep, unreadable)


def show(project, name: str) -> RunInfo:
    """Everything known about run NAME (its tag, else its run folder)."""
    for tag in gitrepo.read_tags(project.root, name):
        info = _from_tag(tag)
        if info is not None:
            return info
    for info in _workspace_runs(project, set()):
        if info.name == name:
            return info
    raise RunNotFound(f"no run {name}: see `henryvc list`")


def _files_of(project, repo, name: str, tagged: bool) -> tuple[dict, dict]:
    import yaml

    path = f"training_runs/{name}/config.json"
    if tagged:
        config_text = gitrepo.show(repo, name, path) or "{}"
        params_text = gitrepo.show(repo, name, "params.yaml") or "{}"
    else:
        config_file, params_file = project.root / path, project.params
        config_text = config_file.read_text() if config_file.exists() else "{}"
        params_text = params_file.read_text() if params_file.exists() else "{}"
    return json.loads(config_text), yaml.safe_load(params_text) or {}


def _changes(a: dict[str, Any], b: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    fa, fb = flatten(a), flatten(b)
    return [{"key": k, "a": fa.get(k), "b": fb.get(k)} for k in sorted(fa.keys() | fb.keys())
            if fa.get(k) != fb.get(k) and k not in ignore]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def diff(project, a: str, b: str) -> dict[str, Any]:
    """Config and params differences and metric deltas (B minus A) between runs A and B."""
    repo = gitrepo.open_repo(project.root)
    run_a, run_b = show(project, a), show(project, b)
    config_a, params_a = _files_of(project, repo, a, run_a.tagged)
    config_b, params_b = _files_of(project, repo, b, run_b.tagged)
    metrics = [{"key": k, "a": run_a.metrics.get(k), "b": run_b.metrics.get(k),
                "delta": run_b.metrics[k] - run_a.metrics[k]
                if _number(run_a.metrics.get(k)) and _number(run_b.metrics.get(k)) else None}
               for k in sorted(run_a.metrics.keys() | run_b.metrics.keys())]
    return {
        "a": a, "b": b,
        "status": {"a": run_a.status, "b": run_b.status},
        "config": _changes(config_a, config_b, ignore=("run_name", "output_path")),
        "params": _changes(params_a, params_b, ignore=("run",)),
        "metrics": [m for m in metrics if m["a"] != m["b"]],
    }
