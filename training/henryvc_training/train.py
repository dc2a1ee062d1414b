"""Stage `train`: Henry's Tacotron2 trained by the Coqui Trainer, in-process, into training_runs/<RUN>/.

Layout it writes: checkpoints/ (Coqui checkpoints, best_model.pth, config.json, periodic evaluations),
tensorboard/ (event files), logs/ (per-step and per-epoch losses, evaluation summaries), training_v2.log.
A run whose record says it was cut short (killed, interrupted, crashed) is continued from its last
checkpoint with Coqui's continue_path; otherwise training starts fresh.
Usage (from the project root): python -m henryvc_training.train

This module is the stage: lock, run record, continue-or-start. The Trainer and its build live in
henryvc_training.trainer, henryvc's per-step hooks in .hooks, checkpoint handling in .checkpoints,
seeding and the torch environment in .determinism.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from henryvc.core import record
from henryvc.errors import NotReady
from henryvc.exits import EXIT_INTERRUPTED, entry_point
from henryvc_training import checkpoints, common, determinism, resume
from henryvc_training.common import RunPaths
from henryvc_training.trainer import Settings, TrainResult, run_training

log = logging.getLogger("henryvc.training.train")



def train(root: Path, callbacks: dict[str, Any] | None = None, rank: Any = None) -> TrainResult:
    """Run the train stage in project ROOT, holding the run's training lock the whole time.

    CALLBACKS are extra Coqui Trainer callbacks (the overhead benchmark times steps with one). RANK is
    rank 0 of a multi-process run (henryvc_training.distributed): the one process that writes the run.
    """
    params = common.load_params(root)
    paths = common.run_paths(root, params)
    settings = Settings.from_params(params)
    with record.training(paths.run_dir):  # NotReady when a live trainer holds it
        handler = common.open_run_log(paths)
        try:
            return _train_locked(root, params, paths, settings, callbacks, rank)
        finally:
            common.close_run_log(handler)


def stage_config(paths: RunPaths, settings: Settings) -> Any:
    """The run's Coqui config as the stage trains it (params.yaml's retention, a moving learning rate)."""
    config = common.coqui_config(common.read_config(paths))
    if settings.keep_checkpoints is not None:
        config.save_n_checkpoints = int(settings.keep_checkpoints)  # params.yaml's retention rule wins
    if config.scheduler_after_epoch:
        # coqui-tts-trainer 0.4 never steps the scheduler after an epoch (it only steps optimizers it
        # saw this step), so the learning rate would stay frozen: step it per optimizer step instead.
        log.warning("scheduler_after_epoch is true in config.json; using false so the learning rate moves")
        config.scheduler_after_epoch = False
    return config


def _train_locked(root: Path, params: dict[str, Any], paths: RunPaths, settings: Settings,
                  callbacks: dict[str, Any] | None, rank: Any = None) -> TrainResult:
    config = stage_config(paths, settings)
    rec = record.load(paths.run_dir)
    continuing = checkpoints.should_continue(rec, paths)
    inexact_reason = None
    if continuing:
        checkpoints.drop_unreadable_checkpoints(paths.checkpoints)
        last = checkpoints.last_checkpoint(paths.checkpoints)
        continuing = last is not None
        inexact_reason = checkpoints.resume_problem(last) if last is not None else None
        if rank is not None:  # exact resume is single-process: a multi-process run continues Coqui's way
            inexact_reason = resume.multi_process_reason(rank.world_size)
        elif inexact_reason and os.environ.get(checkpoints.INEXACT_ENV) != "1":
            raise NotReady(f"cannot resume {paths.name} exactly: {inexact_reason}; `henryvc resume --inexact "
                           f"{paths.name}` continues it as Coqui does (that epoch restarts with new random numbers)")
    # Committed checkpoints are links to the DVC cache's objects, and Coqui rewrites best_model.pth in place:
    # `dvc repro` unprotects a persisted output (private copies) before it runs the stage, so a continued run
    # never writes into the cache (tests/training/test_persist_outputs.py).
    if not continuing:
        checkpoints.clear_outputs(paths)
    if rank is not None:
        from henryvc_training import distributed

        log.info("rank 0 of %d (%s): the run's only writer", rank.world_size, rank.backend)
        distributed.share({"continuing": continuing})  # the other ranks continue from the same checkpoint
        record.update(paths.run_dir, distributed=distributed.record_entry(rank))
    from henryvc.core import environment

    settings_used = determinism.configure(config, determinism.thread_count(params),
                                         rank.world_size if rank is not None else 1)
    # No git fact here (the stage stands on core alone): the run's source commit is new-run's, and an editable
    # henryvc's commit is added by tag-run (henryvc.ops.runtag).
    env = {**environment.capture(), **determinism.torch_environment(config)}
    if env.get("cuda_available"):
        env["cuda"] = environment.cuda()  # runtime, cuDNN, driver, devices
    history = rec.history + [{"event": "train-continue" if continuing else "train-start", "at": _now_utc_iso()}]
    record.update(paths.run_dir, status="training", seed=int(config.training_seed), environment=env,
                  determinism=settings_used,
                  history=history, training={"started": True, "finished": False})
    # the locked environment and code identity, kept with the run
    if not continuing or not (paths.run_dir / environment.LOCK_FILE).exists():
        record.update(paths.run_dir, **environment.write(paths.run_dir, determinism.accelerator_of(env)))
    data_dir = root / (params.get("data") or {}).get("dir", "voice_data")
    result = run_training(paths, config, settings, data_dir, continuing, callbacks, rank, inexact_reason)
    environment.record_imported(paths.run_dir)  # what training really imported: only drift there blocks a recreate
    _record_result(paths, result)
    return result


def _now_utc_iso() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _record_result(paths: RunPaths, result: TrainResult) -> None:
    """Write how training ended into the run record (and, for a NaN, the verdict and README)."""
    rec = record.load(paths.run_dir)
    training = {"started": True, "finished": result.status == "finished", "steps": result.steps,
                "epochs": result.epochs, "ended": result.status}
    event = {"event": f"train-{result.status}", "at": _now_utc_iso(), "steps": result.steps}
    if result.continued_from:
        event["continued_from"] = result.continued_from
    if result.message:
        event["message"] = result.message
    changes: dict[str, Any] = {"training": training, "history": rec.history + [event]}
    if result.status in ("failed", "crashed"):
        from henryvc.core.verdict import Verdict

        # A crash is a failure with its reason on record (not "incomplete": resuming would crash again).
        reason = (f"NaN guard stopped training: {result.message}" if result.status == "failed"
                  else f"training crashed at step {result.steps}: {result.message}")
        verdict = Verdict(status="failed", criteria=[], reasons=[reason])
        changes.update(status="failed", verdict=verdict.to_dict())
        common.append_readme(paths, "Verdict: failed", [f"- {r}" for r in verdict.reasons])
    else:
        # Finished training still awaits the evaluate stage; cut-short training awaits `henryvc resume`.
        changes["status"] = "incomplete"
    record.update(paths.run_dir, **changes)


def follow(root: Path, rank: Any) -> TrainResult:
    """A rank other than 0: train in step with rank 0 on this rank's shard; write nothing in the run folder."""
    params = common.load_params(root)
    paths = common.run_paths(root, params)
    settings = Settings.from_params(params)
    config = stage_config(paths, settings)
    from henryvc_training import distributed

    plan = distributed.share(None)
    determinism.configure(config, determinism.thread_count(params), rank.world_size)  # as rank 0 did
    log.info("rank %d of %d (%s) follows rank 0; it writes nothing in the run folder", rank.rank,
             rank.world_size, rank.backend)
    data_dir = root / (params.get("data") or {}).get("dir", "voice_data")
    return run_training(paths, config, settings, data_dir, bool(plan["continuing"]), None, rank)


@entry_point("train")
def main(argv: list[str] | None = None) -> int:
    """Stage entry point (dvc.yaml: python -m henryvc_training.train)."""
    parser = argparse.ArgumentParser(prog="python -m henryvc_training.train", description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("."), help="project root (where dvc.yaml is)")
    parser.add_argument("--node-rank", type=int, default=None,
                        help="this machine's node rank in a multi-node run (default: $HENRYVC_NODE_RANK or 0)")
    args = parser.parse_args(argv)
    from henryvc_training import distributed

    root = args.root.resolve()
    rank = distributed.from_env()
    if rank is None:
        scale = distributed.Scale.from_params(common.load_params(root))
        if scale.world_size > 1 or args.node_rank:
            # Several processes: torchrun starts this module once per rank (the branch below); in a
            # SLURM batch step, srun first starts this module once per node (docs/cluster.md).
            if args.node_rank is None and distributed.needs_fan_out(scale):
                return distributed.fan_out(scale, root)
            return distributed.launch(scale, distributed.node_rank(args.node_rank, scale), root)
        result = train(root)
    else:
        result = distributed.as_rank(rank, lambda r: train(root, rank=r) if r.is_writer else follow(root, r))
    print(f"train: {result.status} after {result.steps} steps" + (f": {result.message}" if result.message else ""))
    if result.status == "finished":
        return 0
    return EXIT_INTERRUPTED if result.status == "interrupted" else 1


if __name__ == "__main__":
    raise SystemExit(main())
