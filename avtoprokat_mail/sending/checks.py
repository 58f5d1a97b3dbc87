"""The answer of a connection check ("Проверить соединение", ``settings test``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    """``ok`` says whether the check passed; ``message`` tells the user what happened, in Russian.

    The message never contains a password or an API key.
    """

    ok: bool
    message: str
