"""Which runs are being sent right now, by any process: an OS file lock per run.

The process that sends a run holds ``locks/run-N.lock`` locked. If it dies (killed, power
cut), the operating system drops the lock, so a RUNNING or PAUSED run whose lock can be taken
is INTERRUPTED: nobody is sending it and it can be resumed. No heartbeat to go stale, no PID
reuse to fool it.
"""

from __future__ import annotations

from pathlib import Path

from avtoprokat_mail.model import Run, RunStatus
from avtoprokat_mail.system.filelock import FileLock


def run_lock(data_folder: Path, run_id: int) -> FileLock:
    """The lock held by the one process sending run ``run_id``."""
    return FileLock(Path(data_folder) / "locks" / f"run-{run_id}.lock")


def is_being_sent(data_folder: Path, run_id: int) -> bool:
    """True while some process holds the run's lock."""
    return run_lock(data_folder, run_id).is_held_elsewhere()


def effective_status(run: Run, data_folder: Path) -> RunStatus:
    """The stored status, except that a RUNNING or PAUSED run nobody is sending is INTERRUPTED.

    A WAITING run stays WAITING whether or not a process waits with it: it goes on when the
    program opens it again, or by ``send --resume``, at its time."""
    if run.status in (RunStatus.RUNNING, RunStatus.PAUSED) and not is_being_sent(
        data_folder, run.id
    ):
        return RunStatus.INTERRUPTED
    return run.status
