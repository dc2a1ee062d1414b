"""`henryvc submit`, `jobs` and `cancel`: runs that SLURM trains, each job in its own git worktree.

A submission reserves the run's name in the project (`.henryvc/jobs/<RUN>.json`, made exclusively under the
project lock), adds a detached worktree of HEAD at `.henryvc/jobs/<RUN>/` that shares the project's DVC
cache, creates the run there (its own params.yaml and run folder: no two jobs, nor the user's checkout,
share either) and queues one sbatch job whose batch step is `python -m henryvc.ops.jobstep`. The user's work
tree is not touched. A submission that fails removes what it made and releases the name.
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from henryvc.adapters import gitrepo, slurm
from henryvc.core import atomic, runname, scale
from henryvc.core import record as records
from henryvc.core.project import Project
from henryvc.errors import BadInput, HenryvcError, NotReady, RunNotFound
from henryvc.ops import newrun

JOBS = "jobs"
DEFAULT_GRACE_S = 120


@dataclass(frozen=True)
class Request:
    """What `henryvc submit` was asked for: `henryvc run`'s options plus the scheduler's."""

    major: int
    variant: str
    config_path: Path | None = None
    description: str = ""
    gpus: int | None = None
    nodes: int | None = None
    partition: str | None = None
    time: str | None = None
    account: str | None = None
    parent: str | None = None
    sets: tuple[str, ...] = ()
    grace_s: int = DEFAULT_GRACE_S
    image: str | None = None  # the stages run in this image (container engine on the node), not on the host


@dataclass
class Submitted:
    """A queued job (job_id None for --dry-run, which queues and writes nothing) and its batch script."""

    name: str
    job_id: str | None
    script: str
    worktree: str
    push: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class JobView:
    """One submitted run: its job, SLURM's state of it, and the run's own status in its worktree."""

    name: str
    job_id: str
    state: str
    run_status: str
    nodes: str = ""
    reason: str = ""
    tagged: bool = False
    worktree: str = ""
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def jobs_dir(project: Project) -> Path:
    """Where the job files, batch scripts, job output and worktrees of PROJECT's submitted runs live."""
    return project.state / JOBS


def worktree_of(project: Project, name: str) -> Path:
    """The worktree submitted run NAME trains in."""
    return jobs_dir(project) / name


def _job_file(project: Project, name: str) -> Path:
    return jobs_dir(project) / f"{name}.json"


def check(project: Project, request: Request) -> newrun.Origin:
    """Everything about REQUEST that can be checked without writing: name parts, config, overrides, scale,
    time, the scheduler and its partition; NotReady for uncommitted changes (a job trains HEAD)."""
    origin = newrun.check_request(project, request.major, request.variant, request.config_path, request.parent,
                                  request.sets)
    scale.check(request.gpus, request.nodes)
    if request.time is not None:
        slurm.check_time(request.time)
    if request.grace_s < 1:
        raise BadInput(f"--grace must be at least 1 second, got {request.grace_s}")
    if request.image is not None:
        _check_image(request)
    if request.partition is not None:
        slurm.check_partition(request.partition)  # SchedulerUnavailable first when no SLURM answers
    else:
        slurm.partitions()
    repo = gitrepo.open_git(project.root)
    if gitrepo.is_dirty(repo):
        raise NotReady("the work tree has uncommitted changes, and a job trains the committed HEAD in a worktree: "
                       "commit them first (git status shows them)")
    return origin


def _check_image(request: Request) -> None:
    """--image: one node only (the train stage's srun fan-out would start outside the image), and an image
    the engine has (EngineUnavailable, exit 1, without an engine; BadInput, exit 2, for a missing image)."""
    from henryvc.adapters import container

    if (request.nodes or 1) > 1:
        raise BadInput(f"--image runs the stages in one container on the first node; --nodes {request.nodes} "
                       "would fan the train stage out with srun outside it: submit multi-node runs without --image")
    container.image_id_of(container.connect(), str(request.image))


def _image_args(request: Request) -> list[str]:
    """The batch step's arguments for --image (and the node's GPUs inside it)."""
    if request.image is None:
        return []
    return ["--image", shlex.quote(request.image), *(["--gpus"] if request.gpus else [])]


def script(project: Project, name: str, request: Request) -> str:
    """The batch script of run NAME (docs/cluster.md explains it line by line)."""
    folder = jobs_dir(project)
    lines = ["#!/bin/bash",
             f"#SBATCH --job-name={name}",
             f"#SBATCH --chdir={worktree_of(project, name)}",
             f"#SBATCH --output={folder / name}.out",
             "#SBATCH --open-mode=append",
             f"#SBATCH --nodes={request.nodes or 1}",
             "#SBATCH --ntasks-per-node=1",
             f"#SBATCH --signal=B:TERM@{request.grace_s}",
             "#SBATCH --requeue"]
    if request.gpus:
        lines.append(f"#SBATCH --gpus-per-node={request.gpus}")
    for flag, value in (("partition", request.partition), ("time", request.time), ("account", request.account)):
        if value is not None:
            lines.append(f"#SBATCH --{flag}={value}")
    python = shlex.quote(sys.executable)
    lines += ["# the batch step: dvc repro on this node (or resume after a requeue), then tag and push",
              f"export PATH={shlex.quote(str(Path(sys.executable).parent))}:\"$PATH\"",
              f"exec {python} -m henryvc.ops.jobstep --project {shlex.quote(str(project.root))}"
              + "".join(f" {arg}" for arg in _image_args(request))
              + f" {name}", ""]
    return "\n".join(lines)


def _has_remotes(project: Project) -> bool:
    from henryvc.adapters import dvcremote, dvcrepo

    repo = gitrepo.open_git(project.root)
    return gitrepo.has_remote(repo, "origin") and dvcremote.default_remote(dvcrepo.open_repo(project.root)) is not None


def _reserve(project: Project, request: Request) -> runname.RunName:
    """A free name for a new run, its job file made exclusively (under the project lock)."""
    repo = gitrepo.open_git(project.root)
    jobs_dir(project).mkdir(parents=True, exist_ok=True)
    stamp = datetime.now().replace(microsecond=0)
    for _ in range(newrun.COLLISION_RETRIES + 60):
        name = runname.generate(request.major, request.variant, stamp)
        taken = (project.run_dir(name).exists() or gitrepo.tag_exists(repo, str(name))
                 or worktree_of(project, str(name)).exists())
        if not taken:
            try:
                with open(_job_file(project, str(name)), "x") as fh:
                    fh.write('{"state": "reserved"}\n')
                return name
            except FileExistsError:
                pass
        stamp = datetime.fromtimestamp(stamp.timestamp() + 1)  # two submissions in one second: the next second
    raise HenryvcError("no free run name in a minute of names: too many submissions at once")


def submit(project: Project, request: Request, dry_run: bool = False) -> Submitted:
    """Queue one job training a new run of REQUEST; with DRY_RUN only the script (nothing written)."""
    check(project, request)
    push = _has_remotes(project)
    if dry_run:
        name = str(runname.generate(request.major, request.variant, datetime.now()))
        return Submitted(name, None, script(project, name, request), str(worktree_of(project, name)), push)
    slurm.test_only(script(project, "henry_v1_debug_20000101_000000", request))
    with project.lock():
        name = str(_reserve(project, request))
    worktree = worktree_of(project, name)
    text = script(project, name, request)
    try:
        _make_worktree(project, name, request)
        (jobs_dir(project) / f"{name}.sbatch").write_text(text)
        job_id = slurm.submit(text)
    except BaseException:
        release(project, name)
        raise
    atomic.write_json_atomic(_job_file(project, name), {
        "state": "submitted", "name": name, "job_id": job_id, "worktree": str(worktree), "push": push,
        "submitted": datetime.now().astimezone().isoformat(timespec="seconds"),
        "request": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(request).items()}})
    return Submitted(name, job_id, text, str(worktree), push)


def _make_worktree(project: Project, name: str, request: Request) -> None:
    """The job's worktree of HEAD, sharing the project's DVC cache, with run NAME created in it."""
    from henryvc.adapters import dvcremote, dvcrepo

    repo = gitrepo.open_git(project.root)
    worktree = worktree_of(project, name)
    head = gitrepo.head(repo)
    if head is None:
        raise NotReady("the project has no commit yet: `henryvc init` makes the first")
    gitrepo.worktree_add(repo, worktree, head)
    dvcremote.share_cache(worktree, project.root)
    # the data (.dvc files) from the shared cache; the pipeline's outputs are the new run's to make
    dvcrepo.checkout(worktree, [str(p) for p in dvcrepo.dvcfiles(worktree)])
    job_project = Project(worktree)
    stamp = runname.parse(name).stamp
    newrun.new_run(job_project, request.major, request.variant, request.config_path, request.description,
                   now=lambda: stamp, parent=request.parent, sets=request.sets)
    scale.set_scale(job_project.root, request.gpus, request.nodes)


def release(project: Project, name: str) -> None:
    """Remove what a failed submission of NAME made (worktree, script, job file): the name is free again."""
    worktree = worktree_of(project, name)
    repo = gitrepo.open_git(project.root)
    if worktree.exists() or str(worktree) in gitrepo.worktrees(repo):
        gitrepo.worktree_remove(repo, worktree)
    for suffix in (".sbatch", ".json"):
        (jobs_dir(project) / f"{name}{suffix}").unlink(missing_ok=True)


def _submitted(project: Project) -> list[dict[str, Any]]:
    import json

    found = []
    folder = jobs_dir(project)
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if data.get("state") == "submitted":
            found.append(data)
    return found


def job_views(project: Project) -> list[JobView]:
    """Every submitted run with the scheduler's state of its job (squeue, sacct where kept)."""
    submitted = _submitted(project)
    queue = slurm.jobs([d["job_id"] for d in submitted]) if submitted else {}
    repo = gitrepo.open_git(project.root)
    views = []
    for data in submitted:
        job = queue.get(data["job_id"])
        run_dir = Path(data["worktree"]) / project.run_rel(data["name"])
        record = records.load(run_dir) if (run_dir / records.RECORD_FILE).exists() else None
        status = records.live_status(run_dir, record) if record else "?"
        attempts = (record.extra.get("slurm") or {}).get("attempts", []) if record else []
        views.append(JobView(data["name"], data["job_id"], job.state if job else "GONE (not in squeue or sacct)",
                             status, job.nodes if job else "", job.reason if job else "",
                             gitrepo.tag_exists(repo, data["name"]), data["worktree"], attempts))
    return views


def cancel(project: Project, name: str) -> JobView:
    """scancel the job of submitted run NAME; the run stays (incomplete, resumable) in its worktree."""
    name = str(runname.parse(name))
    view = next((v for v in job_views(project) if v.name == name), None)
    if view is None:
        raise RunNotFound(f"{name} was not submitted from this project: see `henryvc jobs`")
    if view.state in slurm.FINISHED_STATES or view.state.startswith("GONE"):
        raise NotReady(f"the job of {name} ({view.job_id}) has already ended: {view.state}")
    slurm.cancel(view.job_id)
    return view


def active(project: Project) -> list[JobView]:
    """Submitted runs whose job is queued or running (`henryvc list` and `status` show them)."""
    if not jobs_dir(project).is_dir() or not _submitted(project):
        return []
    try:
        return [v for v in job_views(project) if v.state not in slurm.FINISHED_STATES and not v.state.startswith("GONE")]
    except HenryvcError:
        return []


def environ_attempt() -> dict[str, Any]:
    """This job attempt as SLURM describes it to the batch step."""
    return {"job_id": os.environ.get("SLURM_JOB_ID"), "restart_count": int(os.environ.get("SLURM_RESTART_COUNT") or 0),
            "nodes": os.environ.get("SLURM_JOB_NODELIST"), "node": os.environ.get("SLURMD_NODENAME"),
            "start": datetime.now().astimezone().isoformat(timespec="seconds")}
