"""Reading the sender's INBOX over IMAP: verified TLS, a read-only look, nothing deleted or moved.

The folder is selected read-only and messages are fetched with ``BODY.PEEK[]``, so not even the
«unread» flag changes: the person still finds every reply unread in their mail program.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any

from avtoprokat_mail.model import ImapSettings, Security
from avtoprokat_mail.sending.checks import CheckResult
from avtoprokat_mail.sending.deadline import MIN_RATE, ReplyReader

BATCH = 50  # messages fetched per command
CHECK_TIMEOUT = 20.0  # seconds for each line of the connection test
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")
_FETCHED_UID = re.compile(rb"UID (\d+)")


class _DeadlineLines:
    """Mixin for imaplib.IMAP4: each line and each literal read against a deadline."""

    sock: Any
    file: Any

    def _create_socket(self, timeout: float | None) -> socket.socket:
        self._line_timeout = timeout
        return super()._create_socket(timeout)  # type: ignore[misc]

    def _reader(self, extra: float = 0.0) -> ReplyReader:
        # open() and starttls() make a new file for a new socket: replace it by ours.
        if not isinstance(self.file, ReplyReader):
            self.file = ReplyReader(self.sock, self._line_timeout)
        self.file.start_reply(extra=extra)
        return self.file

    def readline(self) -> bytes:
        self._reader()
        return super().readline()  # type: ignore[misc]

    def read(self, size: int) -> bytes:
        return self._reader(extra=size / MIN_RATE).read(size)


class DeadlineIMAP4(_DeadlineLines, imaplib.IMAP4):
    """imaplib.IMAP4 whose lines have deadlines."""


class DeadlineIMAP4_SSL(_DeadlineLines, imaplib.IMAP4_SSL):
    """imaplib.IMAP4_SSL whose lines have deadlines."""


class InboxError(Exception):
    """The INBOX cannot be read; ``str()`` says why, in Russian."""


def read_inbox(
    settings: ImapSettings,
    user: str,
    password: str,
    *,
    is_new: Callable[[int, int], bool] = lambda uidvalidity, uid: True,
    timeout: float = 30.0,
) -> tuple[int, Iterator[tuple[int, bytes]]]:
    """(UIDVALIDITY, the new messages as (uid, raw bytes)); the connection closes at the end."""
    connection = _connect(settings, user, password, timeout)
    try:
        status, _ = connection.select("INBOX", readonly=True)
        if status != "OK":
            raise InboxError(f"Папка «Входящие» на {settings.host} не открывается.")
        uidvalidity = int(_first(connection.response("UIDVALIDITY")[1], _UIDVALIDITY) or 0)
        status, data = connection.uid("SEARCH", None, "ALL")
        uids = [int(u) for u in (data[0] or b"").split()] if status == "OK" else []
        wanted = [uid for uid in uids if is_new(uidvalidity, uid)]
        messages = list(_fetch(connection, wanted))
    except TimeoutError:
        raise InboxError(_too_slow(settings, timeout)) from None
    except (imaplib.IMAP4.error, OSError) as error:
        raise InboxError(f"Чтение почты на {settings.host} прервалось: {error}") from None
    finally:
        _close(connection)
    return uidvalidity, iter(messages)


def check_imap(settings: ImapSettings, user: str, password: str | None) -> CheckResult:
    """The IMAP half of «Проверить соединение»: connect, log in, open INBOX; nothing read."""
    if not password:
        return CheckResult(False, f"IMAP {settings.host}: пароль не задан.")
    try:
        connection = _connect(settings, user, password, timeout=CHECK_TIMEOUT)
    except InboxError as error:
        return CheckResult(False, f"IMAP: {error}")
    try:
        status, data = connection.select("INBOX", readonly=True)
    except TimeoutError:
        return CheckResult(False, f"IMAP: {_too_slow(settings, CHECK_TIMEOUT)}")
    except (imaplib.IMAP4.error, OSError) as error:
        return CheckResult(False, f"IMAP {settings.host}: папка «Входящие» не открывается: {error}")
    finally:
        _close(connection)
    count = data[0].decode() if status == "OK" and data and data[0] else "?"
    return CheckResult(True, f"IMAP {settings.host}: вход выполнен, во «Входящих» писем: {count}")


def _connect(settings: ImapSettings, user: str, password: str, timeout: float) -> imaplib.IMAP4:
    if not settings.host:
        raise InboxError("Не указан IMAP-сервер: заполните его в «Параметрах» на вкладке EMail.")
    context = ssl.create_default_context()  # certificates verified, as for SMTP
    where = f"{settings.host}:{settings.port}"
    try:
        if settings.security is Security.SSL:
            connection = DeadlineIMAP4_SSL(
                settings.host, settings.port, ssl_context=context, timeout=timeout
            )
        else:
            connection = DeadlineIMAP4(settings.host, settings.port, timeout=timeout)
            if settings.security is Security.STARTTLS:
                connection.starttls(ssl_context=context)
    except socket.gaierror:
        raise InboxError(f"IMAP-сервер «{settings.host}» не найден: проверьте его имя.") from None
    except ssl.SSLCertVerificationError as error:
        raise InboxError(
            f"Сертификат IMAP-сервера {where} не подтверждён ({error.verify_message}): "
            "соединение небезопасно, пароль не отправлен."
        ) from None
    except (ssl.SSLError, imaplib.IMAP4.error) as error:
        raise InboxError(
            f"Не удалось установить защищённое соединение с {where}: {error}. Проверьте порт "
            "и шифрование (обычно 993, SSL/TLS)."
        ) from None
    except TimeoutError:
        raise InboxError(_too_slow(settings, timeout)) from None
    except OSError as error:
        raise InboxError(f"Нет соединения с IMAP-сервером {where}: {error}.") from None
    _login(connection, settings, user, password, timeout)
    return connection


def _too_slow(settings: ImapSettings, timeout: float) -> str:
    return (
        f"IMAP-сервер {settings.host}:{settings.port} не ответил за {timeout:g} с. Проверьте "
        "имя сервера, порт и подключение к интернету и повторите попытку позже."
    )


def _login(
    connection: imaplib.IMAP4, settings: ImapSettings, user: str, password: str, timeout: float
) -> None:
    try:
        if user.isascii() and password.isascii():
            connection.login(user, password)
        else:  # LOGIN cannot carry non-ASCII; AUTHENTICATE PLAIN carries UTF-8
            secret = f"\0{user}\0{password}".encode()
            connection.authenticate("PLAIN", lambda _challenge: secret)
    except TimeoutError:
        _close(connection)
        raise InboxError(_too_slow(settings, timeout)) from None
    except imaplib.IMAP4.error:
        _close(connection)
        raise InboxError(
            f"IMAP-сервер {settings.host} не принял логин «{user}» и пароль. У mail.ru, Яндекса "
            "и Gmail нужен пароль для внешнего приложения, и доступ по IMAP должен быть включён "
            "в настройках ящика."
        ) from None


def _fetch(connection: imaplib.IMAP4, uids: list[int]) -> Iterator[tuple[int, bytes]]:
    for start in range(0, len(uids), BATCH):
        batch = ",".join(str(uid) for uid in uids[start : start + BATCH])
        status, data = connection.uid("FETCH", batch, "(UID BODY.PEEK[])")
        if status != "OK":
            continue
        for item in data:
            if isinstance(item, tuple) and len(item) == 2:
                uid = _first([item[0]], _FETCHED_UID)
                if uid:
                    yield int(uid), item[1]


def _first(items, pattern: re.Pattern[bytes]) -> bytes | None:
    for item in items or ():
        if isinstance(item, bytes) and (match := pattern.search(item)):
            return match.group(1)
        if isinstance(item, bytes) and item.isdigit():
            return item
    return None


def _close(connection: imaplib.IMAP4) -> None:
    with contextlib.suppress(imaplib.IMAP4.error, OSError):
        connection.logout()
