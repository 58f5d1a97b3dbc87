"""The settings window «Параметры рассылки» driven as a user drives it, under Xvfb."""

# ruff: noqa: F401, F811  (the imap_server fixture is imported, then requested by name)
from __future__ import annotations

import time

import keyring
import pytest
from keyring.backends import fail

from avtoprokat_mail.credentials import NO_SECURE_STORE, PasswordStore, smtp_account
from avtoprokat_mail.model import EmailSettings, Security, SmsProvider
from avtoprokat_mail.storage.settings import load_email_settings, load_sms_settings
from avtoprokat_mail.ui.mailing_window import MailingWindow
from avtoprokat_mail.ui.settings_window import SettingsWindow
from tests.gui_helpers import Session, answer_next_dialog, no_dialog_expected, pump, toplevels_of
from tests.imap_server import imap_server
from tests.sms_gateways import SMSRU_API_ID, FakeGateway
from tests.smtp_servers import PASSWORD

WRONG = "неверный-пароль"


@pytest.fixture
def session(tk_root, data_folder, gui_errors, memory_keyring):
    s = Session(tk_root, data_folder)
    s.open()
    yield s
    for kind in (SettingsWindow, MailingWindow):
        for window in toplevels_of(tk_root, kind):
            window.destroy()
    s.close()


def open_settings(session: Session) -> SettingsWindow:
    """«Рассылка» → the mailing window → «Параметры»."""
    mailing = session.window.open_mailing()
    mailing.buttons["Параметры"].invoke()
    pump(session.root)
    (window,) = toplevels_of(session.root, SettingsWindow)
    return window


def wait_for_result(window: SettingsWindow, label, seconds: float = 15) -> str:
    """Keep Tk running until the check's result replaces «Проверка…»."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        pump(window.master, 0.05)
        text = label.cget("text")
        if text and text != "Проверка…":
            return text
    raise AssertionError("the check did not report back")


def fill_email(tab, settings: EmailSettings, password: str) -> None:
    tab.preset_var.set("другой")
    tab.sender_name_var.set(settings.sender_name)
    tab.sender_address_var.set(settings.sender_address)
    tab.host_var.set(settings.host)
    tab.port_var.set(str(settings.port))
    tab.security_var.set({"none": "без шифрования", "starttls": "STARTTLS", "ssl": "SSL/TLS"}[
        settings.security.value])  # fmt: skip
    tab.auth_var.set(settings.auth)
    tab.user_var.set(settings.user)
    tab.timeout_var.set(str(settings.timeout))
    tab.password_var.set(password)


def test_require_consent_checkbox_is_saved_and_shown_again(session):
    window = open_settings(session)
    tab = window.email_tab
    (box,) = [
        widget
        for widget in tab.winfo_children()
        if widget.winfo_class() == "TCheckbutton"
        and widget.cget("text") == "Только клиентам с согласием на рассылку"
    ]
    assert tab.require_consent_var.get() is False
    box.invoke()
    assert tab.collect().require_consent is True
    window.save_button.invoke()
    pump(session.root)
    assert not toplevels_of(session.root, SettingsWindow)
    assert load_email_settings(session.conn).require_consent is True

    window = open_settings(session)  # reopened: the box is ticked
    assert window.email_tab.require_consent_var.get() is True
    window.email_tab.require_consent_var.set(False)
    window.save_button.invoke()
    pump(session.root)
    assert load_email_settings(session.conn).require_consent is False


@pytest.mark.parametrize(
    ("preset", "host", "port", "security", "daily"),
    [
        ("mail.ru", "smtp.mail.ru", "465", "SSL/TLS", "0"),
        ("Яндекс", "smtp.yandex.ru", "465", "SSL/TLS", "500"),
        ("Gmail", "smtp.gmail.com", "587", "STARTTLS", "500"),
    ],
)
def test_preset_fills_server_port_security_and_daily_limit(
    session, preset, host, port, security, daily
):
    tab = open_settings(session).email_tab
    tab.sender_address_var.set("office@mail.ru")
    tab.connections_var.set("4")
    tab.preset_var.set(preset)
    pump(session.root)
    assert tab.connections_var.get() == "1"  # public mailboxes keep one connection
    assert (tab.host_var.get(), tab.port_var.get(), tab.security_var.get()) == (
        host,
        port,
        security,
    )
    assert tab.daily_limit_var.get() == daily  # the provider's own figure
    assert tab.auth_var.get() is True
    assert tab.user_var.get() == "office@mail.ru"


def test_save_and_reopen_keeps_values_and_stores_the_password_only_in_the_keyring(
    session, memory_keyring, data_folder
):
    window = open_settings(session)
    tab = window.email_tab
    tab.preset_var.set("mail.ru")
    tab.sender_name_var.set("Автопрокат «Север»")
    tab.sender_address_var.set("office@mail.ru")
    tab.user_var.set("office@mail.ru")
    tab.per_minute_var.set("20")
    tab.daily_limit_var.set("450")
    tab.connections_var.set("3")
    tab.password_var.set(PASSWORD)
    window.show_tab(window.sms_tab)
    window.sms_tab.provider_var.set("SMSC.ru")
    window.sms_tab.login_var.set("avtoprokat")
    window.save_button.invoke()
    pump(session.root)
    assert not toplevels_of(session.root, SettingsWindow)

    stored = load_email_settings(session.conn)
    assert (stored.host, stored.port, stored.security) == ("smtp.mail.ru", 465, Security.SSL)
    assert stored.sender_name == "Автопрокат «Север»" and stored.per_minute == 20
    assert stored.daily_limit == 450 and stored.connections == 3
    assert load_sms_settings(session.conn).provider is SmsProvider.SMSC
    assert PasswordStore().get(smtp_account(stored)) == PASSWORD
    session.conn.execute("PRAGMA wal_checkpoint(FULL)")
    database = b"".join(p.read_bytes() for p in data_folder.iterdir() if p.is_file())
    assert PASSWORD.encode() not in database

    tab = open_settings(session).email_tab
    assert tab.preset_var.get() == "mail.ru"
    assert tab.sender_name_var.get() == "Автопрокат «Север»"
    assert tab.password_var.get() == ""  # never shown
    assert tab.password_state.cget("text") == "сохранён в хранилище паролей"
    tab.user_var.set("sales@mail.ru")  # another account: its password is not set
    pump(session.root)
    assert tab.password_state.cget("text") == "не задан"


def test_bad_values_are_refused_on_the_right_tab(session):
    window = open_settings(session)
    window.email_tab.host_var.set("smtp mail ru")
    window.email_tab.sender_address_var.set("office@mail.ru")
    window.show_tab(window.sms_tab)
    window.save_button.invoke()
    assert "не похоже на имя сервера" in window.error_label.cget("text")
    assert window.shown_tab is window.email_tab
    window.email_tab.host_var.set("smtp.mail.ru")
    window.email_tab.port_var.set("пятьсот")
    window.save_button.invoke()
    assert "Порт: нужно целое число" in window.error_label.cget("text")
    assert load_email_settings(session.conn) == EmailSettings()


def test_connection_check_reports_success_in_the_window(session, starttls_server, trust_test_ca):
    window = open_settings(session)
    settings = starttls_server.settings(Security.STARTTLS, auth=True)
    fill_email(window.email_tab, settings, PASSWORD)
    window.email_tab.check_button.invoke()
    assert str(window.email_tab.check_button.cget("state")) == "disabled"
    text = wait_for_result(window, window.email_tab.result_label)
    assert "установлено" in text and str(starttls_server.port) in text
    assert str(window.email_tab.check_button.cget("state")) == "normal"
    assert starttls_server.handler.envelopes == []  # nothing was sent


def test_connection_check_reports_a_wrong_password(session, ssl_server, trust_test_ca):
    window = open_settings(session)
    fill_email(window.email_tab, ssl_server.settings(Security.SSL, auth=True), WRONG)
    window.email_tab.check_button.invoke()
    text = wait_for_result(window, window.email_tab.result_label)
    assert "пароль для внешнего приложения" in text
    assert WRONG not in text


def test_connection_check_reports_an_untrusted_certificate(session, ssl_server, distrust_test_ca):
    window = open_settings(session)
    fill_email(window.email_tab, ssl_server.settings(Security.SSL, auth=True), PASSWORD)
    window.email_tab.check_button.invoke()
    assert "сертификат" in wait_for_result(window, window.email_tab.result_label).lower()


def test_window_stays_responsive_while_a_server_is_silent(session, silent_server):
    window = open_settings(session)
    fill_email(window.email_tab, silent_server.settings(Security.NONE, timeout=2), "")
    window.email_tab.check_button.invoke()
    started = time.monotonic()
    pump(session.root, 0.3)  # Tk keeps processing events while the worker waits
    window.email_tab.sender_name_var.set("печатаю во время проверки")
    pump(session.root)
    assert window.email_tab.sender_name_var.get() == "печатаю во время проверки"
    assert time.monotonic() - started < 1.5
    assert "не ответил" in wait_for_result(window, window.email_tab.result_label)


def test_an_unexpected_error_in_the_check_is_shown_and_the_button_enabled_again(
    session, monkeypatch
):
    import avtoprokat_mail.sending.smtp as smtp

    def broken(_settings, _password):
        raise RuntimeError("ошибка в проверке")

    monkeypatch.setattr(smtp, "check_smtp", broken)
    window = open_settings(session)
    fill_email(
        window.email_tab,
        EmailSettings(sender_address="office@example.ru", host="smtp.example.ru"),
        "",
    )
    window.email_tab.check_button.invoke()
    text = wait_for_result(window, window.email_tab.result_label)
    assert text == "Проверка не удалась: ошибка в проверке"
    assert str(window.email_tab.check_button.cget("state")) == "normal"


def test_sms_balance_check_in_the_window(session):
    with FakeGateway(balance="1234.5") as fake:
        window = open_settings(session)
        window.show_tab(window.sms_tab)
        tab = window.sms_tab
        tab.endpoint_var.set(fake.url)
        tab.password_var.set(SMSRU_API_ID)
        tab.check_button.invoke()
        text = wait_for_result(window, tab.result_label)
        assert "1 234,50 руб." in text
        tab.password_var.set("неверный-ключ")
        tab.check_button.invoke()
        text = wait_for_result(window, tab.result_label)
        assert "неверный-ключ" not in text and "ключ" in text.lower()


def test_without_a_secure_store_the_check_asks_for_the_password_once(
    tk_root, data_folder, gui_errors, starttls_server, trust_test_ca
):
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    s = Session(tk_root, data_folder)
    s.open()
    try:
        window = open_settings(s)
        tab = window.email_tab
        assert any(
            child.cget("text") == NO_SECURE_STORE
            for child in tab.winfo_children()
            if child.winfo_class() == "TLabel"
        )
        fill_email(tab, starttls_server.settings(Security.STARTTLS, auth=True), "")
        seen: list[str] = []

        def type_password() -> None:
            from avtoprokat_mail.ui.dialogs import open_dialog

            dialog = open_dialog()
            if dialog is None:
                tk_root.after(20, type_password)
                return
            seen.append(dialog.message)
            dialog.password_var.set(PASSWORD)
            dialog.press("OK")

        tk_root.after(20, type_password)
        tab.check_button.invoke()
        assert "установлено" in wait_for_result(window, tab.result_label)
        assert seen == [NO_SECURE_STORE]
        tab.check_button.invoke()  # the second check in this session does not ask again
        assert "установлено" in wait_for_result(window, tab.result_label)
        assert len(seen) == 1
    finally:
        for window in toplevels_of(tk_root, SettingsWindow):
            window.destroy()
        s.close()
        keyring.set_keyring(previous)


def test_cancel_keeps_the_stored_settings(session):
    window = open_settings(session)
    window.email_tab.host_var.set("smtp.yandex.ru")
    seen: list[str] = []
    answer_next_dialog(session.root, "Нет", seen)
    window.cancel_button.invoke()
    assert seen == ["Параметры изменены. Сохранить изменения?"]
    assert not window.winfo_exists()
    assert load_email_settings(session.conn) == EmailSettings()


def test_cancel_can_keep_editing_or_save(session):
    window = open_settings(session)
    window.email_tab.sender_name_var.set("Автопрокат")
    answer_next_dialog(session.root, "Отмена")
    window.event_generate("<Escape>")
    assert window.winfo_exists()
    assert load_email_settings(session.conn).sender_name == ""
    answer_next_dialog(session.root, "Да")
    window.cancel_button.invoke()
    assert not window.winfo_exists()
    assert load_email_settings(session.conn).sender_name == "Автопрокат"


def test_cancel_of_untouched_settings_closes_without_asking(session):
    window = open_settings(session)
    window.show_tab(window.sms_tab)
    with no_dialog_expected(session.root):
        window.cancel_button.invoke()
    assert not window.winfo_exists()


def test_more_mailboxes_are_added_with_their_password_in_the_store_and_removed(session):
    from avtoprokat_mail.storage.settings import list_mailboxes

    tab = open_settings(session).mailboxes_tab
    tab.vars["address"].set("sales@yandex.ru")
    tab.vars["preset"].set("Яндекс")
    tab.vars["password"].set(PASSWORD)
    pump(session.root)
    assert (tab.vars["host"].get(), tab.vars["limit"].get()) == ("smtp.yandex.ru", "500")
    tab.add_button.invoke()

    ((mailbox_id, stored),) = list_mailboxes(session.conn)
    assert (stored.sender_address, stored.host, stored.port, stored.daily_limit) == (
        "sales@yandex.ru", "smtp.yandex.ru", 465, 500
    )  # fmt: skip
    assert stored.user == "sales@yandex.ru"  # the address, when no login is typed
    assert PasswordStore().get(smtp_account(stored)) == PASSWORD
    assert tab.vars["password"].get() == ""
    assert [tab.tree.item(i, "values")[0] for i in tab.tree.get_children()] == ["sales@yandex.ru"]
    assert "добавлен" in tab.result_label.cget("text")

    tab.vars["address"].set("не адрес")
    tab.vars["host"].set("smtp.mail.ru")
    tab.add_button.invoke()
    assert "Email отправителя" in tab.result_label.cget("text")
    assert len(list_mailboxes(session.conn)) == 1

    tab.tree.selection_set(str(mailbox_id))
    tab.remove_button.invoke()
    assert list_mailboxes(session.conn) == [] and tab.tree.get_children() == ()


def test_the_email_tab_holds_the_imap_server_and_checks_its_login_too(
    session, starttls_server, imap_server, trust_test_ca
):
    from avtoprokat_mail.storage.settings import load_imap_settings

    window = open_settings(session)
    tab = window.email_tab
    tab.preset_var.set("Яндекс")
    pump(session.root)
    assert (tab.imap_host_var.get(), tab.imap_port_var.get()) == ("imap.yandex.ru", "993")

    fill_email(tab, starttls_server.settings(Security.STARTTLS, auth=True), PASSWORD)
    tab.imap_host_var.set(imap_server.host)
    tab.imap_port_var.set(str(imap_server.port))
    tab.check_button.invoke()
    text = wait_for_result(window, tab.result_label)
    assert "установлено" in text  # SMTP
    assert f"IMAP-сервер {imap_server.host} не принял логин" in text  # the SMTP password: wrong

    window.save_button.invoke()
    pump(session.root)
    stored = load_imap_settings(session.conn)
    assert (stored.host, stored.port) == (imap_server.host, imap_server.port)
