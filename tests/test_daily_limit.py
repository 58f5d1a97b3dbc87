"""A mailbox's daily limit against a real SMTP server, with a clock the test moves.

A provider allows one mailbox so many messages in any 24 hours (Yandex and Gmail: 500). The
engine counts what the mailbox handed over in the journal — every run, every process — and
never goes past the limit: at the limit the run waits (in the window) or ends as «waiting»
(a scheduled ``send``), and goes on when a slot frees. Nothing is sent twice or lost.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections import Counter
from pathlib import Path

import pytest

from avtoprokat_mail.model import Channel, DeliveryStatus, Route, RunStatus, Security
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.sending.campaign import Campaign, plan_run
from avtoprokat_mail.sending.lifecycle import Mailer, start_run
from avtoprokat_mail.sending.smtp import SmtpTransport
from avtoprokat_mail.storage import runs as run_store
from avtoprokat_mail.storage.runs import DAY
from avtoprokat_mail.storage.settings import save_email_settings
from tests.mailing_data import add_clients, add_template, per_recipient, russian_clients
from tests.smtp_servers import PASSWORD, USER, FaultyHandler, SmtpServer
from tests.test_send_cli import smtp_password  # noqa: F401  (a fixture)

pytestmark = pytest.mark.usefixtures("trust_test_ca")

MAILBOX = USER.casefold()
HOUR = 60 * 60


class MovingClock:
    """Wall time that the test moves; a wait jumps the clock instead of sleeping."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.time = start
        self.waits: list[float] = []

    def now(self) -> float:
        return self.time

    def monotonic(self) -> float:
        return self.time

    def wait(self, event: threading.Event, seconds: float) -> bool:
        if event.is_set():
            return True
        self.waits.append(seconds)
        self.time += seconds
        return False


@pytest.fixture
def database(db: sqlite3.Connection, data_folder: Path) -> Path:
    return database_path(data_folder)


@pytest.fixture
def server(faulty_server) -> SmtpServer:
    return faulty_server(FaultyHandler())


def new_run(db: sqlite3.Connection, count: int) -> tuple[int, list[str]]:
    clients = add_clients(db, russian_clients(count))
    template = add_template(db)
    run_id = start_run(db, plan_run(db, template), Route.direct(Channel.EMAIL))
    return run_id, [c.email for c in clients]


def engine(database: Path, run_id: int, server: SmtpServer, clock: MovingClock, **options):
    settings = server.settings(Security.STARTTLS, auth=True)
    return Campaign(
        database, run_id, SmtpTransport(settings, PASSWORD), mailbox=MAILBOX, clock=clock,
        retry_delays=(0.01,), **options,
    )  # fmt: skip


def handed_over_times(db: sqlite3.Connection) -> list[float]:
    rows = db.execute(
        "SELECT sent_at FROM deliveries WHERE mailbox = ? ORDER BY sent_at", (MAILBOX,)
    )
    return [row[0] for row in rows]


def assert_never_over(times: list[float], limit: int) -> None:
    """In any 24 hours (a window starting at each message), at most ``limit`` messages."""
    for i, start in enumerate(times):
        assert sum(1 for t in times[i:] if t < start + DAY) <= limit


def test_the_limit_ends_a_scheduled_run_as_waiting_and_a_resume_goes_on_in_time(
    db, database, server
):
    clock = MovingClock()
    run_id, everyone = new_run(db, 5)

    first = engine(database, run_id, server, clock, daily_limit=3, wait_for_limit=False).run()

    assert (first.status, first.sent, first.pending) == (RunStatus.WAITING, 3, 2)
    assert first.resume_at == pytest.approx(clock.time + DAY)  # the first one leaves the window
    assert "Дневной лимит ящика" in first.reason
    run = run_store.get_run(db, run_id)
    assert (run.status, run.resume_at) == (RunStatus.WAITING, first.resume_at)
    assert len(server.handler.envelopes) == 3

    clock.time += 5 * HOUR  # too early: says when, sends nothing
    early = engine(database, run_id, server, clock, daily_limit=3, wait_for_limit=False).run()
    assert (early.status, early.sent, early.resume_at) == (RunStatus.WAITING, 3, first.resume_at)
    assert len(server.handler.envelopes) == 3

    clock.time = first.resume_at + 1
    final = engine(database, run_id, server, clock, daily_limit=3, wait_for_limit=False).run()
    assert (final.status, final.sent) == (RunStatus.FINISHED, 5)
    assert per_recipient(server.handler.envelopes) == Counter(everyone)
    assert_never_over(handed_over_times(db), 3)


def test_in_the_window_the_run_waits_and_goes_on_by_itself(db, database, server):
    clock = MovingClock()
    run_id, everyone = new_run(db, 7)
    seen: list = []

    final = engine(database, run_id, server, clock, daily_limit=3, on_progress=seen.append).run()

    assert (final.status, final.sent) == (RunStatus.FINISHED, 7)
    assert per_recipient(server.handler.envelopes) == Counter(everyone)
    times = handed_over_times(db)
    assert_never_over(times, 3)
    assert times[-1] - times[0] >= 2 * DAY  # three days: 3 + 3 + 1
    waiting = [p for p in seen if p.status is RunStatus.WAITING]
    assert waiting and all(p.resume_at > 0 for p in waiting)
    assert waiting[0].sent == 3


def test_the_limit_counts_every_run_of_the_mailbox(db, database, server):
    """Two runs (two templates) through one mailbox share its 24 hours."""
    clock = MovingClock()
    first_id, _ = new_run(db, 2)
    engine(database, first_id, server, clock, daily_limit=3).run()
    clock.time += HOUR
    second_id, _ = new_run(db, 0)  # the same marked clients, another template
    second = engine(database, second_id, server, clock, daily_limit=3, wait_for_limit=False).run()
    assert (second.status, second.sent) == (RunStatus.WAITING, 1)
    assert second.resume_at == pytest.approx(clock.time - HOUR + DAY)


def test_a_test_run_into_a_folder_does_not_count(db, database, server, tmp_path):
    clock = MovingClock()
    add_clients(db, russian_clients(3))
    template = add_template(db)
    test_run = start_run(db, plan_run(db, template), Route.outbox(tmp_path))
    from avtoprokat_mail.sending.outbox import OutboxTransport

    Campaign(database, test_run, OutboxTransport(tmp_path), clock=clock).run()
    run_id = start_run(db, plan_run(db, template), Route.direct(Channel.EMAIL))
    final = engine(database, run_id, server, clock, daily_limit=3, wait_for_limit=False).run()
    assert (final.status, final.sent) == (RunStatus.FINISHED, 3)


def test_cancel_during_the_wait_ends_the_run_cancelled(db, database, server):
    clock = MovingClock()
    run_id, _ = new_run(db, 4)
    campaign = engine(database, run_id, server, clock, daily_limit=2)

    def cancel_when_waiting(progress) -> None:
        if progress.status is RunStatus.WAITING:
            campaign.cancel()

    campaign.on_progress = cancel_when_waiting
    final = campaign.run()
    assert (final.status, final.sent, final.pending) == (RunStatus.CANCELLED, 2, 2)


def test_the_limit_is_read_from_the_settings(db, database, server, memory_keyring):
    from avtoprokat_mail.credentials import PasswordStore, smtp_account

    settings = server.settings(Security.STARTTLS, auth=True)
    settings.daily_limit = 2
    save_email_settings(db, settings)
    passwords = PasswordStore()
    passwords.set(smtp_account(settings), PASSWORD)
    add_clients(db, russian_clients(3))
    mailer = Mailer(db, passwords)
    prepared = mailer.start(mailer.plan(add_template(db)))
    assert (prepared.setup.mailbox, prepared.setup.daily_limit) == (MAILBOX, 2)
    final = prepared.campaign(wait_for_limit=False, clock=MovingClock()).run()
    assert (final.status, final.sent) == (RunStatus.WAITING, 2)
    assert mailer.state(prepared.run_id).status is RunStatus.WAITING
    assert [s.run.id for s in mailer.interrupted_runs()] == [prepared.run_id]  # offered later
    assert run_store.deliveries(db, prepared.run_id, [DeliveryStatus.PENDING])


# --- the command line, across processes and real time ------------------------------------------
@pytest.mark.usefixtures("smtp_password")
def test_send_exits_3_at_the_limit_and_resume_wait_goes_on_when_a_slot_frees(
    cli, db, server, data_folder, test_ca
):
    import re

    from tests.test_send_cli import (
        _environment,
        _run,
        csv_rows,
        last_line,
        runs_list,
        set_up_office,
    )

    template_id = set_up_office(db, 3, server)
    assert cli("settings", "set", "email.daily_limit", "2")[0] == 0

    status, out, err = cli("send", str(template_id), "--yes")
    assert status == 3, err
    assert last_line(out) == "sent 2, failed 0, skipped 1, uncertain 0"
    assert re.search(r"ждёт: продолжит \d\d\.\d\d\.\d{4} \d\d:\d\d", err)
    assert "ещё 1 ждут дневного лимита ящиков: рассылка закончится около" in err
    assert runs_list(cli)[0]["status"] == "waiting"

    status, out, err = cli("send", "--resume", "1", "--yes")  # before its time: nothing
    assert status == 3, err
    assert len(server.handler.envelopes) == 2

    # A day has nearly passed: the first message leaves the window in about two seconds.
    db.execute("UPDATE deliveries SET sent_at = sent_at - ? + 2 WHERE sent_at IS NOT NULL", (DAY,))
    # Another process (a scheduled job) goes on with it, waiting for the slot.
    done = _run(data_folder, _environment(test_ca), "send", "--resume", "1", "--yes", "--wait")
    assert done.returncode == 0, done.stderr
    assert last_line(done.stdout) == "sent 3, failed 0, skipped 1, uncertain 0"
    assert max(per_recipient(server.handler.envelopes).values()) == 1
    assert len(server.handler.envelopes) == 3
    assert runs_list(cli)[0]["status"] == "finished"
    status, out, _ = cli("runs", "show", "1", "--format", "csv")
    header, *rows = csv_rows(out)
    assert header[-1] == "mailbox"
    assert {row[-1] for row in rows if row[2] == "sent"} == {MAILBOX}  # who sent each one
    assert {row[-1] for row in rows if row[2] == "skipped"} == {""}


def test_the_count_reads_an_index_range_not_the_journal(db):
    plan = db.execute(f"EXPLAIN QUERY PLAN {run_store.HANDED_OVER_SINCE}", (MAILBOX, 0)).fetchall()
    assert "USING COVERING INDEX deliveries_mailbox_time" in plan[0][3], plan


# --- several mailboxes -----------------------------------------------------------------------
def _mailbox(server: SmtpServer, address: str, limit: int, password: str = PASSWORD):
    from avtoprokat_mail.sending.campaign import Mailbox
    from avtoprokat_mail.sending.message import Sender

    settings = server.settings(Security.STARTTLS, auth=True)
    sender = Sender("Автопрокат «Лада»", address)
    return Mailbox(SmtpTransport(settings, password), sender, address, daily_limit=limit)


def _from_addresses(server: SmtpServer) -> Counter[str]:
    import email
    from email import policy

    return Counter(
        email.message_from_bytes(e.content, policy=policy.default)["From"].addresses[0].addr_spec
        for e in server.handler.envelopes
    )


def test_two_mailboxes_share_a_run_each_up_to_its_limit(db, database, faulty_server):
    first, second = faulty_server(FaultyHandler()), faulty_server(FaultyHandler())
    clock = MovingClock()
    run_id, everyone = new_run(db, 5)
    a, b = _mailbox(first, "office@avtoprokat.ru", 2), _mailbox(second, "sales@avtoprokat.ru", 3)

    final = Campaign(
        database, run_id, a.transport, sender=a.sender, mailbox=a.address, daily_limit=2,
        more_mailboxes=[b], clock=clock, wait_for_limit=False, retry_delays=(0.01,),
    ).run()  # fmt: skip

    assert (final.status, final.sent) == (RunStatus.FINISHED, 5)
    assert per_recipient(first.handler.envelopes + second.handler.envelopes) == Counter(everyone)
    assert _from_addresses(first) == {"office@avtoprokat.ru": 2}  # From: the mailbox that sent
    assert _from_addresses(second) == {"sales@avtoprokat.ru": 3}
    by_mailbox = Counter(d.mailbox for d in run_store.deliveries(db, run_id))
    assert by_mailbox == {"office@avtoprokat.ru": 2, "sales@avtoprokat.ru": 3}


def test_a_mailbox_that_fails_its_login_is_left_out_and_the_other_goes_on(
    db, database, faulty_server
):
    good, bad = faulty_server(FaultyHandler()), faulty_server(FaultyHandler())
    clock = MovingClock()
    run_id, _ = new_run(db, 3)
    wrong = _mailbox(bad, "sales@avtoprokat.ru", 0, password="неверный")
    right = _mailbox(good, "office@avtoprokat.ru", 2)

    final = Campaign(
        database, run_id, wrong.transport, sender=wrong.sender, mailbox=wrong.address,
        more_mailboxes=[right], clock=clock, wait_for_limit=False, retry_delays=(0.01,),
    ).run()  # fmt: skip

    assert (final.status, final.sent, final.pending) == (RunStatus.WAITING, 2, 1)
    assert bad.handler.envelopes == []
    assert "Ящик sales@avtoprokat.ru не использовался" in final.reason  # said, with the reason
    assert _from_addresses(good) == {"office@avtoprokat.ru": 2}


@pytest.mark.usefixtures("smtp_password")
def test_send_through_two_mailboxes_from_the_command_line(cli, db, faulty_server):
    from avtoprokat_mail.credentials import PasswordStore, smtp_account
    from avtoprokat_mail.storage.settings import list_mailboxes
    from tests.test_send_cli import last_line, set_up_office

    main, extra = faulty_server(FaultyHandler()), faulty_server(FaultyHandler())
    template_id = set_up_office(db, 5, main)
    assert cli("settings", "set", "email.daily_limit", "2")[0] == 0
    status, out, err = cli(
        "settings", "mailboxes", "add", "--address", "sales@avtoprokat.ru", "--host",
        extra.host, "--port", str(extra.port), "--security", "starttls", "--user", USER,
    )  # fmt: skip
    assert status == 0, err
    ((mailbox_id, settings),) = list_mailboxes(db)
    assert out.strip() == str(mailbox_id)
    PasswordStore().set(smtp_account(settings), PASSWORD)  # as «settings set-password --mailbox»

    status, out, err = cli("send", str(template_id), "--yes")

    assert status == 0, err
    assert f"через {MAILBOX}: 2 в ближайшие сутки" in err
    assert "через sales@avtoprokat.ru: 3 в ближайшие сутки" in err
    assert last_line(out) == "sent 5, failed 0, skipped 1, uncertain 0"
    assert _from_addresses(main) == {USER: 2}
    assert _from_addresses(extra) == {"sales@avtoprokat.ru": 3}
    status, out, _ = cli("settings", "mailboxes", "list", "--format", "csv")
    assert "sales@avtoprokat.ru" in out
    assert cli("settings", "mailboxes", "remove", str(mailbox_id))[0] == 0
    assert list_mailboxes(db) == []


# --- what the provider says ------------------------------------------------------------------
def test_a_quota_reply_makes_the_mailbox_wait_a_day_without_knocking_again(db, database, server):
    clock = MovingClock()
    run_id, everyone = new_run(db, 4)
    quota = "550 5.4.5 Daily user sending quota exceeded. For more information go to support"
    server.handler.refuse = {everyone[2]: quota}  # the third message meets the quota

    first = engine(database, run_id, server, clock, wait_for_limit=False).run()

    assert (first.status, first.sent, first.failed, first.pending) == (RunStatus.WAITING, 2, 0, 2)
    assert first.resume_at == pytest.approx(clock.time + DAY)
    assert "дневной лимит" in first.reason.casefold() and "5.4.5" in first.reason
    assert run_store.blocked_until(db, MAILBOX)[0] == pytest.approx(clock.time + DAY)
    assert sum(server.handler.rcpt_seen.values()) == 3  # the fourth was never tried

    clock.time += 3 * HOUR  # a resume before the block ends: no attempt at all
    envelopes = len(server.handler.envelopes)
    early = engine(database, run_id, server, clock, wait_for_limit=False).run()
    assert early.status is RunStatus.WAITING and len(server.handler.envelopes) == envelopes
    assert sum(server.handler.rcpt_seen.values()) == 3  # no knocking during the block

    server.handler.refuse = {}
    clock.time = first.resume_at + 1
    final = engine(database, run_id, server, clock, wait_for_limit=False).run()
    assert (final.status, final.sent) == (RunStatus.FINISHED, 4)
    assert per_recipient(server.handler.envelopes) == Counter(everyone)


def test_a_spam_refusal_stops_the_run_with_the_servers_words_instead_of_failing_everyone(
    db, database, server
):
    run_id, everyone = new_run(db, 6)
    spam = "554 5.7.1 [2] Message rejected under suspicion of SPAM; https://ya.cc/1IrBc 1705"
    server.handler.refuse = {address: spam for address in everyone[1:]}

    final = engine(database, run_id, server, MovingClock()).run()

    assert (final.status, final.sent, final.failed, final.pending) == (RunStatus.STOPPED, 1, 0, 5)
    assert "спам" in final.reason.casefold()
    assert "Message rejected under suspicion of SPAM" in final.reason
    assert run_store.get_run(db, run_id).status is RunStatus.STOPPED  # to be continued later


def test_a_rate_refusal_slows_the_mailbox_down_and_the_message_goes_later(
    db, database, faulty_server, monkeypatch
):
    from avtoprokat_mail.sending import smtp

    monkeypatch.setattr(smtp, "RATE_FIRST_PAUSE", 0.2)
    server = faulty_server(FaultyHandler())
    run_id, everyone = new_run(db, 4)
    too_many = "451 4.7.1 Too many messages, slow down"
    server.handler.refuse_once = {everyone[1]: too_many}
    campaign = engine(database, run_id, server, MovingClock())
    transport = campaign.mailboxes[0].transport

    final = campaign.run()

    assert (final.status, final.sent) == (RunStatus.FINISHED, 4)
    assert per_recipient(server.handler.envelopes) == Counter(everyone)
    gaps = [b - a for a, b in itertools.pairwise(server.handler.arrivals)]
    assert max(gaps) >= 0.15  # the retry and the message after it waited the pause
    assert transport.pause < 0.2  # halved back after each success


def test_the_journal_keeps_each_messages_message_id(db, database, server):
    """A bounce quotes the Message-ID of what it returns: the journal must know it."""
    import email
    from email import policy

    run_id, _ = new_run(db, 3)
    engine(database, run_id, server, MovingClock()).run()
    received = {
        email.message_from_bytes(e.content, policy=policy.default)["Message-ID"]
        for e in server.handler.envelopes
    }
    journaled = {d.message_id for d in run_store.deliveries(db, run_id)}
    assert received == journaled and len(received) == 3
