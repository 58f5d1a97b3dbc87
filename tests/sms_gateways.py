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
Both accept GET (query) and POST (form) parameters, as the real gateways do. The SMS-sending
issue adds ``/sms/send``, ``/sms/cost``, ``/sys/send.php`` to ``_ROUTES``.

How it answers is set per test: ``balance`` / ``currency`` for a success, ``behaviour`` for a
failure (see :class:`Behaviour`).
"""

from __future__ import annotations

import json
import ssl
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from avtoprokat_mail.model import SmsProvider, SmsSettings

SMSRU_API_ID = "7E3B9C1A-5D2F-4A6B-SMSRU-SECRET-0001"
SMSC_LOGIN = "avtoprokat"
SMSC_PASSWORD = "smsc-pass-SECRET-0002"
SMSC_APIKEY = "smsc-apikey-SECRET-0003"


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

    def settings(self, provider: SmsProvider, login: str = "") -> SmsSettings:
        """SMS settings of ``provider`` pointing at this fake."""
        return SmsSettings(provider=provider, login=login, endpoint=self.url)

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


class _Handler(BaseHTTPRequestHandler):
    gateway: FakeGateway
    protocol_version = "HTTP/1.1"

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
        self._send(status, text, content_type)

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


_ROUTES = {
    "/my/balance": _smsru_balance,
    "/sys/balance.php": _smsc_balance,
}
