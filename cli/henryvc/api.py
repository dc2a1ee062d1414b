"""One plain function per command: the Click layer (henryvc.commands) calls these and formats what they return.

Below this layer, one module per noun or operation does the work (docs/architecture.md). Heavy modules (DVC,
hashing, the config lints, the container SDK) are imported inside the functions that need them:
`henryvc --help`, `list` and `show` import this module and must not pay for them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.core import runname
from henryvc.errors import BadInput, HenryvcError

if TYPE_CHECKING:
    from henryvc.adapters import container as containers
    from henryvc.core import config as configs
    from henryvc.core import imagestore
    from henryvc.core import record as records
    from henryvc.core import recreation as recreations
    from henryvc.core.project import Project
    from henryvc.ops import archive as archives
    from henryvc.ops import backup as backups
    from henryvc.ops import cleanup as cleanups
    from henryvc.ops import doctor as doctors
    from henryvc.ops import envbuild, registry, runtag
    from henryvc.ops import logs as logs_
    from henryvc.ops import pipeline as pipelines
    from henryvc.ops import recreate as recreates
    from henryvc.ops import report as reports
    from henryvc.ops import reset as resets
    from henryvc.ops import restore as restores
    from henryvc.ops import review as reviews
    from henryvc.ops import schedule as schedules
    from henryvc.ops import snapshot as snapshots
    from henryvc.ops import status as statuses
    from henryvc.ops import submit as submits


def init(root: Path, remote: str | None = None) -> dict[str, Any]:
    """`henryvc init`: make ROOT a project (idempotent)."""
    from henryvc.core import project as projects

    return projects.init(root, remote)


def validate(paths: list[Path]) -> list[configs.Finding]:
    """`henryvc validate`: every finding in every config file."""
    from henryvc.core import config as configs

    return [finding for path in paths for finding in configs.validate_file(Path(path))]


def active_run(project: Project) -> str:
    """The run params.yaml points at (what `dvc repro` trains); BadInput when there is none."""
    from henryvc.core import params

    return params.active_run(project.root)


def set_active_run(project: Project, name: str) -> None:
    """Point params.yaml's `run` at NAME, keeping its comments and order; atomic."""
    from henryvc.core import params

    params.set_active_run(project.root, name)


def new_run(project: Project, major: int, variant: str, config_path: Path | None = None,
            description: str = "", now: Callable[[], datetime] = datetime.now) -> records.RunRecord:
    """`henryvc new-run`: name, validate, create the run folder (atomically) and point params.yaml at it."""
    from henryvc.ops import newrun

    return newrun.new_run(project, major, variant, config_path, description, now)


def tag_run(project: Project, name: str | None = None, push: bool = False) -> runtag.TagResult:
    """`henryvc tag-run`: one commit and one annotated tag for the run (default: params.yaml's run)."""
    from henryvc.ops import runtag

    return runtag.tag(project, str(runname.parse(name)) if name else None, push)


def list_runs(project: Project, major: int | None = None, variant: str | None = None,
              status: str | None = None) -> registry.Listing:
    """`henryvc list`."""
    from henryvc.core import record as records
    from henryvc.ops import registry

    if variant is not None:
        runname.check_variant(variant)
    if status is not None and status not in records.STATUSES:
        raise BadInput(f"status must be one of {', '.join(records.STATUSES)}; got {status!r}")
    return registry.list_runs(project, major, variant, status)


def show(project: Project, name: str) -> registry.RunInfo:
    """`henryvc show`."""
    from henryvc.core import environment
    from henryvc.ops import recreate, registry

    info = registry.show(project, str(runname.parse(name)))
    found = recreate.of_run(project, info.name, info.tagged)
    info.environment = environment.summary(*found) if found else {}
    return info


def diff(project: Project, a: str, b: str) -> dict[str, Any]:
    """`henryvc diff`."""
    from henryvc.core import recreation
    from henryvc.ops import recreate, registry

    result = registry.diff(project, str(runname.parse(a)), str(runname.parse(b)))
    tagged = {run: registry.show(project, run).tagged for run in (result["a"], result["b"])}
    result["environment"] = recreation.changes(recreate.of_run(project, result["a"], tagged[result["a"]]),
                                               recreate.of_run(project, result["b"], tagged[result["b"]]))
    return result


def restore(project: Project, name: str, into: Path | None = None, in_place: bool = False,
            pull: bool = False, progress: restores.Progress | None = None,
            rehash: bool = False) -> restores.RestoreResult:
    """`henryvc restore`."""
    from henryvc.ops import restore as restores

    name = str(runname.parse(name))
    if into is not None and in_place:
        raise BadInput("--into and --in-place exclude each other")
    with project.lock():
        return restores.restore(project, name, into, in_place, pull, progress, rehash)


def verify(project: Project, name: str, path: Path | None = None,
           progress: restores.Progress | None = None, fast: bool = False) -> restores.CheckResult:
    """`henryvc verify`."""
    from henryvc.ops import restore as restores

    return restores.verify(project, str(runname.parse(name)), path, progress, fast)


def run(project: Project, major: int, variant: str, config_path: Path | None = None, description: str = "",
        tag: bool = True, output: Callable[[str], None] | None = None, gpus: int | None = None,
        nodes: int | None = None, parent: str | None = None, sets: tuple[str, ...] = ()) -> pipelines.PipelineResult:
    """`henryvc run`: new-run (from a template or PARENT's config, with SETS overrides), `dvc repro`, tag-run
    (on GPUS processes per node and NODES machines)."""
    from henryvc.ops import pipeline as pipelines

    return pipelines.run(project, major, variant, config_path, description, tag=tag, output=output,
                         gpus=gpus, nodes=nodes, parent=parent, sets=sets)


def submit(project: Project, request: submits.Request, dry_run: bool = False) -> submits.Submitted:
    """`henryvc submit`: reserve a run and queue one SLURM job that trains it in its own worktree."""
    from henryvc.ops import submit as submits

    return submits.submit(project, request, dry_run=dry_run)


def jobs(project: Project) -> list[submits.JobView]:
    """`henryvc jobs`: every submitted run with its SLURM state."""
    from henryvc.ops import submit as submits

    return submits.job_views(project)


def active_jobs(project: Project) -> list[submits.JobView]:
    """Submitted runs whose SLURM job is queued or running (none without submissions: no scheduler asked)."""
    from henryvc.ops import submit as submits

    return submits.active(project)


def cancel(project: Project, name: str) -> submits.JobView:
    """`henryvc cancel`: cancel the SLURM job of submitted run NAME."""
    from henryvc.ops import submit as submits

    return submits.cancel(project, name)


def resume(project: Project, name: str, output: Callable[[str], None] | None = None,
           inexact: bool = False) -> pipelines.PipelineResult:
    """`henryvc resume`: continue an incomplete run from its last checkpoint (exactly, unless INEXACT)."""
    from henryvc.ops import pipeline as pipelines

    return pipelines.resume(project, str(runname.parse(name)), output=output, inexact=inexact)


def archive(project: Project, dry_run: bool = False) -> archives.ArchiveResult:
    """`henryvc archive`."""
    from henryvc.ops import archive as archives

    return archives.archive(project, dry_run)


def cleanup_failed(project: Project, older_than: float | None = None, dry_run: bool = False, force: bool = False,
                   only: set[str] | None = None) -> cleanups.CleanupPlan:
    """`henryvc cleanup-failed` (a dry run plans only)."""
    from henryvc.ops import cleanup as cleanups

    return cleanups.cleanup_failed(project, older_than, dry_run=dry_run, force=force, only=only)


def plan_reset(project: Project, remote: str | None = None) -> resets.ResetPlan:
    """What `henryvc reset` would do; reads only."""
    from henryvc.ops import reset as resets

    return resets.plan_reset(project, remote)


def reset(project: Project, remote: str | None = None, only: set[str] | None = None) -> resets.ResetPlan:
    """`henryvc reset`."""
    from henryvc.ops import reset as resets

    return resets.reset(project, remote, only=only)


def backup(project: Project, remote: str | None = None, best_only: bool = False,
           repair: bool = False) -> backups.BackupResult:
    """`henryvc backup` (--repair: also read the remote back and replace damaged objects)."""
    from henryvc.ops import backup as backups

    return backups.backup(project, remote, best_only, repair)


def verify_backup(project: Project, remote: str | None = None, deep: bool = False) -> backups.BackupCheck:
    """`henryvc backup --verify` (--deep: read every object back from a network remote too)."""
    from henryvc.ops import backup as backups

    return backups.verify_backup(project, remote, deep)


def snapshot(project: Project, message: str = "", push: bool = True,
             remote: str | None = None) -> snapshots.SnapshotResult:
    """`henryvc snapshot`."""
    from henryvc.ops import snapshot as snapshots

    return snapshots.snapshot(project, message, push=push, remote=remote)


def schedule(project: Project, kind: str = "cron") -> schedules.Schedule:
    """`henryvc schedule`."""
    from henryvc.ops import schedule as schedules

    return schedules.schedule(project, kind)


def read_log(project: Project, name: str, follow: bool = False, lines: int | None = None) -> Iterator[str]:
    """`henryvc logs`."""
    from henryvc.ops import logs as logs_

    return logs_.read_log(project, name, follow=follow, lines=lines)


def tensorboard(project: Project, names: list[str], port: int = 6006,
                host: str = "localhost") -> logs_.TensorBoardLaunch:
    """`henryvc tensorboard`: the command line for one TensorBoard over runs NAMES."""
    from henryvc.ops import logs as logs_

    return logs_.tensorboard(project, names, port, host)


def run_tensorboard(launch: logs_.TensorBoardLaunch) -> int:
    """Run LAUNCH in the foreground; its exit code."""
    from henryvc.ops import logs as logs_

    return logs_.run_tensorboard(launch)


def status(project: Project) -> statuses.Status:
    """`henryvc status`."""
    from henryvc.ops import status as statuses

    return statuses.status(project)


def doctor(project: Project) -> doctors.Report:
    """`henryvc doctor`."""
    from henryvc.ops import doctor as doctors

    return doctors.doctor(project)


def docker_build(root: Path, tag: str, platform: str | None, base_image: str | None, build_args: dict[str, str],
                 ca_bundle: Path | None, on_output: Callable[[str], None] | None = None,
                 target: str | None = None) -> containers.BuildResult:
    """`henryvc docker build` of the project at ROOT (its build context: henryvc's source tree), up to
    Dockerfile stage TARGET when given."""
    from henryvc.adapters import container as containers

    return containers.build_image(containers.context_root(root), tag=tag, platform=platform, base_image=base_image,
                                  build_args=build_args, ca_bundle=ca_bundle, on_output=on_output, target=target)


def docker_save(project: Project, image_id: str) -> imagestore.StoredImage:
    """`henryvc docker build --save`: store the image under images/, tracked by DVC."""
    from henryvc.adapters import container as containers
    from henryvc.core import imagestore

    return imagestore.save(project, image_id, containers.connect())


def docker_run(root: Path, image: str, command: list[str] | None, gpus: str, user: str | None,
               on_output: Callable[[str], None] | None = None) -> int:
    """`henryvc docker run`: the container's exit code."""
    from henryvc.ops import dockerrun

    return dockerrun.run(root, image, command, gpus=gpus, user=user, on_output=on_output)


def docker_recreate(project: Project, name: str, image: str | None, gpus: str,
                    on_output: Callable[[str], None] | None = None,
                    allow_drift: bool = False) -> recreations.Recreation:
    """`henryvc docker recreate`: IMAGE None is the image the run recorded."""
    from henryvc.ops import recreate

    return recreate.in_image(project, str(runname.parse(name)), image=image, gpus=gpus, on_output=on_output,
                             allow_drift=allow_drift)


def recreate(project: Project, name: str, allow_drift: bool = False,
             output: Callable[[str], None] | None = None) -> recreates.HostRecreation:
    """`henryvc recreate`: check the environment, restore, re-run here, compare metrics."""
    from henryvc.ops import recreate as recreates

    return recreates.recreate(project, str(runname.parse(name)), allow_drift=allow_drift, output=output)


def recreate_check(project: Project, name: str) -> list[recreations.Drift]:
    """`henryvc recreate --check`: every difference between the tag's environment and this one."""
    from henryvc.ops import recreate as recreates

    return recreates.check(project, str(runname.parse(name)))


def drift_refusal(name: str, drift: list[recreations.Drift]) -> HenryvcError:
    """The error that refuses a re-run with DRIFT, one line per difference."""
    from henryvc.ops import recreate as recreates

    return recreates.refusal(name, drift)


def env_build(project: Project, name: str, venv: Path, python: str | None, pip_args: tuple[str, ...],
              source: str | None, output: Callable[[str], None] | None = None) -> envbuild.EnvBuild:
    """`henryvc env build NAME --venv DIR`."""
    from henryvc.ops import envbuild

    return envbuild.build_for_run(project, str(runname.parse(name)), venv, python, pip_args, source, output)


def env_build_from_lock(lock: Path, venv: Path, python: str | None, pip_args: tuple[str, ...],
                        output: Callable[[str], None] | None = None) -> envbuild.EnvBuild:
    """`henryvc env build --lock FILE --venv DIR` (henryvc itself is not installed)."""
    from henryvc.ops import envbuild

    return envbuild.build_venv(Path(lock).read_text(encoding="utf-8"), venv, python, pip_args, output=output)


def venv_python(venv: Path) -> Path:
    """The interpreter of virtual environment VENV."""
    from henryvc.ops import envbuild

    return envbuild.venv_python(venv)


def report(project: Project, names: list[str], blind: bool = False, out: Path | None = None) -> reports.ReportResult:
    """`henryvc report`: a static page comparing runs."""
    from henryvc.ops import report as reports

    return reports.report(project, names, blind, out)


def review_run(project: Project, name: str, rating: int, verdict: str, notes: str = "",
               reviewer: str | None = None) -> reviews.ReviewResult:
    """`henryvc review NAME`."""
    from henryvc.ops import review as reviews

    return reviews.review_run(project, str(runname.parse(name)), rating, verdict, notes, reviewer)


def push_reviews(project: Project) -> bool:
    """`henryvc review --push`: the reviews' git notes to origin, merged with the remote's first."""
    from henryvc.ops import review as reviews

    return reviews.push(project.root)


def review_from_file(project: Project, ratings_path: Path, key_path: Path | None = None,
                     reviewer: str | None = None) -> list[reviews.ReviewResult]:
    """`henryvc review --from FILE`."""
    from henryvc.ops import review as reviews

    return reviews.review_from_file(project, ratings_path, key_path, reviewer)


def require_project(start: Path | None = None) -> Project:
    """The project around START, for commands that need one."""
    from henryvc.core import project as projects

    return projects.find(start)


__all__ = ["HenryvcError"]
