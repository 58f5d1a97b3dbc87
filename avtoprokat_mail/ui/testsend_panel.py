"""The test send of the template form: «Отправить себе», or for SMS «SMS на номер».

The message goes as the client chosen in the preview will get it, off the Tk thread
(ui/background.py); the result is shown under the button.
"""

from __future__ import annotations

import sqlite3
import tkinter as tk
from collections.abc import Callable

import ttkbootstrap as ttk

from avtoprokat_mail.credentials import PasswordStore
from avtoprokat_mail.model import Channel, Client, Template
from avtoprokat_mail.sending.checks import CheckResult
from avtoprokat_mail.sending.setup import SetupError
from avtoprokat_mail.sending.testsend import prepare_test, send_test_sms, send_to_self
from avtoprokat_mail.ui.background import report_exception, run_in_background


class SendTestPanel(ttk.Frame):  # not "Test…": pytest would take a class so named for tests
    """The send button, the number for a test SMS, and the result line.

    ``template`` and ``client`` give what the form and its preview now show.
    """

    def __init__(
        self,
        parent: tk.Misc,
        conn: sqlite3.Connection,
        passwords: PasswordStore,
        template: Callable[[], Template],
        client: Callable[[], Client],
    ) -> None:
        super().__init__(parent)
        self.conn, self.passwords = conn, passwords
        self.template, self.client = template, client
        line = ttk.Frame(self)
        line.pack(fill="x", pady=(4, 0))
        self.button = ttk.Button(
            line, text="Отправить себе", bootstyle="info-outline", command=self.send
        )
        self.button.pack(side="left")
        ttk.Label(line, text="SMS на номер:").pack(side="left", padx=(12, 0))
        self.number_var = tk.StringVar(self)
        ttk.Entry(line, textvariable=self.number_var, width=16).pack(side="left", padx=(4, 0))
        self.result_label = ttk.Label(self, text="", wraplength=620, justify="left")
        self.result_label.pack(anchor="w")

    def show_channel(self, sms: bool) -> None:
        """Name what the button does for the template's channel."""
        self.button.configure(text="Отправить SMS на номер" if sms else "Отправить себе")

    def send(self) -> None:
        """«Отправить себе»: this client's message to the sender, sent off the Tk thread."""
        template = self.template()
        channel = Channel.SMS if template.sms else Channel.EMAIL
        number = self.number_var.get().strip()
        if template.sms and not number:
            self.result_label.configure(
                text="Для SMS введите номер телефона, на который отправить проверку.",
                bootstyle="warning",
            )
            return
        try:
            setup = prepare_test(self.conn, self.passwords, channel)
        except SetupError as error:
            self.result_label.configure(text=str(error), bootstyle="danger")
            return
        client = self.client()
        self.result_label.configure(text="Отправка…", bootstyle="secondary")

        def work() -> CheckResult:
            if template.sms:
                return send_test_sms(setup, template, client, number)
            return send_to_self(setup, template, client)

        run_in_background(
            self, work, on_done=self._show_result, on_error=self._failed,
            disable=(self.button,), name="test-send",
        )  # fmt: skip

    def _show_result(self, result: CheckResult) -> None:
        self.result_label.configure(
            text=result.message, bootstyle="success" if result.ok else "danger"
        )

    def _failed(self, error: BaseException) -> None:
        """A bug, not a refusal (those come as a result): say so here, and report it as one."""
        self.result_label.configure(text=f"Отправка не удалась: {error}", bootstyle="danger")
        report_exception(self, error)
