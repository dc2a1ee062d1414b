"""`henryvc recreate` on the host: check the environment against the tag's, restore, re-run, compare.

The check compares what a tag recorded (environment.json and environment.lock of its run) with this
interpreter: the stage code's files, every package version, python, arch and image. Any difference
refuses the re-run, one line each, unless drift is allowed; a re-run with drift keeps the list in the
recreated run's record (`recreation` in run.json of the worktree).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc import envlock
from henryvc.errors import HenryvcError, NotReady

if TYPE_CHECKING:
    from henryvc import container
    from henryvc.project import Project

Output = Callable[[str], None]


class Drifted(HenryvcError):
    """The environment about to run is not the one the run was made in (exit 1)."""


def recorded(project, name: str) -> tuple[dict[str, Any], dict[str, str]]:
    """(environment.json, lock pins) recorded at tag NAME, or NotReady for runs made before locks."""
    from henryvc import gitrepo
    from henryvc import restore as restores

    repo = gitrepo.open_repo(project.root)
    commit = restores.tag_commit(repo, name)
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
    from henryvc import container, registry, stagecode
    from henryvc import restore as restores
    from henryvc.pipeline import dvc_repro

    drift = check(project, name) if not allow_drift else _check_or_none(project, name)
    if drift and not allow_drift:
        raise refusal(name, drift)  # before anything is written
    from datetime import datetime

    # A worktree of its own per re-creation: an earlier one's re-run outputs never meet this one's check.
    into = project.state / "recreate" / f"{name}.{datetime.now().strftime('%Y%m%dT%H%M%S%f')}"
    with project.lock():
        restored = restores.restore(project, name, into=into.relative_to(project.root))
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


# --- `henryvc docker recreate`: the same in the image --------------------------------------------------

def in_image(project: Project, name: str, image: str | None = None, gpus: str = "none",
             command: list[str] | None = None, on_output: Output | None = None,
             client: Any = None, allow_drift: bool = False) -> container.Recreation:
    """Restore tag NAME into a worktree, check the image's environment against the tag's, re-run its stages
    in IMAGE (default: the image the run recorded, loaded from DVC when the engine lacks it, else
    henryvc:latest), compare the metrics with the tag's."""
    from henryvc import container, imagestore, registry, runname
    from henryvc import restore as restores

    name = str(runname.parse(name))
    client = client or container.connect()  # before restoring: no engine, nothing written
    if image is None:
        image = _recorded_image(project, name) or container.DEFAULT_TAG
        if image != container.DEFAULT_TAG:
            imagestore.ensure_loaded(project, image, client)
    with project.lock():
        restored = restores.restore(project, name)
    tagged = registry.show(project, name).metrics
    worktree = Path(restored.path)
    drift = _drift_in_image(worktree, name, image, gpus, client)
    if drift is None and not allow_drift:
        raise NotReady(f"tag {name} records no environment lock (a run trained before henryvc kept one): "
                            "there is nothing to check the image against; re-run with --allow-drift")
    if drift and not allow_drift:
        raise refusal(name, drift)
    run_dir = worktree / "training_runs" / name
    mark(run_dir, drift or [], f"image {image}")
    metrics_file = run_dir / "metrics.json"
    before = metrics_file.read_bytes() if metrics_file.exists() else None
    before_mtime = metrics_file.stat().st_mtime_ns if metrics_file.exists() else None
    code = container.run(worktree, image, command or ["dvc", "repro", "--force"], gpus=gpus,
               on_output=on_output, client=client)
    rewritten = metrics_file.exists() and (metrics_file.stat().st_mtime_ns != before_mtime
                                           or metrics_file.read_bytes() != before)
    mark(run_dir, drift or [], f"image {image}", exit_code=code)
    return container.Recreation(name, str(worktree), image, code, rewritten,
                                container.compare_metrics(tagged, container.read_metrics(metrics_file)),
                                [d.line() for d in drift or []])


def _recorded_image(project: Project, name: str) -> str | None:
    """The id of the image run NAME trained in (its environment.json at the tag), if any."""
    try:
        info, _ = recorded(project, name)
    except NotReady:
        return None
    return (info.get("image") or {}).get("image_id")


def _drift_in_image(worktree: Path, name: str, image: str, gpus: str, client: Any) -> list[envlock.Drift] | None:
    """The differences between run NAME's recorded environment and IMAGE's, computed inside IMAGE
    (None when the run records no lock)."""
    import json

    from henryvc import container

    out: list[str] = []
    code = container.run(worktree, image, ["python", "-m", "henryvc.envlock", "--check", f"training_runs/{name}"],
               gpus=gpus, on_output=out.append, client=client)
    text = "".join(out).strip().splitlines()
    if code != 0 or not text:
        raise HenryvcError(f"the environment check in {image} failed (exit {code}): {''.join(out)[-500:]}")
    found = json.loads(text[-1])
    return None if found is None else [envlock.Drift(**d) for d in found]
