"""Clients to and from files: the import preview, and the export of the clients shown."""

from __future__ import annotations

import sqlite3
import tkinter as tk
from collections.abc import Callable
from pathlib import Path

from avtoprokat_mail.ui import filedialogs
from avtoprokat_mail.ui.dialogs import show_error, show_info
from avtoprokat_mail.ui.import_dialog import ImportPreview


def import_clients(parent: tk.Misc, conn: sqlite3.Connection, on_done: Callable[[], None]) -> None:
    """Ask for a CSV or XLSX file and open its import preview; ``on_done`` after it wrote."""
    path = filedialogs.ask_open_path(
        parent,
        title="Импорт клиентов",
        filetypes=[
            ("Таблицы", "*.csv *.xlsx *.xls *.ods"),
            ("CSV", "*.csv"),
            ("Excel", "*.xlsx *.xls"),
            ("OpenDocument", "*.ods"),
        ],
    )
    if path:
        ImportPreview.start(parent, conn, Path(path), on_done=on_done)


def export_clients(parent: tk.Misc, conn: sqlite3.Connection, ids: list[int]) -> None:
    """Ask for a file and write the clients with these ids to it (XLSX or CSV by extension)."""
    from avtoprokat_mail.interchange import InterchangeError
    from avtoprokat_mail.interchange import export_clients as write_clients

    path = filedialogs.ask_save_path(
        parent,
        title="Экспорт клиентов",
        defaultextension=".xlsx",
        filetypes=[("Excel", "*.xlsx"), ("CSV для Excel", "*.csv")],
        initialfile="клиенты.xlsx",
    )
    if not path:
        return
    try:
        count = write_clients(conn, Path(path), ids=ids)
    except InterchangeError as error:
        show_error(parent, "Экспорт", str(error))
        return
    show_info(parent, "Экспорт", f"Выгружено клиентов: {count}\nФайл: {path}")
