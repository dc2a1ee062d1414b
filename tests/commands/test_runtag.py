"""`henryvc tag-run` on a real project: it tags the run params.yaml points at (or the one named), prints
the status and commit, refuses a bad name with exit 2 and a push without a git remote with exit 1."""

from __future__ import annotations

import time

from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import train
from tests.helpers.project import sh


def test_tag_run_tags_the_active_run_and_prints_its_commit(project):
    name = train(project, seed=1)
    result = run_cli(project.root, "tag-run")
    assert result.exit_code == 0, result.output
    commit = sh(project.root, "git", "rev-parse", f"{name}^{{commit}}").stdout.strip()
    assert result.output == f"tagged {name} (success) at {commit[:10]}\n"
    assert sh(project.root, "git", "cat-file", "-t", name).stdout.strip() == "tag"  # annotated


def test_tag_run_of_a_run_dvc_lock_no_longer_holds_says_how_and_tags_nothing(project):
    first = train(project, seed=1)
    time.sleep(1.0 - (time.time() % 1.0))  # the next run gets the next second's name
    second = train(project, seed=2)
    result = run_cli(project.root, "tag-run", first)
    assert result.exit_code == 1 and "dvc repro" in result.stderr and first in result.stderr
    assert sh(project.root, "git", "tag", "--list").stdout == ""
    named = run_cli(project.root, "tag-run", second)  # the one dvc.lock holds, named
    assert named.exit_code == 0 and named.output.startswith(f"tagged {second} (success) at ")
    assert sh(project.root, "git", "tag", "--list", "henry_*").stdout.split() == [second]


def test_tag_run_refuses_a_bad_name_and_tags_nothing(project):
    train(project, seed=1)
    result = run_cli(project.root, "tag-run", "henry_v2_debug_notadate")
    assert result.exit_code == 2 and result.stderr.startswith("henryvc: error:")
    assert sh(project.root, "git", "tag", "--list").stdout == ""


def test_tag_run_push_without_an_origin_fails_but_keeps_the_tag(project):
    name = train(project, seed=1)
    result = run_cli(project.root, "tag-run", "--push")
    assert result.exit_code == 1 and "pushed" not in result.stdout and result.stderr.startswith("henryvc: error:")
    assert sh(project.root, "git", "tag", "--list").stdout.split() == [name]
