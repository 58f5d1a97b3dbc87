"""Every window on an office laptop's screen: 1366×768, about 728 px above the taskbar.

Each window is opened the way a user opens it, on the 1366×768 screen the GUI tests run on,
and measured: the window lies inside the screen with room for its title bar above the
taskbar, and every button it shows is drawn inside the window and the screen. Long content
(a dozen bad addresses, a long error, a large scaling) scrolls instead of growing the window.
"""

from __future__ import annotations

import tkinter as tk

import pytest
import ttkbootstrap as ttk

from avtoprokat_mail.credentials import PasswordStore, sms_account
from avtoprokat_mail.model import Client, SmsProvider, Template
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import open_database
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.storage.settings import read_all, save_sms_settings
from avtoprokat_mail.ui import dialogs
from avtoprokat_mail.ui.about import show_about
from avtoprokat_mail.ui.client_form import ClientForm
from avtoprokat_mail.ui.import_dialog import ImportPreview
from avtoprokat_mail.ui.mailing_window import MailingWindow
from avtoprokat_mail.ui.progress_window import ProgressWindow
from avtoprokat_mail.ui.screen import ScrollArea
from avtoprokat_mail.ui.settings_window import SettingsWindow
from avtoprokat_mail.ui.start_dialog import StartDialog
from avtoprokat_mail.ui.template_form import TemplateForm
from tests.gui_helpers import Session, close_windows, pump, toplevels_of
from tests.sms_gateways import SMSRU_API_ID, FakeGateway

SCREEN_WIDTH, USABLE_HEIGHT = 1366, 728  # a 768-pixel screen less a 40-pixel taskbar
TITLE_BAR = 30  # what Windows adds above a window's inside at 100 %
BAD_ADDRESSES = 12
WINDOWS = (ProgressWindow, StartDialog, TemplateForm, SettingsWindow, ClientForm, ImportPreview,
           MailingWindow)  # fmt: skip


@pytest.fixture
def session(tk_root, data_folder, gui_errors, memory_keyring):
    assert (tk_root.winfo_screenwidth(), tk_root.winfo_screenheight()) == (1366, 768)
    conn = open_database(database_path(data_folder))
    for i in range(20):
        client_store.add_client(conn, Client(surname=f"Клиентов{i}", name="Пётр Ильич",
                                             email=f"client{i}@avtoprokat-test.ru",
                                             mobile=f"+7926{i:07d}", marked=True))  # fmt: skip
    for i in range(BAD_ADDRESSES):
        client_store.add_client(conn, Client(
            surname=f"Длиннофамильный-Неправильноадресов{i}", name="Константин Константинович",
            email=f"очень.длинный.неправильный.адрес.номер{i}@@example", marked=True,
        ))  # fmt: skip
    client_store.add_client(conn, Client(surname="Безадресный", marked=True))
    template_store.add_template(conn, Template(subject="Скидка для %Наименование%",
                                               body="Здравствуйте, %Имя%!\n" * 30))  # fmt: skip
    template_store.add_template(conn, Template(sms=True, body="%Имя%, ждём вас в прокате!"))
    conn.close()
    s = Session(tk_root, data_folder)
    s.open()
    yield s
    close_windows(tk_root, WINDOWS)
    s.close()


def outer_rect(window: tk.Misc) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the window's inside, in screen pixels."""
    window.update_idletasks()
    x, y = window.winfo_rootx(), window.winfo_rooty()
    return x, y, x + window.winfo_width(), y + window.winfo_height()


def assert_fits(window: tk.Misc) -> None:
    """The window, its title bar included, lies on the usable part of the screen."""
    pump(window, 0.1)
    left, top, right, bottom = outer_rect(window)
    assert left >= 0 and right <= SCREEN_WIDTH, (window, left, right)
    assert top >= 0 and bottom + TITLE_BAR <= USABLE_HEIGHT, (window, top, bottom)
    assert window.winfo_width() >= window.wm_minsize()[0] - 1


def _in_scroll_area(widget: tk.Misc) -> bool:
    parent = widget.master
    while parent is not None:
        if isinstance(parent, ScrollArea):
            return True
        parent = parent.master
    return False


def _on_hidden_tab(widget: tk.Misc) -> bool:
    parent, child = widget.master, widget
    while parent is not None:
        if isinstance(parent, ttk.Notebook) and parent.select() != str(child):
            return True
        parent, child = parent.master, parent
    return False


def buttons_of(window: tk.Misc) -> list[ttk.Button]:
    """Every button the window lays out for the user to press now."""
    found = []
    stack = list(window.winfo_children())
    while stack:
        widget = stack.pop()
        if isinstance(widget, tk.Toplevel):
            continue  # a window of its own, measured on its own
        stack.extend(widget.winfo_children())
        if isinstance(widget, ttk.Button) and widget.winfo_manager() and widget.cget("text"):
            found.append(widget)
    return found


def assert_buttons_visible(window: tk.Misc) -> list[str]:
    """Each button is drawn whole inside the window; one in a scrolled part can be scrolled
    to. Returns the texts of the buttons that are in view."""
    left, top, right, bottom = outer_rect(window)
    shown = []
    for button in buttons_of(window):
        if _on_hidden_tab(button):
            continue
        if _in_scroll_area(button):
            continue  # in the scrolled part: reachable by scrolling, checked where it matters
        assert button.winfo_ismapped(), button.cget("text")
        x, y = button.winfo_rootx(), button.winfo_rooty()
        assert left <= x and x + button.winfo_width() <= right, button.cget("text")
        assert top <= y and y + button.winfo_height() <= bottom, button.cget("text")
        assert button.winfo_width() >= button.winfo_reqwidth() - 2, button.cget("text")
        shown.append(str(button.cget("text")))
    return shown


def select_template(mailing: MailingWindow, *, sms: bool) -> None:
    for item in mailing.tree.get_children():
        if mailing.templates[item].sms is sms:
            mailing.tree.selection_set(item)
            return
    raise AssertionError("no such template")


# --- the windows -------------------------------------------------------------------------------
def test_main_and_mailing_windows_fit_and_the_mailing_window_does_not_cover_the_main_one(
    session,
):
    root = session.root
    assert_fits(root)
    assert {"Добавить", "Изменить", "Удалить"} <= set(assert_buttons_visible(root))
    mailing = session.window.open_mailing()
    assert_fits(mailing)
    assert {"Старт", "Параметры", "Отчёт…"} <= set(assert_buttons_visible(mailing))
    assert mailing.wm_transient() == ""  # the main window can be brought in front of it


def test_template_form_fits_scrolls_and_keeps_its_size_after_an_error(session):
    mailing = session.window.open_mailing()
    select_template(mailing, sms=False)
    form = mailing.edit_selected()
    assert_fits(form)
    assert {"Сохранить", "Отмена"} <= set(assert_buttons_visible(form))
    size = (form.winfo_width(), form.winfo_height())
    form.subject_var.set("")  # «Сохранить» with an error: the message must not grow the window
    form.save_button.invoke()
    pump(form, 0.1)
    assert "Укажите тему" in form.message_label.cget("text")
    assert (form.winfo_width(), form.winfo_height()) == size
    assert {"Сохранить", "Отмена"} <= set(assert_buttons_visible(form))
    form.geometry(f"{form.winfo_width()}x420")  # made short: the fields scroll, buttons stay
    pump(form, 0.1)
    assert form.scroll.scrolls
    assert {"Сохранить", "Отмена"} <= set(assert_buttons_visible(form))
    form.destroy()


def test_settings_fit_on_both_tabs(session):
    mailing = session.window.open_mailing()
    settings = mailing.settings()
    for tab in (settings.email_tab, settings.mailboxes_tab, settings.sms_tab):
        settings.show_tab(tab)
        assert_fits(settings)
        assert {"Сохранить", "Отмена"} <= set(assert_buttons_visible(settings))
    settings.show_tab(settings.email_tab)
    settings.email_tab.page.canvas.yview_moveto(1.0)  # the last field can be scrolled to
    pump(settings, 0.1)
    check = settings.email_tab.check_button
    assert check.winfo_rooty() + check.winfo_height() <= outer_rect(settings)[3]
    settings.destroy()


def test_start_summary_groups_skip_reasons_and_fits(session):
    mailing = session.window.open_mailing()
    select_template(mailing, sms=False)
    start = mailing.start()
    assert_fits(start)
    assert {"Начать рассылку", "Отмена"} <= set(assert_buttons_visible(start))
    text = start.skipped_label.cget("text")
    assert f"Пропущено: {BAD_ADDRESSES + 1}" in text
    assert f"неверный email — {BAD_ADDRESSES}" in text and "нет email — 1" in text
    assert "@@example" not in text  # each address is in the table, not in the summary line
    tree = start.skipped_tree
    assert len(tree.get_children()) == BAD_ADDRESSES + 1
    tree.selection_set(tree.get_children()[0])
    pump(start, 0.1)
    detail = start.skipped_detail.cget("text")
    assert "Длиннофамильный-Неправильноадресов0 Константин Константинович" in detail
    assert "очень.длинный.неправильный.адрес.номер0@@example" in detail
    start.destroy()


def test_sms_start_summary_names_no_environment_variable(session, tk_root):
    with FakeGateway(balance="150") as fake:
        settings = fake.settings(SmsProvider.SMSRU)
        save_sms_settings(session.conn, settings)
        mailing = session.window.open_mailing()
        select_template(mailing, sms=True)
        start = mailing.start()
        pump(start, 0.3)
        assert_fits(start)
        cost = start.cost_label.cget("text")
        assert "Стоимость не известна" in cost and "Параметры" in cost
        assert "AVTOPROKAT" not in cost and "PASSWORD" not in cost
        start.destroy()
        PasswordStore().set(sms_account(settings), SMSRU_API_ID)
        start = mailing.start()
        for _ in range(100):
            pump(start, 0.05)
            if "спрашиваю" not in start.cost_label.cget("text"):
                break
        assert "Стоимость" in start.cost_label.cget("text")
        assert "AVTOPROKAT" not in start.cost_label.cget("text")
        assert {"Начать рассылку", "Отмена"} <= set(assert_buttons_visible(start))
        start.destroy()


def test_progress_then_report_fit(session, tmp_path, monkeypatch):
    from avtoprokat_mail.ui import filedialogs

    mailing = session.window.open_mailing()
    select_template(mailing, sms=False)
    start = mailing.start()
    monkeypatch.setattr(filedialogs, "ask_directory", lambda *a, **k: str(tmp_path / "outbox"))
    start.outbox_button.invoke()
    pump(session.root, 0.1)
    (window,) = toplevels_of(session.root, ProgressWindow)
    assert window.wm_transient() == ""
    for _ in range(200):
        pump(window, 0.05)
        if window.final is not None:
            break
    assert window.final is not None
    pump(window, 0.2)
    assert_fits(window)
    shown = set(assert_buttons_visible(window))
    assert {"Закрыть", "Экспорт…", "Повторить неотправленные"} <= shown
    window.close()


def test_client_form_keeps_its_width_while_a_phone_is_typed(session):
    session.window.records.add()
    pump(session.root)
    (form,) = toplevels_of(session.root, ClientForm)
    assert_fits(form)
    width = form.winfo_width()
    save_x = form.save_button.winfo_rootx()
    for text in ("8", "8 (903) 111-22-33"):
        form.vars["mobile"].set(text)
        pump(form, 0.1)
    assert form.normalize_button.winfo_ismapped()  # «Исправить» is offered …
    assert form.winfo_width() == width  # … and the form did not widen for it
    assert form.save_button.winfo_rootx() == save_x
    assert {"Сохранить", "Отмена"} <= set(assert_buttons_visible(form))
    fix = form.normalize_button
    assert fix.winfo_rootx() + fix.winfo_width() <= form.winfo_rootx() + form.winfo_width()
    form.destroy()


def test_import_preview_with_many_rejected_rows_fits(session, tmp_path):
    rows = ["Фамилия;Имя;E-mail"] + [f"Плохой{i};Иван;bad{i}@@mail" for i in range(300)]
    source = tmp_path / "клиенты.csv"
    source.write_text("\r\n".join(rows), encoding="utf-8")
    preview = ImportPreview.start(session.window, session.conn, source, on_done=lambda: None)
    assert_fits(preview)
    assert {"Импортировать", "Отмена"} <= set(assert_buttons_visible(preview))
    preview.destroy()


@pytest.mark.parametrize(
    "open_dialog",
    [
        pytest.param(
            lambda w: dialogs.ask_password(w, "Пароль", "Пароль для office@x.ru:"), id="password"
        ),
        pytest.param(lambda w: show_about(w, w.data_folder), id="about"),
        pytest.param(lambda w: dialogs.show_error(w, "Ошибка", "Не удалось.\n" * 80), id="error"),
    ],
)
def test_dialogs_fit_and_show_their_buttons(session, open_dialog):
    measured: list[str] = []

    def measure() -> None:
        dialog = dialogs.open_dialog()
        if dialog is None:
            session.root.after(20, measure)
            return
        assert_fits(dialog)
        measured.extend(assert_buttons_visible(dialog))
        if isinstance(dialog, dialogs.PasswordDialog):
            # The field is under the question and above «OK»/«Отмена».
            entry_bottom = dialog.entry.winfo_rooty() + dialog.entry.winfo_height()
            assert dialog.message_label.winfo_rooty() < dialog.entry.winfo_rooty()
            assert entry_bottom <= dialog.buttons["OK"].winfo_rooty()
        list(dialog.buttons.values())[-1].invoke()

    session.root.after(20, measure)
    open_dialog(session.window)
    assert measured and set(measured) <= {"OK", "Отмена"}


def test_a_window_reopens_where_it_was_left_and_comes_back_on_screen(session):
    mailing = session.window.open_mailing()
    mailing.geometry("900x500+60+50")
    pump(mailing, 0.1)
    mailing.destroy()
    assert read_all(session.conn)["ui.window.mailing"].startswith("900x500+")
    mailing = session.window.open_mailing()
    pump(mailing, 0.1)
    assert (mailing.winfo_width(), mailing.winfo_height()) == (900, 500)
    assert abs(mailing.winfo_rootx() - 60) <= 20 and abs(mailing.winfo_rooty() - 50) <= 40
    mailing.destroy()
    # Saved on a bigger, second monitor that is gone now: brought back whole onto this one.
    session.conn.execute(
        "UPDATE settings SET value = '1900x1000+2400+900' WHERE key = 'ui.window.mailing'"
    )
    mailing = session.window.open_mailing()
    assert_fits(mailing)
    mailing.destroy()


def test_at_150_percent_the_forms_still_fit_and_scroll(session, tk_root):
    scaling = float(tk_root.tk.call("tk", "scaling"))
    tk_root.tk.call("tk", "scaling", 2.0)  # Windows at 150 %: 144 DPI
    try:
        mailing = session.window.open_mailing()
        select_template(mailing, sms=False)
        form = mailing.edit_selected()
        assert_fits(form)
        assert {"Сохранить", "Отмена"} <= set(assert_buttons_visible(form))
        form.destroy()
        settings = mailing.settings()
        assert_fits(settings)
        assert {"Сохранить", "Отмена"} <= set(assert_buttons_visible(settings))
        settings.destroy()
    finally:
        tk_root.tk.call("tk", "scaling", scaling)
