"""Import preview: what an import will add, update and reject, before anything is written."""

from __future__ import annotations

import sqlite3
import tkinter as tk
from collections.abc import Callable
from pathlib import Path

import ttkbootstrap as ttk

from avtoprokat_mail.ui.column_widths import fit_treeview
from avtoprokat_mail.ui.dialogs import show_error
from avtoprokat_mail.ui.screen import fit_window, scaled


class ImportPreview(ttk.Toplevel):
    """Shows an :class:`ImportPlan`; "Импортировать" applies it in one transaction.

    "Отмена" (or closing the window) writes nothing.
    """

    def __init__(
        self, parent: tk.Misc, conn: sqlite3.Connection, plan, on_done: Callable[[], None]
    ):
        top = parent.winfo_toplevel()
        super().__init__(title="Импорт клиентов", master=top, transient=top, minsize=(600, 300))
        self.conn = conn
        self.plan = plan
        self.on_done = on_done
        self._build()
        self.bind("<Escape>", lambda _e: self.destroy())
        fit_window(self, conn, "import_preview", size=(820, 460))

    @classmethod
    def start(
        cls,
        parent: tk.Misc,
        conn: sqlite3.Connection,
        path: Path,
        on_done: Callable[[], None],
    ) -> ImportPreview | None:
        """Read and check ``path``, then show the preview (None when the file is unreadable)."""
        from avtoprokat_mail.interchange import InterchangeError, plan_import

        top = parent.winfo_toplevel()
        top.configure(cursor="watch")
        top.update_idletasks()
        try:
            plan = plan_import(conn, path)
        except InterchangeError as error:
            show_error(parent, "Импорт клиентов", str(error))
            return None
        finally:
            top.configure(cursor="")
        return cls(parent, conn, plan, on_done)

    def _build(self) -> None:
        self._build_buttons()  # first: at the bottom, they keep their room
        body = ttk.Frame(self, padding=(14, 14, 14, 0))
        body.pack(fill="both", expand=True)
        wrap = scaled(self, 780)
        ttk.Label(body, text=f"Файл: {self.plan.path}", wraplength=wrap).pack(anchor="w")
        self.summary_label = ttk.Label(body, text=self.summary(), font="-weight bold")
        self.summary_label.pack(anchor="w", pady=(8, 8))
        self.ignored_label = ttk.Label(body, text=self.ignored(), bootstyle="warning",
                                       wraplength=wrap, justify="left")  # fmt: skip
        self.notes_label = ttk.Label(body, text="\n".join(self.plan.notes), bootstyle="warning",
                                     wraplength=wrap, justify="left")  # fmt: skip
        self.consent_label = ttk.Label(body, text=self.unreadable_consent(),
                                       bootstyle="warning", wraplength=wrap,
                                       justify="left")  # fmt: skip
        for label in (self.ignored_label, self.notes_label, self.consent_label):
            if label.cget("text"):  # an empty warning takes no line
                label.pack(anchor="w", pady=(0, 4))
        if self.plan.rejected:
            self._build_rejected(body)

    def _build_rejected(self, body: ttk.Frame) -> None:
        ttk.Label(body, text="Отклонённые строки (они не будут загружены):").pack(anchor="w")
        frame = ttk.Frame(body)
        frame.pack(fill="both", expand=True, pady=(4, 0))
        rows = self.plan.rejected
        self.rejected_view = ttk.Treeview(
            frame, columns=("line", "reason"), show="headings", height=min(max(len(rows), 3), 10)
        )
        self.rejected_view.heading("line", text="Строка")
        self.rejected_view.heading("reason", text="Причина")
        self.rejected_view.column("line", stretch=False, anchor="e")
        fit_treeview(self.rejected_view, rows, lambda item: (item.line, item.reason),
                     stretch="reason")  # fmt: skip
        for item in rows:
            self.rejected_view.insert("", "end", values=(item.line, item.reason))
        scroll = ttk.Scrollbar(frame, orient="vertical", command=self.rejected_view.yview)
        self.rejected_view.configure(yscrollcommand=scroll.set)
        self.rejected_view.pack(side="left", fill="both", expand=True)
        scroll.pack(side="right", fill="y")

    def _build_buttons(self) -> None:
        bar = ttk.Frame(self, padding=(14, 12, 14, 14))
        bar.pack(side="bottom", fill="x")
        buttons = ttk.Frame(bar)
        buttons.pack(anchor="e")
        self.import_button = ttk.Button(buttons, text="Импортировать", command=self.apply)
        self.import_button.pack(side="left")
        if not (self.plan.added or self.plan.updated):
            self.import_button.configure(state="disabled")
        self.cancel_button = ttk.Button(
            buttons, text="Отмена", bootstyle="secondary", command=self.destroy
        )
        self.cancel_button.pack(side="left", padx=(8, 0))

    def ignored(self) -> str:
        """The file's columns no client field matches: their values are not loaded."""
        if not self.plan.ignored_columns:
            return ""
        names = ", ".join(f"«{name}»" for name in self.plan.ignored_columns)
        return f"Не загружаются столбцы с незнакомыми заголовками: {names}."

    def unreadable_consent(self) -> str:
        """The consent cells that are no date and no yes/no: those rows load without it."""
        cells = self.plan.unreadable_consent
        if not cells:
            return ""
        shown = ", ".join(f"«{text}» (строка {line})" for line, text in cells[:5])
        more = f" и ещё {len(cells) - 5}" if len(cells) > 5 else ""
        header = self.plan.columns.get("consent", "Согласие")
        return (
            f"В столбце «{header}» не распознано согласие: {shown}{more}. Эти строки "
            "загружаются без даты согласия (у клиентов, что уже есть в справочнике, она не "
            "меняется). Понятны дата ДД.ММ.ГГГГ, «да» (согласие со дня импорта) и «нет»."
        )

    def summary(self) -> str:
        plan = self.plan
        return (
            f"Будет добавлено: {len(plan.added)}    обновлено: {len(plan.updated)}    "
            f"отклонено: {len(plan.rejected)}"
        )

    def apply(self) -> None:
        """Write the plan in one transaction, then say what was done."""
        from avtoprokat_mail.interchange import apply_import
        from avtoprokat_mail.storage import DatabaseError

        try:
            apply_import(self.conn, self.plan)
        except DatabaseError as error:
            show_error(self, "Импорт клиентов", str(error))
            return
        plan = self.plan
        self.summary_label.configure(
            text=(
                f"Импорт завершён: добавлено {len(plan.added)}, обновлено {len(plan.updated)}, "
                f"отклонено {len(plan.rejected)}."
            ),
            bootstyle="success",
        )
        # Let the written clients go before the window re-reads the directory: at 100,000
        # rows the plan and the fresh table together would double the peak memory.
        plan.added.clear()
        plan.updated.clear()
        self.import_button.configure(state="disabled")
        self.cancel_button.configure(text="Закрыть")
        self.on_done()
