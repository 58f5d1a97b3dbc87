"""The life of runs on the command line (docs/cli.md): the repeat check and ``--again``, missing
client data and ``--skip-incomplete``, a second start of a template being sent (in another
process), test runs into a folder, ``send --resume`` of a stopped or cancelled run, ``send
--retry``, changed attachments, and text attachments with their charset.

Every test looks at what the user sees (exit status, stderr, the last stdout line) and at what
a real SMTP server received: nobody gets a message twice unless they were meant to.
"""

from __future__ import annotations

import io
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from avtoprokat_mail.model import Channel, Client, Route, RunStatus, Security, Template
from avtoprokat_mail.sending.campaign import ALREADY_REACHED, plan_run
from avtoprokat_mail.sending.lifecycle import start_run
from avtoprokat_mail.sending.runlock import effective_status, run_lock
from avtoprokat_mail.storage import runs as run_store
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.storage.settings import save_email_settings
from tests.mailing_data import BODY, SUBJECT, add_clients, address, per_recipient, russian_clients
from tests.mailing_data import received as parse_received
from tests.smtp_servers import FaultyHandler, SmtpServer, TestCA
from tests.test_send_cli import (
    SHOW_HEADER,
    StartServer,
    _command,
    _environment,
    _run,
    csv_rows,
    last_line,
    runs_list,
    set_up_office,
    smtp_password,  # noqa: F401 (a fixture)
)

pytestmark = pytest.mark.usefixtures("smtp_password")
MAILBOX_FULL = "550 5.2.2 Mailbox full"
SENDER_REFUSED = "553 5.7.1 Sender address rejected: not owned by user"


# --- helpers ------------------------------------------------------------------------------------
def outcomes(cli, run_id: int) -> dict[str, tuple[str, str]]:
    """``runs show RUN --format csv``: recipient → (status, reply)."""
    status, out, err = cli("runs", "show", str(run_id), "--format", "csv")
    assert status == 0, err
    header, *rows = csv_rows(out)
    assert ",".join(header) == SHOW_HEADER
    return {row[1]: (row[2], row[4]) for row in rows}


def templates_list(cli) -> dict[str, dict[str, str]]:
    """``templates list --format csv``: id → row by column name."""
    status, out, err = cli("templates", "list", "--format", "csv")
    assert status == 0, err
    header, *rows = csv_rows(out)
    return {row[0]: dict(zip(header, row, strict=True)) for row in rows}


def new_template(db: sqlite3.Connection, body: str = BODY, attachments: tuple[Path, ...] = ()):
    paths = [str(p) for p in attachments] + ["", ""]
    template = Template(SUBJECT, body, attachment1=paths[0], attachment2=paths[1])
    return template_store.add_template(db, template)


def everyone(*numbers: int, times: int = 1) -> dict[str, int]:
    return {address(n): times for n in numbers}


def settings_with(db: sqlite3.Connection, server: SmtpServer, **changes: Any) -> None:
    save_email_settings(db, server.settings(Security.STARTTLS, auth=True, **changes))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def answer_yes_after(monkeypatch: pytest.MonkeyPatch, meanwhile: Callable[[], None]) -> None:
    """``send`` without ``--yes`` asks on a terminal; ``meanwhile`` runs before the «да»."""
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr("builtins.input", lambda question="": meanwhile() or "да")


def start_stalled_send(folder: Path, test_ca: TestCA, template_id: int) -> subprocess.Popen:
    return subprocess.Popen(
        _command(folder, "send", str(template_id), "--yes"),
        env=_environment(test_ca), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, encoding="utf-8",
    )  # fmt: skip


def wait_until_running(db: sqlite3.Connection, folder: Path, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while not (
        (run := run_store.get_run(db, 1)) and effective_status(run, folder) is RunStatus.RUNNING
    ):
        assert process.poll() is None and time.monotonic() < deadline, "the run did not start"
        time.sleep(0.05)


class HoldsTheFirstSender(FaultyHandler):
    """Holds the first session's MAIL until ``stall_all`` is cleared; meanwhile any other
    session gets a 553 at once, so a second sender (a bug) fails fast instead of waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.stall_all.set()
        self._first: int | None = None

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        self._first = self._first or id(session)
        if id(session) != self._first and self.stall_all.is_set():
            return SENDER_REFUSED
        return await super().handle_MAIL(server, session, envelope, address, options)


class RefusesSenderAfter(FaultyHandler):
    """Once ``accepted`` messages are in, answers every MAIL with a 553: the run stops."""

    def __init__(self, accepted: int, **options: Any) -> None:
        super().__init__(**options)
        self.accepted = accepted

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        if self.count == self.accepted:
            self.mail_reply = SENDER_REFUSED
        return reply


def stopped_run(cli, db: sqlite3.Connection, faulty_server: StartServer):
    """Run 1 of 5 clients stopped by the server: 1 and 3 sent, 2 failed, 4 and 5 pending."""
    handler = RefusesSenderAfter(2, refuse={address(2): MAILBOX_FULL})
    template_id = set_up_office(db, 5, faulty_server(handler))
    status, out, err = cli("send", str(template_id), "--yes")
    assert status == 2, err
    assert last_line(out) == "sent 2, failed 1, skipped 1, uncertain 0"
    assert SENDER_REFUSED.split(" ", 1)[1] in err and "send --retry 1" in err
    assert runs_list(cli)[0]["status"] == "stopped"
    assert outcomes(cli, 1)[address(2)] == ("failed", MAILBOX_FULL)
    assert per_recipient(handler.envelopes) == everyone(1, 3)
    handler.refuse.clear()
    handler.mail_reply = None
    return handler, template_id


# --- the repeat check ---------------------------------------------------------------------------
def test_repeat_send_skips_those_reached_unless_again(
    cli, db: sqlite3.Connection, faulty_server: StartServer
) -> None:
    handler = FaultyHandler()
    template_id = set_up_office(db, 5, faulty_server(handler))
    status, out, err = cli("send", str(template_id), "--yes")
    assert (status, last_line(out)) == (0, "sent 5, failed 0, skipped 1, uncertain 0"), err
    add_clients(db, russian_clients(7)[5:])  # two new clients, marked

    status, out, err = cli("send", str(template_id), "--yes")

    assert status == 0, err
    assert last_line(out) == "sent 2, failed 0, skipped 6, uncertain 0"
    assert "уже получили этот шаблон: 5" in err and "--again" in err
    shown = outcomes(cli, 2)
    assert all(shown[a] == ("skipped", ALREADY_REACHED) for a in everyone(1, 2, 3, 4, 5))
    assert per_recipient(handler.envelopes) == everyone(1, 2, 3, 4, 5, 6, 7)

    status, out, err = cli("send", str(template_id), "--again", "--yes")
    assert status == 0, err
    assert last_line(out) == "sent 7, failed 0, skipped 1, uncertain 0"
    assert per_recipient(handler.envelopes) == everyone(1, 2, 3, 4, 5, 6, 7, times=2)

    status, out, err = cli("send", str(template_id), "--yes")  # nobody left: not an error

    assert status == 0, err
    assert last_line(out) == "sent 0, failed 0, skipped 8, uncertain 0"
    assert len(runs_list(cli)) == 3  # no run was created
    assert handler.count == 14


def test_an_uncertain_delivery_counts_as_reached_and_is_retried_only_when_asked(
    cli, db: sqlite3.Connection, faulty_server: StartServer
) -> None:
    handler = FaultyHandler(stall_after_data_once=[address(2)])  # its reply is lost
    template_id = set_up_office(db, 4, None)
    settings_with(db, faulty_server(handler), timeout=1)
    status, out, err = cli("send", str(template_id), "--yes")
    assert status == 1, err
    assert last_line(out) == "sent 3, failed 0, skipped 1, uncertain 1"
    assert outcomes(cli, 1)[address(2)][0] == "uncertain"

    status, out, err = cli("send", str(template_id), "--yes")
    assert status == 0, err
    assert last_line(out) == "sent 0, failed 0, skipped 5, uncertain 0"

    status, out, err = cli("send", "--retry", "1", "--yes")
    assert status == 2
    assert "неизвестным исходом" in err
    assert len(runs_list(cli)) == 1

    status, out, err = cli("send", "--retry", "1", "--include-uncertain", "--yes")
    assert status == 0, err
    assert last_line(out) == "sent 1, failed 0, skipped 0, uncertain 0"
    assert [(a, state) for a, (state, _) in outcomes(cli, 2).items()] == [(address(2), "sent")]

    for again in (("--retry", "1", "--include-uncertain"), ("--resume", "1", "--resend-uncertain")):
        status, out, err = cli("send", *again, "--yes")
        assert status == 2, (again, err)
    assert len(runs_list(cli)) == 2
    # The lost reply's message did arrive; the retry asked for is the only second copy.
    assert per_recipient(handler.envelopes) == everyone(1, 3, 4) | everyone(2, times=2)


# --- missing client data ------------------------------------------------------------------------
def test_clients_lacking_a_field_are_named_or_skipped(
    cli, db: sqlite3.Connection, faulty_server: StartServer
) -> None:
    handler = FaultyHandler()
    server = faulty_server(handler)
    set_up_office(db, 3, server)
    add_clients(db, [Client("Пустов", "Павел", organization="ООО «Ромашка»", email=address(4),
                            marked=True)])  # fmt: skip
    warned = new_template(db)
    skipping = new_template(db)
    defaulted = new_template(db, BODY.replace("%Должность%", "%Должность|сотрудник%"))

    status, out, err = cli("send", str(warned), "--yes")
    assert status == 0, err
    assert last_line(out) == "sent 4, failed 0, skipped 1, uncertain 0"
    assert "Предупреждение" in err and "%Должность%" in err and "Пустов Павел" in err
    assert "--skip-incomplete" in err
    assert per_recipient(handler.envelopes) == everyone(1, 2, 3, 4)

    status, out, err = cli("send", str(skipping), "--skip-incomplete", "--yes")
    assert status == 0, err
    assert last_line(out) == "sent 3, failed 0, skipped 2, uncertain 0"
    assert "Пустов Павел" in err
    state, reason = outcomes(cli, 2)[address(4)]
    assert state == "skipped" and reason.startswith("нет данных для %Должность%")
    assert per_recipient(handler.envelopes) == everyone(1, 2, 3, times=2) | everyone(4)

    status, out, err = cli("send", str(skipping), "--yes")  # skipped is not reached
    assert status == 0, err
    assert last_line(out) == "sent 1, failed 0, skipped 4, uncertain 0"

    status, out, err = cli("send", str(defaulted), "--yes")
    assert status == 0, err
    assert last_line(out) == "sent 4, failed 0, skipped 1, uncertain 0"
    assert "Предупреждение" not in err and "Пустов" not in err
    (last,) = [r for r in parse_received(handler.envelopes[-4:]) if r.recipient == address(4)]
    assert "как «сотрудник» компании" in last.body
    assert per_recipient(handler.envelopes) == everyone(1, 2, 3, 4, times=3)


# --- a second start while the template is being sent ---------------------------------------------
def test_a_start_while_another_process_sends_the_template_is_refused(
    cli, db: sqlite3.Connection, data_folder: Path, faulty_server: StartServer, test_ca: TestCA
) -> None:
    handler = HoldsTheFirstSender()  # the first process waits until the test lets it go
    template_id = set_up_office(db, 10, None)
    settings_with(db, faulty_server(handler), timeout=30)
    first = start_stalled_send(data_folder, test_ca, template_id)
    try:
        wait_until_running(db, data_folder, first)
        assert [r["status"] for r in runs_list(cli)] == ["running"]
        for args in (("send", str(template_id)), ("send", str(template_id), "--again")):
            status, out, err = cli(*args, "--yes")
            assert status == 2, (args, err)
            assert "рассылка № 1" in err.casefold() and "Traceback" not in err
        status, _, err = cli("send", "--retry", "1", "--yes")
        assert status == 2 and "№ 1 сейчас идёт" in err
        assert handler.envelopes == []
        assert len(runs_list(cli)) == 1
    finally:
        handler.stall_all.clear()
        out, err = first.communicate(timeout=30)

    assert first.returncode == 0, err
    assert last_line(out) == "sent 10, failed 0, skipped 1, uncertain 0"
    assert per_recipient(handler.envelopes) == everyone(*range(1, 11))
    assert [r["status"] for r in runs_list(cli)] == ["finished"]


def test_two_starts_at_once_reach_everyone_once(
    cli, db: sqlite3.Connection, data_folder: Path, faulty_server: StartServer, test_ca: TestCA
) -> None:
    handler = FaultyHandler(delay=0.05)
    template_id = set_up_office(db, 10, faulty_server(handler))
    command = _command(data_folder, "send", str(template_id), "--yes")
    processes = [
        subprocess.Popen(command, env=_environment(test_ca), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, encoding="utf-8")
        for _ in range(2)
    ]  # fmt: skip
    results = [(p, *p.communicate(timeout=60)) for p in processes]

    for process, _out, err in results:
        assert process.returncode in (0, 1, 2), err
        assert "Traceback" not in err
    assert per_recipient(handler.envelopes) == everyone(*range(1, 11))
    assert sum(int(r["sent"]) for r in runs_list(cli)) == 10


def test_a_start_confirmed_after_another_process_began_is_refused(
    cli, db: sqlite3.Connection, data_folder: Path, faulty_server: StartServer, test_ca: TestCA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    handler = HoldsTheFirstSender()
    template_id = set_up_office(db, 4, None)
    settings_with(db, faulty_server(handler), timeout=30)
    first: list[subprocess.Popen] = []

    def another_process_starts() -> None:  # while this one waits for «да»
        first.append(start_stalled_send(data_folder, test_ca, template_id))
        wait_until_running(db, data_folder, first[0])

    answer_yes_after(monkeypatch, another_process_starts)
    try:
        status, out, err = cli("send", str(template_id))
        assert status == 2, err
        assert "рассылка № 1" in err and "Traceback" not in err
        assert len(runs_list(cli)) == 1
        assert handler.envelopes == []
    finally:
        handler.stall_all.clear()
        out, err = first[0].communicate(timeout=30)
    assert first[0].returncode == 0, err
    assert last_line(out) == "sent 4, failed 0, skipped 1, uncertain 0"
    assert per_recipient(handler.envelopes) == everyone(1, 2, 3, 4)


def test_a_start_confirmed_after_another_process_sent_to_everyone_exits_0(
    cli, db: sqlite3.Connection, data_folder: Path, faulty_server: StartServer, test_ca: TestCA,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    handler = FaultyHandler()
    template_id = set_up_office(db, 4, faulty_server(handler))

    def another_process_sends() -> None:  # while this one waits for «да»
        done = _run(data_folder, _environment(test_ca), "send", str(template_id), "--yes")
        assert done.returncode == 0, done.stderr

    answer_yes_after(monkeypatch, another_process_sends)
    status, out, err = cli("send", str(template_id))

    assert per_recipient(handler.envelopes) == everyone(1, 2, 3, 4)
    assert len(runs_list(cli)) == 1
    assert (status, last_line(out)) == (0, "sent 0, failed 0, skipped 5, uncertain 0"), err


def test_a_start_while_a_run_of_the_template_is_paused_is_refused(
    cli, db: sqlite3.Connection, data_folder: Path, faulty_server: StartServer
) -> None:
    handler = FaultyHandler()
    template = template_store.get_template(db, set_up_office(db, 3, faulty_server(handler)))
    run_id = start_run(db, plan_run(db, template), Route.direct(Channel.EMAIL))
    run_store.set_status(db, run_id, RunStatus.PAUSED)
    lock = run_lock(data_folder, run_id)  # held by the window that paused it
    assert lock.acquire()
    try:
        assert runs_list(cli)[0]["status"] == "paused"
        status, _, err = cli("send", str(template.id), "--yes")
    finally:
        lock.release()

    assert status == 2
    assert f"рассылка № {run_id}" in err
    assert handler.envelopes == []
    assert len(runs_list(cli)) == 1


# --- test runs into a folder --------------------------------------------------------------------
def test_a_test_run_is_flagged_and_ignored_by_the_repeat_check(
    cli, db: sqlite3.Connection, faulty_server: StartServer, tmp_path: Path
) -> None:
    handler = FaultyHandler()
    template_id = set_up_office(db, 3, faulty_server(handler))

    status, out, err = cli("send", str(template_id), "--outbox", str(tmp_path / "out"), "--yes")

    assert status == 0, err
    assert last_line(out) == "sent 3, failed 0, skipped 1, uncertain 0"
    assert len(list((tmp_path / "out").iterdir())) == 3
    assert [(r["id"], r["test"]) for r in runs_list(cli)] == [("1", "1")]
    assert templates_list(cli)[str(template_id)]["sent"] == ""
    assert handler.envelopes == []

    status, out, err = cli("send", str(template_id), "--yes")

    assert status == 0, err
    assert last_line(out) == "sent 3, failed 0, skipped 1, uncertain 0"
    assert per_recipient(handler.envelopes) == everyone(1, 2, 3)
    real, test = runs_list(cli)
    assert (real["id"], real["test"], test["test"]) == ("2", "0", "1")
    assert templates_list(cli)[str(template_id)]["sent"] == real["finished"] != ""


# --- resume and retry ---------------------------------------------------------------------------
def test_a_cancelled_run_resumes_and_an_interrupted_one_is_retried_once(
    cli, db: sqlite3.Connection, faulty_server: StartServer
) -> None:
    handler = FaultyHandler()
    cancelled = template_store.get_template(db, set_up_office(db, 3, faulty_server(handler)))
    interrupted = template_store.get_template(db, new_template(db))
    start_run(db, plan_run(db, cancelled), Route.direct(Channel.EMAIL))
    run_store.set_status(db, 1, RunStatus.CANCELLED, "Рассылка отменена пользователем.")
    start_run(
        db, plan_run(db, interrupted), Route.direct(Channel.EMAIL)
    )  # nobody sends it: its process is "gone"
    assert [r["status"] for r in runs_list(cli)] == ["interrupted", "cancelled"]

    status, out, err = cli("send", "--resume", "1", "--yes")
    assert status == 0, err
    assert last_line(out) == "sent 3, failed 0, skipped 1, uncertain 0"
    assert per_recipient(handler.envelopes) == everyone(1, 2, 3)

    status, out, err = cli("send", "--retry", "2", "--yes")
    assert status == 0, err
    assert last_line(out) == "sent 3, failed 0, skipped 0, uncertain 0"
    status, out, err = cli("send", "--resume", "2", "--yes")  # all taken over by run 3
    assert status == 2
    assert per_recipient(handler.envelopes) == everyone(1, 2, 3, times=2)  # one per template
    assert [r["status"] for r in runs_list(cli)] == ["finished", "interrupted", "finished"]


def test_retry_of_a_stopped_run_sends_its_pending_and_failed_once(
    cli, db: sqlite3.Connection, faulty_server: StartServer
) -> None:
    handler, _ = stopped_run(cli, db, faulty_server)

    status, out, err = cli("send", "--retry", "1", "--yes")

    assert status == 0, err
    assert last_line(out) == "sent 3, failed 0, skipped 0, uncertain 0"
    assert per_recipient(handler.envelopes) == everyone(1, 2, 3, 4, 5)
    status, out, err = cli("send", "--resume", "1", "--yes")
    assert status == 2
    status, out, err = cli("send", "--retry", "1", "--yes")
    assert status == 2 and "Повторять некому" in err
    status, out, err = cli("send", "--retry", "2", "--yes")  # everyone got run 2
    assert status == 2 and "Повторять некому" in err
    assert len(runs_list(cli)) == 2
    assert per_recipient(handler.envelopes) == everyone(1, 2, 3, 4, 5)


def test_resume_of_a_stopped_run_sends_its_pending_ones_and_retry_the_failed(
    cli, db: sqlite3.Connection, faulty_server: StartServer, tmp_path: Path
) -> None:
    handler, template_id = stopped_run(cli, db, faulty_server)
    outbox = str(tmp_path / "out")
    status, _, err = cli("send", str(template_id), "--outbox", outbox, "--yes")
    assert status == 0, err
    assert len(list((tmp_path / "out").iterdir())) == 3  # 2 (failed), 4 and 5
    assert [s for s, _ in outcomes(cli, 1).values()].count("pending") == 2  # a test run: kept

    status, out, err = cli("send", "--resume", "1", "--yes")

    assert status == 1, err  # finished, with a failure
    assert last_line(out) == "sent 4, failed 1, skipped 1, uncertain 0"
    assert per_recipient(handler.envelopes) == everyone(1, 3, 4, 5)
    status, out, err = cli("send", "--retry", "1", "--yes")
    assert status == 0, err
    assert last_line(out) == "sent 1, failed 0, skipped 0, uncertain 0"
    assert per_recipient(handler.envelopes) == everyone(1, 2, 3, 4, 5)


def test_a_new_start_takes_over_a_stopped_run(
    cli, db: sqlite3.Connection, faulty_server: StartServer
) -> None:
    handler, template_id = stopped_run(cli, db, faulty_server)

    status, out, err = cli("send", str(template_id), "--yes")

    assert status == 0, err  # the pending 4 and 5, and 2 who failed: not reached
    assert last_line(out) == "sent 3, failed 0, skipped 3, uncertain 0"
    assert "переходят в эту: 2" in err
    for args in (("--resume", "1"), ("--retry", "1"), ("--retry", "1", "--include-uncertain")):
        status, out, err = cli("send", *args, "--yes")
        assert status == 2, (args, err)
    assert len(runs_list(cli)) == 2
    assert per_recipient(handler.envelopes) == everyone(1, 2, 3, 4, 5)


def test_a_test_run_does_not_claim_to_take_over_recipients(
    cli, db: sqlite3.Connection, faulty_server: StartServer, tmp_path: Path
) -> None:
    _, template_id = stopped_run(cli, db, faulty_server)

    status, _, err = cli("send", str(template_id), "--outbox", str(tmp_path / "out"), "--yes")

    assert status == 0, err
    assert [s for s, _ in outcomes(cli, 1).values()].count("pending") == 2  # holds today
    assert "переходят в эту" not in err


# --- attachments --------------------------------------------------------------------------------
NOTE_TEXT = "Памятка арендатору\nВозврат автомобиля — с полным баком. Ёлки-палки!\n"
PRICES_TEXT = "Модель;Цена за сутки, руб.\r\nЛада Веста;2500\r\nКиа Рио;3000\r\nЁжик;1\r\n"


def test_stopped_run_resumes_only_with_the_original_attachment(
    cli, db: sqlite3.Connection, data_folder: Path, faulty_server: StartServer, test_ca: TestCA,
    tmp_path: Path,
) -> None:  # fmt: skip
    note, prices = tmp_path / "памятка.txt", tmp_path / "цены.csv"
    note.write_bytes(NOTE_TEXT.encode("utf-8"))
    prices.write_bytes(PRICES_TEXT.encode("cp1251"))
    handler = FaultyHandler()
    set_up_office(db, 3, faulty_server(handler))
    template_id = new_template(db, attachments=(note, prices))
    environment = _environment(test_ca) | {"AVTOPROKAT_MAIL_PASSWORD": "неверный-пароль"}

    stopped = _run(data_folder, environment, "send", str(template_id), "--yes")

    assert stopped.returncode == 2, stopped.stderr
    assert last_line(stopped.stdout) == "sent 0, failed 0, skipped 1, uncertain 0"
    assert "send --resume 1" in stopped.stderr
    assert runs_list(cli)[0]["status"] == "stopped"
    assert [state for state, _ in outcomes(cli, 1).values()].count("pending") == 3

    prices.write_bytes((PRICES_TEXT + "Шкода Октавия;4000\r\n").encode("cp1251"))
    status, out, err = cli("send", "--resume", "1", "--yes")

    assert status == 2
    assert "«цены.csv» изменился" in err
    assert handler.envelopes == []
    assert runs_list(cli)[0]["status"] == "stopped"

    prices.write_bytes(PRICES_TEXT.encode("cp1251"))
    status, out, err = cli("send", "--resume", "1", "--yes")

    assert status == 0, err
    assert last_line(out) == "sent 3, failed 0, skipped 1, uncertain 0"
    assert per_recipient(handler.envelopes) == everyone(1, 2, 3)
    for message in parse_received(handler.envelopes):
        texts = {p.get_filename(): p.get_content() for p in message.message.iter_attachments()}
        assert texts == {"памятка.txt": NOTE_TEXT, "цены.csv": PRICES_TEXT}
