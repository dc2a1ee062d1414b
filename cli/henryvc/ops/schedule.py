"""`henryvc schedule`: the weekly best-model and monthly full backups as crontab lines or systemd user units
(text to install by hand; henryvc installs nothing)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from henryvc.errors import BadInput

if TYPE_CHECKING:
    from henryvc.core.project import Project


@dataclass
class Schedule:
    """Text to install by hand: crontab lines or systemd user units."""

    kind: str
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# (name, what, henryvc arguments, crontab time, systemd OnCalendar)
JOBS = (
    ("weekly", "best-model backup", ["backup", "--best-only"], "0 3 * * 0", "Sun *-*-* 03:00:00"),
    ("monthly", "full backup, then a check that the remote holds every tag's objects", ["backup"],
     "0 4 1 * *", "*-*-01 04:00:00"),
    # Bit rot keeps sizes and mtimes: only reading every byte back finds it (then `backup --repair` mends it).
    ("scrub", "every object of every tag read back from the remote and re-hashed",
     ["backup", "--verify", "--deep"], "0 5 15 * *", "*-*-15 05:00:00"),
)


def henryvc_command() -> list[str]:
    """How a scheduler should start this henryvc: the console script beside this Python, else python -m."""
    script = Path(sys.executable).parent / "henryvc"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("henryvc")
    return [found] if found else [sys.executable, "-m", "henryvc.main"]


def schedule(project: Project, kind: str = "cron") -> Schedule:
    """`henryvc schedule`: the seed's weekly best-model and monthly full backups, as text to install."""
    if kind not in ("cron", "systemd"):
        raise BadInput(f"schedule kind must be cron or systemd, got {kind!r}")
    return Schedule(kind, _cron(project) if kind == "cron" else _systemd(project))


def _cron(project: Project) -> str:
    exe = " ".join(shlex.quote(p) for p in henryvc_command())
    root, log = shlex.quote(str(project.root)), shlex.quote(str(project.state / "backup.log"))
    lines = [f"# henryvc backups of {project.root}: add them with `crontab -e` (henryvc installs nothing)"]
    for when, what, args, cron, _ in JOBS:
        command = f"cd {root} && {exe} {' '.join(args)} >> {log} 2>&1"
        if when == "monthly":
            command += f" && {exe} backup --verify >> {log} 2>&1"
        lines += [f"# {when}: {what}", f"{cron} {command.replace('%', chr(92) + '%')}"]  # % ends a cron command
    return "\n".join(lines) + "\n"


def _systemd(project: Project) -> str:
    exe = " ".join(_systemd_quote(p) for p in henryvc_command())
    units = [f"# henryvc backups of {project.root}: save each unit below under ~/.config/systemd/user/, then\n"
             "#   systemctl --user daemon-reload\n#   systemctl --user enable --now "
             + " ".join(f"henryvc-backup-{when}.timer" for when, *_ in JOBS)]
    for when, what, args, _, calendar in JOBS:
        starts = [f"ExecStart={exe} {' '.join(args)}"] + ([f"ExecStart={exe} backup --verify"] if when == "monthly" else [])
        units.append(f"# henryvc-backup-{when}.service\n[Unit]\nDescription=henryvc {when} {what}\n\n[Service]\n"
                     f"Type=oneshot\nWorkingDirectory={project.root}\n" + "\n".join(starts) + "\n")
        units.append(f"# henryvc-backup-{when}.timer\n[Unit]\nDescription=henryvc {when} backup\n\n[Timer]\n"
                     f"OnCalendar={calendar}\nPersistent=true\n\n[Install]\nWantedBy=timers.target\n")
    return "\n".join(units)


def _systemd_quote(word: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_./:=+-]+", word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
