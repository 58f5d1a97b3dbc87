"""Clients, templates and attachments for the mailing tests, and reading back what a server got.

The expected subject, body and To of each client are written out here by hand (plain string
replacement), not computed by the program's own renderer, so a rendering bug cannot hide.
"""

from __future__ import annotations

import email
import random
import sqlite3
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path

from avtoprokat_mail.model import Client, Template
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import templates as template_store

DOMAIN = "avtoprokat-test.ru"
SUBJECT = "%Имя%, специальное предложение для «%Наименование%»"
BODY = (
    "Здравствуйте, %Имя%!\n"
    "\n"
    "Предлагаем вам как «%Должность%» компании %Наименование% арендовать автомобиль\n"
    "со скидкой 15% до конца месяца. Условия — в договоре во вложении.\n"
    "Ёлки, ёжики и «кавычки» — всё должно дойти как есть.\n"
    "\n"
    "С уважением,\n"
    "Автопрокат «Лада», +7 (495) 123-45-67\n"
)
CONTRACT_NAME = "Договор аренды №5.pdf"
PHOTO_NAME = "photo.jpg"

_SURNAMES = (
    "Иванов", "Петров", "Смирнов", "Кузнецов", "Соколов", "Попов", "Лебедев", "Козлов",
    "Новиков", "Морозов", "Волков", "Соловьёв", "Васильев", "Зайцев", "Павлов", "Семёнов",
)  # fmt: skip
_NAMES = ("Александр", "Сергей", "Дмитрий", "Андрей", "Алексей", "Михаил", "Игорь", "Пётр")
_PATRONYMICS = ("Иванович", "Петрович", "Сергеевич", "Александрович", "Николаевич", "Фёдорович")
_POSITIONS = (
    "Генеральный директор", "Главный бухгалтер", "Менеджер по закупкам",
    "Начальник отдела логистики", "Заместитель директора по общим вопросам",
)  # fmt: skip
_ORGANIZATIONS = (
    "ООО «Ромашка»", "АО «СеверТранс»", "ИП Кузнецов А. В.", "ООО «Грузоперевозки-Юг»",
    "ЗАО «Альфа-Строй»", "ООО «Техно Сервис»",
)  # fmt: skip


def address(number: int) -> str:
    return f"client{number}@{DOMAIN}"


def russian_clients(count: int, *, seed: int = 5) -> list[Client]:
    """``count`` marked clients with Russian names and unique addresses client1@…, client2@…"""
    rng = random.Random(seed)
    return [
        Client(
            surname=rng.choice(_SURNAMES),
            name=f"{rng.choice(_NAMES)} {rng.choice(_PATRONYMICS)}",
            position=rng.choice(_POSITIONS),
            organization=rng.choice(_ORGANIZATIONS),
            email=address(number),
            marked=True,
        )
        for number in range(1, count + 1)
    ]


def add_clients(conn: sqlite3.Connection, clients: Iterable[Client]) -> list[Client]:
    clients = list(clients)
    client_store.add_clients(conn, clients)
    return clients


def write_attachments(folder: Path) -> dict[str, bytes]:
    """The two attachment files of the tests: name → content (random bytes, 30 KB and 20 KB)."""
    rng = random.Random(42)
    files = {CONTRACT_NAME: rng.randbytes(30_000), PHOTO_NAME: rng.randbytes(20_000)}
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def add_template(
    conn: sqlite3.Connection, attachments: Iterable[Path] = (), *, subject: str = SUBJECT
) -> Template:
    paths = [str(path) for path in attachments] + ["", ""]
    template = Template(subject=subject, body=BODY, attachment1=paths[0], attachment2=paths[1])
    template_store.add_template(conn, template)
    return template


# --- what each client must get ------------------------------------------------------------------
def _fill(text: str, client: Client) -> str:
    return (
        text.replace("%Имя%", client.name)
        .replace("%Должность%", client.position)
        .replace("%Наименование%", client.organization)
    )


def expected_subject(client: Client, subject: str = SUBJECT) -> str:
    return _fill(subject, client)


def expected_body(client: Client) -> str:
    return _fill(BODY, client)


@dataclass
class Received:
    """One message as the server received it, parsed the way a mail program reads it."""

    recipient: str
    sender: str
    message: EmailMessage
    raw: bytes

    @property
    def to(self) -> tuple[str, str]:
        """(display name, address) of To, decoded as RFC 2047 says.

        Not through ``policy.default``: on Python < 3.14 its address parser keeps the space
        between two adjacent encoded-words of a display name (CPython gh-128110), which
        RFC 2047 §6.2 says to drop and mail programs do drop.
        """
        raw = email.message_from_bytes(self.raw, policy=policy.compat32)["To"]
        return parseaddr(str(make_header(decode_header(raw))))

    @property
    def body(self) -> str:
        return self.message.get_body(("plain",)).get_content().replace("\r\n", "\n")

    @property
    def attachments(self) -> dict[str, bytes]:
        return {part.get_filename(): part.get_content() for part in self.message.iter_attachments()}


def received(envelopes: Iterable) -> list[Received]:
    """Every accepted envelope (one recipient each), parsed with ``policy.default``."""
    result = []
    for envelope in envelopes:
        (recipient,) = envelope.rcpt_tos
        if envelope.content.isascii():
            message = email.message_from_bytes(envelope.content, policy=policy.default)
        else:  # SMTPUTF8: headers in UTF-8 (RFC 6532)
            text = envelope.content.decode("utf-8")
            message = email.message_from_string(text, policy=policy.default)
        result.append(Received(recipient, envelope.mail_from, message, envelope.content))
    return result


def per_recipient(envelopes: Iterable) -> Counter[str]:
    """How many messages each address got."""
    return Counter(recipient for envelope in envelopes for recipient in envelope.rcpt_tos)


def parse_file(path: Path) -> EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)
