"""Parallel SMTP connections («Одновременных соединений», ``email.connections``).

Runs go out through several real STARTTLS + AUTH connections to aiosmtpd at once; every test
checks what the server received (each recipient exactly once) and what the journal says, and
that the limits hold exactly however many connections there are.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from avtoprokat_mail.model import Channel, DeliveryStatus, Route, RunStatus, Security
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.sending.campaign import Campaign, Progress, plan_run
from avtoprokat_mail.sending.lifecycle import start_run
from avtoprokat_mail.sending.smtp import SmtpTransport
from avtoprokat_mail.storage import runs as run_store
from avtoprokat_mail.storage.settings import load_email_settings, save_email_settings
from tests.mailing_data import add_clients, add_template, address, per_recipient, russian_clients
from tests.smtp_servers import PASSWORD, USER, FaultyHandler, SmtpServer
from tests.test_daily_limit import MovingClock
from tests.test_send_cli import smtp_password  # noqa: F401  (a fixture)

pytestmark = pytest.mark.usefixtures("trust_test_ca")

MAILBOX = USER.casefold()


class CountingHandler(FaultyHandler):
    """A FaultyHandler that also sees how many sessions it served and how many messages it
    was taking at the same moment."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.sessions: set[int] = set()
        self.at_once = 0
        self.most_at_once = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sessions.add(id(session))
        self.at_once += 1
        self.most_at_once = max(self.most_at_once, self.at_once)
        try:
            await asyncio.sleep(0.02)  # long enough for the other connections to arrive
            return await super().handle_DATA(server, session, envelope)
        finally:
            self.at_once -= 1


@pytest.fixture
def database(db: sqlite3.Connection, data_folder: Path) -> Path:
    return database_path(data_folder)


def new_run(db: sqlite3.Connection, count: int) -> int:
    add_clients(db, russian_clients(count))
    return start_run(db, plan_run(db, add_template(db)), Route.direct(Channel.EMAIL))


def engine(
    database: Path, run_id: int, server: SmtpServer, *, port: int = 0, **options
) -> Campaign:
    """A Campaign through ``connections`` real connections to ``server`` (or to a proxy in
    front of it on ``port``)."""
    settings = server.settings(Security.STARTTLS, auth=True, timeout=5, port=port or server.port)
    options.setdefault("retry_delays", (0.05, 0.05, 0.05))
    return Campaign(database, run_id, SmtpTransport(settings, PASSWORD), mailbox=MAILBOX, **options)


def journal_counts(db: sqlite3.Connection, run_id: int) -> Counter[DeliveryStatus]:
    return Counter(d.status for d in run_store.deliveries(db, run_id))


def test_four_connections_send_everyone_exactly_once_at_the_same_time(
    db: sqlite3.Connection, database: Path, faulty_server
) -> None:
    handler = CountingHandler()
    server = faulty_server(handler)
    run_id = new_run(db, 40)

    final = engine(database, run_id, server, connections=4).run()

    assert (final.status, final.sent, final.pending) == (RunStatus.FINISHED, 40, 0)
    assert per_recipient(handler.envelopes) == {address(n): 1 for n in range(1, 41)}
    assert len(handler.sessions) == 4  # four connections were used...
    assert handler.most_at_once > 1  # ...at the same time
    assert journal_counts(db, run_id) == Counter({DeliveryStatus.SENT: 40})
    message_ids = {d.message_id for d in run_store.deliveries(db, run_id)}
    assert len(message_ids) == 40  # each message journaled with its own Message-ID


def test_one_connection_is_the_default(
    db: sqlite3.Connection, database: Path, faulty_server
) -> None:
    handler = CountingHandler()
    server = faulty_server(handler)
    run_id = new_run(db, 6)

    final = engine(database, run_id, server).run()

    assert final.sent == 6 and len(handler.sessions) == 1 and handler.most_at_once == 1


def test_the_daily_limit_holds_exactly_across_four_connections(
    db: sqlite3.Connection, database: Path, faulty_server
) -> None:
    handler = CountingHandler()
    server = faulty_server(handler)
    run_id = new_run(db, 30)

    final = engine(
        database, run_id, server, connections=4, daily_limit=7,
        clock=MovingClock(), wait_for_limit=False,
    ).run()  # fmt: skip

    assert final.status is RunStatus.WAITING
    assert (final.sent, final.pending) == (7, 23)
    assert handler.count == 7  # not one more reached the server
    assert journal_counts(db, run_id) == Counter(
        {DeliveryStatus.SENT: 7, DeliveryStatus.PENDING: 23}
    )


def test_the_per_minute_limit_holds_across_four_connections(
    db: sqlite3.Connection, database: Path, faulty_server
) -> None:
    handler = CountingHandler()
    server = faulty_server(handler)
    run_id = new_run(db, 8)

    final = engine(database, run_id, server, connections=4, per_minute=600).run()

    assert final.sent == 8
    arrivals = sorted(handler.arrivals)
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.07, gaps  # one message per 0.1 s, whatever the connections


def test_a_refused_recipient_fails_alone_and_the_counts_match_the_journal(
    db: sqlite3.Connection, database: Path, faulty_server
) -> None:
    handler = CountingHandler(
        refuse={address(5): "550 5.1.1 No such user"},
        refuse_once={address(9): "451 4.3.0 Try again later"},
    )
    server = faulty_server(handler)
    run_id = new_run(db, 20)
    reports: list[Progress] = []

    final = engine(database, run_id, server, connections=4, on_progress=reports.append).run()

    assert (final.status, final.sent, final.failed) == (RunStatus.FINISHED, 19, 1)
    entries = {d.recipient: d for d in run_store.deliveries(db, run_id)}
    assert entries[address(5)].status is DeliveryStatus.FAILED
    assert "550 5.1.1" in entries[address(5)].reply
    assert (entries[address(9)].status, entries[address(9)].attempts) == (DeliveryStatus.SENT, 2)
    assert per_recipient(handler.envelopes) == {address(n): 1 for n in range(1, 21) if n != 5}
    assert journal_counts(db, run_id) == Counter(
        {DeliveryStatus.SENT: 19, DeliveryStatus.FAILED: 1}
    )
    assert all(r.done <= r.total for r in reports)
    assert any(r.current.endswith(" и ещё 3") for r in reports)  # four on their way at once


def test_a_lost_answer_makes_only_that_message_uncertain(
    db: sqlite3.Connection, database: Path, faulty_server
) -> None:
    handler = CountingHandler(stall_after_data_once=[address(3)])
    server = faulty_server(handler)
    run_id = new_run(db, 12)
    settings = server.settings(Security.STARTTLS, auth=True, timeout=1)

    final = Campaign(
        database, run_id, SmtpTransport(settings, PASSWORD), mailbox=MAILBOX, connections=4,
        retry_delays=(0.05,),
    ).run()  # fmt: skip

    assert (final.status, final.sent, final.uncertain) == (RunStatus.FINISHED, 11, 1)
    assert run_store.deliveries(db, run_id)[2].status is DeliveryStatus.UNCERTAIN
    assert per_recipient(handler.envelopes) == {address(n): 1 for n in range(1, 13)}


def test_cancel_with_four_connections_leaves_nothing_in_sending(
    db: sqlite3.Connection, database: Path, faulty_server
) -> None:
    handler = CountingHandler(delay=0.05)
    server = faulty_server(handler)
    run_id = new_run(db, 60)
    job = engine(database, run_id, server, connections=4)
    final: list[Progress] = []
    worker = threading.Thread(target=lambda: final.append(job.run()))
    worker.start()
    deadline = time.monotonic() + 10
    while handler.count < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    job.cancel()
    worker.join(10)

    (progress,) = final
    counts = journal_counts(db, run_id)
    assert progress.status is RunStatus.CANCELLED
    assert DeliveryStatus.SENDING not in counts  # what was on its way came back and was journaled
    assert counts[DeliveryStatus.SENT] == progress.sent == handler.count
    assert 8 <= progress.sent < 60
    assert counts[DeliveryStatus.PENDING] == progress.pending == 60 - progress.sent


class ConnectionLimit:
    """A TCP proxy in front of a server that takes ``limit`` connections at once and greets
    any more with «421 Too many connections», as providers do."""

    def __init__(self, port: int, limit: int) -> None:
        self.upstream, self.limit = port, limit
        self.open, self.turned_away = 0, 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                full = self.open >= self.limit
                self.open += 0 if full else 1
                self.turned_away += 1 if full else 0
            if full:
                client.sendall(b"421 4.7.0 Too many connections, try again later\r\n")
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            pair = [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pipe, args=(source, target, pair), daemon=True
                ).start()

    def _pipe(self, source: socket.socket, target: socket.socket, pair: list) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                if pair:
                    pair.clear()
                    self.open -= 1
            for end in (source, target):
                end.close()

    def stop(self) -> None:
        self._listener.close()


def test_connections_the_server_refuses_are_left_out_and_the_run_goes_on(
    db: sqlite3.Connection, database: Path, faulty_server
) -> None:
    handler = CountingHandler()
    server = faulty_server(handler)
    proxy = ConnectionLimit(server.port, limit=2)
    run_id = new_run(db, 24)
    try:
        final = engine(database, run_id, server, port=proxy.port, connections=4).run()
    finally:
        proxy.stop()

    assert (final.status, final.sent, final.failed) == (RunStatus.FINISHED, 24, 0)
    assert proxy.turned_away >= 2  # the 3rd and 4th connections were refused...
    assert len(handler.sessions) == 2  # ...and the run went on through the two it had
    assert per_recipient(handler.envelopes) == {address(n): 1 for n in range(1, 25)}
    assert all(d.attempts == 1 for d in run_store.deliveries(db, run_id))


@pytest.mark.usefixtures("smtp_password")
def test_the_command_line_sends_through_the_connections_of_the_settings(
    cli, db: sqlite3.Connection, faulty_server
) -> None:
    handler = CountingHandler()
    server = faulty_server(handler)
    status, _out, err = cli("settings", "set", "email.connections", "9")
    assert status != 0 and "одновременных соединений: нужно число от 1 до 8, а не 9" in err
    save_email_settings(db, server.settings(Security.STARTTLS, auth=True))
    status, _out, err = cli("settings", "set", "email.connections", "3")
    assert status == 0, err
    assert load_email_settings(db).connections == 3
    add_clients(db, russian_clients(15))
    template = add_template(db)

    status, out, err = cli("send", str(template.id), "--yes")

    assert status == 0, err
    assert out.rstrip().endswith("sent 15, failed 0, skipped 0, uncertain 0")
    assert len(handler.sessions) == 3
    assert per_recipient(handler.envelopes) == {address(n): 1 for n in range(1, 16)}
