"""Adding, editing and deleting clients of the grid, with the table kept in step."""

from __future__ import annotations

import sqlite3
import tkinter as tk
from collections.abc import Callable

from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage.directory import ClientTable
from avtoprokat_mail.ui.client_form import ClientForm
from avtoprokat_mail.ui.client_grid import ClientGrid
from avtoprokat_mail.ui.dialogs import ask_yes_no, show_info


class ClientRecords:
    """The «Добавить», «Изменить» and «Удалить» actions on the rows of ``grid``.

    ``on_rows_changed`` is called after rows were added, changed or removed in ``table``;
    ``reload`` when the database no longer holds a row the grid shows.
    """

    def __init__(
        self,
        parent: tk.Misc,
        conn: sqlite3.Connection,
        table: ClientTable,
        grid: ClientGrid,
        *,
        on_rows_changed: Callable[[], None],
        reload: Callable[[], None],
    ) -> None:
        self.parent = parent
        self.conn = conn
        self.table = table
        self.grid = grid
        self.on_rows_changed = on_rows_changed
        self.reload = reload

    def add(self) -> ClientForm:
        return ClientForm(self.parent, self.conn, None, on_saved=self._saved)

    def edit_current(self) -> ClientForm | None:
        index = self.grid.current_index()
        if index is None:
            return None
        client = client_store.get_client(self.conn, self.table.ids[index])
        if client is None:  # deleted by another program meanwhile
            self.reload()
            return None
        return ClientForm(self.parent, self.conn, client, on_saved=self._saved)

    def _saved(self, client_id: int) -> None:
        row = client_store.fetch_row(self.conn, client_id)
        if row is None:  # deleted by another program while the form was open
            self.reload()
            show_info(
                self.parent,
                "Клиент",
                "Этого клиента уже нет в справочнике (его удалили в другой программе):\n"
                "изменения не записаны.",
            )
            return
        try:
            self.table.replace(self.table.index_of(client_id), row)
        except ValueError:
            self.table.append(row)
        self.on_rows_changed()
        self.grid.select_client(client_id)

    def delete_selected(self) -> None:
        indexes = self.grid.selected_indexes()
        if not indexes:
            return
        if len(indexes) == 1:
            row = self.table.grid[indexes[0]]
            question = f"Удалить клиента «{' '.join(filter(None, row[1:3])) or row[4]}»?"
        else:
            question = f"Удалить выбранных клиентов ({len(indexes)})?"
        if not ask_yes_no(
            self.parent, "Удаление", question + "\nОтменить удаление будет нельзя.", danger=True
        ):
            return
        client_store.delete_clients(self.conn, [self.table.ids[i] for i in indexes])
        self.table.remove(indexes)
        self.on_rows_changed()
