"""«Старт» in the real window: the summary, the progress window, the report, a test send."""

from __future__ import annotations

import asyncio
import email
import time
from email import policy

import pytest

from avtoprokat_mail.credentials import PasswordStore, smtp_account
from avtoprokat_mail.model import Client, DeliveryStatus, RunStatus, Security, Template
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import open_database
from avtoprokat_mail.storage import runs as run_store
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.storage.settings import save_email_settings, set_setting
from avtoprokat_mail.ui import filedialogs
from avtoprokat_mail.ui.mailing_window import MailingWindow
from avtoprokat_mail.ui.progress_window import ProgressWindow
from avtoprokat_mail.ui.start_dialog import StartDialog
from avtoprokat_mail.ui.template_form import TemplateForm
from tests.gui_helpers import Session, answer_next_dialog, close_windows, pump, toplevels_of
from tests.smtp_servers import PASSWORD

MARKED = 12


@pytest.fixture
def session(tk_root, data_folder, gui_errors, memory_keyring, starttls_server, trust_test_ca):
    conn = open_database(database_path(data_folder))
    for i in range(MARKED):
        client_store.add_client(
            conn,
            Client(
                surname=f"Клиентов{i}",
                name="Пётр Ильич",
                organization="ООО «Ромашка»",
                email=f"client{i}@avtoprokat-test.ru",
                marked=True,
            ),
        )
    client_store.add_client(
        conn, Client(surname="Отказников", email="no@avtoprokat-test.ru", marked=True, opt_out=True)
    )
    client_store.add_client(conn, Client(surname="Безадресный", marked=True))
    client_store.add_client(conn, Client(surname="Неотмеченный", email="x@avtoprokat-test.ru"))
    settings = starttls_server.settings(Security.STARTTLS, auth=True)
    save_email_settings(conn, settings)
    PasswordStore().set(smtp_account(settings), PASSWORD)
    template_store.add_template(conn, Template(subject="Скидка для %Наименование%",
                                               body="Здравствуйте, %Имя%!"))  # fmt: skip
    conn.close()
    s = Session(tk_root, data_folder)
    s.open()
    s.server = starttls_server
    yield s
    close_windows(tk_root, (ProgressWindow, StartDialog, TemplateForm, MailingWindow))
    s.close()


def press_start(session: Session) -> StartDialog:
    mailing = session.window.open_mailing()
    mailing.buttons["Старт"].invoke()
    pump(session.root)
    (dialog,) = toplevels_of(session.root, StartDialog)
    return dialog


def wait_until_ended(window: ProgressWindow, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while window.final is None and time.monotonic() < deadline:
        pump(window.master, 0.05)
    assert window.final is not None, "the run did not end"


def slow_down(server, seconds: float) -> None:
    """Make the server take ``seconds`` over each message (a slow mail server)."""
    original = server.handler.handle_DATA

    async def slow(*args):
        await asyncio.sleep(seconds)
        return await original(*args)

    server.handler.handle_DATA = slow


def test_start_shows_the_summary_then_sends_and_reports(session):
    dialog = press_start(session)
    assert dialog.recipients_label.cget("text") == f"Получателей: {MARKED}"
    assert "Пропущено: 2" in dialog.skipped_label.cget("text")
    assert "отказ от рассылки" in dialog.skipped_label.cget("text")
    assert "нет email" in dialog.skipped_label.cget("text")
    dialog.start_button.invoke()
    pump(session.root)
    (window,) = toplevels_of(session.root, ProgressWindow)
    wait_until_ended(window)
    assert window.final.status is RunStatus.FINISHED
    assert window.labels["sent"].cget("text") == f"{MARKED} из {MARKED}"
    assert window.labels["failed"].cget("text") == "0"
    assert window.labels["skipped"].cget("text") == "2"
    assert window.status_label.cget("text") == "Рассылка завершена"
    assert len(window.report.tree.get_children()) == MARKED + 2
    sent = run_store.deliveries(session.conn, window.run_id, [DeliveryStatus.SENT])
    assert {d.reply for d in sent} == {"250 2.0.0 Сообщение принято"}  # the server's own answer
    received = sorted(e.rcpt_tos[0] for e in session.server.handler.envelopes)
    assert received == sorted(f"client{i}@avtoprokat-test.ru" for i in range(MARKED))
    first = email.message_from_bytes(
        session.server.handler.envelopes[0].content, policy=policy.default
    )
    assert first["Subject"] == "Скидка для ООО «Ромашка»"
    (template,) = template_store.list_templates(session.conn)
    assert template.sent  # «Отправлено» is set
    mailing = toplevels_of(session.root, MailingWindow)[0]
    assert mailing.tree.item(mailing.tree.get_children()[0], "values")[1] != ""


def test_the_summary_says_how_many_lack_consent_when_it_is_required(session):
    dialog = press_start(session)
    assert dialog.consent_label is None  # not required: nothing to say
    dialog.destroy()
    set_setting(session.conn, "email.require_consent", "1")
    names = {f"Клиентов{i}" for i in range(5)}
    agreed = [c for c in client_store.list_clients(session.conn) if c.surname in names]
    for client in agreed:
        client.consent = "2024-05-14"
    client_store.update_clients(session.conn, agreed)

    dialog = press_start(session)
    without = MARKED - len(agreed)
    assert dialog.consent_label.cget("text") == (
        f"Без согласия на рассылку: {without} — не отправляется"
    )
    assert dialog.recipients_label.cget("text") == f"Получателей: {len(agreed)}"
    assert f"нет согласия на рассылку — {without}" in dialog.skipped_label.cget("text")
    reasons = {dialog.skipped_tree.item(i, "values")[2] for i in dialog.skipped_tree.get_children()}
    assert reasons == {"нет согласия на рассылку", "отказ от рассылки", "нет email"}


def test_cancel_mid_run_keeps_the_rest_pending(session):
    slow_down(session.server, 0.15)
    press_start(session).start_button.invoke()
    pump(session.root)
    (window,) = toplevels_of(session.root, ProgressWindow)
    deadline = time.monotonic() + 10
    while not session.server.handler.envelopes and time.monotonic() < deadline:
        pump(session.root, 0.05)
    answer_next_dialog(session.root, "Да")
    window.cancel_button.invoke()
    wait_until_ended(window)
    assert window.final.status is RunStatus.CANCELLED
    counts = run_store.status_counts(session.conn, window.run_id)
    assert 0 < counts[DeliveryStatus.SENT] < MARKED
    assert counts[DeliveryStatus.SENT] + counts[DeliveryStatus.PENDING] == MARKED
    assert len(session.server.handler.envelopes) == counts[DeliveryStatus.SENT]
    assert str(window.report.retry_button.cget("state")) == "normal"


def test_pause_holds_the_run_and_the_window_stays_responsive(session):
    slow_down(session.server, 0.1)
    press_start(session).start_button.invoke()
    pump(session.root)
    (window,) = toplevels_of(session.root, ProgressWindow)
    window.pause_button.invoke()
    pump(session.root, 0.5)  # the message in flight finishes, then nothing more
    held = len(session.server.handler.envelopes)
    pump(session.root, 0.5)
    assert len(session.server.handler.envelopes) == held
    assert run_store.get_run(session.conn, window.run_id).status is RunStatus.PAUSED
    assert window.pause_button.cget("text") == "Продолжить"
    window.pause_button.invoke()
    wait_until_ended(window)
    assert window.final.status is RunStatus.FINISHED
    assert len(session.server.handler.envelopes) == MARKED


def test_test_run_into_a_folder_does_not_count_as_sent(session, tmp_path, monkeypatch):
    folder = tmp_path / "проверка"
    monkeypatch.setattr(filedialogs, "ask_directory", lambda *a, **k: str(folder))
    press_start(session).outbox_button.invoke()
    pump(session.root)
    (window,) = toplevels_of(session.root, ProgressWindow)
    wait_until_ended(window)
    assert len(list(folder.glob("*.eml"))) == MARKED
    assert session.server.handler.envelopes == []
    (template,) = template_store.list_templates(session.conn)
    assert template.sent == ""


def test_unknown_placeholder_blocks_the_start(session):
    template = template_store.list_templates(session.conn)[0]
    template.body = "Здравствуйте, %Город%!"
    template_store.update_template(session.conn, template)
    dialog = press_start(session)
    assert "%Город%" in dialog.problem_label.cget("text")
    assert str(dialog.start_button.cget("state")) == "disabled"


def test_failed_recipients_are_reported_exported_and_retried(session, tmp_path, monkeypatch):
    original = session.server.handler.handle_DATA
    refuse = {"client3@avtoprokat-test.ru"}

    async def picky(server, smtp_session, envelope):
        if envelope.rcpt_tos[0] in refuse:
            return "550 5.1.1 Нет такого ящика"
        return await original(server, smtp_session, envelope)

    session.server.handler.handle_DATA = picky
    press_start(session).start_button.invoke()
    pump(session.root)
    (window,) = toplevels_of(session.root, ProgressWindow)
    wait_until_ended(window)
    assert window.labels["failed"].cget("text") == "1"
    window.report.only_failed_var.set(True)
    window.report.refresh()
    (row,) = [window.report.tree.item(i, "values") for i in window.report.tree.get_children()]
    assert row[1] == "client3@avtoprokat-test.ru" and "550" in row[4]
    target = tmp_path / "отчёт.csv"
    monkeypatch.setattr(filedialogs, "ask_save_path", lambda *a, **k: str(target))
    answer_next_dialog(session.root, "OK")
    window.report.export_button.invoke()
    text = target.read_bytes().decode("cp1251")
    assert "client3@avtoprokat-test.ru" in text and "ошибка" in text
    refuse.clear()
    window.report.retry_button.invoke()
    pump(session.root)
    (retry,) = toplevels_of(session.root, ProgressWindow)
    wait_until_ended(retry)
    assert retry.final.sent == 1
    rcpts = [e.rcpt_tos[0] for e in session.server.handler.envelopes]
    assert rcpts.count("client3@avtoprokat-test.ru") == 1 and len(rcpts) == MARKED


def test_an_unexpected_error_in_the_engine_is_shown_and_close_is_enabled(session, monkeypatch):
    from avtoprokat_mail.sending.campaign import Campaign

    def broken(_campaign, _conn):
        raise RuntimeError("ошибка в движке")

    monkeypatch.setattr(Campaign, "_run", broken)
    seen: list[str] = []
    answer_next_dialog(session.root, "OK", seen)
    press_start(session).start_button.invoke()
    pump(session.root)
    (window,) = toplevels_of(session.root, ProgressWindow)
    deadline = time.monotonic() + 10
    while not seen and time.monotonic() < deadline:
        pump(session.root, 0.05)
    assert seen == ["ошибка в движке"]
    assert window.reason_label.cget("text") == "Рассылка прервана ошибкой: ошибка в движке"
    assert window.status_label.cget("text") == "Рассылка прервана"
    assert str(window.close_button.cget("state")) == "normal"
    window.close_button.invoke()
    pump(session.root)
    assert not toplevels_of(session.root, ProgressWindow)


def test_send_to_self_from_the_template_form(session):
    mailing = session.window.open_mailing()
    mailing.buttons["Изменить"].invoke()
    pump(session.root)
    (form,) = toplevels_of(session.root, TemplateForm)
    form.test_send.button.invoke()
    deadline = time.monotonic() + 15
    while (
        form.test_send.result_label.cget("text") in ("", "Отправка…")
        and time.monotonic() < deadline
    ):
        pump(session.root, 0.05)
    assert "отправлено на office@avtoprokat.ru" in form.test_send.result_label.cget("text")
    (envelope,) = session.server.handler.envelopes
    assert envelope.rcpt_tos == ["office@avtoprokat.ru"]
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"] == "[Проверка] Скидка для ООО «Ромашка»"
    assert run_store.list_runs(session.conn) == []  # a test send is not a run


def test_an_unexpected_error_in_the_test_send_is_shown_and_the_button_enabled_again(
    session, monkeypatch
):
    from avtoprokat_mail.sending.smtp import SmtpTransport

    def broken(_transport) -> None:
        raise RuntimeError("ошибка при отправке")

    monkeypatch.setattr(SmtpTransport, "open", broken)
    mailing = session.window.open_mailing()
    mailing.buttons["Изменить"].invoke()
    pump(session.root)
    (form,) = toplevels_of(session.root, TemplateForm)
    form.test_send.button.invoke()
    errors = session.root.callback_errors  # what the application's error reporting received
    deadline = time.monotonic() + 5
    while not errors and time.monotonic() < deadline:
        pump(session.root, 0.05)
    assert [str(e) for e in errors] == ["ошибка при отправке"]
    errors.clear()
    assert form.test_send.result_label.cget("text") == "Отправка не удалась: ошибка при отправке"
    assert str(form.test_send.button.cget("state")) == "normal"


def test_an_interrupted_run_is_offered_on_start_and_resumed_without_duplicates(session):
    from avtoprokat_mail.app import offer_unfinished_runs
    from avtoprokat_mail.model import Channel, Route
    from avtoprokat_mail.sending.campaign import plan_run
    from avtoprokat_mail.sending.lifecycle import start_run

    conn = session.conn
    (template,) = template_store.list_templates(conn)
    run_id = start_run(conn, plan_run(conn, template), Route.direct(Channel.EMAIL))
    deliveries = run_store.deliveries(conn, run_id, [DeliveryStatus.PENDING])
    # As a killed process leaves it: two sent, one caught in "sending", the rest pending.
    run_store.mark(conn, run_id, deliveries[0].position, DeliveryStatus.SENT)
    run_store.mark(conn, run_id, deliveries[1].position, DeliveryStatus.SENT)
    run_store.mark(conn, run_id, deliveries[2].position, DeliveryStatus.SENDING)
    seen: list[str] = []
    answer_next_dialog(session.root, "Да", seen)
    assert offer_unfinished_runs(session.window) == [run_id]
    assert f"Рассылка № {run_id}" in seen[0] and "исход неизвестен" in seen[0]
    (window,) = toplevels_of(session.root, ProgressWindow)
    wait_until_ended(window)
    counts = run_store.status_counts(conn, run_id)
    assert counts[DeliveryStatus.SENT] == MARKED - 1
    assert counts[DeliveryStatus.UNCERTAIN] == 1
    rcpts = [e.rcpt_tos[0] for e in session.server.handler.envelopes]
    assert len(rcpts) == MARKED - 3 and len(set(rcpts)) == len(rcpts)
    assert deliveries[2].recipient not in rcpts  # the uncertain one is not resent
    assert offer_unfinished_runs(session.window) == []  # nothing left to offer


def test_four_connections_from_the_window_pause_together_and_end_exact(session):
    set_setting(session.conn, "email.connections", "4")
    at_once, most = [0], [0]
    original = session.server.handler.handle_DATA

    async def slow(*args):
        at_once[0] += 1
        most[0] = max(most[0], at_once[0])
        try:
            await asyncio.sleep(0.1)
            return await original(*args)
        finally:
            at_once[0] -= 1

    session.server.handler.handle_DATA = slow
    press_start(session).start_button.invoke()
    pump(session.root)
    (window,) = toplevels_of(session.root, ProgressWindow)
    window.pause_button.invoke()
    pump(session.root, 0.6)  # the messages in flight on every connection finish, then nothing
    held = len(session.server.handler.envelopes)
    pump(session.root, 0.5)
    assert len(session.server.handler.envelopes) == held < MARKED
    assert run_store.get_run(session.conn, window.run_id).status is RunStatus.PAUSED
    counts = run_store.status_counts(session.conn, window.run_id)
    assert DeliveryStatus.SENDING not in counts  # nothing left half-way while paused
    window.pause_button.invoke()
    wait_until_ended(window)

    assert window.final.status is RunStatus.FINISHED
    assert window.labels["sent"].cget("text") == f"{MARKED} из {MARKED}"
    received = sorted(e.rcpt_tos[0] for e in session.server.handler.envelopes)
    assert received == sorted(f"client{i}@avtoprokat-test.ru" for i in range(MARKED))
    assert most[0] > 1  # messages went out over several connections at once
