"""The client grid: a tksheet over a :class:`ClientTable`, with marks, sorting and selection."""

from __future__ import annotations

import sqlite3
import tkinter as tk
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import ttkbootstrap as ttk
from tksheet import Sheet

from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage.directory import (
    EMAIL_COLUMN,
    GRID_HEADERS,
    MARK_COLUMN,
    MOBILE_COLUMN,
    ClientTable,
)
from avtoprokat_mail.ui.column_widths import (
    ADDRESS_MAXIMUM,
    MAXIMUM,
    fit_width,
    font_of,
    sample,
)
from avtoprokat_mail.ui.screen import scaled, ui_scale

# Pixels at 100 % (96 DPI); scaled to the display's Tk scaling when the grid is built.
MARK_WIDTH = 34  # the check box column
ROW_HEIGHT = 24
SORT_ARROWS = (" ▲", " ▼")  # appended to the sorted column's header
BAD_CELL_BG = "#f8d0d4"  # pink: a value a run cannot use
BOUNCED_CELL_BG = "#fbdcb4"  # light orange: a valid email whose mail comes back undelivered


@dataclass(frozen=True)
class GridView:
    """What the user looks at, by client id, so that it survives reading the rows anew."""

    rows: list[int]  # the clients selected as whole rows
    current: tuple[int, int, str] | None  # the current cell: client id, column, tksheet's type
    top: int | None  # the client in the top visible row
    xview: float


class ClientGrid(ttk.Frame):
    """Shows the rows of ``table`` that :meth:`show` is given; stores marks as they change.

    The sheet holds ``table.grid`` itself, so sorting the table reorders the sheet. Callbacks,
    all without arguments: ``on_marks_changed`` after marks were stored, ``on_reordered``
    after a sort (the shown rows must be found again), and ``on_edit``, ``on_delete``,
    ``on_add`` for the keys, the double-click and the context menu.
    """

    def __init__(
        self,
        master: tk.Misc,
        conn: sqlite3.Connection,
        table: ClientTable,
        *,
        on_marks_changed: Callable[[], None],
        on_reordered: Callable[[], None],
        on_edit: Callable[[], object],
        on_delete: Callable[[], object],
        on_add: Callable[[], object],
    ) -> None:
        super().__init__(master)
        self.conn = conn
        self.table = table
        self.shown: list[int] = []
        self.sort_state: tuple[int, bool] | None = None
        self.on_marks_changed = on_marks_changed
        self.on_reordered = on_reordered
        self.on_edit = on_edit
        self._header_press_column: int | None = None
        self._fit_pending = True  # fit the columns to the rows when they are next shown
        self.dragged_columns: set[int] = set()  # widths the user set: kept by later fits
        self.sheet = Sheet(
            self,
            headers=list(GRID_HEADERS),
            show_row_index=False,
            default_row_height=scaled(self, ROW_HEIGHT),
            table_selected_cells_border_fg="#2c7be5",
        )
        self.sheet.change_theme("light blue", redraw=False)
        self.sheet.enable_bindings(
            "single_select",
            "drag_select",
            "row_select",
            "shift_select",
            "ctrl_select",
            "column_width_resize",
            "arrowkeys",
            "copy",
            "right_click_popup_menu",
            "rc_select",
        )
        self.sheet.set_sheet_data(table.grid, redraw=False)
        self.sheet.checkbox("A", edit_data=False, check_function=self._on_check_clicked)
        self.sheet.extra_bindings("column_width_resize", self._on_column_resized)
        self.sheet.pack(fill="both", expand=True)
        self.sheet.bind("<Double-Button-1>", self._on_double_click)
        for widget in (self.sheet.MT, self.sheet.RI, self.sheet):
            widget.bind("<space>", lambda _e: self.toggle_mark_selected() or "break")
            widget.bind("<Return>", lambda _e: on_edit())
            widget.bind("<Delete>", lambda _e: on_delete())
            widget.bind("<Insert>", lambda _e: on_add())
        # A quick second click arrives as a double-click; it must sort again, not be lost.
        for sequence in ("<ButtonPress-1>", "<Double-Button-1>"):
            self.sheet.CH.bind(sequence, self._on_header_press, add="+")
        self.sheet.CH.bind("<ButtonRelease-1>", self._on_header_release, add="+")
        self.sheet.popup_menu_add_command("Изменить…", on_edit)
        self.sheet.popup_menu_add_command("Отметить / снять отметку", self.toggle_mark_selected)
        self.sheet.popup_menu_add_command("Удалить…", on_delete)

    def destroy(self) -> None:
        # tksheet redraws on a 16 ms timer whose command dies with the sheet; left pending, it
        # fires at that command's name, which a later window's handler may have taken by then.
        if self.sheet.after_redraw_id is not None:
            self.sheet.after_cancel(self.sheet.after_redraw_id)
        super().destroy()

    # --- showing ---------------------------------------------------------------------------
    def show(self, indexes: list[int]) -> None:
        """Display exactly the rows at these data indexes, in table order.

        The first showing after the rows were read (:meth:`keep_order`) fits the columns to
        them; a filter typed afterwards does not, so columns do not jump at each keystroke.
        """
        self.shown = indexes
        if len(indexes) == len(self.table):
            self.sheet.display_rows("all", all_rows_displayed=True, redraw=False)
        else:
            self.sheet.display_rows(indexes, all_rows_displayed=False, redraw=False)
        if self._fit_pending:
            self.fit_columns()
        self.sheet.redraw()

    def fit_columns(self) -> None:
        """Fit each column to its header and a sample of the rows shown.

        Headers are measured with a sort arrow, so sorting does not cut them. A column the
        user has dragged keeps its width. Never tksheet's own fit: it measures every row.
        """
        self._fit_pending = False
        sheet = self.sheet
        factor = ui_scale(self)
        header_font, font = font_of(self, sheet.header_font()), font_of(self, sheet.font())
        grid = self.table.grid
        rows = [grid[i] for i in sample(self.shown)]
        current = sheet.get_column_widths()
        widths = [scaled(self, MARK_WIDTH)]
        for column in range(1, len(GRID_HEADERS)):
            if column in self.dragged_columns and column < len(current):
                widths.append(current[column])
                continue
            header = GRID_HEADERS[column] + SORT_ARROWS[1]
            values = (row[column] for row in rows)
            maximum = ADDRESS_MAXIMUM if column == EMAIL_COLUMN else MAXIMUM
            widths.append(
                fit_width(header_font, font, header, values, factor=factor, maximum=maximum)
            )
        sheet.set_column_widths(widths)

    def _on_column_resized(self, event: dict) -> None:
        """The user dragged a column edge: later fits keep that width."""
        for column in event["resized"]["columns"]:
            self.dragged_columns.add(self.sheet.displayed_column_to_data(column))

    def highlight_bad_cells(self) -> None:
        """Paint the email and mobile cells the table judges bad, and the bounced emails
        (after rows changed). An invalid email is pink even when it bounced too."""
        self.sheet.dehighlight_all(redraw=False)
        table = self.table
        cells = [(i, EMAIL_COLUMN) for i, bad in enumerate(table.bad_email) if bad]
        cells += [(i, MOBILE_COLUMN) for i, bad in enumerate(table.bad_mobile) if bad]
        if cells:
            self.sheet.highlight_cells(cells=cells, bg=BAD_CELL_BG, redraw=False)
        bad = table.bad_email
        bounced = [(i, EMAIL_COLUMN) for i, b in enumerate(table.bounced) if b and not bad[i]]
        if bounced:
            self.sheet.highlight_cells(cells=bounced, bg=BOUNCED_CELL_BG, redraw=False)

    # --- sorting ---------------------------------------------------------------------------
    def sort_by(self, column: int) -> None:
        """Sort by a column; a second click on the same column reverses the order."""
        descending = self.sort_state == (column, False)
        self.sort_state = (column, descending)
        self.table.sort(column, descending=descending)
        arrow = SORT_ARROWS[descending]
        self.sheet.headers([h + (arrow if i == column else "") for i, h in enumerate(GRID_HEADERS)])
        self.highlight_bad_cells()
        self.on_reordered()

    def keep_order(self) -> None:
        """Sort freshly read rows the way the user last asked (no-op when never sorted).

        Called right after the rows were read: their columns are fitted when next shown.
        """
        self._fit_pending = True
        if self.sort_state:
            self.table.sort(self.sort_state[0], descending=self.sort_state[1])

    def _on_header_press(self, event: tk.Event) -> None:
        # A press on a column edge starts a width resize, not a sort.
        resizing = self.sheet.CH.rsz_w is not None
        self._header_press_column = None if resizing else self.sheet.identify_column(event)

    def _on_header_release(self, event: tk.Event) -> None:
        column = self.sheet.identify_column(event)
        if column is not None and column == self._header_press_column:
            self.sort_by(self.sheet.displayed_column_to_data(column))
        self._header_press_column = None

    # --- selection -------------------------------------------------------------------------
    def selected_indexes(self) -> list[int]:
        """Data indexes of the selected rows (whole rows or rows of selected cells)."""
        displayed = self.sheet.get_selected_rows(get_cells_as_rows=True)
        if not displayed and (current := self.sheet.get_currently_selected()):
            displayed = {current.row}
        return [self.sheet.data_r(r) for r in sorted(displayed)]

    def current_index(self) -> int | None:
        current = self.sheet.get_currently_selected()
        return self.sheet.data_r(current.row) if current else None

    def select_client(self, client_id: int) -> None:
        """Select and scroll to a client's row when it is shown."""
        index = self.table.index_of(client_id)
        if index in self.shown:
            displayed = self.sheet.data_row_to_displayed(index)
            self.sheet.select_row(displayed, redraw=False)
            self.sheet.see(displayed, 1)

    def remember_view(self) -> GridView:
        """The selection, the current cell and the scroll position, by client id."""
        sheet, ids = self.sheet, self.table.ids
        rows = [ids[sheet.data_r(r)] for r in sorted(sheet.get_selected_rows())]
        current = sheet.get_currently_selected()
        cell = (ids[sheet.data_r(current.row)], current.column, current.type_) if current else None
        # The row under the top edge; see() below leaves 2 pixels of the row above showing.
        top = bisect_right(sheet.MT.row_positions, sheet.MT.canvasy(0) + 2) - 1
        top_id = ids[sheet.data_r(top)] if 0 <= top < len(self.shown) else None
        return GridView(rows, cell, top_id, sheet.get_xview()[0])

    def restore_view(self, view: GridView) -> None:
        """Select and scroll as ``view`` says, as far as its clients are still shown."""
        sheet = self.sheet
        sheet.deselect("all", redraw=False)
        current_id, column, kind = view.current or (None, 0, "")
        where = self._displayed_rows({*view.rows, view.top, current_id})
        if current_id in where and kind == "cells":
            sheet.select_cell(where[current_id], column, redraw=False)
        for start, end in _runs(sorted(where[i] for i in view.rows if i in where)):
            sheet.create_selection_box(start, 0, end, len(GRID_HEADERS), "rows")
        if current_id in where:
            sheet.set_currently_selected(where[current_id], column)
        if view.top in where:
            sheet.see(where[view.top], 0, keep_xscroll=True, bottom_right_corner=False,
                      check_cell_visibility=False, redraw=False)  # fmt: skip
        sheet.set_xview(view.xview)
        sheet.redraw()

    def _displayed_rows(self, client_ids: set[int | None]) -> dict[int, int]:
        """Client id → displayed row, for those of ``client_ids`` that are shown."""
        shown = self.shown  # data indexes in ascending order
        where = {}
        for index, client_id in enumerate(self.table.ids):
            if client_id in client_ids:
                displayed = bisect_left(shown, index)
                if displayed < len(shown) and shown[displayed] == index:
                    where[client_id] = displayed
        return where

    def _on_double_click(self, event: tk.Event) -> None:
        if self.sheet.identify_region(event) == "table" and self.current_index() is not None:
            column = self.sheet.identify_column(event)
            if column is None or self.sheet.displayed_column_to_data(column) != MARK_COLUMN:
                self.on_edit()

    # --- marks -----------------------------------------------------------------------------
    def _on_check_clicked(self, event: dict) -> None:
        # tksheet has set the cell and redrawn it already.
        for (row, _column), marked in event["data"].items():
            client_store.set_marked(self.conn, [self.table.ids[row]], bool(marked))
        self.on_marks_changed()

    def _store_marks(self, indexes: list[int], marked: bool) -> None:
        changed = self.table.set_marks(indexes, marked)
        if changed:
            client_store.set_marked(self.conn, changed, marked)
        self._marks_changed()

    def toggle_mark_selected(self) -> None:
        """Mark the selected rows; when all of them are marked already, unmark them."""
        indexes = self.selected_indexes()
        if not indexes:
            return
        marked = not all(self.table.grid[i][MARK_COLUMN] for i in indexes)
        self._store_marks(indexes, marked)

    def mark_shown(self) -> None:
        """Mark every row shown (others keep their marks)."""
        if len(self.shown) == len(self.table):
            self.mark_all()  # one UPDATE instead of a list of 100,000 ids
        else:
            self._store_marks(self.shown, True)

    def mark_all(self) -> None:
        client_store.set_all_marked(self.conn, True)
        self.table.mark_every(True)
        self._marks_changed()

    def unmark_all(self) -> None:
        client_store.set_all_marked(self.conn, False)
        self.table.mark_every(False)
        self._marks_changed()

    def invert_marks(self) -> None:
        client_store.invert_marks(self.conn)
        self.table.invert_every()
        self._marks_changed()

    def _marks_changed(self) -> None:
        self.sheet.redraw()
        self.on_marks_changed()


def _runs(rows: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted row numbers as (first, past the last) runs of consecutive rows."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row:
            runs[-1] = (runs[-1][0], row + 1)
        else:
            runs.append((row, row + 1))
    return runs
