"""What `henryvc submit` adds on top of a bare sbatch of the same training (issue 20). A benchmark, not a test.

It starts the test cluster (tests/helpers/slurm.py: munged, slurmctld, two slurmd on loopback; needs root),
makes a project with the fake training stage, and times, alternating A B A B, from the moment the command
starts to the moment the training stage starts (the stage writes a marker first thing):

  A  `henryvc submit --major 2 --variant debug` (checks, name reservation, worktree, new-run, sbatch
     --test-only, sbatch, then in the job: the batch step, `dvc repro`'s prepare of the stage)
  B  `sbatch --wrap 'python -m dvc repro'` in a clone where the run was created beforehand by hand

The ratio of the medians and each pair's ratio are printed; the training itself is the same stage in both
and is not timed. Example:  sudo .venv/bin/python benchmarks/bench_slurm.py --reps 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from henryvc import api  # noqa: E402
from tests.helpers import slurm  # noqa: E402
from tests.helpers.project import gen, make_project, sh  # noqa: E402

MARKER = "stage-started"


def with_marker(project) -> None:
    """The fake stage writes MARKER (its own start time) in the folder it runs in, first thing."""
    script = (project.root / "fake_train.py").read_text()
    gen(project, {"fake_train.py": f"import pathlib, time\npathlib.Path('{MARKER}').write_text(repr(time.time()))\n"
                  + script}, commit="the fake stage marks its start")


def wait_for(path: Path, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text():
            return float(path.read_text())
        time.sleep(0.02)
    raise TimeoutError(f"{path} never appeared")


def henryvc_submit(project, env: dict[str, str]) -> float:
    started = time.time()
    done = subprocess.run([sys.executable, "-m", "henryvc.main", "submit", "--major", "2", "--variant", "debug"],
                          cwd=project.root, env=env, capture_output=True, text=True, check=True)
    name = done.stdout.split()[-1]
    return wait_for(project.state / "jobs" / name / MARKER) - started


def bare_sbatch(project, env: dict[str, str], index: int) -> float:
    clone = project.root.parent / f"bare-{index}"
    sh(project.root.parent, "git", "clone", "-q", str(project.root), str(clone))
    sh(clone, sys.executable, "-m", "dvc", "config", "--local", "cache.dir", str(project.root / ".dvc" / "cache"))
    sh(clone, sys.executable, "-m", "dvc", "checkout", "-q", "voice_data.dvc")
    from henryvc.core.project import Project

    api.new_run(Project(clone), 2, "debug")
    started = time.time()
    subprocess.run(["sbatch", f"--chdir={clone}", f"--output={clone}/job.out", "--wrap",
                    f"{sys.executable} -m dvc repro"], env=env, capture_output=True, text=True, check=True)
    return wait_for(clone / MARKER) - started


def bench_environment() -> None:
    """A git identity for the projects a benchmark makes, and this interpreter's folder first on PATH."""
    for key, value in (("GIT_AUTHOR_NAME", "bench"), ("GIT_AUTHOR_EMAIL", "bench@henryvc.invalid"),
                       ("GIT_COMMITTER_NAME", "bench"), ("GIT_COMMITTER_EMAIL", "bench@henryvc.invalid")):
        os.environ.setdefault(key, value)
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-slurm-"))
    bench_environment()
    cluster = slurm.start(base / "slurm")
    try:
        project = make_project(base / "project", base / "dvc-remote")
        with_marker(project)
        env = cluster.env
        a, b = [], []
        for index in range(args.reps):
            a.append(henryvc_submit(project, env))
            b.append(bare_sbatch(project, env, index))
            print(f"pair {index + 1}: henryvc submit {a[-1]:.2f} s, bare sbatch {b[-1]:.2f} s, ratio {a[-1] / b[-1]:.2f}",
                  flush=True)
        cluster.run("scancel", "--user", "root", check=False)
    finally:
        slurm.stop(cluster)
    print(f"command start -> training stage start, {args.reps} pairs, medians: henryvc submit "
          f"{statistics.median(a):.2f} s (min {min(a):.2f}, max {max(a):.2f}); bare sbatch {statistics.median(b):.2f} s "
          f"(min {min(b):.2f}, max {max(b):.2f}); ratio of medians {statistics.median(a) / statistics.median(b):.2f}; "
          f"henryvc adds {statistics.median(a) - statistics.median(b):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
