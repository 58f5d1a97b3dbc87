"""Building the email (and the SMS text) a client receives, parsed back as a mail reader would."""

from __future__ import annotations

import email
import os
import random
import re
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from avtoprokat_mail.model import Client, Template
from avtoprokat_mail.sending.message import (
    Sender,
    TemplateError,
    build_email,
    build_sms,
    load_attachments,
    wire_address,
)

SENDER = Sender("Офис проката", "office@avtoprokat.ru")
CLIENT = Client(
    surname="Петров",
    name="Иван Ильич",
    position="Директор",
    organization="ООО «Ромашка»",
    email="petrov@romashka.ru",
)
SUBJECT = "Скидка 15% для %Наименование%"
BODY = "Здравствуйте, %Имя%!\n\nКак %Должность% компании %Наименование% вы получаете скидку 15%.\n"
RENDERED_BODY = (
    "Здравствуйте, Иван Ильич!\n\nКак Директор компании ООО «Ромашка» вы получаете скидку 15%.\n"
)
PDF_NAME = "Прайс-лист на аренду 2026.pdf"


def _parse(message: EmailMessage) -> EmailMessage:
    return email.message_from_bytes(message.as_bytes(), policy=policy.default)


def _normalised(text: str) -> str:
    """The wire uses CRLF; a mail reader shows lines."""
    return text.replace("\r\n", "\n")


@pytest.fixture
def files(tmp_path: Path) -> dict[str, bytes]:
    contents = {PDF_NAME: os.urandom(20_000), "photo.jpg": os.urandom(50 * 1024)}
    for name, data in contents.items():
        (tmp_path / name).write_bytes(data)
    return contents


@pytest.fixture
def template(tmp_path: Path, files: dict[str, bytes]) -> Template:
    return Template(
        subject=SUBJECT,
        body=BODY,
        attachment1=str(tmp_path / PDF_NAME),
        attachment2=str(tmp_path / "photo.jpg"),
    )


# --- the whole message ---------------------------------------------------------------------------
def test_subject_and_to_decode_to_the_personalised_text(template: Template) -> None:
    parsed = _parse(build_email(template, CLIENT, SENDER, load_attachments(template)))

    assert parsed["Subject"] == "Скидка 15% для ООО «Ромашка»"
    (to,) = parsed["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Петров Иван Ильич", "petrov@romashka.ru")
    (sender,) = parsed["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Офис проката", "office@avtoprokat.ru")


def test_body_is_the_rendered_text_in_quoted_printable(template: Template) -> None:
    parsed = _parse(build_email(template, CLIENT, SENDER, load_attachments(template)))

    body = parsed.get_body(("plain",))
    assert _normalised(body.get_content()) == RENDERED_BODY
    assert body["Content-Transfer-Encoding"] == "quoted-printable"
    assert body.get_content_charset() == "utf-8"


def test_attachments_keep_cyrillic_names_and_exact_bytes(
    template: Template, files: dict[str, bytes]
) -> None:
    parsed = _parse(build_email(template, CLIENT, SENDER, load_attachments(template)))

    attachments = list(parsed.iter_attachments())
    assert [part.get_filename() for part in attachments] == [PDF_NAME, "photo.jpg"]
    assert [part.get_content_type() for part in attachments] == ["application/pdf", "image/jpeg"]
    for part in attachments:
        assert part.get_content() == files[part.get_filename()]


def test_message_id_and_date_are_set(template: Template) -> None:
    parsed = _parse(build_email(template, CLIENT, SENDER, []))

    assert parsed["Message-ID"].startswith("<")
    assert parsed["Message-ID"].endswith("@avtoprokat.ru>")
    assert parsed["Date"].datetime is not None
    assert parsed["MIME-Version"] == "1.0"


def test_message_ids_differ_between_messages(template: Template) -> None:
    first = build_email(template, CLIENT, SENDER, [])
    second = build_email(template, CLIENT, SENDER, [])
    assert first["Message-ID"] != second["Message-ID"]


def test_ascii_addresses_give_a_7bit_message(template: Template) -> None:
    data = build_email(template, CLIENT, SENDER, load_attachments(template)).as_bytes()

    assert data.isascii()
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))


def test_without_sender_there_is_no_from(template: Template) -> None:
    parsed = _parse(build_email(template, CLIENT, None, []))

    assert parsed["From"] is None
    assert parsed["Message-ID"].endswith("@romashka.ru>")


# --- international addresses -----------------------------------------------------------------
def test_wire_address_punycodes_the_domain() -> None:
    assert wire_address("ivan@почта.рф") == "ivan@xn--80a1acny.xn--p1ai"
    assert wire_address(" ivan@mail.ru ") == "ivan@mail.ru"


def test_idn_domain_with_ascii_local_part_stays_7bit() -> None:
    client = Client(name="Иван", email="ivan@почта.рф")
    message = build_email(Template(subject="Тема", body="Текст"), client, SENDER, [])
    data = message.as_bytes()

    assert message.policy.utf8 is False
    assert data.isascii()
    parsed = email.message_from_bytes(data, policy=policy.default)
    assert parsed["To"].addresses[0].addr_spec == "ivan@xn--80a1acny.xn--p1ai"


def test_non_ascii_local_part_uses_smtputf8() -> None:
    client = Client(name="Иван", email="иван@почта.рф")
    message = build_email(Template(subject="Тема", body="Текст"), client, SENDER, [])
    data = message.as_bytes()

    assert message.policy.utf8 is True
    assert "<иван@xn--80a1acny.xn--p1ai>".encode() in data
    # Raw UTF-8 headers (RFC 6532) parse back from text; from bytes they are surrogate-escaped.
    parsed = email.message_from_string(data.decode("utf-8"), policy=policy.default)
    assert parsed["To"].addresses[0].addr_spec == "иван@xn--80a1acny.xn--p1ai"
    assert parsed["Subject"] == "Тема"


# --- attachments -----------------------------------------------------------------------------
def test_missing_attachment_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "нет такого.pdf"
    template = Template(subject="s", body="b", attachment2=str(missing))

    with pytest.raises(TemplateError) as error:
        load_attachments(template)

    assert str(error.value) == f"Приложение 2: файл не найден — {missing}"


def test_attachments_over_25_mb_are_refused(tmp_path: Path) -> None:
    paths = [tmp_path / "big1.bin", tmp_path / "big2.bin"]
    for path in paths:
        with path.open("wb") as f:
            f.truncate(13 * 1024 * 1024)  # sparse: no 13 MB written to disk
    template = Template(subject="s", body="b", attachment1=str(paths[0]), attachment2=str(paths[1]))

    with pytest.raises(TemplateError) as error:
        load_attachments(template)

    assert "26.0 МБ" in str(error.value)
    assert "25 МБ" in str(error.value)


def test_attachments_are_encoded_once_and_shared(template: Template) -> None:
    attachments = load_attachments(template)
    first = build_email(template, CLIENT, SENDER, attachments)
    other_client = Client(name="Анна", email="anna@mail.ru")
    second = build_email(template, other_client, SENDER, attachments)

    first_parts = list(first.iter_attachments())
    second_parts = list(second.iter_attachments())
    assert [a.part for a in attachments] == first_parts
    for one, two in zip(first_parts, second_parts, strict=True):
        assert one is two
    assert [a.size for a in attachments] == [20_000, 50 * 1024]
    assert [a.filename for a in attachments] == [PDF_NAME, "photo.jpg"]


def test_shared_attachments_serialise_in_both_messages(
    template: Template, files: dict[str, bytes]
) -> None:
    attachments = load_attachments(template)
    first = _parse(build_email(template, CLIENT, SENDER, attachments))
    second = _parse(build_email(template, Client(name="Анна", email="anna@mail.ru"), SENDER,
                                attachments))  # fmt: skip

    for parsed in (first, second):
        assert {p.get_filename(): p.get_content() for p in parsed.iter_attachments()} == files
    assert first["To"].addresses[0].addr_spec == "petrov@romashka.ru"
    assert second["To"].addresses[0].addr_spec == "anna@mail.ru"
    assert _normalised(second.get_body(("plain",)).get_content()).startswith(
        "Здравствуйте, Анна!\n"
    )


def test_template_without_attachments_is_a_single_text_part() -> None:
    parsed = _parse(build_email(Template(subject="s", body="b"), CLIENT, SENDER, []))

    assert parsed.get_content_type() == "text/plain"
    assert list(parsed.iter_attachments()) == []


# --- text attachments: a declared charset that decodes their bytes -----------------------------
UTF8_TEXT = "Прайс-лист: «Лада Веста» — 2 500 ₽ в сутки.\r\nЁлки, ёжики, № 5.\r\n"
CP1251_TEXT = "Модель;Цена в сутки, руб.\r\nЛада Веста;2500\r\nKia Rio «Люкс» — №2;3200\r\n"
ASCII_TEXT = "Model;Price\r\nLada Vesta;2500\r\n"
BINARY = random.Random(11).randbytes(5000)  # not text in any charset
LATIN1 = "Modèle;Prix\nCitroën C3 Très Confort;45 €\n".encode("cp1252")
# name → (bytes, Content-Type, charset, what get_content() gives back)
TEXT_FILES = {
    "Прайс-лист.txt": (UTF8_TEXT.encode("utf-8"), "text/plain", "utf-8", UTF8_TEXT),
    "Цены 2026.csv": (CP1251_TEXT.encode("cp1251"), "text/csv", "windows-1251", CP1251_TEXT),
    "readme.txt": (ASCII_TEXT.encode("ascii"), "text/plain", "us-ascii", ASCII_TEXT),
    "архив.txt": (BINARY, "application/octet-stream", None, BINARY),
    # UTF-8 with a BOM (Notepad's "UTF-8 with BOM"): the BOM stays, it is part of the file
    "письмо.html": (
        "\ufeff<p>Здравствуйте!</p>\n".encode("utf-8"), "text/html", "utf-8",
        "\ufeff<p>Здравствуйте!</p>\n",
    ),
    # Latin-1 bytes decode as Windows-1251 too ("Citroлn"), but they are not Russian text
    "prix.txt": (LATIN1, "application/octet-stream", None, LATIN1),
    "nul.txt": (b"ID\x00Lada\x00", "application/octet-stream", None, b"ID\x00Lada\x00"),
}  # fmt: skip
TEXT_PAIRS = [
    pytest.param(("Прайс-лист.txt", "Цены 2026.csv"), id="utf-8 txt, cp1251 csv"),
    pytest.param(("readme.txt", "архив.txt"), id="ascii txt, binary txt"),
    pytest.param(("письмо.html", "prix.txt"), id="utf-8-sig html, latin-1 txt"),
    pytest.param(("nul.txt", "readme.txt"), id="nul txt, ascii txt"),
]


def _build_both(template: Template) -> dict[str, bytes]:
    """The wire bytes of both paths: build_email and the engine's EmailFactory."""
    from avtoprokat_mail.sending.message import EmailFactory

    attachments = load_attachments(template)
    built = build_email(template, CLIENT, SENDER, attachments).as_bytes()
    fast = EmailFactory(template, SENDER, attachments).build(CLIENT)
    assert isinstance(fast, bytes)
    assert _without_volatile(fast) == _without_volatile(built)
    return {"build_email": built, "EmailFactory": fast}


@pytest.mark.parametrize("names", TEXT_PAIRS)
def test_text_attachments_declare_the_charset_of_their_bytes(tmp_path: Path, names) -> None:
    paths = []
    for name in names:
        paths.append(tmp_path / name)
        paths[-1].write_bytes(TEXT_FILES[name][0])
    template = Template(subject="s", body="b", attachment1=str(paths[0]), attachment2=str(paths[1]))

    for builder, data in _build_both(template).items():
        parsed = email.message_from_bytes(data, policy=policy.default)
        parts = list(parsed.iter_attachments())
        assert [part.get_filename() for part in parts] == list(names), builder
        for name, part in zip(names, parts, strict=True):
            _, content_type, charset, content = TEXT_FILES[name]
            assert (part.get_content_type(), part.get_param("charset")) == (
                content_type, charset
            ), (builder, name)  # fmt: skip
            assert part["Content-Transfer-Encoding"] == "base64"
            assert part.get_content() == content, (builder, name)  # decoded with the charset
            assert part.get_payload(decode=True) == TEXT_FILES[name][0]  # the file's own bytes
        # Cyrillic file names as RFC 2231 parameters, as for every attachment
        assert data.count(b"filename*=utf-8''") == sum(not name.isascii() for name in names)


# --- SMS ---------------------------------------------------------------------------------------
def test_build_sms_renders_the_body() -> None:
    template = Template(sms=True, subject="не используется %Имя%", body="%Имя%, скидка 15%!")
    assert build_sms(template, CLIENT) == "Иван Ильич, скидка 15%!"


# --- the engine's fast path: EmailFactory writes the same bytes as build_email ----------
def _without_volatile(data: bytes) -> bytes:
    """Bytes with what differs between two builds of one message (time, id, boundary) blanked."""
    data = re.sub(rb"^Date: .*\r\n", b"Date: X\r\n", data, flags=re.M)
    data = re.sub(rb"^Message-ID: .*\r\n", b"Message-ID: X\r\n", data, flags=re.M)
    return re.sub(rb"={15}\d+==", b"BOUNDARY", data)


FACTORY_CLIENTS = [
    Client(surname="Петров", name="Иван Ильич", position="Директор",
           organization="ООО «Ромашка»", email="petrov@romashka.ru"),
    Client(surname="Smith", name="John", organization="Acme Ltd", email="john@acme.example.com"),
    Client(surname="Константинопольский-Верхнеудинский", name="Александр Александрович",
           position="Заместитель генерального директора по коммерческим вопросам",
           organization="Общество с ограниченной ответственностью «Транспортная компания»",
           email="konst@transport-company.ru"),
    Client(surname="", name="", organization="", email="noname@firm.ru"),
    Client(surname="Evil", name="=?UTF-8?Q?=0A?=Bcc: x@y", position="a\r\nX-Evil: 1",
           email="evil@firm.ru"),
    Client(surname="O'Brien", name='"Quoted" Name', email="obrien@firm.ru"),
    Client(surname="Иванов", name="Иван", email="ivan@почта.рф"),
]  # fmt: skip


@pytest.mark.parametrize("with_attachments", [False, True])
@pytest.mark.parametrize("client", FACTORY_CLIENTS, ids=lambda c: c.email)
def test_email_factory_bytes_equal_build_email(tmp_path, client, with_attachments) -> None:
    from avtoprokat_mail.sending.message import EmailFactory

    names = ["Договор аренды №5 на длительный срок для юридических лиц.pdf", "photo.jpg"]
    paths = []
    for name in names if with_attachments else []:
        path = tmp_path / name
        path.write_bytes(bytes(range(256)) * 30)
        paths.append(str(path))
    template = Template(
        subject="%Имя%, скидка 20% для %Наименование% на аренду автомобилей до конца месяца",
        body="Здравствуйте, %Имя%!\n\n%Должность% %Наименование%, для вас скидка 20%.\n" * 3,
        attachment1=paths[0] if paths else "",
        attachment2=paths[1] if paths else "",
    )
    attachments = load_attachments(template)
    built = build_email(template, client, SENDER, attachments)
    fast = EmailFactory(template, SENDER, attachments).build(client)
    if not built.policy.utf8:
        assert isinstance(fast, bytes)
        assert _without_volatile(fast) == _without_volatile(built.as_bytes())
    else:  # SMTPUTF8 messages take the general path
        assert not isinstance(fast, bytes)


def test_every_email_carries_list_unsubscribe_to_the_sender(template: Template) -> None:
    from avtoprokat_mail.sending.message import EmailFactory

    expected = "<mailto:office@avtoprokat.ru?subject=unsubscribe>"
    assert _parse(build_email(template, CLIENT, SENDER, []))["List-Unsubscribe"] == expected
    wire = EmailFactory(template, SENDER, []).build(CLIENT)
    assert email.message_from_bytes(wire, policy=policy.default)["List-Unsubscribe"] == expected
    assert build_email(template, CLIENT, None, [])["List-Unsubscribe"] is None  # no sender yet
