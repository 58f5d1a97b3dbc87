"""Composition root: open the database, build the one ttkbootstrap App, show "Клиенты"."""

from __future__ import annotations

import sqlite3
import sys
import threading
import tkinter
import traceback
from pathlib import Path

import ttkbootstrap as ttk

from avtoprokat_mail import APP_NAME
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.storage import DatabaseError, describe_error, open_database
from avtoprokat_mail.ui.clients_window import ClientsWindow
from avtoprokat_mail.ui.dialogs import show_error

THEME = "bootstrap-light"


def _keep_tk_cleanup_on_the_tk_thread() -> None:
    """Make tkinter's finalizers do nothing when the garbage collector runs on a worker thread.

    A closed window's Tk variables and images often end up in reference cycles; the collector
    may free them on whatever thread happens to allocate, such as the mailing worker. Their
    ``__del__`` then calls into Tcl from that thread, which raises when the Tk thread is not in
    its main loop and can block when it waits. Off the Tk thread they are left to Tcl, which
    frees them with the interpreter: a few bytes, against a hung window.
    """
    for cls in (tkinter.Variable, tkinter.Image):
        original = cls.__dict__["__del__"]
        if getattr(original, "tk_thread_only", False):
            continue

        def on_tk_thread_only(self, _original=original) -> None:
            if threading.current_thread() is threading.main_thread():
                _original(self)

        on_tk_thread_only.tk_thread_only = True
        cls.__del__ = on_tk_thread_only


def create_root(database: Path | None = None) -> ttk.App:
    """The application's single Tk root (ttkbootstrap allows only one)."""
    _keep_tk_cleanup_on_the_tk_thread()
    root = ttk.App(title=f"Клиенты — {APP_NAME}", theme=THEME, size=(1280, 760), minsize=(900, 500))
    root.report_callback_exception = lambda *exc: _report_error(root, database, *exc)
    return root


def _report_error(root: ttk.App, database: Path | None, kind, value, tb) -> None:
    """An error in a button handler: tell the user in Russian instead of failing silently."""
    traceback.print_exception(kind, value, tb)
    if isinstance(value, DatabaseError):
        message = str(value)
    elif isinstance(value, sqlite3.Error):
        message = describe_error(value, database or Path("?"))
    else:
        message = f"Непредвиденная ошибка: {value}"
    show_error(root, "Ошибка", message)


def run(folder: Path, *, demo: bool = False, smoke: bool = False) -> int:
    """Open the GUI on the data in ``folder``; returns the process exit status."""
    root = create_root(database_path(folder))
    try:
        conn = open_database(database_path(folder))
    except DatabaseError as error:
        if not smoke:
            root.withdraw()
            show_error(root, APP_NAME, str(error))
        root.destroy()
        print(f"Ошибка: {error}", file=sys.stderr)
        return 2
    try:
        if demo:
            from avtoprokat_mail.demo import add_demo_data

            add_demo_data(conn)
        window = ClientsWindow(root, conn, folder)
        window.pack(fill="both", expand=True)
        if smoke:
            root.update()
            root.destroy()
            return 0
        root.after(300, window.offer_unfinished_runs)
        root.mainloop()
    finally:
        conn.close()
    return 0
