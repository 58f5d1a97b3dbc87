"""The outbox transport: every message of a run as an .eml file in a folder.

"Тестовая рассылка в папку" and ``send --outbox``: try the program, and see exactly what each
client would get, with no mail server. A file is written under a temporary name and renamed, so
a crash never leaves half a message; the name comes from the journal position, so a resumed run
rewrites a message rather than adding a copy.
"""

from __future__ import annotations

import os
import re
from email.message import EmailMessage
from pathlib import Path

from avtoprokat_mail.model import Delivery
from avtoprokat_mail.sending.transport import DeliveryError

_UNSAFE = re.compile(r"[^\w@.+-]+")


class OutboxTransport:
    """Writes ``NNNNNN_recipient.eml`` (or ``.txt`` for SMS) files into ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def open(self) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DeliveryError(
                f"Не удаётся создать папку {self.folder}: {error.strerror}", fatal=True
            ) from None

    def send(self, delivery: Delivery, payload: object) -> str:
        if isinstance(payload, bytes):
            data, suffix = payload, ".eml"
        elif isinstance(payload, EmailMessage):
            data, suffix = payload.as_bytes(), ".eml"
        else:
            data, suffix = str(payload).encode("utf-8"), ".txt"
        name = f"{delivery.position:06d}_{_UNSAFE.sub('_', delivery.recipient)}{suffix}"
        target = self.folder / name
        partial = target.with_suffix(suffix + ".part")
        try:
            partial.write_bytes(data)
            os.replace(partial, target)
        except OSError as error:
            raise DeliveryError(
                f"Не удаётся записать {target}: {error.strerror}", fatal=True
            ) from None
        return f"записано в файл {name}"

    def ready_in(self) -> float:
        """Files can be written at once."""
        return 0.0

    def close(self) -> None:
        """Nothing to let go of: each file is complete when ``send`` returns."""
