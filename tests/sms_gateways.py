"""A local fake of the SMS gateways' HTTP APIs: SMS.ru and SMSC.ru on one real HTTP server.

``FakeGateway`` is a ``ThreadingHTTPServer`` on 127.0.0.1 (a free port, optionally TLS) that
speaks the documented request and answer formats, checks the credentials like the real
gateways do, and records every request for assertions. Point the program at it with
``SmsSettings(endpoint=fake.url)`` (``fake.settings(...)`` builds them).

Today it serves the balance methods:
- SMS.ru ``/my/balance`` (``api_id``, ``json=1``): ``{"status": "OK", "status_code": 100,
  "balance": 4762.58}``, or ``{"status": "ERROR", "status_code": N, "status_text": ...}``;
  without ``json=1`` it answers plain text lines like the real one ("100\\n4762.58").
- SMSC.ru ``/sys/balance.php`` (``login`` + ``psw`` or ``apikey``, ``fmt=3``, ``cur=1``):
  ``{"balance": "4762.58", "currency": "RUR"}``, or ``{"error": ..., "error_code": N}``;
  without ``fmt=3`` it answers plain text ("4762.58").
And sending and pricing:
- SMS.ru ``/sms/send`` (``api_id``, ``to``, ``msg``, optional ``from``, ``json=1``):
  ``{"status": "OK", "status_code": 100, "sms": {"79031112233": {"status": "OK",
  "status_code": 100, "sms_id": "000000-10000001"}}, "balance": 4762.58}``, a refused number
  being ``{"status": "ERROR", "status_code": 202, "status_text": ...}`` inside ``sms``.
- SMS.ru ``/sms/cost`` (the same parameters; ``to`` may list numbers, comma-separated):
  ``{"status": "OK", "status_code": 100, "sms": {"79031112233": {"status": "OK",
  "status_code": 100, "cost": "2.59", "sms": 1}}, "total_cost": 2.59, "total_sms": 1}``.
- SMSC.ru ``/sys/send.php`` (credentials, ``phones``, ``mes``, optional ``sender``,
  ``charset``, ``fmt=3``, ``cost``): sends and answers ``{"id": 1001, "cnt": 1}`` (with
  ``cost=2``/``3`` also ``"cost"``, with ``3`` also ``"balance"``); with ``cost=1`` it sends
  nothing and answers ``{"cost": "2.59", "cnt": 1}``. Without ``charset=utf-8`` it reads the
  text as windows-1251, as the real one does (the text in ``sent`` comes out garbled).
And sending a batch of personal texts in one request (at most 100 recipients, else SMS.ru
error 213 / SMSC.ru error 1):
- SMS.ru ``/sms/send`` with ``to[79031112233]=текст`` per number (the older ``multi[...]``
  too) instead of ``to`` + ``msg``: the same answer, an entry per number inside ``sms``;
- SMSC.ru ``/sys/send.php`` with ``list`` (a line ``номер:текст`` per message; ``\\n`` in a
  text is a line break) instead of ``phones`` + ``mes``: one ``id`` for the request, and with
  ``op=1`` a ``phones`` list, an entry per number: ``{"phone", "mccmnc", "cost", "status",
  "error"}``, a refused number having status 22 / error 249 (the fake's code 7) or status
  23 / error 250 (code 8). When every number is refused, error 7 or 8 for the whole request.
The parts of a text are counted with the program's own ``sms_length``; each costs
``sms_price``.

How it answers is set per test: ``balance`` / ``currency`` / ``sms_price`` for a success,
``behaviour`` for a failure of every request (see :class:`Behaviour`), and for sending:
- ``bad_numbers``: numbers ("+79031112233" or "79031112233") the gateway refuses, each with
  SMS.ru 202 / SMSC.ru 7; a dict gives each its own code (SMS.ru 207, 209...; SMSC.ru 8...);
- ``funds_for=N``: N SMS go out, then sending is refused for money (SMS.ru 201 for the
  request, or for each number of a batch past the N-th; SMSC.ru 3 for a request that would
  pass N, nothing of it sent); pricing still answers;
- ``rate_limited_times=K``: the next K send or price requests are refused as too frequent
  (SMS.ru: HTTP 429, SMSC.ru: error 9), then it answers normally (balance calls not counted);
  a batch is one request;
- ``answer_delay``: seconds every send request waits before answering (a gateway far away);
- ``Behaviour.DROP_AFTER_SEND``: a send (one SMS or a batch) goes out, then the connection is
  closed without an answer.
What it sent is in ``sent``: (phone as E.164 "+79031112233", text, sender or "") per SMS, the
id given to each in ``message_ids``; ``send_requests`` counts the requests that sent.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from avtoprokat_mail.model import SmsProvider, SmsSettings
from avtoprokat_mail.sending.sms.segments import sms_length

SMSRU_API_ID = "7E3B9C1A-5D2F-4A6B-SMSRU-SECRET-0001"
SMSC_LOGIN = "avtoprokat"
SMSC_PASSWORD = "smsc-pass-SECRET-0002"
SMSC_APIKEY = "smsc-apikey-SECRET-0003"
WRONG_SECRET = "WRONG-SECRET-9f41c7"
ALL_SECRETS = (SMSRU_API_ID, SMSC_PASSWORD, SMSC_APIKEY, WRONG_SECRET)
# (provider, login, secret): the three ways of logging in, all accepted by the fake.
SMSRU_KEY = (SmsProvider.SMSRU, "", SMSRU_API_ID)
SMSC_PASSWORD_LOGIN = (SmsProvider.SMSC, SMSC_LOGIN, SMSC_PASSWORD)
SMSC_KEY = (SmsProvider.SMSC, "", SMSC_APIKEY)


class Behaviour(Enum):
    """How the fake answers, beyond checking the credentials."""

    NORMAL = "normal"  # right credentials: the balance; wrong ones: the gateway's auth error
    NO_FUNDS = "no_funds"  # SMS.ru 201 / SMSC.ru 3 (the send codes; for the mapping)
    IP_BLOCKED = "ip_blocked"  # SMSC.ru 4 (SMS.ru has no such code: answers normally)
    RATE_LIMITED = "rate_limited"  # SMSC.ru 9 (SMS.ru: answers normally)
    UNKNOWN_ERROR = "unknown_error"  # a code the program does not know, echoing the secret
    HTTP_500 = "http_500"  # an HTML "500 Internal Server Error" page
    GARBAGE = "garbage"  # HTTP 200 with an HTML page instead of JSON
    STALL = "stall"  # no answer for ``stall_seconds`` (longer than the client's timeout)
    # A send goes out (it is in ``sent``), then no answer for ``stall_seconds``: the client
    # cannot know it was sent. Other calls answer normally.
    STALL_AFTER_SEND = "stall_after_send"
    # A send goes out, then the whole HTTP answer comes a byte every 0.05 s (some 10 s): each
    # read gets a byte well within the client's timeout, the answer as a whole does not.
    TRICKLE_AFTER_SEND = "trickle_after_send"
    # A send (one SMS or a batch) goes out, then the server closes the connection without a
    # word of answer. Other calls answer normally.
    DROP_AFTER_SEND = "drop_after_send"


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str  # without the query
    target: str  # the request line's target, query included (where a GET puts secrets)
    query: dict[str, str]
    form: dict[str, str]

    @property
    def params(self) -> dict[str, str]:
        """Query and form parameters together (the gateways accept either)."""
        return {**self.query, **self.form}


@dataclass
class FakeGateway:
    """Both gateways' APIs on one local server; ``close()`` (or ``with``) stops it."""

    tls: ssl.SSLContext | None = None  # a server-side context: serve https
    balance: Decimal = Decimal("4762.58")
    currency: str = "RUR"  # as SMSC.ru writes the rouble
    behaviour: Behaviour = Behaviour.NORMAL
    stall_seconds: float = 10.0
    requests: list[Recorded] = field(default_factory=list)
    sms_price: Decimal = Decimal("2.59")  # per SMS part
    bad_numbers: Collection[str] = ()  # refused numbers; a Mapping gives each its code
    funds_for: int | None = None  # sends that succeed before "no money"; None: no limit
    rate_limited_times: int = 0  # the next send/price requests refused as too frequent
    answer_delay: float = 0.0  # seconds each send request waits before its answer
    send_requests: int = 0  # requests that sent (or tried to send) SMS, batches counting one
    sent: list[tuple[str, str, str]] = field(default_factory=list)  # (E.164, text, sender)
    message_ids: list[str] = field(default_factory=list)  # the id given to each of ``sent``

    def __post_init__(self) -> None:
        self._release = threading.Event()  # ends a stall early when the fake closes
        self._lock = threading.Lock()
        fake = self

        class Handler(_Handler):
            gateway = fake

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def settings(self, provider: SmsProvider, login: str = "", sender: str = "") -> SmsSettings:
        """SMS settings of ``provider`` pointing at this fake."""
        return SmsSettings(provider=provider, login=login, sender=sender, endpoint=self.url)

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeGateway:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _record(self, request: Recorded) -> None:
        with self._lock:
            self.requests.append(request)
            if _sends(request.path, request.params):
                self.send_requests += 1

    def _rate_limited(self) -> bool:
        """Whether this send/price request is one of the next ``rate_limited_times``."""
        with self._lock:
            if self.rate_limited_times > 0:
                self.rate_limited_times -= 1
                return True
            return False

    def _refusal(self, number: str, default: int) -> int | None:
        """The code the gateway refuses ``number`` (no "+") with, else None."""
        for phone in self.bad_numbers:
            if phone.lstrip("+") == number:
                if isinstance(self.bad_numbers, Mapping):
                    return int(self.bad_numbers[phone])
                return default
        return None

    def _out_of_funds(self, more: int = 1) -> bool:
        """Whether the money does not cover ``more`` SMS beyond those sent."""
        return self.funds_for is not None and len(self.sent) + more > self.funds_for

    def _deliver(self, number: str, text: str, sender: str, make_id: Callable[[int], str]) -> str:
        """Record one sent SMS; its message id (``make_id`` of its place, from 1)."""
        with self._lock:
            message_id = make_id(len(self.sent) + 1)
            self.sent.append((f"+{number}", text, sender))
            self.message_ids.append(message_id)
            return message_id


class _Handler(BaseHTTPRequestHandler):
    gateway: FakeGateway
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes; with Nagle's algorithm the second waits
    # for the client's delayed ACK (~40 ms a request on Linux).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        fake = self.gateway
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        form: dict[str, str] = {}
        if self.headers.get_content_type() == "application/x-www-form-urlencoded":
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        request = Recorded(self.command, parts.path, self.path, query, form)
        fake._record(request)

        if fake.behaviour is Behaviour.STALL:
            fake._release.wait(fake.stall_seconds)
            if fake._release.is_set():
                return
        if fake.behaviour is Behaviour.HTTP_500:
            page = "<html><body><h1>500 Internal Server Error</h1></body></html>"
            self._send(500, page, "text/html")
            return
        if fake.behaviour is Behaviour.GARBAGE:
            self._send(200, "<html><body>Сайт на обслуживании</body></html>", "text/html")
            return
        route = _ROUTES.get(parts.path)
        if route is None:
            self._send(404, "not found", "text/plain")
            return
        status, text, content_type = route(fake, request.params)
        sends = _sends(parts.path, request.params)
        if sends and fake.answer_delay and fake._release.wait(fake.answer_delay):
            return
        if fake.behaviour is Behaviour.DROP_AFTER_SEND and sends:
            self.close_connection = True  # the server closes the socket, no answer written
            return
        if fake.behaviour is Behaviour.STALL_AFTER_SEND and sends:
            fake._release.wait(fake.stall_seconds)
            if fake._release.is_set():
                return
        if fake.behaviour is Behaviour.TRICKLE_AFTER_SEND and sends:
            self._trickle(status, text, content_type)
            return
        self._send(status, text, content_type)

    def _trickle(self, status: int, text: str, content_type: str) -> None:
        data = text.encode("utf-8")
        head = (
            f"HTTP/1.0 {status} OK\r\nContent-Type: {content_type}; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        ).encode("ascii")
        self.close_connection = True
        for byte in head + data:
            if self.gateway._release.wait(0.05):
                return
            try:
                self.wfile.write(bytes([byte]))
            except OSError:
                return  # the client gave up

    def _send(self, status: int, text: str, content_type: str) -> None:
        data = text.encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (a timeout test)


Answer = tuple[int, str, str]  # HTTP status, body, content type


def _json(value: dict[str, Any]) -> Answer:
    return 200, json.dumps(value, ensure_ascii=False), "application/json"


def _smsru_error(code: int, text: str) -> Answer:
    return _json({"status": "ERROR", "status_code": code, "status_text": text})


def _smsru_balance(fake: FakeGateway, params: dict[str, str]) -> Answer:
    api_id = params.get("api_id", "")
    if api_id != SMSRU_API_ID:
        return _smsru_error(200, "Неправильный api_id")
    if fake.behaviour is Behaviour.NO_FUNDS:
        return _smsru_error(201, "Не хватает средств на лицевом счету")
    if fake.behaviour is Behaviour.UNKNOWN_ERROR:
        return _smsru_error(299, f"Неизвестная ошибка для {api_id}")
    if params.get("json") != "1":
        return 200, f"100\n{fake.balance}", "text/plain"
    # The balance is a JSON number (written by hand: json.dumps cannot write a Decimal).
    return (
        200,
        f'{{"status": "OK", "status_code": 100, "balance": {fake.balance}}}',
        ("application/json"),
    )


def _smsc_balance(fake: FakeGateway, params: dict[str, str]) -> Answer:
    if "login" in params:
        secret = params.get("psw", "")
        authorised = params["login"] == SMSC_LOGIN and secret == SMSC_PASSWORD
    else:
        secret = params.get("apikey", "")
        authorised = secret == SMSC_APIKEY
    if params.get("fmt") != "3":
        if not authorised:
            return 200, "ERROR = 2 (authorise error)", "text/plain"
        return 200, str(fake.balance), "text/plain"
    if not authorised:
        return _json({"error": "authorise error", "error_code": 2})
    errors = {
        Behaviour.NO_FUNDS: {"error": "no money", "error_code": 3},
        Behaviour.IP_BLOCKED: {"error": "ip is blocked", "error_code": 4},
        Behaviour.RATE_LIMITED: {"error": "duplicate request, wait a minute", "error_code": 9},
        Behaviour.UNKNOWN_ERROR: {"error": f"strange error for {secret}", "error_code": 77},
    }
    if fake.behaviour in errors:
        return _json(errors[fake.behaviour])
    answer = {"balance": str(fake.balance)}
    if params.get("cur") == "1":
        answer["currency"] = fake.currency
    return _json(answer)


def _sends(path: str, params: dict[str, str]) -> bool:
    """Whether the request sends SMS (not a price or balance request)."""
    return path == "/sms/send" or (path == "/sys/send.php" and params.get("cost") != "1")


def _numbers(value: str) -> list[str]:
    """The numbers of a "to"/"phones" list, as the gateways read them (digits only)."""
    numbers = []
    for item in value.replace(";", ",").split(","):
        digits = "".join(ch for ch in item if ch.isdigit())
        if digits:
            numbers.append(digits)
    return numbers


def _segments(text: str) -> int:
    return max(sms_length(text).segments, 1)


_SMSC_NUMBER_TEXTS = {7: "invalid number", 8: "couldn't be delivered"}
SMSRU_BATCH = 100  # recipients one /sms/send or /sms/cost request may name
SMSC_BATCH = 100  # lines of one SMSC.ru ``list``
_SMSRU_NUMBER_TEXTS = {
    201: "Не хватает средств на лицевом счету",
    203: "Нет текста сообщения",
    202: "Неправильно указан номер телефона получателя, либо на него нет маршрута",
    207: "На этот номер нет маршрута для доставки сообщений",
    209: "Вы добавили этот номер (или один из номеров) в стоп-лист",
    215: "Этот номер находится в стоп-листе SMS.RU",
}


def _smsru_pairs(params: dict[str, str]) -> list[tuple[str, str]]:
    """(number, text) of each recipient: ``to[N]=text`` / ``multi[N]=text`` (a personal text
    per number), else the one ``msg`` to each number of ``to``."""
    personal = [
        ("".join(ch for ch in key[len(prefix) : -1] if ch.isdigit()), value)
        for key, value in params.items()
        for prefix in ("to[", "multi[")
        if key.startswith(prefix) and key.endswith("]")
    ]
    if personal:
        return personal
    return [(number, params.get("msg", "")) for number in _numbers(params.get("to", ""))]


def _smsru_message(fake: FakeGateway, params: dict[str, str], *, send: bool) -> Answer:
    """/sms/send (``send``) and /sms/cost."""
    api_id = params.get("api_id", "")
    if api_id != SMSRU_API_ID:
        return _smsru_error(200, "Неправильный api_id")
    if fake._rate_limited():
        return 429, "Too Many Requests", "text/plain"
    if fake.behaviour is Behaviour.UNKNOWN_ERROR:
        return _smsru_error(299, f"Неизвестная ошибка для {api_id}")
    if send and (fake.behaviour is Behaviour.NO_FUNDS or fake._out_of_funds()):
        return _smsru_error(201, "Не хватает средств на лицевом счету")
    pairs = _smsru_pairs(params)
    if not pairs:
        return _smsru_error(202, "Неправильно указан номер телефона получателя")
    if len(pairs) > SMSRU_BATCH:
        return _smsru_error(213, "Превышен лимит в 100 номеров в одном запросе")
    sender = params.get("from", "")
    entries: dict[str, str] = {}  # number -> its JSON, written by hand for the amounts
    total_cost, total_sms = Decimal(0), 0
    for number, text in pairs:
        code = fake._refusal(number, 202)
        if code is None and not text:
            code = 203
        if code is None and send and fake._out_of_funds():  # the money ran out mid-batch
            code = 201
        if code is not None:
            said = _SMSRU_NUMBER_TEXTS.get(code, f"Ошибка {code}")
            entries[number] = json.dumps(
                {"status": "ERROR", "status_code": code, "status_text": said}, ensure_ascii=False
            )
            continue
        if send:
            sms_id = fake._deliver(number, text, sender, lambda n: f"000000-1{n:07d}")
            entries[number] = json.dumps({"status": "OK", "status_code": 100, "sms_id": sms_id})
        else:
            parts = _segments(text)
            cost = fake.sms_price * parts
            total_cost, total_sms = total_cost + cost, total_sms + parts
            entries[number] = json.dumps(
                {"status": "OK", "status_code": 100, "cost": str(cost), "sms": parts}
            )
    sms = ", ".join(f"{json.dumps(number)}: {entry}" for number, entry in entries.items())
    tail = (
        f'"balance": {fake.balance}'
        if send
        else f'"total_cost": {total_cost}, "total_sms": {total_sms}'
    )
    body = f'{{"status": "OK", "status_code": 100, "sms": {{{sms}}}, {tail}}}'
    return 200, body, "application/json"


def _smsru_send(fake: FakeGateway, params: dict[str, str]) -> Answer:
    return _smsru_message(fake, params, send=True)


def _smsru_cost(fake: FakeGateway, params: dict[str, str]) -> Answer:
    return _smsru_message(fake, params, send=False)


def _smsc_list(value: str) -> list[tuple[str, str]] | None:
    """(number, text) of each line ``номер[,номер...]:текст`` of ``list`` ("\\n" in a text is a
    line break, as SMSC.ru documents); None when a line has no ":"."""
    pairs = []
    for line in value.split("\n"):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        phones, colon, text = line.partition(":")
        if not colon:
            return None
        pairs.extend((number, text.replace("\\n", "\n")) for number in _numbers(phones))
    return pairs


# How a refused number shows in a batch answer (op=1): the send error code the fake refuses
# it with -> (status, error) in the codes of SMSC.ru's status API.
_SMSC_PHONE_REFUSALS = {7: (22, 249), 8: (23, 250)}


def _smsc_send(fake: FakeGateway, params: dict[str, str]) -> Answer:
    """/sys/send.php: send (``phones`` + ``mes``, or ``list``), or with cost=1 only the price."""
    if "login" in params:
        secret = params.get("psw", "")
        authorised = params["login"] == SMSC_LOGIN and secret == SMSC_PASSWORD
    else:
        secret = params.get("apikey", "")
        authorised = secret == SMSC_APIKEY
    if not authorised:
        return _json({"error": "authorise error", "error_code": 2})
    if fake._rate_limited():
        return _json({"error": "duplicate request, wait a minute", "error_code": 9})
    errors = {
        Behaviour.IP_BLOCKED: {"error": "ip is blocked", "error_code": 4},
        Behaviour.RATE_LIMITED: {"error": "duplicate request, wait a minute", "error_code": 9},
        Behaviour.UNKNOWN_ERROR: {"error": f"strange error for {secret}", "error_code": 77},
    }
    if fake.behaviour in errors:
        return _json(errors[fake.behaviour])
    cost_mode = params.get("cost", "0")
    price_only = cost_mode == "1"
    utf8 = params.get("charset", "").lower() == "utf-8"
    if "list" in params:
        pairs = _smsc_list(params["list"] if utf8 else _cp1251(params["list"]))
        if pairs is None or len(pairs) > SMSC_BATCH:
            return _json({"error": "parameters error", "error_code": 1})
    else:
        text = params.get("mes", "") if utf8 else _cp1251(params.get("mes", ""))
        pairs = [(number, text) for number in _numbers(params.get("phones", ""))]
    if not price_only and (fake.behaviour is Behaviour.NO_FUNDS or fake._out_of_funds()):
        return _json({"error": "no money", "error_code": 3, "id": 0})
    if not pairs or not all(text for _number, text in pairs):
        return _json({"error": "parameters error", "error_code": 1})
    good = [(number, text) for number, text in pairs if fake._refusal(number, 7) is None]
    if not good:
        code = fake._refusal(pairs[0][0], 7) or 7
        said = _SMSC_NUMBER_TEXTS.get(code, "message is denied")
        return _json({"error": said, "error_code": code, "id": 0})
    if not price_only and fake._out_of_funds(len(good)):  # the batch costs more than is left
        return _json({"error": "no money", "error_code": 3, "id": 0})
    parts = {number: _segments(text) for number, text in good}
    cost = fake.sms_price * sum(parts.values())
    if price_only:
        return _json({"cost": str(cost), "cnt": sum(parts.values())})
    with fake._lock:
        request_id = str(1000 + len(fake.sent) + 1)  # one id for the whole request
    for number, text in good:
        fake._deliver(number, text, params.get("sender", ""), lambda _n: request_id)
    answer: dict[str, Any] = {"id": int(request_id), "cnt": sum(parts.values())}
    if cost_mode in ("2", "3"):
        answer["cost"] = str(cost)
    if cost_mode == "3":
        answer["balance"] = str(fake.balance)
    if params.get("op") == "1":
        answer["phones"] = [_smsc_phone(fake, number, parts.get(number)) for number, _ in pairs]
    if params.get("fmt") != "3":
        return 200, f"OK - {answer['cnt']} SMS, ID - {answer['id']}", "text/plain"
    return _json(answer)


def _smsc_phone(fake: FakeGateway, number: str, parts: int | None) -> dict[str, str]:
    """One number's entry of an op=1 answer: its price, or why it was refused."""
    entry = {"phone": number, "mccmnc": "25001"}
    if parts is None:
        code = fake._refusal(number, 7) or 7
        status, error = _SMSC_PHONE_REFUSALS.get(code, (20, code))
        return {**entry, "cost": "0", "status": str(status), "error": str(error)}
    return {**entry, "cost": str(fake.sms_price * parts), "status": "0", "error": "0"}


def _cp1251(text: str) -> str:
    """``text`` as SMSC.ru reads it without charset=utf-8: its UTF-8 bytes as windows-1251."""
    return text.encode("utf-8").decode("cp1251", errors="replace")


_ROUTES = {
    "/my/balance": _smsru_balance,
    "/sys/balance.php": _smsc_balance,
    "/sms/send": _smsru_send,
    "/sms/cost": _smsru_cost,
    "/sys/send.php": _smsc_send,
}
