"""The window "Сообщения email рассылки": the list of message templates (SPEC §2)."""

from __future__ import annotations

import sqlite3
import tkinter as tk

import ttkbootstrap as ttk

from avtoprokat_mail.credentials import PasswordStore
from avtoprokat_mail.model import Template
from avtoprokat_mail.sending.campaign import plan_run
from avtoprokat_mail.sending.setup import SendingSetup, prepare
from avtoprokat_mail.storage import database_file
from avtoprokat_mail.storage import runs as run_store
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.ui.dialogs import ask_yes_no, center_on_parent, show_info
from avtoprokat_mail.ui.formatting import format_time
from avtoprokat_mail.ui.progress_window import ProgressWindow
from avtoprokat_mail.ui.settings_window import SettingsWindow
from avtoprokat_mail.ui.start_dialog import StartDialog
from avtoprokat_mail.ui.template_form import TemplateForm

COLUMNS = (
    ("created", "Дата, время", 150),
    ("sent", "Отправлено", 150),
    ("sms", "SMS", 50),
    ("subject", "Тема", 380),
    ("note", "Примечание", 260),
)


class MailingWindow(ttk.Toplevel):
    """Templates: add, edit (double-click), copy, delete; "Старт" and "Параметры" on top."""

    def __init__(self, parent: tk.Misc, conn: sqlite3.Connection, passwords: PasswordStore) -> None:
        top = parent.winfo_toplevel()
        super().__init__(
            title="Сообщения email рассылки", master=top, transient=top, minsize=(820, 360)
        )
        self.conn = conn
        self.passwords = passwords
        self.templates: dict[str, Template] = {}
        self._build_toolbar()
        self._build_list()
        self.reload()
        self.bind("<Escape>", lambda _e: self.destroy())
        center_on_parent(self)

    def _build_toolbar(self) -> None:
        bar = ttk.Frame(self, padding=(10, 10, 10, 4))
        bar.pack(fill="x")
        self.buttons: dict[str, ttk.Button] = {}
        for text, command, style in (
            ("Старт", self.start, "success"),
            ("Параметры", self.settings, "secondary"),
            (None, None, None),
            ("Добавить", self.add, "primary"),
            ("Изменить", self.edit_selected, "primary-outline"),
            ("Копировать", self.copy_selected, "primary-outline"),
            ("Удалить", self.delete_selected, "danger-outline"),
        ):
            if text is None:
                ttk.Separator(bar, orient="vertical").pack(side="left", fill="y", padx=8)
                continue
            button = ttk.Button(bar, text=text, command=command, bootstyle=style)
            button.pack(side="left", padx=(0, 4))
            self.buttons[text] = button

    def _build_list(self) -> None:
        frame = ttk.Frame(self, padding=(10, 4, 10, 10))
        frame.pack(fill="both", expand=True)
        self.tree = ttk.Treeview(
            frame, columns=[c for c, _, _ in COLUMNS], show="headings", selectmode="browse"
        )
        for column, heading, width in COLUMNS:
            self.tree.heading(column, text=heading)
            self.tree.column(column, width=width, stretch=column in ("subject", "note"))
        scroll = ttk.Scrollbar(frame, orient="vertical", command=self.tree.yview)
        self.tree.configure(yscrollcommand=scroll.set)
        self.tree.pack(side="left", fill="both", expand=True)
        scroll.pack(side="right", fill="y")
        self.tree.bind("<Double-Button-1>", self._on_double_click)
        self.tree.bind("<Return>", lambda _e: self.edit_selected())
        self.tree.bind("<Delete>", lambda _e: self.delete_selected())

    def reload(self, select_id: int | None = None) -> None:
        """Re-read the templates, newest first, keeping or setting the selection."""
        if select_id is None:
            current = self.selected()
            select_id = current.id if current else None
        self.tree.delete(*self.tree.get_children())
        self.templates = {}
        for template in template_store.list_templates(self.conn):
            item = str(template.id)
            self.templates[item] = template
            subject = f"(SMS) {template.title()}" if template.sms else template.subject
            self.tree.insert("", "end", iid=item, values=(
                format_time(template.created), format_time(template.sent),
                "да" if template.sms else "", subject.replace("\n", " "), template.note,
            ))  # fmt: skip
        items = self.tree.get_children()
        chosen = str(select_id) if str(select_id) in self.templates else (items[0] if items else "")
        if chosen:
            self.tree.selection_set(chosen)
            self.tree.focus(chosen)
            self.tree.see(chosen)

    def selected(self) -> Template | None:
        selection = self.tree.selection()
        return self.templates.get(selection[0]) if selection else None

    def _on_double_click(self, event: tk.Event) -> None:
        if self.tree.identify_row(event.y):
            self.edit_selected()

    def add(self) -> TemplateForm:
        return TemplateForm(self, self.conn, None, on_saved=lambda i: self.reload(select_id=i),
                            passwords=self.passwords)  # fmt: skip

    def edit_selected(self) -> TemplateForm | None:
        template = self.selected()
        if template is None:
            return None
        fresh = template_store.get_template(self.conn, template.id) or template
        return TemplateForm(self, self.conn, fresh, on_saved=lambda i: self.reload(select_id=i),
                            passwords=self.passwords)  # fmt: skip

    def copy_selected(self) -> None:
        template = self.selected()
        if template is not None:
            self.reload(select_id=template_store.copy_template(self.conn, template.id))

    def delete_selected(self) -> None:
        template = self.selected()
        if template is None:
            return
        name = template.title(40) or f"№ {template.id}"
        if ask_yes_no(self, "Удаление шаблона", f"Удалить шаблон «{name}»?", danger=True):
            template_store.delete_template(self.conn, template.id)
            self.reload()

    def start(self) -> StartDialog | None:
        """«Старт»: the summary of what will happen, then the run and its progress window."""
        template = self.selected()
        if template is None:
            show_info(self, "Старт", "Выберите шаблон в списке.")
            return None
        template = template_store.get_template(self.conn, template.id) or template
        plan = plan_run(self.conn, template)
        return StartDialog(self, self.conn, plan, self.passwords, on_started=self.show_run)

    def show_run(self, run_id: int) -> ProgressWindow:
        """The progress window of a run (new, resumed or retried)."""
        return ProgressWindow(
            self, self.conn, database_file(self.conn), run_id, self.setup_for,
            on_finished=lambda _progress: self.reload(),
        )  # fmt: skip

    def setup_for(self, run_id: int) -> SendingSetup:
        run = run_store.get_run(self.conn, run_id)
        return prepare(self.conn, run.channel, run.transport, self.passwords)

    def settings(self) -> SettingsWindow:
        """«Параметры»: the EMail and SMS settings."""
        return SettingsWindow(self, self.conn, self.passwords)
