"""The main window "Клиенты": the client directory grid, marks, filters, menus."""

from __future__ import annotations

import sqlite3
import tkinter as tk
from pathlib import Path

import ttkbootstrap as ttk
from tksheet import Sheet

from avtoprokat_mail import APP_NAME, __version__
from avtoprokat_mail.credentials import PasswordStore
from avtoprokat_mail.sending.lifecycle import Mailer
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage.directory import (
    EMAIL_COLUMN,
    GRID_HEADERS,
    MARK_COLUMN,
    MOBILE_COLUMN,
    ClientFilter,
    ClientTable,
    OptOut,
)
from avtoprokat_mail.ui import filedialogs
from avtoprokat_mail.ui.client_form import ClientForm
from avtoprokat_mail.ui.dialogs import ask_password, ask_yes_no, show_error, show_info
from avtoprokat_mail.ui.formatting import format_time
from avtoprokat_mail.ui.import_dialog import ImportPreview
from avtoprokat_mail.ui.mailing_window import MailingWindow

COLUMN_WIDTHS = (34, 120, 190, 160, 200, 250, 130, 140, 260, 180, 60)
BAD_CELL_BG = "#f8d0d4"
NO_ORGANIZATION = "(все организации)"


class ClientsWindow(ttk.Frame):
    """The client directory. Owns the menu of its toplevel window."""

    def __init__(
        self,
        master: tk.Misc,
        conn: sqlite3.Connection,
        data_folder: Path,
        passwords: PasswordStore | None = None,
    ) -> None:
        super().__init__(master)
        self.conn = conn
        self.passwords = passwords or PasswordStore()
        self.mailer = Mailer(
            conn, self.passwords, ask_secret=lambda question: ask_password(self, "Пароль", question)
        )
        self.data_folder = data_folder
        self.table = ClientTable([])
        self.shown: list[int] = []
        self.sort_state: tuple[int, bool] | None = None
        self._filter_pending = False
        self.mailing_window: MailingWindow | None = None
        self._build_menu()
        self._build_toolbar()
        self._build_filters()
        self._build_sheet()
        self._build_status()
        self.reload()

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
        help_menu.add_command(label="О программе", command=self.show_about)
        menubar.add_cascade(label="Справка", menu=help_menu)
        top.configure(menu=menubar)
        self.menus = {"Файл": file_menu, "Рассылка": mailing_menu, "Справка": help_menu}

    def _build_toolbar(self) -> None:
        bar = ttk.Frame(self, padding=(8, 8, 8, 4))
        bar.pack(fill="x")
        self.buttons: dict[str, ttk.Button] = {}
        groups = (
            (
                ("Добавить", self.add_client, "success"),
                ("Изменить", self.edit_current, "primary"),
                ("Удалить", self.delete_selected, "danger-outline"),
            ),
            (
                ("Отметить", self.toggle_mark_selected, "primary-outline"),
                ("Отметить все", self.mark_all, "secondary-outline"),
                ("Снять все", self.unmark_all, "secondary-outline"),
                ("Инвертировать", self.invert_marks, "secondary-outline"),
                ("Отметить показанные", self.mark_shown, "secondary-outline"),
            ),
        )
        for group in groups:
            for text, command, style in group:
                button = ttk.Button(bar, text=text, command=command, bootstyle=style)
                button.pack(side="left", padx=(0, 4))
                self.buttons[text] = button
            ttk.Separator(bar, orient="vertical").pack(side="left", fill="y", padx=8)

    def _build_filters(self) -> None:
        bar = ttk.Frame(self, padding=(8, 0, 8, 2))
        bar.pack(fill="x")
        ttk.Label(bar, text="Поиск:").pack(side="left")
        self.search_var = tk.StringVar(self)
        self.search_entry = ttk.Entry(bar, textvariable=self.search_var, width=30)
        self.search_entry.pack(side="left", padx=(4, 12))
        ttk.Label(bar, text="Организация:").pack(side="left")
        self.organization_var = tk.StringVar(self, value=NO_ORGANIZATION)
        self.organization_box = ttk.Combobox(
            bar, textvariable=self.organization_var, width=26, state="readonly"
        )
        self.organization_box.pack(side="left", padx=(4, 12))
        ttk.Label(bar, text="Отказ от рассылки:").pack(side="left")
        self.opt_out_var = tk.StringVar(self, value=OptOut.ANY.value)
        ttk.Combobox(
            bar,
            textvariable=self.opt_out_var,
            values=[o.value for o in OptOut],
            width=20,
            state="readonly",
        ).pack(side="left", padx=(4, 10))

        checks = ttk.Frame(self, padding=(8, 2, 8, 6))
        checks.pack(fill="x")
        self.has_email_var = tk.BooleanVar(self)
        self.has_mobile_var = tk.BooleanVar(self)
        self.marked_only_var = tk.BooleanVar(self)
        for text, var in (
            ("Есть email", self.has_email_var),
            ("Есть сотовый", self.has_mobile_var),
            ("Только отмеченные", self.marked_only_var),
        ):
            ttk.Checkbutton(checks, text=text, variable=var).pack(side="left", padx=(0, 14))
        ttk.Button(
            checks, text="Сбросить фильтры", bootstyle="link", command=self.reset_filters
        ).pack(side="left")
        for var in (
            self.search_var,
            self.organization_var,
            self.has_email_var,
            self.has_mobile_var,
            self.marked_only_var,
            self.opt_out_var,
        ):
            var.trace_add("write", lambda *_: self._schedule_filter())
        self.search_entry.bind("<Escape>", lambda _e: self.search_var.set(""))

    def _build_sheet(self) -> None:
        self.sheet = Sheet(
            self,
            headers=list(GRID_HEADERS),
            show_row_index=False,
            default_row_height=24,
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
        self.sheet.set_sheet_data(self.table.grid, redraw=False)
        self.sheet.checkbox("A", edit_data=False, check_function=self._on_check_clicked)
        self.sheet.set_column_widths(list(COLUMN_WIDTHS))
        self.sheet.pack(fill="both", expand=True, padx=8)
        self.sheet.bind("<Double-Button-1>", self._on_double_click)
        for widget in (self.sheet.MT, self.sheet.RI, self.sheet):
            widget.bind("<space>", lambda _e: self.toggle_mark_selected() or "break")
            widget.bind("<Return>", lambda _e: self.edit_current())
            widget.bind("<Delete>", lambda _e: self.delete_selected())
            widget.bind("<Insert>", lambda _e: self.add_client())
        self.winfo_toplevel().bind("<Control-f>", lambda _e: self.search_entry.focus_set())
        # A quick second click arrives as a double-click; it must sort again, not be lost.
        for sequence in ("<ButtonPress-1>", "<Double-Button-1>"):
            self.sheet.CH.bind(sequence, self._on_header_press, add="+")
        self.sheet.CH.bind("<ButtonRelease-1>", self._on_header_release, add="+")
        self._header_press_column: int | None = None
        self.sheet.popup_menu_add_command("Изменить…", self.edit_current)
        self.sheet.popup_menu_add_command("Отметить / снять отметку", self.toggle_mark_selected)
        self.sheet.popup_menu_add_command("Удалить…", self.delete_selected)

    def _build_status(self) -> None:
        bar = ttk.Frame(self, padding=(8, 4))
        bar.pack(fill="x")
        self.status_label = ttk.Label(bar, text="")
        self.status_label.pack(side="left")
        legend = ttk.Label(bar, text="  розовым — неверный email или сотовый", foreground="#a33")
        legend.pack(side="right")

    # --- data ------------------------------------------------------------------------------
    def reload(self) -> None:
        """Read every client from the database and show them under the current filter."""
        self.table.reset(client_store.iter_rows(self.conn))
        if self.sort_state:
            self.table.sort(self.sort_state[0], descending=self.sort_state[1])
        self._refresh_organizations()
        self._after_rows_changed()

    def _after_rows_changed(self) -> None:
        """Rows were added, removed or reordered: redo highlights and the filter."""
        self._highlight_bad_cells()
        self.apply_filter()

    def _highlight_bad_cells(self) -> None:
        self.sheet.dehighlight_all(redraw=False)
        cells = [(i, EMAIL_COLUMN) for i, bad in enumerate(self.table.bad_email) if bad]
        cells += [(i, MOBILE_COLUMN) for i, bad in enumerate(self.table.bad_mobile) if bad]
        if cells:
            self.sheet.highlight_cells(cells=cells, bg=BAD_CELL_BG, redraw=False)

    def _refresh_organizations(self) -> None:
        self.organization_box.configure(values=[NO_ORGANIZATION, *self.table.organizations()])

    # --- filtering and sorting -----------------------------------------------------------------
    def current_filter(self) -> ClientFilter:
        organization = self.organization_var.get()
        return ClientFilter(
            text=self.search_var.get(),
            organization="" if organization == NO_ORGANIZATION else organization,
            has_email=self.has_email_var.get(),
            has_valid_mobile=self.has_mobile_var.get(),
            marked_only=self.marked_only_var.get(),
            opt_out=OptOut(self.opt_out_var.get()),
        )

    def _schedule_filter(self) -> None:
        """Coalesce a burst of keystrokes into one filter pass when Tk is idle."""
        if not self._filter_pending:
            self._filter_pending = True
            self.after_idle(self.apply_filter)

    def apply_filter(self) -> None:
        """Show exactly the rows the filter matches and update the status bar."""
        self._filter_pending = False
        flt = self.current_filter()
        self.shown = self.table.matching(flt)
        if len(self.shown) == len(self.table):
            self.sheet.display_rows("all", all_rows_displayed=True, redraw=False)
        else:
            self.sheet.display_rows(self.shown, all_rows_displayed=False, redraw=False)
        self.sheet.redraw()
        self.update_status()

    def reset_filters(self) -> None:
        self.search_var.set("")
        self.organization_var.set(NO_ORGANIZATION)
        for var in (self.has_email_var, self.has_mobile_var, self.marked_only_var):
            var.set(False)
        self.opt_out_var.set(OptOut.ANY.value)
        self.apply_filter()

    def sort_by(self, column: int) -> None:
        """Sort by a column; a second click on the same column reverses the order."""
        descending = self.sort_state == (column, False)
        self.sort_state = (column, descending)
        self.table.sort(column, descending=descending)
        arrow = " ▼" if descending else " ▲"
        self.sheet.headers([h + (arrow if i == column else "") for i, h in enumerate(GRID_HEADERS)])
        self._after_rows_changed()

    def _on_header_press(self, event: tk.Event) -> None:
        # A press on a column edge starts a width resize, not a sort.
        resizing = self.sheet.CH.rsz_w is not None
        self._header_press_column = None if resizing else self.sheet.identify_column(event)

    def _on_header_release(self, event: tk.Event) -> None:
        column = self.sheet.identify_column(event)
        if column is not None and column == self._header_press_column:
            self.sort_by(self.sheet.displayed_column_to_data(column))
        self._header_press_column = None

    def update_status(self) -> None:
        text = (
            f"показано {len(self.shown)} из {len(self.table)}, отмечено {self.table.marked_count()}"
        )
        self.status_label.configure(text=text)

    # --- selection -----------------------------------------------------------------------------
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
        """Select and scroll to a client's row when the filter shows it."""
        index = self.table.index_of(client_id)
        if index in self.shown:
            displayed = self.sheet.data_row_to_displayed(index)
            self.sheet.select_row(displayed, redraw=False)
            self.sheet.see(displayed, 1)

    # --- marks -----------------------------------------------------------------------------------
    def _on_check_clicked(self, event: dict) -> None:
        for (row, _column), marked in event["data"].items():
            client_store.set_marked(self.conn, [self.table.ids[row]], bool(marked))
        if self.marked_only_var.get():
            self.apply_filter()  # an unmarked row leaves the "only marked" view at once
        else:
            self.update_status()

    def _store_marks(self, indexes: list[int], marked: bool) -> None:
        changed = self.table.set_marks(indexes, marked)
        if changed:
            client_store.set_marked(self.conn, changed, marked)
        self.sheet.redraw()
        self.update_status()
        if self.marked_only_var.get():
            self.apply_filter()

    def toggle_mark_selected(self) -> None:
        """Mark the selected rows; when all of them are marked already, unmark them."""
        indexes = self.selected_indexes()
        if not indexes:
            return
        marked = not all(self.table.grid[i][MARK_COLUMN] for i in indexes)
        self._store_marks(indexes, marked)

    def mark_shown(self) -> None:
        """Mark every row the current filter shows (others keep their marks)."""
        if len(self.shown) == len(self.table):
            self.mark_all()  # one UPDATE instead of a list of 100,000 ids
        else:
            self._store_marks(self.shown, True)

    def mark_all(self) -> None:
        client_store.set_all_marked(self.conn, True)
        self.table.mark_every(True)
        self._after_mark_all()

    def unmark_all(self) -> None:
        client_store.set_all_marked(self.conn, False)
        self.table.mark_every(False)
        self._after_mark_all()

    def invert_marks(self) -> None:
        client_store.invert_marks(self.conn)
        self.table.invert_every()
        self._after_mark_all()

    def _after_mark_all(self) -> None:
        if self.marked_only_var.get():
            self.apply_filter()
        else:
            self.sheet.redraw()
            self.update_status()

    # --- records ---------------------------------------------------------------------------------
    def add_client(self) -> ClientForm:
        return ClientForm(self, self.conn, None, on_saved=self._on_client_saved)

    def edit_current(self) -> ClientForm | None:
        index = self.current_index()
        if index is None:
            return None
        client = client_store.get_client(self.conn, self.table.ids[index])
        if client is None:  # deleted by another program meanwhile
            self.reload()
            return None
        return ClientForm(self, self.conn, client, on_saved=self._on_client_saved)

    def _on_double_click(self, event: tk.Event) -> None:
        if self.sheet.identify_region(event) == "table" and self.current_index() is not None:
            column = self.sheet.identify_column(event)
            if column is None or self.sheet.displayed_column_to_data(column) != MARK_COLUMN:
                self.edit_current()

    def _on_client_saved(self, client_id: int) -> None:
        row = client_store.fetch_row(self.conn, client_id)
        try:
            self.table.replace(self.table.index_of(client_id), row)
        except ValueError:
            self.table.append(row)
        self._refresh_organizations()
        self._after_rows_changed()
        self.select_client(client_id)

    def delete_selected(self) -> None:
        indexes = self.selected_indexes()
        if not indexes:
            return
        if len(indexes) == 1:
            row = self.table.grid[indexes[0]]
            question = f"Удалить клиента «{' '.join(filter(None, row[1:3])) or row[4]}»?"
        else:
            question = f"Удалить выбранных клиентов ({len(indexes)})?"
        if not ask_yes_no(
            self, "Удаление", question + "\nОтменить удаление будет нельзя.", danger=True
        ):
            return
        client_store.delete_clients(self.conn, [self.table.ids[i] for i in indexes])
        self.table.remove(indexes)
        self._refresh_organizations()
        self._after_rows_changed()

    # --- files ---------------------------------------------------------------------------------
    def import_clients(self) -> None:
        path = filedialogs.ask_open_path(
            self,
            title="Импорт клиентов",
            filetypes=[("Таблицы", "*.csv *.xlsx"), ("CSV", "*.csv"), ("Excel", "*.xlsx")],
        )
        if path:
            ImportPreview.start(self, self.conn, Path(path), on_done=self.reload)

    def export_clients(self) -> None:
        from avtoprokat_mail.interchange import InterchangeError, export_clients

        path = filedialogs.ask_save_path(
            self,
            title="Экспорт клиентов",
            defaultextension=".xlsx",
            filetypes=[("Excel", "*.xlsx"), ("CSV для Excel", "*.csv")],
            initialfile="клиенты.xlsx",
        )
        if not path:
            return
        ids = [self.table.ids[i] for i in self.shown]
        try:
            count = export_clients(self.conn, Path(path), ids=ids)
        except InterchangeError as error:
            show_error(self, "Экспорт", str(error))
            return
        show_info(self, "Экспорт", f"Выгружено клиентов: {count}\nФайл: {path}")

    def open_mailing(self) -> MailingWindow:
        """Open the mailing window, or bring it forward when it is open already."""
        if self.mailing_window is not None and self.mailing_window.winfo_exists():
            self.mailing_window.deiconify()
            self.mailing_window.lift()
        else:
            self.mailing_window = MailingWindow(self, self.mailer)
        return self.mailing_window

    def offer_unfinished_runs(self) -> list[int]:
        """On start: offer to continue each run the program was stopped in the middle of.

        Returns the ids of the runs the user chose to continue.
        """
        continued = []
        for state in self.mailer.interrupted_runs():
            if not state.pending:
                continue
            run = state.run
            text = (
                f"Рассылка № {run.id} «{run.template().title(40)}» от {format_time(run.started)} "
                f"была прервана: отправлено {state.sent}, осталось {state.pending}."
            )
            if state.uncertain:
                text += (
                    f"\nУ {state.uncertain} получателей исход неизвестен (письмо могло уйти): "
                    "им повторно не отправляется; их можно повторить из отчёта."
                )
            question = text + "\n\nПродолжить её сейчас?"
            if ask_yes_no(self, "Незавершённая рассылка", question) and (
                self.open_mailing().continue_run(run.id) is not None
            ):
                continued.append(run.id)
        return continued

    def show_about(self) -> None:
        show_info(
            self,
            "О программе",
            f"{APP_NAME}\nВерсия {__version__}\n\n"
            "Рассылка email и SMS отмеченным клиентам.\n\n"
            f"Папка данных: {self.data_folder}",
        )
