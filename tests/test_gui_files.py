"""Import and export from the menu «Файл» of the real window, with the preview dialog."""

from __future__ import annotations

import openpyxl
import pytest

from avtoprokat_mail.model import Client
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import open_database
from avtoprokat_mail.ui import filedialogs
from avtoprokat_mail.ui.import_dialog import ImportPreview
from tests.gui_helpers import (
    Session,
    answer_next_dialog,
    pump,
    shown_surnames,
    status,
    toplevels_of,
)

# As Excel in a Russian locale saves "CSV (разделители - запятые)": cp1251, ';', CRLF.
CSV_ROWS = [
    "Фамилия;Имя;Должность;Организация;E-mail;Мобильный;Город",
    "Козлов;Андрей Ильич;Директор;ООО «Трасса»;kozlov@trassa.ru;8 (905) 111-22-33;Тверь",
    "Иванов;Иван Петрович;Директор;ООО «Ромашка»;IVANOV@mail.ru;+79031112233;Москва",
    "Белова;Ольга;;;belova@@mail.ru;;",
    "Зуева;Нина;;;;12345;",
]


@pytest.fixture
def session(tk_root, data_folder, gui_errors):
    conn = open_database(database_path(data_folder))
    client_store.add_client(
        conn, Client(surname="Иванов", name="Иван", email="ivanov@mail.ru", marked=True)
    )
    conn.close()
    s = Session(tk_root, data_folder)
    s.open()
    yield s
    for preview in toplevels_of(tk_root, ImportPreview):
        preview.destroy()
    s.close()


@pytest.fixture
def csv_file(tmp_path):
    path = tmp_path / "клиенты.csv"
    path.write_bytes("\r\n".join(CSV_ROWS).encode("cp1251") + b"\r\n")
    return path


def choose_file(monkeypatch, path) -> None:
    """The file dialog answers as a user picking ``path`` would."""
    monkeypatch.setattr(filedialogs, "ask_open_path", lambda *a, **k: str(path))
    monkeypatch.setattr(filedialogs, "ask_save_path", lambda *a, **k: str(path))


def open_file_menu_item(session: Session, label: str) -> None:
    menu = session.window.menus["Файл"]
    index = next(i for i in range(menu.index("end") + 1) if menu.type(i) == "command"
                 and menu.entrycget(i, "label") == label)  # fmt: skip
    menu.invoke(index)
    pump(session.root)


def test_import_preview_then_cancel_writes_nothing(session, csv_file, monkeypatch):
    choose_file(monkeypatch, csv_file)
    open_file_menu_item(session, "Импорт клиентов…")
    (preview,) = toplevels_of(session.root, ImportPreview)
    assert preview.summary_label.cget("text") == (
        "Будет добавлено: 1    обновлено: 1    отклонено: 2"
    )
    assert "«Город»" in preview.ignored_label.cget("text")
    rejected = [
        preview.rejected_view.item(i, "values") for i in preview.rejected_view.get_children()
    ]
    assert [int(line) for line, _ in rejected] == [4, 5]
    assert "belova@@mail.ru" in rejected[0][1]
    assert "12345" in rejected[1][1]
    preview.cancel_button.invoke()
    pump(session.root)
    assert client_store.counts(session.conn) == (1, 1)
    assert shown_surnames(session.window) == ["Иванов"]


def test_import_writes_and_refreshes_the_grid(session, csv_file, monkeypatch):
    choose_file(monkeypatch, csv_file)
    open_file_menu_item(session, "Импорт клиентов…")
    (preview,) = toplevels_of(session.root, ImportPreview)
    preview.import_button.invoke()
    pump(session.root)
    assert preview.summary_label.cget("text").startswith("Импорт завершён: добавлено 1")
    assert sorted(shown_surnames(session.window)) == ["Иванов", "Козлов"]
    assert status(session.window) == "показано 2 из 2, отмечено 1"
    stored = {c.surname: c for c in client_store.list_clients(session.conn)}
    assert stored["Козлов"].mobile == "+79051112233"
    assert stored["Иванов"].organization == "ООО «Ромашка»"  # updated by the same email
    assert stored["Иванов"].marked  # the file has no mark column: the mark stays
    assert "ООО «Трасса»" in session.window.filters.organization_box.cget("values")


def test_import_preview_names_the_unreadable_consent(session, tmp_path, monkeypatch):
    path = tmp_path / "согласия.csv"
    rows = [
        "Фамилия;Email;Согласие на рассылку",
        "Козлов;kozlov@trassa.ru;весной",
        "Петров;petrov@mail.ru;15.03.2025",
        "Сомов;somov@mail.ru;да",
        "Орлов;orlov@mail.ru;устно",
    ]
    path.write_bytes("\r\n".join(rows).encode("cp1251") + b"\r\n")
    choose_file(monkeypatch, path)
    open_file_menu_item(session, "Импорт клиентов…")
    (preview,) = toplevels_of(session.root, ImportPreview)
    assert (
        preview.summary_label.cget("text") == "Будет добавлено: 4    обновлено: 0    отклонено: 0"
    )
    text = preview.consent_label.cget("text")
    assert "В столбце «Согласие на рассылку» не распознано" in text
    assert "«весной» (строка 2)" in text and "«устно» (строка 5)" in text
    assert "15.03.2025" not in text and "«да»" in text  # «да» only in the explanation
    assert preview.ignored_label.cget("text") == ""
    preview.import_button.invoke()
    pump(session.root)
    stored = {c.surname: c.consent for c in client_store.list_clients(session.conn)}
    assert (stored["Козлов"], stored["Петров"], stored["Орлов"]) == ("", "2025-03-15", "")
    assert stored["Сомов"]


def test_unreadable_file_is_explained(session, tmp_path, monkeypatch):
    broken = tmp_path / "клиенты.xlsx"
    broken.write_bytes(b"this is not a workbook")
    choose_file(monkeypatch, broken)
    seen: list[str] = []
    answer_next_dialog(session.root, "OK", seen)
    open_file_menu_item(session, "Импорт клиентов…")
    assert "клиенты.xlsx" in seen[0]
    assert not toplevels_of(session.root, ImportPreview)


def test_export_writes_the_shown_clients(session, tmp_path, monkeypatch):
    conn = session.conn
    client_store.add_client(conn, Client(surname="Орлова", name="Вера", email="orlova@bk.ru"))
    session.window.reload()
    session.window.filters.search_var.set("орлова")
    pump(session.root)
    target = tmp_path / "выгрузка.xlsx"
    choose_file(monkeypatch, target)
    seen: list[str] = []
    answer_next_dialog(session.root, "OK", seen)
    open_file_menu_item(session, "Экспорт клиентов…")
    assert "Выгружено клиентов: 1" in seen[0]
    sheet = openpyxl.load_workbook(target, read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("Фамилия", "Имя")
    assert [row[0] for row in rows[1:]] == ["Орлова"]


def test_about_names_the_data_folder(session):
    seen: list[str] = []
    answer_next_dialog(session.root, "OK", seen)
    session.window.menus["Справка"].invoke(0)
    assert str(session.folder) in seen[0]
