"""The batch step of a submitted run: `python -m henryvc.ops.jobstep --project ROOT RUN`, started by SLURM in the
run's worktree (the batch script of `henryvc submit` execs it).

One attempt: a created run is trained (`dvc repro`, on this node only, so DVC's lock and dvc.lock stay on one
host); an incomplete one, as a requeue finds it, is resumed exactly from its last checkpoint; one already
tagged is left alone (a requeue never trains a finished run again). Then the run is tagged, and where the
project has a git origin and a DVC remote its data is pushed first, then the tag. TERM (`--signal=B:TERM@grace`,
or `scancel --signal=TERM --batch`) reaches only this process: it is passed on to the stage processes, and
the train stage stops after the current step with an exact-resume checkpoint. run.json records every attempt.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from henryvc.adapters import gitrepo
from henryvc.core import record as records
from henryvc.core import runname
from henryvc.core.project import Project
from henryvc.errors import HenryvcError
from henryvc.exits import EXIT_INTERRUPTED, entry_point, outcome

STAGE_MODULE = "henryvc_training."


class TermForwarder:
    """Passes TERM on to the stage processes (`python -m henryvc_training.<stage>`) below this one."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.reached: list[int] = []

    def handle(self, signum: int, frame: Any) -> None:
        import psutil

        self.received = signum
        for proc in psutil.Process().children(recursive=True):
            try:
                if any(part.startswith(STAGE_MODULE) for part in proc.cmdline()):
                    proc.send_signal(signum)
                    self.reached.append(proc.pid)
            except psutil.Error:
                continue


def _attempts(run_dir: Path) -> list[dict[str, Any]]:
    return list((records.load(run_dir).extra.get("slurm") or {}).get("attempts", []))


def _save_attempts(run_dir: Path, attempts: list[dict[str, Any]]) -> None:
    records.update(run_dir, slurm={"attempts": attempts})


def attempt(project: Project, name: str, main: Project, info: dict[str, Any], image: str | None = None,
            gpus: bool = False) -> int:
    """Run one attempt of submitted run NAME in PROJECT (its worktree); MAIN is the project it came from.
    IMAGE: `dvc repro` runs in that image (GPUS: with the node's GPUs), else on this node's interpreter."""
    from henryvc.ops import pipeline, runtag

    repo = gitrepo.open_git(project.root)
    if gitrepo.tag_exists(repo, name):
        print(f"henryvc: {name} is tagged already: attempt {info['restart_count']} trains nothing", flush=True)
        return 0
    run_dir = project.run_dir(name)
    attempts = _attempts(run_dir) + [info]
    _save_attempts(run_dir, attempts)
    forwarder = TermForwarder()
    previous = signal.signal(signal.SIGTERM, forwarder.handle)
    code = 0
    try:
        status = records.live_status(run_dir)
        print(f"henryvc: attempt {info['restart_count']} of {name} (job {info['job_id']}) finds it {status}", flush=True)
        where = pipeline.InImage(image, "all" if gpus else "none") if image else None
        if status == "created":
            pipeline.repro_created(project, name, output=lambda line: print(line, flush=True), image=where)
        elif status == "incomplete":
            pipeline.resume(project, name, output=lambda line: print(line, flush=True), image=where)
    except HenryvcError as exc:  # the attempt's record keeps the exit code; code and line are henryvc's
        code, line = outcome(exc)
        if line:
            print(line, file=sys.stderr, flush=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        info = {**info, "end": datetime.now().astimezone().isoformat(timespec="seconds"), "exit_code": code,
                "signal": signal.Signals(forwarder.received).name if forwarder.received else None,
                "status": records.live_status(run_dir)}
        _save_attempts(run_dir, attempts[:-1] + [info])
    if forwarder.received:
        return EXIT_INTERRUPTED  # stopped for a requeue: the run is incomplete, its checkpoint exact
    if code:
        return code
    job = _job(main, name)
    result = runtag.tag(project, name, push=bool(job.get("push")))
    print(f"henryvc: tagged {name} ({result.status})" + (", data and tag pushed" if result.pushed else ""), flush=True)
    return 0


def _job(main: Project, name: str) -> dict[str, Any]:
    from henryvc.ops import submit

    path = submit.jobs_dir(main) / f"{name}.json"
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return {}


@entry_point("henryvc")
def main(argv: list[str] | None = None) -> int:
    """Entry point of the batch step; errors become one line and the exit codes of henryvc (henryvc.exits)."""
    from henryvc.ops import submit

    parser = argparse.ArgumentParser(prog="python -m henryvc.ops.jobstep", description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True, help="the project the run was submitted from")
    parser.add_argument("--image", help="run the stages in this image (henryvc submit --image)")
    parser.add_argument("--gpus", action="store_true", help="with --image: give the container the node's GPUs")
    parser.add_argument("name", help="the submitted run")
    args = parser.parse_args(argv)
    name = str(runname.parse(args.name))
    main_project = Project(args.project.resolve())
    return attempt(Project(submit.worktree_of(main_project, name)), name, main_project, submit.environ_attempt(),
                   args.image, args.gpus)


if __name__ == "__main__":
    sys.exit(main())
