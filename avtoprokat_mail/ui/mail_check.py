"""«Проверить почту»: what came back to the sender's mailbox, shown before anything changes.

The INBOX is read off the Tk thread; the window lists the bounces and unsubscribe requests with
the clients they concern, and only «Применить» flags the addresses and sets the opt-outs.
"""

from __future__ import annotations

import sqlite3
import tkinter as tk

import ttkbootstrap as ttk

from avtoprokat_mail.credentials import PasswordStore
from avtoprokat_mail.sending.imap import InboxError
from avtoprokat_mail.sending.mailcheck import MailCheck, apply_check, check_mailbox_at
from avtoprokat_mail.sending.returns import ReturnKind
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import database_file
from avtoprokat_mail.ui.background import run_in_background
from avtoprokat_mail.ui.screen import fit_window

KIND_LABELS = {ReturnKind.BOUNCE: "возврат письма", ReturnKind.UNSUBSCRIBE: "просит отписать"}
COLUMNS = (
    ("kind", "Что", 130), ("email", "Адрес", 220), ("client", "Клиент", 200),
    ("reason", "Причина", 320),
)  # fmt: skip


class MailCheckWindow(ttk.Toplevel):
    """Reads the INBOX when opened; «Применить» changes the directory."""

    def __init__(
        self, parent: tk.Misc, conn: sqlite3.Connection, passwords: PasswordStore, on_applied=None
    ) -> None:
        top = parent.winfo_toplevel()
        super().__init__(title="Проверка почты", master=top, transient=top, minsize=(720, 360))
        self.conn, self.on_applied = conn, on_applied or (lambda: None)
        self.check: MailCheck | None = None
        self._build()
        self.bind("<Escape>", lambda _e: self.destroy())
        fit_window(self, conn, "mail_check")
        database = database_file(conn)  # the worker opens its own connection to it
        self.task = run_in_background(
            self, lambda: check_mailbox_at(database, passwords),
            on_done=self._show, on_error=self._failed, name="mail-check",
        )  # fmt: skip

    def _build(self) -> None:
        body = ttk.Frame(self, padding=12)
        body.pack(fill="both", expand=True)
        self.status_label = ttk.Label(body, text="Читаю «Входящие»…", wraplength=680,
                                      justify="left")  # fmt: skip
        self.status_label.pack(anchor="w")
        self.tree = ttk.Treeview(body, columns=[c for c, _, _ in COLUMNS], show="headings",
                                 height=10)  # fmt: skip
        for column, title, width in COLUMNS:
            self.tree.heading(column, text=title)
            self.tree.column(column, width=width, stretch=column == "reason")
        self.tree.pack(fill="both", expand=True, pady=(8, 8))
        buttons = ttk.Frame(body)
        buttons.pack(fill="x")
        self.apply_button = ttk.Button(buttons, text="Применить", bootstyle="primary",
                                       command=self.apply, state="disabled")  # fmt: skip
        self.apply_button.pack(side="left")
        ttk.Button(buttons, text="Закрыть", bootstyle="secondary", command=self.destroy).pack(
            side="right"
        )

    def _show(self, check: MailCheck) -> None:
        self.check = check
        for finding in check.findings:
            names = [
                client.display_name or client.organization or client.email
                for client_id in finding.client_ids
                if (client := client_store.get_client(self.conn, client_id)) is not None
            ]
            who = ", ".join(names) or "нет в справочнике"
            self.tree.insert("", "end", values=(
                KIND_LABELS[finding.kind], finding.email, who, finding.reason,
            ))  # fmt: skip
        matched = sum(1 for f in check.findings if f.client_ids)
        if not check.findings:
            text = f"Новых писем прочитано: {len(check.read)}. Возвратов и отписок нет."
        else:
            text = (
                f"Новых писем прочитано: {len(check.read)}. Возвратов: {check.bounces}, "
                f"просьб отписаться: {check.unsubscribes}, без клиента в справочнике: "
                f"{check.unmatched}. «Применить» отметит в справочнике {matched} адресов; "
                "письма в ящике останутся как были."
            )
        self.status_label.configure(text=text)
        self.apply_button.configure(state="normal" if check.read else "disabled")

    def _failed(self, error: BaseException) -> None:
        if not isinstance(error, InboxError):
            raise error
        self.status_label.configure(text=str(error), bootstyle="danger")

    def apply(self) -> None:
        """Flag the bounced addresses, set the opt-outs, remember what was read."""
        if self.check is None:
            return
        apply_check(self.conn, self.check)
        self.apply_button.configure(state="disabled")
        self.status_label.configure(
            text="Готово: справочник обновлён. Эти письма при следующей проверке не учитываются.",
            bootstyle="success",
        )
        self.on_applied()
