"""henryvc.ops.doctor on real projects: each emergency check finds its problem (broken configs, unreachable or
missing remotes, no git identity, runs killed mid-training, unsafe or unreadable run folders) and says the fix;
any error makes the report not ok."""

from __future__ import annotations

import json

from henryvc.core import record as records
from henryvc.ops import doctor
from henryvc.ops.doctor import Check, Report
from tests.helpers.cli import run_cli
from tests.helpers.lifecycle import run_with_status
from tests.helpers.project import dvc


def test_doctor_reports_a_broken_config_and_an_unreachable_remote_with_fixes(project, tmp_path):
    result = run_cli(project.root, "doctor", "--json")
    report = json.loads(result.output)
    assert {c["name"]: c["level"] for c in report["checks"] if c["name"] in ("remote", "config")} == {
        "remote": "ok", "config": "ok"}

    name = run_with_status(project, "training", seed=1)  # killed mid-training: nothing holds its lock
    (project.root / "configs" / "henry_voice_v2_debug.json").write_text('{"model": "tacotron2",,}')
    dvc(project.root, "remote", "modify", "storage", "url", str(tmp_path / "unplugged-disk" / "henry"))
    dvc(project.root, "remote", "add", "far", "ssh://127.0.0.1:1/srv/henry")
    result = run_cli(project.root, "doctor", "--json")
    assert result.exit_code == 1
    checks = json.loads(result.output)["checks"]
    [config] = [c for c in checks if c["name"] == "config" and c["level"] == "error"]
    assert "henry_voice_v2_debug.json" in config["detail"] and "JSON syntax" in config["detail"] and config["fix"]
    remotes = {c["detail"].split()[2]: c for c in checks if c["name"] == "remote"}
    assert remotes["storage"]["level"] == "error" and "does not exist" in remotes["storage"]["detail"]
    assert "mount" in remotes["storage"]["fix"]
    assert remotes["far"]["level"] == "error" and "ssh -o BatchMode=yes -p 1 127.0.0.1 true" in remotes["far"]["fix"]
    assert any(c["name"] == "runs" and name in c["detail"] for c in checks)
    human = run_cli(project.root, "doctor").output
    assert "fix:" in human and "error" in human


def test_report_is_ok_with_warnings_and_not_with_an_error():
    report = Report([Check("disk", "ok", "plenty"), Check("gpu", "warning", "no GPU", "install a driver")])
    assert report.ok and report.to_dict()["ok"] is True
    report.checks.append(Check("remote", "error", "gone", "mount it"))
    data = report.to_dict()
    assert not report.ok and data["ok"] is False and data["checks"][-1] == {
        "name": "remote", "level": "error", "detail": "gone", "fix": "mount it"}


def test_params_and_pipeline_files_are_checked(project):
    assert [c.level for c in doctor.check_configs(project)] == ["ok"]
    project.params.write_text("run: henry_v2_debug_20200101_000000\nfake:\n  seed: 1\n")
    [warning, ok] = doctor.check_configs(project)
    assert warning.level == "warning" and "has no folder" in warning.detail and "new-run" in warning.fix
    assert ok.level == "ok"
    project.params.write_text("run: [unclosed\n")
    (project.root / "dvc.yaml").unlink()
    found = {c.detail.split()[0]: c for c in doctor.check_configs(project) if c.level == "error"}
    assert "does not parse" in found["params.yaml"].detail and "git diff params.yaml" in found["params.yaml"].fix
    assert found["dvc.yaml"].detail == "dvc.yaml is missing" and "henryvc init" in found["dvc.yaml"].fix


def test_no_remote_and_no_git_identity_are_errors(project, tmp_path, monkeypatch):
    assert [c.level for c in doctor.check_environment(project)] == ["ok", "ok"]  # identity, and python imports stages
    dvc(project.root, "remote", "remove", "storage")
    [remote] = doctor.check_remotes(project)
    assert remote.level == "error" and "no DVC remote" in remote.detail and "dvc remote add" in remote.fix
    empty_home = tmp_path / "empty-home"
    empty_home.mkdir()
    monkeypatch.setenv("HOME", str(empty_home))  # git's global configuration: none anywhere
    monkeypatch.setenv("XDG_CONFIG_HOME", str(empty_home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty_home / "gitconfig"))
    identity = doctor.check_environment(project)[0]
    assert identity.level == "error" and "user.name and user.email" in identity.detail
    assert "git config --global user.name" in identity.fix


def test_run_folders_that_are_links_or_unreadable_are_reported(project, tmp_path):
    good = run_with_status(project, "success", seed=1)
    broken = run_with_status(project, "success", seed=2)
    assert doctor.check_runs(project) == []  # finished runs: nothing to say
    (project.run_dir(broken) / records.RECORD_FILE).write_text("{not json")
    (tmp_path / "outside").mkdir()
    (project.runs / "henry_v2_debug_20200101_000000").symlink_to(tmp_path / "outside")
    found = doctor.check_runs(project)
    assert [(c.level, c.name) for c in found] == [("warning", "runs"), ("error", "runs")]
    link, unreadable = found
    assert "symlink" in link.detail and "plain folder" in link.fix
    assert f"training_runs/{broken}/run.json" in unreadable.detail and "git checkout --" in unreadable.fix
    assert good not in json.dumps([c.__dict__ for c in found])
