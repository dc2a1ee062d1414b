"""`henryvc submit`, `jobs` and `cancel` against a real SLURM cluster (two slurmd on loopback).

These use the fake training stage (seconds per run): they prove the scheduling, the worktrees, the tags
and the refusals. Real Coqui training through SLURM, preempted and requeued, is tests/tiers/slurm/test_slurm_training.py.
"""

from __future__ import annotations

import json
import sys
import time

import pytest
import yaml

from tests.helpers.cli import run_cli
from tests.helpers.project import gen, sh
from tests.helpers.reliability import md5, remote_tags
from tests.helpers.slurm import Cluster

pytestmark = pytest.mark.slurm


@pytest.fixture(autouse=True)
def cancel_leftovers(slurm_cluster):
    """A failed test's jobs must not hold the two nodes for the next test."""
    yield
    slurm_cluster.run("scancel", "--user", "root", check=False)


def queued(cluster: Cluster) -> list[str]:
    return cluster.run("squeue", "-h", "-o", "%i").stdout.split()


def slow_stage(project, seconds: float) -> None:
    script = (project.root / "fake_train.py").read_text()
    gen(project, {"fake_train.py": f"import time\ntime.sleep({seconds})\n" + script}, commit="a slower fake stage")


def submit(project, cluster: Cluster, *args: str):
    return run_cli(project.root, "submit", "--major", "2", "--variant", "debug", *args, env=cluster.env, process=True)


def untouched(project) -> dict[str, object]:
    """What the user's checkout looks like: git status, params.yaml, run folders."""
    return {"status": sh(project.root, "git", "status", "--porcelain").stdout,
            "params": project.params.read_text(), "runs": sorted(p.name for p in project.runs.glob("*"))}


def wait_tagged(project, name: str, cluster: Cluster, job_id: str, timeout: float = 300) -> None:
    state = cluster.wait_state(job_id, {"COMPLETED", "FAILED", "CANCELLED"}, timeout)
    out = (project.state / "jobs" / f"{name}.out").read_text()
    assert state == "COMPLETED", out
    assert name in sh(project.root, "git", "tag", "--list").stdout.split(), out


def job_id_of(project, name: str) -> str:
    return json.loads((project.state / "jobs" / f"{name}.json").read_text())["job_id"]


def test_dry_run_prints_the_batch_script_and_makes_nothing(project, slurm_cluster):
    before, jobs = untouched(project), queued(slurm_cluster)
    done = submit(project, slurm_cluster, "--dry-run", "--time", "30", "--partition", "debug")
    assert done.returncode == 0, done.stderr
    script = done.stdout
    assert script.startswith("#!/bin/bash\n")
    for line in ("#SBATCH --requeue", "#SBATCH --signal=B:TERM@120", "#SBATCH --time=30", "#SBATCH --partition=debug",
                 "#SBATCH --nodes=1", "-m henryvc.ops.jobstep --project"):
        assert line in script
    assert untouched(project) == before
    assert not (project.state / "jobs").exists()
    assert queued(slurm_cluster) == jobs


def test_a_submitted_run_is_trained_in_its_worktree_tagged_and_pushed(project, slurm_cluster, tmp_path):
    origin = tmp_path / "origin.git"
    sh(tmp_path, "git", "init", "-q", "--bare", str(origin))
    sh(project.root, "git", "remote", "add", "origin", str(origin))
    sh(project.root, "git", "push", "-q", "origin", "main")
    before = untouched(project)
    done = submit(project, slurm_cluster, "--description", "through SLURM")
    assert done.returncode == 0, done.stderr
    name = done.stdout.strip().splitlines()[-1]
    wait_tagged(project, name, slurm_cluster, job_id_of(project, name))
    assert untouched(project) == before  # the user's checkout: no run folder, params.yaml as it was
    assert name in remote_tags(origin)  # data first, then the tag
    record = json.loads(sh(project.root, "git", "show", f"{name}:training_runs/{name}/run.json").stdout)
    assert record["status"] == "success" and record["description"] == "through SLURM"
    (attempt,) = record["slurm"]["attempts"]
    assert attempt["job_id"] == job_id_of(project, name) and attempt["restart_count"] == 0
    assert attempt["exit_code"] == 0 and attempt["signal"] is None and attempt["nodes"] in ("n1", "n2")
    # the tag's data reached the DVC remote: a fresh restore --pull elsewhere would find it
    listed = run_cli(project.root, "jobs", "--json", env=slurm_cluster.env, process=True)
    (view,) = json.loads(listed.stdout)
    assert view["name"] == name and view["tagged"] and view["run_status"] == "success"


def test_two_submitted_runs_train_at_once_and_stay_apart(project, slurm_cluster):
    slow_stage(project, 8)
    first = submit(project, slurm_cluster, "--description", "first")
    second = submit(project, slurm_cluster, "--description", "second", "-S", "save_step=7")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    a, b = first.stdout.split()[-1], second.stdout.split()[-1]
    assert a != b
    running_together = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not running_together:
        states = {slurm_cluster.job_state(job_id_of(project, n)) for n in (a, b)}
        running_together = states == {"RUNNING"}
        time.sleep(0.5)
    assert running_together, "the two jobs never ran at the same time"
    for name in (a, b):
        wait_tagged(project, name, slurm_cluster, job_id_of(project, name))
    for name, other, description in ((a, b, "first"), (b, a, "second")):
        files = sh(project.root, "git", "ls-tree", "-r", "--name-only", name).stdout.split()
        assert f"training_runs/{name}/run.json" in files
        assert not any(other in f for f in files)  # nothing of the other run in this run's commit
        params = yaml.safe_load(sh(project.root, "git", "show", f"{name}:params.yaml").stdout)
        assert params["run"] == name
        record = json.loads(sh(project.root, "git", "show", f"{name}:training_runs/{name}/run.json").stdout)
        assert record["description"] == description
    second_config = json.loads(sh(project.root, "git", "show", f"{b}:training_runs/{b}/config.json").stdout)
    assert second_config["save_step"] == 7
    assert json.loads(sh(project.root, "git", "show", f"{b}:training_runs/{b}/run.json").stdout)["overrides"] == {"save_step": 7}


@pytest.mark.parametrize("args, says", [
    (("--partition", "nosuch"), "not a partition of this cluster: debug"),
    (("--time", "two hours"), "is not a SLURM time"),
    (("--gpus", "0"), "--gpus must be at least 1"),
    (("--nodes", "3"), "SLURM refuses the job"),  # the cluster has two nodes
    (("--gpus", "2"), "SLURM refuses the job"),  # no node of this cluster has a GPU
    (("-S", "no_such_field=1"), "the config has no field 'no_such_field'"),
    (("-S", "save_step=many"), "the field holds int"),
    (("--from", "henry_v2_debug_20200101_000000"), "no such tag"),
    (("--from", "henry_v2_debug_20200101_000000", "--config", "dvc.yaml"), "give one of them"),
    (("--image", "henryvc:test", "--nodes", "2"), "--image runs the stages in one container on the first node"),
    pytest.param(("--image", "henryvc:no-such-image"), "no image henryvc:no-such-image: build it with",
                 marks=pytest.mark.engine),
])
def test_bad_input_is_exit_2_before_anything_is_submitted(project, slurm_cluster, args, says):
    before, jobs = untouched(project), queued(slurm_cluster)
    done = submit(project, slurm_cluster, *args)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert untouched(project) == before and not (project.state / "jobs").exists()
    assert queued(slurm_cluster) == jobs


def test_no_reachable_slurm_is_exit_1_with_what_to_install(project, tmp_path):
    conf = tmp_path / "slurm.conf"
    conf.write_text("ClusterName=gone\nSlurmctldHost=localhost(127.0.0.1)\nSlurmctldPort=9\n"
                    "NodeName=x CPUs=1\nPartitionName=p Nodes=x\n")
    before = untouched(project)
    done = run_cli(project.root, "submit", "--major", "2", "--variant", "debug", env={"SLURM_CONF": str(conf)}, process=True)
    assert done.returncode == 1, done.stderr
    assert "install the SLURM client tools" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert untouched(project) == before and not (project.state / "jobs").exists()


def test_uncommitted_changes_are_refused(project, slurm_cluster):
    (project.root / "fake_train.py").write_text("# edited, not committed\n")
    done = submit(project, slurm_cluster)
    assert done.returncode == 1 and "commit them first" in done.stderr, done.stderr
    assert not (project.state / "jobs").exists()


def test_cancel_stops_the_job_and_the_run_stays_resumable(project, slurm_cluster):
    slow_stage(project, 300)
    done = submit(project, slurm_cluster)
    name = done.stdout.split()[-1]
    job_id = job_id_of(project, name)
    slurm_cluster.wait_state(job_id, {"RUNNING"}, 120)
    listed = run_cli(project.root, "list", env=slurm_cluster.env, process=True)
    assert name in listed.stdout and "RUNNING" in listed.stdout, listed.stdout
    cancelled = run_cli(project.root, "cancel", name, env=slurm_cluster.env, process=True)
    assert cancelled.returncode == 0, cancelled.stderr
    assert slurm_cluster.wait_state(job_id, {"CANCELLED"}, 60) == "CANCELLED"
    again = run_cli(project.root, "cancel", name, env=slurm_cluster.env, process=True)
    assert again.returncode == 1 and "already ended" in again.stderr
    unknown = run_cli(project.root, "cancel", "henry_v2_debug_20200101_000000", env=slurm_cluster.env, process=True)
    assert unknown.returncode == 2 and "was not submitted" in unknown.stderr
    assert name not in sh(project.root, "git", "tag", "--list").stdout.split()


def test_the_worktree_shares_the_projects_dvc_cache(project, slurm_cluster):
    done = submit(project, slurm_cluster)
    name = done.stdout.split()[-1]
    wait_tagged(project, name, slurm_cluster, job_id_of(project, name))
    worktree = project.state / "jobs" / name
    local = (worktree / ".dvc" / "config.local").read_text()
    assert str(project.root / ".dvc" / "cache") in local
    checkpoint = worktree / "training_runs" / name / "checkpoints" / "checkpoint_500.pth"
    assert checkpoint.is_file()
    digest = md5(checkpoint)
    assert (project.root / ".dvc" / "cache" / "files" / "md5" / digest[:2] / digest[2:]).is_file(), \
        "the run's checkpoint is in the project's own cache, not a cache of the worktree's"
    assert not (worktree / ".dvc" / "cache").exists()


WHERE = """import json as _json, os as _os, pathlib as _pathlib, sys as _sys, yaml as _yaml
_logs = _pathlib.Path("training_runs") / _yaml.safe_load(_pathlib.Path("params.yaml").read_text())["run"] / "logs"
_logs.mkdir(parents=True, exist_ok=True)
(_logs / "where.json").write_text(_json.dumps({"image_id": _os.environ.get("HENRYVC_IMAGE_ID"), "cwd": _os.getcwd(),
                                              "python": _sys.executable}))
"""


@pytest.mark.engine
def test_with_image_the_stages_run_in_the_image_and_the_run_is_tagged(project, slurm_cluster, image):
    """`submit --image`: the batch step runs `dvc repro` in the image through the engine (the job's worktree
    mounted at /project); the stage notes where it ran, and the run is tagged on the host."""
    script = (project.root / "fake_train.py").read_text()
    gen(project, {"fake_train.py": WHERE + script}, commit="the fake stage notes where it runs")
    dry = submit(project, slurm_cluster, "--image", "henryvc:test", "--dry-run")
    assert dry.returncode == 0 and " --image henryvc:test " in dry.stdout, dry.stderr
    done = submit(project, slurm_cluster, "--image", "henryvc:test")
    assert done.returncode == 0, done.stderr
    name = done.stdout.strip().splitlines()[-1]
    wait_tagged(project, name, slurm_cluster, job_id_of(project, name), timeout=900)
    where = json.loads(sh(project.root, "git", "show", f"{name}:training_runs/{name}/logs/where.json").stdout)
    assert where["image_id"] == image and where["cwd"] == "/project", where  # in the container, not on the host
    assert where["python"] != sys.executable
    record = json.loads(sh(project.root, "git", "show", f"{name}:training_runs/{name}/run.json").stdout)
    assert record["status"] == "success" and record["slurm"]["attempts"][0]["exit_code"] == 0

