"""The one exception base of henryvc; exit codes are mapped from it in henryvc.exits alone."""

from __future__ import annotations


class HenryvcError(Exception):
    """A failed operation (exit 1). The message says what to do next."""

    exit_code = 1


class BadInput(HenryvcError):
    """The user gave something henryvc must refuse (exit 2); nothing was written."""

    exit_code = 2


class NotAProject(HenryvcError):
    """The directory is not a henryvc project."""


class RunNotFound(BadInput):
    """No run folder or tag of that name."""


class RunExists(HenryvcError):
    """A run or tag of that name already exists; henryvc never overwrites."""


class NotReady(HenryvcError):
    """The run is not in a state the command can act on (dirty DVC status, training, ...)."""


class IntegrityError(HenryvcError):
    """Data on disk does not match the hashes recorded at the tag."""


class Busy(HenryvcError):
    """Another henryvc process holds the project lock."""


class EngineUnavailable(HenryvcError):
    """No container engine answers on the Docker API."""


class Reported(HenryvcError):
    """The command has printed its report (a failed check, a mismatch, a child's own output) and ends with
    EXIT_CODE (default 1). The message may be empty: henryvc.main then prints no error line."""

    def __init__(self, message: str = "", exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class SchedulerUnavailable(HenryvcError):
    """No SLURM reachable from here (clients missing or slurmctld not answering)."""
