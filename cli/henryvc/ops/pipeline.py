"""`henryvc run` and `henryvc resume`: the training pipeline driven through the real `dvc repro`.

No torch here: training happens in the stage processes DVC starts (python -m henryvc_training.<stage>).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc import exits
from henryvc.core import record as records
from henryvc.core import runname
from henryvc.errors import HenryvcError, NotReady, RunNotFound

if TYPE_CHECKING:
    from henryvc.core.project import Project

Output = Callable[[str], None]
TAIL_LINES = 15


@dataclass
class PipelineResult:
    """What `henryvc run`/`resume` did: the run, its final status and verdict, the tag when one was made."""

    name: str
    status: str
    verdict: dict[str, Any] = field(default_factory=dict)
    tag_commit: str | None = None
    continued_from: dict[str, Any] | None = None
    switched_active_run: bool = False
    moved_back_from: str | None = None  # resume of an archived run: where archive had put it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_status(run_dir: Path) -> str:
    """The run's status, with a stale "training" (no process holds its lock: killed) read as incomplete."""
    return records.live_status(run_dir)


def _has_checkpoint(run_dir: Path) -> bool:
    return any((run_dir / "checkpoints").glob("*.pth"))


@dataclass(frozen=True)
class InImage:
    """Where `dvc repro` runs when not on this interpreter: IMAGE through the container engine, with GPUS."""

    image: str
    gpus: str = "none"


def dvc_repro(root: Path, output: Output | None = None, args: tuple[str, ...] = (),
              extra_env: dict[str, str] | None = None, image: InImage | None = None) -> tuple[int, list[str]]:
    """Run the real `dvc repro [ARGS]` in ROOT (EXTRA_ENV added to its environment), in IMAGE when given;
    stream its lines to OUTPUT; return (exit code, last lines)."""
    from henryvc.adapters import dvcrepo
    from henryvc.core import params

    params.active_run_or_none(root)  # `run: ../../etc` is BadInput before DVC reads any path from it
    dvcrepo.drop_torn_rwlock(root)  # a killed DVC's torn stage lock table would stop `dvc repro` at once
    tail: list[str] = []

    def line(text: str) -> None:
        tail[:] = (tail + [text])[-TAIL_LINES:]
        if output is not None:
            output(text)

    if image is not None:
        return _dvc_repro_in_image(root, image, line, args, extra_env or {}), tail
    from henryvc.adapters import dvcpipeline

    return dvcpipeline.repro(root, args, {**exits.child_env(), **(extra_env or {})}, line), tail


def _dvc_repro_in_image(root: Path, image: InImage, line: Output, args: tuple[str, ...],
                        extra_env: dict[str, str]) -> int:
    """dvc_repro in IMAGE (henryvc.ops.dockerrun: the project mounted, the stage code the image's own), its
    output (chunks from the engine) cut into lines for LINE; its exit code."""
    from henryvc.ops import dockerrun

    pending = [""]

    def chunk(text: str) -> None:
        *complete, pending[0] = (pending[0] + text).split("\n")
        for each in complete:
            line(each)

    # the container gets the passthrough variables and our warning filter, never the host's environment
    code = dockerrun.run(root, image.image, ["dvc", "repro", *args], gpus=image.gpus,
                         env={**exits.child_env({}), **extra_env}, on_output=chunk)
    if pending[0]:
        line(pending[0])
    return code


def _stage_error(tail: list[str]) -> str:
    """The stage's own error (`prepare: error: ...` and its listed problems) from `dvc repro`'s last lines."""
    for index, line in enumerate(tail):
        if ": error: " in line and not line.startswith("ERROR: failed to reproduce"):
            problems = [item.strip() for item in tail[index + 1:] if item.startswith("  - ")]
            return "; ".join([line.strip(), *problems])
    lines = [text.strip() for text in tail if text.strip()]
    return lines[-1] if lines else "no output"


def _fail_before_training(run_dir: Path, code: int, tail: list[str]) -> str:
    """Record a run whose pipeline failed before training started as failed, with the stage's reason."""
    from datetime import datetime, timezone

    from henryvc.core.verdict import Verdict

    reason = f"the pipeline failed before training (dvc repro exit {code}): {_stage_error(tail)}"
    rec = records.load(run_dir)
    event = {"event": "pipeline-failed", "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "message": reason}
    records.update(run_dir, status="failed", verdict=Verdict(status="failed", criteria=[], reasons=[reason]).to_dict(),
                   history=rec.history + [event])
    return reason


def _repro_or_raise(project: Project, name: str, output: Output | None, fresh: bool = False,
                    extra_env: dict[str, str] | None = None, image: InImage | None = None) -> None:
    """`dvc repro` for NAME; HenryvcError with the last lines when it fails.

    FRESH (a run `henryvc run` just created): when the pipeline fails before training started (bad data,
    an invalid config.json), the run is recorded failed with that reason, and params.yaml keeps naming it
    so that fixing the data and running `dvc repro` retries exactly this run.
    """
    code, tail = dvc_repro(project.root, output, extra_env=extra_env, image=image)
    if code != 0:
        run_dir = project.run_dir(name)
        if fresh and run_dir.is_dir() and records.load(run_dir).status == "created":
            reason = _fail_before_training(run_dir, code, tail)
            raise HenryvcError(f"{name} failed before training: {reason.split(': ', 1)[1]}\n"
                               f"Fix it and retry this run with `dvc repro` (params.yaml still names it), or "
                               f"start a new one; `henryvc cleanup-failed` removes failed runs. Last lines:\n"
                               + "\n".join(tail))
        status = run_status(run_dir)
        hint = f"continue it with `henryvc resume {name}`" if status == "incomplete" else "see its training_v2.log"
        raise HenryvcError(f"`dvc repro` failed (exit {code}) for {name}, now {status}; {hint}. Last lines:\n"
                           + "\n".join(tail))


def repro_created(project: Project, name: str, output: Output | None = None,
                  image: InImage | None = None) -> PipelineResult:
    """`dvc repro` for run NAME, just created (params.yaml names it): a submitted run's first attempt."""
    _repro_or_raise(project, name, output, fresh=True, image=image)
    return _result(project, name)


def _result(project: Project, name: str, **extra: Any) -> PipelineResult:
    record = records.load(project.run_dir(name))
    return PipelineResult(name, record.status, record.verdict, **extra)


def resume(project: Project, name: str, output: Output | None = None, inexact: bool = False,
           image: InImage | None = None) -> PipelineResult:
    """Continue incomplete run NAME from its last checkpoint (Coqui continue_path) and evaluate it.

    The train stage checks that the checkpoint's step and learning rate were restored and refuses to
    go on otherwise; this reads that check back from the run record. A checkpoint without exact-resume
    state (random generators, data-loader position: made before henryvc saved them) is refused here,
    before anything runs, unless INEXACT.
    """
    from henryvc.core import params

    name = str(runname.parse(name))
    run_dir = project.run_dir(name)
    moved_back = None
    if not run_dir.is_dir():
        moved_back = _bring_back_archived(project, name)
    if records.is_training(run_dir):
        raise NotReady(f"run {name} is training right now; wait for it or stop it before resuming")
    status = run_status(run_dir)
    if status != "incomplete":
        raise NotReady(f"run {name} is {status}, not incomplete: there is nothing to resume")
    training = records.load(run_dir).extra.get("training") or {}
    if not training.get("finished") and not _has_checkpoint(run_dir):
        raise NotReady(f"run {name} stopped before its first checkpoint: start it again with `dvc repro`")
    extra_env = _exactness(project.root, name, run_dir, training, inexact)
    from henryvc.core import pipelock

    switched = False
    with pipelock.hold(project, "henryvc resume", name):
        with project.lock():
            if params.active_run(project.root) != name:
                params.set_active_run(project.root, name)  # dvc repro trains the run params.yaml names
                switched = True
            from henryvc.core import stagecode

            stagecode.link(project.root)  # a fresh clone has no stage_code/ links: dvc.yaml's stages need them
        _repro_or_raise(project, name, output, extra_env=extra_env, image=image)
    continued = None
    for event in reversed(records.load(run_dir).history):
        if event.get("event") == "train-finished" and event.get("continued_from"):
            continued = event["continued_from"]
            break
    if not training.get("finished"):
        _check_restored(name, continued)
    return _result(project, name, continued_from=continued, switched_active_run=switched, moved_back_from=moved_back)


def _bring_back_archived(project: Project, name: str) -> str:
    """Move archived incomplete run NAME back to training_runs/ (committed) so it can be resumed; where it was.

    RunNotFound when it is nowhere; NotReady, nothing moved, when the archived run is not resumable.
    """
    from henryvc.core import runfolder
    from henryvc.ops import unarchive

    folder = runfolder.find_run(project, name)  # RunNotFound: not in training_runs/ nor its archive
    if not folder.place:
        raise RunNotFound(f"no run folder {project.run_dir(name)}: see `henryvc list`")
    status = records.live_status(folder.path, runfolder.load_record(project, folder))
    if status != "incomplete":
        raise NotReady(f"run {name} is archived in {folder.rel} as {status}, not incomplete: "
                       "there is nothing to resume")
    if not _has_checkpoint(folder.path) and not (records.load(folder.path).extra.get("training") or {}).get("finished"):
        raise NotReady(f"run {name} (archived in {folder.rel}) stopped before its first checkpoint: nothing to resume")
    moved = unarchive.unarchive(project, name)
    assert moved is not None
    return moved.source


def _exactness(root: Path, name: str, run_dir: Path, training: dict[str, Any], inexact: bool) -> dict[str, str]:
    """Refuse (NotReady) a resume that cannot be exact unless INEXACT; the stage's environment for it."""
    from henryvc.core import params
    from henryvc_training import checkpoints  # torch: only when resuming

    if inexact:
        return {checkpoints.INEXACT_ENV: "1"}
    from henryvc_training import distributed

    if distributed.Scale.from_params(params.read(root) or {}).world_size > 1:
        return {}  # exact resume is single-process: a multi-process run continues as Coqui does, recorded so
    problem = None if training.get("finished") else checkpoints.resume_check(run_dir / "checkpoints")
    if problem:
        raise NotReady(f"cannot resume {name} exactly: {problem}; `henryvc resume --inexact {name}` continues "
                       "it as Coqui does (that epoch restarts with new random numbers)")
    return {}


def _check_restored(name: str, continued: dict[str, Any] | None) -> None:
    """The record must show that the step and learning rate of the checkpoint came back."""
    if not continued or "restored" not in continued:
        raise HenryvcError(f"run {name} trained again but its record shows no continuation from a checkpoint")
    restored = continued["restored"]
    if restored["step"] != continued["step"] + 1 or restored["lr"] != continued["lr"]:
        raise HenryvcError(f"run {name} did not restore step/learning rate: checkpoint {continued}, got {restored}")


def run(project: Project, major: int, variant: str, config_path: Path | None = None, description: str = "",
        tag: bool = True, output: Output | None = None, gpus: int | None = None,
        nodes: int | None = None, parent: str | None = None, sets: tuple[str, ...] = ()) -> PipelineResult:
    """`henryvc run`: new-run, then `dvc repro` (prepare, train, evaluate), then tag-run.

    GPUS/NODES (params.yaml train.gpus/train.nodes) train the run on that many processes through torchrun.
    """
    from henryvc.core import pipelock, scale
    from henryvc.ops import newrun, runtag

    scale.check(gpus, nodes)
    newrun.check_request(project, major, variant, config_path, parent, sets)  # bad input writes nothing, not even the lock
    # Held from before new-run re-points params.yaml until the tag: a second `henryvc run` is refused
    # before it writes anything instead of re-pointing params.yaml under this one's `dvc repro`.
    with pipelock.hold(project) as held:
        record = newrun.new_run(project, major, variant, config_path=config_path, description=description,
                                parent=parent, sets=sets)
        scale.set_scale(project.root, gpus, nodes)
        name = record.name
        held.name(name)
        _repro_or_raise(project, name, output, fresh=True)
        commit = runtag.tag(project, name).commit if tag else None
    return _result(project, name, tag_commit=commit)
