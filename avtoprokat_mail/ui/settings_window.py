"""The settings window "Параметры рассылки": the EMail and SMS tabs.

The connection checks run off the Tk thread (ui/background.py): the worker never touches Tk,
its :class:`CheckResult` reaches the tab on the Tk thread.
"""

from __future__ import annotations

import sqlite3
import tkinter as tk
from collections.abc import Callable

import ttkbootstrap as ttk

from avtoprokat_mail.credentials import (
    NO_SECURE_STORE,
    CredentialsError,
    PasswordStore,
    sms_account,
    smtp_account,
)
from avtoprokat_mail.model import (
    APP_PASSWORD_HINT,
    IMAP_PRESETS,
    OTHER_PRESET,
    PRESETS,
    SECURITY_NAMES,
    SMS_ENDPOINTS,
    SMS_PROVIDER_NAMES,
    EmailSettings,
    ImapSettings,
    Security,
    SmsProvider,
    SmsSettings,
    preset_for,
)
from avtoprokat_mail.sending.checks import CheckResult
from avtoprokat_mail.storage.settings import (
    load_email_settings,
    load_imap_settings,
    load_sms_settings,
    save_email_settings,
    save_imap_settings,
    save_sms_settings,
)
from avtoprokat_mail.ui.background import BackgroundTask, run_in_background
from avtoprokat_mail.ui.dialogs import ask_password, close_asking, variable_values
from avtoprokat_mail.ui.mailboxes_tab import MailboxesTab
from avtoprokat_mail.ui.screen import ScrollArea, fit_window
from avtoprokat_mail.validation import (
    MAX_CONNECTIONS,
    SettingsError,
    email_settings_problems,
    sms_settings_problems,
)


class SettingsWindow(ttk.Toplevel):
    """Edit, check and save the EMail and SMS settings; passwords go to the credential store."""

    def __init__(self, parent: tk.Misc, conn: sqlite3.Connection, passwords: PasswordStore) -> None:
        top = parent.winfo_toplevel()
        super().__init__(title="Параметры рассылки", master=top, transient=top, minsize=(640, 400))
        self.conn = conn
        self.passwords = passwords
        self.checks: dict[str, BackgroundTask] = {}  # the latest check of each tab
        self.email = load_email_settings(conn)
        self.imap = load_imap_settings(conn)
        self.sms = load_sms_settings(conn)
        self._build_buttons()  # first: at the bottom, they keep their room in a short window
        self.notebook = ttk.Notebook(self)
        self.notebook.pack(fill="both", expand=True, padx=10, pady=(10, 0))
        self.email_tab = EmailTab(self.notebook, self)
        self.sms_tab = SmsTab(self.notebook, self)
        self.mailboxes_tab = MailboxesTab(self.notebook, self)
        self.notebook.add(self.email_tab.page, text="EMail")
        self.notebook.add(self.mailboxes_tab, text="Ещё ящики")
        self.notebook.add(self.sms_tab.page, text="SMS")
        self.bind("<Escape>", lambda _e: self.cancel())
        self.protocol("WM_DELETE_WINDOW", self.cancel)
        self.saved_values = self._values()
        fit_window(self, conn, "settings")

    def _values(self) -> dict[str, object]:
        return variable_values(self.email_tab, self.sms_tab)

    def cancel(self) -> bool:
        """«Отмена»: close, asking first about unsaved edits; True when closed."""
        changed = self._values() != self.saved_values
        return close_asking(self, changed, self.save, "Параметры изменены.")

    def show_tab(self, tab: tk.Widget) -> None:
        """Bring a tab forward (a scrolled tab is shown by its page)."""
        self.notebook.select(getattr(tab, "page", tab))

    @property
    def shown_tab(self) -> tk.Widget:
        """The tab now in front."""
        page = self.nametowidget(self.notebook.select())
        for tab in (self.email_tab, self.sms_tab, self.mailboxes_tab):
            if getattr(tab, "page", tab) is page:
                return tab
        return page

    def _build_buttons(self) -> None:
        bar = ttk.Frame(self, padding=10)
        bar.pack(side="bottom", fill="x")
        self.error_label = ttk.Label(bar, text="", bootstyle="danger", wraplength=600)
        self.error_label.pack(side="top", anchor="w", fill="x")
        self.cancel_button = ttk.Button(
            bar, text="Отмена", bootstyle="secondary", command=self.cancel
        )
        self.cancel_button.pack(side="right")
        self.save_button = ttk.Button(bar, text="Сохранить", command=self.save)
        self.save_button.pack(side="right", padx=(0, 8))

    # --- saving --------------------------------------------------------------------------------
    def save(self) -> bool:
        """Check both tabs, store the settings and any typed password; close when saved."""
        try:
            email, sms = self.email_tab.collect(), self.sms_tab.collect()
        except SettingsError as error:
            self.error_label.configure(text=str(error))
            return False
        for tab, problems in (
            (self.email_tab, email_settings_problems(email)),
            (self.sms_tab, sms_settings_problems(sms)),
        ):
            if problems:
                self.show_tab(tab)
                self.error_label.configure(text="\n".join(problems))
                return False
        try:
            imap = self.email_tab.collect_imap()
            save_email_settings(self.conn, email)
            save_imap_settings(self.conn, imap)
            save_sms_settings(self.conn, sms)
            self.email_tab.store_typed_password(email)
            self.sms_tab.store_typed_password(sms)
        except (SettingsError, CredentialsError) as error:
            self.error_label.configure(text=str(error))
            return False
        self.destroy()
        return True

    # --- checks on a worker thread ---------------------------------------------------------------
    def run_check(self, name: str, check: Callable[[], CheckResult]) -> None:
        """Run ``check`` off the Tk thread, its tab's button disabled; the tab shows the result."""
        if name in self.checks and self.checks[name].running:
            return
        tab = self.email_tab if name == "email" else self.sms_tab

        def failed(error: BaseException) -> None:
            tab.show_result(CheckResult(False, f"Проверка не удалась: {error}"))

        self.checks[name] = run_in_background(
            self, check, on_done=tab.show_result, on_error=failed,
            disable=(tab.check_button,), name=f"check-{name}",
        )  # fmt: skip


class _Tab(ttk.Frame):
    """Shared by both tabs: a grid of labelled fields, a password row and a check row."""

    def __init__(self, notebook: ttk.Notebook, window: SettingsWindow) -> None:
        # The fields scroll when the window is shorter than they are (150 % on a laptop).
        self.page = ScrollArea(notebook)
        super().__init__(self.page.canvas, padding=12)
        self.page.hold(self)
        self.window = window
        self.columnconfigure(1, weight=1)
        self.row = 0

    def field(self, label: str, widget: tk.Widget) -> tk.Widget:
        ttk.Label(self, text=label).grid(row=self.row, column=0, sticky="w", pady=3)
        widget.grid(row=self.row, column=1, sticky="ew", pady=3, padx=(8, 0))
        self.row += 1
        return widget

    def entry(self, label: str, value: str, **options) -> tk.StringVar:
        var = tk.StringVar(self, value=value)
        self.field(label, ttk.Entry(self, textvariable=var, **options))
        return var

    def password_row(self, label: str) -> None:
        self.password_var = tk.StringVar(self)
        line = ttk.Frame(self)
        self.password_entry = ttk.Entry(line, textvariable=self.password_var, show="•", width=24)
        self.password_entry.pack(side="left")
        self.password_state = ttk.Label(line, text="", bootstyle="secondary")
        self.password_state.pack(side="left", padx=(8, 0))
        self.field(label, line)

    def check_row(self, text: str) -> None:
        line = ttk.Frame(self)
        line.grid(row=self.row, column=0, columnspan=2, sticky="ew", pady=(12, 0))
        self.check_button = ttk.Button(line, text=text, bootstyle="info", command=self.check)
        self.check_button.pack(side="left")
        self.result_label = ttk.Label(line, text="", wraplength=440, justify="left")
        self.result_label.pack(side="left", padx=(10, 0), fill="x")
        self.row += 1

    def account(self) -> str:
        """The credential-store account the fields now name (changes with login and server)."""
        return self.account_of(self.collect())

    def update_password_state(self) -> None:
        """Say whether a password is stored for the account the fields now name; never show it."""
        try:
            stored = self.window.passwords.is_set(self.account())
        except SettingsError:
            return  # a half-typed number: the state follows once it parses
        except CredentialsError as error:
            self.password_state.configure(text=str(error))
            return
        if not self.window.passwords.secure:
            text = "задан на этот сеанс" if stored else "не сохраняется (нет хранилища)"
        else:
            text = "сохранён в хранилище паролей" if stored else "не задан"
        self.password_state.configure(text=text)

    def password_for_check(self, title: str) -> str | None:
        """The typed password, else the stored one, else ask (once per session, not stored)."""
        typed = self.password_var.get()
        if typed:
            return typed
        stored = self.window.passwords.get(self.account())
        if stored or self.window.passwords.secure:
            return stored
        password = ask_password(self.window, title, NO_SECURE_STORE)
        if password:
            self.window.passwords.set(self.account(), password)
            self.update_password_state()
        return password

    def store_typed_password(self, settings) -> None:
        typed = self.password_var.get()
        if typed:
            self.window.passwords.set(self.account_of(settings), typed)
            self.password_var.set("")

    def show_result(self, result: CheckResult) -> None:
        self.check_button.configure(state="normal")
        self.result_label.configure(
            text=result.message, bootstyle="success" if result.ok else "danger"
        )

    def check(self) -> None:
        """The tab's check button: validate the form's values, then check them off the Tk thread.

        Subclasses give ``problems``, ``needs_password``, ``password_title`` and ``run_check``.
        """
        try:
            settings = self.collect()
        except SettingsError as error:
            self.show_result(CheckResult(False, str(error)))
            return
        if problems := self.problems(settings):
            self.show_result(CheckResult(False, "\n".join(problems)))
            return
        secret = (
            self.password_for_check(self.password_title) if self.needs_password(settings) else None
        )
        self.result_label.configure(text="Проверка…", bootstyle="secondary")
        self.window.run_check(self.name, lambda: self.run_check(settings, secret))


class EmailTab(_Tab):
    """«EMail»: the seed's fields plus security, presets, timeout and a per-minute limit."""

    name = "email"

    def __init__(self, notebook: ttk.Notebook, window: SettingsWindow) -> None:
        super().__init__(notebook, window)
        s = window.email
        self.preset_var = tk.StringVar(self, value=preset_for(s.host, s.port, s.security))
        preset_box = ttk.Combobox(
            self, textvariable=self.preset_var, state="readonly",
            values=[*(p.name for p in PRESETS), OTHER_PRESET],
        )  # fmt: skip
        self.field("Почтовый сервис:", preset_box)
        self.preset_var.trace_add("write", lambda *_: self.apply_preset())
        self.sender_name_var = self.entry("Отправитель:", s.sender_name)
        self.sender_address_var = self.entry("Email отправителя:", s.sender_address)
        self.host_var = self.entry("SMTP-сервер:", s.host)
        self.port_var = self.entry("Порт:", str(s.port), width=8)
        self.security_var = tk.StringVar(self, value=SECURITY_NAMES[s.security])
        self.field("Шифрование:", ttk.Combobox(
            self, textvariable=self.security_var, state="readonly",
            values=list(SECURITY_NAMES.values()),
        ))  # fmt: skip
        self.auth_var = tk.BooleanVar(self, value=s.auth)
        ttk.Checkbutton(self, text="Требуется аутентификация SMTP", variable=self.auth_var).grid(
            row=self.row, column=1, sticky="w", pady=3, padx=(8, 0)
        )
        self.row += 1
        self.user_var = self.entry("Пользователь:", s.user)
        self.password_row("Пароль:")
        self._imap_row(window.imap)
        self.timeout_var = self.entry("Тайм-аут, секунд:", str(s.timeout), width=8)
        self.per_minute_var = self.entry(
            "Писем в минуту (0 — без ограничения):", str(s.per_minute), width=8
        )
        self.daily_limit_var = self.entry(
            "Писем в сутки с этого ящика (0 — без ограничения):", str(s.daily_limit), width=8
        )
        self.connections_var = self.entry(
            f"Одновременных соединений (1–{MAX_CONNECTIONS}):", str(s.connections), width=8
        )
        # Advertising by email or SMS needs the client's prior consent: runs may be held to it.
        self.require_consent_var = tk.BooleanVar(self, value=s.require_consent)
        ttk.Checkbutton(
            self, text="Только клиентам с согласием на рассылку",
            variable=self.require_consent_var,
        ).grid(row=self.row, column=0, columnspan=2, sticky="w", pady=3)  # fmt: skip
        self.row += 1
        hint = ttk.Label(self, text=APP_PASSWORD_HINT, wraplength=560, bootstyle="info")
        hint.grid(row=self.row, column=0, columnspan=2, sticky="w", pady=(8, 0))
        self.row += 1
        if not window.passwords.secure:
            ttk.Label(self, text=NO_SECURE_STORE, wraplength=560, bootstyle="warning").grid(
                row=self.row, column=0, columnspan=2, sticky="w", pady=(4, 0)
            )
            self.row += 1
        self.check_row("Проверить соединение")
        for var in (self.user_var, self.host_var):
            var.trace_add("write", lambda *_: self.update_password_state())
        self.update_password_state()

    def _imap_row(self, imap: ImapSettings) -> None:
        """The INBOX that «Проверить почту» reads: server, port, encryption on one line."""
        line = ttk.Frame(self)
        self.imap_host_var = tk.StringVar(self, value=imap.host)
        self.imap_port_var = tk.StringVar(self, value=str(imap.port))
        self.imap_security_var = tk.StringVar(self, value=SECURITY_NAMES[imap.security])
        self.imap_user = imap.user  # a login of its own is set from the command line
        ttk.Entry(line, textvariable=self.imap_host_var).pack(side="left", fill="x", expand=True)
        ttk.Label(line, text="порт").pack(side="left", padx=(6, 4))
        ttk.Entry(line, textvariable=self.imap_port_var, width=6).pack(side="left")
        ttk.Combobox(
            line, textvariable=self.imap_security_var, state="readonly", width=14,
            values=list(SECURITY_NAMES.values()),
        ).pack(side="left", padx=(6, 0))  # fmt: skip
        self.field("IMAP (для «Проверить почту»):", line)

    def collect_imap(self) -> ImapSettings:
        security = next(k for k, v in SECURITY_NAMES.items() if v == self.imap_security_var.get())
        return ImapSettings(
            host=self.imap_host_var.get().strip().lower(),
            port=_number(self.imap_port_var.get(), "Порт IMAP"),
            security=Security(security),
            user=self.imap_user,
        )

    def check(self) -> None:
        """«Проверить соединение»: SMTP, and the IMAP login when a server is given."""
        try:
            self.imap_for_check = self.collect_imap()  # read on the Tk thread, used by the worker
        except SettingsError as error:
            self.show_result(CheckResult(False, str(error)))
            return
        super().check()

    def apply_preset(self) -> None:
        """Fill server, port and security from the chosen provider ("другой" changes nothing)."""
        preset = next((p for p in PRESETS if p.name == self.preset_var.get()), None)
        if preset is None:
            return
        self.imap_host_var.set(IMAP_PRESETS.get(preset.host, ""))
        self.imap_port_var.set("993")
        self.imap_security_var.set(SECURITY_NAMES[Security.SSL])
        self.host_var.set(preset.host)
        self.port_var.set(str(preset.port))
        self.security_var.set(SECURITY_NAMES[preset.security])
        self.auth_var.set(True)
        self.daily_limit_var.set(str(preset.daily_limit))  # the provider's own figure
        self.connections_var.set("1")  # public mailboxes frown on parallel connections
        if not self.user_var.get() and self.sender_address_var.get():
            self.user_var.set(self.sender_address_var.get())

    def collect(self) -> EmailSettings:
        """The settings as the tab shows them (numbers that do not parse stay as typed)."""
        security = next(k for k, v in SECURITY_NAMES.items() if v == self.security_var.get())
        return EmailSettings(
            sender_name=self.sender_name_var.get().strip(),
            sender_address=self.sender_address_var.get().strip(),
            host=self.host_var.get().strip().lower(),
            port=_number(self.port_var.get(), "Порт"),
            security=Security(security),
            auth=self.auth_var.get(),
            user=self.user_var.get().strip(),
            per_minute=_number(self.per_minute_var.get(), "Писем в минуту"),
            timeout=_number(self.timeout_var.get(), "Тайм-аут"),
            daily_limit=_number(self.daily_limit_var.get(), "Писем в сутки"),
            require_consent=self.require_consent_var.get(),
            connections=_number(self.connections_var.get(), "Одновременных соединений"),
        )

    @staticmethod
    def account_of(settings: EmailSettings) -> str:
        return smtp_account(settings)

    password_title = "Пароль SMTP"

    @staticmethod
    def problems(settings: EmailSettings) -> list[str]:
        if not settings.host:
            return ["SMTP-сервер: укажите сервер, например smtp.mail.ru"]
        return email_settings_problems(settings)

    @staticmethod
    def needs_password(settings: EmailSettings) -> bool:
        return settings.auth

    def run_check(self, settings: EmailSettings, password: str | None) -> CheckResult:
        """ "Проверить соединение": connect, TLS, log in (SMTP, then IMAP); sends nothing."""
        from avtoprokat_mail.sending.imap import check_imap
        from avtoprokat_mail.sending.smtp import check_smtp

        result = check_smtp(settings, password)
        imap = getattr(self, "imap_for_check", None)
        if imap is None or not imap.host:
            return result
        inbox = check_imap(imap, imap.user or settings.user, password)
        return CheckResult(result.ok and inbox.ok, f"{result.message}\n{inbox.message}")


class SmsTab(_Tab):
    """«SMS»: the gateway, its login and key, the sender name, the base URL and a rate limit."""

    name = "sms"

    def __init__(self, notebook: ttk.Notebook, window: SettingsWindow) -> None:
        super().__init__(notebook, window)
        s = window.sms
        self.provider_var = tk.StringVar(self, value=SMS_PROVIDER_NAMES[s.provider])
        self.field("SMS-шлюз:", ttk.Combobox(
            self, textvariable=self.provider_var, state="readonly",
            values=list(SMS_PROVIDER_NAMES.values()),
        ))  # fmt: skip
        self.login_var = self.entry("Логин (SMSC.ru):", s.login)
        self.password_row("API-ключ или пароль:")
        self.sender_var = self.entry("Имя отправителя:", s.sender)
        self.per_minute_var = self.entry(
            "SMS в минуту (0 — без ограничения):", str(s.per_minute), width=8
        )
        self.endpoint_var = self.entry("Адрес шлюза (для опытных):", s.endpoint)
        self.endpoint_hint = ttk.Label(self, text="", bootstyle="secondary")
        self.endpoint_hint.grid(row=self.row, column=1, sticky="w", padx=(8, 0))
        self.row += 1
        ttk.Label(
            self,
            text="SMS.ru: нужен только API-ключ (api_id). SMSC.ru: логин и пароль, "
            "или пустой логин и API-ключ.",
            wraplength=560, bootstyle="info",
        ).grid(row=self.row, column=0, columnspan=2, sticky="w", pady=(8, 0))  # fmt: skip
        self.row += 1
        self.check_row("Проверить баланс")
        for var in (self.provider_var, self.login_var):
            var.trace_add("write", lambda *_: self._on_account_change())
        self._on_account_change()

    def _on_account_change(self) -> None:
        provider = next(k for k, v in SMS_PROVIDER_NAMES.items() if v == self.provider_var.get())
        self.endpoint_hint.configure(text=f"пусто — {SMS_ENDPOINTS[provider]}")
        self.update_password_state()

    def collect(self) -> SmsSettings:
        provider = next(k for k, v in SMS_PROVIDER_NAMES.items() if v == self.provider_var.get())
        return SmsSettings(
            provider=SmsProvider(provider),
            login=self.login_var.get().strip(),
            sender=self.sender_var.get().strip(),
            endpoint=self.endpoint_var.get().strip().rstrip("/"),
            per_minute=_number(self.per_minute_var.get(), "SMS в минуту"),
        )

    @staticmethod
    def account_of(settings: SmsSettings) -> str:
        return sms_account(settings)

    password_title = "Ключ SMS-шлюза"
    problems = staticmethod(sms_settings_problems)

    @staticmethod
    def needs_password(settings: SmsSettings) -> bool:
        return True

    @staticmethod
    def run_check(settings: SmsSettings, secret: str | None) -> CheckResult:
        """ "Проверить баланс": asks the gateway for the balance; sends nothing."""
        from avtoprokat_mail.sending.sms.providers import check_sms

        return check_sms(settings, secret)


def _number(text: str, label: str) -> int:
    """A typed whole number; SettingsError naming the field for anything else."""
    try:
        return int(text.strip())
    except ValueError:
        raise SettingsError(f"{label}: нужно целое число, а не «{text.strip()}»") from None
