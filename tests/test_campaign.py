"""The mailing engine in-process: plan → start_run → Campaign against real SMTP servers.

Every test sends through the real SmtpTransport to aiosmtpd over STARTTLS with AUTH (the test
CA trusted) and checks two things: what the SERVER received (parsed as a mail program would)
and what the JOURNAL says. Faults are real too: servers that refuse recipients, hang up, go
silent, or take their time (tests/smtp_servers.py, FaultyHandler).
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from avtoprokat_mail.model import (
    Channel,
    Client,
    Delivery,
    DeliveryStatus,
    Route,
    RunStatus,
    Security,
)
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.sending.campaign import (
    Campaign,
    Progress,
    RunBusy,
    plan_run,
)
from avtoprokat_mail.sending.lifecycle import RunRefused, create_retry, start_run
from avtoprokat_mail.sending.message import Sender
from avtoprokat_mail.sending.runlock import effective_status, is_being_sent, run_lock
from avtoprokat_mail.sending.smtp import FailureKind, SmtpTransport, failure
from avtoprokat_mail.storage import runs as run_store
from avtoprokat_mail.storage import templates as template_store
from tests.mailing_data import (
    CONTRACT_NAME,
    DOMAIN,
    PHOTO_NAME,
    add_clients,
    add_template,
    address,
    expected_body,
    expected_subject,
    per_recipient,
    received,
    russian_clients,
    write_attachments,
)
from tests.smtp_servers import PASSWORD, USER, FaultyHandler, ScriptedServer, SmtpServer

pytestmark = pytest.mark.usefixtures("trust_test_ca")

FAST = (0.05, 0.05, 0.05)  # retry delays: the engine's back-off, only quicker
SENDER = Sender("Автопрокат «Лада»", USER)
WRONG_PASSWORD = "неверный-Пароль-7"
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
CANCELLED_REASON = "Рассылка отменена пользователем."
StartServer = Callable[[FaultyHandler], SmtpServer]


# --- helpers ------------------------------------------------------------------------------------
@pytest.fixture
def database(db: sqlite3.Connection, data_folder: Path) -> Path:
    return database_path(data_folder)


def new_run(db: sqlite3.Connection, count: int, **template_options) -> tuple[int, list[Client]]:
    """``count`` marked clients (client1@… in order), a template, a started run."""
    clients = add_clients(db, russian_clients(count))
    template = add_template(db, **template_options)
    return start_run(db, plan_run(db, template), Route.direct(Channel.EMAIL)), clients


def retry_run(db: sqlite3.Connection, run_id: int, *, include_uncertain: bool = False) -> int:
    """Journal the retry of ``run_id`` (its lock let go, as a later ``Campaign.run`` takes it)."""
    new_id, lock = create_retry(
        db, run_store.get_run(db, run_id), include_uncertain=include_uncertain
    )
    lock.release()
    return new_id


def campaign(
    database: Path,
    run_id: int,
    server: SmtpServer | ScriptedServer,
    *,
    password: str = PASSWORD,
    timeout: int = 5,
    **options,
) -> Campaign:
    """A Campaign sending through the real SmtpTransport, STARTTLS + AUTH, fast retries."""
    settings = server.settings(Security.STARTTLS, auth=True, timeout=timeout)
    options.setdefault("retry_delays", FAST)
    return Campaign(database, run_id, SmtpTransport(settings, password), sender=SENDER, **options)


def journal(db: sqlite3.Connection, run_id: int) -> dict[str, Delivery]:
    return {d.recipient: d for d in run_store.deliveries(db, run_id)}


def statuses(db: sqlite3.Connection, run_id: int) -> dict[str, DeliveryStatus]:
    return {recipient: d.status for recipient, d in journal(db, run_id).items()}


def counts(db: sqlite3.Connection, run_id: int) -> dict[DeliveryStatus, int]:
    return dict(run_store.status_counts(db, run_id))


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


class InBackground:
    """Campaign.run() on a worker thread, as the GUI does it."""

    def __init__(self, job: Campaign) -> None:
        self.job = job
        self.outcome: list[Progress | BaseException] = []
        self.thread = threading.Thread(target=self._work, daemon=True)
        self.thread.start()

    def _work(self) -> None:
        try:
            self.outcome.append(self.job.run())
        except BaseException as error:
            self.outcome.append(error)

    def result(self, seconds: float = 20.0) -> Progress:
        self.thread.join(seconds)
        assert not self.thread.is_alive(), "the run did not end"
        (outcome,) = self.outcome
        assert isinstance(outcome, Progress), outcome
        return outcome


# --- 1. end to end ----------------------------------------------------------------------------
def test_two_hundred_clients_end_to_end(
    db: sqlite3.Connection, database: Path, tmp_path: Path, starttls_server: SmtpServer
) -> None:
    clients = add_clients(db, russian_clients(200))
    add_clients(
        db,
        [
            Client("Отказов", "Олег Олегович", email=address(901), marked=True, opt_out=True),
            Client("Беспочтов", "Борис Борисович", mobile="+79031112233", marked=True),
            Client("Ошибкин", "Илья Ильич", email="oshibkin@mail", marked=True),
            Client("Дублёв", "Дмитрий Дмитриевич", email=address(7).upper(), marked=True),
            Client("Неотмеченный", "Нил Нилович", email=address(902)),  # not marked: not in it
        ],
    )
    files = write_attachments(tmp_path / "files")
    template = add_template(
        db, [tmp_path / "files" / CONTRACT_NAME, tmp_path / "files" / PHOTO_NAME]
    )
    skipped = {
        address(901): "отказ от рассылки",
        "+79031112233": "нет email",
        "oshibkin@mail": "неверный email «oshibkin@mail»",
        address(7).upper(): "этот адрес уже есть в рассылке: второе сообщение не отправляется",
    }

    plan = plan_run(db, template)
    assert plan.problems == []
    assert plan.can_start
    assert [d.recipient for d in plan.recipients] == [c.email for c in clients]
    assert {d.recipient: d.reply for d in plan.skipped} == skipped
    assert plan.attachments == [(CONTRACT_NAME, 30_000), (PHOTO_NAME, 20_000)]
    run_id = start_run(db, plan, Route.direct(Channel.EMAIL))
    assert counts(db, run_id) == {DeliveryStatus.PENDING: 200, DeliveryStatus.SKIPPED: 4}

    events: list[Progress] = []
    final = campaign(database, run_id, starttls_server, on_progress=events.append).run()

    # The server got each deliverable client exactly once, and nobody else.
    by_address = {c.email: c for c in clients}
    envelopes = starttls_server.handler.envelopes
    assert len(envelopes) == 200
    assert per_recipient(envelopes) == Counter(list(by_address))
    assert len(starttls_server.auth_attempts) == 1  # one session for the whole run
    message_ids = set()
    for envelope, got in zip(envelopes, received(envelopes), strict=True):
        client = by_address[got.recipient]
        assert got.sender == USER
        assert envelope.content.isascii()  # 7-bit: RFC 2047 / 2231 headers, QP and base64
        assert got.message["Subject"] == expected_subject(client)
        assert got.to == (f"{client.surname} {client.name}", client.email)
        (sender,) = got.message["From"].addresses
        assert (sender.display_name, sender.addr_spec) == (SENDER.name, USER)
        assert got.body == expected_body(client)
        assert got.attachments == files
        message_ids.add(got.message["Message-ID"])
    assert len(message_ids) == 200

    # The journal: everyone sent once, the skipped ones with their reasons.
    assert counts(db, run_id) == {DeliveryStatus.SENT: 200, DeliveryStatus.SKIPPED: 4}
    entries = journal(db, run_id)
    for client in clients:
        entry = entries[client.email]
        assert (entry.status, entry.attempts, entry.client_id) == (
            DeliveryStatus.SENT, 1, client.id
        )  # fmt: skip
        assert ISO_TIME.fullmatch(entry.time)
    assert {r: d.reply for r, d in entries.items() if d.status is DeliveryStatus.SKIPPED} == (
        skipped
    )
    run = run_store.get_run(db, run_id)
    assert (run.status, run.reason) == (RunStatus.FINISHED, "")
    assert ISO_TIME.fullmatch(run.finished)
    assert template_store.get_template(db, template.id).sent == run.finished
    assert effective_status(run, database.parent) is RunStatus.FINISHED

    # Progress: reported before every message and at the end.
    assert (final.status, final.sent, final.failed, final.skipped) == (
        RunStatus.FINISHED, 200, 0, 4
    )  # fmt: skip
    assert (final.total, final.pending, final.uncertain, final.done) == (204, 0, 0, 204)
    assert (final.per_minute, final.seconds_left) == (0.0, None)  # cleared once it has ended
    assert events[0].status is RunStatus.RUNNING
    assert events[-1] == final
    assert [e.current for e in events if e.current] == [c.email for c in clients]
    sent_counts = [e.sent for e in events]
    assert sent_counts == sorted(sent_counts)
    assert sent_counts[0] == 0

    # A finished run started again sends nothing.
    again = campaign(database, run_id, starttls_server).run()
    assert (again.status, again.sent) == (RunStatus.FINISHED, 200)
    assert len(envelopes) == 200


def test_long_cyrillic_subjects_keep_their_spaces(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer
) -> None:
    handler = FaultyHandler()
    server = faulty_server(handler)
    run_id, clients = new_run(db, 40)

    campaign(database, run_id, server).run()

    by_address = {c.email: c for c in clients}
    got = {m.recipient: (m.message["Subject"], m.to) for m in received(handler.envelopes)}
    assert got == {
        c.email: (expected_subject(c), (f"{c.surname} {c.name}", c.email))
        for c in by_address.values()
    }


def test_text_attachments_arrive_readable(
    db: sqlite3.Connection, database: Path, tmp_path: Path, starttls_server: SmtpServer
) -> None:
    texts = {
        "Прайс-лист.txt": ("Прайс-лист: «Лада Веста» — 2 500 ₽ в сутки.\r\nЁлки!\r\n", "utf-8"),
        "Цены 2026.csv": ("Модель;Цена, руб.\r\nЛада Веста «Люкс» — №2;3200\r\n", "cp1251"),
    }
    for name, (text, codec) in texts.items():
        (tmp_path / name).write_bytes(text.encode(codec))
    run_id, _ = new_run(db, 2, attachments=[tmp_path / name for name in texts])

    final = campaign(database, run_id, starttls_server).run()

    assert (final.status, final.sent) == (RunStatus.FINISHED, 2)
    for got in received(starttls_server.handler.envelopes):
        txt, csv = got.message.iter_attachments()
        assert (txt.get_filename(), txt.get_content_type(), txt.get_param("charset")) == (
            "Прайс-лист.txt", "text/plain", "utf-8"
        )  # fmt: skip
        assert (csv.get_filename(), csv.get_content_type(), csv.get_param("charset")) == (
            "Цены 2026.csv", "text/csv", "windows-1251"
        )  # fmt: skip
        # what a mail program shows: the bytes decoded with the declared charset
        assert txt.get_content() == texts["Прайс-лист.txt"][0]
        assert csv.get_content() == texts["Цены 2026.csv"][0]


# --- 2. faults --------------------------------------------------------------------------------
@pytest.mark.parametrize("with_421", [False, True], ids=["server closes", "421 to the next MAIL"])
def test_dropped_connection_every_50_messages(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer, with_421: bool
) -> None:
    handler = FaultyHandler(drop_every=50, drop_with_421=with_421)
    server = faulty_server(handler)
    run_id, clients = new_run(db, 120)

    final = campaign(database, run_id, server).run()

    assert (final.status, final.sent, final.failed) == (RunStatus.FINISHED, 120, 0)
    assert len(handler.envelopes) == 120
    assert per_recipient(handler.envelopes) == Counter(c.email for c in clients)
    assert handler.sessions_dropped == 2
    assert len(server.auth_attempts) == 3  # connected again after each drop
    assert counts(db, run_id) == {DeliveryStatus.SENT: 120}
    retried = {r for r, d in journal(db, run_id).items() if d.attempts != 1}
    assert retried == {address(51), address(101)}  # the message after each drop, once more


def test_temporary_refusal_is_retried(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer
) -> None:
    greylisted = {address(n) for n in (3, 8, 15)}
    reply = "451 4.7.1 Greylisted, please try again later"
    handler = FaultyHandler(refuse_once=dict.fromkeys(greylisted, reply))
    server = faulty_server(handler)
    run_id, clients = new_run(db, 20)

    final = campaign(database, run_id, server).run()

    assert (final.status, final.sent, final.failed) == (RunStatus.FINISHED, 20, 0)
    assert per_recipient(handler.envelopes) == Counter(c.email for c in clients)
    assert handler.rcpt_seen == {c.email: 2 if c.email in greylisted else 1 for c in clients}
    entries = journal(db, run_id)
    assert {r: (d.status, d.attempts) for r, d in entries.items()} == {
        c.email: (DeliveryStatus.SENT, 2 if c.email in greylisted else 1) for c in clients
    }
    assert len(server.auth_attempts) == 1  # a 4xx reply does not end the session


def test_permanent_refusal_is_journaled_and_the_run_goes_on(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer
) -> None:
    unknown = [address(n) for n in (4, 11, 17)]  # not in a row: the run must not stop
    refuse = {a: f"550 5.1.1 <{a}>: Recipient address rejected: User unknown" for a in unknown}
    handler = FaultyHandler(refuse=refuse)
    server = faulty_server(handler)
    run_id, clients = new_run(db, 20)

    final = campaign(database, run_id, server, max_failures_in_a_row=2).run()

    assert (final.status, final.sent, final.failed, final.reason) == (
        RunStatus.FINISHED, 17, 3, ""
    )  # fmt: skip
    assert final.failed > 0  # the CLI's exit status 1
    assert per_recipient(handler.envelopes) == Counter(
        c.email for c in clients if c.email not in refuse
    )
    entries = journal(db, run_id)
    for recipient, entry in entries.items():
        if recipient in refuse:
            assert (entry.status, entry.reply, entry.attempts) == (
                DeliveryStatus.FAILED, refuse[recipient], 1
            )  # fmt: skip
        else:
            assert entry.status is DeliveryStatus.SENT
    assert run_store.get_run(db, run_id).status is RunStatus.FINISHED


def test_wrong_password_stops_the_run_and_keeps_everyone_pending(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer
) -> None:
    handler = FaultyHandler()
    server = faulty_server(handler)
    run_id, clients = new_run(db, 10)

    final = campaign(database, run_id, server, password=WRONG_PASSWORD).run()

    settings = server.settings(Security.STARTTLS, auth=True)
    expected = failure(
        FailureKind.AUTH_FAILED, settings, "535 5.7.8 Authentication credentials invalid"
    ).message
    assert (final.status, final.reason, final.sent, final.failed) == (
        RunStatus.STOPPED, expected, 0, 0
    )  # fmt: skip
    assert "не принял логин «office@avtoprokat.ru» или пароль" in final.reason
    assert WRONG_PASSWORD not in final.reason
    assert handler.envelopes == []
    run = run_store.get_run(db, run_id)
    assert (run.status, run.reason) == (RunStatus.STOPPED, expected)
    assert {r: (d.status, d.attempts) for r, d in journal(db, run_id).items()} == {
        c.email: (DeliveryStatus.PENDING, 0) for c in clients
    }

    # With the right password the same run sends everyone, once.
    resumed = campaign(database, run_id, server).run()
    assert (resumed.status, resumed.sent) == (RunStatus.FINISHED, 10)
    assert per_recipient(handler.envelopes) == Counter(c.email for c in clients)


def test_stalled_recipient_is_retried_on_a_new_connection(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer
) -> None:
    handler = FaultyHandler(stall_rcpt_once=[address(3)])
    server = faulty_server(handler)
    run_id, clients = new_run(db, 6)

    final = campaign(database, run_id, server, timeout=1).run()

    assert (final.status, final.sent) == (RunStatus.FINISHED, 6)
    assert per_recipient(handler.envelopes) == Counter(c.email for c in clients)
    assert {r: (d.status, d.attempts) for r, d in journal(db, run_id).items()} == {
        c.email: (DeliveryStatus.SENT, 2 if c.email == address(3) else 1) for c in clients
    }
    assert len(server.auth_attempts) == 2


def test_silent_server_stops_the_run_before_anything_is_sent(
    db: sqlite3.Connection,
    database: Path,
    silent_server: ScriptedServer,
    faulty_server: StartServer,
) -> None:
    run_id, clients = new_run(db, 5)

    final = campaign(database, run_id, silent_server, timeout=1).run()

    assert final.status is RunStatus.STOPPED
    assert "не ответил за 1 с" in final.reason
    assert counts(db, run_id) == {DeliveryStatus.PENDING: 5}
    assert run_store.get_run(db, run_id).status is RunStatus.STOPPED

    handler = FaultyHandler()
    resumed = campaign(database, run_id, faulty_server(handler)).run()
    assert (resumed.status, resumed.sent) == (RunStatus.FINISHED, 5)
    assert per_recipient(handler.envelopes) == Counter(c.email for c in clients)


def _stall_after(handler: FaultyHandler, sent: int) -> Callable[[Progress], None]:
    """on_progress: the server goes silent once ``sent`` messages have been journaled."""

    def watch(progress: Progress) -> None:
        if progress.sent >= sent:
            handler.stall_all.set()

    return watch


def test_server_going_silent_mid_run_loses_track_of_nobody(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer
) -> None:
    handler = FaultyHandler()
    server = faulty_server(handler)
    run_id, clients = new_run(db, 8)

    final = campaign(
        database, run_id, server, timeout=1, retry_delays=(0.05,), max_failures_in_a_row=2,
        on_progress=_stall_after(handler, 3),
    ).run()  # fmt: skip

    assert final.status is RunStatus.STOPPED
    assert final.sent == 3
    after = statuses(db, run_id)
    assert DeliveryStatus.SENDING not in after.values()
    assert [after[address(n)] for n in (1, 2, 3)] == [DeliveryStatus.SENT] * 3
    assert after[address(4)] in (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
    assert [after[address(n)] for n in (6, 7, 8)] == [DeliveryStatus.PENDING] * 3
    assert per_recipient(handler.envelopes) == Counter(address(n) for n in (1, 2, 3))

    # The server is back: a resume sends the pending ones, a retry run the failed ones.
    handler.stall_all.clear()
    resumed = campaign(database, run_id, server).run()
    assert resumed.status is RunStatus.FINISHED
    pending = [r for r, s in after.items() if s is DeliveryStatus.PENDING]
    assert per_recipient(handler.envelopes) == Counter(address(n) for n in (1, 2, 3)) + Counter(
        pending
    )
    failed = [r for r, s in after.items() if s is DeliveryStatus.FAILED]
    assert counts(db, run_id) == {DeliveryStatus.SENT: 8 - len(failed)} | (
        {DeliveryStatus.FAILED: len(failed)} if failed else {}
    )
    if not failed:  # nobody left: a retry is refused rather than an empty run
        with pytest.raises(RunRefused, match="Повторять некому"):
            retry_run(db, run_id)
        return
    retried = campaign(database, retry_run(db, run_id), server).run()
    assert (retried.status, retried.sent) == (RunStatus.FINISHED, len(failed))
    assert per_recipient(handler.envelopes) == Counter(c.email for c in clients)


def test_connection_lost_for_good_stops_the_run_with_the_recipient_pending(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer
) -> None:
    handler = FaultyHandler()
    server = faulty_server(handler)
    run_id, _ = new_run(db, 8)

    final = campaign(
        database, run_id, server, timeout=1, retry_delays=(0.05,), max_failures_in_a_row=2,
        on_progress=_stall_after(handler, 3),
    ).run()  # fmt: skip

    assert final.status is RunStatus.STOPPED
    assert "не ответил за 1 с" in final.reason  # the connection's own message
    assert "подряд" not in final.reason.casefold()
    assert (final.sent, final.failed, final.pending) == (3, 0, 5)
    entry = journal(db, run_id)[address(4)]
    assert (entry.status, entry.attempts) == (DeliveryStatus.PENDING, 2)


def test_reply_lost_after_the_message_is_not_sent_again(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer
) -> None:
    handler = FaultyHandler(stall_after_data_once=[address(2)])
    server = faulty_server(handler)
    run_id, clients = new_run(db, 4)

    final = campaign(database, run_id, server, timeout=1).run()

    assert per_recipient(handler.envelopes) == Counter(c.email for c in clients)  # once each
    assert (final.status, final.sent, final.uncertain) == (RunStatus.FINISHED, 3, 1)
    assert statuses(db, run_id)[address(2)] is DeliveryStatus.UNCERTAIN


def test_too_many_failures_in_a_row_stop_the_run(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer
) -> None:
    run_id, clients = new_run(db, 12)
    refuse = {c.email: "550 5.1.1 User unknown" for c in clients}
    handler = FaultyHandler(refuse=refuse)
    server = faulty_server(handler)

    final = campaign(database, run_id, server, max_failures_in_a_row=5).run()

    assert (final.status, final.sent, final.failed, final.pending) == (
        RunStatus.STOPPED, 0, 5, 7
    )  # fmt: skip
    assert "подряд" in final.reason.casefold()
    assert "550 5.1.1 User unknown" in final.reason
    assert handler.envelopes == []
    assert [statuses(db, run_id)[c.email] for c in clients] == (
        [DeliveryStatus.FAILED] * 5 + [DeliveryStatus.PENDING] * 7
    )
    run = run_store.get_run(db, run_id)
    assert (run.status, run.reason) == (RunStatus.STOPPED, final.reason)


def test_pause_resume_cancel_and_resume_the_cancelled_run(
    db: sqlite3.Connection, database: Path, data_folder: Path, faulty_server: StartServer
) -> None:
    handler = FaultyHandler(delay=0.03)
    server = faulty_server(handler)
    run_id, clients = new_run(db, 30)
    paused = threading.Event()
    events: list[Progress] = []

    def on_progress(progress: Progress) -> None:
        events.append(progress)
        if progress.status is RunStatus.PAUSED:
            paused.set()

    job = campaign(database, run_id, server, on_progress=on_progress)
    worker = InBackground(job)
    wait_until(lambda: handler.count >= 5)
    job.pause()
    assert paused.wait(5)
    held = handler.count
    time.sleep(0.5)
    assert handler.count == held  # nothing sent while paused
    run = run_store.get_run(db, run_id)
    assert run.status is RunStatus.PAUSED
    assert effective_status(run, data_folder) is RunStatus.PAUSED  # paused, not interrupted
    assert counts(db, run_id) == {DeliveryStatus.SENT: held, DeliveryStatus.PENDING: 30 - held}

    job.resume()
    wait_until(lambda: handler.count >= held + 5)
    assert run_store.get_run(db, run_id).status is RunStatus.RUNNING
    job.cancel()
    final = worker.result()

    got = handler.count
    assert held + 5 <= got < 30
    assert (final.status, final.reason, final.sent, final.pending) == (
        RunStatus.CANCELLED, CANCELLED_REASON, got, 30 - got
    )  # fmt: skip
    run = run_store.get_run(db, run_id)
    assert (run.status, run.reason) == (RunStatus.CANCELLED, CANCELLED_REASON)
    assert effective_status(run, data_folder) is RunStatus.CANCELLED
    assert counts(db, run_id) == {DeliveryStatus.SENT: got, DeliveryStatus.PENDING: 30 - got}
    sent = {r for r, s in statuses(db, run_id).items() if s is DeliveryStatus.SENT}
    assert sent == set(per_recipient(handler.envelopes))
    assert [e.status for e in events].count(RunStatus.PAUSED) == 1

    # Resuming the cancelled run sends only the rest: everyone once in all.
    resumed = campaign(database, run_id, server).run()
    assert (resumed.status, resumed.sent) == (RunStatus.FINISHED, 30)
    assert len(handler.envelopes) == 30
    assert per_recipient(handler.envelopes) == Counter(c.email for c in clients)


def test_cancel_during_a_retry_wait_keeps_the_recipient_pending(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer
) -> None:
    handler = FaultyHandler(refuse={address(2): "451 4.3.0 Try again later"})
    server = faulty_server(handler)
    run_id, _ = new_run(db, 3)
    job = campaign(database, run_id, server, retry_delays=(30.0,))
    worker = InBackground(job)
    wait_until(lambda: handler.rcpt_seen.get(address(2)) == 1)
    started = time.monotonic()
    job.cancel()
    final = worker.result()

    assert time.monotonic() - started < 5  # the back-off wait wakes up for a cancel
    assert final.status is RunStatus.CANCELLED
    entry = journal(db, run_id)[address(2)]
    assert (entry.status, entry.reply, entry.attempts) == (
        DeliveryStatus.PENDING, "451 4.3.0 Try again later", 1
    )  # fmt: skip
    assert statuses(db, run_id)[address(3)] is DeliveryStatus.PENDING


def test_cancel_while_paused(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer
) -> None:
    handler = FaultyHandler(delay=0.02)
    server = faulty_server(handler)
    run_id, _ = new_run(db, 20)
    paused = threading.Event()
    job = campaign(
        database, run_id, server,
        on_progress=lambda p: p.status is RunStatus.PAUSED and paused.set(),
    )  # fmt: skip
    worker = InBackground(job)
    wait_until(lambda: handler.count >= 2)
    job.pause()
    assert paused.wait(5)
    held = handler.count

    job.cancel()
    final = worker.result(5)

    assert (final.status, final.sent, final.pending) == (RunStatus.CANCELLED, held, 20 - held)
    assert handler.count == held
    assert run_store.get_run(db, run_id).status is RunStatus.CANCELLED


def test_a_message_caught_sending_by_a_crash_is_uncertain_and_not_sent_again(
    db: sqlite3.Connection, database: Path, data_folder: Path, faulty_server: StartServer
) -> None:
    handler = FaultyHandler()
    server = faulty_server(handler)
    run_id, _ = new_run(db, 5)
    # What a killed process leaves: 1 and 2 sent, 3 handed to the server, the run "running".
    run_store.mark(db, run_id, 1, DeliveryStatus.SENT, "250 принято сервером", attempts=1)
    run_store.mark(db, run_id, 2, DeliveryStatus.SENT, "250 принято сервером", attempts=1)
    run_store.mark(db, run_id, 3, DeliveryStatus.SENDING, attempts=1)
    assert effective_status(run_store.get_run(db, run_id), data_folder) is RunStatus.INTERRUPTED

    final = campaign(database, run_id, server).run()

    assert (final.status, final.sent, final.uncertain, final.pending) == (
        RunStatus.FINISHED, 4, 1, 0
    )  # fmt: skip
    assert per_recipient(handler.envelopes) == Counter([address(4), address(5)])
    entry = journal(db, run_id)[address(3)]
    assert (entry.status, entry.reply) == (
        DeliveryStatus.UNCERTAIN, "программа прервалась во время отправки: письмо могло уйти"
    )  # fmt: skip


def test_refused_sender_stops_the_run(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer
) -> None:
    handler = FaultyHandler(mail_reply="553 5.7.1 Sender address rejected: not owned by user")
    server = faulty_server(handler)
    run_id, _ = new_run(db, 4)

    final = campaign(database, run_id, server).run()

    assert final.status is RunStatus.STOPPED
    assert final.reason.startswith(
        f"Сервер не принимает письма от {USER}: 553 5.7.1 Sender address rejected: not owned "
        "by user. Проверьте «Email отправителя»"
    )
    assert counts(db, run_id) == {DeliveryStatus.PENDING: 4}
    assert journal(db, run_id)[address(1)].attempts == 1
    assert handler.envelopes == []


def test_login_refused_on_reconnect_stops_the_run(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer
) -> None:
    handler = FaultyHandler(drop_every=3)
    server = faulty_server(handler)
    run_id, _ = new_run(db, 6)

    def change_password(progress: Progress) -> None:
        if progress.sent == 3:  # the server hung up; meanwhile the password was changed
            server.authenticator.password = "новый-пароль"

    final = campaign(database, run_id, server, on_progress=change_password).run()

    assert final.status is RunStatus.STOPPED
    assert "не принял логин" in final.reason
    assert (final.sent, final.failed, final.pending) == (3, 0, 3)
    entry = journal(db, run_id)[address(4)]
    assert (entry.status, entry.attempts) == (DeliveryStatus.PENDING, 2)
    assert len(handler.envelopes) == 3


def test_per_minute_limit_spaces_the_messages(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer
) -> None:
    handler = FaultyHandler()
    server = faulty_server(handler)
    run_id, _ = new_run(db, 6)

    final = campaign(database, run_id, server, per_minute=600).run()  # one per 0.1 s

    assert (final.status, final.sent) == (RunStatus.FINISHED, 6)
    gaps = [b - a for a, b in zip(handler.arrivals, handler.arrivals[1:], strict=False)]
    assert len(gaps) == 5
    assert min(gaps) >= 0.08, gaps


def test_a_run_is_sent_by_one_campaign_at_a_time(
    db: sqlite3.Connection, database: Path, data_folder: Path, faulty_server: StartServer
) -> None:
    handler = FaultyHandler(delay=0.05)
    server = faulty_server(handler)
    run_id, clients = new_run(db, 10)
    worker = InBackground(campaign(database, run_id, server))
    wait_until(lambda: handler.count >= 1)

    with pytest.raises(RunBusy, match=f"Рассылка № {run_id} уже идёт"):
        campaign(database, run_id, server).run()
    assert is_being_sent(data_folder, run_id)
    assert effective_status(run_store.get_run(db, run_id), data_folder) is RunStatus.RUNNING

    final = worker.result()
    assert (final.status, final.sent) == (RunStatus.FINISHED, 10)
    assert per_recipient(handler.envelopes) == Counter(c.email for c in clients)
    assert len(server.auth_attempts) == 1  # the refused campaign never connected
    assert not is_being_sent(data_folder, run_id)
    assert effective_status(run_store.get_run(db, run_id), data_folder) is RunStatus.FINISHED


def test_a_run_nobody_sends_is_interrupted(db: sqlite3.Connection, data_folder: Path) -> None:
    run_id, _ = new_run(db, 2)  # started: stored as running, but no campaign holds it
    assert run_store.get_run(db, run_id).status is RunStatus.RUNNING
    assert effective_status(run_store.get_run(db, run_id), data_folder) is RunStatus.INTERRUPTED
    run_store.set_status(db, run_id, RunStatus.PAUSED)
    assert effective_status(run_store.get_run(db, run_id), data_folder) is RunStatus.INTERRUPTED

    lock = run_lock(data_folder, run_id)
    assert lock.acquire()
    try:
        assert effective_status(run_store.get_run(db, run_id), data_folder) is RunStatus.PAUSED
    finally:
        lock.release()
    for ended in (RunStatus.CANCELLED, RunStatus.STOPPED, RunStatus.FINISHED):
        run_store.set_status(db, run_id, ended)
        assert effective_status(run_store.get_run(db, run_id), data_folder) is ended


def test_retry_run_holds_only_the_failed_ones(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer
) -> None:
    refuse = {address(n): "550 5.2.2 Mailbox full" for n in (3, 7)}
    handler = FaultyHandler(refuse=refuse)
    server = faulty_server(handler)
    run_id, clients = new_run(db, 10)
    first = campaign(database, run_id, server).run()
    assert (first.status, first.sent, first.failed) == (RunStatus.FINISHED, 8, 2)

    handler.refuse.clear()  # the mailboxes have room again
    again_id = retry_run(db, run_id)

    assert again_id != run_id
    old, new = run_store.get_run(db, run_id), run_store.get_run(db, again_id)
    assert (new.subject, new.body, new.template_id, new.route) == (
        old.subject, old.body, old.template_id, old.route
    )  # fmt: skip
    by_address = {c.email: c for c in clients}
    assert [
        (d.position, d.recipient, d.client_id, d.name, d.status, d.reply, d.attempts)
        for d in run_store.deliveries(db, again_id)
    ] == [
        (1, address(3), by_address[address(3)].id, by_address[address(3)].name,
         DeliveryStatus.PENDING, "", 0),
        (2, address(7), by_address[address(7)].id, by_address[address(7)].name,
         DeliveryStatus.PENDING, "", 0),
    ]  # fmt: skip

    final = campaign(database, again_id, server).run()
    assert (final.status, final.sent, final.failed, final.total) == (RunStatus.FINISHED, 2, 0, 2)
    assert per_recipient(handler.envelopes) == Counter(c.email for c in clients)
    retried = {got.recipient: got for got in received(handler.envelopes[8:])}
    assert retried[address(3)].message["Subject"] == expected_subject(by_address[address(3)])
    assert counts(db, run_id) == {DeliveryStatus.SENT: 8, DeliveryStatus.FAILED: 2}


def test_missing_attachment_stops_the_run_before_connecting(
    db: sqlite3.Connection, database: Path, tmp_path: Path, faulty_server: StartServer
) -> None:
    files = tmp_path / "files"
    write_attachments(files)
    handler = FaultyHandler()
    server = faulty_server(handler)
    run_id, _ = new_run(db, 3, attachments=[files / CONTRACT_NAME])
    (files / CONTRACT_NAME).unlink()  # moved away between "Старт" and the sending

    final = campaign(database, run_id, server).run()

    assert final.status is RunStatus.STOPPED
    assert final.reason == f"Приложение 1: файл не найден — {files / CONTRACT_NAME}"
    assert counts(db, run_id) == {DeliveryStatus.PENDING: 3}
    assert server.auth_attempts == []


@pytest.mark.parametrize("smtputf8", [True, False], ids=["SMTPUTF8 offered", "no SMTPUTF8"])
def test_international_addresses(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer, smtputf8: bool
) -> None:
    handler = FaultyHandler(accept_reply="250 2.0.0 Ok: queued")
    server = faulty_server(handler)
    # Each connection's aiosmtpd is built from these: a server that does not offer SMTPUTF8.
    server.controller.SMTP_kwargs["enable_SMTPUTF8"] = smtputf8
    add_clients(
        db,
        [
            Client("Иванов", "Иван", email="ivan@почта.рф", marked=True),
            Client("Петров", "Пётр", email=f"пётр@{DOMAIN}", marked=True),
            Client("Сидоров", "Сидор", email="Sidor@Avtoprokat-Test.RU", marked=True),
        ],
    )
    run_id = start_run(db, plan_run(db, add_template(db)), Route.direct(Channel.EMAIL))

    final = campaign(database, run_id, server).run()

    assert final.status is RunStatus.FINISHED
    got = {e.rcpt_tos[0]: e for e in handler.envelopes}
    idn = "ivan@xn--80a1acny.xn--p1ai"  # the domain in punycode: no SMTPUTF8 needed
    assert received([got[idn]])[0].to == ("Иванов Иван", idn)
    assert "SMTPUTF8" not in got[idn].mail_options
    assert "Sidor@Avtoprokat-Test.RU" in got  # the address as the client wrote it
    entries = journal(db, run_id)
    assert entries["ivan@почта.рф"].status is DeliveryStatus.SENT
    local = entries[f"пётр@{DOMAIN}"]
    if smtputf8:
        assert local.status is DeliveryStatus.SENT
        assert "SMTPUTF8" in got[f"пётр@{DOMAIN}"].mail_options
        message = received([got[f"пётр@{DOMAIN}"]])[0].message
        assert message["To"].addresses[0].username == "пётр"
        assert (final.sent, final.failed) == (3, 0)
    else:
        assert (local.status, local.attempts) == (DeliveryStatus.FAILED, 1)
        assert local.reply == (
            "Адрес написан не латиницей, а сервер не поддерживает такие адреса (SMTPUTF8)."
        )
        assert set(got) == {idn, "Sidor@Avtoprokat-Test.RU"}
        assert (final.sent, final.failed) == (2, 1)


def test_an_opt_out_follows_the_address_into_other_client_records(db) -> None:
    from avtoprokat_mail.model import Client, Template
    from avtoprokat_mail.sending.campaign import plan_run
    from avtoprokat_mail.storage import clients as client_store

    client_store.add_client(
        db, Client(surname="Первый", email="Same@Example-Firm.ru", opt_out=True)
    )
    client_store.add_client(db, Client(surname="Второй", email="same@example-firm.ru", marked=True))
    client_store.add_client(
        db, Client(surname="Третий", email="other@example-firm.ru", marked=True)
    )
    plan = plan_run(db, Template(subject="Тема", body="Текст"))
    assert [d.recipient for d in plan.recipients] == ["other@example-firm.ru"]
    assert "отказался" in plan.skipped[0].reply


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        ("550 5.7.1 Relaying denied", "Relaying denied"),
        ("552 5.3.4 Message size exceeds fixed maximum message size", "слишком большое"),
    ],
)
def test_a_refusal_that_concerns_the_whole_run_stops_it_at_once(
    db: sqlite3.Connection, database: Path, faulty_server: StartServer, reply: str, says: str
) -> None:
    run_id, clients = new_run(db, 6)
    server = faulty_server(FaultyHandler(refuse={c.email: reply for c in clients}))

    final = campaign(database, run_id, server).run()

    assert (final.status, final.sent, final.failed, final.pending) == (RunStatus.STOPPED, 0, 0, 6)
    assert says in final.reason and "(Сервер ответил:" in final.reason
    assert sum(server.handler.rcpt_seen.values()) == 1  # nobody else was tried
