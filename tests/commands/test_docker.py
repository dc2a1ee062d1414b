"""`henryvc docker build|run|recreate` without a container engine: bad options are exit 2 before any engine or
project is asked, a missing project is exit 1 naming init, and no engine is one line with exit 1. Builds, runs
and re-creations in a real engine: tests/tiers/engine/test_recreate_engine.py, tests/tiers/arm64/
test_container_arm64.py (no engine: tests/adapters/test_container.py)."""

from __future__ import annotations

import pytest

from tests.helpers.cli import run_cli

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/henryvc-test/docker.sock"}


def test_the_group_lists_its_commands(tmp_path):
    result = run_cli(tmp_path, "docker", "--help")
    assert result.exit_code == 0
    listed = result.output.split("Commands:", 1)[1].split()
    assert {"build", "run", "recreate"} <= set(listed)


@pytest.mark.parametrize("pair", ["NOEQUALS", "=value"])
def test_build_refuses_a_build_arg_without_key_and_value_before_anything(tmp_path, pair):
    # tmp_path is no project and no engine answers: the argument is checked before either is looked for
    result = run_cli(tmp_path, "docker", "build", "--build-arg", pair, process=True, env=NO_ENGINE)
    assert result.returncode == 2
    assert result.stderr == f"henryvc: error: --build-arg takes KEY=VALUE, got {pair!r}\n"


@pytest.mark.parametrize("args", [["run", "--gpus", "some"], ["recreate", "henry_v2_debug_20250101_120000",
                                                              "--gpus", "2"], ["recreate", "henry_v2_debug_nope"]])
def test_bad_gpus_or_run_name_is_exit_2(tmp_path, args):
    result = run_cli(tmp_path, "docker", *args, process=True, env=NO_ENGINE)
    assert result.returncode == 2 and "Traceback" not in result.stderr


@pytest.mark.parametrize("verb", [["run", "--", "true"], ["recreate", "henry_v2_debug_20250101_120000"]])
def test_outside_a_project_names_init_before_the_engine(tmp_path, verb):
    result = run_cli(tmp_path, "docker", *verb, process=True, env=NO_ENGINE)
    assert result.returncode == 1 and "henryvc init" in result.stderr and "container engine" not in result.stderr


def test_run_in_a_project_without_an_engine_is_one_line(project):
    result = run_cli(project.root, "docker", "run", "--", "dvc", "repro", process=True, env=NO_ENGINE)
    assert result.returncode == 1 and result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"henryvc: error: no container engine at {NO_ENGINE['DOCKER_HOST']}")
