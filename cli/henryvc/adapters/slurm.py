"""The SLURM adapter: the only module that runs sbatch, squeue, sacct, scancel and sinfo.

It speaks in jobs and partitions. Nothing here knows about runs; `henryvc.ops.submit` writes the batch script.
Every client honours SLURM_CONF from the environment, as the SLURM tools do.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from henryvc.errors import BadInput, HenryvcError, SchedulerUnavailable

TIMEOUT_S = 60
INSTALL_HINT = ("install the SLURM client tools and point them at your cluster (Debian: apt-get install slurm-client "
                "munge, and /etc/slurm/slurm.conf or SLURM_CONF); `sinfo` must answer")
# sbatch --time: minutes, minutes:seconds, hours:minutes:seconds, days-hours, days-hours:minutes,
# days-hours:minutes:seconds (sbatch(1)), or UNLIMITED/INFINITE.
_TIME = re.compile(r"^(?:(?P<days>\d+)-(?P<dh>\d+)(?::(?P<dm>\d+)(?::(?P<ds>\d+))?)?|"
                   r"(?P<a>\d+)(?::(?P<b>\d+)(?::(?P<c>\d+))?)?)$")
FINISHED_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
                   "BOOT_FAIL", "DEADLINE"}


@dataclass(frozen=True)
class Job:
    """One job as the scheduler sees it now."""

    job_id: str
    name: str
    state: str
    nodes: str
    reason: str
    restarts: int | None = None
    exit_code: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"job_id": self.job_id, "name": self.name, "state": self.state, "nodes": self.nodes,
                "reason": self.reason, "restarts": self.restarts, "exit_code": self.exit_code}


def _client(name: str, *args: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    path = shutil.which(name)
    if path is None:
        raise SchedulerUnavailable(f"no `{name}` on PATH: {INSTALL_HINT}")
    try:
        return subprocess.run([path, *args], capture_output=True, text=True, timeout=TIMEOUT_S, input=input_text)
    except subprocess.TimeoutExpired:
        raise SchedulerUnavailable(f"`{name}` did not answer in {TIMEOUT_S} s: is slurmctld up? {INSTALL_HINT}")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def partitions() -> dict[str, str]:
    """Every partition the cluster has, with its time limit; SchedulerUnavailable when none answers."""
    done = _client("sinfo", "-h", "-o", "%R %l")
    if done.returncode != 0:
        raise SchedulerUnavailable(f"sinfo failed: {_last_line(done.stderr)}; {INSTALL_HINT}")
    found: dict[str, str] = {}
    for line in done.stdout.splitlines():
        if line.strip():
            name, _, limit = line.strip().partition(" ")
            found[name] = limit
    return found


def check_time(value: str) -> str:
    """VALUE as sbatch --time takes it; BadInput otherwise."""
    text = value.strip()
    if text.upper() in ("UNLIMITED", "INFINITE") or _TIME.match(text):
        return text
    raise BadInput(f"--time {value!r} is not a SLURM time: use MINUTES, HH:MM:SS or DAYS-HH[:MM[:SS]]")


def check_partition(name: str) -> None:
    """BadInput naming the cluster's partitions when NAME is not one of them."""
    known = partitions()
    if name not in known:
        raise BadInput(f"--partition {name!r} is not a partition of this cluster: {', '.join(sorted(known)) or 'none'}")


def test_only(script: str) -> None:
    """Let the scheduler check SCRIPT's request without queueing it (sbatch --test-only); BadInput with its
    reason when it refuses (a GPU count or time the partition cannot give)."""
    done = _client("sbatch", "--test-only", input_text=script)
    if done.returncode != 0:
        raise BadInput(f"SLURM refuses the job: {_last_line(done.stderr)}")


def submit(script: str) -> str:
    """Queue SCRIPT (sbatch, script on stdin); the job id."""
    done = _client("sbatch", "--parsable", input_text=script)
    if done.returncode != 0:
        raise HenryvcError(f"sbatch failed: {_last_line(done.stderr)}")
    return done.stdout.strip().split(";")[0]


def jobs(job_ids: list[str]) -> dict[str, Job]:
    """The queue's view of JOB_IDS (squeue), completed by sacct where accounting keeps finished jobs."""
    if not job_ids:
        return {}
    done = _client("squeue", "-h", "--states=all", "-j", ",".join(job_ids), "-o", "%i|%j|%T|%N|%r")
    found: dict[str, Job] = {}
    if done.returncode != 0 and "invalid job id" not in done.stderr.lower():
        # A job slurmctld has forgotten is "Invalid job id" (sacct still knows it); anything else means the
        # queue could not be read, which must not pass for "every job is gone".
        raise SchedulerUnavailable(f"squeue failed: {_last_line(done.stderr)}; {INSTALL_HINT}")
    if done.returncode == 0:
        for line in done.stdout.splitlines():
            parts = line.strip().split("|")
            if len(parts) == 5:
                found[parts[0]] = Job(parts[0], parts[1], parts[2], parts[3], parts[4])
    missing = [j for j in job_ids if j not in found]
    if missing and shutil.which("sacct"):
        acct = _client("sacct", "-n", "-X", "-P", "-j", ",".join(missing), "-o", "JobID,JobName,State,NodeList,ExitCode")
        if acct.returncode == 0:
            for line in acct.stdout.splitlines():
                parts = line.strip().split("|")
                if len(parts) == 5:
                    found.setdefault(parts[0], Job(parts[0], parts[1], parts[2].split()[0], parts[3], "",
                                                   exit_code=parts[4]))
    return found


def cancel(job_id: str) -> None:
    """scancel JOB_ID."""
    done = _client("scancel", job_id)
    if done.returncode != 0:
        raise HenryvcError(f"scancel {job_id} failed: {_last_line(done.stderr)}")
