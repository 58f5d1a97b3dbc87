"""How a run gets its transport, sender and speed limit from the settings (GUI and CLI alike)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from avtoprokat_mail.credentials import (
    SMS_PASSWORD_ENV,
    SMTP_PASSWORD_ENV,
    PasswordStore,
    resolve_password,
    sms_account,
    smtp_account,
)
from avtoprokat_mail.model import SMS_PROVIDER_NAMES, Channel, Route
from avtoprokat_mail.sending.message import Sender, configured_sender
from avtoprokat_mail.sending.outbox import OutboxTransport
from avtoprokat_mail.sending.transport import Transport
from avtoprokat_mail.storage.settings import list_mailboxes, load_email_settings, load_sms_settings
from avtoprokat_mail.validation import email_settings_problems, sms_settings_problems

if TYPE_CHECKING:
    from avtoprokat_mail.sending.campaign import Mailbox
    from avtoprokat_mail.sending.sms.gateway import SmsGateway


def secret_needed(conn: sqlite3.Connection, channel: Channel) -> tuple[str, str] | None:
    """(credential-store account, what to ask the user) of the secret a real run needs."""
    if channel is Channel.SMS:
        sms = load_sms_settings(conn)
        return sms_account(sms), f"Ключ (или пароль) SMS-шлюза {SMS_PROVIDER_NAMES[sms.provider]}:"
    email = load_email_settings(conn)
    if email.host and email.auth:
        return smtp_account(email), f"Пароль для {email.user} на {email.host}:"
    return None


class SetupError(Exception):
    """The run cannot be sent with the current settings; ``str()`` says what to fix (Russian).

    ``cli_hint`` adds what only the command line can do about it (an environment variable);
    the window does not show it.
    """

    def __init__(self, message: str, cli_hint: str = "") -> None:
        super().__init__(message)
        self.cli_hint = cli_hint

    def for_command_line(self) -> str:
        return f"{self} {self.cli_hint}".strip()


@dataclass
class SendingSetup:
    """What a run is sent with: the transport, the From, the pace, and, for a run through an
    SMS gateway, the gateway itself (the start summary asks it for the price and balance)."""

    transport: Transport
    sender: Sender | None
    per_minute: int
    gateway: SmsGateway | None = None
    mailbox: str = ""  # the sender mailbox whose daily limit the run keeps ("" for none)
    daily_limit: int = 0
    more_mailboxes: list[Mailbox] = field(default_factory=list)  # beyond the main one
    connections: int = 1  # SMTP connections at once (each mailbox opens more on demand)


def prepare(
    conn: sqlite3.Connection,
    channel: Channel,
    route: Route,
    passwords: PasswordStore,
    environ: Mapping[str, str] = os.environ,
) -> SendingSetup:
    """The transport, sender and limit for a run; SetupError when the settings do not allow it."""
    settings = load_email_settings(conn)
    sender = configured_sender(settings)
    if route.is_test:
        return SendingSetup(
            OutboxTransport(route.folder), sender if channel is Channel.EMAIL else None, 0
        )
    if channel is Channel.SMS:
        return _prepare_sms(conn, passwords, environ)
    if not settings.host or sender is None:
        raise SetupError(
            "Почта не настроена: укажите SMTP-сервер и «Email отправителя» в окне «Параметры» "
            "(или отправьте тестовую рассылку в папку)."
        )
    if problems := email_settings_problems(settings):
        raise SetupError("Параметры почты: " + "; ".join(problems))
    password = None
    if settings.auth:
        password = resolve_password(passwords, smtp_account(settings), SMTP_PASSWORD_ENV, environ)
        if not password:
            raise SetupError(
                f"Не задан пароль для {settings.user} на {settings.host}: введите его в "
                "окне «Параметры».",
                f"В командной строке: settings set-password или переменная {SMTP_PASSWORD_ENV}.",
            )
    from avtoprokat_mail.sending.smtp import SmtpTransport

    return SendingSetup(
        SmtpTransport(settings, password), sender, settings.per_minute,
        mailbox=settings.sender_address.casefold(), daily_limit=settings.daily_limit,
        more_mailboxes=_more_mailboxes(conn, passwords), connections=settings.connections,
    )  # fmt: skip


def _more_mailboxes(conn: sqlite3.Connection, passwords: PasswordStore) -> list[Mailbox]:
    """The extra sender mailboxes of the settings; one without its password is left out of the
    run with the reason (the engine says it), the others go on."""
    from avtoprokat_mail.sending.campaign import Mailbox
    from avtoprokat_mail.sending.smtp import SmtpTransport

    found = []
    for _mailbox_id, settings in list_mailboxes(conn, enabled_only=True):
        password = passwords.get(smtp_account(settings)) if settings.auth else None
        mailbox = Mailbox(
            SmtpTransport(settings, password), configured_sender(settings),
            settings.sender_address.casefold(), settings.daily_limit, settings.per_minute,
        )  # fmt: skip
        if settings.auth and not password:
            mailbox.out = f"не задан пароль для {settings.user} на {settings.host}"
        found.append(mailbox)
    return found


def _prepare_sms(
    conn: sqlite3.Connection, passwords: PasswordStore, environ: Mapping[str, str]
) -> SendingSetup:
    settings = load_sms_settings(conn)
    if problems := sms_settings_problems(settings):
        raise SetupError("Параметры SMS: " + "; ".join(problems))
    secret = resolve_password(passwords, sms_account(settings), SMS_PASSWORD_ENV, environ)
    if not secret:
        raise SetupError(
            f"Не задан ключ (или пароль) SMS-шлюза {SMS_PROVIDER_NAMES[settings.provider]}: "
            "введите его в окне «Параметры» на вкладке SMS.",
            f"В командной строке: settings set-password или переменная {SMS_PASSWORD_ENV}.",
        )
    from avtoprokat_mail.sending.sms.providers import gateway_for
    from avtoprokat_mail.sending.sms.transport import SmsTransport

    gateway = gateway_for(settings, secret)
    return SendingSetup(SmsTransport(gateway), None, settings.per_minute, gateway)
