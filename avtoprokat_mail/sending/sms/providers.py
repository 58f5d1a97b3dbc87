"""Choosing the gateway of the settings, and the «Проверить соединение» of the SMS tab.

Kept apart from gateway.py, which the providers' modules build on: this one imports them.
"""

from __future__ import annotations

from avtoprokat_mail.model import SMS_PROVIDER_NAMES, SmsProvider, SmsSettings
from avtoprokat_mail.sending.checks import CheckResult
from avtoprokat_mail.sending.sms.gateway import DEFAULT_TIMEOUT, GatewayFailure, SmsGateway
from avtoprokat_mail.sending.sms.smsc import SmscGateway
from avtoprokat_mail.sending.sms.smsru import SmsRuGateway


def gateway_for(
    settings: SmsSettings, secret: str, *, timeout: float = DEFAULT_TIMEOUT
) -> SmsGateway:
    """The gateway of ``settings.provider``, talking to ``sms_endpoint(settings)``."""
    classes: dict[SmsProvider, type[SmsGateway]] = {
        SmsProvider.SMSRU: SmsRuGateway,
        SmsProvider.SMSC: SmscGateway,
    }
    return classes[settings.provider](settings, secret, timeout=timeout)


def check_sms(
    settings: SmsSettings, secret: str | None, *, timeout: float = DEFAULT_TIMEOUT
) -> CheckResult:
    """ "Проверить соединение" of the SMS tab: ask the gateway for the balance."""
    name = SMS_PROVIDER_NAMES[settings.provider]
    if not secret:
        what = "пароль" if settings.provider is SmsProvider.SMSC and settings.login else "API-ключ"
        return CheckResult(
            False, f"{name}: {what} не задан. Укажите его в параметрах SMS и повторите проверку."
        )
    try:
        balance = gateway_for(settings, secret, timeout=timeout).balance()
    except GatewayFailure as failure:
        return CheckResult(False, failure.message)
    if balance.amount <= 0:
        return CheckResult(
            True,
            f"{name}: соединение установлено, но на счёте {balance} — SMS отправить не "
            f"получится: пополните счёт в личном кабинете {name}.",
        )
    return CheckResult(True, f"{name}: соединение установлено, на счёте {balance}")
