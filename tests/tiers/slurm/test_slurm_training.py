"""Real Coqui training through SLURM: a submitted run preempted with TERM and requeued resumes exactly.

Two runs of one tiny config are submitted at once. One trains uninterrupted. The other gets TERM on its
batch step mid-training (`scancel --signal=TERM --batch`, as `--signal=B:TERM@grace` delivers it), saves and
stops; `scontrol requeue` restarts it with SLURM_RESTART_COUNT=1 and it resumes from its checkpoint. Both end
tagged, with the same step losses and the same model tensors, bit for bit, on CPU. A requeue of a finished
job trains nothing.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest
import yaml

from henryvc import api
from henryvc.core.project import Project
from henryvc_training import compare
from tests.helpers import training as tf
from tests.helpers.cli import run_cli
from tests.helpers.project import dvc, isolate, scratch, sh
from tests.helpers.slurm import Cluster

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

# 8 training clips at batch 2: 4 steps an epoch, 3 epochs; checkpoints every 3 steps
CONFIG = {**tf.TINY, "epochs": 3, "batch_size": 2, "save_step": 3}


def real_project(base, data) -> Project:
    """A project made by `henryvc init` whose debug template is the tiny config, with real voice data."""
    root = base / "project"
    root.mkdir()
    api.init(root, str(base / "dvc-remote"))
    project = Project(root.resolve())
    shutil.copytree(data, root / "voice_data")
    dvc(root, "add", "-q", "voice_data")
    template = root / "configs" / "henry_voice_v2_debug.json"
    config = json.loads(template.read_text())
    config.update(CONFIG)
    template.write_text(json.dumps(config, indent=2))
    params = yaml.safe_load(project.params.read_text())
    params.setdefault("evaluation", {}).update(tf.TINY_PARAMS)
    project.params.write_text(yaml.safe_dump(params, sort_keys=False))
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-qm", "a tiny debug voice")
    return project


def job_id(project: Project, name: str) -> str:
    return json.loads((project.state / "jobs" / f"{name}.json").read_text())["job_id"]


def run_dir(project: Project, name: str):
    return project.state / "jobs" / name / "training_runs" / name


def requeue(cluster: Cluster, job: str) -> None:
    """`scontrol requeue JOB`, then start it now: a requeued job waits 2-3 minutes for its BeginTime.

    First no node may still be completing: a job reads FAILED while its nodes still tear its steps down,
    and a requeue started then had its new srun step cancelled by that teardown (seen with a killed task).
    Then at least two seconds must pass after the job ended: slurmd revokes the ended job's credential, and a
    new one made in the same second counts as revoked ("Killing non-startable batch JobId=4: Job credential
    revoked" in slurmctld's log, the job FAILED, when the requeue and StartTime=now followed within 0.5 s).
    And slurmctld must have no message left to retry: a loaded slurmd that timed out on the first attempt's
    step teardown gets the retried "cancel StepId 2.0" about 60 s later, and a requeued job's first step is
    StepId 2.0 again (slurmd logged "STEP 2.0 ON n1 CANCELLED" a minute into the second attempt; sdiag's
    "Agent queue size" counts those retries). SLURM's own 2-3 minute BeginTime for a requeued job is what
    keeps real clusters clear of both.
    """
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        states = cluster.run("sinfo", "-h", "-N", "-o", "%t").stdout.split()
        agents = [line.split(":", 1)[1].strip() for line in cluster.run("sdiag").stdout.splitlines()
                  if line.strip().startswith(("Agent queue size:", "Agent count:"))]
        if not any(state.startswith("comp") for state in states) and agents and set(agents) == {"0"}:
            break
        time.sleep(0.5)
    time.sleep(2.5)
    cluster.run("scontrol", "requeue", job)
    cluster.wait_state(job, {"PENDING", "REQUEUED", "CONFIGURING", "RUNNING", "COMPLETING"}, 60)
    cluster.run("scontrol", "update", f"JobId={job}", "StartTime=now", check=False)


def wait_for_step(folder, step: int, timeout: float = 900) -> None:
    losses = folder / "logs" / "step_losses.jsonl"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (folder / "checkpoints" / f"checkpoint_{step}.pth").exists() and losses.exists() \
                and len(losses.read_text().splitlines()) > step:
            return
        time.sleep(0.2)
    raise AssertionError(f"no checkpoint_{step}.pth in {folder} within {timeout} s")


@pytest.fixture(scope="module")
def preempted(request, tmp_path_factory, slurm_cluster):
    with pytest.MonkeyPatch.context() as patch:  # the autouse isolated_env is per test: isolate the build too
        isolate(patch, tmp_path_factory.mktemp("home"))  # (a HOME without a git identity failed `init` in CI)
        return _preempt(scratch(request, tmp_path_factory, "slurm_training"), slurm_cluster)


def _preempt(base, slurm_cluster):
    data = tf.sample_data(base / "voice", clips=10)
    project = real_project(base, data)
    env = slurm_cluster.env
    done = [run_cli(project.root, "submit", "--major", "2", "--variant", "debug", "--description", d, env=env, process=True)
            for d in ("uninterrupted", "preempted")]
    assert all(d.returncode == 0 for d in done), [d.stderr for d in done]
    reference, name = (d.stdout.split()[-1] for d in done)
    job = job_id(project, name)
    wait_for_step(run_dir(project, name), 3)
    slurm_cluster.run("scancel", "--signal=TERM", "--batch", job)
    first_end = slurm_cluster.wait_state(job, {"FAILED", "COMPLETED", "CANCELLED"}, 600)
    after_term = json.loads((run_dir(project, name) / "run.json").read_text())
    requeue(slurm_cluster, job)
    for n in (reference, name):
        state = slurm_cluster.wait_state(job_id(project, n), {"COMPLETED", "FAILED", "CANCELLED"}, 1800)
        assert state == "COMPLETED", (project.state / "jobs" / f"{n}.out").read_text()[-3000:]
    return project, reference, name, first_end, after_term


def test_term_stops_the_run_incomplete_with_a_checkpoint(preempted):
    _project, _reference, _name, first_end, after_term = preempted
    assert first_end == "FAILED"  # the batch step exits 130: stopped for a requeue, not done
    assert after_term["status"] == "incomplete"
    (attempt,) = after_term["slurm"]["attempts"]
    assert attempt["signal"] == "SIGTERM" and attempt["restart_count"] == 0 and attempt["status"] == "incomplete"


def test_the_requeued_job_resumes_exactly_and_is_tagged(preempted):
    project, reference, name, _first_end, _after_term = preempted
    tags = sh(project.root, "git", "tag", "--list").stdout.split()
    assert reference in tags and name in tags
    record = json.loads(sh(project.root, "git", "show", f"{name}:training_runs/{name}/run.json").stdout)
    first, second = record["slurm"]["attempts"]
    assert (first["restart_count"], second["restart_count"]) == (0, 1)
    assert first["job_id"] == second["job_id"] and second["exit_code"] == 0 and second["signal"] is None
    continued = next(e for e in record["history"] if e.get("event") == "train-finished" and e.get("continued_from"))
    assert continued["continued_from"]["exact"] is True
    log = run_cli(project.root, "logs", name, process=True)  # the run's log lives in its job's worktree
    assert log.returncode == 0 and "exact resume at epoch" in log.stdout, log.stderr
    a, b = run_dir(project, reference), run_dir(project, name)
    assert [row["step"] for row in compare.read_step_losses(b)] == list(range(12))
    assert compare.compare_step_losses(a, b) == []  # bit for bit: no tolerance
    assert compare.compare_checkpoints(compare.final_checkpoint(a), compare.final_checkpoint(b)) == []


def test_a_requeued_finished_job_trains_nothing(preempted, slurm_cluster):
    project, reference, _name, _first_end, _after_term = preempted
    commit = sh(project.root, "git", "rev-list", "-n", "1", reference).stdout
    job = job_id(project, reference)
    requeue(slurm_cluster, job)
    assert slurm_cluster.wait_state(job, {"COMPLETED", "FAILED"}, 300) == "COMPLETED"
    out = (project.state / "jobs" / f"{reference}.out").read_text()
    assert "is tagged already: attempt 1 trains nothing" in out
    assert sh(project.root, "git", "rev-list", "-n", "1", reference).stdout == commit


def two_node_run(tmp_path, cluster: Cluster, epochs: int, save_step: int) -> tuple[Project, str]:
    """A fresh project and a `--nodes 2` submission of its tiny debug config (no shuffling: shards are fixed)."""
    project = real_project(tmp_path, tf.sample_data(tmp_path / "voice", clips=10))
    done = run_cli(project.root, "submit", "--major", "2", "--variant", "debug", "--nodes", "2",
                   "-S", f"epochs={epochs}", "-S", f"save_step={save_step}", "-S", "shuffle=false",
                   "-S", "eval_batch_size=1", env=cluster.env, process=True)
    assert done.returncode == 0, done.stderr
    return project, done.stdout.split()[-1]


def test_a_two_node_job_trains_across_both_slurmd_with_torchrun(tmp_path, slurm_cluster):
    """`--nodes 2`: the batch step's train stage starts one torchrun per node with srun (gloo on CPU); rank 0
    alone writes the run folder, and every epoch's shards are disjoint and cover the training split."""
    project, name = two_node_run(tmp_path, slurm_cluster, epochs=2, save_step=1000)
    out = project.state / "jobs" / f"{name}.out"
    state = slurm_cluster.wait_state(job_id(project, name), {"COMPLETED", "FAILED", "CANCELLED"}, 1800)
    assert state == "COMPLETED", out.read_text()[-4000:]
    folder = run_dir(project, name)
    distributed = json.loads((folder / "run.json").read_text())["distributed"]
    assert distributed["nodes"] == 2 and distributed["world_size"] == 2
    tf.check_shards(folder, epochs=2, world=2)
    assert name in sh(project.root, "git", "tag", "--list").stdout.split()


def _pid_of_rank(rank: int, cwd, timeout: float = 900) -> int:
    """The pid of the torchrun worker with RANK training in CWD (both test nodes share this host's /proc)."""
    from pathlib import Path

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                environ = (proc / "environ").read_bytes().split(b"\0")
                cmdline = (proc / "cmdline").read_bytes()
                here = Path(proc / "cwd").resolve() == Path(cwd).resolve()
            except OSError:
                continue
            if here and f"RANK={rank}".encode() in environ and b"henryvc_training.train" in cmdline:
                return int(proc.name)
        time.sleep(0.5)
    raise AssertionError(f"no rank {rank} training in {cwd}")


def test_a_killed_task_on_one_node_leaves_the_run_incomplete_and_a_requeue_resumes_it(tmp_path, slurm_cluster):
    """SIGKILL of rank 1 (on n2): srun's --kill-on-bad-exit ends the other node's task, the batch step
    records the attempt, and the run is incomplete (resumable), never tagged. Then `scontrol requeue`: the
    second attempt (SLURM_RESTART_COUNT=1) continues the run on both nodes from its checkpoint and tags it.
    (Requeued within the second the job ended, its new step had been refused with "Job credential revoked",
    which an earlier session read as a late teardown: `requeue` now waits first.)"""
    import os
    import signal

    project, name = two_node_run(tmp_path, slurm_cluster, epochs=3, save_step=2)
    job, folder = job_id(project, name), run_dir(project, name)
    wait_for_step(folder, 2)
    os.kill(_pid_of_rank(1, project.state / "jobs" / name), signal.SIGKILL)
    assert slurm_cluster.wait_state(job, {"FAILED", "COMPLETED", "CANCELLED"}, 600) == "FAILED"
    record = json.loads((folder / "run.json").read_text())
    (attempt,) = record["slurm"]["attempts"]
    assert attempt["status"] == "incomplete" and attempt["exit_code"] == 1 and attempt["signal"] is None
    assert name not in sh(project.root, "git", "tag", "--list").stdout.split()
    assert list((folder / "checkpoints").glob("checkpoint_*.pth")), "a checkpoint to resume from"
    requeue(slurm_cluster, job)
    state = slurm_cluster.wait_state(job, {"FAILED", "COMPLETED", "CANCELLED"}, 1800)
    assert state == "COMPLETED", (project.state / "jobs" / f"{name}.out").read_text()[-4000:]
    record = json.loads(sh(project.root, "git", "show", f"{name}:training_runs/{name}/run.json").stdout)
    first, second = record["slurm"]["attempts"]
    assert (first["restart_count"], second["restart_count"]) == (0, 1) and first["status"] == "incomplete"
    assert second["exit_code"] == 0 and second["signal"] is None
    assert record["distributed"]["nodes"] == 2 and record["training"]["finished"] is True
    events = [e.get("event") for e in record["history"]]
    assert "train-continue" in events, events  # the second attempt continued the run, it did not start over
