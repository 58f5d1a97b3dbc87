"""Real SMTP servers on 127.0.0.1 for tests: aiosmtpd with STARTTLS or implicit TLS and AUTH,
plain servers, and scripted TCP servers (silent, hanging up, or answering from a script).

Use the fixtures with ``pytest_plugins = ["tests.smtp_servers"]``. Every server listens on a
free port and is stopped when its test ends. The test CA (trustme) is trusted only where a
test asks for ``trust_test_ca`` (it sets SSL_CERT_FILE, which ssl.create_default_context reads).

PYTEST_DONT_REWRITE: test modules import this file before pytest loads it as a plugin, which
would warn that its asserts cannot be rewritten; it has none.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword

from avtoprokat_mail.model import EmailSettings, Security

HOST = "127.0.0.1"
USER = "office@avtoprokat.ru"
PASSWORD = "пароль-Секрет-42"
MECHANISMS = ("LOGIN", "PLAIN")  # what aiosmtpd implements itself
_POLL = 0.05  # seconds: how often the scripted server's threads look for a stop


# --- pieces ---------------------------------------------------------------------------------------
class Authenticator:
    """Accepts one login and password; records every attempt (mechanism, login), never passwords."""

    def __init__(self, user: str = USER, password: str = PASSWORD) -> None:
        self.user, self.password = user, password
        self.attempts: list[tuple[str, str]] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        self.attempts.append((mechanism, login))
        ok = login == self.user and auth_data.password == self.password.encode("utf-8")
        return AuthResult(success=ok, handled=False)


class RecordingHandler:
    """Keeps every accepted message: ``envelopes`` in order of arrival.

    With ``require_auth`` it refuses MAIL before a successful AUTH, as aiosmtpd's own
    ``auth_required`` does; that one warns whenever AUTH is offered without STARTTLS, which
    an implicit-TLS server must do.
    """

    def __init__(self, require_auth: bool = False) -> None:
        self.require_auth = require_auth
        self.envelopes: list[Envelope] = []

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 2.0.0 Сообщение принято"


@dataclass
class Endpoint:
    """Where a test server listens; ``settings()`` gives EmailSettings pointing at it."""

    host: str
    port: int

    def settings(self, security: Security = Security.NONE, **changes: Any) -> EmailSettings:
        base = EmailSettings(
            sender_name="Автопрокат",
            sender_address=USER,
            host=self.host,
            port=self.port,
            security=security,
            auth=False,
            user=USER,
            timeout=5,
        )
        return replace(base, **changes)


@dataclass
class SmtpServer(Endpoint):
    """A running aiosmtpd server."""

    controller: Controller | None = None
    handler: RecordingHandler = field(default_factory=RecordingHandler)
    authenticator: Authenticator | None = None

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def auth_attempts(self) -> list[tuple[str, str]]:
        return self.authenticator.attempts if self.authenticator else []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_smtp_server(
    *,
    starttls: ssl.SSLContext | None = None,
    implicit_tls: ssl.SSLContext | None = None,
    auth: bool = True,
    auth_in_clear: bool = False,
    mechanisms: tuple[str, ...] = MECHANISMS,
    require_starttls: bool = True,
) -> SmtpServer:
    """Start aiosmtpd on a free port of 127.0.0.1.

    ``starttls``: offer STARTTLS with this context and require it before anything else.
    ``implicit_tls``: TLS from the first byte (port 465 style).
    ``auth``: AUTH (``mechanisms``) required before MAIL; offered once the connection is
    encrypted, or at once when ``auth_in_clear`` (a careless server: the client must not use it).
    """
    handler = RecordingHandler(require_auth=auth)
    authenticator = Authenticator() if auth else None
    kwargs: dict[str, Any] = {
        "server_hostname": "smtp.test",  # spares a reverse DNS lookup at every start
        "ready_timeout": 5.0,
        "auth_exclude_mechanism": [m for m in MECHANISMS if m not in mechanisms],
    }
    if starttls is not None:
        kwargs.update(tls_context=starttls, require_starttls=require_starttls)
    if implicit_tls is not None:
        # aiosmtpd counts only STARTTLS as "TLS" for auth_require_tls; this socket is TLS anyway.
        kwargs.update(ssl_context=implicit_tls, auth_require_tls=False)
    if auth_in_clear:
        kwargs.update(auth_require_tls=False)
    if authenticator is not None:
        # aiosmtpd's auth_required warns unless AUTH waits for STARTTLS; the handler's
        # require_auth does the same job everywhere.
        auth_required = kwargs.get("auth_require_tls", True)
        kwargs.update(authenticator=authenticator, auth_required=auth_required)
    for _attempt in range(3):  # a free port may be taken between probing and binding
        controller = Controller(handler, hostname=HOST, port=free_port(), **kwargs)
        try:
            controller.start()
        except OSError:
            controller.stop(no_assert=True)
            continue
        return SmtpServer(HOST, controller.port, controller, handler, authenticator)
    raise RuntimeError("no free port for the test SMTP server")


class ScriptedServer(Endpoint):
    """A TCP server that plays a script instead of speaking SMTP.

    ``replies[0]`` is sent on connecting, each further reply answers one line the client
    sends. When the script is played out the server hangs up if ``hang_up``, else it keeps
    the connection and stays silent (so ``ScriptedServer()`` never says a word). It records
    the lines received (``received``), counts ``connections`` and notes when the client
    closed its end (``client_closed``).
    """

    def __init__(
        self, replies: Sequence[bytes] = (), *, hang_up: bool = False, trickle: float = 0.0
    ) -> None:
        self.trickle = trickle  # when set, replies go out a byte at a time, this far apart
        self._listener = socket.create_server((HOST, 0))
        self._listener.settimeout(_POLL)
        super().__init__(HOST, self._listener.getsockname()[1])
        self.replies, self.hang_up = list(replies), hang_up
        self.received: list[bytes] = []
        self.connections = 0
        self.client_closed = threading.Event()
        self._stopping = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            thread = threading.Thread(target=self._talk, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _talk(self, conn: socket.socket) -> None:
        replies, pending = list(self.replies), b""
        with conn, contextlib.suppress(OSError):
            conn.settimeout(_POLL)
            if replies:
                self._say(conn, replies.pop(0))
            while not self._stopping.is_set() and (replies or not self.hang_up):
                try:
                    data = conn.recv(4096)
                except TimeoutError:
                    continue
                if not data:
                    self.client_closed.set()
                    return
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    self.received.append(line.rstrip(b"\r"))
                    if replies:
                        self._say(conn, replies.pop(0))
            conn.shutdown(socket.SHUT_RDWR)

    def _say(self, conn: socket.socket, reply: bytes) -> None:
        if not self.trickle:
            conn.sendall(reply)
            return
        for byte in reply:  # a byte at a time: each recv of the client gets something soon
            if self._stopping.wait(self.trickle):
                return
            conn.sendall(bytes([byte]))

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()


# --- the test CA ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TestCA:
    """A certificate authority of this test session and a server certificate for 127.0.0.1."""

    __test__ = False  # not a test class, whatever its name

    ca: trustme.CA
    cert: trustme.LeafCert
    pem_path: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(context)
        return context


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    ca = trustme.CA()
    pem_path = tmp_path_factory.mktemp("ca") / "test-ca.pem"
    ca.cert_pem.write_to_path(str(pem_path))
    return TestCA(ca, ca.issue_cert(HOST, "localhost"), pem_path)


@pytest.fixture
def trust_test_ca(test_ca: TestCA, monkeypatch: pytest.MonkeyPatch) -> TestCA:
    """Make the test CA the one trusted by ssl.create_default_context() for this test."""
    monkeypatch.setenv("SSL_CERT_FILE", str(test_ca.pem_path))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    return test_ca


@pytest.fixture
def distrust_test_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the system's CAs are trusted, whatever the environment said."""
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


# --- servers as fixtures --------------------------------------------------------------------------
def _serving(server: SmtpServer | ScriptedServer) -> Iterator[Any]:
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def starttls_server(test_ca: TestCA) -> Iterator[SmtpServer]:
    """Port 587 style: STARTTLS offered and required, then AUTH (LOGIN, PLAIN) required."""
    yield from _serving(start_smtp_server(starttls=test_ca.server_context()))


@pytest.fixture
def ssl_server(test_ca: TestCA) -> Iterator[SmtpServer]:
    """Port 465 style: TLS from the first byte, AUTH (LOGIN, PLAIN) required."""
    yield from _serving(start_smtp_server(implicit_tls=test_ca.server_context()))


@pytest.fixture
def login_only_server(test_ca: TestCA) -> Iterator[SmtpServer]:
    """STARTTLS, and AUTH LOGIN as the only mechanism (as some Exchange servers)."""
    context = test_ca.server_context()
    yield from _serving(start_smtp_server(starttls=context, mechanisms=("LOGIN",)))


@pytest.fixture
def no_starttls_server() -> Iterator[SmtpServer]:
    """No STARTTLS, yet AUTH offered in clear text: a client must not log in here."""
    yield from _serving(start_smtp_server(auth_in_clear=True))


@pytest.fixture
def open_relay() -> Iterator[SmtpServer]:
    """Plain SMTP, no TLS, no AUTH offered: an office relay."""
    yield from _serving(start_smtp_server(auth=False))


def _stopped_at_the_end(make: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """A fixture's ``start(...)``: servers made by ``make``, all stopped when the test ends."""
    servers: list[Any] = []

    def start(*args: Any, **kwargs: Any) -> Any:
        servers.append(make(*args, **kwargs))
        return servers[-1]

    try:
        yield start
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def scripted_server() -> Iterator[Callable[..., ScriptedServer]]:
    """Start ScriptedServer(replies, hang_up=..., trickle=...) servers; stopped at the end."""
    yield from _stopped_at_the_end(ScriptedServer)


@pytest.fixture
def silent_server() -> Iterator[ScriptedServer]:
    """Accepts connections and never answers."""
    yield from _serving(ScriptedServer())


@pytest.fixture
def hang_up_server() -> Iterator[ScriptedServer]:
    """Accepts a connection and closes it at once."""
    yield from _serving(ScriptedServer(hang_up=True))


@pytest.fixture
def busy_server() -> Iterator[ScriptedServer]:
    """Greets with 421 (too many connections) and closes."""
    reply = b"421 4.7.0 Too many connections, try again later\r\n"
    yield from _serving(ScriptedServer([reply], hang_up=True))


@pytest.fixture
def refusing_server() -> Iterator[ScriptedServer]:
    """Greets with 554 (no SMTP service here) and closes."""
    yield from _serving(ScriptedServer([b"554 5.7.1 No SMTP service for you\r\n"], hang_up=True))


@pytest.fixture
def closed_port() -> Endpoint:
    """A port of 127.0.0.1 where nothing listens."""
    return Endpoint(HOST, free_port())


# --- servers that misbehave on cue (the mailing engine's tests) ----------------------------------
STALL_SECONDS = 30.0  # longer than any client timeout a test uses; a stop cancels the wait


class FaultyHandler(RecordingHandler):
    """A RecordingHandler (AUTH required) that misbehaves on cue, recipient by recipient.

    ``refuse``: address → reply given to its RCPT every time (e.g. a 550).
    ``refuse_once``: address → reply given to its first RCPT only (e.g. a 451), then accepted.
    ``drop_every``: after every N-th accepted message the session ends: the server closes the
    connection (``drop_with_421=False``) or answers the next MAIL with 421, as busy servers do.
    ``delay``: seconds each message takes to be accepted (recorded first, then the wait).
    ``stall_rcpt_once``: addresses whose first RCPT is never answered.
    ``stall_after_data_once``: addresses whose first message is received in full (and
    recorded) but never answered: the reply is what gets lost.
    ``stall_all``: while set, every MAIL waits without an answer.
    ``trickle_after_data_once``: addresses whose first message is received in full (and
    recorded), then answered slowly: a "250-" line a byte every 0.2 s (some 9 s), then the
    accept reply: a client that waits long enough sees the message accepted.
    ``accept_reply``: the answer to an accepted message (ASCII for a server without SMTPUTF8).
    ``mail_reply``: when set, the answer to every MAIL (e.g. a 553 for a refused sender).

    Besides ``envelopes`` it keeps ``arrivals`` (monotonic time of each accepted message) and
    ``rcpt_seen`` (how many RCPTs each address got).
    """

    def __init__(
        self,
        *,
        refuse: dict[str, str] | None = None,
        refuse_once: dict[str, str] | None = None,
        drop_every: int = 0,
        drop_with_421: bool = False,
        delay: float = 0.0,
        stall_rcpt_once: Sequence[str] = (),
        stall_after_data_once: Sequence[str] = (),
        trickle_after_data_once: Sequence[str] = (),
        accept_reply: str = "250 2.0.0 Сообщение принято",
        mail_reply: str | None = None,
    ) -> None:
        super().__init__(require_auth=True)
        self.accept_reply, self.mail_reply = accept_reply, mail_reply
        self.refuse = dict(refuse or {})
        self.refuse_once = dict(refuse_once or {})
        self.drop_every, self.drop_with_421 = drop_every, drop_with_421
        self.delay = delay
        self.stall_rcpt_once = set(stall_rcpt_once)
        self.stall_after_data_once = set(stall_after_data_once)
        self.trickle_after_data_once = set(trickle_after_data_once)
        self.stall_all = threading.Event()
        self.arrivals: list[float] = []
        self.rcpt_seen: dict[str, int] = {}
        self.sessions_dropped = 0
        self._hang_up: set[int] = set()  # id() of sessions to answer 421

    @property
    def count(self) -> int:
        return len(self.envelopes)

    async def _stall(self, until_cleared: threading.Event | None = None) -> None:
        deadline = time.monotonic() + STALL_SECONDS
        while time.monotonic() < deadline and (until_cleared is None or until_cleared.is_set()):
            await asyncio.sleep(_POLL)

    async def _trickle(self, server: Any, text: bytes) -> None:
        deadline = time.monotonic() + STALL_SECONDS
        for byte in text:
            if time.monotonic() > deadline or server.transport.is_closing():
                return
            server.transport.write(bytes([byte]))
            await asyncio.sleep(0.2)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.stall_all.is_set():
            await self._stall(self.stall_all)
        if id(session) in self._hang_up:
            self._hang_up.discard(id(session))
            return "421 4.3.2 Service shutting down, closing transmission channel"
        if self.mail_reply and session.authenticated:
            return self.mail_reply
        return await super().handle_MAIL(server, session, envelope, address, options)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        seen = self.rcpt_seen[address] = self.rcpt_seen.get(address, 0) + 1
        if address in self.stall_rcpt_once and seen == 1:
            await self._stall()
        if address in self.refuse:
            return self.refuse[address]
        if address in self.refuse_once and seen == 1:
            return self.refuse_once[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        self.arrivals.append(time.monotonic())
        address = envelope.rcpt_tos[0]
        if address in self.stall_after_data_once:
            self.stall_after_data_once.discard(address)
            await self._stall()
        if address in self.trickle_after_data_once:
            self.trickle_after_data_once.discard(address)
            await self._trickle(server, b"250-" + b"x" * 40 + b"\r\n")
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.drop_every and len(self.envelopes) % self.drop_every == 0:
            self.sessions_dropped += 1
            if self.drop_with_421:
                self._hang_up.add(id(session))
            else:  # after this reply has gone out
                asyncio.get_running_loop().call_soon(server.transport.close)
        return self.accept_reply


def start_faulty_server(handler: FaultyHandler, context: ssl.SSLContext) -> SmtpServer:
    """A STARTTLS + AUTH server (as ``starttls_server``) that answers through ``handler``."""
    server = start_smtp_server(starttls=context)
    # aiosmtpd builds each connection's protocol from controller.handler: from now on, ours.
    server.controller.handler = server.handler = handler
    return server


@pytest.fixture
def faulty_server(test_ca: TestCA) -> Iterator[Callable[[FaultyHandler], SmtpServer]]:
    """Start STARTTLS + AUTH servers answering through a FaultyHandler; all stop at the end."""
    yield from _stopped_at_the_end(
        lambda handler: start_faulty_server(handler, test_ca.server_context())
    )


# --- a server that sees how the commands arrive (PIPELINING, RFC 2920) ---------------------------
@dataclass
class SmtpScript:
    """What :class:`PipeliningServer` answers at each stage of a transaction.

    ``stall``: "mail", "rcpt", "data" or "final": from that reply on the server says nothing
    more on the connection (the commands are still recorded); with ``hang_up`` it closes the
    connection there instead. ``once``: the script holds for one transaction of the server,
    the ``transaction``-th (counting from 1 across connections; a transaction ends with a
    message's final reply, an RSET or a refused DATA); the others are answered with the
    defaults (accepted). ``careless_data``: DATA gets the script's reply even when no
    recipient was accepted (a server that RFC 2920 §3.1 warns about: 354 after a refusal).
    """

    mail: str = "250 2.1.0 Ok"
    rcpt: str = "250 2.1.5 Ok"
    data: str = "354 End data with <CR><LF>.<CR><LF>"
    final: str = "250 2.0.0 Ok: queued as 1"
    stall: str = ""
    once: bool = True
    transaction: int = 1
    hang_up: bool = False
    careless_data: bool = False


@dataclass
class Received:
    """One accepted message: the envelope, the MAIL options and the bytes (dots unstuffed)."""

    mail_from: str
    rcpt_tos: list[str]
    mail_options: list[str]
    content: bytes


@dataclass
class Connection:
    """What one client connection sent: ``reads`` holds, for each chunk the server read,
    the command lines completed in it (message text not included); ``packets`` the same
    with a "." for each message whose end (its final dot line) came in that chunk, so a
    test sees a message's end and the next commands arrive in one write."""

    reads: list[list[str]] = field(default_factory=list)
    packets: list[list[str]] = field(default_factory=list)

    @property
    def commands(self) -> list[str]:
        return [command for read in self.reads for command in read]


class _PipeliningProtocol(asyncio.Protocol):
    """A small SMTP server: EHLO (with PIPELINING when asked), MAIL, RCPT, DATA, RSET, NOOP, QUIT.

    It answers each command as it parses it, so pipelined commands get their replies in order;
    DATA without a valid recipient is refused with 554 (RFC 2920 §3.1).
    """

    def __init__(self, server: PipeliningServer) -> None:
        self.server, self.connection = server, Connection()
        self.script = server.script_for_transaction()
        self.pending, self.silent, self.body = b"", False, None  # body: bytes while in DATA
        self._reset()

    def _reset(self) -> None:
        self.mail_from: str | None = None
        self.rcpt_tos: list[str] = []
        self.mail_options: list[str] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.append(self.connection)
        self.server._transports.append(transport)
        self._say("220 pipelining.test ESMTP")

    def data_received(self, data: bytes) -> None:
        self.pending += data
        read: list[str] = []
        packet: list[str] = []
        while b"\n" in self.pending:
            line, self.pending = self.pending.split(b"\n", 1)
            if self.body is not None:
                if line == b".\r":
                    packet.append(".")
                self._body_line(line + b"\n")
                continue
            command = line.rstrip(b"\r").decode("utf-8", "replace")
            read.append(command)
            packet.append(command)
            self._command(command)
        self.connection.reads.append(read)
        self.connection.packets.append(packet)

    def _say(self, reply: str) -> None:
        if not self.silent and not self.transport.is_closing():
            self.transport.write(reply.encode("utf-8") + b"\r\n")
            if reply.startswith(("421", "221")):
                self.transport.close()

    def _stage(self, stage: str, reply: str) -> str | None:
        if self.script.stall == stage:
            self.silent = True
            if self.script.hang_up:
                self.transport.close()
            return None
        return reply

    def _command(self, command: str) -> None:
        verb, _, rest = command.partition(" ")
        verb = verb.upper()
        if verb == "EHLO":
            offered = ["SIZE 10240000", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"]
            if self.server.pipelining:
                offered.insert(0, "PIPELINING")
            lines = ["pipelining.test", *offered]
            for line in lines[:-1]:
                self._say(f"250-{line}")
            self._say(f"250 {lines[-1]}")
        elif verb == "MAIL":
            self._mail(rest)
        elif verb == "RCPT":
            self._rcpt(rest)
        elif verb == "DATA":
            self._data()
        elif verb == "RSET":
            self._reset()
            self.script = self.server.script_for_transaction()
            self._say("250 2.0.0 Ok")
        elif verb == "NOOP":
            self._say("250 2.0.0 Ok")
        elif verb == "QUIT":
            self._say("221 2.0.0 Bye")
        else:
            self._say("502 5.5.2 Error: command not recognized")

    def _mail(self, rest: str) -> None:
        if self.mail_from is not None:  # as Postfix: a transaction is open until RSET or "."
            self._say("503 5.5.1 Error: nested MAIL command")
            return
        reply = self._stage("mail", self.script.mail)
        if reply is None:
            return
        if reply.startswith("250"):
            address, *options = rest.split(" ")
            self.mail_from, self.mail_options = address.partition(":")[2].strip("<>"), options
        self._say(reply)

    def _rcpt(self, rest: str) -> None:
        if self.mail_from is None:
            self._say("503 5.5.1 Error: need MAIL command")
            return
        reply = self._stage("rcpt", self.script.rcpt)
        if reply is None:
            return
        if reply.startswith("25"):
            self.rcpt_tos.append(rest.partition(":")[2].strip("<>"))
        self._say(reply)

    def _data(self) -> None:
        if (self.mail_from is None or not self.rcpt_tos) and not self.script.careless_data:
            self._say("554 5.5.1 Error: no valid recipients")
            return
        reply = self._stage("data", self.script.data)
        if reply is None:
            return
        if reply.startswith("354"):
            self.body = b""
        else:  # the script's refusal is used up; the transaction stays open
            self.script = self.server.script_for_transaction()
        self._say(reply)

    def _body_line(self, line: bytes) -> None:
        if line != b".\r\n":
            self.body = (self.body or b"") + (line[1:] if line.startswith(b".") else line)
            return
        content, self.body = self.body or b"", None
        reply = self._stage("final", self.script.final)
        if reply is not None and reply.startswith("250"):
            assert self.mail_from is not None
            received = Received(self.mail_from, self.rcpt_tos, self.mail_options, content)
            self.server.messages.append(received)
        self._reset()
        self.script = self.server.script_for_transaction()
        if reply is not None:
            self._say(reply)


class PipeliningServer(Endpoint):
    """A plain SMTP server on its own asyncio loop that records how commands arrive.

    ``pipelining`` says whether EHLO offers PIPELINING; ``script`` what to answer (see
    :class:`SmtpScript`). ``connections`` records each connection's reads; ``messages`` the
    accepted messages. SIZE, 8BITMIME and SMTPUTF8 are offered always.
    """

    def __init__(self, script: SmtpScript | None = None, *, pipelining: bool = True) -> None:
        self.script, self.pipelining = script or SmtpScript(), pipelining
        self.connections: list[Connection] = []
        self.messages: list[Received] = []
        self._transactions = 0
        self._transports: list[asyncio.BaseTransport] = []
        self._loop = asyncio.new_event_loop()
        self._server = self._loop.run_until_complete(
            self._loop.create_server(lambda: _PipeliningProtocol(self), HOST, 0)
        )
        super().__init__(HOST, self._server.sockets[0].getsockname()[1])
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def script_for_transaction(self) -> SmtpScript:
        self._transactions += 1
        if self.script.once and self._transactions != self.script.transaction:
            return SmtpScript()
        return self.script

    def stop(self) -> None:
        async def shut() -> None:
            self._server.close()
            for transport in self._transports:
                transport.close()
            await asyncio.sleep(0)

        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()


@pytest.fixture
def pipelining_server() -> Iterator[Callable[..., PipeliningServer]]:
    """Start PipeliningServer(script, pipelining=...) servers; all stop when the test ends."""
    yield from _stopped_at_the_end(PipeliningServer)
