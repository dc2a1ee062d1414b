"""A real SLURM cluster for the `slurm` tier: munged, slurmctld and two slurmd (nodes n1, n2) on loopback.

Debian's slurm-wlm 22.05 runs without systemd: munged as the munge user, then slurmctld and one slurmd per
node (`slurmd -N n1`), each node with its own port and NodeAddr=127.0.0.1. Everything the cluster writes
(state, spool, logs, pids) lives in one scratch folder; clients find it through SLURM_CONF. Where the
daemons cannot start (no packages, not root) the tier skips saying why, except under CI=true, where it fails.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

NODES = ("n1", "n2")
CPUS_PER_NODE = 2


@dataclass
class Cluster:
    """A running test cluster: its slurm.conf, scratch folder and the environment its clients need."""

    conf: Path
    scratch: Path
    partition: str = "debug"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A SLURM client command against this cluster."""
        done = subprocess.run(list(args), env=self.env, capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}")
        return done

    def job_state(self, job_id: str) -> str:
        """squeue's state of JOB_ID, or the final state from scontrol once it has left the queue."""
        shown = self.run("scontrol", "show", "job", job_id, check=False).stdout
        for field in shown.split():
            if field.startswith("JobState="):
                return field.split("=", 1)[1]
        return "UNKNOWN"

    def wait_state(self, job_id: str, states: set[str], timeout: float = 900) -> str:
        """Wait until JOB_ID is in one of STATES; its state."""
        deadline = time.monotonic() + timeout
        state = "UNKNOWN"
        while time.monotonic() < deadline:
            state = self.job_state(job_id)
            if state in states:
                return state
            time.sleep(1)
        raise AssertionError(f"job {job_id} still {state} after {timeout} s (waited for {sorted(states)}); "
                             f"slurmctld log: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        log = self.scratch / "slurmctld.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _conf(scratch: Path, host: str) -> str:
    nodes = "\n".join(f"NodeName={n} NodeHostname={host} NodeAddr=127.0.0.1 Port={_free_port()} "
                      f"CPUs={CPUS_PER_NODE} RealMemory=4000 State=UNKNOWN" for n in NODES)
    return f"""ClusterName=henryvc-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
StateSaveLocation={scratch}/state
SlurmdSpoolDir={scratch}/spool-%n
SlurmctldPidFile={scratch}/slurmctld.pid
SlurmdPidFile={scratch}/slurmd-%n.pid
SlurmctldLogFile={scratch}/slurmctld.log
SlurmdLogFile={scratch}/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SlurmctldTimeout=30
SlurmdTimeout=30
KillWait=30
{nodes}
PartitionName=debug Nodes={",".join(NODES)} Default=YES MaxTime=INFINITE State=UP
"""


def _munged() -> None:
    """Start munged as the munge user unless one answers already."""
    if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
        return
    run_dir = Path("/run/munge")
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.chown(run_dir, "munge", "munge")
    subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True, capture_output=True)
    for _ in range(50):
        if subprocess.run(["munge", "-n"], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError("munged started but `munge -n` fails")


def start(scratch: Path) -> Cluster:
    """Start the cluster in SCRATCH; RuntimeError saying what is missing when it cannot."""
    missing = [c for c in ("munged", "slurmctld", "slurmd", "sbatch") if shutil.which(c) is None
               and not Path(f"/usr/sbin/{c}").exists()]
    if missing:
        raise RuntimeError(f"SLURM is not installed ({', '.join(missing)} missing): apt-get install slurm-wlm munge "
                           "(scripts/install_system_deps.sh)")
    if os.geteuid() != 0:
        raise RuntimeError("the test cluster's daemons run as root (slurmd spawns jobs as their user)")
    _munged()
    (scratch / "state").mkdir(parents=True, exist_ok=True)
    conf = scratch / "slurm.conf"
    conf.write_text(_conf(scratch, socket.gethostname()))
    cluster = Cluster(conf, scratch)
    env = cluster.env
    subprocess.run(["/usr/sbin/slurmctld", "-i", "-c"], env=env, check=True, capture_output=True)  # -c: fresh state
    for node in NODES:
        (scratch / f"spool-{node}").mkdir(exist_ok=True)
        subprocess.run(["/usr/sbin/slurmd", "-N", node], env=env, check=True, capture_output=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        shown = cluster.run("sinfo", "-h", "-N", "-o", "%N %t", check=False).stdout.split("\n")
        idle = [line for line in shown if line.strip().endswith("idle")]
        if len(idle) == len(NODES):
            return cluster
        time.sleep(0.5)
    stop(cluster)
    raise RuntimeError(f"the SLURM nodes did not come up: {shown}; {cluster.log_tail()}")


def stop(cluster: Cluster) -> None:
    """Stop slurmctld and the slurmd (munged stays: it is the machine's)."""
    for pidfile in sorted(cluster.scratch.glob("*.pid")):
        try:
            os.kill(int(pidfile.read_text().strip()), 15)
        except (ValueError, ProcessLookupError):
            pass
    time.sleep(1)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The real two-node cluster; skipped with the reason (failed under CI=true) where it cannot start."""
    scratch = tmp_path_factory.mktemp("slurm")
    try:
        cluster = start(scratch)
    except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the slurm tier must run under CI: {exc}")
        pytest.skip(f"no SLURM cluster here: {exc}")
    try:
        yield cluster
    finally:
        stop(cluster)
