"""The review gate on real git + DVC: a production run is not tagged success without an approving review, and the
success the evaluate rule withholds is released by one (recording a review itself: tests/ops/test_review.py)."""

from __future__ import annotations

import json

from henryvc.core import review
from henryvc.core.verdict import Verdict, judge
from tests.helpers.cli import run_cli
from tests.helpers.project import gen, minimal_config, sh, trained_run


def _note(project, name: str) -> list[dict]:
    done = sh(project.root, "git", "notes", "--ref", review.NOTES_REF, "show", f"{name}^{{commit}}", check=False)
    return review.parse(done.stdout) if done.returncode == 0 else []


def _production_project(project):
    gen(project, {"configs/henry_voice_v2_production.json": json.dumps(minimal_config("production")),
                  "params.yaml": (project.root / "params.yaml").read_text()
                  + "review:\n  required_for: [production]\n"}, commit="production template, review gate")


def test_production_run_is_not_tagged_success_without_an_approving_review(project):
    _production_project(project)
    name = trained_run(project, "production")  # the fake stage marks it success
    result = run_cli(project.root, "tag-run", name)
    assert result.exit_code == 1
    assert f"{name} cannot be tagged success: awaiting an approving review" in result.output
    assert "review.required_for lists production and it has no review" in result.output
    assert sh(project.root, "git", "tag", "-l", name).stdout == ""
    assert run_cli(project.root, "review", name, "--rating", "2", "--verdict", "reject", "--notes", "robotic").exit_code == 0
    result = run_cli(project.root, "tag-run", name)
    assert result.exit_code == 1 and "its latest review is a reject (2/5)" in result.output
    assert run_cli(project.root, "review", name, "--rating", "4", "--verdict", "approve",
                   "--notes", "fixed by ear").exit_code == 0
    result = run_cli(project.root, "tag-run", name)
    assert result.exit_code == 0, result.output
    assert f"tagged {name} (success)" in result.output
    assert [r["verdict"] for r in _note(project, name)] == ["reject", "approve"]


def test_evaluate_withholds_success_until_an_approving_review_releases_it(project):
    _production_project(project)
    name = trained_run(project, "production")
    run_dir = project.run_dir(name)
    params = {"review": {"required_for": ["production"]}}
    met = judge({"total_loss": 1.0, "align_error": 0.01, "stopnet_loss": 0.1, "short_text_seconds": 1.0,
                 "training_finished": True, "chars_per_second_min": 11.0, "chars_per_second_max": 12.5,
                 "decoder_runaways": 0, "attention_focus_min": 0.7, "attention_diagonality_min": 0.9},
                {"max_total_loss": 2.0, "max_align_error": 0.1, "max_stopnet_loss": 0.5, "max_short_text_seconds": 5})
    assert met.status == "success"
    withheld = review.hold(met, run_dir, params)  # the rule alone; the evaluate stage applying it: test_training_pipeline
    assert withheld.status == "incomplete" and withheld.reasons[0].startswith(review.HOLD_REASON)
    assert review.hold(met, project.run_dir(trained_run(project, "debug", seed=2)), params).status == "success"
    assert review.hold(Verdict("failed", [], ["x"]), run_dir, params).status == "failed"
    from henryvc.core import record as records

    records.update(run_dir, status=withheld.status, verdict=withheld.to_dict())
    assert run_cli(project.root, "review", name, "--rating", "5", "--verdict", "approve", "--notes", "ship it").exit_code == 0
    rec = records.load(run_dir)
    assert rec.status == "success" and rec.history[-1]["event"] == "review-approved-success"
    assert (run_dir / "SUCCESS").exists()
    assert "approved by Henry Tester" in rec.verdict["reasons"][0]
    assert sh(project.root, "git", "show", f"HEAD:training_runs/{name}/run.json").stdout.count('"success"') >= 1
