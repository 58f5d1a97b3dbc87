"""The main window "Клиенты": the filter bar, the client grid, the toolbar, menus and status.

Each part is its own module: ui/client_filters.py (what to show), ui/client_grid.py (the
sheet, marks, sorting, selection), ui/client_records.py (add, edit, delete),
ui/client_files.py (import and export), ui/about.py. This class puts them together and keeps
them in step: a changed filter, sort or mark shows the right rows and updates the status bar.

The command line, a scheduled job or a worker thread may change the database meanwhile; the
window looks for such changes when it gets the focus and every few seconds, and reads the
clients anew only when they changed (storage/changes.py).
"""

from __future__ import annotations

import sqlite3
import tkinter as tk
from pathlib import Path

import ttkbootstrap as ttk
from tksheet import Sheet

from avtoprokat_mail.credentials import PasswordStore
from avtoprokat_mail.sending.lifecycle import Mailer
from avtoprokat_mail.storage import changes
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage.directory import ClientTable
from avtoprokat_mail.ui import client_files
from avtoprokat_mail.ui.about import show_about
from avtoprokat_mail.ui.client_filters import ClientFilterBar
from avtoprokat_mail.ui.client_grid import BAD_CELL_BG, BOUNCED_CELL_BG, ClientGrid
from avtoprokat_mail.ui.client_records import ClientRecords
from avtoprokat_mail.ui.dialogs import ask_password, open_dialog
from avtoprokat_mail.ui.mailing_window import MailingWindow
from avtoprokat_mail.ui.screen import FlowBar, fit_window

MAIN_WINDOW_SIZE = (1280, 760)  # at 100 %, before it is clamped to the screen

CHECK_INTERVAL_MS = 3000  # how often to look for changes made by other connections


class ClientsWindow(ttk.Frame):
    """The client directory. Owns the menu of its toplevel window."""

    def __init__(
        self,
        master: tk.Misc,
        conn: sqlite3.Connection,
        data_folder: Path,
        passwords: PasswordStore,
    ) -> None:
        super().__init__(master)
        self.conn = conn
        self.passwords = passwords  # the program's one store, built at start-up
        self.mailer = Mailer(
            conn, self.passwords, ask_secret=lambda question: ask_password(self, "Пароль", question)
        )
        self.data_folder = data_folder
        self.table = ClientTable([])
        self.mailing_window: MailingWindow | None = None
        self._build_menu()
        # Made first, filled once the parts it acts on exist: first on screen and in Tab order.
        toolbar = FlowBar(self, padding=(8, 8, 8, 4))
        toolbar.pack(fill="x")
        self.filters = ClientFilterBar(self, on_change=self.apply_filter)
        self.filters.pack(fill="x")
        self.client_grid = ClientGrid(
            self,
            conn,
            self.table,
            on_marks_changed=self._on_marks_changed,
            on_reordered=self.apply_filter,
            on_edit=lambda: self.records.edit_current(),
            on_delete=lambda: self.records.delete_selected(),
            on_add=lambda: self.records.add(),
        )
        self.client_grid.pack(fill="both", expand=True, padx=8)
        self.records = ClientRecords(
            self,
            conn,
            self.table,
            self.client_grid,
            on_rows_changed=self._on_rows_changed,
            reload=self.reload,
        )
        self._fill_toolbar(toolbar)
        self._build_status()
        top = self.winfo_toplevel()
        top.bind("<Control-f>", lambda _e: self.filters.search_entry.focus_set())
        self.reloads = 0  # how many times the clients were read (tests count them)
        self._seen: tuple[int, tuple] = (0, ())  # data_version and fingerprint at the last read
        self.reload()
        fit_window(top, conn, "main", size=MAIN_WINDOW_SIZE, owner=self)
        self._focus_binding = top.bind("<FocusIn>", lambda _e: self.check_outside_changes(), "+")
        self._check_job = self.after(CHECK_INTERVAL_MS, self._check_periodically)

    def destroy(self) -> None:
        self.after_cancel(self._check_job)
        _unbind(self.winfo_toplevel(), "<FocusIn>", self._focus_binding)
        super().destroy()

    @property
    def sheet(self) -> Sheet:
        return self.client_grid.sheet

    @property
    def shown(self) -> list[int]:
        """Data indexes of the rows the filter shows, in grid order."""
        return self.client_grid.shown

    # --- construction ----------------------------------------------------------------------
    def _build_menu(self) -> None:
        top = self.winfo_toplevel()
        menubar = tk.Menu(top)
        file_menu = tk.Menu(menubar, tearoff=False)
        file_menu.add_command(label="Импорт клиентов…", command=self.import_clients)
        file_menu.add_command(label="Экспорт клиентов…", command=self.export_clients)
        file_menu.add_separator()
        file_menu.add_command(label="Выход", command=top.destroy, accelerator="Alt+F4")
        menubar.add_cascade(label="Файл", menu=file_menu)
        mailing_menu = tk.Menu(menubar, tearoff=False)
        mailing_menu.add_command(label="Сообщения email рассылки…", command=self.open_mailing)
        menubar.add_cascade(label="Рассылка", menu=mailing_menu)
        help_menu = tk.Menu(menubar, tearoff=False)
        help_menu.add_command(
            label="О программе", command=lambda: show_about(self, self.data_folder)
        )
        menubar.add_cascade(label="Справка", menu=help_menu)
        top.configure(menu=menubar)
        self.menus = {"Файл": file_menu, "Рассылка": mailing_menu, "Справка": help_menu}

    def _fill_toolbar(self, bar: FlowBar) -> None:
        self.buttons: dict[str, ttk.Button] = {}
        records, grid = self.records, self.client_grid
        groups = (
            (
                ("Добавить", records.add, "success"),
                ("Изменить", records.edit_current, "primary"),
                ("Удалить", records.delete_selected, "danger-outline"),
            ),
            (
                ("Отметить", grid.toggle_mark_selected, "primary-outline"),
                ("Отметить все", grid.mark_all, "secondary-outline"),
                ("Снять все", grid.unmark_all, "secondary-outline"),
                ("Инвертировать", grid.invert_marks, "secondary-outline"),
                ("Отметить показанные", grid.mark_shown, "secondary-outline"),
            ),
        )
        for group in groups:
            for text, command, style in group:
                button = ttk.Button(bar, text=text, command=command, bootstyle=style)
                bar.add(button)
                self.buttons[text] = button
            bar.add(ttk.Separator(bar, orient="vertical"), space_after=8)

    def _build_status(self) -> None:
        bar = ttk.Frame(self, padding=(8, 4))
        bar.pack(side="bottom", fill="x", before=self.client_grid)  # kept when the window is short
        self.status_label = ttk.Label(bar, text="")
        self.status_label.pack(side="left")
        legend = ttk.Frame(bar)
        legend.pack(side="right")
        for text, colour in (
            ("розовым — неверный email или сотовый", BAD_CELL_BG),
            ("оранжевым — письма на email не доставляются", BOUNCED_CELL_BG),
        ):
            ttk.Label(legend, text=f" {text} ", background=colour).pack(side="left", padx=(8, 0))

    # --- keeping the parts in step -------------------------------------------------------------
    def reload(self) -> None:
        """Read every client from the database and show them under the current filter.

        The sort, the selection and the scroll position stay, by client id.
        """
        view = self.client_grid.remember_view()
        # Before the rows: a commit in between then brings one more reload, never one less.
        self._seen = changes.data_version(self.conn), changes.clients_fingerprint(self.conn)
        self.table.reset(client_store.iter_rows(self.conn))
        self.client_grid.keep_order()
        self._on_rows_changed()
        self.client_grid.restore_view(view)
        self.reloads += 1

    def check_outside_changes(self) -> None:
        """Reload when another connection changed the clients or their marks.

        Our own writes leave ``data_version`` alone, so they never cause a reload. Nothing is
        done while a message dialog waits for an answer: the question (such as «Удалить
        клиента?») is about the rows as they are. An open client form is left alone: it
        saves by client id.
        """
        version = changes.data_version(self.conn)
        if version == self._seen[0] or open_dialog() is not None:
            return
        if changes.clients_fingerprint(self.conn) == self._seen[1]:
            self._seen = version, self._seen[1]  # another table changed (a run's journal)
        else:
            self.reload()

    def _check_periodically(self) -> None:
        # The next check is set after this one: a failing check is reported once, not every
        # few seconds (the <FocusIn> checks go on).
        self.check_outside_changes()
        self._check_job = self.after(CHECK_INTERVAL_MS, self._check_periodically)

    def _on_rows_changed(self) -> None:
        """Rows were added, removed or replaced: redo organisations, highlights and the filter."""
        self.filters.set_organizations(self.table.organizations())
        self.client_grid.highlight_bad_cells()
        self.apply_filter()

    def apply_filter(self) -> None:
        """Show exactly the rows the filter matches and update the status bar."""
        self.client_grid.show(self.table.matching(self.filters.current()))
        self.update_status()

    def _on_marks_changed(self) -> None:
        if self.filters.marked_only:
            self.apply_filter()  # an unmarked row leaves the "only marked" view at once
        else:
            self.update_status()

    def update_status(self) -> None:
        text = (
            f"показано {len(self.shown)} из {len(self.table)}, отмечено {self.table.marked_count()}"
        )
        self.status_label.configure(text=text)

    # --- other windows and files ---------------------------------------------------------------
    def import_clients(self) -> None:
        client_files.import_clients(self, self.conn, on_done=self.reload)

    def export_clients(self) -> None:
        client_files.export_clients(self, self.conn, [self.table.ids[i] for i in self.shown])

    def open_mailing(self) -> MailingWindow:
        """Open the mailing window, or bring it forward when it is open already."""
        if self.mailing_window is not None and self.mailing_window.winfo_exists():
            self.mailing_window.deiconify()
            self.mailing_window.lift()
        else:
            self.mailing_window = MailingWindow(self, self.mailer)
        return self.mailing_window


def _unbind(widget: tk.Misc, sequence: str, funcid: str) -> None:
    """Remove one handler of ``sequence`` (tkinter before Python 3.13 removes them all)."""
    kept = [line for line in widget.bind(sequence).split("\n") if funcid not in line]
    widget.bind(sequence, "\n".join(kept))
    widget.deletecommand(funcid)
