"""Deadlines for what a server sends back, so a server trickling bytes cannot hold us forever.

A socket timeout bounds each ``recv`` only: a server that sends one byte a second never
trips a 2-second timeout, and smtplib or imaplib would wait for its reply for ever. Here a
reply as a whole, and a whole exchange (the connection test), must end by a deadline:

- :class:`DeadlineSMTP` and :class:`DeadlineSMTP_SSL` read each SMTP reply through a
  :class:`ReplyReader` that stops at ``timeout`` after the reply began, or earlier at the
  connection's ``deadline`` when one is set;
- sending/imap.py's ``DeadlineIMAP4`` reads through the same :class:`ReplyReader`: each IMAP
  line has the timeout, each literal (a message being fetched) the timeout plus a second per
  :data:`MIN_RATE` bytes (there, so that a run does not import imaplib);
- :func:`watchdog` shuts the sockets opened inside it down when a deadline passes, for code
  that reads through layers we do not own (http.client under urllib): the blocked read then
  ends at once.

A missed deadline is a ``TimeoutError``, which the callers already explain as «не ответил за
N с».
"""

from __future__ import annotations

import contextlib
import math
import smtplib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

_CHUNK = 8192
MIN_RATE = 8192  # bytes a second below which a fetched message counts as trickled


class ReplyReader:
    """A ``readline`` over a socket where each reply has a deadline (smtplib's ``self.file``)."""

    def __init__(self, sock: socket.socket, timeout: float | None) -> None:
        self._sock, self._timeout = sock, timeout
        self._buffer = b""
        self._deadline = math.inf

    def start_reply(self, until: float | None = None, extra: float = 0.0) -> None:
        """A new reply begins: it must be read in full by ``timeout`` (plus ``extra``) from
        now, and by ``until`` when given."""
        own = math.inf if self._timeout is None else time.monotonic() + self._timeout + extra
        self._deadline = min(own, until if until is not None else math.inf)

    def read(self, size: int) -> bytes:
        """Exactly ``size`` bytes, fewer only when the server closed."""
        while len(self._buffer) < size:
            chunk = self._receive()
            if not chunk:
                break
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readline(self, limit: int = -1) -> bytes:
        """One line (with its newline), at most ``limit`` bytes; b"" when the server closed."""
        while b"\n" not in self._buffer and (limit < 0 or len(self._buffer) < limit):
            chunk = self._receive()
            if not chunk:
                break
            self._buffer += chunk
        end = self._buffer.find(b"\n") + 1 or len(self._buffer)
        if limit >= 0:
            end = min(end, limit)
        line, self._buffer = self._buffer[:end], self._buffer[end:]
        return line

    def _receive(self) -> bytes:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the server's reply did not arrive in time")
        previous = self._sock.gettimeout()
        self._sock.settimeout(remaining if math.isfinite(remaining) else previous)
        try:
            return self._sock.recv(_CHUNK)
        finally:
            self._sock.settimeout(previous)  # sends keep the connection's own timeout

    def close(self) -> None:
        """smtplib closes its file before the socket; the socket is smtplib's to close."""
        self._buffer = b""


class _DeadlineReplies:
    """Mixin for smtplib.SMTP: every reply is read by a :class:`ReplyReader`.

    ``deadline`` (a ``time.monotonic()`` value, or None) bounds every reply besides the
    timeout: the connection test sets it for the whole test.
    """

    sock: Any
    file: Any
    timeout: float

    def __init__(self, *args: Any, deadline: float | None = None, **kwargs: Any) -> None:
        self.deadline = deadline  # before smtplib connects: the greeting has it too
        super().__init__(*args, **kwargs)

    def getreply(self) -> tuple[int, bytes]:
        # A new socket (STARTTLS wraps it and sets file to None) needs a new reader: bytes
        # buffered before TLS must never be read as if they came over TLS.
        if not isinstance(self.file, ReplyReader):
            self.file = ReplyReader(self.sock, self.timeout)
        self.file.start_reply(self.deadline)
        return super().getreply()  # type: ignore[misc]


class DeadlineSMTP(_DeadlineReplies, smtplib.SMTP):
    """smtplib.SMTP whose replies have deadlines."""


class DeadlineSMTP_SSL(_DeadlineReplies, smtplib.SMTP_SSL):
    """smtplib.SMTP_SSL whose replies have deadlines."""


class Watchdog:
    """Shut the watched socket down once ``seconds`` have passed (used as a context manager).

    ``expired`` tells afterwards whether it did, so the caller can say «не ответил вовремя»
    rather than «соединение оборвалось».
    """

    def __init__(self, seconds: float) -> None:
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self.expired = False

    def watch(self, sock: socket.socket) -> None:
        """Also shut ``sock`` down when time runs out (at once if it already has)."""
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._timer.cancel()


_watching = threading.local()


@contextlib.contextmanager
def watchdog(seconds: float) -> Iterator[Watchdog]:
    """A :class:`Watchdog` for ``seconds`` that sockets opened in this thread join
    (through :func:`watch_current`) until the block ends."""
    dog, previous = Watchdog(seconds), getattr(_watching, "dog", None)
    _watching.dog = dog
    try:
        with dog:
            yield dog
    finally:
        _watching.dog = previous


def watch_current(sock: socket.socket) -> None:
    """Put ``sock`` under the watchdog of the current block, if there is one."""
    if (dog := getattr(_watching, "dog", None)) is not None:
        dog.watch(sock)
