"""henryvc.ops.newrun on real git + DVC projects: a new run's folder, record and params.yaml, the name reserved
against existing folders and tags, `--from` a tagged run, and bad input or a training run refused with nothing made."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from henryvc import api
from henryvc.core import params, runname
from henryvc.core import record as records
from henryvc.errors import BadInput, Busy, RunNotFound
from henryvc.ops import newrun
from tests.helpers.lifecycle import training
from tests.helpers.project import sh, trained_run

STAMP = datetime(2024, 1, 2, 3, 4, 5)


def _state(project) -> dict[str, object]:
    """What new-run may change: the run folders, params.yaml, HEAD and git status."""
    return {"runs": sorted(p.name for p in project.runs.iterdir()) if project.runs.is_dir() else [],
            "params": project.params.read_text(), "head": sh(project.root, "git", "rev-parse", "HEAD").stdout,
            "status": sh(project.root, "git", "status", "--porcelain").stdout}


def test_new_run_makes_the_folder_and_points_params_yaml_at_it(project):
    head = sh(project.root, "git", "rev-parse", "HEAD").stdout.strip()
    record = newrun.new_run(project, 2, "debug", description="first try", now=lambda: STAMP)
    assert record.name == str(runname.build(2, "debug", STAMP))
    run_dir = project.run_dir(record.name)
    assert sorted(p.name for p in run_dir.iterdir()) == ["README.md", "config.json", "run.json"]
    assert params.active_run(project.root) == record.name
    saved = records.load(run_dir)
    assert (saved.name, saved.major, saved.variant, saved.status) == (record.name, 2, "debug", "created")
    assert saved.source_commit == head and saved.description == "first try"
    assert saved.extra["config_source"] == "configs/henry_voice_v2_debug.json"
    config = json.loads((run_dir / "config.json").read_text())
    assert config["run_name"] == record.name and config["output_path"] == f"training_runs/{record.name}"
    readme = (run_dir / "README.md").read_text()
    assert readme.startswith(f"# {record.name}\n") and f"henryvc restore {record.name}" in readme
    assert not [p for p in project.runs.iterdir() if p.name.startswith(".")]  # no staging folder left behind


def test_a_taken_name_moves_to_the_next_second(project):
    taken = str(runname.build(2, "debug", STAMP))
    project.runs.mkdir(exist_ok=True)
    (project.runs / taken).mkdir()
    clock = iter([STAMP, STAMP + timedelta(seconds=1)])
    record = newrun.new_run(project, 2, "debug", now=lambda: next(clock))
    assert record.name == str(runname.build(2, "debug", STAMP + timedelta(seconds=1)))
    assert list((project.runs / taken).iterdir()) == []  # the other folder is left alone

    # A tag holds a name as firmly as a folder does.
    sh(project.root, "git", "tag", str(runname.build(2, "stable", STAMP)))
    clock = iter([STAMP, STAMP + timedelta(seconds=2)])
    assert newrun.new_run(project, 2, "stable", now=lambda: next(clock)).name == str(
        runname.build(2, "stable", STAMP + timedelta(seconds=2)))


@pytest.mark.parametrize("kwargs, error, says", [
    ({"major": 1000}, BadInput, "major version"),
    ({"major": 3}, BadInput, "henry_voice_v3_debug.json"),  # no template for v3
    ({"variant": "nightly"}, BadInput, "nightly"),
    ({"sets": ("no_such_field=1",)}, BadInput, "no field 'no_such_field'"),
    ({"sets": ("save_step=many",)}, BadInput, "int"),
    ({"parent": "henry_v2_debug_20200101_000000"}, RunNotFound, "no such tag"),
    ({"parent": "not-a-run"}, BadInput, "not-a-run"),
    ({"parent": "henry_v2_debug_20200101_000000", "config_path": "dvc.yaml"}, BadInput, "give one of them"),
])
def test_bad_input_is_refused_and_nothing_is_made(project, kwargs, error, says):
    request = {"major": 2, "variant": "debug", **kwargs}
    if "config_path" in request:
        request["config_path"] = project.root / request["config_path"]
    before = _state(project)
    with pytest.raises(error, match=says) as raised:
        newrun.new_run(project, **request)
    assert raised.value.exit_code == 2
    assert _state(project) == before


def test_from_a_tagged_run_starts_from_its_config_with_overrides(project):
    parent = trained_run(project, seed=1)
    api.tag_run(project, parent)
    origin = newrun.check_request(project, 2, "debug", parent=parent, sets=("save_step=7",))
    assert origin.source == f"tag:{parent}" and origin.parent == parent and origin.overrides == {"save_step": 7}
    record = newrun.new_run(project, 2, "debug", parent=parent, sets=("save_step=7",))
    assert record.extra["parent"] == parent and record.extra["overrides"] == {"save_step": 7}
    config = json.loads((project.run_dir(record.name) / "config.json").read_text())
    assert config["save_step"] == 7 and config["output_path"] == f"training_runs/{record.name}"
    assert parent not in json.dumps(config)  # nothing of the parent's name is left in the child's config


def test_new_run_is_refused_while_the_active_run_trains(project):
    current = newrun.new_run(project, 2, "debug", now=lambda: STAMP).name
    before = _state(project)
    with training(project.run_dir(current)):
        with pytest.raises(Busy, match=f"run {current} is training"):
            newrun.new_run(project, 2, "stable")
        assert _state(project) == before
    assert newrun.new_run(project, 2, "stable").name != current  # the lock died with its holder
    assert params.active_run(project.root) != current
