"""henryvc.ops.jobstep without SLURM: one attempt of a submitted run on a real project trains a created run and tags
it, leaves a tagged run alone, and records every attempt (exit code, status) in run.json; TERM reaches only the
stage processes. Submitting through a real cluster, requeue and cancel: tests/tiers/slurm/test_slurm.py."""

from __future__ import annotations

import signal
import subprocess
import sys

from henryvc import api
from henryvc.core import record as records
from henryvc.ops import jobstep
from tests.helpers.project import gen, sh

SLEEP = "import time; print('up', flush=True); time.sleep(600)"


def _info(job: str, restart: int = 0) -> dict:
    return {"job_id": job, "restart_count": restart, "nodes": "n1", "node": "n1", "start": "2020-01-01T00:00:00+00:00"}


def _tags(project) -> list[str]:
    return sh(project.root, "git", "tag", "--list").stdout.split()


def test_an_attempt_trains_a_created_run_tags_it_and_a_second_one_trains_nothing(project, capsys):
    name = api.new_run(project, 2, "debug").name
    assert jobstep.attempt(project, name, project, _info("41")) == 0
    assert name in _tags(project)
    rec = records.load(project.run_dir(name))
    [first] = rec.extra["slurm"]["attempts"]
    assert (first["job_id"], first["exit_code"], first["status"], first["signal"]) == ("41", 0, "success", None)
    assert "end" in first and f"tagged {name}" in capsys.readouterr().out
    tagged_at = sh(project.root, "git", "rev-parse", f"{name}^{{commit}}").stdout
    assert jobstep.attempt(project, name, project, _info("41", restart=1)) == 0  # a requeue of a finished run
    assert "trains nothing" in capsys.readouterr().out
    assert sh(project.root, "git", "rev-parse", f"{name}^{{commit}}").stdout == tagged_at
    assert len(records.load(project.run_dir(name)).extra["slurm"]["attempts"]) == 1


def test_a_failing_pipeline_is_recorded_in_the_attempt_and_nothing_is_tagged(project, capsys):
    name = api.new_run(project, 2, "debug").name
    gen(project, {"fake_train.py": "import sys\nsys.exit('the stage broke')\n"})
    code = jobstep.attempt(project, name, project, _info("42"))
    assert code == 1 and "failed before training" in capsys.readouterr().err
    [attempt] = records.load(project.run_dir(name)).extra["slurm"]["attempts"]
    assert (attempt["job_id"], attempt["exit_code"], attempt["status"]) == ("42", 1, "failed")
    assert name not in _tags(project)


def test_term_is_passed_on_to_stage_processes_only(tmp_path):
    stage = subprocess.Popen([sys.executable, "-c", SLEEP, "henryvc_training.train"], stdout=subprocess.PIPE, text=True)
    other = subprocess.Popen([sys.executable, "-c", SLEEP, "something_else"], stdout=subprocess.PIPE, text=True)
    try:
        assert stage.stdout.readline() == "up\n" and other.stdout.readline() == "up\n"
        forwarder = jobstep.TermForwarder()
        forwarder.handle(signal.SIGTERM, None)
        assert forwarder.received == signal.SIGTERM and forwarder.reached == [stage.pid]
        assert stage.wait(timeout=30) == -signal.SIGTERM
        assert other.poll() is None  # not a stage: left running
    finally:
        for child in (stage, other):
            child.kill()
            child.wait()
