"""The SMS transport of the mailing engine: one gateway call per message.

What the gateway says decides what the engine does: no money or a refused key stop the run;
a refused number fails that recipient and the run goes on; "too many requests" and gateway
trouble are retried later; an answer lost after the request went out leaves the recipient
uncertain — the SMS may be on its way — so it is never sent twice.
"""

from __future__ import annotations

from avtoprokat_mail.model import Delivery
from avtoprokat_mail.sending.sms.gateway import FailureKind, GatewayFailure, SmsGateway
from avtoprokat_mail.sending.transport import DeliveryError

_STOPS_THE_RUN = frozenset({FailureKind.AUTH, FailureKind.NO_FUNDS})
_TRY_LATER = frozenset({FailureKind.RATE_LIMITED, FailureKind.SERVER})


class SmsTransport:
    """Sends the personalised texts of a run through one gateway."""

    def __init__(self, gateway: SmsGateway) -> None:
        self.gateway = gateway

    def open(self) -> None:
        """Nothing to open: every message is one HTTPS request."""

    def send(self, delivery: Delivery, payload: object) -> str:
        try:
            sent = self.gateway.send(delivery.recipient, str(payload))
        except GatewayFailure as failure:
            raise _as_delivery_error(failure) from None
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
