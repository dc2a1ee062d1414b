"""`henryvc recreate` on the host: check the environment against the tag's, restore, re-run, compare.

The check compares what a tag recorded (environment.json and environment.lock of its run) with this
interpreter: the stage code's files, every package version, python, arch and image. Any difference
refuses the re-run, one line each, unless drift is allowed; a re-run with drift keeps the list in the
recreated run's record (`recreation` in run.json of the worktree).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from henryvc import envlock
from henryvc.errors import HenryvcError, NotReady

Output = Callable[[str], None]


class Drifted(HenryvcError):
    """The environment about to run is not the one the run was made in (exit 1)."""


def recorded(project, name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(environment.json, lock pins) recorded at tag NAME, or NotReady for runs made before locks."""
    from henryvc import gitrepo, snapshot

    repo = gitrepo.open_repo(project.root)
    commit = snapshot.tag_commit(repo, name)
    found = envlock.read_at(repo, commit, name)
    if found is None:
        raise NotReady(f"tag {name} records no {envlock.LOCK_FILE} (a run trained before henryvc kept one): "
                       "there is nothing to check the environment against; re-run with --allow-drift")
    return found


def check(project, name: str, here: tuple[dict[str, Any], dict[str, str]] | None = None) -> list[envlock.Drift]:
    """Every difference between the environment recorded at tag NAME and this interpreter's (or HERE)."""
    info, pins = recorded(project, name)
    here_info, here_pins = here or envlock.current()
    return envlock.drift(info, pins, here_info, here_pins)


def refusal(name: str, drift: list[envlock.Drift]) -> Drifted:
    """The error listing DRIFT, one line per difference."""
    lines = "\n".join(f"  {d.line()}" for d in drift)
    return Drifted(f"{name} was made in another environment ({len(drift)} difference(s)); build it back with "
                   f"`henryvc env build {name} --venv DIR`, or re-run anyway with --allow-drift:\n{lines}")


def mark(run_dir: Path, drift: list[envlock.Drift], where: str, **extra: Any) -> None:
    """Record in the recreated run's own record that (and with which drift) it is a re-creation."""
    from datetime import datetime, timezone

    from henryvc import record as records

    records.update(run_dir, recreation={
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "where": where,
        "drift": [d.to_dict() for d in drift], "drift_lines": [d.line() for d in drift], **extra})


@dataclass
class HostRecreation:
    """What a host re-creation did."""

    recreation: Any  # henryvc.container.Recreation (metrics compared like `docker recreate`)
    drift: list[envlock.Drift]

    def to_dict(self) -> dict[str, Any]:
        return {**self.recreation.to_dict(), "drift": [d.line() for d in self.drift]}


def recreate(project, name: str, allow_drift: bool = False, output: Output | None = None) -> HostRecreation:
    """Check the environment, restore tag NAME into a worktree, `dvc repro --force` there, compare metrics."""
    from henryvc import container, registry, snapshot, stagecode
    from henryvc.pipeline import dvc_repro

    drift = check(project, name) if not allow_drift else _check_or_none(project, name)
    if drift and not allow_drift:
        raise refusal(name, drift)  # before anything is written
    from datetime import datetime

    # A worktree of its own per re-creation: an earlier one's re-run outputs never meet this one's check.
    into = project.state / "recreate" / f"{name}.{datetime.now().strftime('%Y%m%dT%H%M%S%f')}"
    with project.lock():
        restored = snapshot.restore(project, name, into=into.relative_to(project.root))
    worktree = Path(restored.path)
    stagecode.link(worktree)  # the tag's dvc.yaml names the stage code through these links
    run_dir = worktree / "training_runs" / name
    mark(run_dir, drift, "host")
    metrics_file = run_dir / "metrics.json"
    before = metrics_file.stat().st_mtime_ns if metrics_file.exists() else None
    code, _ = dvc_repro(worktree, output, ("--force",))
    rewritten = metrics_file.exists() and metrics_file.stat().st_mtime_ns != before
    result = container.Recreation(name, str(worktree), "host", code, rewritten,
                                  container.compare_metrics(registry.show(project, name).metrics,
                                                            container.read_metrics(metrics_file)))
    mark(run_dir, drift, "host", exit_code=code, matches=result.matches)  # the stages rewrote run.json
    return HostRecreation(result, drift)


def _check_or_none(project, name: str) -> list[envlock.Drift]:
    """The drift, or an empty list for a tag without a lock (allowed drift re-runs those too)."""
    try:
        return check(project, name)
    except NotReady:
        return []
