"""«Отправить себе»: the template as one client will get it, sent to the sender's own address."""

from __future__ import annotations

import dataclasses
import sqlite3

from avtoprokat_mail.credentials import PasswordStore
from avtoprokat_mail.model import Channel, Client, Delivery, Route, Template
from avtoprokat_mail.sending.checks import CheckResult
from avtoprokat_mail.sending.message import (
    TemplateError,
    build_email,
    build_sms,
    load_attachments,
)
from avtoprokat_mail.sending.setup import SendingSetup, prepare
from avtoprokat_mail.sending.sms.segments import sms_length
from avtoprokat_mail.sending.transport import DeliveryError
from avtoprokat_mail.validation import normalize_mobile

TEST_SUBJECT_PREFIX = "[Проверка] "


def prepare_test(
    conn: sqlite3.Connection, passwords: PasswordStore, channel: Channel = Channel.EMAIL
) -> SendingSetup:
    """The setup for a test send (on the Tk thread: it reads the database)."""
    return prepare(conn, channel, Route.direct(channel), passwords)


def send_test_sms(
    setup: SendingSetup, template: Template, client: Client, number: str
) -> CheckResult:
    """Send ``template`` personalised for ``client`` as an SMS to ``number``; worker-thread safe."""
    mobile = normalize_mobile(number)
    if mobile is None:
        return CheckResult(
            False, f"«{number}» не похоже на номер сотового: нужен вид +79031112233."
        )
    text = build_sms(template, client)
    try:
        reply = setup.transport.send(Delivery(position=0, recipient=mobile), text)
    except DeliveryError as error:
        return CheckResult(False, error.reply)
    return CheckResult(
        True, f"SMS ({sms_length(text).segments} шт.) отправлена на {mobile}: {reply}."
    )


def send_to_self(setup: SendingSetup, template: Template, client: Client) -> CheckResult:
    """Send ``template`` personalised for ``client`` to the sender; safe on a worker thread."""
    if setup.sender is None:
        return CheckResult(False, "Не указан «Email отправителя» в окне «Параметры».")
    marked = dataclasses.replace(template, subject=TEST_SUBJECT_PREFIX + template.subject)
    try:
        message = build_email(marked, client, setup.sender, load_attachments(template))
    except TemplateError as error:
        return CheckResult(False, str(error))
    message.replace_header("To", setup.sender.address)
    transport = setup.transport
    try:
        transport.open()
        transport.send(Delivery(position=0, recipient=setup.sender.address), message)
    except DeliveryError as error:
        return CheckResult(False, error.reply)
    finally:
        transport.close()
    who = client.display_name or client.organization or "клиента"
    return CheckResult(True, f"Письмо для «{who}» отправлено на {setup.sender.address}.")
