"""The run summary an annotated run tag carries: how it is built, written into the message and read back.

Kept apart from henryvc.ops.restore and henryvc.ops.runtag (hashing, DVC) so that read commands such as `henryvc list` import
only json to parse 2,000 of them.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from henryvc.adapters.gitrepo import GitRepo

SUMMARY_FORMAT = "henryvc-tag/1"


def build(name: str, record: dict[str, Any], metrics: dict[str, Any], outs: list[Any],
          environment: dict[str, Any]) -> dict[str, Any]:
    """The machine-readable summary of run NAME (OUTS: its DVC outputs, each with .path and .to_dict())."""
    return {
        "format": SUMMARY_FORMAT,
        "run": name,
        "status": record.get("status"),
        "major": record.get("major"),
        "variant": record.get("variant"),
        "created": record.get("created"),
        "description": record.get("description", ""),
        "config_hash": record.get("config_hash"),
        "source_commit": record.get("source_commit"),
        "seed": record.get("seed"),
        "code": record.get("code"),  # code identity and lock digest, written by the train stage (henryvc.core.environment)
        "environment_lock": record.get("environment_lock"),
        "verdict": record.get("verdict") or {},
        "metrics": {k: v for k, v in flatten(metrics).items() if isinstance(v, (int, float, str, bool)) or v is None},
        "data": {out.path: out.to_dict() for out in outs},
        "environment": {"tagged_with": environment, "trained_with": record.get("environment") or {}},
    }


def message(summary: dict[str, Any]) -> str:
    """The annotated tag's message: a subject line, then the machine-readable summary as JSON."""
    return f"henryvc run {summary['run']}: {summary['status']}\n\n{json.dumps(summary, indent=2, sort_keys=True)}\n"


def parse_message(body: str) -> dict[str, Any] | None:
    """The summary in a tag message body (None when the tag was not made by henryvc)."""
    start = body.find("{")
    if start < 0:
        return None
    try:
        data = json.loads(body[start:body.rfind("}") + 1])
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("format") == SUMMARY_FORMAT else None


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one level of dotted keys."""
    if not isinstance(data, dict):
        return {prefix: data} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def tag_summaries(git_repo: GitRepo, pattern: str | None = None) -> dict[str, dict[str, Any]]:
    """Tag name → its henryvc summary ({} for a tag without one), in one git call; PATTERN defaults to run tags."""
    from henryvc.adapters import gittags
    from henryvc.core import runname

    return {tag.name: (parse_message(tag.body) or {})
            for tag in gittags.read_tags(git_repo, runname.TAG_GLOB if pattern is None else pattern)}


def all_tags(git_repo: GitRepo) -> list[str]:
    """Every run tag and snapshot tag, run tags first, each sorted."""
    from henryvc.core import runname

    return sorted(tag_summaries(git_repo)) + sorted(
        t for t in tag_summaries(git_repo, runname.SNAPSHOT_GLOB) if runname.is_snapshot_name(t))
