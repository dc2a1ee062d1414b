"""`henryvc run` and `henryvc resume` through the real `dvc repro` of the stand-in stage: the summary on stderr
and the run name as the last stdout line, --no-tag and --json, bad options refused (exit 2, nothing made),
and resume refusing a run that is not incomplete. Real training and exact resume: tests/tiers/slow/
test_training_run_command.py and test_training_exact_resume.py."""

from __future__ import annotations

import json

from henryvc.core import params
from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import picture, run_with_status
from tests.helpers.project import sh


def tags(project) -> list[str]:
    return sh(project.root, "git", "tag", "--list").stdout.split()


def test_run_trains_tags_and_prints_the_name_last(project):
    result = run_cli(project.root, "run", "--major", "2", "--variant", "debug", "--description", "smoke")
    assert result.exit_code == 0, result.output
    name = result.stdout.splitlines()[-1]
    assert name.startswith("henry_v2_debug_") and params.active_run(project.root) == name
    assert f"{name}: success" in result.stderr
    commit = sh(project.root, "git", "rev-parse", f"{name}^{{commit}}").stdout.strip()
    assert f"tagged {name} at {commit[:10]}" in result.stderr
    assert tags(project) == [name]
    assert json.loads((project.run_dir(name) / "run.json").read_text())["description"] == "smoke"


def test_run_no_tag_json_reports_the_result_and_leaves_tagging(project):
    result = run_cli(project.root, "run", "--major", "2", "--variant", "debug", "--no-tag", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stdout is pure JSON: dvc repro's lines went to stderr
    assert data["status"] == "success" and data["tag_commit"] is None and data["name"].startswith("henry_v2_debug_")
    assert tags(project) == []
    assert run_cli(project.root, "tag-run").exit_code == 0 and tags(project) == [data["name"]]


def test_run_refuses_bad_options_before_making_anything(project):
    before = picture(project.root)
    for args in (["--nodes", "0"], ["--gpus", "-1"], ["-S", "no_equals_sign"], ["--variant", "nightly"]):
        argv = ["run", "--major", "2", *(["--variant", "debug"] if "--variant" not in args else []), *args]
        result = run_cli(project.root, *argv)
        assert result.exit_code == 2, (args, result.output)
    assert run_cli(project.root, "run", "--variant", "debug").exit_code == 2  # --major is required
    assert picture(project.root) == before


def test_resume_refuses_a_run_that_is_not_incomplete_and_one_that_is_nowhere(project):
    name = run_with_status(project, "success", seed=1)
    done = run_cli(project.root, "resume", name)
    assert done.exit_code == 1 and "not incomplete" in done.stderr and done.stdout == ""
    nowhere = run_cli(project.root, "resume", "henry_v2_debug_20200101_000000")
    assert nowhere.exit_code == 2 and nowhere.stderr.startswith("henryvc: error:")
    assert run_cli(project.root, "resume", "../x").exit_code == 2
