"""SMTP connection and "Проверить соединение" against real servers on 127.0.0.1.

Each failure is provoked for real (wrong password, untrusted certificate, no STARTTLS, a
closed port, a silent server, ...) and must come out as the right kind with a Russian message
that never holds the password, on ``check_smtp`` and on ``connect`` alike.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest

from avtoprokat_mail.model import SECURITY_NAMES, Security
from avtoprokat_mail.sending.smtp import (
    FailureKind,
    SmtpFailure,
    check_smtp,
    connect,
    disconnect,
)
from tests.smtp_servers import HOST, PASSWORD, USER, ScriptedServer, SmtpServer

WRONG_PASSWORD = "неверный-Пароль-7"
APP_PASSWORD = "пароль для внешнего приложения"


@dataclass(frozen=True)
class Case:
    """A failure to provoke: the server fixture, the settings, the kind it must give."""

    kind: FailureKind
    server: str
    security: Security
    password: str | None = PASSWORD
    changes: dict[str, Any] = field(default_factory=dict)
    trusted: bool = True
    mentions: tuple[str, ...] = ()  # in the message; "{port}" stands for the server's port


PORT_HINT = ("465", "587")
FAILURES: dict[str, Case] = {
    "wrong password, STARTTLS": Case(
        FailureKind.AUTH_FAILED,
        "starttls_server",
        Security.STARTTLS,
        WRONG_PASSWORD,
        mentions=(APP_PASSWORD, "535"),  # the server's own reply is quoted
    ),
    "wrong password, SSL": Case(
        FailureKind.AUTH_FAILED,
        "ssl_server",
        Security.SSL,
        WRONG_PASSWORD,
        mentions=(APP_PASSWORD,),
    ),
    "untrusted certificate, STARTTLS": Case(
        FailureKind.CERTIFICATE,
        "starttls_server",
        Security.STARTTLS,
        trusted=False,
        mentions=("Сертификат", "не прошёл проверку", "перехватывает"),
    ),
    "untrusted certificate, SSL": Case(
        FailureKind.CERTIFICATE, "ssl_server", Security.SSL, trusted=False
    ),
    "STARTTLS not offered": Case(
        FailureKind.STARTTLS_MISSING,
        "no_starttls_server",
        Security.STARTTLS,
        mentions=("не предлагает STARTTLS", "пароль не отправлялся"),
    ),
    "SSL on the STARTTLS port": Case(
        FailureKind.TLS_FAILED,
        "starttls_server",
        Security.SSL,
        mentions=("STARTTLS", "SSL/TLS", *PORT_HINT),
    ),
    "closed port": Case(
        FailureKind.REFUSED, "closed_port", Security.SSL, mentions=("порту {port}", *PORT_HINT)
    ),
    "silent server, STARTTLS": Case(
        FailureKind.TIMEOUT,
        "silent_server",
        Security.STARTTLS,
        changes={"timeout": 1},
        mentions=("за 1 с",),
    ),
    "silent server, SSL": Case(
        FailureKind.TIMEOUT, "silent_server", Security.SSL, changes={"timeout": 1}
    ),
    "unresolvable host": Case(
        FailureKind.HOST_NOT_FOUND,
        "closed_port",
        Security.SSL,
        changes={"host": "nonexistent.invalid"},
        mentions=("Сервер «nonexistent.invalid» не найден",),
    ),
    "no password": Case(FailureKind.NO_PASSWORD, "silent_server", Security.STARTTLS, None),
    "empty password": Case(FailureKind.NO_PASSWORD, "silent_server", Security.SSL, ""),
    "no AUTH offered": Case(FailureKind.AUTH_UNSUPPORTED, "open_relay", Security.NONE),
    "server hangs up": Case(FailureKind.DISCONNECTED, "hang_up_server", Security.NONE),
    "server busy (421)": Case(
        FailureKind.DISCONNECTED, "busy_server", Security.NONE, mentions=("421",)
    ),
    "server refuses service (554)": Case(
        FailureKind.PROTOCOL, "refusing_server", Security.NONE, mentions=("554",)
    ),
    "no server name": Case(
        FailureKind.NOT_CONFIGURED, "closed_port", Security.SSL, changes={"host": ""}
    ),
}


def _arrange(case: Case, request: pytest.FixtureRequest) -> tuple[Any, Any]:
    """Start the case's server, trust (or not) the test CA; the server and the settings."""
    request.getfixturevalue("trust_test_ca" if case.trusted else "distrust_test_ca")
    server = request.getfixturevalue(case.server)
    return server, server.settings(case.security, auth=True, **case.changes)


def _assert_no_password(
    text: str, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    out, err = capsys.readouterr()
    for secret in (PASSWORD, WRONG_PASSWORD):
        for where, seen in (
            ("message", text),
            ("log", caplog.text),
            ("stdout", out),
            ("stderr", err),
        ):
            assert secret not in seen, f"the password leaked into the {where}"


@pytest.mark.parametrize("name", FAILURES)
def test_a_failure_is_explained(
    name: str,
    request: pytest.FixtureRequest,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    case = FAILURES[name]
    caplog.set_level(logging.DEBUG)
    server, settings = _arrange(case, request)

    started = time.monotonic()
    result = check_smtp(settings, case.password)
    checked = time.monotonic()
    with pytest.raises(SmtpFailure) as raised:
        connect(settings, case.password)
    finished = time.monotonic()

    failure = raised.value
    assert not result.ok
    assert failure.kind is case.kind
    assert str(failure) == failure.message == result.message
    assert settings.host in failure.message
    for words in case.mentions:
        assert words.format(port=settings.port) in failure.message
    assert checked - started < settings.timeout + 2
    assert finished - checked < settings.timeout + 2
    _assert_no_password(failure.message, caplog, capsys)
    if case.kind is FailureKind.AUTH_FAILED:
        assert server.auth_attempts == [("PLAIN", USER)] * 2  # it did reach the server
    elif isinstance(server, SmtpServer):
        assert server.auth_attempts == [], "the password went to the server"


def test_starttls_missing_sends_nothing_in_clear_text(no_starttls_server: Any) -> None:
    """The server offers AUTH without TLS: a careless client would log in; this one must not."""
    settings = no_starttls_server.settings(Security.STARTTLS, auth=True)
    with pytest.raises(SmtpFailure) as raised:
        connect(settings, PASSWORD)
    assert raised.value.kind is FailureKind.STARTTLS_MISSING
    assert no_starttls_server.auth_attempts == []
    assert no_starttls_server.handler.envelopes == []


def test_a_failed_connection_is_closed_and_nothing_follows_ehlo(
    scripted_server: Callable[..., ScriptedServer],
) -> None:
    """Byte for byte: only EHLO went out in clear text, then the client hung up at once."""
    server = scripted_server(
        [b"220 smtp.test ESMTP\r\n", b"250-smtp.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"]
    )
    with pytest.raises(SmtpFailure) as raised:
        connect(server.settings(Security.STARTTLS, auth=True), PASSWORD)
    assert raised.value.kind is FailureKind.STARTTLS_MISSING
    assert server.client_closed.wait(2), "the connection was left open"
    assert [line.split()[0].upper() for line in server.received] == [b"EHLO"]


def test_no_password_fails_without_connecting(silent_server: Any) -> None:
    settings = silent_server.settings(Security.SSL, auth=True)
    assert not check_smtp(settings, None).ok
    with pytest.raises(SmtpFailure) as raised:
        connect(settings, "")
    assert raised.value.kind is FailureKind.NO_PASSWORD
    assert silent_server.connections == 0


def test_each_kind_has_its_own_message(request: pytest.FixtureRequest) -> None:
    cases = {}
    for case in FAILURES.values():
        cases.setdefault(case.kind, case)  # the first case of every kind
    messages = set()
    for case in cases.values():
        _, settings = _arrange(case, request)
        with pytest.raises(SmtpFailure) as raised:
            connect(settings, case.password)
        messages.add(raised.value.message)
    assert len(messages) == len(cases)


@pytest.mark.parametrize(
    ("server_name", "security", "mechanism"),
    [
        ("starttls_server", Security.STARTTLS, "PLAIN"),
        ("ssl_server", Security.SSL, "PLAIN"),
        ("login_only_server", Security.STARTTLS, "LOGIN"),
    ],
)
def test_right_password_logs_in(
    server_name: str,
    security: Security,
    mechanism: str,
    request: pytest.FixtureRequest,
    trust_test_ca: Any,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    server = request.getfixturevalue(server_name)
    settings = server.settings(security, auth=True)

    result = check_smtp(settings, PASSWORD)

    assert result.ok, result.message
    assert f"{HOST}:{server.port}" in result.message
    assert SECURITY_NAMES[security] in result.message
    assert f"вход выполнен как {USER}" in result.message
    assert "Письма не отправлялись" in result.message
    assert server.auth_attempts == [(mechanism, USER)]
    assert server.handler.envelopes == []
    _assert_no_password(result.message, caplog, capsys)


@pytest.mark.parametrize(
    ("server_name", "security"),
    [("starttls_server", Security.STARTTLS), ("ssl_server", Security.SSL)],
)
def test_connect_gives_a_logged_in_session(
    server_name: str, security: Security, request: pytest.FixtureRequest, trust_test_ca: Any
) -> None:
    server = request.getfixturevalue(server_name)
    smtp = connect(server.settings(security, auth=True), PASSWORD)
    try:
        assert getattr(smtp, "password", None) is None  # not kept on the session object
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = USER, "client@example.ru", "Тест"
        message.set_content("Проверка")
        smtp.send_message(message)  # the server refuses MAIL before a successful AUTH
    finally:
        disconnect(smtp)
    assert [e.rcpt_tos for e in server.handler.envelopes] == [["client@example.ru"]]


def test_a_relay_without_auth_or_tls(open_relay: Any) -> None:
    result = check_smtp(open_relay.settings(Security.NONE, auth=False), None)
    assert result.ok, result.message
    assert "вход не требуется" in result.message
    assert "не зашифровано" in result.message


def test_a_cyrillic_computer_name_goes_out_as_punycode(
    scripted_server: Callable[..., ScriptedServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Windows computers here are often named in Russian; smtplib sends EHLO as ASCII."""
    monkeypatch.setattr(socket, "getfqdn", lambda name="": "пк-бухгалтерии.офис.local")
    server = scripted_server(
        [b"220 smtp.test ESMTP\r\n", b"250 smtp.test\r\n", b"250 OK\r\n", b"221 Bye\r\n"]
    )
    result = check_smtp(server.settings(Security.NONE), None)
    assert result.ok, result.message
    assert server.received[0].split()[1] == "пк-бухгалтерии.офис.local".encode("idna")
