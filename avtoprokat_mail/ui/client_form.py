"""The client record form ("Клиент"): add or edit one client, with validation."""

from __future__ import annotations

import datetime as dt
import sqlite3
import tkinter as tk
from collections.abc import Callable

import ttkbootstrap as ttk

from avtoprokat_mail.model import CLIENT_LABELS, CLIENT_TEXT_FIELDS, Client, ClientNotes
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.ui.dialogs import ask_yes_no, close_asking, variable_values
from avtoprokat_mail.ui.screen import ScrollArea, fit_window
from avtoprokat_mail.validation import (
    client_problems,
    consent_problem,
    is_valid_mobile,
    normalize_mobile,
    parse_date,
    ru_date,
)

_WIDE_FIELDS = {"address", "note", "organization"}


class ClientForm(ttk.Toplevel):
    """Edit the fields of one client; "Сохранить" validates, stores and calls ``on_saved``.

    ``on_saved`` receives the stored client's id. Tests fill :attr:`vars` and press
    :attr:`save_button` exactly as a user types and clicks.

    Below the fields, read-only lines say what the mailbox reported: since when the email
    bounces and why, and since when and how the client refused mailings.
    """

    def __init__(
        self,
        parent: tk.Misc,
        conn: sqlite3.Connection,
        client: Client | None,
        on_saved: Callable[[int], None],
    ) -> None:
        title = "Новый клиент" if client is None else f"Клиент: {client.display_name}"
        top = parent.winfo_toplevel()
        super().__init__(title=title, master=top, transient=top, minsize=(520, 300))
        self.conn = conn
        self.client = client or Client()
        self.notes = (
            client_store.client_notes(conn, client.id) if client and client.id else ClientNotes()
        )
        self.on_saved = on_saved
        self.vars: dict[str, tk.Variable] = {}
        self.entries: dict[str, ttk.Entry] = {}
        self.error_label: ttk.Label
        self._build()
        self.bind("<Escape>", lambda _e: self.cancel())
        self.protocol("WM_DELETE_WINDOW", self.cancel)
        self.bind("<Return>", lambda _e: self.save())
        self.entries["surname"].focus_set()
        self.saved_values = variable_values(self)
        fit_window(self, conn, "client_form")

    def _build(self) -> None:
        # The flags and buttons first, at the bottom: they stay in view in a short window.
        bottom = ttk.Frame(self, padding=(14, 8, 14, 14))
        bottom.pack(side="bottom", fill="x")
        self.scroll = ScrollArea(self, padding=(14, 14, 14, 0))
        self.scroll.pack(fill="both", expand=True)
        body = self.scroll.content
        body.columnconfigure(1, weight=1)
        for row, name in enumerate(CLIENT_TEXT_FIELDS):
            label = CLIENT_LABELS[name] + (" (имя и отчество)" if name == "name" else "")
            ttk.Label(body, text=label + ":").grid(row=row, column=0, sticky="w", pady=3)
            var = tk.StringVar(self, value=getattr(self.client, name))
            entry = ttk.Entry(body, textvariable=var, width=48 if name in _WIDE_FIELDS else 36)
            entry.grid(row=row, column=1, sticky="ew", pady=3, padx=(8, 0))
            self.vars[name], self.entries[name] = var, entry
        self.normalize_button = ttk.Button(
            body, text="Исправить", bootstyle="link", command=self.normalize_mobile
        )
        self.normalize_button.grid(
            row=CLIENT_TEXT_FIELDS.index("mobile"), column=2, sticky="w", padx=(4, 0)
        )
        ttk.ToolTip(
            self.normalize_button,
            text="Записать номер в виде +79XXXXXXXXX: так его примет SMS-шлюз.",
        )
        # Its room is kept while it is hidden: the form does not widen as a number is typed.
        body.update_idletasks()
        body.columnconfigure(2, minsize=self.normalize_button.winfo_reqwidth() + 4)
        self.vars["mobile"].trace_add("write", lambda *_: self._update_mobile_hint())
        self._update_mobile_hint()
        row = len(CLIENT_TEXT_FIELDS)
        self._build_consent(body, row)
        self._build_notes(body, row + 1)

        self.error_label = ttk.Label(body, text="", bootstyle="danger", wraplength=460)
        self.error_label.grid(row=row + 3, column=0, columnspan=3, sticky="w")
        self.error_label.grid_remove()  # takes a line only when there is something to say
        for name in ("marked", "opt_out"):
            var = tk.BooleanVar(self, value=getattr(self.client, name))
            ttk.Checkbutton(bottom, text=CLIENT_LABELS[name], variable=var).pack(
                side="left", padx=(0, 16)
            )
            self.vars[name] = var
        buttons = ttk.Frame(bottom)
        buttons.pack(side="right")
        self.save_button = ttk.Button(buttons, text="Сохранить", command=self.save)
        self.save_button.pack(side="left")
        self.cancel_button = ttk.Button(
            buttons, text="Отмена", bootstyle="secondary", command=self.cancel
        )
        self.cancel_button.pack(side="left", padx=(8, 0))

    def _build_consent(self, body: ttk.Frame, row: int) -> None:
        """«Согласие на рассылку»: the day as ДД.ММ.ГГГГ, empty when there is none."""
        ttk.Label(body, text=CLIENT_LABELS["consent"] + ":").grid(
            row=row, column=0, sticky="w", pady=3
        )
        line = ttk.Frame(body)
        line.grid(row=row, column=1, columnspan=2, sticky="w", pady=3, padx=(8, 0))
        var = tk.StringVar(self, value=ru_date(self.client.consent))
        entry = ttk.Entry(line, textvariable=var, width=12)
        entry.pack(side="left")
        self.today_button = ttk.Button(
            line, text="Сегодня", bootstyle="link", command=self.consent_today
        )
        self.today_button.pack(side="left", padx=(4, 0))
        ttk.Label(line, text="ДД.ММ.ГГГГ, пусто — нет", bootstyle="secondary").pack(
            side="left", padx=(4, 0)
        )
        self.vars["consent"], self.entries["consent"] = var, entry

    def _build_notes(self, body: ttk.Frame, row: int) -> None:
        """What the mailbox said, read-only, each line only when there is something to say."""
        notes, client = self.notes, self.client
        bounce = opt_out = ""
        if client.bounced:
            bounce = "Адрес не доставляется"
            bounce += f" с {ru_date(notes.bounce_date)}" if notes.bounce_date else ""
            bounce += f": {notes.bounce_reason}" if notes.bounce_reason else ""
        if client.opt_out and notes.opt_out_date:
            opt_out = f"Отказ от рассылки с {ru_date(notes.opt_out_date)}"
            opt_out += f" ({notes.opt_out_source})" if notes.opt_out_source else ""
        self.bounce_label = ttk.Label(body, text=bounce, bootstyle="warning", wraplength=560)
        self.opt_out_label = ttk.Label(body, text=opt_out, bootstyle="secondary", wraplength=560)
        for offset, label in enumerate((self.bounce_label, self.opt_out_label)):
            if label.cget("text"):
                label.grid(row=row + offset, column=0, columnspan=3, sticky="w", pady=(2, 0))

    def consent_today(self) -> None:
        """«Сегодня»: the client agreed today."""
        self.vars["consent"].set(dt.date.today().strftime("%d.%m.%Y"))

    def _update_mobile_hint(self) -> None:
        text = self.vars["mobile"].get().strip()
        fixable = bool(text) and not is_valid_mobile(text) and normalize_mobile(text) is not None
        if fixable:
            self.normalize_button.grid()
        else:
            self.normalize_button.grid_remove()

    def normalize_mobile(self) -> None:
        """Rewrite the mobile in the +79XXXXXXXXX form the seed demands."""
        fixed = normalize_mobile(self.vars["mobile"].get())
        if fixed:
            self.vars["mobile"].set(fixed)

    def _collect(self) -> Client:
        values = {name: self.vars[name].get() for name in self.vars}
        texts = {name: str(values[name]).strip() for name in CLIENT_TEXT_FIELDS}
        return Client(
            **texts,
            marked=bool(values["marked"]),
            opt_out=bool(values["opt_out"]),
            consent=parse_date(values["consent"]) or "",
            bounced=self.client.bounced,
            id=self.client.id,
        )

    def _problem(self, client: Client) -> tuple[str, str] | None:
        """The first thing that stops saving (the import's rule too): (field, message)."""
        problems = client_problems(client)
        if not problems:
            consent = consent_problem(self.vars["consent"].get())
            return ("consent", consent) if consent else None
        field, message = problems[0]
        if field == "email":
            return field, f"Email: {message}."
        if field == "mobile":
            return field, (
                f"Сотовый телефон «{client.mobile}» не похож на российский мобильный номер. "
                "Нужен вид +7 и 10 цифр без разделителей, например +79031112233."
            )
        return field, "Укажите фамилию, имя, организацию, email или сотовый телефон."

    def cancel(self) -> bool:
        """«Отмена»: close, asking first about unsaved edits; True when closed."""
        changed = variable_values(self) != self.saved_values
        return close_asking(self, changed, self.save, "Карточка клиента изменена.")

    def save(self) -> bool:
        """Validate and store; returns True when the client was saved and the form closed."""
        client = self._collect()
        suggestion = client.mobile and not is_valid_mobile(client.mobile)
        if suggestion and (fixed := normalize_mobile(client.mobile)):
            if not ask_yes_no(
                self,
                "Сотовый телефон",
                f"Номер «{client.mobile}» записан не по правилам рассылки SMS.\n"
                f"Записать его как {fixed}?",
            ):
                self._show_problem("mobile", "Исправьте номер: нужен вид +79031112233.")
                return False
            self.vars["mobile"].set(fixed)
            client.mobile = fixed
        if problem := self._problem(client):
            self._show_problem(*problem)
            return False
        if client.id is None:
            client_store.add_client(self.conn, client)
        else:
            client_store.update_client(self.conn, client)
        self.destroy()
        self.on_saved(client.id)
        return True

    def _show_problem(self, field: str, message: str) -> None:
        self.error_label.configure(text=message)
        self.error_label.grid()
        self.entries[field].focus_set()
        self.entries[field].select_range(0, "end")
