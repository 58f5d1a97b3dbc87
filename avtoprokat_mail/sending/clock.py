"""Time for the engine, behind one small interface so tests can move it.

The daily limit of a mailbox is a matter of hours: tests cannot sleep through it. A run asks its
clock for the wall time (the journal's ``sent_at`` and a waiting run's ``resume_at`` are Unix
times) and waits on it; a test passes a clock that jumps instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Wall time, Unix seconds."""

    def monotonic(self) -> float:
        """Seconds for measuring spans (speed, pauses)."""

    def wait(self, event: threading.Event, seconds: float) -> bool:
        """Wait ``seconds`` or until ``event`` is set; True when it was set."""


class SystemClock:
    """The real time."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(max(seconds, 0.0))


SYSTEM_CLOCK = SystemClock()
