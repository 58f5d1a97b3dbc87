"""The template record form ("Сообщение рассылки"), as the seed describes it, plus a preview.

The form holds the fields, the placeholder buttons and the attachments; the preview
(ui/template_preview.py) and the test send (ui/testsend_panel.py) are frames of their own.
"""

from __future__ import annotations

import re
import sqlite3
import tkinter as tk
from collections.abc import Callable

import ttkbootstrap as ttk

from avtoprokat_mail.credentials import PasswordStore
from avtoprokat_mail.model import Template
from avtoprokat_mail.placeholders import PLACEHOLDERS, placeholder
from avtoprokat_mail.sending.message import UNSUBSCRIBE_LINE, with_unsubscribe_line
from avtoprokat_mail.sending.template_check import check_template
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.ui import filedialogs
from avtoprokat_mail.ui.desktop import OpenFileError, open_with_default_app
from avtoprokat_mail.ui.dialogs import ask_yes_no, close_asking, show_error
from avtoprokat_mail.ui.formatting import format_time
from avtoprokat_mail.ui.screen import ScrollArea, fit_window
from avtoprokat_mail.ui.template_preview import TemplatePreview
from avtoprokat_mail.ui.testsend_panel import SendTestPanel

# A placeholder's default ends at "%" and cannot span lines (see placeholders.py).
_DEFAULT_FORBIDDEN = re.compile(r"[%\r\n\v\f\x85\u2028\u2029]")


class TemplateForm(ttk.Toplevel):
    """Add or edit one template; "Сохранить" checks it, stores it and calls ``on_saved(id)``."""

    def __init__(
        self,
        parent: tk.Misc,
        conn: sqlite3.Connection,
        template: Template | None,
        on_saved: Callable[[int], None],
        passwords: PasswordStore,
    ) -> None:
        top = parent.winfo_toplevel()
        title = "Новое сообщение рассылки" if template is None else "Сообщение рассылки"
        super().__init__(title=title, master=top, transient=top, minsize=(640, 420))
        self.conn = conn
        self.template = template or Template()
        self.on_saved = on_saved
        self.passwords = passwords  # the program's one store
        self._refresh_pending = False
        self._readonly_vars: list[tk.StringVar] = []
        self._build()
        self.last_field: tk.Widget = self.body_text
        self.refresh_preview()
        self.bind("<Escape>", lambda _e: self.cancel())
        self.protocol("WM_DELETE_WINDOW", self.cancel)
        self.subject_entry.focus_set()
        self.saved_state = self.collect()
        fit_window(self, conn, "template_form")

    # --- construction --------------------------------------------------------------------------
    def _build(self) -> None:
        # The buttons first: packed at the bottom, they keep their room in a short window.
        self._build_buttons()
        self.scroll = ScrollArea(self, padding=(12, 12, 12, 0))
        self.scroll.pack(fill="both", expand=True)
        outer = self.scroll.content
        self._build_insert_buttons(outer)
        form = ttk.Frame(outer)
        form.pack(side="left", fill="both", expand=True, padx=(12, 0))
        form.columnconfigure(1, weight=1)
        self._build_fields(form)
        self._build_preview(form)

    def _build_insert_buttons(self, outer: ttk.Frame) -> None:
        column = ttk.Frame(outer)
        column.pack(side="left", fill="y")
        ttk.Label(column, text="Вставить в текст:").pack(anchor="w", pady=(0, 4))
        self.insert_buttons: dict[str, ttk.Button] = {}
        for name in PLACEHOLDERS:
            text = placeholder(name)
            button = ttk.Button(
                column,
                text=text,
                bootstyle="info-outline",
                takefocus=False,
                command=lambda n=name: self.insert_field(n),
            )
            button.pack(fill="x", pady=2)
            self.insert_buttons[text] = button
        # What the buttons add as a default: "сотрудник" makes them insert %Должность|сотрудник%.
        ttk.Label(column, text="Если поле пусто:").pack(anchor="w", pady=(6, 0))
        self.default_var = tk.StringVar(self)
        self.default_entry = ttk.Entry(column, textvariable=self.default_var, width=12)
        self.default_entry.pack(fill="x", pady=(2, 0))
        ttk.ToolTip(
            self.default_entry,
            text="Текст на случай, если у клиента поле не заполнено. Кнопки выше вставят, "
            "например, %Должность|сотрудник% — клиенту без должности придёт «сотрудник».",
            wraplength=320,
        )
        ttk.Separator(column).pack(fill="x", pady=8)
        self.paste_button = ttk.Button(
            column, text="Вставить", bootstyle="secondary", takefocus=False, command=self.paste
        )
        self.paste_button.pack(fill="x")

    def _build_fields(self, form: ttk.Frame) -> None:
        t = self.template
        times = ttk.Frame(form)
        times.grid(row=0, column=0, columnspan=2, sticky="w")
        ttk.Label(times, text="Дата, время:").pack(side="left")
        self.created_entry = self._readonly_entry(times, format_time(t.created))
        ttk.Label(times, text="Отправлено:").pack(side="left", padx=(16, 0))
        self.sent_entry = self._readonly_entry(times, format_time(t.sent))

        self.sms_var = tk.BooleanVar(self, value=t.sms)
        self.sms_check = ttk.Checkbutton(
            form, text="Отправлять SMS", variable=self.sms_var, bootstyle="round-toggle"
        )
        self.sms_check.grid(row=1, column=0, columnspan=2, sticky="w", pady=(8, 4))
        ttk.Label(form, text="Тема:").grid(row=2, column=0, sticky="w")
        self.subject_var = tk.StringVar(self, value=t.subject)
        self.subject_entry = ttk.Entry(form, textvariable=self.subject_var)
        self.subject_entry.grid(row=2, column=1, sticky="ew", pady=2)

        ttk.Label(form, text="Сообщение:").grid(row=3, column=0, sticky="nw", pady=(4, 0))
        text_frame = ttk.Frame(form)
        text_frame.grid(row=3, column=1, sticky="nsew", pady=2)
        form.rowconfigure(3, weight=1)
        self.body_text = tk.Text(text_frame, height=10, wrap="word", undo=True, font="TkTextFont")
        scroll = ttk.Scrollbar(text_frame, orient="vertical", command=self.body_text.yview)
        self.body_text.configure(yscrollcommand=scroll.set)
        self.body_text.pack(side="left", fill="both", expand=True)
        scroll.pack(side="right", fill="y")
        self.body_text.insert("1.0", t.body)
        self.body_text.edit_reset()
        self.counter_label = ttk.Label(form, text="", bootstyle="secondary")
        self.counter_label.grid(row=4, column=1, sticky="w")
        wanted = UNSUBSCRIBE_LINE in t.body or (t.id is None and not t.body and not t.sms)
        self.unsubscribe_var = tk.BooleanVar(self, value=wanted)
        self.unsubscribe_check = ttk.Checkbutton(
            form, text="Строка об отписке в конце письма", variable=self.unsubscribe_var
        )
        self.unsubscribe_check.grid(row=4, column=1, sticky="e")
        self.unsubscribe_var.trace_add("write", lambda *_: self._schedule_refresh())

        self.attachment_vars: list[tk.StringVar] = []
        self.pick_buttons: list[ttk.Button] = []
        self.view_buttons: list[ttk.Button] = []
        for number, value in enumerate((t.attachment1, t.attachment2), start=1):
            self._attachment_row(form, 4 + number, number, value)
        ttk.Label(form, text="Примечание:").grid(row=7, column=0, sticky="w")
        self.note_var = tk.StringVar(self, value=t.note)
        ttk.Entry(form, textvariable=self.note_var).grid(row=7, column=1, sticky="ew", pady=2)

        self.subject_entry.bind("<FocusIn>", lambda _e: self._remember(self.subject_entry))
        self.body_text.bind("<FocusIn>", lambda _e: self._remember(self.body_text))
        self.body_text.bind("<<Modified>>", self._on_body_modified)
        for var in (self.subject_var, self.sms_var):
            var.trace_add("write", lambda *_: self._schedule_refresh())

    def _readonly_entry(self, parent: ttk.Frame, value: str) -> ttk.Entry:
        var = tk.StringVar(self, value=value or "—")
        self._readonly_vars.append(var)  # a Tk variable lives only while Python holds it
        entry = ttk.Entry(parent, textvariable=var, width=17, state="readonly")
        entry.pack(side="left", padx=(4, 0))
        return entry

    def _attachment_row(self, form: ttk.Frame, row: int, number: int, value: str) -> None:
        ttk.Label(form, text=f"Приложение {number}:").grid(row=row, column=0, sticky="w")
        line = ttk.Frame(form)
        line.grid(row=row, column=1, sticky="ew", pady=2)
        var = tk.StringVar(self, value=value)
        ttk.Entry(line, textvariable=var).pack(side="left", fill="x", expand=True)
        pick = ttk.Button(
            line, text="Выбрать…", bootstyle="secondary-outline",
            command=lambda: self.pick_attachment(number),
        )  # fmt: skip
        pick.pack(side="left", padx=(4, 0))
        view = ttk.Button(
            line, text="Просмотр", bootstyle="secondary-outline",
            command=lambda: self.view_attachment(number),
        )  # fmt: skip
        view.pack(side="left", padx=(4, 0))
        ttk.Button(
            line, text="✕", bootstyle="secondary-link", width=2, command=lambda: var.set("")
        ).pack(side="left")
        self.pick_buttons.append(pick)
        self.view_buttons.append(view)
        self.attachment_vars.append(var)

    def _build_preview(self, form: ttk.Frame) -> None:
        """The preview for a chosen client, and under it the test send to that client."""
        box = ttk.Labelframe(form, text="Как сообщение увидит клиент", padding=8)
        box.grid(row=8, column=0, columnspan=2, sticky="nsew", pady=(10, 0))
        form.rowconfigure(8, weight=1)
        self.preview = TemplatePreview(box, self.conn, self.counter_label, self._schedule_refresh)
        self.preview.pack(fill="both", expand=True)
        self.test_send = SendTestPanel(
            box, self.conn, self.passwords, template=self.collect, client=self.preview.client
        )
        self.test_send.pack(fill="x")

    def _build_buttons(self) -> None:
        bar = ttk.Frame(self, padding=(12, 6, 12, 12))
        bar.pack(side="bottom", fill="x")
        buttons = ttk.Frame(bar)
        buttons.pack(side="right", anchor="n")
        self.save_button = ttk.Button(buttons, text="Сохранить", command=self.save)
        self.save_button.pack(side="left")
        self.cancel_button = ttk.Button(
            buttons, text="Отмена", bootstyle="secondary", command=self.cancel
        )
        self.cancel_button.pack(side="left", padx=(8, 0))
        # Errors wrap beside the buttons: the line grows downwards, never the window.
        self.message_label = ttk.Label(bar, text="", bootstyle="danger", justify="left")
        self.message_label.pack(side="left", fill="x", expand=True, anchor="w")
        self.message_label.bind(
            "<Configure>", lambda e: self.message_label.configure(wraplength=max(e.width, 200))
        )

    # --- the fields ---------------------------------------------------------------------------
    def _remember(self, widget: tk.Widget) -> None:
        self.last_field = widget

    def body(self) -> str:
        """The message text without the newline tk.Text always adds at the end."""
        return self.body_text.get("1.0", "end-1c")

    def insert_field(self, name: str) -> None:
        """An insert button: the placeholder, with the «Если поле пусто» text as its default."""
        typed = self.default_var.get()
        default = _DEFAULT_FORBIDDEN.sub("", typed).strip()
        if default != typed.strip():
            self.message_label.configure(
                text="Знак «%» и перенос строки в тексте «Если поле пусто» не поддерживаются "
                "и пропущены."
            )
        self.insert_placeholder(placeholder(name, default or None))

    def insert_placeholder(self, text: str) -> None:
        """Insert ``text`` at the cursor of the subject or message, whichever had focus last."""
        self.last_field.insert("insert", text)
        self.last_field.focus_set()
        self._schedule_refresh()

    def paste(self) -> None:
        """Insert the clipboard's text into "Сообщение" at its cursor."""
        try:
            text = self.clipboard_get()
        except tk.TclError:
            text = ""
        if not text:
            self.message_label.configure(text="Буфер обмена пуст или в нём не текст.")
            return
        self.message_label.configure(text="")
        self.body_text.insert("insert", text)
        self.body_text.focus_set()
        self._schedule_refresh()

    def pick_attachment(self, number: int) -> None:
        path = filedialogs.ask_open_path(self, title=f"Приложение {number}")
        if path:
            self.attachment_vars[number - 1].set(path)

    def view_attachment(self, number: int) -> None:
        path = self.attachment_vars[number - 1].get().strip()
        if not path:
            self.message_label.configure(text=f"Приложение {number} не выбрано.")
            return
        try:
            open_with_default_app(path)
        except OpenFileError as error:
            show_error(self, f"Приложение {number}", str(error))

    def collect(self) -> Template:
        """The template as the form now shows it."""
        t = self.template
        sms = self.sms_var.get()
        return Template(
            subject=self.subject_var.get(),
            body=with_unsubscribe_line(self.body(), self.unsubscribe_var.get() and not sms),
            sms=sms,
            attachment1=self.attachment_vars[0].get().strip(),
            attachment2=self.attachment_vars[1].get().strip(),
            note=self.note_var.get(),
            created=t.created,
            sent=t.sent,
            id=t.id,
        )

    # --- preview ------------------------------------------------------------------------------
    def _on_body_modified(self, _event: tk.Event) -> None:
        if self.body_text.edit_modified():
            self.body_text.edit_modified(False)
            self._schedule_refresh()

    def _schedule_refresh(self) -> None:
        if not self._refresh_pending:
            self._refresh_pending = True
            self.after_idle(self.refresh_preview)

    def refresh_preview(self) -> None:
        """Show the message as the chosen client will get it; the subject only for email."""
        self._refresh_pending = False
        if not self.winfo_exists():
            return
        template = self.collect()
        self.preview.show(template)
        self.subject_entry.configure(state="disabled" if template.sms else "normal")
        self.unsubscribe_check.configure(state="disabled" if template.sms else "normal")
        self.test_send.show_channel(template.sms)

    # --- saving ---------------------------------------------------------------------------------
    @property
    def changed(self) -> bool:
        """True when the form holds edits not yet saved."""
        return self.collect() != self.saved_state

    def cancel(self) -> bool:
        """«Отмена»: close, asking first what to do with unsaved edits; True when closed."""
        return close_asking(self, self.changed, self.save, "Сообщение изменено.")

    def save(self) -> bool:
        """Check, store and close; returns True when saved."""
        template = self.collect()
        check = check_template(template)
        if check.errors:
            self.message_label.configure(text="\n".join(check.errors))
            return False
        if check.warnings and not ask_yes_no(
            self, "Сохранение шаблона", "\n\n".join(check.warnings) + "\n\nСохранить шаблон?"
        ):
            return False
        if template.id is None:
            template_store.add_template(self.conn, template)
        else:
            template_store.update_template(self.conn, template)
        self.destroy()
        self.on_saved(template.id)
        return True
