"""`henryvc recreate` and `henryvc env build` as printed: --check passes in the environment the run recorded
(text and --json), a full re-run prints the metric table and its verdict, a tag without a lock is refused, and
env build's options are refused with exit 2. Drift through the command: tests/ops/test_recreate.py; real
training re-created: tests/tiers/slow/test_recreate.py; a venv built from a lock: tests/core/test_environment.py."""

from __future__ import annotations

import json
import sys

from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import picture
from tests.helpers.project import sh, trained_run
from tests.helpers.venvs import record_environment


def recorded_run(project) -> str:
    """A trained, tagged run whose environment this interpreter recorded, as the train stage does."""
    name = trained_run(project)
    record_environment(sys.executable, project.run_dir(name))
    sh(project.root, "git", "add", f"training_runs/{name}")
    assert run_cli(project.root, "tag-run", name).exit_code == 0
    return name


def test_check_in_the_recorded_environment_passes(project):
    name = recorded_run(project)
    result = run_cli(project.root, "recreate", name, "--check")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith(f"{name}: this environment is the one the run recorded")
    assert not [line for line in result.stdout.splitlines() if line.startswith("drift")]
    drift = json.loads(run_cli(project.root, "recreate", name, "--check", "--json").stdout)
    assert all(not d["blocks"] for d in drift)


def test_recreate_reruns_the_stages_and_prints_the_metric_table(project):
    name = recorded_run(project)
    result = run_cli(project.root, "recreate", name)
    assert result.exit_code == 0, result.output[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["metric", "tag", "recreated", "delta", "same"]
    [loss] = [line.split() for line in lines if line.startswith("total_loss ")]
    assert loss[1] == loss[2] == "1.51" and loss[-1] == "yes"
    assert any(line.startswith("training not compared: ") for line in lines)  # the stand-in logs no step losses
    assert lines[-1].startswith(f"{name} re-created in ") and lines[-1].endswith("(exit 0): matches the tag")


def test_a_tag_without_an_environment_lock_is_refused_and_nothing_is_written(project):
    name = trained_run(project)
    assert run_cli(project.root, "tag-run", name).exit_code == 0
    before = picture(project.root)
    result = run_cli(project.root, "recreate", name, "--check")
    assert result.exit_code == 1 and "records no environment.lock" in result.stderr and result.stdout == ""
    assert run_cli(project.root, "recreate", name).exit_code == 1
    assert picture(project.root) == before


def test_env_build_needs_exactly_one_of_a_run_and_a_lock(project, tmp_path):
    lock = tmp_path / "environment.lock"
    lock.write_text("")
    venv = str(tmp_path / "venv")
    neither = run_cli(project.root, "env", "build", "--venv", venv)
    assert neither.exit_code == 2 and neither.stderr == "henryvc: error: name a run or give --lock FILE (one of them)\n"
    both = run_cli(project.root, "env", "build", "henry_v2_debug_20261124_101500", "--lock", str(lock), "--venv", venv)
    assert both.exit_code == 2 and "one of them" in both.stderr
    assert run_cli(project.root, "env", "build", "--lock", str(lock)).exit_code == 2  # --venv is required
    assert run_cli(project.root, "env", "build", "--lock", str(tmp_path / "none.lock"), "--venv", venv).exit_code == 2
    assert not (tmp_path / "venv").exists()


def test_recreate_refuses_a_bad_name(project):
    assert run_cli(project.root, "recreate", "henry_v2_debug_tomorrow").exit_code == 2
    assert run_cli(project.root, "env", "build", "../etc", "--venv", "x").exit_code == 2


def test_env_build_of_a_tag_without_a_lock_advises_only_what_env_build_can_do(project, tmp_path):
    name = trained_run(project)
    assert run_cli(project.root, "tag-run", name).exit_code == 0
    result = run_cli(project.root, "env", "build", name, "--venv", str(tmp_path / "venv"))
    assert result.exit_code == 1 and "records no environment.lock" in result.stderr
    assert "--allow-drift" not in result.stderr
