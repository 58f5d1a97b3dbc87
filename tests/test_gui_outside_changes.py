"""The window "Клиенты" follows changes another program makes to its database.

The other program is the command line run in-process (its own connection, as a second
process has) or a plain second sqlite3 connection. The window notices on <FocusIn> and
every few seconds; the interval is shortened here so the tests do not wait.
"""

from __future__ import annotations

import sqlite3
import time

import pytest

from avtoprokat_mail.model import Client, Template
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.storage import changes
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.ui import clients_window
from avtoprokat_mail.ui.client_form import ClientForm
from avtoprokat_mail.ui.dialogs import open_dialog
from tests.gui_helpers import (
    Session,
    answer_next_dialog,
    marked_in_db,
    pump,
    row_of,
    seed_clients,
    shown_surnames,
    status,
    toplevels_of,
)

SEED = [
    Client(surname="Иванов", name="Иван", email="ivanov@mail.ru", mobile="+79031112233"),
    Client(surname="Петрова", name="Анна", email="petrova@yandex.ru"),
    Client(surname="Сидоров", name="Пётр", email="sidorov@mail.ru"),
    Client(surname="Андреева", name="Мария", email="maria@bk.ru"),
]
NEW_CLIENT_CSV = "Фамилия;Имя;Email\r\nСмирнов;Алексей;smirnov@lada.ru\r\n"


@pytest.fixture
def session(tk_root, data_folder, gui_errors, memory_keyring, monkeypatch):
    monkeypatch.setattr(clients_window, "CHECK_INTERVAL_MS", 50)
    seed_clients(data_folder, SEED)
    s = Session(tk_root, data_folder)
    s.open()
    yield s
    s.close()


@pytest.fixture
def other(data_folder):
    """A second connection to the same file: another program."""
    conn = sqlite3.connect(database_path(data_folder), isolation_level=None)
    yield conn
    conn.close()


def focus_in(session: Session) -> None:
    """The user comes back to the window."""
    session.root.event_generate("<FocusIn>")
    pump(session.root)


def pump_until(session: Session, condition, seconds: float = 10) -> None:
    """Let Tk run (its timers included) until ``condition()`` holds."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        pump(session.root, 0.02)
    assert condition()


def marked_ids_shown(window) -> set[int]:
    """The clients the grid's check boxes say are marked."""
    return {window.table.ids[i] for i, row in enumerate(window.table.grid) if row[0]}


def start_recipients(window) -> set[int]:
    """The clients «Старт» would take (or list as skipped): the marked ones it reads."""
    plan = window.mailer.plan(Template(subject="Тема", body="Текст"))
    return {d.client_id for d in plan.recipients + plan.skipped}


def test_data_version_moves_for_other_connections_only(db, other):
    """What the window relies on: its own writes never look like somebody else's."""
    client_store.add_client(db, Client(surname="Иванов"))
    seen = changes.data_version(db), changes.clients_fingerprint(db)
    client_store.set_all_marked(db, True)  # our own write
    assert changes.data_version(db) == seen[0]
    other.execute("INSERT INTO settings (key, value) VALUES ('test.key', '1')")
    assert changes.data_version(db) != seen[0]
    assert changes.clients_fingerprint(db) == changes.clients_fingerprint(other)
    fingerprint = changes.clients_fingerprint(db)
    for sql in (
        "DELETE FROM marks",
        "INSERT INTO clients (surname) VALUES ('Петрова')",
        "UPDATE clients SET bounced = 1",
        "UPDATE clients SET opt_out = 1",
        "UPDATE clients SET name = 'Иван', updated = '2099-01-01T00:00:00'",
    ):
        other.execute(sql)
        assert changes.clients_fingerprint(db) != fingerprint, sql
        fingerprint = changes.clients_fingerprint(db)


def test_a_client_imported_by_the_command_line_appears_on_focus(session, cli, tmp_path):
    window = session.window
    source = tmp_path / "new.csv"
    source.write_text(NEW_CLIENT_CSV, encoding="utf-8")
    assert cli("clients", "import", str(source))[0] == 0
    assert "Смирнов" not in shown_surnames(window)  # nothing has told the window yet

    focus_in(session)

    assert "Смирнов" in shown_surnames(window)
    assert status(window) == "показано 5 из 5, отмечено 0"


def test_marks_set_by_the_command_line_reach_the_status_and_start(session, cli):
    window = session.window
    reloads = window.reloads
    ids = sorted(c.id for c in client_store.list_clients(session.conn))
    assert cli("clients", "mark", "--ids", f"{ids[0]},{ids[2]}")[0] == 0

    pump_until(session, lambda: window.reloads > reloads)  # the periodic check, no focus

    assert status(window) == "показано 4 из 4, отмечено 2"
    assert marked_ids_shown(window) == {ids[0], ids[2]} == start_recipients(window)
    assert {window.table.grid[window.table.index_of(i)][1] for i in ids[:3:2]} == marked_in_db(
        session.conn
    )

    assert cli("clients", "mark", "--invert")[0] == 0
    focus_in(session)
    assert status(window) == "показано 4 из 4, отмечено 2"
    assert marked_ids_shown(window) == {ids[1], ids[3]} == start_recipients(window)


def test_a_client_deleted_elsewhere_leaves_the_grid(session, other):
    window = session.window
    other.execute("INSERT INTO marks (client_id) SELECT id FROM clients")
    other.execute("DELETE FROM clients WHERE surname = 'Петрова'")

    focus_in(session)

    assert sorted(shown_surnames(window)) == ["Андреева", "Иванов", "Сидоров"]
    assert status(window) == "показано 3 из 3, отмечено 3"
    assert marked_ids_shown(window) == start_recipients(window)
    assert set(shown_surnames(window)) == marked_in_db(session.conn)


def test_a_client_edited_elsewhere_shows_the_new_values(session, other):
    window = session.window
    other.execute(
        "UPDATE clients SET email = 'ivanov@new.ru', updated = '2099-01-01T00:00:00' "
        "WHERE surname = 'Иванов'"
    )
    focus_in(session)
    assert window.sheet.get_cell_data(window.sheet.data_r(row_of(window, "Иванов")), 5) == (
        "ivanov@new.ru"
    )


def test_sort_filter_selection_and_scroll_stay(session, other):
    window = session.window
    other.executemany(
        "INSERT INTO clients (surname, email) VALUES (?, ?)",
        [(f"Клиент {i:03d}", f"c{i}@mail.ru") for i in range(300)],
    )
    focus_in(session)
    window.client_grid.sort_by(1)
    window.client_grid.sort_by(1)  # descending
    window.filters.search_var.set("клиент")
    pump(session.root)
    chosen = window.table.ids[window.sheet.data_r(row_of(window, "Клиент 150"))]
    window.client_grid.select_client(chosen)
    window.sheet.see(row_of(window, "Клиент 120"), 0, bottom_right_corner=False,
                     check_cell_visibility=False)  # fmt: skip
    pump(session.root)
    before = window.client_grid.remember_view()
    headers = window.sheet.headers()

    other.execute("DELETE FROM clients WHERE surname IN ('Клиент 299', 'Иванов')")
    other.execute("INSERT INTO clients (surname) VALUES ('Клиент 300'), ('Клиентов')")
    focus_in(session)

    shown = shown_surnames(window)
    assert shown[:3] == ["Клиентов", "Клиент 300", "Клиент 298"]  # still descending
    assert len(shown) == 301 and all("Клиент" in s for s in shown)  # still filtered
    assert window.sheet.headers() == headers  # the sort arrow stays
    assert status(window) == "показано 301 из 304, отмечено 0"
    after = window.client_grid.remember_view()
    assert after.rows == before.rows == [chosen]
    assert window.client_grid.current_index() == window.table.index_of(chosen)
    assert after.top == before.top
    top_row = window.sheet.data_r(window.sheet.visible_rows[0] + 1)
    assert window.table.grid[top_row][1] == "Клиент 120"


def test_own_writes_do_not_reload(session):
    window = session.window
    window.client_grid.sort_by(1)
    window.client_grid.select_client(
        window.table.ids[window.sheet.data_r(row_of(window, "Петрова"))]
    )
    reloads = window.reloads
    window.buttons["Отметить все"].invoke()
    window.buttons["Инвертировать"].invoke()
    window.buttons["Отметить"].invoke()
    window.buttons["Добавить"].invoke()
    (form,) = toplevels_of(session.root, ClientForm)
    form.vars["surname"].set("Орлов")
    form.save_button.invoke()
    pump(session.root, 0.3)  # several periodic checks
    focus_in(session)
    assert window.reloads == reloads
    assert status(window) == "показано 5 из 5, отмечено 1"
    # The form's new client goes last, as always; a reload would have sorted him in.
    assert shown_surnames(window) == ["Андреева", "Иванов", "Петрова", "Сидоров", "Орлов"]


def test_changes_to_other_tables_do_not_reload(session, other):
    """A mailing run writes its journal after every message: the clients stay as they are."""
    window = session.window
    reloads = window.reloads
    other.execute("INSERT INTO settings (key, value) VALUES ('test.key', '1')")
    focus_in(session)
    pump(session.root, 0.2)
    assert window.reloads == reloads

    other.execute("INSERT INTO marks (client_id) SELECT min(id) FROM clients")
    focus_in(session)
    assert window.reloads == reloads + 1
    assert status(window) == "показано 4 из 4, отмечено 1"


def test_an_open_client_form_is_left_alone(session, other):
    window = session.window
    window.client_grid.select_client(
        window.table.ids[window.sheet.data_r(row_of(window, "Петрова"))]
    )
    form = window.records.edit_current()
    form.vars["position"].set("Директор")
    other.execute("INSERT INTO marks (client_id) SELECT id FROM clients")
    other.execute("INSERT INTO clients (surname) VALUES ('Смирнов')")

    focus_in(session)

    assert status(window) == "показано 5 из 5, отмечено 4"
    assert toplevels_of(session.root, ClientForm) == [form]
    assert form.vars["position"].get() == "Директор"
    form.save_button.invoke()
    pump(session.root)
    row = window.sheet.data_r(row_of(window, "Петрова"))
    assert window.sheet.get_cell_data(row, 3) == "Директор"
    # The form stores its own «Отмечен» box (unticked when it opened); the other marks stay.
    assert window.table.grid[row][0] is False
    assert status(window) == "показано 5 из 5, отмечено 3"
    assert marked_ids_shown(window) == start_recipients(window)


def test_a_form_saved_after_its_client_was_deleted_elsewhere(session, other):
    window = session.window
    window.client_grid.select_client(
        window.table.ids[window.sheet.data_r(row_of(window, "Петрова"))]
    )
    form = window.records.edit_current()
    other.execute("DELETE FROM clients WHERE surname = 'Петрова'")
    seen: list[str] = []
    answer_next_dialog(session.root, "OK", seen)
    form.save_button.invoke()
    pump(session.root)
    assert "изменения не записаны" in seen[0]
    assert "Петрова" not in shown_surnames(window)
    assert status(window) == "показано 3 из 3, отмечено 0"


def test_no_reload_while_a_question_waits(session, other):
    """«Удалить клиента?» is about the rows as they were when it was asked."""
    window = session.window
    window.client_grid.sort_by(1)  # Андреева, Иванов, Петрова, Сидоров
    window.client_grid.select_client(
        window.table.ids[window.sheet.data_r(row_of(window, "Петрова"))]
    )
    reloads = window.reloads

    def meanwhile() -> None:
        if open_dialog() is None:
            session.root.after(20, meanwhile)
            return
        other.execute("DELETE FROM clients WHERE surname = 'Андреева'")  # a row above
        session.root.event_generate("<FocusIn>")
        pump(session.root, 0.2)  # periodic checks too
        reloads_meanwhile.append(window.reloads - reloads)
        open_dialog().press("Да")

    reloads_meanwhile: list[int] = []

    session.root.after(20, meanwhile)
    window.buttons["Удалить"].invoke()
    pump(session.root)
    assert reloads_meanwhile == [0]
    assert {c.surname for c in client_store.list_clients(session.conn)} == {"Иванов", "Сидоров"}
    focus_in(session)
    assert shown_surnames(window) == ["Иванов", "Сидоров"]


def test_closing_the_window_stops_the_checks(session, cli):
    root = session.root
    calls: list[str] = []
    others = root.bind("<FocusIn>", lambda _e: calls.append("other"), "+")
    job = session.window._check_job
    session.close()
    root.event_generate("<FocusIn>")
    assert calls == ["other"]  # another handler of the event stays
    root.unbind("<FocusIn>", others)
    assert root.bind("<FocusIn>") == ""
    assert job not in root.tk.splitlist(root.tk.call("after", "info"))
    assert cli("clients", "mark", "--all")[0] == 0
    root.event_generate("<FocusIn>")
    pump(root, 0.2)  # a check left behind would fail on the closed connection (gui_errors)
