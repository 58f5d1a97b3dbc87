"""Which runs are being sent right now, by any process: an OS file lock per run.

The process that sends a run holds ``locks/run-N.lock`` locked. If it dies (killed, power
cut), the operating system drops the lock, so a RUNNING or PAUSED run whose lock can be taken
is INTERRUPTED: nobody is sending it and it can be resumed. No heartbeat to go stale, no PID
reuse to fool it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from avtoprokat_mail.model import Run, RunStatus

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl


class RunLock:
    """Held by the one sender of a run; ``acquire`` fails while another holds it."""

    def __init__(self, data_folder: Path, run_id: int) -> None:
        self.path = Path(data_folder) / "locks" / f"run-{run_id}.lock"
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock without waiting; False when the run is being sent elsewhere."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if sys.platform == "win32":
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            if sys.platform == "win32":
                os.lseek(self._fd, 0, os.SEEK_SET)
                msvcrt.locking(self._fd, msvcrt.LK_UNLCK, 1)
            else:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None


def is_being_sent(data_folder: Path, run_id: int) -> bool:
    """True while some process holds the run's lock."""
    probe = RunLock(data_folder, run_id)
    if probe.acquire():
        probe.release()
        return False
    return True


def effective_status(run: Run, data_folder: Path) -> RunStatus:
    """The stored status, except that a RUNNING or PAUSED run nobody is sending is INTERRUPTED."""
    if run.status in (RunStatus.RUNNING, RunStatus.PAUSED) and not is_being_sent(
        data_folder, run.id
    ):
        return RunStatus.INTERRUPTED
    return run.status
