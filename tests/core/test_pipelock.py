"""Two `henryvc run` at once in one project (issue 15, item 2).

params.yaml's `run` is the one run `dvc repro` trains: a second `henryvc run` that re-points it while the
first one's `dvc repro` is starting made the first train the second's folder. The second must be refused
before it touches anything, and the first must train, and tag, its own run.
"""

from __future__ import annotations

import json
import time

import yaml

from tests.helpers.cli import run_cli, spawn_cli
from tests.helpers.project import gen, sh

SLOW_TRAIN = "import time\ntime.sleep(2)\n"


def test_second_run_is_refused_before_it_touches_anything(project):
    script = (project.root / "fake_train.py").read_text()
    gen(project, {"fake_train.py": SLOW_TRAIN + script}, commit="a fake stage that takes two seconds")
    first = spawn_cli(project.root, "run", "--major", "2", "--variant", "debug", "--description", "first")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(project.runs.glob("henry_v2_*/run.json")):
        time.sleep(0.005)
    (a_dir,) = [p.parent for p in project.runs.glob("henry_v2_*/run.json")]
    # The window of the defect: A's run exists and params.yaml names it, A's `dvc repro` is starting.
    second = run_cli(project.root, "run", "--major", "2", "--variant", "stable", "--description", "second", process=True)
    out, err = first.communicate(timeout=300)

    assert first.returncode == 0, err
    assert second.returncode == 1, second.stderr
    message = second.stderr.strip().splitlines()
    assert len(message) == 1 and a_dir.name in message[0] and "henryvc run" in message[0], second.stderr
    # B touched nothing: no run folder of its own, params.yaml still names A
    assert sorted(p.name for p in project.runs.glob("henry_v*")) == [a_dir.name]
    assert yaml.safe_load(project.params.read_text())["run"] == a_dir.name
    # A trained its own folder and tagged it
    assert json.loads((a_dir / "run.json").read_text())["status"] == "success"
    assert (a_dir / "checkpoints" / "checkpoint_1000.pth").is_file()
    assert out.strip().splitlines()[-1] == a_dir.name
    assert sh(project.root, "git", "tag", "--list").stdout.split() == [a_dir.name]


def test_new_run_is_refused_while_a_pipeline_runs(project):
    """A bare `henryvc new-run` during a `henryvc run` would re-point params.yaml the same way."""
    script = (project.root / "fake_train.py").read_text()
    gen(project, {"fake_train.py": SLOW_TRAIN + script}, commit="a fake stage that takes two seconds")
    first = spawn_cli(project.root, "run", "--major", "2", "--variant", "debug", "--no-tag")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list(project.runs.glob("henry_v2_*/run.json")):
        time.sleep(0.005)
    other = run_cli(project.root, "new-run", "--major", "2", "--variant", "stable", process=True)
    first.communicate(timeout=300)
    assert first.returncode == 0
    assert other.returncode == 1 and "henryvc run" in other.stderr, other.stderr
    assert len(list(project.runs.glob("henry_v*"))) == 1
