"""The test IMAP server (a private Dovecot, tests/imap_server.py) and the INBOX samples.

The server must behave like a provider's: IMAPS and STARTTLS with the test CA's certificate,
no login in clear text, messages kept byte for byte, a stable UIDVALIDITY. The samples
(tests/inbox_samples/) must be well-formed mail with what their README says.
"""

from __future__ import annotations

import contextlib
import email
import imaplib
import re
import socket
import ssl
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from pathlib import Path

import pytest

from tests.imap_server import HOST, ImapServer, require_dovecot, start_dovecot
from tests.imap_server import imap_server as imap_server_fixture  # noqa: F401

SAMPLES = Path(__file__).parent / "inbox_samples"
OWN = "office@avtoprokat.ru"
OWN_ID = re.compile(rb"<\d+\.\d+\.\d+@avtoprokat\.ru>")

# file: (kind, address concerned, Message-ID of ours it names or None) — as README.md says.
EXPECTED: dict[str, tuple[str, str, str | None]] = {
    "postfix_dsn_hard.eml": (
        "bounce hard",
        "petrov@rambler.ru.example",
        "<174176101234.48213.9874561230987654321@avtoprokat.ru>",
    ),
    "postfix_dsn_soft.eml": (
        "bounce soft",
        "sidorova@bk.ru.example",
        "<174176101391.48213.1203948576102938475@avtoprokat.ru>",
    ),
    "exim_bounce.eml": (
        "bounce hard",
        "kuznetsov@autopark-sever.example",
        "<174176101455.48213.5566778899001122334@avtoprokat.ru>",
    ),
    "yandex_bounce.eml": (
        "bounce hard",
        "smirnova@yandex.ru.example",
        "<174176101517.48213.7777123456789012345@avtoprokat.ru>",
    ),
    "mailru_bounce.eml": (
        "bounce hard",
        "volkov@mail.ru.example",
        "<174176101603.48213.3141592653589793238@avtoprokat.ru>",
    ),
    "gmail_bounce.eml": (
        "bounce hard",
        "orlov.dmitry@gmail.com.example",
        "<174176101788.48213.2718281828459045235@avtoprokat.ru>",
    ),
    "unknown_address_bounce.eml": (
        "bounce hard",
        "nobody@nowhere.example",
        "<174176102111.48213.6931471805599453094@avtoprokat.ru>",
    ),
    "autoreply.eml": (
        "autoreply",
        "morozova@transkom.example",
        "<174176101842.48213.1618033988749894848@avtoprokat.ru>",
    ),
    "unsubscribe_ru.eml": (
        "unsubscribe",
        "ivanov@mail.ru.example",
        "<174176101907.48213.4142135623730950488@avtoprokat.ru>",
    ),
    "unsubscribe_subject.eml": ("unsubscribe", "petrova.anna@gmail.com.example", None),
    "stop_reply.eml": (
        "unsubscribe",
        "sokolov@yandex.ru.example",
        "<174176102066.48213.1732050807568877293@avtoprokat.ru>",
    ),
    "ordinary_reply.eml": (
        "none",
        "kozlov@list.ru.example",
        "<174176102245.48213.5772156649015328606@avtoprokat.ru>",
    ),
}
# The DSNs (multipart/report) and their delivery-status fields.
DSN_FIELDS = {
    "postfix_dsn_hard.eml": ("failed", "5.1.1"),
    "postfix_dsn_soft.eml": ("delayed", "4.2.2"),
    "gmail_bounce.eml": ("failed", "5.1.1"),
    "unknown_address_bounce.eml": ("failed", "5.4.4"),
}
# Words the human-readable text of each free-form report must contain.
REPORT_WORDS = {
    "exim_bounce.eml": (
        "This message was created automatically by mail delivery software.",
        "could not be delivered to one or more of its\nrecipients",
        "------ This is a copy of the message, including all the headers. ------",
        "550 5.1.1",
    ),
    "yandex_bounce.eml": (
        "Это письмо создано автоматически сервером Яндекс.Почты.",
        "Сообщение не удалось доставить",
        "550 5.7.1 No such user!",
    ),
    "mailru_bounce.eml": (
        "Не удалось доставить письмо",
        "Message was not accepted -- invalid mailbox.",
        "is unavailable: account is disabled",
    ),
    "gmail_bounce.eml": (
        "Address not found",
        "Your message wasn't delivered to orlov.dmitry@gmail.com.example because the address "
        "couldn't be found",
        "550 5.1.1",
    ),
}


def sample_files() -> list[Path]:
    return sorted(SAMPLES.glob("*.eml"))


def crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _text(message: EmailMessage) -> str:
    """Every text part, decoded, and the raw headers of attached messages."""
    pieces = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            pieces.append(part.get_content())
        elif part.get_content_type() in ("message/delivery-status", "message/rfc822"):
            pieces.append(part.as_string())
    return "\n".join(pieces)


# --- the samples -----------------------------------------------------------------------------
def test_every_sample_is_listed() -> None:
    assert [p.name for p in sample_files()] == sorted(EXPECTED)
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for name, (_kind, address, _id) in EXPECTED.items():
        assert f"`{name}`" in readme
        assert address in readme


@pytest.mark.parametrize("path", sample_files(), ids=lambda p: p.stem)
def test_sample_is_well_formed_mail(path: Path) -> None:
    raw = path.read_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF: the samples have CRLF line endings"
    assert b"\r" not in raw.replace(b"\r\n", b""), "bare CR"
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii(), "headers are ASCII (encoded-words for Cyrillic)"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998

    message = email.message_from_bytes(raw, policy=policy.default)
    defects = [(part.get_content_type(), d) for part in message.walk() for d in part.defects]
    assert defects == []
    for name in ("From", "To", "Subject", "Date", "Message-ID"):
        assert message[name], f"no {name}"
    assert message["Date"].datetime is not None
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", message["Message-ID"].strip())
    assert OWN in [address.lower() for _n, address in getaddresses([str(message["To"])])]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            part.get_content()  # decodes in its charset
            if not part.get_payload(decode=True).isascii():
                assert part.get_content_charset() == "utf-8"

    kind, address, our_id = EXPECTED[path.name]
    text = _text(message)
    sender = parseaddr(str(message["From"]))[1].lower()
    if kind.startswith("bounce"):
        assert address in text
        # The quoted original: its headers with our Message-ID, sent from us to the client.
        quoted = raw.split(b"\r\n\r\n", 1)[1]
        assert f"Message-ID: {our_id}".encode() in quoted
        assert f"<{address}>".encode() in quoted
        assert b"From: =?utf-8?b?" in quoted and f"<{OWN}>".encode() in quoted
    else:
        assert sender == address
        if our_id is not None:
            assert our_id in str(message["In-Reply-To"])
            assert our_id in str(message["References"])
    assert our_id is None or OWN_ID.search(raw)


@pytest.mark.parametrize("name", sorted(DSN_FIELDS))
def test_dsn_fields(name: str) -> None:
    message = email.message_from_bytes((SAMPLES / name).read_bytes(), policy=policy.default)
    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "delivery-status"
    status = next(p for p in message.walk() if p.get_content_type() == "message/delivery-status")
    per_message, per_recipient = status.get_payload()
    assert per_message["Reporting-MTA"].startswith("dns;")
    action, code = DSN_FIELDS[name]
    assert per_recipient["Action"] == action
    assert per_recipient["Status"] == code
    final = per_recipient["Final-Recipient"].split(";")[1].strip()
    assert final == EXPECTED[name][1]


@pytest.mark.parametrize("name", sorted(REPORT_WORDS))
def test_report_words(name: str) -> None:
    message = email.message_from_bytes((SAMPLES / name).read_bytes(), policy=policy.default)
    text = _text(message).replace("\r\n", "\n")
    for words in REPORT_WORDS[name]:
        assert words in text


def test_free_form_reports_are_not_dsns() -> None:
    for name in ("exim_bounce.eml", "yandex_bounce.eml", "mailru_bounce.eml"):
        message = email.message_from_bytes((SAMPLES / name).read_bytes(), policy=policy.default)
        types = {part.get_content_type() for part in message.walk()}
        assert "message/delivery-status" not in types, name
    exim = email.message_from_bytes((SAMPLES / "exim_bounce.eml").read_bytes())
    assert exim.get_content_type() == "text/plain"
    yandex = email.message_from_bytes((SAMPLES / "yandex_bounce.eml").read_bytes())
    assert yandex["From"] == "mailer-daemon@yandex.ru"
    mailru = email.message_from_bytes(
        (SAMPLES / "mailru_bounce.eml").read_bytes(), policy=policy.default
    )
    assert parseaddr(str(mailru["From"]))[1] == "mailer-daemon@corp.mail.ru"


def test_replies_and_autoreply_headers() -> None:
    def load(name: str) -> EmailMessage:
        return email.message_from_bytes((SAMPLES / name).read_bytes(), policy=policy.default)

    auto = load("autoreply.eml")
    assert auto["Auto-Submitted"] == "auto-replied"
    assert str(auto["Subject"]).startswith("Автоответ: ")
    for name, first_line in (
        ("unsubscribe_ru.eml", "Отписаться"),
        ("stop_reply.eml", "СТОП"),
        ("ordinary_reply.eml", "Сколько стоит аренда на выходные?"),
    ):
        reply = load(name)
        assert reply["Subject"] == "Re: Скидка 15%"
        assert "Auto-Submitted" not in reply
        body = reply.get_body(preferencelist=("plain",))
        assert body.get_content().splitlines()[0] == first_line
    unsubscribe = load("unsubscribe_subject.eml")
    assert unsubscribe["Subject"] == "unsubscribe"
    assert unsubscribe["To"] == OWN
    # Real reports are marked auto-replied too; the checker must not take them for autoreplies.
    for name in ("postfix_dsn_hard.eml", "exim_bounce.eml", "gmail_bounce.eml"):
        assert load(name)["Auto-Submitted"] == "auto-replied"


# --- the server: TLS and login ------------------------------------------------------------------
def test_login_over_implicit_tls(imap_server: ImapServer) -> None:
    context = ssl.create_default_context(cafile=str(imap_server.cafile))
    with imaplib.IMAP4_SSL(imap_server.host, imap_server.port, ssl_context=context) as client:
        assert client.sock.version() in ("TLSv1.2", "TLSv1.3")
        typ, _ = client.login(imap_server.user, imap_server.password)
        assert typ == "OK"
        typ, data = client.select("INBOX")
        assert (typ, data) == ("OK", [b"0"])


def test_login_over_tls_with_the_ca_from_the_environment(
    imap_server: ImapServer, trust_test_ca
) -> None:
    """What the program does: ssl.create_default_context(), SSL_CERT_FILE naming the test CA."""
    context = ssl.create_default_context()
    with imaplib.IMAP4_SSL(imap_server.host, imap_server.port, ssl_context=context) as client:
        assert client.login(imap_server.user, imap_server.password)[0] == "OK"
    with imaplib.IMAP4(imap_server.host, imap_server.starttls_port) as client:
        client.starttls(ssl.create_default_context())
        assert client.login(imap_server.user, imap_server.password)[0] == "OK"


def test_login_after_starttls(imap_server: ImapServer) -> None:
    with imaplib.IMAP4(imap_server.host, imap_server.starttls_port) as client:
        assert "STARTTLS" in client.capabilities
        client.starttls(ssl.create_default_context(cafile=str(imap_server.cafile)))
        assert "LOGINDISABLED" not in client.capabilities
        assert client.login(imap_server.user, imap_server.password)[0] == "OK"
        assert client.select("INBOX")[0] == "OK"


def test_no_login_in_clear_text(imap_server: ImapServer) -> None:
    with imaplib.IMAP4(imap_server.host, imap_server.starttls_port) as client:
        assert "LOGINDISABLED" in client.capabilities
        assert not any(c.startswith("AUTH=") for c in client.capabilities)
        with pytest.raises(imaplib.IMAP4.error, match=r"PRIVACYREQUIRED|disallowed"):
            client.login(imap_server.user, imap_server.password)


def test_wrong_password_refused(imap_server: ImapServer) -> None:
    context = imap_server.ssl_context()
    with (
        imaplib.IMAP4_SSL(imap_server.host, imap_server.port, ssl_context=context) as client,
        pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"),
    ):
        client.login(imap_server.user, "wrong-password")


def test_untrusted_ca_fails_the_handshake(imap_server: ImapServer, distrust_test_ca) -> None:
    """Only the system's CAs trusted: the handshake fails (imaplib's own default context,
    without ssl_context, would check nothing and succeed)."""
    with pytest.raises(ssl.SSLCertVerificationError):
        imaplib.IMAP4_SSL(
            imap_server.host, imap_server.port, ssl_context=ssl.create_default_context(), timeout=5
        )
    client = imaplib.IMAP4(imap_server.host, imap_server.starttls_port, timeout=5)
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(ssl.create_default_context())
    finally:
        with contextlib.suppress(OSError):  # the failed handshake may have closed it already
            client.shutdown()


def test_certificate_names_the_host(imap_server: ImapServer) -> None:
    context = imap_server.ssl_context()
    with imaplib.IMAP4_SSL(HOST, imap_server.port, ssl_context=context) as client:
        names = {value for _kind, value in client.sock.getpeercert()["subjectAltName"]}
    assert {HOST, "127.0.0.1", "localhost"} <= names


# --- the server: messages -----------------------------------------------------------------------
def test_samples_come_back_byte_for_byte(imap_server: ImapServer) -> None:
    """APPEND every sample, then SELECT and FETCH BODY[]: the very bytes (CRLF) come back."""
    raws = [path.read_bytes() for path in sample_files()]
    for raw in raws:
        imap_server.append(raw)
    assert imap_server.messages() == [crlf(raw) for raw in raws]
    assert [crlf(raw) for raw in raws] == raws  # the samples are CRLF already

    with imap_server.session() as client:
        typ, data = client.select("INBOX")
        assert (typ, data) == ("OK", [str(len(raws)).encode()])
        typ, data = client.search(None, "UNSEEN")
        assert len(data[0].split()) == len(raws)
        typ, data = client.fetch("1", "(RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        assert f"RFC822.SIZE {len(raws[0])}".encode() in data[0][0]


def test_bare_lf_is_stored_as_crlf(imap_server: ImapServer) -> None:
    imap_server.append(b"Subject: lf\nFrom: a@b.example\n\nline 1\nline 2\n")
    assert imap_server.messages() == [
        b"Subject: lf\r\nFrom: a@b.example\r\n\r\nline 1\r\nline 2\r\n"
    ]


def test_append_to_another_folder_with_flags(imap_server: ImapServer) -> None:
    raw = (SAMPLES / "ordinary_reply.eml").read_bytes()
    imap_server.append(raw, folder="Bounces", flags=("\\Seen", "\\Flagged"))
    imap_server.append(raw, folder="Bounces")
    assert imap_server.messages() == []
    assert imap_server.messages("Bounces") == [raw, raw]
    with imap_server.session() as client:
        client.select("Bounces", readonly=True)
        _typ, data = client.fetch("1:2", "(FLAGS)")
        assert b"\\Flagged" in data[0] and b"\\Seen" in data[0]
        assert b"\\Seen" not in data[1]


def test_uidvalidity_stable_across_reconnects(imap_server: ImapServer) -> None:
    first = imap_server.uidvalidity()
    imap_server.append((SAMPLES / "autoreply.eml").read_bytes())
    assert imap_server.uidvalidity() == first
    with imap_server.session() as client:
        client.select("INBOX")
        assert client.response("UIDVALIDITY") == ("UIDVALIDITY", [str(first).encode()])
    with imap_server.session() as client:
        client.select("INBOX")
        assert client.response("UIDVALIDITY")[1] == [str(first).encode()]
    assert imap_server.uidvalidity() == first


def test_each_test_gets_an_empty_inbox(imap_server: ImapServer) -> None:
    assert imap_server.messages() == []


# --- the server: its life -----------------------------------------------------------------------
def test_stop_ends_dovecot(tmp_path: Path, test_ca) -> None:
    require_dovecot()
    server = start_dovecot(tmp_path, test_ca)
    process = server.process
    assert process is not None and process.poll() is None
    server.stop()
    assert process.poll() is not None
    for port in (server.port, server.starttls_port):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((server.host, port), timeout=2).close()
    server.stop()  # twice is harmless


def test_missing_dovecot_skips_or_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = "/nonexistent/sbin/dovecot"
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="dovecot-imapd"):
        require_dovecot(missing)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        require_dovecot(missing)
