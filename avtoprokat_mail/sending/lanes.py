"""The connections of a run: each one a thread that only talks to the server.

A run sends through one connection or, with «Одновременных соединений» above 1, through several
at once. Each :class:`Lane` is one such connection, a thread with a transport of its own for
each mailbox it uses. A lane does nothing but hand its :class:`Job` to the transport and give
back what the server answered: choosing what to send, the limits, the journal and every
decision stay on the run's own thread (sending/campaign.py), so they hold exactly as with one
connection, and SQLite is only ever written from that thread.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from avtoprokat_mail.model import Delivery
from avtoprokat_mail.sending.transport import DeliveryError, Transport

if TYPE_CHECKING:
    from avtoprokat_mail.sending.campaign import Mailbox

logger = logging.getLogger(__name__)

# One message's outcome: the server's reply, or why it was not accepted.
Outcome = str | DeliveryError


@dataclass(eq=False)
class Job:
    """Messages handed to one connection at once: an email, or a batch of SMS (one request).

    ``outcomes`` is filled by the lane: one per message, in order. A failure of the whole
    handover (the connection, the login, a lost answer) is the same error for each message;
    ``defect`` holds an unexpected exception, which the run re-raises.
    """

    mailbox: Mailbox
    items: Sequence[tuple[Delivery, object]]
    attempts: Sequence[int]
    lane: Lane
    outcomes: list[Outcome] = field(default_factory=list)
    defect: BaseException | None = None


def opens_more(transport: Transport) -> bool:
    """Whether ``transport`` can open another connection like itself (``another()``): an SMTP
    server can be sent to over several; a folder or an SMS gateway is used over one."""
    return callable(getattr(transport, "another", None))


def batch_size(transport: Transport) -> int:
    """How many messages ``transport`` takes in one handover (``send_batch``); 1 without it."""
    return max(1, int(getattr(transport, "batch_size", 1)))


class Lane:
    """One connection of the run: a thread sending the jobs it is given, one at a time (or,
    ``inline``, the run's own thread: a run with one connection gains nothing from another).

    Lane 0 uses each mailbox's own transport; any other lane opens its own (the transport's
    ``another()``) at its first message through that mailbox.
    """

    def __init__(
        self, index: int, finished: queue.SimpleQueue[Job], *, inline: bool = False
    ) -> None:
        self.index = index
        self.inline = inline  # send on the caller's thread (a run with one connection)
        self.job: Job | None = None  # the job being sent; None while the lane is free
        self.accepted = 0  # messages the server accepted through this lane
        self.retired = ""  # why this extra connection is no longer used ("" while it is)
        self._finished = finished
        self._transports: dict[int, Transport] = {}
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        if not inline:
            thread = threading.Thread(
                target=self._work, name=f"avtoprokat-connection-{index + 1}", daemon=True
            )
            thread.start()

    @property
    def free(self) -> bool:
        return self.job is None and not self.retired

    def transport(self, mailbox: Mailbox) -> Transport:
        """This lane's connection through ``mailbox`` (made, not yet opened, on first use)."""
        if self.index == 0:
            return mailbox.transport
        found = self._transports.get(id(mailbox))
        if found is None:
            another: Callable[[], Transport] = mailbox.transport.another  # type: ignore[attr-defined]
            found = self._transports[id(mailbox)] = another()
        return found

    def start(self, job: Job) -> None:
        """Send ``job`` on this lane's thread; it comes back through the run's queue."""
        self.job = job
        if self.inline:
            self._run(job)
        else:
            self._jobs.put(job)

    def close(self) -> None:
        """Close this lane's own connections (the lane must be free)."""
        for transport in self._transports.values():
            transport.close()

    def stop(self) -> None:
        """End the thread once its current job (if any) is back."""
        if not self.inline:
            self._jobs.put(None)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            self._run(job)

    def _run(self, job: Job) -> None:
        try:
            job.outcomes = self._send(job)
        except Exception as error:  # a defect: the run's thread re-raises it
            job.defect = error
        self._finished.put(job)

    def _send(self, job: Job) -> list[Outcome]:
        transport = self.transport(job.mailbox)
        try:
            if len(job.items) == 1 and batch_size(transport) == 1:
                return [transport.send(*job.items[0])]
            return list(_send_batch(transport, job.items))
        except DeliveryError as error:  # the whole handover failed: the same for each message
            return [error] * len(job.items)


def _send_batch(transport: Transport, items: Sequence[tuple[Delivery, object]]) -> list[Outcome]:
    send_batch: Callable[[Sequence[tuple[Delivery, object]]], list[Outcome]] = transport.send_batch  # type: ignore[attr-defined]
    outcomes = send_batch(items)
    if len(outcomes) != len(items):
        raise RuntimeError(f"send_batch answered {len(outcomes)} outcomes for {len(items)}")
    return outcomes
