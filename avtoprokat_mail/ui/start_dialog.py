"""What "Старт" will do, shown before anything is sent: recipients, skipped and why, problems."""

from __future__ import annotations

import queue
import sqlite3
import threading
import tkinter as tk
from collections.abc import Callable

import ttkbootstrap as ttk

from avtoprokat_mail.credentials import NO_SECURE_STORE, PasswordStore
from avtoprokat_mail.model import Channel
from avtoprokat_mail.sending.campaign import RunPlan, start_run
from avtoprokat_mail.sending.outbox import is_outbox
from avtoprokat_mail.sending.setup import (
    SMS_GATEWAY,
    SetupError,
    direct_transport,
    outbox_name,
    prepare,
    secret_needed,
)
from avtoprokat_mail.sending.sms.estimate import cost_line
from avtoprokat_mail.settings import SECURITY_NAMES, load_email_settings
from avtoprokat_mail.ui import filedialogs
from avtoprokat_mail.ui.dialogs import ask_password, center_on_parent


class StartDialog(ttk.Toplevel):
    """The start summary; "Начать рассылку" writes the run and hands its id to ``on_started``."""

    def __init__(
        self,
        parent: tk.Misc,
        conn: sqlite3.Connection,
        plan: RunPlan,
        passwords: PasswordStore,
        on_started: Callable[[int], None],
    ) -> None:
        top = parent.winfo_toplevel()
        super().__init__(title="Старт рассылки", master=top, transient=top, minsize=(560, 0))
        self.conn, self.plan, self.passwords, self.on_started = conn, plan, passwords, on_started
        self._build()
        self.bind("<Escape>", lambda _e: self.destroy())
        center_on_parent(self)

    def _build(self) -> None:
        plan = self.plan
        body = ttk.Frame(self, padding=14)
        body.pack(fill="both", expand=True)
        title = plan.template.title(80)
        ttk.Label(body, text=title, font="-weight bold", wraplength=620).pack(anchor="w")
        ttk.Label(body, text=self._how()).pack(anchor="w", pady=(4, 8))
        self.recipients_label = ttk.Label(
            body, text=f"Получателей: {len(plan.recipients)}", font="-weight bold"
        )
        self.recipients_label.pack(anchor="w")
        for name, size in plan.attachments:
            ttk.Label(body, text=f"Приложение: {name} ({_size(size)})").pack(anchor="w")
        if plan.channel is Channel.SMS:
            ttk.Label(body, text=f"SMS всего (с учётом длины текстов): {plan.segments}").pack(
                anchor="w"
            )
            self.cost_label = ttk.Label(body, text="Стоимость: спрашиваю шлюз…", wraplength=620)
            self.cost_label.pack(anchor="w")
            self._ask_cost()
        if plan.skipped:
            self._skipped(body)
        self.problem_label = ttk.Label(
            body, text="\n".join(plan.problems), bootstyle="danger", wraplength=620, justify="left"
        )
        self.problem_label.pack(anchor="w", pady=(8, 0))
        buttons = ttk.Frame(body)
        buttons.pack(fill="x", pady=(12, 0))
        self.start_button = ttk.Button(
            buttons, text="Начать рассылку", bootstyle="success", command=self.start
        )
        self.start_button.pack(side="left")
        self.outbox_button = ttk.Button(
            buttons, text="Тестовая рассылка в папку…", bootstyle="secondary-outline",
            command=self.start_to_folder,
        )  # fmt: skip
        self.outbox_button.pack(side="left", padx=(8, 0))
        ttk.Button(buttons, text="Отмена", bootstyle="secondary", command=self.destroy).pack(
            side="right"
        )
        if not plan.can_start:
            self.start_button.configure(state="disabled")
            self.outbox_button.configure(state="disabled")

    def _how(self) -> str:
        if self.plan.channel is Channel.SMS:
            return "Способ: SMS на сотовые телефоны"
        s = load_email_settings(self.conn)
        if not s.host:
            return "Способ: email (почта ещё не настроена: окно «Параметры»)"
        return (
            f"Способ: email через {s.host}:{s.port} ({SECURITY_NAMES[s.security]}), "
            f"от {s.sender_name} <{s.sender_address}>"
        )

    def _ask_cost(self) -> None:
        """Ask the gateway for the price and the balance off the Tk thread."""
        try:
            setup = prepare(self.conn, Channel.SMS, SMS_GATEWAY, self.passwords)
        except SetupError as error:
            self.cost_label.configure(text=f"Стоимость не известна: {error}")
            return
        answers: queue.Queue[str] = queue.Queue()
        gateway = setup.transport.gateway
        threading.Thread(
            target=lambda: answers.put(cost_line(gateway, self.plan)), daemon=True
        ).start()
        self._await_cost(answers)

    def _await_cost(self, answers: queue.Queue[str]) -> None:
        if not self.winfo_exists():
            return
        try:
            self.cost_label.configure(text=answers.get_nowait())
        except queue.Empty:
            self.after(100, self._await_cost, answers)

    def _skipped(self, body: ttk.Frame) -> None:
        reasons = ", ".join(f"{reason} — {count}" for reason, count in
                            self.plan.skip_reasons.most_common())  # fmt: skip
        self.skipped_label = ttk.Label(
            body, text=f"Пропущено: {len(self.plan.skipped)} ({reasons})", wraplength=620
        )
        self.skipped_label.pack(anchor="w", pady=(6, 2))
        tree = ttk.Treeview(body, columns=("who", "address", "reason"), show="headings", height=6)
        for column, title, width in (("who", "Клиент", 180), ("address", "Адрес", 200),
                                     ("reason", "Причина", 280)):  # fmt: skip
            tree.heading(column, text=title)
            tree.column(column, width=width, stretch=column == "reason")
        for d in self.plan.skipped:
            who = " ".join(filter(None, (d.surname, d.name))) or d.organization
            tree.insert("", "end", values=(who, d.recipient, d.reply))
        tree.pack(fill="both", expand=True)
        self.skipped_tree = tree

    def start(self) -> int | None:
        """Check the settings (asking the password once if it is not stored), then start."""
        return self._start(direct_transport(self.plan.channel))

    def start_to_folder(self) -> int | None:
        folder = filedialogs.ask_directory(self, title="Папка для тестовой рассылки")
        return self._start(outbox_name(folder)) if folder else None

    def _start(self, transport: str) -> int | None:
        try:
            self._ready(transport)
        except SetupError as error:
            self.problem_label.configure(text=str(error))
            return None
        run_id = start_run(self.conn, self.plan, transport)
        self.destroy()
        self.on_started(run_id)
        return run_id

    def _ready(self, transport: str) -> None:
        """Raise SetupError unless the run can be sent; ask a secret the store cannot keep."""
        try:
            prepare(self.conn, self.plan.channel, transport, self.passwords)
            return
        except SetupError:
            needed = secret_needed(self.conn, self.plan.channel)
            asked_already = needed is not None and self.passwords.get(needed[0])
            if is_outbox(transport) or self.passwords.secure or needed is None or asked_already:
                raise
        account, question = needed
        password = ask_password(self, "Пароль", f"{question}\n\n{NO_SECURE_STORE}")
        if not password:
            raise SetupError("Рассылка не начата: пароль не введён.")
        self.passwords.set(account, password)
        prepare(self.conn, self.plan.channel, transport, self.passwords)


def _size(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} МБ" if size >= 1024 * 1024 else f"{max(size // 1024, 1)} КБ"
