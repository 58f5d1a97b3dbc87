"""One copy of the program at a time on a data folder.

The first copy holds ``locks/app.lock``. A second start finds it held, leaves a "raise"
request file and exits; the first copy looks for the request every second and brings its
window forward, so a user who double-clicks the .exe again sees the window they already have.
"""

from __future__ import annotations

from pathlib import Path

from avtoprokat_mail.system.filelock import FileLock

RAISE_REQUEST = "app.raise"


class SingleInstance:
    """Held for the life of the GUI; :meth:`take` is False when another copy has it."""

    def __init__(self, folder: Path) -> None:
        self.locks = Path(folder) / "locks"
        self.lock = FileLock(self.locks / "app.lock")

    def take(self) -> bool:
        return self.lock.acquire()

    def release(self) -> None:
        self.lock.release()

    def ask_first_to_show(self) -> None:
        """Leave the request the running copy picks up (called by a second start)."""
        self.locks.mkdir(parents=True, exist_ok=True)
        (self.locks / RAISE_REQUEST).touch()

    def raise_requested(self) -> bool:
        """True once per request from a second start (the request is consumed)."""
        request = self.locks / RAISE_REQUEST
        if request.exists():
            request.unlink(missing_ok=True)
            return True
        return False
