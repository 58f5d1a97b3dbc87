"""The main window "Клиенты" driven as a user drives it, under Xvfb, on a real database."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from avtoprokat_mail.model import Client, ClientNotes
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import open_database
from avtoprokat_mail.storage.directory import (
    CONSENT_COLUMN,
    EMAIL_COLUMN,
    GRID_HEADERS,
    MOBILE_COLUMN,
    OptOut,
)
from avtoprokat_mail.ui.client_form import ClientForm
from avtoprokat_mail.ui.client_grid import BAD_CELL_BG, BOUNCED_CELL_BG
from tests.gui_helpers import (
    Session,
    answer_next_dialog,
    click,
    click_cell,
    marked_in_db,
    pump,
    row_of,
    seed_clients,
    shown_surnames,
    status,
    toplevels_of,
)

SEED = [
    Client(surname="Иванов", name="Иван Петрович", organization="ООО «Ромашка»",
           email="ivanov@mail.ru", mobile="+79031112233", consent="2024-05-14"),
    Client(surname="Петрова", name="Анна Сергеевна", organization="АО «Вектор»",
           email="petrova@yandex.ru", mobile="+79161234567", bounced=True),  # mail comes back
    Client(surname="Ёлкин", name="Олег Ильич", organization="ООО «Ромашка»",
           email="elkin@mail", mobile="8 (926) 555-44",  # the mobile is two digits short
           bounced=True),
    Client(surname="Сидоров", name="Пётр", organization="", email="", mobile="",
           phone="+7 (495) 111-22-33", opt_out=True),
    Client(surname="Андреева", name="Мария", organization="ИП Андреева",
           email="maria@bk.ru", mobile="+79990001122", consent="2023-01-02"),
]  # fmt: skip


@pytest.fixture
def session(tk_root, data_folder, gui_errors):
    seed_clients(data_folder, SEED)
    s = Session(tk_root, data_folder)
    s.open()
    yield s
    s.close()


def test_opens_with_all_clients_and_status(session):
    window = session.window
    assert sorted(shown_surnames(window)) == sorted(c.surname for c in SEED)
    assert status(window) == "показано 5 из 5, отмечено 0"
    menu_labels = {
        session.root.nametowidget(session.root["menu"]).entrycget(i, "label") for i in range(1, 4)
    }
    assert menu_labels == {"Файл", "Рассылка", "Справка"}
    assert window.menus["Рассылка"].entrycget(0, "label") == "Сообщения email рассылки…"


def test_bad_email_and_mobile_cells_are_flagged(session):
    window = session.window
    highlights = window.sheet.get_cell_options(key="highlight")
    elkin = window.table.index_of(window.table.ids[window.sheet.data_r(row_of(window, "Ёлкин"))])
    assert highlights[(elkin, EMAIL_COLUMN)][0] == BAD_CELL_BG
    assert highlights[(elkin, MOBILE_COLUMN)][0] == BAD_CELL_BG
    ivanov = window.sheet.data_r(row_of(window, "Иванов"))
    assert (ivanov, EMAIL_COLUMN) not in highlights


def test_add_client_through_form_and_restart(session):
    window = session.window
    window.buttons["Добавить"].invoke()
    (form,) = toplevels_of(session.root, ClientForm)
    form.entries["surname"].insert(0, "Смирнов")
    form.entries["name"].insert(0, "Алексей Викторович")
    form.entries["position"].insert(0, "Главный бухгалтер")
    form.entries["organization"].insert(0, "ООО «Лада-Сервис»")
    form.entries["email"].insert(0, "smirnov@lada-service.ru")
    form.entries["mobile"].insert(0, "8 (903) 765-43-21")
    seen: list[str] = []
    answer_next_dialog(session.root, "Да", seen)
    form.save_button.invoke()
    pump(session.root)
    assert "Записать его как +79037654321?" in seen[0]
    assert not toplevels_of(session.root, ClientForm)
    assert "Смирнов" in shown_surnames(window)
    assert status(window) == "показано 6 из 6, отмечено 0"

    window = session.restart()
    assert "Смирнов" in shown_surnames(window)
    stored = next(c for c in client_store.list_clients(session.conn) if c.surname == "Смирнов")
    assert stored.mobile == "+79037654321"
    assert stored.organization == "ООО «Лада-Сервис»"


def test_form_refuses_bad_email_and_keeps_the_form_open(session):
    session.window.buttons["Добавить"].invoke()
    (form,) = toplevels_of(session.root, ClientForm)
    form.entries["surname"].insert(0, "Орлов")
    form.entries["email"].insert(0, "orlov@@mail.ru")
    form.save_button.invoke()
    pump(session.root)
    assert toplevels_of(session.root, ClientForm) == [form]
    assert "неверный email" in form.error_label.cget("text")
    assert "Орлов" not in {c.surname for c in client_store.list_clients(session.conn)}
    form.entries["email"].delete(0, "end")
    form.entries["email"].insert(0, "orlov@mail.ru")
    form.save_button.invoke()
    pump(session.root)
    assert "Орлов" in shown_surnames(session.window)


def test_edit_by_double_click_changes_the_record(session):
    window = session.window
    row = row_of(window, "Петрова")
    click_cell(window, row, 2)
    click_cell(window, row, 2)  # the second quick click is a double-click for Tk
    (form,) = toplevels_of(session.root, ClientForm)
    assert form.vars["email"].get() == "petrova@yandex.ru"
    form.vars["position"].set("Директор")
    form.save_button.invoke()
    pump(session.root)
    shown_row = window.sheet.data_r(row_of(window, "Петрова"))
    assert window.sheet.get_cell_data(shown_row, 3) == "Директор"
    stored = {c.surname: c.position for c in client_store.list_clients(session.conn)}
    assert stored["Петрова"] == "Директор"


def test_mark_by_click_button_and_space_persist(session):
    window = session.window
    click_cell(window, row_of(window, "Иванов"), 0)  # the check cell
    assert marked_in_db(session.conn) == {"Иванов"}
    assert status(window).endswith("отмечено 1")

    click_cell(window, row_of(window, "Петрова"), 1)  # select a row, then the button
    window.buttons["Отметить"].invoke()
    assert marked_in_db(session.conn) == {"Иванов", "Петрова"}

    click_cell(window, row_of(window, "Андреева"), 2)  # select, then Space
    window.sheet.MT.focus_force()
    window.sheet.MT.event_generate("<space>")
    pump(session.root)
    assert marked_in_db(session.conn) == {"Иванов", "Петрова", "Андреева"}
    window.sheet.MT.event_generate("<space>")  # Space again unmarks
    pump(session.root)
    assert marked_in_db(session.conn) == {"Иванов", "Петрова"}

    window = session.restart()
    assert status(window) == "показано 5 из 5, отмечено 2"
    grid_marks = {row[1] for row in window.sheet.get_sheet_data() if row[0]}
    assert grid_marks == {"Иванов", "Петрова"}


def test_mark_all_unmark_all_invert_and_mark_shown(session):
    window = session.window
    everyone = {c.surname for c in SEED}
    window.buttons["Отметить все"].invoke()
    assert marked_in_db(session.conn) == everyone
    assert status(window) == "показано 5 из 5, отмечено 5"
    window.buttons["Снять все"].invoke()
    assert marked_in_db(session.conn) == set()
    click_cell(window, row_of(window, "Иванов"), 0)
    window.buttons["Инвертировать"].invoke()
    assert marked_in_db(session.conn) == everyone - {"Иванов"}
    window.buttons["Снять все"].invoke()

    window.filters.search_entry.insert(0, "ромашка")
    pump(session.root)
    window.buttons["Отметить показанные"].invoke()
    assert marked_in_db(session.conn) == {"Иванов", "Ёлкин"}
    assert status(window) == "показано 2 из 5, отмечено 2"
    window = session.restart()
    assert {row[1] for row in window.sheet.get_sheet_data() if row[0]} == {"Иванов", "Ёлкин"}


def test_search_filters_as_you_type(session):
    window = session.window
    for char in "петр":
        window.filters.search_entry.insert("end", char)
        pump(session.root)
    # "петр" matches Петрова, Иван Петрович (name) and Пётр (ё folded to е).
    assert sorted(shown_surnames(window)) == ["Иванов", "Петрова", "Сидоров"]
    assert status(window) == "показано 3 из 5, отмечено 0"
    window.filters.search_entry.insert("end", "ова")
    pump(session.root)
    assert shown_surnames(window) == ["Петрова"]
    window.filters.search_entry.focus_force()
    pump(session.root)
    window.filters.search_entry.event_generate("<Escape>")
    pump(session.root)
    assert len(shown_surnames(window)) == 5


def test_field_filters(session):
    window = session.window
    window.filters.organization_var.set("ООО «Ромашка»")
    pump(session.root)
    assert sorted(shown_surnames(window)) == ["Ёлкин", "Иванов"]
    window.filters.has_email_var.set(True)  # Ёлкин's email is invalid
    pump(session.root)
    assert shown_surnames(window) == ["Иванов"]
    window.filters.reset()
    window.filters.has_mobile_var.set(True)
    pump(session.root)
    assert sorted(shown_surnames(window)) == ["Андреева", "Иванов", "Петрова"]
    window.filters.reset()
    window.filters.opt_out_var.set(OptOut.ONLY.value)
    pump(session.root)
    assert shown_surnames(window) == ["Сидоров"]
    window.filters.opt_out_var.set(OptOut.EXCLUDE.value)
    pump(session.root)
    assert "Сидоров" not in shown_surnames(window)
    window.filters.reset()
    click_cell(window, row_of(window, "Андреева"), 0)
    window.filters.marked_only_var.set(True)
    pump(session.root)
    assert shown_surnames(window) == ["Андреева"]
    assert status(window) == "показано 1 из 5, отмечено 1"
    click_cell(window, 0, 0)  # unchecked under "only marked": the row leaves the view
    assert shown_surnames(window) == []
    assert status(window) == "показано 0 из 5, отмечено 0"


def test_sort_by_header_click(session):
    window = session.window
    sheet = window.sheet
    x = int(sheet.MT.col_positions[1] + 20)
    click(sheet.CH, x, 10)
    pump(session.root)
    assert shown_surnames(window) == ["Андреева", "Ёлкин", "Иванов", "Петрова", "Сидоров"]
    assert sheet.headers()[1] == GRID_HEADERS[1] + " ▲"
    click(sheet.CH, x, 10)
    pump(session.root)
    assert shown_surnames(window) == ["Сидоров", "Петрова", "Иванов", "Ёлкин", "Андреева"]
    # Marks follow their clients through a sort.
    click_cell(window, row_of(window, "Петрова"), 0)
    click(sheet.CH, x, 10)
    pump(session.root)
    assert marked_in_db(session.conn) == {"Петрова"}
    assert [row[1] for row in sheet.get_sheet_data() if row[0]] == ["Петрова"]


def test_delete_asks_first(session):
    window = session.window
    click_cell(window, row_of(window, "Сидоров"), 1)
    seen: list[str] = []
    answer_next_dialog(session.root, "Нет", seen)
    window.buttons["Удалить"].invoke()
    pump(session.root)
    assert "Удалить клиента «Сидоров Пётр»?" in seen[0]
    assert "Сидоров" in shown_surnames(window)
    answer_next_dialog(session.root, "Да")
    window.buttons["Удалить"].invoke()
    pump(session.root)
    assert "Сидоров" not in shown_surnames(window)
    assert "Сидоров" not in {c.surname for c in client_store.list_clients(session.conn)}
    assert status(window) == "показано 4 из 4, отмечено 0"


# --- consent and bounces ------------------------------------------------------------------------
def cell(window, surname: str, column: int) -> str:
    return window.sheet.get_cell_data(window.sheet.data_r(row_of(window, surname)), column)


def open_form_of(session, surname: str) -> ClientForm:
    """Select the client's row, then «Изменить»."""
    click_cell(session.window, row_of(session.window, surname), 1)
    session.window.buttons["Изменить"].invoke()
    pump(session.root)
    (form,) = toplevels_of(session.root, ClientForm)
    return form


def test_consent_column_shows_the_day_and_sorts_by_date(session):
    window = session.window
    assert window.sheet.headers()[CONSENT_COLUMN] == "Согласие"
    assert cell(window, "Иванов", CONSENT_COLUMN) == "14.05.2024"
    assert cell(window, "Андреева", CONSENT_COLUMN) == "02.01.2023"
    assert cell(window, "Петрова", CONSENT_COLUMN) == ""
    sheet = window.sheet
    sheet.see(0, CONSENT_COLUMN)
    pump(session.root)
    x = int(sheet.MT.col_positions[CONSENT_COLUMN] + 20 - sheet.MT.canvasx(0))
    click(sheet.CH, x, 10)
    pump(session.root)
    assert shown_surnames(window)[:2] == ["Андреева", "Иванов"]  # by date, not by the text


def test_a_bounced_email_has_its_own_colour(session):
    window = session.window
    highlights = window.sheet.get_cell_options(key="highlight")
    petrova = window.sheet.data_r(row_of(window, "Петрова"))
    elkin = window.sheet.data_r(row_of(window, "Ёлкин"))
    ivanov = window.sheet.data_r(row_of(window, "Иванов"))
    assert BOUNCED_CELL_BG != BAD_CELL_BG
    assert highlights[(petrova, EMAIL_COLUMN)][0] == BOUNCED_CELL_BG
    assert (petrova, MOBILE_COLUMN) not in highlights
    assert highlights[(elkin, EMAIL_COLUMN)][0] == BAD_CELL_BG  # invalid first: pink
    assert (ivanov, EMAIL_COLUMN) not in highlights
    legend = window.status_label.master.winfo_children()[-1]
    texts = [label.cget("text") for label in legend.winfo_children()]
    assert any("оранжевым" in text and "не доставляются" in text for text in texts)


def test_undelivered_filter_shows_only_bounced_clients(session):
    window = session.window
    (box,) = [
        widget
        for frame in window.filters.winfo_children()
        for widget in frame.winfo_children()
        if widget.winfo_class() == "TCheckbutton" and widget.cget("text") == "Недоставленные"
    ]
    box.invoke()
    pump(session.root)
    assert sorted(shown_surnames(window)) == ["Ёлкин", "Петрова"]
    assert status(window) == "показано 2 из 5, отмечено 0"
    window.filters.search_entry.insert(0, "анна")
    pump(session.root)
    assert shown_surnames(window) == ["Петрова"]
    window.filters.reset()
    assert len(shown_surnames(window)) == 5


def test_form_saves_the_consent_day_and_refuses_what_is_no_date(session):
    form = open_form_of(session, "Сидоров")
    assert form.vars["consent"].get() == ""
    form.entries["consent"].insert(0, "31.02.2024")
    form.save_button.invoke()
    pump(session.root)
    assert toplevels_of(session.root, ClientForm) == [form]
    assert "Согласие на рассылку: «31.02.2024» — не дата" in form.error_label.cget("text")
    form.today_button.invoke()
    assert form.vars["consent"].get() == dt.date.today().strftime("%d.%m.%Y")
    form.entries["consent"].delete(0, "end")
    form.entries["consent"].insert(0, "01.02.2024")
    form.save_button.invoke()
    pump(session.root)
    assert not toplevels_of(session.root, ClientForm)
    stored = {c.surname: c.consent for c in client_store.list_clients(session.conn)}
    assert stored["Сидоров"] == "2024-02-01"
    assert cell(session.window, "Сидоров", CONSENT_COLUMN) == "01.02.2024"

    form = open_form_of(session, "Иванов")
    assert form.vars["consent"].get() == "14.05.2024"
    form.entries["consent"].delete(0, "end")  # the consent withdrawn
    form.save_button.invoke()
    pump(session.root)
    stored = {c.surname: c.consent for c in client_store.list_clients(session.conn)}
    assert stored["Иванов"] == ""


def test_form_shows_what_the_mailbox_said(session):
    ids = {c.surname: c.id for c in client_store.list_clients(session.conn)}
    client_store.write_notes(session.conn, [
        (ids["Петрова"], ClientNotes(bounce_reason="550 5.1.1 User unknown",
                                     bounce_date="2025-03-01")),
        (ids["Сидоров"], ClientNotes(opt_out_date="2025-02-01",
                                     opt_out_source="ответ на письмо")),
    ])  # fmt: skip
    form = open_form_of(session, "Петрова")
    assert form.bounce_label.cget("text") == (
        "Адрес не доставляется с 01.03.2025: 550 5.1.1 User unknown"
    )
    assert form.bounce_label.winfo_manager() == "grid"
    assert form.opt_out_label.winfo_manager() == ""  # nothing to say: no line
    form.destroy()

    form = open_form_of(session, "Сидоров")
    assert form.opt_out_label.cget("text") == "Отказ от рассылки с 01.02.2025 (ответ на письмо)"
    assert form.opt_out_label.winfo_manager() == "grid"
    assert form.bounce_label.winfo_manager() == ""
    form.destroy()

    form = open_form_of(session, "Иванов")
    assert form.bounce_label.winfo_manager() == form.opt_out_label.winfo_manager() == ""


def test_a_new_email_in_the_form_is_a_fresh_start(session):
    form = open_form_of(session, "Петрова")
    form.entries["email"].delete(0, "end")
    form.entries["email"].insert(0, "anna.petrova@yandex.ru")
    form.save_button.invoke()
    pump(session.root)
    window = session.window
    stored = {c.surname: c.bounced for c in client_store.list_clients(session.conn)}
    assert (stored["Петрова"], stored["Ёлкин"]) == (False, True)
    highlights = window.sheet.get_cell_options(key="highlight")
    assert (window.sheet.data_r(row_of(window, "Петрова")), EMAIL_COLUMN) not in highlights


def test_smoke_option_builds_the_window_and_exits_zero(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "avtoprokat_mail", "--data-dir", str(tmp_path), "--smoke"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert database_path(tmp_path).exists()


def test_damaged_database_is_explained_at_start_without_traceback(tmp_path):
    database_path(tmp_path).write_bytes(b"not a database, just some bytes" * 100)
    result = subprocess.run(
        [sys.executable, "-m", "avtoprokat_mail", "--data-dir", str(tmp_path), "--smoke"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "повреждён" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_demo_option_fills_the_window(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "avtoprokat_mail", "--data-dir", str(tmp_path), "--demo", "--smoke"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    conn = open_database(database_path(tmp_path))
    try:
        total, marked = client_store.counts(conn)
    finally:
        conn.close()
    assert total >= 200 and 0 < marked < total


def test_cancel_of_an_edited_client_form_asks_first(session):
    from tests.gui_helpers import no_dialog_expected

    session.window.records.add()
    pump(session.root)
    (form,) = toplevels_of(session.root, ClientForm)
    with no_dialog_expected(session.root):  # nothing typed yet: it just closes
        form.cancel_button.invoke()
    assert not form.winfo_exists()
    session.window.records.add()
    pump(session.root)
    (form,) = toplevels_of(session.root, ClientForm)
    form.vars["surname"].set("Новиков")
    seen: list[str] = []
    answer_next_dialog(session.root, "Отмена", seen)
    form.event_generate("<Escape>")
    assert seen == ["Карточка клиента изменена. Сохранить изменения?"]
    assert form.winfo_exists()
    answer_next_dialog(session.root, "Да")
    form.cancel_button.invoke()
    pump(session.root)
    assert not form.winfo_exists()
    assert "Новиков" in shown_surnames(session.window)
