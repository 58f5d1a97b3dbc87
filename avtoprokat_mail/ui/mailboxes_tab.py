"""The «Ещё ящики» tab of «Параметры»: sender mailboxes beyond the main one.

A run goes out through the main mailbox (the EMail tab) and every mailbox listed here, each
message through the first one that is free, each mailbox within its own daily limit. A mailbox
is added or removed at once (its password goes to the system's password store, never to the
database); the main window's «Сохранить» is not needed for them.
"""

from __future__ import annotations

import tkinter as tk
from typing import TYPE_CHECKING

import ttkbootstrap as ttk

from avtoprokat_mail.credentials import CredentialsError, smtp_account
from avtoprokat_mail.model import (
    OTHER_PRESET,
    PRESETS,
    SECURITY_NAMES,
    EmailSettings,
    Security,
)
from avtoprokat_mail.storage.settings import add_mailbox, delete_mailbox, list_mailboxes
from avtoprokat_mail.validation import SettingsError

if TYPE_CHECKING:
    from avtoprokat_mail.ui.settings_window import SettingsWindow

COLUMNS = (
    ("address", "Email отправителя", 220),
    ("host", "SMTP-сервер", 170),
    ("limit", "Писем в сутки", 110),
)


class MailboxesTab(ttk.Frame):
    """The list of extra sender mailboxes, and a form to add one."""

    name = "mailboxes"

    def __init__(self, notebook: ttk.Notebook, window: SettingsWindow) -> None:
        super().__init__(notebook, padding=12)
        self.window = window
        ttk.Label(
            self, wraplength=600, justify="left", bootstyle="info",
            text="Рассылка идёт через основной ящик (вкладка EMail) и через ящики из этого "
                 "списка: каждое письмо — через первый свободный, каждый ящик — в пределах "
                 "своего лимита писем в сутки. Письмо уходит от имени ящика, который его отправил.",
        ).pack(anchor="w")  # fmt: skip
        self.tree = ttk.Treeview(
            self, columns=[c for c, _, _ in COLUMNS], show="headings", height=4
        )
        for column, title, width in COLUMNS:
            self.tree.heading(column, text=title)
            self.tree.column(column, width=width, stretch=column == "address")
        self.tree.pack(fill="x", pady=(8, 4))
        self.remove_button = ttk.Button(
            self, text="Удалить выбранный", bootstyle="danger-outline", command=self.remove
        )
        self.remove_button.pack(anchor="w")
        self._build_form()
        self.reload()

    def _build_form(self) -> None:
        form = ttk.Labelframe(self, text="Новый ящик", padding=8)
        form.pack(fill="x", pady=(10, 0))
        form.columnconfigure(1, weight=1)
        self.vars: dict[str, tk.StringVar] = {}
        rows = (
            ("address", "Email отправителя:"), ("name", "Отправитель:"),
            ("preset", "Почтовый сервис:"), ("host", "SMTP-сервер:"), ("port", "Порт:"),
            ("security", "Шифрование:"), ("user", "Пользователь:"), ("password", "Пароль:"),
            ("limit", "Писем в сутки (0 — без ограничения):"),
        )  # fmt: skip
        for row, (key, label) in enumerate(rows):
            var = self.vars[key] = tk.StringVar(self)
            ttk.Label(form, text=label).grid(row=row, column=0, sticky="w", pady=2)
            if key == "preset":
                names = [*(p.name for p in PRESETS), OTHER_PRESET]
                widget = ttk.Combobox(form, textvariable=var, state="readonly", values=names)
                var.trace_add("write", lambda *_: self.apply_preset())
            elif key == "security":
                widget = ttk.Combobox(form, textvariable=var, state="readonly",
                                      values=list(SECURITY_NAMES.values()))  # fmt: skip
            else:
                widget = ttk.Entry(form, textvariable=var, show="•" if key == "password" else "")
            widget.grid(row=row, column=1, sticky="ew", pady=2, padx=(8, 0))
        self.vars["port"].set("465")
        self.vars["security"].set(SECURITY_NAMES[Security.SSL])
        self.vars["limit"].set("0")
        line = ttk.Frame(form)
        line.grid(row=len(rows), column=0, columnspan=2, sticky="ew", pady=(8, 0))
        self.add_button = ttk.Button(line, text="Добавить ящик", bootstyle="primary",
                                     command=self.add)  # fmt: skip
        self.add_button.pack(side="left")
        self.result_label = ttk.Label(line, text="", wraplength=440, justify="left")
        self.result_label.pack(side="left", padx=(10, 0))

    def apply_preset(self) -> None:
        preset = next((p for p in PRESETS if p.name == self.vars["preset"].get()), None)
        if preset is None:
            return
        self.vars["host"].set(preset.host)
        self.vars["port"].set(str(preset.port))
        self.vars["security"].set(SECURITY_NAMES[preset.security])
        self.vars["limit"].set(str(preset.daily_limit))

    def reload(self) -> None:
        self.tree.delete(*self.tree.get_children())
        for mailbox_id, box in list_mailboxes(self.window.conn):
            limit = str(box.daily_limit) if box.daily_limit else "без ограничения"
            self.tree.insert("", "end", iid=str(mailbox_id),
                             values=(box.sender_address, box.host, limit))  # fmt: skip

    def collect(self) -> EmailSettings:
        v = {key: var.get().strip() for key, var in self.vars.items()}
        security = next(k for k, name in SECURITY_NAMES.items() if name == v["security"])
        try:
            port, limit = int(v["port"]), int(v["limit"] or 0)
        except ValueError:
            raise SettingsError("Порт и «Писем в сутки» — целые числа.") from None
        return EmailSettings(
            sender_name=v["name"], sender_address=v["address"], host=v["host"].lower(),
            port=port, security=security, auth=True, user=v["user"] or v["address"],
            daily_limit=limit,
        )  # fmt: skip

    def add(self) -> int | None:
        """Store the form's mailbox (and its password in the system store); clear the form."""
        try:
            mailbox = self.collect()
            mailbox_id = add_mailbox(self.window.conn, mailbox)
            if password := self.vars["password"].get():
                self.window.passwords.set(smtp_account(mailbox), password)
        except (SettingsError, CredentialsError) as error:
            self.result_label.configure(text=str(error), bootstyle="danger")
            return None
        for key in ("address", "name", "user", "password"):
            self.vars[key].set("")
        self.result_label.configure(text=f"Ящик {mailbox.sender_address} добавлен.",
                                    bootstyle="success")  # fmt: skip
        self.reload()
        return mailbox_id

    def remove(self) -> None:
        for item in self.tree.selection():
            delete_mailbox(self.window.conn, int(item))
        self.reload()
