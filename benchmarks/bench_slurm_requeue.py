"""Requeue to the first resumed step: what henryvc's batch step adds to a bare sbatch (issue 20). A benchmark.

It starts the test cluster (tests/helpers/slurm.py: munged, slurmctld, two slurmd on loopback; needs root),
makes a project with real voice clips and the tiny debug config of tests/tiers/slurm/test_slurm_training.py (real Coqui
training on CPU), and for each pair, A then B:

  A  `henryvc submit`; at the third step TERM to the batch step (`scancel --signal=TERM --batch`, as
     `--signal=B:TERM@grace` delivers it): the batch step forwards it, the stage saves and stops; then
     `scontrol requeue` and the release (`scontrol update StartTime=now`): the second attempt (the batch
     step: attempt record, `henryvc resume` with its checks, `dvc repro`) continues the run.
  B  `sbatch --requeue --wrap 'python -m dvc repro'` in a clone where the run was made by hand; at the
     third step TERM to every process of the job (`scancel --signal=TERM --full`: a bare script forwards
     nothing), the stage saves and stops; then the same requeue and release: `dvc repro` continues it.

Timed: from the release to the first step the continued training writes (a new line in
logs/step_losses.jsonl). Both resume the same checkpoint with the same Coqui code; the difference is what
henryvc does before the stage starts. Example:  sudo .venv/bin/python benchmarks/bench_slurm_requeue.py --reps 2
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench_slurm import bench_environment  # noqa: E402  (this folder: sys.path[0] when run as a script)

from henryvc import api  # noqa: E402
from henryvc.core.project import Project  # noqa: E402
from tests.helpers import slurm  # noqa: E402
from tests.helpers import training as tf  # noqa: E402
from tests.helpers.project import sh  # noqa: E402
from tests.tiers.slurm.test_slurm_training import real_project, requeue, wait_for_step  # noqa: E402

STEP = 3  # TERM once this step's checkpoint exists (save_step 3 in the tiny config)


def steps(run_dir: Path) -> int:
    losses = run_dir / "logs" / "step_losses.jsonl"
    return len(losses.read_text().splitlines()) if losses.exists() else 0


def resumed_after_release(cluster: slurm.Cluster, job: str, run_dir: Path, stopped: set[str]) -> float:
    """Wait for JOB to stop (one of STOPPED), requeue and release it; seconds to the first new step."""
    cluster.wait_state(job, stopped | {"COMPLETED"}, 900)
    before = steps(run_dir)
    requeue(cluster, job)  # waits until slurmctld is idle, requeues, releases: the release is its last call
    released = time.time()
    deadline = time.monotonic() + 1800
    while steps(run_dir) <= before:
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {job}: no new step after the requeue")
        time.sleep(0.05)
    return time.time() - released


def henryvc_side(project: Project, cluster: slurm.Cluster) -> float:
    done = subprocess.run([sys.executable, "-m", "henryvc.main", "submit", "--major", "2", "--variant", "debug"],
                          cwd=project.root, env=cluster.env, capture_output=True, text=True, check=True)
    name = done.stdout.split()[-1]
    job = (project.state / "jobs" / f"{name}.json").read_text().split('"job_id": "')[1].split('"')[0]
    run_dir = project.state / "jobs" / name / "training_runs" / name
    wait_for_step(run_dir, STEP)
    cluster.run("scancel", "--signal=TERM", "--batch", job)
    seconds = resumed_after_release(cluster, job, run_dir, {"FAILED"})
    cluster.run("scancel", job, check=False)
    return seconds


def bare_side(project: Project, cluster: slurm.Cluster, index: int) -> float:
    clone = project.root.parent / f"bare-{index}"
    sh(project.root.parent, "git", "clone", "-q", str(project.root), str(clone))
    sh(clone, sys.executable, "-m", "dvc", "config", "--local", "cache.dir", str(project.root / ".dvc" / "cache"))
    sh(clone, sys.executable, "-m", "dvc", "checkout", "-q", "voice_data.dvc")
    name = api.new_run(Project(clone), 2, "debug").name
    out = subprocess.run(["sbatch", "--parsable", "--requeue", f"--chdir={clone}", f"--output={clone}/job.out",
                          "--open-mode=append", "--wrap", f"{sys.executable} -m dvc repro"],
                         env=cluster.env, capture_output=True, text=True, check=True).stdout
    job = out.strip().split(";")[0]
    run_dir = clone / "training_runs" / name
    wait_for_step(run_dir, STEP)
    cluster.run("scancel", "--signal=TERM", "--full", job)
    seconds = resumed_after_release(cluster, job, run_dir, {"FAILED", "CANCELLED"})
    cluster.run("scancel", job, check=False)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-slurm-requeue-"))
    bench_environment()
    cluster = slurm.start(base / "slurm")
    try:
        project = real_project(base, tf.sample_data(base / "voice", clips=10))
        a, b = [], []
        for index in range(args.reps):
            a.append(henryvc_side(project, cluster))
            b.append(bare_side(project, cluster, index))
            print(f"pair {index + 1}: henryvc {a[-1]:.2f} s, bare sbatch {b[-1]:.2f} s, ratio {a[-1] / b[-1]:.2f}",
                  flush=True)
    finally:
        cluster.run("scancel", "--user", "root", check=False)
        slurm.stop(cluster)
    print(f"release of the requeued job -> first resumed step, {args.reps} pairs, medians: henryvc "
          f"{statistics.median(a):.2f} s (min {min(a):.2f}, max {max(a):.2f}); bare sbatch {statistics.median(b):.2f} s "
          f"(min {min(b):.2f}, max {max(b):.2f}); ratio of medians {statistics.median(a) / statistics.median(b):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
