"""The live preview of the template form: the message as a chosen client will get it.

Besides the text it shows what the template cannot fill in for that client (unknown
placeholders, fields the client lacks) and, for SMS, how many messages the text takes.
"""

from __future__ import annotations

import sqlite3
import tkinter as tk
from collections.abc import Callable
from itertools import islice

import ttkbootstrap as ttk

from avtoprokat_mail.model import Client, Template
from avtoprokat_mail.placeholders import missing_fields, render
from avtoprokat_mail.sending.sms.segments import sms_length
from avtoprokat_mail.sending.template_check import unknown_placeholder_messages
from avtoprokat_mail.storage import clients as client_store

PREVIEW_CLIENTS_LIMIT = 500  # the preview picks from the marked clients, or the first ones


class TemplatePreview(ttk.Frame):
    """The client to preview for, the rendered message and its warnings.

    ``counter`` is the label (under the message field) that gets the SMS size; ``on_change`` is
    called when another client is chosen.
    """

    def __init__(
        self,
        parent: tk.Misc,
        conn: sqlite3.Connection,
        counter: ttk.Label,
        on_change: Callable[[], None],
    ) -> None:
        super().__init__(parent)
        self.conn = conn
        self.counter = counter
        self.clients: list[Client] = []
        line = ttk.Frame(self)
        line.pack(fill="x")
        ttk.Label(line, text="Клиент:").pack(side="left")
        self.client_var = tk.StringVar(self)
        self.client_box = ttk.Combobox(
            line, textvariable=self.client_var, state="readonly", width=60
        )
        self.client_box.pack(side="left", padx=(6, 0), fill="x", expand=True)
        self.client_var.trace_add("write", lambda *_: on_change())
        self.text = tk.Text(self, height=7, wrap="word", font="TkTextFont")
        self.text.pack(fill="both", expand=True, pady=(6, 0))
        self.text.configure(state="disabled")
        self.warning_label = ttk.Label(self, text="", bootstyle="warning", wraplength=640)
        self.warning_label.pack(anchor="w")
        self.load_clients()

    def load_clients(self) -> None:
        """Offer the marked clients (the ones the template goes to), else the first ones."""
        rows = list(
            islice(client_store.iter_rows(self.conn, marked_only=True), PREVIEW_CLIENTS_LIMIT)
        )
        if not rows:
            rows = list(islice(client_store.iter_rows(self.conn), PREVIEW_CLIENTS_LIMIT))
        self.clients = [client_store.client_from_row(row) for row in rows]
        labels = [self._client_label(c) for c in self.clients]
        self.client_box.configure(values=labels)
        if labels:
            self.client_var.set(labels[0])

    @staticmethod
    def _client_label(client: Client) -> str:
        contact = client.email or client.mobile or "нет контакта"
        name = client.display_name or client.organization or f"клиент {client.id}"
        return f"{name} — {contact}"

    def client(self) -> Client:
        """The chosen client, or an example one when the directory is empty."""
        labels = list(self.client_box.cget("values"))
        chosen = self.client_var.get()
        if chosen in labels:
            return self.clients[labels.index(chosen)]
        return Client(surname="Иванов", name="Иван Петрович", position="Директор",
                      organization="ООО «Пример»", email="ivanov@example.com")  # fmt: skip

    def show(self, template: Template) -> None:
        """Show ``template`` as the chosen client will get it, the SMS size and any unknowns."""
        client = self.client()
        body = render(template.body, client)
        if template.sms:
            shown = body
            self.counter.configure(text=sms_length(body).describe())
        else:
            shown = f"Тема: {render(template.subject, client, header=True)}\n\n{body}"
            self.counter.configure(text="")
        self.text.configure(state="normal")
        self.text.delete("1.0", "end")
        self.text.insert("1.0", shown)
        self.text.configure(state="disabled")
        warnings = unknown_placeholder_messages(template)
        used = template.body if template.sms else f"{template.subject}\n{template.body}"
        if missing := missing_fields(used, client):
            names = ", ".join(f"«{name}»" for name in missing)
            warnings.append(f"У этого клиента не заполнено: {names} — в сообщении там будет пусто.")
        self.warning_label.configure(text="\n".join(warnings))
