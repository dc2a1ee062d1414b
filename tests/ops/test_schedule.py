"""henryvc.ops.schedule: the crontab lines run as cron runs them (a project path with a space and a `%`),
the systemd units pass `systemd-analyze verify`, and a kind other than cron or systemd is BadInput."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from henryvc.errors import BadInput
from henryvc.ops import schedule
from tests.helpers.project import make_project


def test_an_unknown_kind_is_bad_input(project):
    with pytest.raises(BadInput, match="cron or systemd") as raised:
        schedule.schedule(project, "launchd")
    assert raised.value.exit_code == 2


def test_the_command_is_an_executable_henryvc():
    command = schedule.henryvc_command()
    done = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "schedule" in done.stdout


def test_cron_lines_run_as_cron_runs_them_in_an_awkward_path(tmp_path):
    project = make_project(tmp_path / "henry's 50% project", tmp_path / "remote")
    made = schedule.schedule(project)
    assert made.kind == "cron" and made.to_dict() == {"kind": "cron", "text": made.text}
    jobs = [line for line in made.text.splitlines() if line and not line.startswith("#")]
    assert [job.split(None, 5)[:5] for job in jobs] == [job[3].split() for job in schedule.JOBS]
    weekly = jobs[0].split(None, 5)[5]
    # cron turns an unescaped % into a newline (the rest becomes stdin) and `\%` into %, then runs /bin/sh -c.
    assert "%" not in weekly.replace("\\%", "")
    done = subprocess.run(["/bin/sh", "-c", weekly.replace("\\%", "%")], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    log = project.state / "backup.log"
    assert log.is_file() and log.stat().st_size > 0  # the job ran in the project and logged there


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_units_pass_systemd_analyze_verify(project, tmp_path):
    made = schedule.schedule(project, "systemd")
    units = tmp_path / "units"
    units.mkdir()
    for block in made.text.split("\n# ")[1:]:
        name, _, body = block.partition("\n")
        if name.startswith("henryvc-backup-"):  # the header's comment lines are not units
            (units / name).write_text(body)
    names = sorted(p.name for p in units.iterdir())
    assert names == sorted(f"henryvc-backup-{when}.{kind}" for when, *_ in schedule.JOBS for kind in ("service", "timer"))
    for service in units.glob("*.service"):
        assert f"WorkingDirectory={project.root}\n" in service.read_text()
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime)}
    done = subprocess.run(["systemd-analyze", "verify", "--user", *names], cwd=units, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    # The check is real: an ExecStart that names no executable fails it.
    broken = units / "henryvc-backup-weekly.service"
    broken.write_text(broken.read_text().replace(schedule.henryvc_command()[0], str(tmp_path / "no-henryvc")))
    done = subprocess.run(["systemd-analyze", "verify", "--user", broken.name], cwd=units, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode != 0
