"""The window "Сообщения email рассылки": the templates, and the runs of the selected one."""

from __future__ import annotations

import sqlite3
import tkinter as tk

import ttkbootstrap as ttk

from avtoprokat_mail.model import DeliveryStatus, Template
from avtoprokat_mail.sending.lifecycle import Mailer, PreparedRun, RunRefused
from avtoprokat_mail.sending.setup import SetupError
from avtoprokat_mail.storage import runs as run_store
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.ui.dialogs import ask_yes_no, show_error, show_info
from avtoprokat_mail.ui.formatting import format_time, run_status_text
from avtoprokat_mail.ui.mail_check import MailCheckWindow
from avtoprokat_mail.ui.progress_window import ProgressWindow
from avtoprokat_mail.ui.screen import fit_window
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
RUN_COLUMNS = (
    ("id", "№", 50),
    ("started", "Начата", 140),
    ("status", "Состояние", 220),
    ("sent", "Отправлено", 110),
    ("failed", "Ошибок", 80),
    ("pending", "Не отправлено", 130),
)


class MailingWindow(ttk.Toplevel):
    """Templates: add, edit (double-click), copy, delete; "Старт" and "Параметры" on top."""

    def __init__(self, parent: tk.Misc, mailer: Mailer) -> None:
        top = parent.winfo_toplevel()
        # Not transient: the main window can be brought in front of it (a transient window
        # stays above its owner and covers it on Windows).
        super().__init__(title="Сообщения email рассылки", master=top, minsize=(820, 400))
        self.mailer = mailer
        self.directory = parent  # the client directory, refreshed when «Проверить почту» changes it
        self.conn: sqlite3.Connection = mailer.conn
        self.passwords = mailer.passwords
        self.templates: dict[str, Template] = {}
        self._build_toolbar()
        self._build_list()
        self._build_runs()
        self.reload()
        self.bind("<Escape>", lambda _e: self.destroy())
        fit_window(self, self.conn, "mailing")

    def _build_toolbar(self) -> None:
        bar = ttk.Frame(self, padding=(10, 10, 10, 4))
        bar.pack(fill="x")
        self.buttons: dict[str, ttk.Button] = {}
        for text, command, style in (
            ("Старт", self.start, "success"),
            ("Параметры", self.settings, "secondary"),
            ("Проверить почту", self.check_mail, "info-outline"),
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
        self.tree.bind("<<TreeviewSelect>>", lambda _e: self.reload_runs())

    def _build_runs(self) -> None:
        """The runs of the selected template: finish a cancelled one, or see its report."""
        frame = ttk.Labelframe(self, text="Рассылки этого шаблона", padding=(8, 4, 8, 8))
        # Packed before the template list: a short window squeezes the list, not this.
        frame.pack(side="bottom", fill="x", padx=10, pady=(0, 10), before=self.tree.master)
        bar = ttk.Frame(frame)
        bar.pack(fill="x", pady=(0, 4))
        self.continue_button = ttk.Button(bar, text="Продолжить рассылку", bootstyle="success",
                                          command=self.continue_selected_run)  # fmt: skip
        self.continue_button.pack(side="left")
        self.report_button = ttk.Button(bar, text="Отчёт…", bootstyle="primary-outline",
                                        command=self.show_selected_report)  # fmt: skip
        self.report_button.pack(side="left", padx=(4, 0))
        self.run_note = ttk.Label(bar, text="", bootstyle="secondary")
        self.run_note.pack(side="left", padx=(8, 0))
        self.runs = ttk.Treeview(frame, columns=[c for c, _, _ in RUN_COLUMNS], show="headings",
                                 selectmode="browse", height=4)  # fmt: skip
        for column, heading, width in RUN_COLUMNS:
            self.runs.heading(column, text=heading)
            self.runs.column(column, width=width, stretch=column == "status")
        self.runs.pack(fill="x")
        self.runs.bind("<<TreeviewSelect>>", lambda _e: self._update_run_buttons())
        self.runs.bind("<Double-Button-1>", lambda _e: self.show_selected_report())

    def reload_runs(self) -> None:
        """Show the runs of the selected template, newest first."""
        self.runs.delete(*self.runs.get_children())
        template = self.selected()
        runs = run_store.runs_of_template(self.conn, template.id) if template else []
        counts = run_store.status_counts_of(self.conn, [run.id for run in runs])
        for run in runs:
            c = counts[run.id]
            status = self.mailer.status_of(run)
            self.runs.insert("", "end", iid=str(run.id), values=(
                run.id, format_time(run.started), run_status_text(status, run.test),
                c[DeliveryStatus.SENT], c[DeliveryStatus.FAILED], c[DeliveryStatus.PENDING],
            ))  # fmt: skip
        items = self.runs.get_children()
        if items:
            self.runs.selection_set(items[0])
        self._update_run_buttons()

    def selected_run(self) -> int | None:
        selection = self.runs.selection()
        return int(selection[0]) if selection else None

    def _update_run_buttons(self) -> None:
        run_id = self.selected_run()
        why = "Выберите рассылку в списке." if run_id is None else ""
        if run_id is not None:
            why = self.mailer.state(run_id).why_not_continue()
        self.continue_button.configure(state="disabled" if why else "normal")
        self.report_button.configure(state="disabled" if run_id is None else "normal")
        self.run_note.configure(text=why if run_id is not None else "")

    def continue_selected_run(self) -> ProgressWindow | None:
        run_id = self.selected_run()
        return None if run_id is None else self.continue_run(run_id)

    def continue_run(self, run_id: int) -> ProgressWindow | None:
        """Finish a cancelled, stopped or interrupted run under its own number."""
        try:
            prepared = self.mailer.resume(run_id)
        except (SetupError, RunRefused) as error:
            show_error(self, "Продолжить рассылку", str(error))
            return None
        return self.show_run(prepared)

    def show_selected_report(self) -> ProgressWindow | None:
        run_id = self.selected_run()
        if run_id is None:
            return None
        return ProgressWindow(self, self.mailer, run_id, on_finished=lambda _p: self.reload())

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
        if hasattr(self, "runs"):
            self.reload_runs()

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
        return StartDialog(self, self.mailer, template, on_started=self.show_run)

    def show_run(self, prepared: PreparedRun) -> ProgressWindow:
        """The progress window of a run ready to send (new, continued or retried)."""
        window = ProgressWindow(self, self.mailer, prepared.run_id, prepared,
                                on_finished=lambda _progress: self.reload())  # fmt: skip
        self.reload_runs()
        return window

    def check_mail(self) -> MailCheckWindow:
        """«Проверить почту»: bounces and unsubscribe requests in the sender's INBOX."""
        refresh = getattr(self.directory, "reload", lambda: None)
        return MailCheckWindow(self, self.conn, self.passwords, on_applied=refresh)

    def settings(self) -> SettingsWindow:
        """«Параметры»: the EMail and SMS settings."""
        return SettingsWindow(self, self.conn, self.passwords)
