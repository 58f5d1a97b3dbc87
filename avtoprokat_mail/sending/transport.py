"""The narrow interface between the mailing engine and whatever carries the messages.

Like listmonk's messengers: the engine opens a transport once per run, hands it one message at
a time and closes it. A transport answers with the server's reply or a :class:`DeliveryError`
saying whether trying again later can help (temporary), or whether the whole run must stop
(fatal: wrong password, no way to connect).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from avtoprokat_mail.model import Delivery


class DeliveryError(Exception):
    """A message was not accepted; ``reply`` is journaled and shown (Russian, or the server's)."""

    def __init__(
        self,
        reply: str,
        *,
        temporary: bool = False,
        fatal: bool = False,
        connection: bool = False,
        uncertain: bool = False,
        quota: bool = False,
        mailbox: bool = False,
    ) -> None:
        super().__init__(reply)
        self.reply = reply
        self.temporary = temporary
        self.fatal = fatal
        self.connection = connection  # the connection failed, not this message
        self.uncertain = uncertain  # the whole message reached the server, its answer did not
        self.quota = quota  # the sender's mailbox is over its provider's sending quota
        self.mailbox = mailbox  # this mailbox cannot be used (login, sender refused): others can


class Transport(Protocol):
    """Carries the messages of one run."""

    def open(self) -> None:
        """Get ready (connect, log in); DeliveryError(fatal=True) when the run cannot start."""

    def ready_in(self) -> float:
        """Seconds to wait before the next :meth:`send` (a gateway that asked to slow down);
        the engine waits them itself, so that «Отмена» ends the wait at once."""

    def send(self, delivery: Delivery, payload: object) -> str:
        """Hand over one message (an EmailMessage, or an SMS text); returns the server's reply."""

    def close(self) -> None:
        """Let go of the connection; safe to call twice, and after a failure."""

    # Optional: ``another() -> Transport`` opens one more connection like this one, so that a
    # run may send over several at once (SmtpTransport); a transport without it is used alone.


class BatchTransport(Transport, Protocol):
    """A transport that takes several messages in one handover (an SMS gateway's batch request).

    The engine hands it up to ``batch_size`` messages at once, each already claimed in the
    journal, and journals each outcome on its own.
    """

    batch_size: int

    def send_batch(self, items: Sequence[tuple[Delivery, object]]) -> list[str | DeliveryError]:
        """Hand over ``items`` together: per message, in order, the reply or why that one was
        refused. A failure of the whole handover raises DeliveryError, as :meth:`send` does
        (``uncertain`` when the request went out and its answer did not come back)."""
