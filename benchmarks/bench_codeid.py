"""What the code identity and the environment lock cost (issue 12; budget: <= 5 % of tag-run). A benchmark, not a test.

Builds a project with `henryvc init` and the fake training stage in a temporary folder, then times:
- `henryvc new-run` and `henryvc tag-run` as subprocesses (process start-up included), REPS each;
- in-process, what henryvc added to them: stagecode.ensure (new-run: the stage_code/ links and dvc.yaml's
  code dependencies, checked and left alone when in sync), and codeid.identity + environment.freeze + writing
  both files (done once by the train stage when training starts; tag-run itself only copies the record's
  `code` into the tag summary).

Example:
    python benchmarks/bench_codeid.py --reps 5
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


def timed(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-codeid-"))
    home = base / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n\tname = bench\n\temail = bench@henryvc.invalid\n"
                                     "[init]\n\tdefaultBranch = main\n")
    os.environ.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(home / ".gitconfig"), DVC_NO_ANALYTICS="1",
                      PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    from henryvc.core import codeid, environment
    from tests.helpers.project import make_project, trained_run

    project = make_project(base / "project", base / "remote")
    henryvc = [sys.executable, "-m", "henryvc.main"]

    def cli(*argv: str) -> None:
        subprocess.run([*henryvc, *argv], cwd=project.root, check=True, capture_output=True)

    new_run, tag_run = [], []
    for seed in range(args.reps):
        name = trained_run(project, seed=seed + 1)  # untimed: new-run in-process + the fake stage
        start = time.perf_counter()
        cli("tag-run", name)
        tag_run.append(time.perf_counter() - start)
        start = time.perf_counter()
        cli("new-run", "--major", "2", "--variant", "debug")
        new_run.append(time.perf_counter() - start)
    cold_code = ("import time, sys; from pathlib import Path; from henryvc.core import stagecode; "
                 "t = time.perf_counter(); stagecode.ensure(Path(sys.argv[1])); print(time.perf_counter() - t)")
    ensure = [float(subprocess.run([sys.executable, "-c", cold_code, str(project.root)], capture_output=True,
                                   text=True, check=True).stdout) for _ in range(args.reps * 2)]  # as new-run pays it
    run_dir = base / "lockdir"
    run_dir.mkdir()
    lock = timed(lambda: environment.write(run_dir), args.reps * 4)
    identity = timed(codeid.identity, args.reps * 4)
    freeze = timed(environment.freeze, args.reps * 4)
    med = statistics.median
    rows = [("henryvc tag-run (subprocess)", tag_run), ("henryvc new-run (subprocess)", new_run),
            ("stagecode.ensure, first call in a process (added to new-run)", ensure), ("codeid.identity", identity),
            ("environment.freeze", freeze), ("environment.write = identity + freeze + 2 files (train stage)", lock)]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, reps {args.reps}; "
          f"{len(environment.freeze())} distributions, {len(codeid.identity()['files'])} stage code files")
    for label, values in rows:
        print(f"{label:62s} median {med(values) * 1000:8.1f} ms  (min {min(values) * 1000:.1f}, "
              f"max {max(values) * 1000:.1f})")
    print(f"stagecode.ensure / new-run: {med(ensure) / med(new_run) * 100:.2f} %")
    print(f"environment.write / tag-run (if it were done at tag time): {med(lock) / med(tag_run) * 100:.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
