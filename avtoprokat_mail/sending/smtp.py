"""The program's SMTP connection: TLS modes, certificate checks, login, plain-Russian errors.

"Проверить соединение" and ``settings test`` call :func:`check_smtp`; the mailing engine calls
:func:`connect` once per run and again after a dropped connection (a failure whose kind is in
:data:`CONNECTION_LOST`), sends with ``send_message`` and translates what goes wrong with
:func:`explain`. No tkinter here. A server offering PIPELINING (RFC 2920) gets MAIL FROM,
RCPT TO and DATA in one write: two round trips a message instead of four; and the engine
hands it :data:`PIPELINED_BATCH` messages at once (:meth:`SmtpTransport.send_batch`), each
message's content going out with the next one's MAIL, RCPT and DATA: n + 1 round trips for n.

The password never reaches a log, a message or the ``smtplib.SMTP`` object: the login is done
here (:func:`_login`), not by ``SMTP.login``, which keeps the password on the object and
encodes it as ASCII, so a Cyrillic password would fail with UnicodeEncodeError.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import smtplib
import socket
import ssl
import time
from base64 import b64encode
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from avtoprokat_mail.model import (
    APP_PASSWORD_HINT,
    SECURITY_NAMES,
    Delivery,
    EmailSettings,
    Security,
)
from avtoprokat_mail.redaction import hide_secret
from avtoprokat_mail.sending.checks import CheckResult
from avtoprokat_mail.sending.deadline import DeadlineSMTP, DeadlineSMTP_SSL
from avtoprokat_mail.sending.message import wire_address
from avtoprokat_mail.sending.replies import ReplyKind, classify
from avtoprokat_mail.sending.transport import DeliveryError

logger = logging.getLogger(__name__)


class FailureKind(Enum):
    """Why a connection failed; the engine decides on it (stop the run, or reconnect)."""

    NOT_CONFIGURED = "not_configured"  # no server name, or no login while AUTH is on
    NO_PASSWORD = "no_password"
    HOST_NOT_FOUND = "host_not_found"
    REFUSED = "refused"
    NETWORK = "network"  # any other socket error: no route, network down, aborted
    TIMEOUT = "timeout"
    CERTIFICATE = "certificate"
    TLS_FAILED = "tls_failed"
    STARTTLS_MISSING = "starttls_missing"
    AUTH_FAILED = "auth_failed"
    AUTH_UNSUPPORTED = "auth_unsupported"
    DISCONNECTED = "disconnected"  # the server closed the connection (or replied 421)
    PROTOCOL = "protocol"  # any other error reply of the server


# The replies of setting a connection up (greeting, EHLO, STARTTLS, AUTH) share a deadline
# of this many timeouts, and so do all the replies of the connection test.
SETUP_TIMEOUTS = CHECK_TIMEOUTS = 2

RATE_FIRST_PAUSE, RATE_MAX_PAUSE = 2.0, 60.0  # seconds between messages after "too many"

# Messages a transport takes at once over a PIPELINING connection (send_batch): n of them take
# n + 1 round trips; more would gain little and leave more in doubt if the connection drops.
PIPELINED_BATCH = 4

# Refusals that concern the whole run: continuing would meet the same refusal for everyone.
_STOP_THE_RUN = frozenset({ReplyKind.SPAM, ReplyKind.SIZE, ReplyKind.POLICY, ReplyKind.SENDER})
_MAILBOX_KINDS = frozenset({ReplyKind.POLICY, ReplyKind.SENDER})  # another mailbox may do

# After these the engine connects again and retries the message; the others stop a run.
CONNECTION_LOST = frozenset({FailureKind.DISCONNECTED, FailureKind.TIMEOUT})

_PORT_HINT = "Обычно порт 465 (защита SSL/TLS) или 587 (STARTTLS)."
_MESSAGES: dict[FailureKind, str] = {
    FailureKind.NOT_CONFIGURED: "Настройки почты не заполнены: {detail}.",
    FailureKind.NO_PASSWORD: (
        "Не задан пароль для входа на {host} как «{user}»: введите его в «Параметрах» на "
        "вкладке EMail (в командной строке: settings set-password). Соединение не "
        "устанавливалось."
    ),
    FailureKind.HOST_NOT_FOUND: (
        "Сервер «{host}» не найден: проверьте имя SMTP-сервера и подключение к интернету."
    ),
    FailureKind.REFUSED: (
        "Сервер {host} отказал в подключении к порту {port}: на этом порту почту не "
        "принимают. Проверьте номер порта. " + _PORT_HINT
    ),
    FailureKind.NETWORK: (
        "Не удалось подключиться к {host}:{port} ({detail}). Проверьте подключение к "
        "интернету; порт может блокировать брандмауэр или антивирус."
    ),
    FailureKind.TIMEOUT: (
        "Сервер {host}:{port} не ответил за {timeout} с. Проверьте имя сервера, порт и "
        "подключение к интернету; порт может блокировать брандмауэр или провайдер.{hint}"
    ),
    FailureKind.CERTIFICATE: (
        "Сертификат сервера {host} не прошёл проверку ({detail}): он выдан не для этого "
        "имени или не заверен доверенным центром. Так бывает, если указано не то имя "
        "сервера или соединение перехватывает антивирус либо прокси. Пароль не отправлялся."
    ),
    FailureKind.TLS_FAILED: (
        "Не удалось установить защищённое соединение с {host}:{port} ({security}, ошибка "
        "{detail}). "
        "Возможно, для этого порта выбран не тот тип защиты: для порта 587 обычно STARTTLS, "
        "для 465 — SSL/TLS."
    ),
    FailureKind.STARTTLS_MISSING: (
        "Сервер {host}:{port} не предлагает STARTTLS, поэтому защищённое соединение не "
        "установлено и пароль не отправлялся. Если это порт 465, выберите защиту SSL/TLS; "
        "иначе уточните настройки у почтового провайдера."
    ),
    FailureKind.AUTH_FAILED: (
        "Сервер {host} не принял логин «{user}» или пароль (ответ сервера: {detail}). "
        + APP_PASSWORD_HINT
    ),
    FailureKind.AUTH_UNSUPPORTED: (
        "Сервер {host}:{port} ({security}) не предлагает вход по паролю{detail}. Если сервер "
        "принимает пароль только по защищённому соединению, выберите STARTTLS (порт 587) или "
        "SSL/TLS (порт 465); если вход не нужен, снимите «Требуется аутентификация SMTP»."
    ),
    FailureKind.DISCONNECTED: (
        "Сервер {host}:{port} неожиданно закрыл соединение{detail}. Возможно, он перегружен "
        "или ограничивает число подключений: попробуйте позже. Если это повторяется, "
        "проверьте порт и тип защиты."
    ),
    FailureKind.PROTOCOL: "Сервер {host}:{port} ответил ошибкой: {detail}.",
}


class SmtpFailure(Exception):
    """A connection or session failure; ``message`` (== ``str()``) is for the user, in Russian."""

    def __init__(self, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def failure(kind: FailureKind, settings: EmailSettings, detail: str = "") -> SmtpFailure:
    """The failure of ``kind`` with its message filled in from the settings."""
    hint = ""
    if kind is FailureKind.TIMEOUT and settings.port == 465 and settings.security != Security.SSL:
        hint = " На порту 465 сервер ждёт защищённого соединения с первого байта: выберите SSL/TLS."
    message = _MESSAGES[kind].format(
        host=settings.host,
        port=settings.port,
        user=settings.user,
        security=SECURITY_NAMES[settings.security],
        timeout=settings.timeout,
        detail=detail,
        hint=hint,
    )
    return SmtpFailure(kind, message)


def explain(error: BaseException, settings: EmailSettings) -> SmtpFailure:
    """Translate what smtplib, ssl or socket raised into a failure the user can act on.

    The single translation table of the program: the check and the engine both use it.
    """
    if isinstance(error, SmtpFailure):
        return error
    if isinstance(error, smtplib.SMTPServerDisconnected) and isinstance(error.__context__, OSError):
        # smtplib reports a timeout or a reset while reading a reply as "disconnected";
        # the socket error underneath says what really happened.
        return explain(error.__context__, settings)
    if isinstance(error, smtplib.SMTPException):
        return _explain_smtp(error, settings)
    if isinstance(error, OSError):
        return _explain_os(error, settings)
    return failure(FailureKind.PROTOCOL, settings, f"{type(error).__name__}: {error}")


def _explain_smtp(error: smtplib.SMTPException, settings: EmailSettings) -> SmtpFailure:
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return failure(FailureKind.DISCONNECTED, settings)
    if isinstance(error, smtplib.SMTPResponseException):
        reply = _reply(error.smtp_code, error.smtp_error)
        if isinstance(error, smtplib.SMTPAuthenticationError):
            return failure(FailureKind.AUTH_FAILED, settings, reply)
        if error.smtp_code == 421:  # "service not available, closing transmission channel"
            return failure(FailureKind.DISCONNECTED, settings, f" (ответ сервера: {reply})")
        return failure(FailureKind.PROTOCOL, settings, reply)
    return failure(FailureKind.PROTOCOL, settings, str(error))


def _explain_os(error: OSError, settings: EmailSettings) -> SmtpFailure:
    if isinstance(error, socket.gaierror):
        return failure(FailureKind.HOST_NOT_FOUND, settings)
    if isinstance(error, ConnectionRefusedError):
        return failure(FailureKind.REFUSED, settings)
    if isinstance(error, TimeoutError):  # socket.timeout is TimeoutError since 3.10
        return failure(FailureKind.TIMEOUT, settings)
    if isinstance(error, ssl.SSLCertVerificationError):
        return failure(FailureKind.CERTIFICATE, settings, error.verify_message or str(error))
    if isinstance(error, ssl.SSLError):
        return failure(FailureKind.TLS_FAILED, settings, error.reason or str(error))
    if isinstance(error, ConnectionResetError | ConnectionAbortedError | BrokenPipeError):
        return failure(FailureKind.DISCONNECTED, settings)
    return failure(FailureKind.NETWORK, settings, error.strerror or str(error))


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}".strip()


def connect(
    settings: EmailSettings,
    password: str | None,
    *,
    context: ssl.SSLContext | None = None,
    deadline: float | None = None,
) -> smtplib.SMTP:
    """A connected, EHLO'd and (when ``settings.auth``) logged-in session.

    The server's certificate is always verified (``context`` defaults to
    ``ssl.create_default_context()``, which honours SSL_CERT_FILE). Raises SmtpFailure; a
    half-open connection is closed first.

    Each reply must arrive within ``settings.timeout``, and all the replies of the setting up
    by ``deadline`` (a ``time.monotonic()`` value; by default :data:`SETUP_TIMEOUTS` timeouts
    from now), so a server trickling bytes is a timeout. The returned session keeps
    ``deadline`` when one was given (the connection test), else replies have the timeout only.
    """
    if not settings.host.strip():
        raise failure(FailureKind.NOT_CONFIGURED, settings, "не указан SMTP-сервер")
    if settings.auth and not settings.user:
        raise failure(FailureKind.NOT_CONFIGURED, settings, "не указан пользователь для входа")
    if settings.auth and not password:
        raise failure(FailureKind.NO_PASSWORD, settings)
    context = context or ssl.create_default_context()
    setup_deadline = deadline or time.monotonic() + SETUP_TIMEOUTS * settings.timeout
    smtp: smtplib.SMTP | None = None
    try:
        smtp = _connected(settings, context, setup_deadline)
        _secure_and_log_in(smtp, settings, password if settings.auth else None, context)
    except BaseException as error:
        if smtp is not None:
            smtp.close()
        if not isinstance(error, Exception):
            raise  # KeyboardInterrupt and the like are not connection failures
        problem = explain(error, settings)
        logger.info("SMTP %s:%s: %s", settings.host, settings.port, problem.message)
        raise problem from error
    smtp.deadline = deadline  # type: ignore[attr-defined]  # a DeadlineSMTP
    return smtp


def _connected(settings: EmailSettings, context: ssl.SSLContext, deadline: float) -> smtplib.SMTP:
    """TCP (and for SSL the TLS handshake) and the server's greeting, which must be 220."""
    host, port, timeout, name = settings.host.strip(), settings.port, settings.timeout, _ehlo_name()
    if settings.security == Security.SSL:
        return DeadlineSMTP_SSL(
            host, port, name, timeout=timeout, context=context, deadline=deadline
        )
    return DeadlineSMTP(host, port, name, timeout=timeout, deadline=deadline)


def _ehlo_name() -> str:
    """This computer's name for EHLO, as smtplib picks it, but always ASCII.

    smtplib sends commands as ASCII, so a Cyrillic Windows computer name (common here) would
    fail every connection with UnicodeEncodeError: such a name goes out as punycode.
    """
    name = socket.getfqdn()
    if "." not in name:  # not a domain name: an address literal, as smtplib does
        try:
            name = f"[{socket.gethostbyname(socket.gethostname())}]"
        except (OSError, UnicodeError):
            name = "[127.0.0.1]"
    if name.isascii():
        return name
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return "localhost"


def _secure_and_log_in(
    smtp: smtplib.SMTP, settings: EmailSettings, password: str | None, context: ssl.SSLContext
) -> None:
    smtp.ehlo_or_helo_if_needed()
    if settings.security == Security.STARTTLS:
        if not smtp.has_extn("starttls"):
            raise failure(FailureKind.STARTTLS_MISSING, settings)
        smtp.starttls(context=context)
        smtp.ehlo_or_helo_if_needed()  # the capabilities said before TLS no longer count
    if password is not None:
        _login(smtp, settings, password)


def _login(smtp: smtplib.SMTP, settings: EmailSettings, password: str) -> None:
    """AUTH PLAIN, else AUTH LOGIN, with UTF-8 credentials (RFC 4616; what servers accept)."""
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" in offered:
        code, reply = smtp.docmd("AUTH", "PLAIN " + _b64(f"\0{settings.user}\0{password}"))
    elif "LOGIN" in offered:
        code, reply = smtp.docmd("AUTH", "LOGIN " + _b64(settings.user))
        if code == 334:
            code, reply = smtp.docmd(_b64(password))
    else:
        detail = f" (предлагает только {', '.join(offered)})" if offered else ""
        raise failure(FailureKind.AUTH_UNSUPPORTED, settings, detail)
    if code not in (235, 503):  # 503: already authenticated
        # The reply may echo the exchange (base64 of login and password): it is quoted to
        # the user, logged and stored, so it loses the secret here, where it entered.
        said = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
        raise smtplib.SMTPAuthenticationError(code, hide_secret(said, password))


def _b64(text: str) -> str:
    return b64encode(text.encode("utf-8")).decode("ascii")


def disconnect(smtp: smtplib.SMTP) -> None:
    """QUIT politely when the server still listens; close the socket in any case."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def check_smtp(settings: EmailSettings, password: str | None) -> CheckResult:
    """Connect, negotiate TLS, log in, NOOP, QUIT: the settings work. Sends no mail."""
    try:
        deadline = time.monotonic() + CHECK_TIMEOUTS * settings.timeout
        smtp = connect(settings, password, deadline=deadline)
    except SmtpFailure as problem:
        return CheckResult(False, problem.message)
    try:
        code, reply = smtp.noop()
        if code != 250:
            raise smtplib.SMTPResponseException(code, reply)
    except Exception as error:
        smtp.close()
        return CheckResult(False, explain(error, settings).message)
    offers_tls = settings.security is Security.NONE and smtp.has_extn("starttls")
    disconnect(smtp)
    message = _success(settings)
    if offers_tls and settings.auth:
        message += f" {CLEAR_TEXT_ADVICE}"
    return CheckResult(True, message)


CLEAR_TEXT_ADVICE = (
    "Сервер поддерживает STARTTLS: выберите шифрование STARTTLS в «Параметрах», чтобы пароль "
    "не передавался открытым текстом."
)


def _success(settings: EmailSettings) -> str:
    where = f"{settings.host}:{settings.port} ({SECURITY_NAMES[settings.security]})"
    message = f"Соединение с {where} установлено, "
    message += f"вход выполнен как {settings.user}." if settings.auth else "вход не требуется."
    if settings.security == Security.NONE:
        message += " Внимание: соединение не зашифровано"
        message += ", пароль передаётся открытым текстом." if settings.auth else "."
    return message + " Письма не отправлялись."


# Connecting again after a dropped connection may meet these and still be worth retrying;
# any other failure to connect (wrong password, certificate, unknown host) stops the run.
_RETRYABLE_CONNECT = CONNECTION_LOST | {FailureKind.NETWORK}


MAYBE_DELIVERED = "Письмо передано серверу, но он не подтвердил приём: оно могло уйти."
NO_SMTPUTF8 = "Адрес написан не латиницей, а сервер не поддерживает такие адреса (SMTPUTF8)."
# The start of the reply of a message of a batch that never went out (the connection failed,
# or an earlier message's refusal ended the batch): it is sent again later.
NOT_SENT = "Письмо не отправлялось:"


class _DataWatch:
    """What smtplib's ``sendmail`` does not tell: was the whole message written, and what did
    the server answer to it. Installed on the session's instance for one message.

    When the server offers PIPELINING, the session's ``sendmail`` (which ``send_message``
    calls too) becomes :func:`_sendmail_pipelined` for that message."""

    def __init__(self, smtp: smtplib.SMTP) -> None:
        self.sent = False  # the final "." went out: the message is on the server
        self.reply = ""  # the server's answer to the message (DATA), e.g. "250 2.0.0 Ok: queued"
        send, data = type(smtp).send, type(smtp).data

        def watched_send(chunk: bytes | str) -> None:
            send(smtp, chunk)
            if isinstance(chunk, bytes) and chunk.endswith(b"\r\n.\r\n"):
                self.sent = True

        def watched_data(message: bytes | str) -> tuple[int, bytes]:
            code, text = data(smtp, message)
            self.reply = _reply(code, text)
            return code, text

        smtp.send = watched_send  # smtplib's data() calls self.send()
        smtp.data = watched_data
        if smtp.has_extn("pipelining"):
            smtp.sendmail = functools.partial(_sendmail_pipelined, smtp, self)
        else:
            vars(smtp).pop("sendmail", None)


_BARE_EOL = re.compile(r"(?:\r\n|\n|\r(?!\n))")  # smtplib's _fix_eols
_LEADING_DOT = re.compile(rb"(?m)^\.")  # smtplib's _quote_periods


def _sendmail_pipelined(
    smtp: smtplib.SMTP,
    watch: _DataWatch,
    from_addr: str,
    to_addrs: str | list[str],
    msg: bytes | str,
    mail_options: tuple[str, ...] | list[str] = (),
    rcpt_options: tuple[str, ...] | list[str] = (),
) -> dict[str, tuple[int, bytes]]:
    """``smtplib.SMTP.sendmail`` with MAIL, RCPT and DATA in one write (RFC 2920).

    Two round trips a message instead of four. The options, the replies read and the
    exceptions raised are those of smtplib's ``sendmail`` for the same replies, so that
    :meth:`SmtpTransport.send` explains them the same way. What pipelining adds: after a
    refused MAIL or RCPT the replies still due (the server refuses the DATA sent ahead, RFC
    2920 §3.1) are read before the RSET that smtplib sends; a server that answers that DATA
    with 354 all the same is in the middle of a message no RSET can end: the connection is
    closed (the next message connects again).
    """
    smtp.ehlo_or_helo_if_needed()
    if isinstance(msg, str):
        msg = _BARE_EOL.sub("\r\n", msg).encode("ascii")
    if isinstance(to_addrs, str):
        to_addrs = [to_addrs]
    smtp.send(_envelope_commands(smtp, from_addr, to_addrs, msg, mail_options, rcpt_options))

    code, resp = smtp.getreply()  # MAIL
    if code != 250:
        if code == 421:
            smtp.close()
        else:
            _abandon(smtp, due=len(to_addrs) + 1)
        raise smtplib.SMTPSenderRefused(code, resp, from_addr)
    refused: dict[str, tuple[int, bytes]] = {}
    for each in to_addrs:
        code, resp = smtp.getreply()  # RCPT
        if code not in (250, 251):
            refused[each] = (code, resp)
        if code == 421:
            smtp.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(to_addrs):
        _abandon(smtp, due=1)
        raise smtplib.SMTPRecipientsRefused(refused)
    code, resp = smtp.getreply()  # DATA
    if code != 354:
        raise smtplib.SMTPDataError(code, resp)  # as smtplib's data(): no RSET
    smtp.send(_stuffed(msg))
    code, resp = smtp.getreply()  # the message
    watch.reply = _reply(code, resp)
    if code != 250:
        if code == 421:
            smtp.close()
        else:
            smtp._rset()
        raise smtplib.SMTPDataError(code, resp)
    return refused


def _envelope_commands(
    smtp: smtplib.SMTP,
    from_addr: str,
    to_addrs: list[str],
    msg: bytes,
    mail_options: tuple[str, ...] | list[str] = (),
    rcpt_options: tuple[str, ...] | list[str] = (),
) -> bytes:
    """MAIL FROM, RCPT TO for each address and DATA, as smtplib's ``sendmail`` would write
    them (the same options, the same refusal of newlines), ready for one write."""
    options: list[str] = []
    if smtp.does_esmtp:
        if smtp.has_extn("size"):
            options.append(f"size={len(msg)}")
        options.extend(mail_options)
    commands = [_mail_command(smtp, from_addr, options)]
    rcpt_tail = " " + " ".join(rcpt_options) if rcpt_options and smtp.does_esmtp else ""
    commands += [f"rcpt TO:{smtplib.quoteaddr(each)}{rcpt_tail}" for each in to_addrs]
    commands.append("data")
    for command in commands:  # as smtplib's putcmd
        if "\r" in command or "\n" in command:
            shown = command.replace("\n", "\\n").replace("\r", "\\r")
            raise ValueError(
                f"command and arguments contain prohibited newline characters: {shown}"
            )
    return "".join(f"{command}\r\n" for command in commands).encode(smtp.command_encoding)


def _stuffed(msg: bytes) -> bytes:
    """The message as it goes after DATA's 354: leading dots doubled, ending CRLF "." CRLF."""
    body = _LEADING_DOT.sub(b"..", msg)
    if body[-2:] != b"\r\n":
        body += b"\r\n"
    return body + b".\r\n"


def _mail_command(smtp: smtplib.SMTP, sender: str, options: list[str]) -> str:
    """MAIL FROM as smtplib's ``mail`` writes it; SMTPUTF8 switches the commands to UTF-8."""
    tail = ""
    if options and smtp.does_esmtp:
        if any(option.lower() == "smtputf8" for option in options):
            if not smtp.has_extn("smtputf8"):
                raise smtplib.SMTPNotSupportedError("SMTPUTF8 not supported by server")
            smtp.command_encoding = "utf-8"
        tail = " " + " ".join(options)
    return f"mail FROM:{smtplib.quoteaddr(sender)}{tail}"


def _abandon(smtp: smtplib.SMTP, due: int) -> None:
    """After a refusal: read the ``due`` replies still owed, then RSET as smtplib does.

    A 421 among them, or a lost connection, closes it (smtplib's ``_rset`` ignores a lost
    connection too: the next command finds out); 354 to the DATA sent ahead closes it too.
    """
    try:
        for _ in range(due):
            code, _text = smtp.getreply()
            if code == 421:
                smtp.close()
                return
    except smtplib.SMTPException:  # getreply has closed the connection
        smtp.close()
        return
    if code == 354:
        smtp.close()
        return
    smtp._rset()


class SmtpTransport:
    """One SMTP session for a whole run, connected again when the server drops it.

    A reply of 4xx or a lost connection is temporary (the engine retries later); 5xx for a
    recipient is permanent for that recipient; a refused sender, a refused login or a
    connection that cannot be made at all is fatal for the run.
    """

    def __init__(
        self,
        settings: EmailSettings,
        password: str | None,
        *,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self._password = password
        self._context = context
        self._smtp: smtplib.SMTP | None = None
        self._sender = wire_address(settings.sender_address)
        # "Too many, slow down" (a rate refusal) keeps a pause between messages from then on:
        # doubled at each such refusal, halved after each accepted message.
        self.pause = 0.0
        self._slow_downs = 0  # rate refusals met so far: one in a batch ends the batch
        self._last_message = 0.0

    def open(self) -> None:
        self._connect()

    def another(self) -> SmtpTransport:
        """One more connection like this one (not yet open), for a run's parallel connections."""
        return SmtpTransport(self.settings, self._password, context=self._context)

    def _connect(self) -> smtplib.SMTP:
        try:
            self._smtp = connect(self.settings, self._password, context=self._context)
        except SmtpFailure as problem:
            temporary = problem.kind in _RETRYABLE_CONNECT
            raise DeliveryError(
                problem.message,
                temporary=temporary,
                fatal=not temporary,
                connection=True,
                mailbox=not temporary,
            ) from None
        return self._smtp

    @property
    def batch_size(self) -> int:
        """How many messages the engine may hand to :meth:`send_batch` at once.

        :data:`PIPELINED_BATCH` on a live connection that offers PIPELINING, else 1 (no
        connection yet: the first message goes alone, then batches). Also 1 while a rate
        refusal's pause lasts: the engine then spaces the messages one by one.
        """
        smtp = self._smtp
        if smtp is None or smtp.sock is None or self.pause or not smtp.has_extn("pipelining"):
            return 1
        return PIPELINED_BATCH

    def send_batch(self, items: Sequence[tuple[Delivery, object]]) -> list[str | DeliveryError]:
        """Send ``items`` over this connection; per message, in order, its reply or refusal.

        With PIPELINING each message's content and the next one's MAIL, RCPT and DATA go out
        in one write (RFC 2920 §3.1): n messages take n + 1 round trips. Each outcome is what
        :meth:`send` would say for the same reply. A refusal that concerns the mailbox
        (fatal, quota) is given to the messages not yet sent too; a lost connection or a
        "too many, slow down" leaves them with a temporary error, to be sent again; a message
        whose content went out and whose answer did not come is uncertain. Raises
        DeliveryError only when no connection can be made (nothing went out).
        """
        if len(items) > 1 and (self._smtp is None or self._smtp.sock is None):
            self._connect()
        smtp = self._smtp
        if len(items) <= 1 or smtp is None or not smtp.has_extn("pipelining"):
            return self._send_each(items)
        return _PipelinedBatch(self, smtp, items).run()

    def _send_each(self, items: Sequence[tuple[Delivery, object]]) -> list[str | DeliveryError]:
        """One :meth:`send` after another (no PIPELINING), stopping as a pipelined batch does."""
        outcomes: list[str | DeliveryError] = []
        for delivery, payload in items:
            slow_downs = self._slow_downs
            try:
                outcomes.append(self.send(delivery, payload))
            except DeliveryError as error:
                outcomes.append(error)
                if error.fatal or error.quota or error.connection or self._slow_downs > slow_downs:
                    rest = self._not_sent(error)
                    outcomes += [rest] * (len(items) - len(outcomes))
                    break
        return outcomes

    def _not_sent(self, cause: DeliveryError, reason: str = "") -> DeliveryError:
        """The outcome of a message of the batch left unsent because of ``cause``.

        A refusal of the mailbox (fatal, quota) holds for it as well; otherwise it is a
        temporary connection-class error, never uncertain: the engine sends it again and,
        when the connection keeps failing, stops the run rather than failing the recipient.
        """
        if cause.fatal or cause.quota:
            return DeliveryError(
                cause.reply, fatal=cause.fatal, quota=cause.quota, mailbox=cause.mailbox
            )
        reason = reason or cause.reply.removeprefix(MAYBE_DELIVERED).strip()
        return DeliveryError(f"{NOT_SENT} {reason}", temporary=True, connection=True)

    def send(self, delivery: Delivery, payload: object) -> str:
        self._last_message = time.monotonic()
        smtp = self._smtp or self._connect()
        watch = _DataWatch(smtp)
        try:
            recipients = [wire_address(delivery.recipient)]
            if isinstance(payload, bytes):  # already the bytes for the wire (EmailFactory)
                smtp.sendmail(self._sender, recipients, payload)
            else:
                smtp.send_message(payload, self._sender, recipients)
        except smtplib.SMTPRecipientsRefused as error:
            code, text = next(iter(error.recipients.values()))
            raise self._refusal(code, text, "rcpt") from None
        except smtplib.SMTPSenderRefused as error:
            raise self._sender_refusal(error.smtp_code, error.smtp_error) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryError(NO_SMTPUTF8) from None
        except smtplib.SMTPResponseException as error:
            if error.smtp_code != 421:
                # smtplib leaves the transaction open when the DATA command itself is refused:
                # the next MAIL would get «503 nested MAIL» and pass for a refused sender.
                self._reset(smtp)
            raise self._refusal(error.smtp_code, error.smtp_error, "data") from None
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            lost = self._lost(explain(error, self.settings))
            if watch.sent:  # the message is on the server; only its answer is missing
                raise DeliveryError(
                    f"{MAYBE_DELIVERED} {lost.reply}", uncertain=True, connection=True
                ) from None
            raise lost from None
        self._accepted()
        return watch.reply or "250 принято сервером"

    def _accepted(self) -> None:
        """A message went through: the pause a rate refusal asked for shrinks."""
        self.pause = self.pause / 2 if self.pause >= RATE_FIRST_PAUSE / 4 else 0.0

    def _sender_refusal(self, code: int, text: bytes | str) -> DeliveryError:
        """MAIL FROM refused: the sender itself (fatal for this mailbox), or as any refusal."""
        if classify(code, text, stage="mail").kind is ReplyKind.SENDER:
            return DeliveryError(
                f"Сервер не принимает письма от {self.settings.sender_address}: "
                f"{_reply(code, text)}. Проверьте «Email отправителя» в параметрах: обычно он "
                "должен совпадать с адресом ящика, через который идёт отправка.",
                fatal=True,
                mailbox=True,
            )
        return self._refusal(code, text, "mail")

    @staticmethod
    def _reset(smtp: smtplib.SMTP) -> None:
        """End the refused transaction (RSET); a lost connection shows at the next message."""
        with contextlib.suppress(smtplib.SMTPException, OSError):
            smtp.rset()

    def _refusal(self, code: int, text: bytes | str, stage: str) -> DeliveryError:
        """What a refusal means for the run, from the reply code, the enhanced status code and
        the providers' known texts (sending/replies.py).

        The mailbox over its sending quota waits a day (no more attempts, which would extend a
        provider's block); spam, size and policy refusals stop the run with the server's words
        and advice (continuing would fail everyone the same way, or worse); a recipient's
        refusal fails that recipient; a 4xx is tried again later (421: the server hung up).
        """
        refusal = classify(code, text, stage=stage)
        if refusal.kind is ReplyKind.RATE:
            self.pause = min(max(self.pause * 2, RATE_FIRST_PAUSE), RATE_MAX_PAUSE)
            self._slow_downs += 1
        if refusal.kind is ReplyKind.SENDING_QUOTA:
            self._drop()
            return DeliveryError(refusal.explain(), quota=True)
        if refusal.kind in _STOP_THE_RUN:
            self._drop()
            return DeliveryError(
                refusal.explain(), fatal=True, mailbox=refusal.kind in _MAILBOX_KINDS
            )
        if code == 421:  # smtplib has closed the socket already
            return self._lost(explain(smtplib.SMTPResponseException(code, text), self.settings))
        return DeliveryError(_reply(code, text), temporary=refusal.temporary)

    def _drop(self) -> None:
        """Let the connection go: the run stops, or this mailbox waits a day."""
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    def _lost(self, problem: SmtpFailure) -> DeliveryError:
        """The connection is gone: drop it; the next send connects again."""
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None
        return DeliveryError(problem.message, temporary=True, connection=True)

    def ready_in(self) -> float:
        """The rest of the pause a rate refusal asked for (0 at full speed)."""
        if not self.pause:
            return 0.0
        return max(0.0, self._last_message + self.pause - time.monotonic())

    def close(self) -> None:
        if self._smtp is not None:
            disconnect(self._smtp)
            self._smtp = None


@dataclass
class _Envelope:
    """One message of a batch, ready for the wire: its commands and its stuffed content."""

    index: int
    commands: bytes  # MAIL FROM, RCPT TO, DATA
    content: bytes  # dot-stuffed, ending CRLF "." CRLF


class _ConnectionLost(Exception):
    """The connection failed in the middle of a batch (``error`` says how)."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


class _PipelinedBatch:
    """One :meth:`SmtpTransport.send_batch` over a PIPELINING connection.

    Each round is one write and the replies it calls for, in order: the final reply of the
    message whose DATA was accepted last round (its content opens the write), the RSET that
    ends a refused transaction, then the next message's MAIL, RCPT and DATA. A refused
    envelope costs that message alone (its DATA, sent ahead, is refused too, RFC 2920 §3.1;
    the next round starts with RSET). Every refusal is explained by the transport, exactly
    as :meth:`SmtpTransport.send` explains it.
    """

    def __init__(
        self,
        transport: SmtpTransport,
        smtp: smtplib.SMTP,
        items: Sequence[tuple[Delivery, object]],
    ) -> None:
        self.transport, self.smtp = transport, smtp
        self.outcomes: list[str | DeliveryError | None] = [None] * len(items)
        self.todo: deque[_Envelope] = deque()
        self.pending: _Envelope | None = None  # DATA answered 354: its content is due
        self.dot_out = False  # the pending content's final "." was written
        self.rset = False  # a refused transaction awaits its RSET
        self.unsent: DeliveryError | None = None  # the outcome of those left unsent
        self.slow_downs = transport._slow_downs
        for index, (delivery, payload) in enumerate(items):
            try:
                self.todo.append(self._envelope(index, delivery, payload))
            except smtplib.SMTPNotSupportedError:
                self.outcomes[index] = DeliveryError(NO_SMTPUTF8)

    def _envelope(self, index: int, delivery: Delivery, payload: object) -> _Envelope:
        """What smtplib's ``sendmail`` (or ``send_message`` for an EmailMessage) would send."""
        sender, recipients = self.transport._sender, [wire_address(delivery.recipient)]
        options: tuple[str, ...] = ()
        if isinstance(payload, bytes):
            message = payload
        else:
            sender, recipients, message, options = _flattened(
                self.smtp, payload, sender, recipients
            )
        commands = _envelope_commands(self.smtp, sender, recipients, message, options)
        return _Envelope(index, commands, _stuffed(message))

    def run(self) -> list[str | DeliveryError]:
        while self.pending or self.todo or self.rset:
            try:
                self._round()
            except (smtplib.SMTPException, OSError) as error:
                self._lost(error)
        outcomes = [outcome for outcome in self.outcomes if outcome is not None]
        if len(outcomes) != len(self.outcomes):
            raise RuntimeError("a message of the batch was left without an outcome")
        return outcomes

    @property
    def _alive(self) -> bool:
        """The connection is still this batch's (a refusal may have let it go)."""
        return self.transport._smtp is self.smtp and self.smtp.sock is not None

    def _round(self) -> None:
        pending, rset = self.pending, self.rset
        following = self.todo.popleft() if self.todo else None
        head = pending.content if pending is not None else b""
        tail = following.commands if following is not None else b""
        if following is not None:
            self.transport._last_message = time.monotonic()
        self._write(head + (b"rset\r\n" if rset else b"") + tail, len(head))
        self.rset = False
        if pending is not None:
            self._final(pending)
        if rset and self._alive:
            self._rset_reply()
        if following is None:
            return
        if self._alive:
            self._envelope_replies(following)
        elif self.outcomes[following.index] is None:  # the connection went before its turn
            self.outcomes[following.index] = self.unsent or self._unsent_for_lost()

    def _write(self, data: bytes, dot_end: int) -> None:
        """One write; notes whether the pending message's final "." (the first ``dot_end``
        bytes) went out. ``socket.send`` in a loop rather than ``sendall``: after a failure
        the count of bytes written tells whether that message may be on the server."""
        sock = self.smtp.sock
        if sock is None:
            raise smtplib.SMTPServerDisconnected("please run connect() first")
        view, written = memoryview(data), 0
        try:
            while written < len(data):
                written += sock.send(view[written:])
        finally:
            self.dot_out = self.pending is not None and written >= dot_end

    def _final(self, pending: _Envelope) -> None:
        """The reply to a whole message: accepted, or refused as ``send`` would say."""
        code, text = self.smtp.getreply()
        self.pending, self.dot_out = None, False
        if code == 250:
            self.outcomes[pending.index] = _reply(code, text)
            self.transport._accepted()
            return
        if code == 421:
            self.smtp.close()
        self._refused(pending, self.transport._refusal(code, text, "data"))

    def _rset_reply(self) -> None:
        code, _text = self.smtp.getreply()
        if code == 421:
            self.smtp.close()
            raise smtplib.SMTPServerDisconnected("the server closed the connection after RSET")

    def _envelope_replies(self, envelope: _Envelope) -> None:
        """Read MAIL, RCPT and DATA's replies: DATA accepted makes ``envelope`` pending."""
        code, text = self.smtp.getreply()
        if code != 250:  # MAIL: this message refused, and the rest of the batch not sent
            stuck = self._abandon(due=2, closed=code == 421)
            error = self.transport._sender_refusal(code, text)
            self._refused(envelope, error)
            self._drop_rest(error)
            if stuck:
                self._close_stuck()
            return
        code, text = self.smtp.getreply()
        if code not in (250, 251):  # RCPT: this message alone is refused
            stuck = self._abandon(due=1, closed=code == 421)
            self._refused(envelope, self.transport._refusal(code, text, "rcpt"))
            if stuck:
                self._close_stuck()
            return
        code, text = self.smtp.getreply()
        if code != 354:  # DATA refused: this message alone, as ``send`` (which RSETs)
            if code == 421:
                self.smtp.close()
            else:
                self.rset = True
            self._refused(envelope, self.transport._refusal(code, text, "data"))
            return
        self.pending = envelope

    def _abandon(self, due: int, closed: bool) -> bool:
        """After a refused MAIL or RCPT: read the ``due`` replies still owed (the server
        refuses the commands sent ahead); the RSET goes out with the next round. True when
        the DATA sent ahead was answered 354 all the same: no RSET can end that."""
        if closed:  # 421: the server hung up
            self.smtp.close()
            return False
        code = 0
        for _ in range(due):
            code, _text = self.smtp.getreply()
            if code == 421:
                self.smtp.close()
                return False
        self.rset = code != 354
        return code == 354

    def _close_stuck(self) -> None:
        """The server waits for a message after a refused envelope: close the connection
        (the next message connects again); the rest of the batch is not sent."""
        if self._alive:
            self.transport._drop()
        reason = "сервер ждал текст письма после отказа в конверте, соединение закрыто."
        self._drop_rest(DeliveryError(reason), reason)

    def _refused(self, envelope: _Envelope, error: DeliveryError) -> None:
        """``envelope``'s outcome; a refusal that ends the batch leaves the rest unsent."""
        self.outcomes[envelope.index] = error
        slowed = self.transport._slow_downs > self.slow_downs
        self.slow_downs = self.transport._slow_downs
        if self._alive and not (error.fatal or error.quota or slowed):
            return
        if not self._alive and self.transport._smtp is self.smtp:
            self.transport._drop()  # smtplib closed it (a 421 among the replies)
        reason = ""
        if not self._alive and not (error.connection or error.fatal or error.quota):
            reason = failure(FailureKind.DISCONNECTED, self.transport.settings).message
        self._drop_rest(error, reason)

    def _drop_rest(self, cause: DeliveryError, reason: str = "") -> None:
        """The messages not yet sent stay unsent, with ``cause`` as their reason."""
        self.unsent = self.unsent or self.transport._not_sent(cause, reason)
        for envelope in self.todo:
            self.outcomes[envelope.index] = self.unsent
        self.todo.clear()
        if not self._alive:
            self.rset = False

    def _unsent_for_lost(self) -> DeliveryError:
        problem = failure(FailureKind.DISCONNECTED, self.transport.settings)
        return self.transport._not_sent(DeliveryError(problem.message))

    def _lost(self, error: BaseException) -> None:
        """The connection failed: a message whose content went out with no answer yet is
        uncertain; the others not yet answered are sent again later."""
        lost = self.transport._lost(explain(error, self.transport.settings))
        pending = self.pending
        if pending is not None and self.dot_out and self.outcomes[pending.index] is None:
            self.outcomes[pending.index] = DeliveryError(
                f"{MAYBE_DELIVERED} {lost.reply}", uncertain=True, connection=True
            )
        rest = self.transport._not_sent(lost)
        self.outcomes = [rest if outcome is None else outcome for outcome in self.outcomes]
        self.todo.clear()
        self.pending, self.dot_out, self.rset = None, False, False


def _flattened(
    smtp: smtplib.SMTP, message: object, sender: str, recipients: list[str]
) -> tuple[str, list[str], bytes, tuple[str, ...]]:
    """What ``smtp.send_message`` hands to ``sendmail``: the envelope, the bytes as its
    generator writes them and the options (SMTPUTF8, BODY=8BITMIME); nothing is sent."""
    handed: list[tuple[str, list[str], bytes, tuple[str, ...]]] = []

    def keep(
        from_addr: str,
        to_addrs: list[str],
        msg: bytes,
        mail_options: tuple[str, ...] = (),
        rcpt_options: tuple[str, ...] = (),
    ) -> dict[str, tuple[int, bytes]]:
        handed.append((from_addr, list(to_addrs), msg, tuple(mail_options)))
        return {}

    smtp.sendmail = keep  # type: ignore[method-assign]
    try:
        smtp.send_message(message, sender, recipients)  # type: ignore[arg-type]
    finally:
        vars(smtp).pop("sendmail", None)
    return handed[0]
