"""henryvc.api, one plain function per command, called directly on real projects: what each returns, the bad
input it refuses before doing anything (BadInput, exit 2), and that importing it pays for no heavy package."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from henryvc import api
from henryvc.core.recreation import Drift
from henryvc.errors import BadInput, HenryvcError, NotAProject, RunNotFound
from tests.helpers.lifecycle import picture, run_with_status
from tests.helpers.project import minimal_config, sh


def test_importing_api_imports_no_heavy_package():
    probe = ("import sys, json; import henryvc.api; "
             "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    modules = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                        check=True).stdout)
    assert not {"dvc", "git", "torch", "TTS", "docker", "numpy", "ruamel"} & set(modules)


def test_init_then_require_project_finds_it_from_a_subfolder(tmp_path):
    root = tmp_path / "henry"
    root.mkdir()
    result = api.init(root, str(tmp_path / "remote"))
    assert Path(result["root"]) == root.resolve() and result["remote"] == str(tmp_path / "remote")
    (root / "configs" / "deep").mkdir(parents=True)
    assert api.require_project(root / "configs" / "deep").root == root.resolve()
    with pytest.raises(NotAProject, match="henryvc init"):
        api.require_project(tmp_path)


def test_validate_gathers_the_findings_of_every_file(tmp_path):
    good, bad = tmp_path / "henry_voice_v2_debug.json", tmp_path / "henry_voice_v2_stable.json"
    good.write_text(json.dumps(minimal_config("debug")))
    config = minimal_config("stable")
    del config["model"], config["version"]
    bad.write_text(json.dumps(config))
    findings = api.validate([good, bad])
    assert sorted(f.field for f in findings if f.severity == "error") == ["model", "version"]
    assert {f.file for f in findings} == {str(bad)}
    assert api.validate([good]) == []


def test_new_run_is_named_by_its_clock_and_becomes_the_active_run(project):
    record = api.new_run(project, 2, "debug", description="api", now=lambda: datetime(2026, 11, 24, 10, 15, 0))
    assert record.name == "henry_v2_debug_20261124_101500" and record.status == "created"
    assert api.active_run(project) == record.name
    assert "# the run dvc repro trains" in project.params.read_text()  # comments kept


def test_set_active_run_checks_the_name_and_active_run_refuses_none(project):
    with pytest.raises(BadInput, match="names no run"):
        api.active_run(project)
    api.set_active_run(project, "henry_v2_debug_20261124_101500")
    assert api.active_run(project) == "henry_v2_debug_20261124_101500"
    before = project.params.read_text()
    with pytest.raises(BadInput):
        api.set_active_run(project, "../../etc")
    assert project.params.read_text() == before


def test_list_runs_filters_and_refuses_unknown_variants_and_statuses(project):
    success = run_with_status(project, "success", seed=1, tag=True)
    failed = run_with_status(project, "failed", seed=2)
    assert {r.name for r in api.list_runs(project).runs} == {success, failed}
    assert [r.name for r in api.list_runs(project, status="failed").runs] == [failed]
    assert api.list_runs(project, major=3).runs == []
    with pytest.raises(BadInput, match="status must be one of"):
        api.list_runs(project, status="done")
    with pytest.raises(BadInput):
        api.list_runs(project, variant="nightly")


def test_show_and_diff_add_the_environment(project):
    a = run_with_status(project, "success", seed=1, tag=True)
    b = run_with_status(project, "success", seed=2, tag=True)
    info = api.show(project, a)
    assert info.name == a and info.tagged and info.environment == {}  # the stand-in stage records none
    result = api.diff(project, a, b)
    assert result["environment"] == [] and {m["key"] for m in result["metrics"]} >= {"total_loss"}
    with pytest.raises(BadInput):
        api.show(project, "not-a-run")


def test_tag_restore_and_verify_round_trip(project):
    name = run_with_status(project, "success", seed=1)
    tagged = api.tag_run(project)
    assert tagged.name == name and tagged.status == "success" and not tagged.pushed
    assert tagged.commit == sh(project.root, "git", "rev-parse", f"{name}^{{commit}}").stdout.strip()
    restored = api.restore(project, name)
    assert api.verify(project, name, Path(restored.path)).ok
    with pytest.raises(BadInput, match="--into and --in-place exclude each other"):
        api.restore(project, name, into=Path("x"), in_place=True)


def test_plans_read_only(project):
    run_with_status(project, "failed", seed=1, tag=True)
    before = picture(project.root)
    assert [a.action for a in api.archive(project, dry_run=True).actions] == ["move"]
    plan = api.cleanup_failed(project, dry_run=True)
    assert [i.action for i in plan.items] == ["delete"]
    assert len(api.plan_reset(project).items) == 1
    assert picture(project.root) == before


def test_schedule_refuses_an_unknown_kind(project):
    assert api.schedule(project).kind == "cron"
    with pytest.raises(BadInput, match="cron or systemd"):
        api.schedule(project, "launchd")


def test_jobs_without_submissions_ask_no_scheduler(project, monkeypatch, tmp_path):
    monkeypatch.setenv("SLURM_CONF", str(tmp_path / "none.conf"))  # a scheduler asked would fail
    assert api.jobs(project) == [] and api.active_jobs(project) == []
    with pytest.raises(RunNotFound, match="was not submitted from this project"):
        api.cancel(project, "henry_v2_debug_20200101_000000")


def test_drift_refusal_lists_what_blocks_and_counts_the_rest():
    drift = [Drift("python", "", "3.11.9", "3.12.1"),
             Drift("package", "tomli-w", "1.0.0", None, blocks=False)]
    error = api.drift_refusal("henry_v2_debug_20261124_101500", drift)
    assert isinstance(error, HenryvcError)
    text = str(error)
    assert "henry_v2_debug_20261124_101500 was made in another environment (1 difference(s))" in text
    assert "  python: 3.11.9 at the tag, 3.12.1 here" in text and "1 package(s)" in text
    assert "tomli-w" not in text


def test_venv_python_is_the_venvs_own_interpreter(tmp_path):
    assert api.venv_python(tmp_path / "env") == tmp_path / "env" / "bin" / "python"


def test_name_taking_functions_refuse_a_bad_name_before_doing_anything(project):
    before = picture(project.root)
    for call in (lambda: api.tag_run(project, "../x"), lambda: api.verify(project, "x"),
                 lambda: api.resume(project, "x"), lambda: api.recreate_check(project, "x"),
                 lambda: api.docker_recreate(project, "x", None, "none"),
                 lambda: api.review_run(project, "x", 4, "approve")):
        with pytest.raises(BadInput):
            call()
    assert picture(project.root) == before
