"""`henryvc new-run`, `list`, `show` and `diff` on a real project: what each prints and its --json, the
filters, and bad input (variant, status, run name) refused with exit 2 and nothing made."""

from __future__ import annotations

import json

from henryvc.core import params
from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import picture, run_with_status
from tests.helpers.project import sh


def test_new_run_prints_the_name_and_points_params_at_it(project):
    result = run_cli(project.root, "new-run", "--major", "2", "--variant", "debug", "--description", "lower LR")
    assert result.exit_code == 0, result.output
    name = result.stdout.strip()
    assert name.startswith("henry_v2_debug_") and result.stdout == name + "\n"
    assert params.active_run(project.root) == name
    record = json.loads((project.run_dir(name) / "run.json").read_text())
    assert record["status"] == "created" and record["description"] == "lower LR"
    assert json.loads((project.run_dir(name) / "config.json").read_text())["run_name"] == name


def test_new_run_refuses_a_bad_variant_or_a_missing_template_and_makes_nothing(project):
    before = picture(project.root)
    bad = run_cli(project.root, "new-run", "--major", "2", "--variant", "nightly")
    assert bad.exit_code == 2 and "nightly" in bad.output
    missing = run_cli(project.root, "new-run", "--major", "7", "--variant", "debug")
    assert missing.exit_code in (1, 2) and missing.stderr.startswith("henryvc: error:")
    assert "henry_voice_v7_debug.json" in missing.stderr
    assert picture(project.root) == before


def test_list_shows_tagged_and_untagged_runs_with_filters(project):
    tagged = run_with_status(project, "success", seed=1, tag=True)
    failed = run_with_status(project, "failed", seed=2)
    listing = run_cli(project.root, "list")
    assert listing.exit_code == 0, listing.output
    lines = listing.stdout.splitlines()
    assert lines[0].split()[:3] == ["RUN", "STATUS", "TAGGED"] and lines[0].split()[-1] == "FOLDER"
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert rows[tagged][1:3] == ["success", "yes"] and rows[failed][1:3] == ["failed", "no"]
    assert rows[tagged][-1] == "training_runs"
    assert [line.split()[0] for line in lines[1:]] == [failed, tagged]  # newest first
    data = json.loads(run_cli(project.root, "list", "--json", "--status", "failed").stdout)
    assert [r["name"] for r in data["runs"]] == [failed] and data["jobs"] == []
    assert run_cli(project.root, "list", "--variant", "stable").stdout.splitlines()[1:] == []


def test_list_refuses_an_unknown_status_and_outside_a_project_names_init(project, tmp_path):
    bad = run_cli(project.root, "list", "--status", "finished")
    assert bad.exit_code == 2 and "status must be one of" in bad.stderr
    outside = run_cli(tmp_path, "list")
    assert outside.exit_code == 1 and "henryvc init" in outside.stderr


def test_show_prints_a_tagged_run_and_its_json(project):
    name = run_with_status(project, "success", seed=1, tag=True)
    human = run_cli(project.root, "show", name)
    assert human.exit_code == 0, human.output
    commit = sh(project.root, "git", "rev-parse", f"{name}^{{commit}}").stdout.strip()
    assert f"run:     {name}\nstatus:  success\ntagged:  yes, commit {commit[:10]}" in human.stdout
    assert "metric:  total_loss = 1.51" in human.stdout and "data:    voice_data " in human.stdout
    info = json.loads(run_cli(project.root, "show", name, "--json").stdout)
    assert info["name"] == name and info["status"] == "success" and info["metrics"]["total_loss"] == 1.51


def test_show_of_a_run_that_is_nowhere_is_bad_input_naming_list(project):
    result = run_cli(project.root, "show", "henry_v2_debug_20200101_000000")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == "henryvc: error: no run henry_v2_debug_20200101_000000: see `henryvc list`\n"


def test_diff_prints_param_and_metric_deltas(project):
    a = run_with_status(project, "success", seed=1, tag=True)
    b = run_with_status(project, "success", seed=3, tag=True)
    human = run_cli(project.root, "diff", a, b)
    assert human.exit_code == 0, human.output
    assert "metric: total_loss: 1.51 -> 1.53 (delta 0.02)" in human.stdout
    data = json.loads(run_cli(project.root, "diff", a, b, "--json").stdout)
    [loss] = [m for m in data["metrics"] if m["key"] == "total_loss"]
    assert loss["a"] == 1.51 and loss["b"] == 1.53 and round(loss["delta"], 6) == 0.02
    assert run_cli(project.root, "diff", a, "nonsense").exit_code == 2
