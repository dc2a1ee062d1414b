"""A SIGKILLed trainer is not `training` one moment longer (issue 15, item 10).

A child that inherited the train stage's lock descriptor keeps the OS lock held after the trainer is
SIGKILLed, so `list` showed a dead run as `training` for as long as that child lived. The trainer
writes its pid and start time into the lock; every probe (records.is_training,
used by list, show, status, resume, tag-run, archive, cleanup, reset) reads it, and the next trainer
replaces such a stale lock instead of refusing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from henryvc import api
from henryvc.core import record as records
from tests.helpers.cli import run_cli

TRAINER = """\
import os, subprocess, sys, time
from henryvc.core import record
held = record.training(sys.argv[1])
held.__enter__()
# A helper the trainer started that inherited the lock's descriptor (filelock closes it in children made by
# Python's os.fork, not in a process started with the descriptor passed, or forked below Python).
fd = os.open(os.path.join(sys.argv[1], record.LOCK_FILE), os.O_RDONLY)
lock_fd = [int(n) for n in os.listdir("/proc/self/fd") if os.path.realpath(f"/proc/self/fd/{n}")
           == os.path.realpath(os.path.join(sys.argv[1], record.LOCK_FILE)) and int(n) != fd][0]
child = subprocess.Popen(["sleep", "60"], pass_fds=(lock_fd,))
print(child.pid, flush=True)
time.sleep(60)
"""


def _status(project, name: str) -> str:
    done = run_cli(project.root, "list", "--json", process=True)
    assert done.returncode == 0, done.stderr
    return {r["name"]: r for r in json.loads(done.stdout)["runs"]}[name]["status"]


def test_killed_trainer_whose_children_hold_the_lock_is_stale_at_once(project):
    name = api.new_run(project, 2, "debug").name
    run_dir = project.run_dir(name)
    records.update(run_dir, status="training")
    trainer = subprocess.Popen([sys.executable, "-c", TRAINER, str(run_dir)], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        child = int(trainer.stdout.readline())
        assert records.is_training(run_dir) and _status(project, name) == "training"
        os.kill(trainer.pid, signal.SIGKILL)  # the trainer only: its helper lives on, lock held
        trainer.wait()
        assert os.path.exists(f"/proc/{child}")  # the orphaned helper still runs
        assert records._lock_held(run_dir)  # the OS lock is still held, by the orphan
        assert not records.is_training(run_dir)
        assert _status(project, name) == "incomplete"
        with records.training(run_dir):  # resume's trainer takes over the stale lock at once
            assert records.is_training(run_dir)
    finally:
        os.killpg(trainer.pid, signal.SIGKILL)


def test_a_live_trainer_is_still_refused(project):
    name = api.new_run(project, 2, "debug").name
    run_dir = project.run_dir(name)
    trainer = subprocess.Popen([sys.executable, "-c", TRAINER, str(run_dir)], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        trainer.stdout.readline()
        from henryvc.errors import NotReady

        with pytest.raises(NotReady, match="being trained by another process"), records.training(run_dir):
            pass
    finally:
        os.killpg(trainer.pid, signal.SIGKILL)
