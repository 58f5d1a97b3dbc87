"""Exit statuses of the command line, in one place (scripts and the Task Scheduler read them)."""

from __future__ import annotations

EXIT_OK = 0  # done; for ``send``: every message sent
EXIT_SOME_FAILED = 1  # ``send``: the run finished, some recipients failed or are uncertain
EXIT_ERROR = 2  # the command could not do its work (bad input, no connection, run stopped)
EXIT_WAITING = 3  # ``send``: the mailbox reached its daily limit; the run waits (send --resume)


class UsageError(Exception):
    """Bad input from the command line; the message is shown to the user (Russian)."""
