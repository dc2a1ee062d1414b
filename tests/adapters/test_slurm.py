"""henryvc.adapters.slurm without a cluster: --time and Job's data, and the real SLURM clients failing (no tool on
PATH, a configuration they cannot read) as one clear error each. Against a running cluster (partitions, sbatch,
squeue/sacct, scancel): tests/tiers/slurm/test_slurm.py (`-m slurm`)."""

from __future__ import annotations

import shutil

import pytest

from henryvc.adapters import slurm
from henryvc.errors import BadInput, HenryvcError, SchedulerUnavailable


@pytest.mark.parametrize("value", ["90", "30:00", "2:00:00", "1-0", "1-12", "1-12:30", "2-00:00:00", "UNLIMITED",
                                   "infinite", " 45 "])
def test_every_form_sbatch_takes_for_time_is_accepted(value):
    assert slurm.check_time(value) == value.strip()


@pytest.mark.parametrize("value", ["", "1h", "1:2:3:4", "-5", "1-", "1--2", "2.5", "10:00pm", "1-2:3:4:5"])
def test_anything_else_is_bad_input_naming_the_forms(value):
    with pytest.raises(BadInput, match=r"is not a SLURM time: use MINUTES, HH:MM:SS or DAYS-HH\[:MM\[:SS\]\]"):
        slurm.check_time(value)


def test_a_job_is_plain_data_for_json():
    job = slurm.Job("12", "henry_run", "COMPLETED", "n1", "None", restarts=1, exit_code="0:0")
    assert job.to_dict() == {"job_id": "12", "name": "henry_run", "state": "COMPLETED", "nodes": "n1",
                             "reason": "None", "restarts": 1, "exit_code": "0:0"}
    assert "COMPLETED" in slurm.FINISHED_STATES and "RUNNING" not in slurm.FINISHED_STATES


def test_no_client_on_path_is_scheduler_unavailable_with_the_install_hint(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no sinfo, sbatch, squeue or scancel
    with pytest.raises(SchedulerUnavailable, match="no `sinfo` on PATH: install the SLURM client tools"):
        slurm.partitions()
    with pytest.raises(SchedulerUnavailable, match="no `sbatch` on PATH"):
        slurm.submit("#!/bin/sh\ntrue\n")
    with pytest.raises(SchedulerUnavailable, match="no `scancel` on PATH"):
        slurm.cancel("1")
    assert slurm.jobs([]) == {}  # nothing asked: no client needed


needs_clients = pytest.mark.skipif(not shutil.which("sinfo") or not shutil.which("sbatch"),
                                   reason="the SLURM client tools are not installed")


@pytest.fixture
def unreadable_conf(monkeypatch, tmp_path):
    """SLURM_CONF naming an empty file: the real clients refuse it at once (no cluster is contacted)."""
    conf = tmp_path / "slurm.conf"
    conf.write_text("")
    monkeypatch.setenv("SLURM_CONF", str(conf))
    return conf


@needs_clients
def test_a_scheduler_whose_clients_fail_is_unavailable_with_sinfos_last_line(unreadable_conf):
    with pytest.raises(SchedulerUnavailable, match="sinfo failed: sinfo: fatal: Unable to process configuration file"):
        slurm.partitions()
    with pytest.raises(SchedulerUnavailable, match="sinfo failed"):
        slurm.check_partition("debug")  # asking for a partition needs the list


@needs_clients
def test_a_failed_sbatch_and_scancel_are_one_error_each_with_the_clients_reason(unreadable_conf):
    with pytest.raises(HenryvcError, match="sbatch failed: sbatch: fatal: Unable to process configuration file"):
        slurm.submit("#!/bin/sh\ntrue\n")
    with pytest.raises(HenryvcError, match="scancel 7 failed: scancel: fatal"):
        slurm.cancel("7")


@needs_clients
def test_a_queue_that_cannot_be_read_is_an_error_not_an_empty_queue(unreadable_conf):
    with pytest.raises(HenryvcError, match="squeue"):
        slurm.jobs(["123"])
