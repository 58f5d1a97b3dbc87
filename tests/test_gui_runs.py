# ruff: noqa: F401, F811  (the session fixture is imported, then requested by name)
"""Runs around runs, in the real windows: repeat starts, continue, retry, test runs, two processes.

Each test drives the windows a rental manager sees and checks what the SMTP server received:
nobody gets the same template twice by accident, and nothing is left without a way to finish.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter

import pytest

from avtoprokat_mail.credentials import PasswordStore, smtp_account
from avtoprokat_mail.model import Client, DeliveryStatus, RunStatus
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import runs as run_store
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.storage.settings import load_email_settings, save_email_settings
from avtoprokat_mail.ui import filedialogs
from avtoprokat_mail.ui.mailing_window import MailingWindow
from avtoprokat_mail.ui.progress_window import ProgressWindow
from tests.gui_helpers import answer_next_dialog, pump, toplevels_of
from tests.smtp_servers import PASSWORD
from tests.test_gui_sending import (
    MARKED,
    press_start,
    session,
    slow_down,
    wait_until_ended,
)
from tests.test_send_cli import _command, _environment

EVERYONE = [f"client{i}@avtoprokat-test.ru" for i in range(MARKED)]


def received(session) -> Counter[str]:
    return Counter(e.rcpt_tos[0] for e in session.server.handler.envelopes)


def the_progress_window(session) -> ProgressWindow:
    pump(session.root)
    (window,) = toplevels_of(session.root, ProgressWindow)
    return window


def send_everyone(session) -> ProgressWindow:
    press_start(session).start_button.invoke()
    window = the_progress_window(session)
    wait_until_ended(window)
    return window


def cancel_after_first_messages(session, window: ProgressWindow) -> None:
    deadline = time.monotonic() + 10
    while len(session.server.handler.envelopes) < 2 and time.monotonic() < deadline:
        pump(session.root, 0.05)
    answer_next_dialog(session.root, "Да")
    window.cancel_button.invoke()
    wait_until_ended(window)


def mapped(widget) -> bool:
    return bool(widget.winfo_ismapped())


# --- a repeat «Старт» ------------------------------------------------------------------------
def test_a_repeat_start_skips_those_who_got_it_unless_asked(session):
    send_everyone(session).destroy()
    dialog = press_start(session)

    assert dialog.recipients_label.cget("text") == "Получателей: 0"
    assert dialog.repeat_label.cget("text") == (
        f"Уже получили этот шаблон: {MARKED} — им не отправляется."
    )
    assert "уже получили этот шаблон" in dialog.problem_label.cget("text")
    assert str(dialog.start_button.cget("state")) == "disabled"
    assert "уже получил(а) этот шаблон" in dialog.skipped_label.cget("text")

    dialog.again_var.set(True)  # «Отправить и тем, кто уже получил»
    dialog.replan()
    assert dialog.recipients_label.cget("text") == f"Получателей: {MARKED}"
    dialog.start_button.invoke()
    wait_until_ended(the_progress_window(session))
    assert received(session) == Counter({address: 2 for address in EVERYONE})


def test_a_newly_marked_client_gets_it_while_the_others_are_skipped(session):
    send_everyone(session).destroy()
    client_store.add_client(
        session.conn, Client(surname="Новиков", email="new@avtoprokat-test.ru", marked=True)
    )
    dialog = press_start(session)
    assert dialog.recipients_label.cget("text") == "Получателей: 1"
    dialog.start_button.invoke()
    wait_until_ended(the_progress_window(session))
    assert received(session) == Counter(EVERYONE) + Counter(["new@avtoprokat-test.ru"])


def test_clients_lacking_a_field_are_named_and_can_be_skipped(session):
    client_store.add_client(
        session.conn,
        Client(surname="Частников", name="Олег", email="solo@avtoprokat-test.ru", marked=True),
    )  # no organisation: «Скидка для %Наименование%» would read «Скидка для »
    dialog = press_start(session)
    assert "%Наименование% — 1" in dialog.incomplete_label.cget("text")
    assert dialog.recipients_label.cget("text") == f"Получателей: {MARKED + 1}"

    dialog.skip_incomplete_var.set(True)  # «Пропустить клиентов без этих данных»
    dialog.replan()
    assert dialog.recipients_label.cget("text") == f"Получателей: {MARKED}"
    who = [dialog.skipped_tree.item(i, "values") for i in dialog.skipped_tree.get_children()]
    assert ("Частников Олег", "solo@avtoprokat-test.ru", "нет данных для %Наименование%") in who
    dialog.start_button.invoke()
    wait_until_ended(the_progress_window(session))
    assert received(session) == Counter(EVERYONE)


# --- cancel → continue, stop → retry --------------------------------------------------------
def test_a_cancelled_run_is_finished_from_its_report(session):
    slow_down(session.server, 0.15)
    press_start(session).start_button.invoke()
    window = the_progress_window(session)
    cancel_after_first_messages(session, window)
    assert window.final.status is RunStatus.CANCELLED
    assert window.labels["left"].cget("text") == "—"  # no time left shown once it has ended
    assert mapped(window.report.continue_button)
    run_id = window.run_id

    slow_down(session.server, 0)
    window.report.continue_button.invoke()  # «Продолжить рассылку»
    resumed = the_progress_window(session)
    assert resumed.run_id == run_id  # the same run, not a new one
    wait_until_ended(resumed)
    assert resumed.final.status is RunStatus.FINISHED
    assert received(session) == Counter(EVERYONE)
    assert len(run_store.list_runs(session.conn)) == 1
    (template,) = template_store.list_templates(session.conn)
    assert template.sent  # finished now: «Отправлено» is set


def test_a_cancelled_run_is_finished_from_the_mailing_window(session):
    slow_down(session.server, 0.15)
    press_start(session).start_button.invoke()
    window = the_progress_window(session)
    cancel_after_first_messages(session, window)
    window.destroy()
    slow_down(session.server, 0)

    (mailing,) = toplevels_of(session.root, MailingWindow)
    mailing.reload()
    (item,) = mailing.runs.get_children()
    assert mailing.runs.item(item, "values")[2] == "отменена"
    assert str(mailing.continue_button.cget("state")) == "normal"
    mailing.continue_button.invoke()
    wait_until_ended(the_progress_window(session))
    assert received(session) == Counter(EVERYONE)
    mailing.reload()
    assert mailing.runs.item(item, "values")[2] == "завершена"
    assert str(mailing.continue_button.cget("state")) == "disabled"
    assert "уже завершена" in mailing.run_note.cget("text")


def test_a_run_stopped_by_a_wrong_password_is_retried_without_duplicates(session):
    settings = load_email_settings(session.conn)
    passwords = PasswordStore()
    passwords.set(smtp_account(settings), "неверный")
    window = send_everyone(session)
    assert window.final.status is RunStatus.STOPPED
    assert run_store.status_counts(session.conn, window.run_id) == {
        DeliveryStatus.PENDING: MARKED, DeliveryStatus.SKIPPED: 2
    }  # fmt: skip
    assert str(window.report.retry_button.cget("state")) == "normal"

    passwords.set(smtp_account(settings), PASSWORD)
    window.report.retry_button.invoke()  # «Повторить неотправленные»
    retry = the_progress_window(session)
    assert retry.run_id != window.run_id
    wait_until_ended(retry)
    assert retry.final.sent == MARKED
    # The old run handed its recipients over: continuing it sends nothing more.
    old = run_store.status_counts(session.conn, window.run_id)
    assert old[DeliveryStatus.PENDING] == 0
    state = retry.mailer.state(window.run_id)
    assert state.why_not_continue() and state.why_not_retry()
    assert received(session) == Counter(EVERYONE)


def test_retry_is_disabled_with_the_reason_when_nobody_is_left(session):
    window = send_everyone(session)
    assert window.final.status is RunStatus.FINISHED
    assert str(window.report.retry_button.cget("state")) == "disabled"
    assert window.report.action_note.cget("text").startswith("Повторять некому")
    assert not mapped(window.report.continue_button)
    assert run_store.list_runs(session.conn)[0].id == window.run_id  # no empty run appeared


def test_uncertain_recipients_are_resent_only_when_ticked(session):
    window = send_everyone(session)
    conn, run_id = session.conn, window.run_id
    lost = run_store.deliveries(conn, run_id, [DeliveryStatus.SENT])[:2]
    for d in lost:  # as a lost server reply leaves them
        run_store.mark(conn, run_id, d.position, DeliveryStatus.UNCERTAIN, "ответ не получен")
    window.destroy()
    (mailing,) = toplevels_of(session.root, MailingWindow)
    mailing.reload()
    mailing.report_button.invoke()  # «Отчёт…» of the past run
    report = the_progress_window(session).report

    assert str(report.retry_button.cget("state")) == "disabled"
    assert "неизвестным исходом" in report.action_note.cget("text")
    assert mapped(report.uncertain_check)
    report.uncertain_check.invoke()  # «и тем, чей исход неизвестен»
    assert str(report.retry_button.cget("state")) == "normal"
    report.retry_button.invoke()
    wait_until_ended(the_progress_window(session))
    assert received(session) == Counter(EVERYONE) + Counter(d.recipient for d in lost)


# --- test runs, and a second process ------------------------------------------------------------
def test_a_test_run_is_labelled_and_a_real_run_still_reaches_everyone(
    session, tmp_path, monkeypatch
):
    folder = tmp_path / "проверка"
    monkeypatch.setattr(filedialogs, "ask_directory", lambda *a, **k: str(folder))
    press_start(session).outbox_button.invoke()
    window = the_progress_window(session)
    wait_until_ended(window)
    assert window.title().startswith("Тестовая рассылка")
    assert "тестовая" in window.status_label.cget("text")
    window.destroy()
    (mailing,) = toplevels_of(session.root, MailingWindow)
    mailing.reload()
    (item,) = mailing.runs.get_children()
    assert mailing.runs.item(item, "values")[2] == "завершена (тестовая, в папку)"
    assert template_store.list_templates(session.conn)[0].sent == ""

    dialog = press_start(session)
    assert dialog.repeat_label is None  # the test run reached nobody
    dialog.start_button.invoke()
    wait_until_ended(the_progress_window(session))
    assert received(session) == Counter(EVERYONE)


def test_a_start_is_refused_while_another_process_sends_the_template(session, test_ca):
    settings = load_email_settings(session.conn)
    settings.per_minute = 240  # 0.25 s a message: the command line takes about 3 s
    save_email_settings(session.conn, settings)
    (template,) = template_store.list_templates(session.conn)
    command = subprocess.Popen(
        _command(session.folder, "send", str(template.id), "--yes"),
        env=_environment(test_ca) | {"AVTOPROKAT_MAIL_PASSWORD": PASSWORD},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while not session.server.handler.envelopes and time.monotonic() < deadline:
            pump(session.root, 0.05)
        assert session.server.handler.envelopes, "the command line did not start sending"
        dialog = press_start(session)
        (run,) = run_store.list_runs(session.conn)
        assert f"рассылка № {run.id} идёт в другом окне или процессе" in (
            dialog.problem_label.cget("text")
        )
        assert str(dialog.start_button.cget("state")) == "disabled"
        dialog.destroy()
    finally:
        out, err = command.communicate(timeout=60)
    assert command.returncode == 0, err
    assert out.splitlines()[-1] == f"sent {MARKED}, failed 0, skipped 2, uncertain 0"
    dialog = press_start(session)  # afterwards: everyone already has it
    assert dialog.recipients_label.cget("text") == "Получателей: 0"
    assert received(session) == Counter(EVERYONE)


def test_no_half_built_window_when_the_password_is_missing(session, monkeypatch):
    monkeypatch.setattr(PasswordStore, "get", lambda self, account: None)
    dialog = press_start(session)
    dialog.start_button.invoke()
    pump(session.root)
    assert "пароль" in dialog.problem_label.cget("text").casefold()
    assert toplevels_of(session.root, ProgressWindow) == []
    assert run_store.list_runs(session.conn) == []  # nothing journaled either


@pytest.mark.parametrize("pause", [False, True])
def test_speed_is_shown_only_once_meaningful(session, pause):
    slow_down(session.server, 0.05)
    press_start(session).start_button.invoke()
    window = the_progress_window(session)
    pump(session.root, 0.5)
    assert window.labels["speed"].cget("text") == "—"  # a few messages say nothing yet
    if pause:
        window.pause_button.invoke()
        pump(session.root, 1.0)
        window.pause_button.invoke()
    wait_until_ended(window)
    assert (window.labels["speed"].cget("text"), window.labels["left"].cget("text")) == ("—", "—")


def test_at_the_daily_limit_the_window_counts_down_and_goes_on_by_itself(session):
    from avtoprokat_mail.model import Channel, Delivery, Route, Run, Template
    from avtoprokat_mail.storage.runs import DAY

    conn = session.conn
    settings = load_email_settings(conn)
    settings.daily_limit = MARKED
    save_email_settings(conn, settings)
    # Yesterday's run through the same mailbox used all but one of today's messages; they
    # leave the 24-hour window in three seconds.
    old = run_store.create_run(
        conn, Run.of(Template(subject="Вчера", body="…"), Route.direct(Channel.EMAIL)),
        [Delivery(position=n, recipient=f"old{n}@avtoprokat-test.ru") for n in range(1, MARKED)],
    )  # fmt: skip
    conn.execute(
        "UPDATE deliveries SET status = 'sent', mailbox = ?, sent_at = ? WHERE run_id = ?",
        (settings.sender_address.casefold(), time.time() - DAY + 3, old),
    )

    press_start(session).start_button.invoke()
    window = the_progress_window(session)
    deadline = time.monotonic() + 10
    while not window.waiting_until and time.monotonic() < deadline:
        pump(session.root, 0.05)
    pump(session.root, 0.1)
    text = window.status_label.cget("text")
    assert text.startswith("Дневной лимит ящика исчерпан: продолжим в "), text
    assert "(через " in text and " с)" in text
    assert "не больше" in window.reason_label.cget("text")
    assert str(window.pause_button.cget("state")) == "disabled"
    assert len(session.server.handler.envelopes) == 1

    wait_until_ended(window)  # nobody presses anything: the window goes on by itself
    assert window.final.status is RunStatus.FINISHED
    assert received(session) == Counter(EVERYONE)
    mailboxes = {
        d.mailbox for d in run_store.deliveries(conn, window.run_id, [DeliveryStatus.SENT])
    }
    assert mailboxes == {settings.sender_address.casefold()}
    assert window.report.tree.item(window.report.tree.get_children()[0], "values")[5] in mailboxes


def test_the_countdown_reads_as_a_person_would_say_it():
    from datetime import datetime

    from avtoprokat_mail.ui.progress_window import waiting_text

    now = datetime(2026, 12, 2, 8, 53).timestamp()
    assert waiting_text(now + 5 * 3600 + 12 * 60, now) == "продолжим в 14:05 (через 5 ч 12 мин)"
    assert waiting_text(now + 7 * 60 + 30, now) == "продолжим в 09:00 (через 7 мин)"
    assert waiting_text(now + 40, now) == "продолжим в 08:53 (через 40 с)"
    assert waiting_text(now + 20 * 3600, now) == "продолжим в 03.12 в 04:53 (через 20 ч 0 мин)"


def test_the_start_summary_says_how_the_daily_limit_spreads_the_run(session):
    settings = load_email_settings(session.conn)
    settings.daily_limit = 5
    save_email_settings(session.conn, settings)
    dialog = press_start(session)
    text = dialog.schedule_label.cget("text")
    address = settings.sender_address.casefold()
    assert f"через {address}: 5 в ближайшие сутки" in text
    assert f"ещё {MARKED - 5} ждут дневного лимита ящиков: рассылка закончится около" in text
