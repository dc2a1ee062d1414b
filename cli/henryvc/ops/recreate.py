"""`henryvc recreate` on the host: check the environment against the tag's, restore, re-run, compare.

The check compares what a tag recorded (environment.json and environment.lock of its run) with this
interpreter: the stage code's files, python, arch, image and every package version. A difference in the
code, python, arch, image or a package the run's training imported refuses the re-run, one line each,
unless drift is allowed; a package the training never imported is listed as "not imported by the stages"
and does not block. A re-run with drift keeps the list in the recreated run's record (`recreation` in
run.json of the worktree).

After the re-run, the training is compared with the tag's bit for bit: every per-step loss and every model
tensor of the final checkpoint (`identical`). On CPU nothing else matches; only a run trained on CUDA gets
a tolerance, named in the result (recreations.CUDA_TOLERANCE).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.core import environment
from henryvc.core import recreation as recreations
from henryvc.core.runfolder import run_dir as run_dir_of
from henryvc.errors import HenryvcError, NotReady
from henryvc.ops import dockerrun

if TYPE_CHECKING:
    from henryvc.core.project import Project

Output = Callable[[str], None]


class Drifted(HenryvcError):
    """The environment about to run is not the one the run was made in (exit 1)."""


def recorded(project, name: str, hint: str = "") -> tuple[dict[str, Any], dict[str, str]]:
    """(environment.json, lock pins) recorded at tag NAME, or NotReady for runs made before locks (HINT: what
    the command asking can do about it)."""
    from henryvc.adapters import gitrepo
    from henryvc.ops import restore as restores

    repo = gitrepo.open_git(project.root)
    found = recorded_at(repo, restores.tag_commit(repo, name), name)
    if found is None:
        raise NotReady(f"tag {name} records no {environment.LOCK_FILE} (a run trained before henryvc kept one): "
                       f"there is no environment to check or build back{hint}")
    return found


def recorded_at(git_repo, rev: str, name: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    """(environment.json, lock pins) of run NAME at commit REV (no checkout), or None when it has no lock."""
    from henryvc.adapters import gitrepo
    from henryvc.core.runfolder import run_path

    lock = gitrepo.show(git_repo, rev, run_path(name, environment.LOCK_FILE))
    info = gitrepo.show(git_repo, rev, run_path(name, environment.INFO_FILE))
    if lock is None or info is None:
        return None
    return (environment.load_info(info, f"{rev}:{run_path(name, environment.INFO_FILE)}"),
            environment.parse_lock(lock))


def of_run(project, name: str, tagged: bool) -> tuple[dict[str, Any], dict[str, str]] | None:
    """The recorded environment of run NAME: from its tag when TAGGED, else from its run folder."""
    if not tagged:
        return environment.read(project.run_dir(name))
    from henryvc.adapters import gitrepo

    return recorded_at(gitrepo.open_git(project.root), name, name)


def check(project, name: str, here: tuple[dict[str, Any], dict[str, str]] | None = None) -> list[recreations.Drift]:
    """Every difference between the environment recorded at tag NAME and this interpreter's (or HERE)."""
    info, pins = recorded(project, name, "; re-run with --allow-drift")
    here_info, here_pins = here or environment.current()
    return recreations.drift(info, pins, here_info, here_pins)


def refusal(name: str, drift: list[recreations.Drift]) -> Drifted:
    """The error listing DRIFT's blocking differences, one line each (the others counted after them)."""
    blocking = recreations.blocking(drift)
    lines = "\n".join(f"  {d.line()}" for d in blocking)
    rest = len(drift) - len(blocking)
    also = f"\n  ({rest} package(s) {environment.NOT_IMPORTED} differ too; they do not block)" if rest else ""
    return Drifted(f"{name} was made in another environment ({len(blocking)} difference(s)); build it back with "
                   f"`henryvc env build {name} --venv DIR`, or re-run anyway with --allow-drift:\n{lines}{also}")


def mark(run_dir: Path, drift: list[recreations.Drift], where: str, **extra: Any) -> None:
    """Record in the recreated run's own record that (and with which drift) it is a re-creation."""
    from datetime import datetime, timezone

    from henryvc.core import record as records

    records.update(run_dir, recreation={
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "where": where,
        "drift": [d.to_dict() for d in drift], "drift_lines": [d.line() for d in drift], **extra})


@dataclass
class HostRecreation:
    """What a host re-creation did."""

    recreation: Any  # henryvc.adapters.recreations.Recreation (metrics compared like `docker recreate`)
    drift: list[recreations.Drift]

    def to_dict(self) -> dict[str, Any]:
        return self.recreation.to_dict()


def recreate(project, name: str, allow_drift: bool = False, output: Output | None = None) -> HostRecreation:
    """Check the environment, restore tag NAME into a worktree, `dvc repro --force` there, compare the training
    (bit for bit) and the metrics with the tag's."""
    from henryvc.core import stagecode
    from henryvc.ops import registry
    from henryvc.ops import restore as restores
    from henryvc.ops.pipeline import dvc_repro

    drift = check(project, name) if not allow_drift else _check_or_none(project, name)
    if recreations.blocking(drift) and not allow_drift:
        raise refusal(name, drift)  # before anything is written
    from datetime import datetime

    # A worktree of its own per re-creation: an earlier one's re-run outputs never meet this one's check.
    into = project.state / "recreate" / f"{name}.{datetime.now().strftime('%Y%m%dT%H%M%S%f')}"
    with project.lock():
        restored = restores.restore(project, name, into=into.relative_to(project.root))
    worktree = Path(restored.path)
    stagecode.link(worktree)  # the tag's dvc.yaml names the stage code through these links
    run_dir = run_dir_of(worktree, name)
    reference = keep_reference(worktree, name)
    mark(run_dir, drift, "host")
    metrics_file = run_dir / "metrics.json"
    before = metrics_file.stat().st_mtime_ns if metrics_file.exists() else None
    code, _ = dvc_repro(worktree, output, ("--force",))
    rewritten = metrics_file.exists() and metrics_file.stat().st_mtime_ns != before
    tolerance = tolerance_for(reference, run_dir, _recorded_device(project, name))
    exact = compare_training([sys.executable], reference, run_dir, tolerance)
    result = recreation(name, worktree, "host", code, rewritten, registry.show(project, name).metrics,
                        metrics_file, exact, tolerance, drift)
    mark(run_dir, drift, "host", exit_code=code, matches=result.matches, identical=result.identical)
    return HostRecreation(result, drift)


# Where the tag's per-step losses and final checkpoint are kept while the stages run again (git-ignored):
# inside the worktree, so that `docker recreate` sees them at the same place under /project.
REFERENCE = Path(".henryvc") / "recreate-tag"


def keep_reference(worktree: Path, name: str) -> Path:
    """Keep the tag's logs/step_losses.jsonl and final checkpoint (a hard link, else a copy) out of the stages'
    way; the folder, laid out like a run folder."""
    run_dir = run_dir_of(worktree, name)
    into = worktree / REFERENCE / name
    into.mkdir(parents=True, exist_ok=True)
    losses = run_dir / "logs" / "step_losses.jsonl"
    if losses.is_file():
        (into / "logs").mkdir(exist_ok=True)
        shutil.copy2(losses, into / "logs" / losses.name)
    checkpoints = sorted(run_dir.glob("checkpoints/checkpoint_*.pth"), key=_step)
    if checkpoints:
        (into / "checkpoints").mkdir(exist_ok=True)
        final = checkpoints[-1].resolve()  # a symlink into the DVC cache: the object itself
        target = into / "checkpoints" / checkpoints[-1].name
        try:
            target.hardlink_to(final)
        except OSError:
            shutil.copy2(final, target)
    return into


def _step(path: Path) -> int:
    tail = path.stem.rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def _device(folder: Path) -> str | None:
    """The device a run folder's training ran on (environment.json, else run.json's determinism)."""
    for name, keys in ((environment.INFO_FILE, ("device",)), ("run.json", ("determinism", "device"))):
        try:
            value: Any = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        if value:
            return str(value)
    return None


def _recorded_device(project, name: str) -> str | None:
    """The device tag NAME's training recorded (environment.json), if any."""
    try:
        return recorded(project, name)[0].get("device")
    except NotReady:
        return None


def tolerance_for(tag_run: Path, run_dir: Path, recorded_device: str | None = None) -> dict[str, Any] | None:
    """recreations.CUDA_TOLERANCE when the tag's training or the re-run's ran on CUDA, else None (bitwise)."""
    devices = {recorded_device, _device(run_dir), _device(tag_run)}
    return dict(recreations.CUDA_TOLERANCE) if any(d and d.startswith("cuda") for d in devices) else None


def compare_training(python: list[str], tag_dir: Path, run_dir: Path, tolerance: dict[str, Any] | None,
                     runner: Callable[[list[str]], tuple[int, str]] | None = None) -> dict[str, Any]:
    """henryvc_training.exactness run by PYTHON (where torch is) on TAG_DIR against RUN_DIR: its JSON result,
    or a result saying why nothing was compared."""
    import subprocess

    args = [*python, "-m", "henryvc_training.exactness", str(tag_dir), str(run_dir)]
    if tolerance:
        args += ["--atol", str(tolerance["atol"])]
    if runner is None:
        done = subprocess.run(args, capture_output=True, text=True)
        code, out = done.returncode, done.stdout + done.stderr
    else:
        code, out = runner(args)
    found = last_json(out)
    if code != 0 or not isinstance(found, dict):
        return {"identical": None, "not_compared": f"the comparison failed (exit {code}): {out.strip()[-300:]}",
                "differences": [], "beyond": []}
    return found


def last_json(text: str) -> Any:
    """The last line of TEXT that is JSON (a process may print other lines after it), or None."""
    for line in reversed(text.strip().splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def recreation(name: str, worktree: Path, where: str, code: int, rewritten: bool, tagged: dict[str, Any],
               metrics_file: Path, exact: dict[str, Any], tolerance: dict[str, Any] | None,
               drift: list[recreations.Drift]) -> Any:
    """The recreations.Recreation of a finished re-run (`drift`: the differences that block or were allowed,
    `not_imported`: those that never block)."""
    rtol = tolerance["metrics_rtol"] if tolerance else 0.0
    return recreations.Recreation(
        name, str(worktree), where, code, rewritten,
        recreations.compare_metrics(tagged, recreations.read_metrics(metrics_file), rtol),
        [d.line() for d in recreations.blocking(drift)], [d.line() for d in drift if not d.blocks],
        identical=exact.get("identical"), differences=list(exact.get("differences") or [])[:50],
        not_compared=exact.get("not_compared"), tolerance=tolerance,
        within_tolerance=(not exact.get("beyond")) if tolerance and exact.get("identical") is not None else None)


def _check_or_none(project, name: str) -> list[recreations.Drift]:
    """The drift, or an empty list for a tag without a lock (allowed drift re-runs those too)."""
    try:
        return check(project, name)
    except NotReady:
        return []


# --- `henryvc docker recreate`: the same in the image --------------------------------------------------

def in_image(project: Project, name: str, image: str | None = None, gpus: str = "none",
             command: list[str] | None = None, on_output: Output | None = None,
             client: Any = None, allow_drift: bool = False) -> recreations.Recreation:
    """Check IMAGE's environment against tag NAME's (default image: the one the run recorded, loaded from DVC
    when the engine lacks it, else henryvc:latest) before anything is written, then restore the tag into a
    worktree, re-run its stages in IMAGE and compare the training and the metrics with the tag's."""
    from henryvc.adapters import container
    from henryvc.core import imagestore, runname
    from henryvc.ops import registry
    from henryvc.ops import restore as restores

    name = str(runname.parse(name))
    client = client or container.connect()  # before anything else: no engine, nothing written
    try:
        found: tuple[dict[str, Any], dict[str, str]] | None = recorded(project, name)
    except NotReady:
        found = None
    if found is None and not allow_drift:
        raise NotReady(f"tag {name} records no environment lock (a run trained before henryvc kept one): "
                       "there is nothing to check the image against; re-run with --allow-drift")
    if image is None:
        image = ((found or ({}, {}))[0].get("image") or {}).get("image_id") or container.DEFAULT_TAG
        if image != container.DEFAULT_TAG:
            imagestore.ensure_loaded(project, image, client)
    drift = [] if found is None else recreations.drift(*found, *environment_in_image(image, gpus, client))
    if recreations.blocking(drift) and not allow_drift:
        raise refusal(name, drift)  # nothing of the project written yet
    with project.lock():
        restored = restores.restore(project, name)
    tagged = registry.show(project, name).metrics
    worktree = Path(restored.path)
    run_dir = run_dir_of(worktree, name)
    reference = keep_reference(worktree, name)
    mark(run_dir, drift, f"image {image}")
    metrics_file = run_dir / "metrics.json"
    before = metrics_file.read_bytes() if metrics_file.exists() else None
    before_mtime = metrics_file.stat().st_mtime_ns if metrics_file.exists() else None
    code = dockerrun.run(worktree, image, command or ["dvc", "repro", "--force"], gpus=gpus,
                         on_output=on_output, client=client)
    rewritten = metrics_file.exists() and (metrics_file.stat().st_mtime_ns != before_mtime
                                           or metrics_file.read_bytes() != before)
    tolerance = tolerance_for(reference, run_dir, "cuda" if gpus == "all" else (found or ({}, {}))[0].get("device"))
    inside = f"{container.PROJECT_MOUNT}/"

    def in_container(args: list[str]) -> tuple[int, str]:
        out: list[str] = []
        args = [a.replace(f"{worktree}/", inside) for a in args]
        done = dockerrun.run(worktree, image, args, gpus="none", on_output=out.append, client=client)
        return done, "".join(out)

    exact = compare_training(["python"], reference, run_dir, tolerance, in_container)
    result = recreation(name, worktree, image, code, rewritten, tagged, metrics_file, exact, tolerance, drift)
    mark(run_dir, drift, f"image {image}", exit_code=code, matches=result.matches, identical=result.identical)
    return result


def environment_in_image(image: str, gpus: str, client: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """IMAGE's environment (environment.current() computed inside it), run on an empty scratch folder: nothing of
    the project is mounted or written."""
    import tempfile

    script = "import json; from henryvc.core import environment; print(json.dumps(environment.current()))"
    out: list[str] = []
    with tempfile.TemporaryDirectory(prefix="henryvc-envcheck-") as scratch:
        code = dockerrun.run(Path(scratch), image, ["python", "-c", script], gpus=gpus, on_output=out.append,
                             client=client)
    found = last_json("".join(out))
    if code != 0 or not isinstance(found, list) or len(found) != 2:
        raise HenryvcError(f"the environment check in {image} failed (exit {code}): {''.join(out)[-500:]}")
    return found[0], found[1]
