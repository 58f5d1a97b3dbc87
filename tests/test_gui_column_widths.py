"""Columns fit what they show, in the real windows under Xvfb, at 100 % and at twice the scaling.

Expected widths are measured here with the fonts the widgets draw with (tksheet's table and
header fonts, the Treeview style's fonts), so a column that cuts its text fails.
"""

from __future__ import annotations

import tkinter.font as tkfont
from math import ceil

import pytest

from avtoprokat_mail.credentials import PasswordStore
from avtoprokat_mail.model import (
    DELIVERY_STATUS_LABELS,
    Channel,
    Client,
    Delivery,
    DeliveryStatus,
    Route,
    Run,
    RunStatus,
)
from avtoprokat_mail.sending.lifecycle import Mailer
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import runs as run_store
from avtoprokat_mail.storage.directory import EMAIL_COLUMN, GRID_HEADERS, MOBILE_COLUMN
from avtoprokat_mail.ui.client_grid import MARK_WIDTH, ROW_HEIGHT
from avtoprokat_mail.ui.column_widths import (
    MAXIMUM,
    PADDING,
    STRETCH_MAXIMUM,
    sample,
    treeview_fonts,
)
from avtoprokat_mail.ui.progress_window import ProgressWindow
from avtoprokat_mail.ui.screen import ui_scale
from tests.gui_helpers import Session, pump, seed_clients

LONG_EMAIL = "konstantin.rozhdestvenskiy@grand-avtoprokat-moskva.ru"  # cut at a 320 px cap
LONG_NOTE = "Звонить только после обеда, договор продлевается ежегодно. " * 85  # ~5,000 chars
NOTE_COLUMN = GRID_HEADERS.index("Примечание")
ORGANIZATION_COLUMN = GRID_HEADERS.index("Наименование")
SEED = [
    Client(surname="Иванов", name="Иван", organization="ООО «Ромашка»", email=LONG_EMAIL,
           mobile="+79031112233", note=LONG_NOTE),
    Client(surname="Петрова", name="Анна", organization="АО «Вектор»", email="ap@bk.ru",
           mobile="+79161234567"),
]  # fmt: skip
NORMAL, DOUBLE = 96 / 72, 2 * 96 / 72  # ``tk scaling`` at 100 % and at 200 %


@pytest.fixture
def scaling(tk_root):
    """Set ``tk scaling`` for the test (before its windows are built); restored after."""
    before = float(tk_root.tk.call("tk", "scaling"))

    def set_scaling(value: float) -> None:
        tk_root.tk.call("tk", "scaling", value)

    yield set_scaling
    set_scaling(before)


@pytest.fixture
def open_clients(tk_root, data_folder, gui_errors):
    """Opens the client window on SEED (at the scaling in force); closes what it opened."""
    seed_clients(data_folder, SEED)
    sessions: list[Session] = []

    def open_window():
        session = Session(tk_root, data_folder)
        session.open()
        sessions.append(session)
        return session.window

    yield open_window
    for session in sessions:
        session.close()


def sheet_fonts(window) -> tuple[tkfont.Font, tkfont.Font]:
    """(header font, table font) as the sheet draws them."""
    sheet = window.sheet
    return tkfont.Font(font=sheet.header_font()), tkfont.Font(font=sheet.font())


def padded(font: tkfont.Font, text: str, factor: float) -> float:
    return font.measure(text) + PADDING * factor


def widths(window) -> list[float]:
    return window.sheet.get_column_widths()


# --- the client grid --------------------------------------------------------------------------
def test_every_header_is_shown_in_full_even_with_the_sort_arrow(open_clients, scaling):
    scaling(NORMAL)
    window = open_clients()
    header_font, _ = sheet_fonts(window)
    factor = ui_scale(window)
    for column, header in enumerate(GRID_HEADERS[1:], start=1):
        assert widths(window)[column] >= padded(header_font, header + " ▼", factor), header
    assert widths(window)[MOBILE_COLUMN] >= padded(header_font, "Сотовый телефон", factor)


def test_a_long_email_fits_and_a_long_note_is_cut_at_the_cap(open_clients, scaling):
    scaling(NORMAL)
    window = open_clients()
    _, font = sheet_fonts(window)
    factor = ui_scale(window)
    assert widths(window)[EMAIL_COLUMN] >= padded(font, LONG_EMAIL, factor)
    assert font.measure(LONG_NOTE) > 10_000
    assert widths(window)[NOTE_COLUMN] == ceil(MAXIMUM * factor)


def test_widths_follow_a_reload_but_not_the_filter(open_clients, scaling, data_folder):
    scaling(NORMAL)
    window = open_clients()
    before = widths(window)
    window.filters.search_var.set("Петрова")  # only short values shown now
    pump(window)
    assert window.shown == [window.table.ids.index(2)]
    assert widths(window) == before
    long_name = "ООО «Грузоперевозки Северо-Запад»"
    client_store.add_client(window.conn, Client(surname="Петров", organization=long_name))
    window.filters.reset()
    window.reload()
    _, font = sheet_fonts(window)
    assert widths(window)[ORGANIZATION_COLUMN] >= padded(font, long_name, ui_scale(window))
    assert widths(window)[ORGANIZATION_COLUMN] > before[ORGANIZATION_COLUMN]


def test_a_width_the_user_dragged_is_kept_after_a_reload(open_clients, scaling):
    scaling(NORMAL)
    window = open_clients()
    sheet, column = window.sheet, NOTE_COLUMN - 1
    sheet.see(0, NOTE_COLUMN)  # the next column in view too: the edge is not the sheet's edge
    sheet.redraw()  # the header's dividers are where the scrolled view has them
    fitted = widths(window)[column]
    edge = int(sheet.MT.col_positions[column + 1] - sheet.CH.canvasx(0))
    header = sheet.CH
    header.event_generate("<Motion>", x=edge, y=5)
    header.event_generate("<ButtonPress-1>", x=edge, y=5, button=1)
    header.event_generate("<B1-Motion>", x=edge + 70, y=5)
    header.event_generate("<ButtonRelease-1>", x=edge + 70, y=5, button=1)
    pump(window)
    dragged = widths(window)[column]
    assert dragged >= fitted + 60
    window.reload()
    assert widths(window)[column] == dragged


def test_everything_doubles_at_twice_the_scaling(open_clients, scaling):
    scaling(NORMAL)
    normal = widths(open_clients())
    scaling(DOUBLE)
    window = open_clients()
    factor = ui_scale(window)
    assert factor == pytest.approx(2.0, abs=0.01)
    header_font, font = sheet_fonts(window)
    double = widths(window)
    assert double[0] == 2 * MARK_WIDTH
    assert window.sheet.MT.get_default_row_height() == 2 * ROW_HEIGHT
    assert double[MOBILE_COLUMN] >= padded(header_font, "Сотовый телефон ▼", factor)
    assert double[EMAIL_COLUMN] >= padded(font, LONG_EMAIL, factor)
    assert double[NOTE_COLUMN] == ceil(MAXIMUM * factor)
    for column in range(1, len(GRID_HEADERS)):
        assert double[column] >= 1.8 * normal[column], GRID_HEADERS[column]


# --- the report of a run ----------------------------------------------------------------------
RECIPIENTS = [
    Delivery(1, "konstantin.rozhdestvenskiy@transport-logistika.ru",
             surname="Преображенский", name="Константин Ильич",
             status=DeliveryStatus.SENT,
             reply="250 2.0.0 Ok: queued as 4F5A1C2B3D; message accepted for delivery " * 3),
    Delivery(2, "ap@bk.ru", surname="Петрова", name="Анна", status=DeliveryStatus.FAILED,
             reply="550 5.1.1 Mailbox unavailable"),
]  # fmt: skip


@pytest.fixture
def report(tk_root, db, memory_keyring, gui_errors):
    """Opens the report of a finished run to RECIPIENTS (at the scaling in force)."""
    run_id = run_store.create_run(db, Run(Channel.EMAIL, Route.direct(Channel.EMAIL)), RECIPIENTS)
    run_store.set_status(db, run_id, RunStatus.FINISHED)
    opened: list[ProgressWindow] = []

    def open_report() -> ProgressWindow:
        window = ProgressWindow(tk_root, Mailer(db, PasswordStore()), run_id)
        opened.append(window)
        pump(tk_root)
        return window

    yield open_report
    for window in opened:
        window.destroy()


@pytest.mark.parametrize("scale", [NORMAL, DOUBLE])
def test_report_columns_fit_recipients_and_clients(report, scaling, scale):
    scaling(scale)
    window = report()
    tree = window.report.tree
    factor = ui_scale(tree)
    heading_font, font = treeview_fonts(tree)
    assert len(tree.get_children()) == len(RECIPIENTS)
    longest = RECIPIENTS[0]
    assert tree.column("recipient", "width") >= padded(font, longest.recipient, factor)
    assert tree.column("name", "width") >= padded(font, longest.display_name, factor)
    for d in RECIPIENTS:
        status = DELIVERY_STATUS_LABELS[d.status]
        assert tree.column("status", "width") >= padded(font, status, factor)
    for column in tree["columns"]:
        assert tree.column(column, "width") >= padded(heading_font, tree.heading(column, "text"),
                                                      factor)  # fmt: skip


def test_the_server_reply_takes_the_rest_but_starts_modest(report, scaling):
    scaling(NORMAL)
    window = report()
    tree = window.report.tree
    stretching = [c for c in tree["columns"] if tree.column(c, "stretch")]
    assert stretching == ["reply"]
    assert tree.column("reply", "width") <= ceil(STRETCH_MAXIMUM * ui_scale(tree)) + 1
    # The window made wider: the reply column, and only it, gets the room.
    others = {c: tree.column(c, "width") for c in tree["columns"] if c != "reply"}
    reply = tree.column("reply", "width")
    window.geometry(f"{window.winfo_width() + 300}x{window.winfo_height()}")
    pump(window, 0.2)
    assert tree.column("reply", "width") > reply
    assert {c: tree.column(c, "width") for c in others} == others


# --- the sample ---------------------------------------------------------------------------------
def test_the_sample_is_the_first_rows_and_an_even_spread():
    picked = sample(range(100_000))
    assert picked[:200] == list(range(200))
    assert 350 <= len(picked) <= 401
    assert picked[-1] >= 99_000  # the end of the list is looked at too
    assert sample(range(50)) == list(range(50))
