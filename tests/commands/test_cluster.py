"""`henryvc submit`, `jobs` and `cancel` without a cluster: bad input refused (exit 2) before SLURM is asked,
no scheduler is exit 1 with nothing written, and jobs/cancel/list with no submissions. Submitting, the batch
script and cancelling on a real SLURM cluster: tests/tiers/slurm/test_slurm.py."""

from __future__ import annotations

import json

import pytest

from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import picture

SUBMIT = ("submit", "--major", "2", "--variant", "debug")


@pytest.mark.parametrize("args,says", [
    (("--grace", "0"), "--grace must be at least 1 second, got 0"),
    (("--gpus", "0"), "--gpus must be at least 1"),
    (("--image", "henryvc:test", "--nodes", "2"), "--image runs the stages in one container on the first node"),
    (("-S", "no_such_field=1"), "the config has no field 'no_such_field'"),
])
def test_bad_input_is_exit_2_before_any_scheduler_is_asked(project, tmp_path, args, says):
    before = picture(project.root)
    done = run_cli(project.root, *SUBMIT, *args, "--dry-run", process=True,
                   env={"SLURM_CONF": str(tmp_path / "no-cluster.conf")})  # were SLURM asked, this would be exit 1
    assert done.returncode == 2, done.stderr
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert picture(project.root) == before and not (project.state / "jobs").exists()


def test_options_click_parses_are_refused_by_click(project):
    for args in (("--grace", "soon"), ("--nodes", "two"), ("--variant",)):
        done = run_cli(project.root, "submit", "--major", "2", *(() if "--variant" in args else ("--variant", "debug")),
                       *args)
        assert done.exit_code == 2 and done.stderr.startswith(("Usage:", "Error:")) and done.stdout == "", args
    assert not (project.state / "jobs").exists()


def test_no_scheduler_is_exit_1_and_even_a_dry_run_writes_nothing(project, tmp_path):
    before = picture(project.root)
    done = run_cli(project.root, *SUBMIT, "--dry-run", process=True, env={"SLURM_CONF": str(tmp_path / "none.conf")})
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("henryvc: error: ") and "SLURM" in done.stderr
    assert picture(project.root) == before and not (project.state / "jobs").exists()


def test_jobs_without_submissions_is_an_empty_table_and_asks_no_scheduler(project, tmp_path):
    human = run_cli(project.root, "jobs", process=True, env={"SLURM_CONF": str(tmp_path / "none.conf")})
    assert human.returncode == 0, human.stderr
    assert human.stdout.split() == ["RUN", "JOB", "STATE", "RUN", "STATUS", "TAGGED", "ATTEMPTS", "NODES/REASON"]
    assert json.loads(run_cli(project.root, "jobs", "--json").stdout) == []
    listing = run_cli(project.root, "list")
    assert listing.exit_code == 0 and "submitted runs" not in listing.stdout


def test_cancel_of_a_run_never_submitted_is_bad_input(project):
    done = run_cli(project.root, "cancel", "henry_v2_debug_20200101_000000")
    assert done.exit_code == 2 and done.stdout == ""
    assert done.stderr == ("henryvc: error: henry_v2_debug_20200101_000000 was not submitted from this project: "
                           "see `henryvc jobs`\n")
    assert run_cli(project.root, "cancel", "../../etc").exit_code == 2
