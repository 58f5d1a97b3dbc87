"""An SMS template started from the mailing window, and a test SMS from the template form."""

from __future__ import annotations

import time

import pytest

from avtoprokat_mail.credentials import PasswordStore, sms_account
from avtoprokat_mail.model import Client, RunStatus, SmsProvider, Template
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import open_database
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.storage.settings import save_sms_settings
from avtoprokat_mail.ui.mailing_window import MailingWindow
from avtoprokat_mail.ui.progress_window import ProgressWindow
from avtoprokat_mail.ui.start_dialog import StartDialog
from avtoprokat_mail.ui.template_form import TemplateForm
from tests.gui_helpers import Session, close_windows, pump, toplevels_of
from tests.sms_gateways import SMSRU_API_ID, FakeGateway

NUMBERS = [f"+7926{i:07d}" for i in range(8)]


@pytest.fixture
def session(tk_root, data_folder, gui_errors, memory_keyring):
    with FakeGateway(balance="150") as fake:
        conn = open_database(database_path(data_folder))
        for i, number in enumerate(NUMBERS):
            client_store.add_client(conn, Client(surname=f"Смирнов{i}", name="Олег",
                                                 mobile=number, marked=True))  # fmt: skip
        client_store.add_client(conn, Client(surname="Безномерный", marked=True))
        settings = fake.settings(SmsProvider.SMSRU)
        save_sms_settings(conn, settings)
        PasswordStore().set(sms_account(settings), SMSRU_API_ID)
        template_store.add_template(conn, Template(sms=True, body="%Имя%, ждём вас в прокате!"))
        conn.close()
        s = Session(tk_root, data_folder)
        s.open()
        s.fake = fake
        yield s
        close_windows(tk_root, (ProgressWindow, StartDialog, TemplateForm, MailingWindow))
        s.close()


def wait_for(condition, root, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        pump(root, 0.05)
    assert condition(), "timed out"


def test_sms_template_runs_to_the_end_of_the_progress_window(session):
    mailing = session.window.open_mailing()
    mailing.buttons["Старт"].invoke()
    pump(session.root)
    (dialog,) = toplevels_of(session.root, StartDialog)
    assert dialog.recipients_label.cget("text") == f"Получателей: {len(NUMBERS)}"
    assert "нет сотового телефона" in dialog.skipped_label.cget("text")
    wait_for(lambda: "руб." in dialog.cost_label.cget("text"), session.root)
    assert "На счёте 150,00 руб." in dialog.cost_label.cget("text")
    dialog.start_button.invoke()
    pump(session.root)
    (window,) = toplevels_of(session.root, ProgressWindow)
    wait_for(lambda: window.final is not None, session.root)
    assert window.final.status is RunStatus.FINISHED
    assert window.labels["sent"].cget("text") == f"{len(NUMBERS)} из {len(NUMBERS)}"
    assert window.labels["skipped"].cget("text") == "1"
    assert sorted(phone for phone, _, _ in session.fake.sent) == NUMBERS
    assert {text for _, text, _ in session.fake.sent} == {"Олег, ждём вас в прокате!"}


def test_an_unexpected_error_asking_the_price_is_shown(session, monkeypatch):
    import avtoprokat_mail.ui.start_dialog as start_dialog

    def broken(_gateway, _plan) -> str:
        raise RuntimeError("ошибка при запросе цены")

    monkeypatch.setattr(start_dialog, "cost_line", broken)
    mailing = session.window.open_mailing()
    mailing.buttons["Старт"].invoke()
    pump(session.root)
    (dialog,) = toplevels_of(session.root, StartDialog)
    errors = session.root.callback_errors  # what the application's error reporting received
    wait_for(lambda: errors, session.root, seconds=5)
    assert [str(e) for e in errors] == ["ошибка при запросе цены"]
    errors.clear()
    assert dialog.cost_label.cget("text") == "Стоимость не известна: ошибка при запросе цены"
    assert str(dialog.start_button.cget("state")) == "normal"


def test_test_sms_to_a_typed_number(session):
    mailing = session.window.open_mailing()
    mailing.buttons["Изменить"].invoke()
    pump(session.root)
    (form,) = toplevels_of(session.root, TemplateForm)
    form.test_send.number_var.set("8 (903) 555-44-33")
    form.test_send.button.invoke()
    wait_for(
        lambda: form.test_send.result_label.cget("text") not in ("", "Отправка…"), session.root
    )
    assert "отправлена на +79035554433" in form.test_send.result_label.cget("text")
    assert session.fake.sent == [("+79035554433", "Олег, ждём вас в прокате!", "")]
    form.test_send.number_var.set("12345")
    form.test_send.button.invoke()
    wait_for(lambda: "не похоже" in form.test_send.result_label.cget("text"), session.root)
    assert len(session.fake.sent) == 1


def test_without_a_secure_store_start_asks_for_the_sms_key(tk_root, data_folder, gui_errors):
    import keyring
    from keyring.backends import fail

    from avtoprokat_mail.ui.dialogs import open_dialog

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    with FakeGateway() as fake:
        conn = open_database(database_path(data_folder))
        client_store.add_client(conn, Client(surname="Смирнов", name="Олег", mobile=NUMBERS[0],
                                             marked=True))  # fmt: skip
        save_sms_settings(conn, fake.settings(SmsProvider.SMSRU))
        template_store.add_template(conn, Template(sms=True, body="%Имя%, ждём вас!"))
        conn.close()
        s = Session(tk_root, data_folder)
        s.open()
        try:
            seen: list[str] = []

            def type_key() -> None:
                dialog = open_dialog()
                if dialog is None:
                    tk_root.after(20, type_key)
                    return
                seen.append(dialog.message)
                dialog.password_var.set(SMSRU_API_ID)
                dialog.press("OK")

            mailing = s.window.open_mailing()
            mailing.buttons["Старт"].invoke()
            pump(tk_root)
            (dialog,) = toplevels_of(tk_root, StartDialog)
            tk_root.after(20, type_key)
            dialog.start_button.invoke()
            pump(tk_root)
            (window,) = toplevels_of(tk_root, ProgressWindow)
            wait_for(lambda: window.final is not None, tk_root)
            assert "SMS-шлюза SMS.ru" in seen[0]
            assert fake.sent == [(NUMBERS[0], "Олег, ждём вас!", "")]
        finally:
            close_windows(tk_root, (ProgressWindow, StartDialog, MailingWindow))
            s.close()
            keyring.set_keyring(previous)
