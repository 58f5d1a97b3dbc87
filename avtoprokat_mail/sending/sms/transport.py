"""The SMS transport of the mailing engine: one gateway request per message, or per batch.

With :meth:`SmsTransport.send_batch` the engine hands over up to ``batch_size`` messages at a
time and the gateway carries them in one request (:meth:`SmsGateway.send_many`), answering
for each number; a failure of the request itself is the whole batch's.

What the gateway says decides what the engine does: no money or a refused key stop the run;
a refused number fails that recipient and the run goes on; "too many requests" and gateway
trouble are retried later; an answer lost after the request went out leaves the recipient
uncertain — the SMS may be on its way — so it is never sent twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from avtoprokat_mail.model import Delivery
from avtoprokat_mail.sending.sms.gateway import (
    SEND_BATCH,
    FailureKind,
    GatewayFailure,
    Sent,
    SmsGateway,
)
from avtoprokat_mail.sending.transport import DeliveryError

_T = TypeVar("_T")
_STOPS_THE_RUN = frozenset({FailureKind.AUTH, FailureKind.NO_FUNDS})
_TRY_LATER = frozenset({FailureKind.RATE_LIMITED, FailureKind.SERVER})


class SmsTransport:
    """Sends the personalised texts of a run through one gateway.

    "Too many requests" slows the transport down: from then on it keeps a pause between
    requests, doubled at each new refusal (up to ``max_pause``) and halved after each success,
    so the run settles at a pace the gateway accepts instead of hitting the limit again. The
    engine waits the pause (:meth:`ready_in`), so a cancel does not wait for it. A batch is
    one request: the pause is kept between batches.
    """

    batch_size = SEND_BATCH  # messages the engine may hand to send_batch at once

    def __init__(
        self, gateway: SmsGateway, *, first_pause: float = 1.0, max_pause: float = 8.0
    ) -> None:
        self.gateway = gateway
        self.first_pause, self.max_pause = first_pause, max_pause
        self.pause = 0.0  # seconds kept between two requests; 0 until the gateway complains
        self._last_request = 0.0

    def open(self) -> None:
        """Nothing to open: every message is one HTTPS request."""

    def ready_in(self) -> float:
        """The rest of the pause kept between two requests (0 at full speed)."""
        if not self.pause:
            return 0.0
        return max(0.0, self._last_request + self.pause - time.monotonic())

    def send(self, delivery: Delivery, payload: object) -> str:
        sent = self._request(lambda: self.gateway.send(delivery.recipient, str(payload)))
        return self._reply(sent)

    def send_batch(self, items: Sequence[tuple[Delivery, object]]) -> list[str | DeliveryError]:
        """Hand over up to ``batch_size`` messages (each to a different number) in one request.

        Result i is item i's: the gateway's reply as :meth:`send` gives it, or the
        DeliveryError of that item alone (a refused number). A failure of the request itself
        (the key, the money, the network, an answer lost after the request went out) raises
        the DeliveryError of the whole batch, as :meth:`send` raises it for one message.
        """
        messages = [(delivery.recipient, str(payload)) for delivery, payload in items]
        results = self._request(lambda: self.gateway.send_many(messages))
        return [
            self._reply(result) if isinstance(result, Sent) else _as_delivery_error(result)
            for result in results
        ]

    def _request(self, call: Callable[[], _T]) -> _T:
        """One gateway request, keeping the pause: longer after "too many", shorter after not."""
        self._last_request = time.monotonic()
        try:
            answer = call()
        except GatewayFailure as failure:
            if failure.kind is FailureKind.RATE_LIMITED:
                self.pause = min(max(self.pause * 2, self.first_pause), self.max_pause)
            raise _as_delivery_error(failure) from None
        self.pause = self.pause / 2 if self.pause >= self.first_pause / 4 else 0.0
        return answer

    def _reply(self, sent: Sent) -> str:
        parts = f", частей: {sent.segments}" if sent.segments else ""
        return f"принято шлюзом {self.gateway.name}, № {sent.message_id}{parts}"

    def close(self) -> None:
        """Nothing to close."""


def _as_delivery_error(failure: GatewayFailure) -> DeliveryError:
    if failure.uncertain:  # the request reached the gateway, its answer did not
        return DeliveryError(
            f"Запрос ушёл на шлюз, но ответа нет: SMS могла быть отправлена. {failure.message}",
            uncertain=True,
            connection=True,
        )
    if failure.kind in _STOPS_THE_RUN:
        return DeliveryError(failure.message, fatal=True)
    if failure.kind in _TRY_LATER:
        return DeliveryError(failure.message, temporary=True)
    if failure.kind is FailureKind.NETWORK:  # nothing left this computer: try again later
        return DeliveryError(failure.message, temporary=True, connection=True)
    return DeliveryError(failure.message)  # a refused number or request: this recipient only
