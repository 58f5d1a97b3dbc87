"""One small interface for the SMS gateways, and the HTTP plumbing they share.

A gateway (``SmsRuGateway`` in smsru.py, ``SmscGateway`` in smsc.py) is built from the SMS
settings and the secret (an API key or a password; see ``SmsSettings``). It can:

- ask for the balance, which is what "Проверить баланс" / ``settings test --sms`` do
  (:func:`check_sms`);
- send one message to one number (:meth:`SmsGateway.send` -> :class:`Sent`);
- send up to :data:`SEND_BATCH` personal messages in one request (:meth:`SmsGateway.send_many`
  -> a :class:`Sent` or a :class:`GatewayFailure` per message): SMS.ru ``to[номер]=текст``,
  SMSC.ru ``list``. The gateway answers for each number; a failure of the request itself
  (the key, the money, the network, a lost answer) is raised for the whole batch, exactly as
  :meth:`SmsGateway.send` raises it;
- ask the price of a message to some numbers, sending nothing (:meth:`SmsGateway.price` ->
  :class:`Price`).

Every gateway code maps onto a :class:`FailureKind` (what the caller does about it) with a
Russian message saying what happened and what to do. The table is in smsru.py and smsc.py.

Every call is an HTTPS POST (``application/x-www-form-urlencoded``) to the settings' base URL
(``settings.sms_endpoint``), with certificate verification always on and a timeout. Both
gateways document GET and POST for every method; POST keeps the secret out of the URL, so it
cannot reach a proxy's log or an error message. Failures become :class:`GatewayFailure` with a
Russian message the program builds itself: no URL, parameter or secret ever goes into it.

No tkinter here: the settings window, the CLI and the tests call the same functions.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import ssl
import urllib.error
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import Enum
from typing import Any, ClassVar, NoReturn
from urllib.parse import urlencode, urlsplit

import avtoprokat_mail
from avtoprokat_mail.model import SmsSettings, sms_endpoint
from avtoprokat_mail.redaction import hide_secret
from avtoprokat_mail.sending.deadline import watch_current, watchdog
from avtoprokat_mail.validation import endpoint_problem

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 15.0  # seconds for connecting and for the answer
REQUEST_TIMEOUTS = 2  # a whole request, trickled or not, ends after this many timeouts
MAX_ANSWER_BYTES = 1_000_000  # a balance or a send answer is a few hundred bytes
CURRENCY_NAMES = {"RUB": "руб."}
SEND_BATCH = 100  # personal messages per send request: both gateways take up to 100


class FailureKind(Enum):
    """What went wrong, in the terms the caller acts on (stop the run, retry later, ...)."""

    AUTH = "auth"  # the key, login or password is refused (or this computer's IP is blocked)
    NO_FUNDS = "no_funds"  # the account has no money for this
    RATE_LIMITED = "rate_limited"  # too many requests: wait and try again
    SERVER = "server"  # HTTP 5xx, a gateway-side failure or an answer that cannot be read
    NETWORK = "network"  # connection refused, timeout, DNS, TLS or an untrusted certificate
    REQUEST = "request"  # the gateway refused the parameters (or the base URL is wrong)
    # The gateway refused this one number (wrong, no route, stop list, limit on that number):
    # that recipient fails, the run goes on. The message names the number.
    BAD_NUMBER = "bad_number"


class GatewayFailure(Exception):
    """A gateway call failed. ``message`` (also ``str()``) is Russian and free of secrets.

    ``code`` is the gateway's own error code when it gave one (SMS.ru ``status_code``,
    SMSC.ru ``error_code``), for the journal of a run.

    ``uncertain`` is True only for :meth:`SmsGateway.send` and ``send_many`` when the whole
    request reached the gateway but its answer did not (a timeout or a dropped connection
    while waiting, or an answer that cannot be read): the SMS may well have gone out, so it
    must not be sent again automatically. A failure before the request left (refused
    connection, DNS, TLS, a bad certificate) or a readable refusal is never uncertain.
    """

    def __init__(
        self,
        kind: FailureKind,
        message: str,
        code: int | None = None,
        *,
        uncertain: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.code = code
        self.uncertain = uncertain

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Balance:
    """Money on the gateway account. ``currency`` is an ISO code ("RUB")."""

    amount: Decimal
    currency: str = "RUB"

    def __str__(self) -> str:
        return format_money(self.amount, self.currency)


@dataclass(frozen=True)
class Sent:
    """What the gateway answered for one SMS it accepted.

    ``message_id`` is the gateway's id of the message (SMS.ru ``sms_id``, SMSC.ru ``id``);
    ``segments`` the SMS parts it bills and ``cost`` their price, when it says.
    """

    message_id: str
    segments: int | None = None
    cost: Decimal | None = None


@dataclass(frozen=True)
class Price:
    """The price of one text to some numbers, as the gateway computed it (nothing is sent).

    ``segments`` is the total of SMS parts over all the numbers (SMS.ru ``total_sms``, SMSC.ru
    ``cnt``). Numbers the gateway refuses are left out of both totals (see ``price``).
    """

    amount: Decimal
    segments: int | None
    currency: str = "RUB"

    def __str__(self) -> str:
        return format_money(self.amount, self.currency)


def format_money(amount: Decimal, currency: str = "RUB") -> str:
    """An amount the Russian way: "4 762,58 руб." (space between thousands, decimal comma)."""
    rounded = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = f"{rounded:,.2f}".replace(",", " ").replace(".", ",")
    return f"{text} {CURRENCY_NAMES.get(currency, currency)}"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A gateway API never redirects; following one could carry the secret to another host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[override]
        return None  # urllib then raises HTTPError with the 3xx code


class _WatchedHTTPConnection(http.client.HTTPConnection):
    """Its socket joins the current :func:`watchdog` block, which bounds the whole request."""

    def connect(self) -> None:
        super().connect()
        watch_current(self.sock)


class _WatchedHTTPSConnection(http.client.HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        watch_current(self.sock)


class _WatchedHTTP(urllib.request.HTTPHandler):
    def http_open(self, req):  # type: ignore[no-untyped-def]
        return self.do_open(_WatchedHTTPConnection, req)


class _WatchedHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self._watched_context = context

    def https_open(self, req):  # type: ignore[no-untyped-def]
        return self.do_open(_WatchedHTTPSConnection, req, context=self._watched_context)


class SmsGateway(ABC):
    """One SMS gateway account: its settings, its secret and the HTTP calls to its API."""

    name: ClassVar[str]  # as the user knows the gateway: "SMS.ru"

    def __init__(
        self, settings: SmsSettings, secret: str, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.settings = settings
        self._secret = secret
        self.timeout = timeout
        self.base_url = sms_endpoint(settings).rstrip("/")
        parts = urlsplit(self.base_url)
        host = parts.hostname or self.base_url
        self.host = f"{host}:{parts.port}" if parts.port else host  # never user:password@
        handlers: list[urllib.request.BaseHandler] = [_NoRedirects(), _WatchedHTTP()]
        if parts.scheme == "https":  # loading the trusted certificates takes a while
            handlers.append(_WatchedHTTPS(ssl.create_default_context()))
        self._opener = urllib.request.build_opener(*handlers)

    def __repr__(self) -> str:  # the secret stays out of reprs, logs and tracebacks
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    @abstractmethod
    def balance(self) -> Balance:
        """The money on the account; GatewayFailure when the gateway cannot tell."""

    @abstractmethod
    def send(self, phone: str, text: str) -> Sent:
        """Send ``text`` to ``phone`` (E.164, "+79031112233") from ``settings.sender``.

        The number goes to the gateway without the "+", the text in UTF-8. GatewayFailure when
        it is not accepted: BAD_NUMBER for this number only, the other kinds for the account,
        the gateway or the network (``uncertain`` when it may have gone out all the same).
        """

    @abstractmethod
    def send_many(self, messages: Sequence[tuple[str, str]]) -> list[Sent | GatewayFailure]:
        """Send each ``(phone, text)`` of ``messages`` in one request; result i is message i's.

        At most :data:`SEND_BATCH` messages, each to a different number (ValueError otherwise:
        the gateways answer per number, so two texts to one number could not be told apart;
        a run never has one number twice). Result i is :class:`Sent` when the gateway
        accepted message i, or the :class:`GatewayFailure` of that message alone (BAD_NUMBER
        naming its number, or ``uncertain`` when the answer says nothing readable about it).
        A failure of the whole request raises GatewayFailure, as :meth:`send` does; then
        ``uncertain`` means every message of the batch may have gone out.
        """

    @abstractmethod
    def price(self, phones: Sequence[str], text: str) -> Price:
        """What sending ``text`` to each of ``phones`` would cost; nothing is sent.

        Numbers the gateway refuses are left out of the totals; when it refuses every one,
        GatewayFailure(BAD_NUMBER). No numbers: a zero price, without asking the gateway.
        """

    # --- shared plumbing -------------------------------------------------------------------
    def _batch_numbers(
        self, messages: Sequence[tuple[str, str]]
    ) -> tuple[dict[str, int], dict[int, GatewayFailure]]:
        """The gateway number of each message -> its index, and the messages refused here.

        A number that is not E.164 fails its message without asking the gateway.
        """
        if len(messages) > SEND_BATCH:
            raise ValueError(f"{len(messages)} messages in one request (at most {SEND_BATCH})")
        numbers: dict[str, int] = {}
        refused: dict[int, GatewayFailure] = {}
        for index, (phone, _text) in enumerate(messages):
            try:
                number = self._number(phone)
            except GatewayFailure as failure:
                refused[index] = failure
                continue
            if number in numbers:
                raise ValueError("two messages to one number in one request")
            numbers[number] = index
        return numbers, refused

    def _no_word_on(self, phone: str) -> NoReturn:
        """The send answer says nothing readable about ``phone``: its SMS may have gone out."""
        self._fail(
            FailureKind.SERVER,
            f"{self.name}: в ответе шлюза не сказано, что стало с SMS на номер {phone}, "
            "поэтому неизвестно, отправлено ли оно. Проверьте его в личном кабинете "
            f"{self.name} и не отправляйте повторно, пока не убедитесь, что оно не ушло.",
            uncertain=True,
        )

    def _fail(
        self,
        kind: FailureKind,
        message: str,
        code: int | None = None,
        *,
        uncertain: bool = False,
    ) -> NoReturn:
        # "from None": the urllib error behind it (which may hold the URL) is not chained.
        raise self._failure(kind, message, code, uncertain=uncertain) from None

    def _failure(
        self,
        kind: FailureKind,
        message: str,
        code: int | None = None,
        *,
        uncertain: bool = False,
    ) -> GatewayFailure:
        """The failure, logged; :meth:`_fail` raises it, a batch returns it for one message."""
        logger.info(
            "%s: %s failure%s: %s",
            self.name,
            kind.value,
            " (maybe sent)" if uncertain else "",
            message,
        )
        return GatewayFailure(kind, message, code, uncertain=uncertain)

    def _number(self, phone: str) -> str:
        """``phone`` as the gateway takes it; BAD_NUMBER when it is not E.164."""
        number = gateway_number(phone)
        if number is None:
            shown = phone.strip()[:40] or "(пусто)"
            self._fail(
                FailureKind.BAD_NUMBER,
                f"{self.name}: номер «{shown}» записан не полностью или с ошибкой, SMS на него "
                "не отправлено. Исправьте номер в карточке клиента: нужен номер мобильного "
                "телефона, например +7 903 111-22-33.",
            )
        return number

    def server_text(self, said: object) -> str:
        """What the gateway said in words, shortened, and with the secret hidden if echoed."""
        return hide_secret(str(said or "без пояснения")[:300], self._secret)

    def _post(self, path: str, params: dict[str, str], *, delivers: bool = False) -> Any:
        """POST ``params`` to ``base_url + path`` and return the decoded JSON answer.

        ``delivers``: the call sends an SMS, so losing the answer after the request went out
        makes the failure ``uncertain``. urllib raises URLError for what fails while
        connecting and writing the request, and the bare error for what fails after it
        (waiting for or reading the answer).
        """
        if problem := endpoint_problem(self.base_url):
            self._fail(FailureKind.REQUEST, f"{self.name}: {problem}. Исправьте параметры SMS.")
        request = urllib.request.Request(
            self.base_url + path,
            data=urlencode(params).encode("ascii"),
            headers={
                "User-Agent": f"avtoprokat-mail/{avtoprokat_mail.__version__}",
                "Accept": "application/json",
            },
            method="POST",
        )
        logger.debug("%s: POST %s%s", self.name, self.host, path)
        # A server trickling its answer a byte at a time never trips the socket timeout:
        # the watchdog ends the whole request after REQUEST_TIMEOUTS timeouts.
        with watchdog(REQUEST_TIMEOUTS * self.timeout) as dog:
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    body = response.read(MAX_ANSWER_BYTES + 1)
            except urllib.error.HTTPError as error:
                error.close()
                self._http_status_failure(error.code)
            except urllib.error.URLError as error:  # before the request was out: not sent
                self._network_failure(TimeoutError() if dog.expired else error.reason)
            except (OSError, http.client.HTTPException) as error:  # while reading the answer
                self._network_failure(TimeoutError() if dog.expired else error, uncertain=delivers)
        if dog.expired:  # the answer was cut short: what arrived cannot be trusted
            self._network_failure(TimeoutError(), uncertain=delivers)
        if len(body) > MAX_ANSWER_BYTES:
            self._unreadable("слишком длинный ответ", uncertain=delivers)
        try:
            answer = json.loads(body.decode("utf-8"), parse_float=Decimal)
        except (UnicodeDecodeError, ValueError):
            self._unreadable("не JSON", uncertain=delivers)
        if not isinstance(answer, dict):
            self._unreadable("не объект JSON", uncertain=delivers)
        return answer

    def _fail_for_code(
        self, code: int, known: dict[int, tuple[FailureKind, str]], gateway_text: object
    ) -> NoReturn:
        """Raise the failure for a gateway's error code: its known meaning, else its own text."""
        if code in known:
            kind, text = known[code]
            self._fail(kind, f"{self.name}: {text}", code)
        said = self.server_text(gateway_text)
        self._fail(
            FailureKind.REQUEST,
            f"{self.name}: запрос отклонён: «{said}» (код {code}). Если непонятно, что "
            f"исправить, обратитесь в поддержку {self.name}, назвав этот код.",
            code,
        )

    def _unreadable(self, what: str, *, uncertain: bool = False) -> NoReturn:
        if uncertain:
            self._fail(
                FailureKind.SERVER,
                f"{self.name}: сервер {self.host} прислал непонятный ответ ({what}), поэтому "
                f"неизвестно, отправлено ли SMS. Проверьте его в личном кабинете {self.name} "
                "и не отправляйте повторно, пока не убедитесь, что оно не ушло.",
                uncertain=True,
            )
        self._fail(
            FailureKind.SERVER,
            f"{self.name}: сервер {self.host} прислал непонятный ответ ({what}). Проверьте "
            "адрес шлюза в параметрах SMS; если он верный, повторите попытку позже.",
        )

    def _http_status_failure(self, status: int) -> NoReturn:
        if status >= 500:
            self._fail(
                FailureKind.SERVER,
                f"{self.name}: сервер шлюза ответил ошибкой (HTTP {status}). Это сбой на "
                f"стороне {self.name}: повторите попытку позже.",
            )
        if status == 429:
            self._fail(
                FailureKind.RATE_LIMITED,
                f"{self.name}: слишком много запросов (HTTP 429). Подождите минуту и повторите.",
            )
        if status in (401, 403):
            self._fail(
                FailureKind.AUTH,
                f"{self.name}: сервер отказал в доступе (HTTP {status}). Проверьте ключ или "
                "пароль в параметрах SMS.",
            )
        self._fail(
            FailureKind.REQUEST,
            f"{self.name}: сервер {self.host} не принял запрос (HTTP {status}). Проверьте адрес "
            "шлюза в параметрах SMS (обычно его оставляют пустым).",
        )

    def _network_failure(self, reason: object, *, uncertain: bool = False) -> NoReturn:
        where = f"{self.name}: "
        if uncertain:  # the request is out, the answer is lost: the SMS may have gone
            if isinstance(reason, TimeoutError | socket.timeout):
                what = f"сервер {self.host} не ответил за {self.timeout:g} с"
            else:
                what = f"соединение с сервером {self.host} оборвалось до ответа"
            self._fail(
                FailureKind.NETWORK,
                f"{where}{what}, поэтому неизвестно, отправлено ли SMS. Проверьте его в личном "
                f"кабинете {self.name} и не отправляйте повторно, пока не убедитесь, что оно "
                "не ушло.",
                uncertain=True,
            )
        if isinstance(reason, ssl.SSLCertVerificationError):
            self._fail(
                FailureKind.NETWORK,
                f"{where}сертификат сервера {self.host} не является доверенным, поэтому "
                "соединение прервано (иначе ключ мог бы попасть к посторонним). Проверьте адрес "
                "шлюза; если в сети стоит прокси или антивирус, подменяющий сертификаты, "
                "обратитесь к администратору.",
            )
        if isinstance(reason, ssl.SSLError):
            detail = reason.reason or type(reason).__name__
            self._fail(
                FailureKind.NETWORK,
                f"{where}не удалось установить защищённое соединение с {self.host} ({detail}). "
                "Проверьте адрес шлюза и повторите попытку позже.",
            )
        if isinstance(reason, TimeoutError | socket.timeout):
            self._fail(
                FailureKind.NETWORK,
                f"{where}сервер {self.host} не ответил за {self.timeout:g} с. Проверьте "
                "подключение к интернету и повторите попытку позже.",
            )
        if isinstance(reason, ConnectionRefusedError):
            self._fail(
                FailureKind.NETWORK,
                f"{where}сервер {self.host} отказал в соединении. Проверьте подключение к "
                "интернету и адрес шлюза в параметрах SMS.",
            )
        if isinstance(reason, socket.gaierror):
            self._fail(
                FailureKind.NETWORK,
                f"{where}сервер {self.host} не найден. Проверьте подключение к интернету и "
                "адрес шлюза в параметрах SMS.",
            )
        if isinstance(reason, ConnectionError | http.client.HTTPException):
            self._fail(
                FailureKind.NETWORK,
                f"{where}соединение с сервером {self.host} оборвалось. Повторите попытку позже.",
            )
        detail = getattr(reason, "strerror", None) or type(reason).__name__
        self._fail(
            FailureKind.NETWORK,
            f"{where}нет связи с сервером {self.host} ({detail}). Проверьте подключение к "
            "интернету.",
        )


def parse_amount(value: object) -> Decimal | None:
    """A finite amount from a JSON number or numeric string, else None."""
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        return None
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def gateway_number(phone: str) -> str | None:
    """The number as both gateways take it: E.164 without the "+" ("79031112233").

    None when ``phone`` is not E.164 (a "+" and 8 to 15 digits), so nothing is sent to it.
    """
    digits = phone.strip().removeprefix("+")
    if not phone.strip().startswith("+") or not (8 <= len(digits) <= 15):
        return None
    return digits if digits.isascii() and digits.isdigit() else None


def parse_count(value: object) -> int | None:
    """A non-negative whole count from a JSON number or numeric string, else None."""
    amount = parse_amount(value)
    if amount is None or amount < 0 or amount != amount.to_integral_value():
        return None
    return int(amount)
