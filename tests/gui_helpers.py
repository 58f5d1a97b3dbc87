"""Driving the real Tk widgets the way a user does: clicks, keys, dialogs."""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from avtoprokat_mail.credentials import PasswordStore
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import open_database
from avtoprokat_mail.ui import dialogs
from avtoprokat_mail.ui.client_form import ClientForm
from avtoprokat_mail.ui.clients_window import ClientsWindow


def pump(root: tk.Misc, seconds: float = 0.0) -> None:
    """Process pending Tk events (and keep doing so for ``seconds``)."""
    deadline = time.monotonic() + seconds
    root.update()
    while time.monotonic() < deadline:
        root.update()
        time.sleep(0.01)


def answer_next_dialog(root: tk.Misc, button: str, seen: list[str] | None = None) -> None:
    """Press ``button`` in the next modal dialog as soon as it opens.

    Call before the action that opens the dialog: the dialog runs its own event loop, so the
    answer has to be scheduled beforehand. The dialog's message is appended to ``seen``.
    """

    def press() -> None:
        dialog = dialogs.open_dialog()
        if dialog is None:
            root.after(20, press)
            return
        if seen is not None:
            seen.append(dialog.message)
        dialog.press(button)

    root.after(20, press)


@contextmanager
def no_dialog_expected(root: tk.Misc) -> Iterator[None]:
    """Fail (instead of hanging) when a modal dialog opens inside the block: it is answered
    with its last button, and its message is reported."""
    seen: list[str] = []
    pending: list[str] = []

    def watch() -> None:
        dialog = dialogs.open_dialog()
        if dialog is not None:
            seen.append(dialog.message)
            list(dialog.buttons.values())[-1].invoke()
        pending[:] = [root.after(20, watch)]

    pending.append(root.after(20, watch))
    try:
        yield
    finally:
        root.after_cancel(pending[0])
    assert not seen, f"an unexpected question: {seen}"


def toplevels_of(root: tk.Misc, kind: type) -> list:
    """Open windows of a given class anywhere below ``root`` (dialogs of dialogs included)."""
    found = []
    for child in root.winfo_children():
        if isinstance(child, kind) and child.winfo_exists():
            found.append(child)
        if isinstance(child, tk.Toplevel):
            found.extend(toplevels_of(child, kind))
    return found


def click(widget: tk.Misc, x: int, y: int, *, then: Callable[[], None] | None = None) -> None:
    """A left click at widget coordinates: press and release."""
    widget.event_generate("<Motion>", x=x, y=y)
    widget.event_generate("<ButtonPress-1>", x=x, y=y, button=1)
    widget.event_generate("<ButtonRelease-1>", x=x, y=y, button=1)
    widget.update()
    if then:
        then()


class Session:
    """One opening of the window on a data folder; ``restart`` closes it and opens anew."""

    def __init__(self, root, folder: Path) -> None:
        self.root, self.folder = root, folder
        self.conn = None
        self.window: ClientsWindow | None = None

    def open(self) -> ClientsWindow:
        self.conn = open_database(database_path(self.folder))
        self.window = ClientsWindow(self.root, self.conn, self.folder, PasswordStore())
        self.window.pack(fill="both", expand=True)
        pump(self.root)
        return self.window

    def close(self) -> None:
        for form in toplevels_of(self.root, ClientForm):
            form.destroy()
        if self.window is not None:
            self.window.destroy()
            self.conn.close()
            self.window = None

    def restart(self) -> ClientsWindow:
        self.close()
        return self.open()


def seed_clients(folder: Path, clients) -> None:
    """Store copies of ``clients`` in the database of ``folder`` (each test gets fresh ids)."""
    import dataclasses

    conn = open_database(database_path(folder))
    for client in clients:
        client_store.add_client(conn, dataclasses.replace(client))
    conn.close()


def shown_surnames(window: ClientsWindow) -> list[str]:
    """The surnames the grid displays, top to bottom, read from the sheet itself."""
    sheet = window.sheet
    count = len(sheet.get_sheet_data()) if sheet.all_rows_displayed() else len(sheet.displayed_rows)
    return [sheet.get_cell_data(sheet.data_r(r), 1) for r in range(count)]


def row_of(window: ClientsWindow, surname: str) -> int:
    """Displayed row number of a surname."""
    return shown_surnames(window).index(surname)


def marked_in_db(conn) -> set[str]:
    return {c.surname for c in client_store.list_clients(conn, marked_only=True)}


def status(window: ClientsWindow) -> str:
    return window.status_label.cget("text")


def click_cell(window: ClientsWindow, displayed_row: int, column: int) -> None:
    sheet = window.sheet
    sheet.see(displayed_row, column)
    pump(window)
    x = int(sheet.MT.col_positions[column] + 8 - sheet.MT.canvasx(0))
    y = int(sheet.MT.row_positions[displayed_row] + 8 - sheet.MT.canvasy(0))
    click(sheet.MT, x, y)


def close_windows(root: tk.Misc, kinds: tuple[type, ...]) -> None:
    """Close the test's windows; a running progress window is cancelled and waited for first."""
    from avtoprokat_mail.ui.progress_window import ProgressWindow

    for kind in kinds:
        for window in toplevels_of(root, kind):
            if isinstance(window, ProgressWindow) and window.worker and window.worker.is_alive():
                window.campaign.cancel()
                window.worker.join(10)
            window.destroy()
