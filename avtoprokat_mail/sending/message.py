"""Template + client + sender → the email a client receives (or the SMS text).

The engine (the "Старт" issue) and ``templates preview`` build messages here, so a preview is
byte for byte the message that would be sent, but for its Date and Message-ID.
"""

from __future__ import annotations

import contextlib
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage, MIMEPart
from email.utils import formatdate, make_msgid
from pathlib import Path

from avtoprokat_mail.model import Client, Template
from avtoprokat_mail.placeholders import clean_header_value, render

MAX_ATTACHMENTS_BYTES = 25 * 1024 * 1024  # what mail.ru, Yandex and Gmail accept in all
_SMTP = policy.SMTP
_SMTPUTF8 = policy.SMTP.clone(utf8=True)


class TemplateError(Exception):
    """The template cannot be used as it is; ``str()`` is a Russian message naming the cause."""


@dataclass(frozen=True)
class Sender:
    """Who the mail is from: the display name and address of the settings' EMail tab."""

    name: str
    address: str


@dataclass(frozen=True)
class Attachment:
    """An attachment read and encoded once, then shared by every message of a run."""

    filename: str
    size: int
    part: MIMEPart


def attachment_problems(template: Template) -> list[str]:
    """Why the template's attachments cannot be sent (missing files, too large), in Russian."""
    problems, total = [], 0
    for number, name in enumerate((template.attachment1, template.attachment2), start=1):
        if not name:
            continue
        path = Path(name)
        if not path.is_file():
            problems.append(f"Приложение {number}: файл не найден — {name}")
            continue
        total += path.stat().st_size
    if total > MAX_ATTACHMENTS_BYTES:
        problems.append(
            f"Приложения вместе занимают {total / 1024 / 1024:.1f} МБ, а почтовые серверы "
            f"принимают не больше {MAX_ATTACHMENTS_BYTES // 1024 // 1024} МБ на письмо."
        )
    return problems


def load_attachments(template: Template) -> list[Attachment]:
    """Read and encode the template's attachments (once per run, not once per message)."""
    if problems := attachment_problems(template):
        raise TemplateError(" ".join(problems))
    attachments = []
    for name in template.attachments:
        path = Path(name)
        try:
            data = path.read_bytes()
        except OSError as error:
            raise TemplateError(f"Не удаётся прочитать приложение {name}: {error}") from error
        mime, _ = mimetypes.guess_type(path.name)
        maintype, subtype = (mime or "application/octet-stream").split("/", 1)
        part = MIMEPart(policy=_SMTP)
        part.set_content(data, maintype, subtype, disposition="attachment", filename=path.name)
        attachments.append(Attachment(path.name, len(data), part))
    return attachments


def wire_address(address: str) -> str:
    """An address as it goes on the wire: the domain in punycode (``почта.рф`` → ``xn--…``)."""
    local, _, domain = address.strip().rpartition("@")
    # Left as typed when it cannot be encoded; validation refuses such addresses before sending.
    with contextlib.suppress(UnicodeError):
        domain = domain.encode("idna").decode("ascii")
    return f"{local}@{domain}"


def build_email(
    template: Template,
    client: Client,
    sender: Sender | None,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """The personalised email for one client.

    Client data in headers is cleaned (:func:`placeholders.clean_header_value`); the body is
    UTF-8 quoted-printable; SMTPUTF8 is used only when an address's local part is not ASCII.
    Without a sender (settings not filled yet) the message has no From: a preview only.
    """
    to = wire_address(client.email)
    from_ = wire_address(sender.address) if sender else ""
    needs_utf8 = not (to.isascii() and from_.isascii())
    message = EmailMessage(policy=_SMTPUTF8 if needs_utf8 else _SMTP)
    if sender:
        _set_address(message, "From", clean_header_value(sender.name), from_)
    _set_address(message, "To", clean_header_value(client.display_name), to)
    _set_text(message, "Subject", render(template.subject, client, header=True))
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=_message_id_domain(from_ or to))
    message.set_content(render(template.body, client), cte="quoted-printable")
    if attachments:
        message.make_mixed()
        for attachment in attachments:
            message.attach(attachment.part)
    return message


def build_sms(template: Template, client: Client) -> str:
    """The personalised SMS text for one client."""
    return render(template.body, client)


def _message_id_domain(address: str) -> str:
    domain = address.rpartition("@")[2]
    return domain if domain.isascii() and "." in domain else "avtoprokat.local"


def _encoded_words(name: str, text: str) -> str:
    """``text`` as folded RFC 2047 encoded-words with every space inside a word.

    policy.SMTP's own folding (Python < 3.14, CPython gh-144156) can leave the space between
    two words outside the encoded-words, where RFC 2047 §6.2 makes mail readers drop it:
    "Александрович, специальное" arrives as "Александрович,специальное". The legacy Header
    encoder keeps spaces inside; its lines fit in 76 characters, so the generator keeps them.
    """
    return Header(text, "utf-8", header_name=name).encode()


def _set_text(message: EmailMessage, name: str, text: str) -> None:
    if text.isascii() or message.policy.utf8:
        message[name] = text
    else:
        message.set_raw(name, _encoded_words(name, text))


def _set_address(message: EmailMessage, name: str, display_name: str, address: str) -> None:
    if display_name.isascii() or message.policy.utf8:
        message[name] = _address(display_name, address)
    else:
        message.set_raw(name, f"{_encoded_words(name, display_name)}\n <{address}>")


def _address(display_name: str, address: str) -> Address:
    """A header address; ``addr_spec`` refuses a non-ASCII local part, which SMTPUTF8 allows."""
    if address.isascii():
        return Address(display_name=display_name, addr_spec=address)
    local, _, domain = address.rpartition("@")
    return Address(display_name=display_name, username=local, domain=domain)
