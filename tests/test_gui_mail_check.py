"""«Проверить почту» in the real window: the INBOX of a real Dovecot, the list, «Применить»."""

# ruff: noqa: F401, F811  (fixtures imported, then requested by name)
from __future__ import annotations

import time

from avtoprokat_mail.storage.directory import EMAIL_COLUMN
from avtoprokat_mail.ui.client_grid import BOUNCED_CELL_BG
from avtoprokat_mail.ui.mail_check import MailCheckWindow
from tests.gui_helpers import Session, close_windows, pump, row_of, shown_surnames, toplevels_of
from tests.imap_server import imap_server
from tests.test_mailbox_check import _flags, office


def test_check_mail_lists_then_applies(tk_root, data_folder, db, office, gui_errors):
    session = Session(tk_root, data_folder)
    session.open()
    try:
        mailing = session.window.open_mailing()
        mailing.buttons["Проверить почту"].invoke()
        pump(session.root)
        (window,) = toplevels_of(session.root, MailCheckWindow)
        deadline = time.monotonic() + 20
        while window.check is None and time.monotonic() < deadline:
            pump(session.root, 0.05)
        rows = [window.tree.item(i, "values") for i in window.tree.get_children()]
        assert ("возврат письма", "petrov@rambler.ru.example", "Петров") in [r[:3] for r in rows]
        assert ("просит отписать", "ivanov@mail.ru.example", "Иванов") in [r[:3] for r in rows]
        assert ("возврат письма", "nobody@nowhere.example", "нет в справочнике") in [
            r[:3] for r in rows
        ]
        assert "Возвратов: 7, просьб отписаться: 3" in window.status_label.cget("text")
        assert _flags(session.conn, "Петров")[0] == 0  # nothing changed yet

        window.apply_button.invoke()
        pump(session.root)
        assert _flags(session.conn, "Петров")[0] == 1
        assert _flags(session.conn, "Иванов")[3] == 1
        assert "справочник обновлён" in window.status_label.cget("text")
        assert str(window.apply_button.cget("state")) == "disabled"

        # The directory follows at once: the bounced address in its colour, and the filter.
        directory = session.window
        petrov = directory.sheet.data_r(row_of(directory, "Петров"))
        highlights = directory.sheet.get_cell_options(key="highlight")
        assert highlights[(petrov, EMAIL_COLUMN)][0] == BOUNCED_CELL_BG
        directory.filters.bounced_only_var.set(True)
        pump(session.root, 0.3)
        bounced = {"Петров", "Смирнова", "Кузнецов", "Волков", "Орлов"}  # hard bounces
        assert set(shown_surnames(directory)) == bounced
    finally:
        close_windows(tk_root, (MailCheckWindow,))
        session.close()
