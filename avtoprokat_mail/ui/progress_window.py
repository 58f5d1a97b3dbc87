"""The progress window of a run, and its per-recipient report at the end.

The engine runs on a worker thread and never touches Tk (ui/background.py): its
:class:`Progress` events reach this window every 50 ms on the Tk thread, only the newest shown.
"""

from __future__ import annotations

import threading
import time
import tkinter as tk
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import ttkbootstrap as ttk

from avtoprokat_mail.model import DELIVERY_STATUS_LABELS, Delivery, DeliveryStatus, Run, RunStatus
from avtoprokat_mail.sending.campaign import RETRY_DELAYS, Progress, format_duration
from avtoprokat_mail.sending.lifecycle import Mailer, PreparedRun, RunRefused, RunState
from avtoprokat_mail.sending.setup import SetupError
from avtoprokat_mail.storage import runs as run_store
from avtoprokat_mail.ui import filedialogs
from avtoprokat_mail.ui.background import BackgroundTask
from avtoprokat_mail.ui.column_widths import fit_treeview
from avtoprokat_mail.ui.dialogs import ask_yes_no, show_error, show_info
from avtoprokat_mail.ui.screen import fit_window

DRAIN_MS = 50
REPORT_BATCH = 500  # report rows inserted per Tk callback
STATUS_TEXT = {
    RunStatus.RUNNING: "Идёт рассылка",
    RunStatus.PAUSED: "Пауза",
    RunStatus.FINISHED: "Рассылка завершена",
    RunStatus.CANCELLED: "Рассылка отменена",
    RunStatus.STOPPED: "Рассылка остановлена",
    RunStatus.INTERRUPTED: "Рассылка прервана (программа закрылась во время отправки)",
    RunStatus.WAITING: "Дневной лимит ящика исчерпан",
}
NOT_SENT = (DeliveryStatus.FAILED, DeliveryStatus.UNCERTAIN, DeliveryStatus.PENDING)
TEST_NOTE = " (тестовая: письма записаны в папку, клиентам ничего не отправлено)"


def waiting_text(resume_at: float, now: float) -> str:
    """«продолжим в 14:05 (через 5 ч 12 мин)»; another day's date when it is not today."""
    when = datetime.fromtimestamp(resume_at)
    at = when.strftime("%H:%M")
    if when.date() != datetime.fromtimestamp(now).date():
        at = when.strftime("%d.%m в %H:%M")
    left = max(int(resume_at - now), 0)
    hours, minutes = divmod(left // 60, 60)
    if hours:
        span = f"{hours} ч {minutes} мин"
    elif minutes:
        span = f"{minutes} мин"
    else:
        span = f"{left} с"
    return f"продолжим в {at} (через {span})"


def _title(run: Run) -> str:
    return f"Тестовая рассылка № {run.id} (в папку)" if run.test else f"Рассылка № {run.id}"


class ProgressWindow(ttk.Toplevel):
    """Shows a run as it goes; pause, resume, cancel; then the report, continue and retry.

    With ``prepared`` the run is sent now (its transport was set up before this window was
    built, so nothing can fail half-way through building it); without, the window shows the
    report of a past run, with what can still be done with it.
    """

    def __init__(
        self,
        parent: tk.Misc,
        mailer: Mailer,
        run_id: int,
        prepared: PreparedRun | None = None,
        *,
        on_finished: Callable[[Progress], None] = lambda progress: None,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
    ) -> None:
        top = parent.winfo_toplevel()
        self.mailer, self.conn, self.run_id = mailer, mailer.conn, run_id
        self.run = run_store.get_run(self.conn, run_id)
        # Not transient: the other windows can be brought in front of a long run.
        super().__init__(title=_title(self.run), master=top, minsize=(560, 300))
        self.on_finished, self.retry_delays = on_finished, retry_delays
        self.final: Progress | None = None
        self.waiting_until = 0.0  # Unix time a waiting run goes on at; 0 while it is not waiting
        self.campaign = None
        self.worker: threading.Thread | None = None
        self._build()
        self.protocol("WM_DELETE_WINDOW", self.close)
        if prepared is not None:
            task = BackgroundTask(
                self, on_event=self._progressed, newest_only=True, on_done=self._ended,
                on_error=self._failed, interval_ms=DRAIN_MS,
            )  # fmt: skip
            self.campaign = prepared.campaign(task.emit, retry_delays=retry_delays)
            self.worker = task.start(self.campaign.run, name=f"run-{run_id}")
        else:
            past = mailer.state(run_id).progress()
            self.show(past)
            self._finish(past, notify=False)
        if self.final is None:  # a finished run was fitted for its report
            fit_window(self, self.conn, "progress")

    # --- construction ----------------------------------------------------------------------------
    def _build(self) -> None:
        body = ttk.Frame(self, padding=14)
        body.pack(fill="both", expand=True)
        subject = self.run.template().title(80)
        ttk.Label(body, text=subject, font="-weight bold", wraplength=520).pack(anchor="w")
        self.status_label = ttk.Label(body, text="Подготовка…", bootstyle="primary")
        self.status_label.pack(anchor="w", pady=(6, 0))
        self.bar = ttk.Progressbar(body, maximum=1, value=0, bootstyle="success-striped")
        self.bar.pack(fill="x", pady=6)
        grid = ttk.Frame(body)
        grid.pack(fill="x")
        self.labels: dict[str, ttk.Label] = {}
        for row, (key, title) in enumerate((
            ("sent", "Отправлено:"), ("failed", "Ошибок:"), ("skipped", "Пропущено:"),
            ("current", "Сейчас:"), ("speed", "Скорость:"), ("left", "Осталось:"),
        )):  # fmt: skip
            ttk.Label(grid, text=title).grid(row=row, column=0, sticky="w")
            label = ttk.Label(grid, text="—")
            label.grid(row=row, column=1, sticky="w", padx=(8, 0))
            self.labels[key] = label
        self.reason_label = ttk.Label(body, text="", bootstyle="danger", wraplength=520)
        self.reason_label.pack(anchor="w", pady=(6, 0))
        buttons = ttk.Frame(body)
        buttons.pack(fill="x", pady=(8, 0))
        self.pause_button = ttk.Button(
            buttons, text="Пауза", bootstyle="warning", command=self.toggle_pause
        )
        self.pause_button.pack(side="left")
        self.cancel_button = ttk.Button(
            buttons, text="Отмена", bootstyle="danger-outline", command=self.cancel
        )
        self.cancel_button.pack(side="left", padx=(8, 0))
        self.close_button = ttk.Button(
            buttons, text="Закрыть", bootstyle="secondary", command=self.close, state="disabled"
        )
        self.close_button.pack(side="right")
        self.report = ReportFrame(self, body)

    # --- what the worker delivers on the Tk thread ------------------------------------------------
    def _progressed(self, newest: Progress) -> None:
        if self.final is not None:
            return
        self.show(newest)
        if newest.ended:
            self._finish(newest)

    def _ended(self, final: Progress) -> None:
        """The engine returned; its last event (the same progress) has normally ended it."""
        self._progressed(final)

    def show(self, p: Progress) -> None:
        """Put a progress event on screen."""
        to_send = max(p.total - p.skipped, 1)
        self.bar.configure(maximum=to_send, value=p.sent + p.failed + p.uncertain)
        self.labels["sent"].configure(text=f"{p.sent} из {p.total - p.skipped}")
        self.labels["failed"].configure(text=str(p.failed + p.uncertain))
        self.labels["skipped"].configure(text=str(p.skipped))
        self.labels["current"].configure(text=p.current or "—")
        self.labels["speed"].configure(text=f"{p.per_minute:.0f} в минуту" if p.per_minute else "—")
        self.labels["left"].configure(
            text=format_duration(p.seconds_left) if p.seconds_left else "—"
        )
        status = STATUS_TEXT.get(p.status, p.status.value)
        self.status_label.configure(text=status + (TEST_NOTE if self.run.test else ""))
        self.pause_button.configure(text="Продолжить" if p.status is RunStatus.PAUSED else "Пауза")
        waiting = p.status is RunStatus.WAITING and p.resume_at > 0
        self.pause_button.configure(state="disabled" if waiting else "normal")
        self.reason_label.configure(text=p.reason if waiting else "")
        was_waiting, self.waiting_until = self.waiting_until, p.resume_at if waiting else 0.0
        if waiting and not was_waiting:
            self._count_down()

    def _count_down(self) -> None:
        """While the run waits for its mailbox: «продолжим в 14:05 (через 5 ч 12 мин)»."""
        if not self.waiting_until or self.final is not None or not self.winfo_exists():
            return
        countdown = waiting_text(self.waiting_until, time.time())
        self.status_label.configure(text=f"{STATUS_TEXT[RunStatus.WAITING]}: {countdown}")
        self.after(1000, self._count_down)

    def _finish(self, final: Progress, *, notify: bool = True) -> None:
        self.final = final
        if final.reason:
            self.reason_label.configure(text=final.reason)
        for button in (self.pause_button, self.cancel_button):
            button.configure(state="disabled")
        self.close_button.configure(state="normal")
        for key in ("current", "speed", "left"):
            self.labels[key].configure(text="—")
        self.report.show(self.mailer.state(self.run_id))
        fit_window(self, self.conn, "report")  # the report needs more room than the counters
        if notify:
            self.on_finished(final)

    def _failed(self, error: BaseException) -> None:
        self.reason_label.configure(text=f"Рассылка прервана ошибкой: {error}")
        self.status_label.configure(text="Рассылка прервана")
        self.close_button.configure(state="normal")
        show_error(self, "Рассылка", str(error))

    # --- buttons -----------------------------------------------------------------------------
    def toggle_pause(self) -> None:
        if self.pause_button.cget("text") == "Пауза":
            self.campaign.pause()
            self.pause_button.configure(text="Продолжить")
            self.status_label.configure(text="Пауза: дожидаюсь окончания текущего сообщения…")
        else:
            self.campaign.resume()
            self.pause_button.configure(text="Пауза")

    def cancel(self) -> None:
        question = (
            "Остановить рассылку? Неотправленные останутся в журнале: рассылку можно будет "
            "продолжить позже кнопкой «Продолжить рассылку» здесь или в окне рассылки."
        )
        if ask_yes_no(self, "Отмена рассылки", question, danger=True):
            self.campaign.cancel()
            self.status_label.configure(text="Отмена: дожидаюсь окончания текущего сообщения…")

    def close(self) -> None:
        if self.final is None and self.worker is not None and self.worker.is_alive():
            self.cancel()
            return
        self.destroy()

    def continue_run(self) -> ProgressWindow | None:
        """Finish this (cancelled, stopped or interrupted) run: its pending recipients."""
        return self._replace_by(lambda: self.mailer.resume(self.run_id), self.run_id)

    def retry(self) -> ProgressWindow | None:
        """A new run to this run's recipients who did not get it (uncertain ones if ticked)."""
        include = self.report.uncertain_var.get()
        return self._replace_by(
            lambda: self.mailer.retry(self.run_id, include_uncertain=include), None
        )

    def _replace_by(
        self, prepare_run: Callable[[], PreparedRun], run_id: int | None
    ) -> ProgressWindow | None:
        """Prepare the run first (settings, password, checks); only then swap the windows."""
        try:
            prepared = prepare_run()
        except (SetupError, RunRefused) as error:
            show_error(self, "Рассылка", str(error))
            return None
        master = self.master
        self.destroy()
        return ProgressWindow(
            master, self.mailer, run_id or prepared.run_id, prepared,
            on_finished=self.on_finished, retry_delays=self.retry_delays,
        )  # fmt: skip


def _report_values(d: Delivery) -> tuple:
    """A delivery as a row of the report, in the order of :attr:`ReportFrame.COLUMNS`."""
    name = " ".join(filter(None, (d.surname, d.name)))
    return (d.position, d.recipient, name, DELIVERY_STATUS_LABELS[d.status], d.reply, d.mailbox)


class ReportFrame(ttk.Frame):
    """The per-recipient report under the counters, shown when the run ends."""

    # Widths are fitted to the rows (ui/column_widths.py); the server's reply takes the rest.
    COLUMNS = (("position", "№"), ("recipient", "Получатель"), ("name", "Клиент"),
               ("status", "Результат"), ("reply", "Ответ сервера"),
               ("mailbox", "Ящик отправителя"))  # fmt: skip
    STRETCH = "reply"

    def __init__(self, window: ProgressWindow, parent: ttk.Frame) -> None:
        super().__init__(parent)
        self.window = window
        self.state: RunState | None = None
        self._fitted = False
        actions = ttk.Frame(self)
        actions.pack(fill="x", pady=(10, 0))
        self.continue_button = ttk.Button(actions, text="Продолжить рассылку", bootstyle="success",
                                          command=window.continue_run)  # fmt: skip
        self.retry_button = ttk.Button(actions, text="Повторить неотправленные",
                                       bootstyle="primary", command=window.retry)  # fmt: skip
        self.retry_button.pack(side="left")
        self.uncertain_var = tk.BooleanVar(self, value=False)
        self.uncertain_check = ttk.Checkbutton(actions, variable=self.uncertain_var,
                                               command=self._update_actions)  # fmt: skip
        self.action_note = ttk.Label(self, text="", bootstyle="secondary", wraplength=620,
                                     justify="left")  # fmt: skip
        self.action_note.pack(anchor="w", pady=(4, 0))
        bar = ttk.Frame(self)
        bar.pack(fill="x", pady=(6, 4))
        self.only_failed_var = tk.BooleanVar(self, value=False)
        ttk.Checkbutton(bar, text="Только неотправленные", variable=self.only_failed_var,
                        command=self.refresh).pack(side="left")  # fmt: skip
        self.export_button = ttk.Button(bar, text="Экспорт…", bootstyle="secondary-outline",
                                        command=self.export)  # fmt: skip
        self.export_button.pack(side="right")
        self.tree = ttk.Treeview(
            self, columns=[c for c, _ in self.COLUMNS], show="headings", height=10
        )
        for column, title in self.COLUMNS:
            self.tree.heading(column, text=title)
        self.tree.pack(fill="both", expand=True)

    def show(self, state: RunState) -> None:
        self.state = state
        self.pack(fill="both", expand=True)
        if not state.why_not_continue():
            self.continue_button.pack(side="left", before=self.retry_button, padx=(0, 8))
        if state.uncertain:
            self.uncertain_check.configure(
                text=f"и тем, чей исход неизвестен ({state.uncertain}; письмо могло уйти)"
            )
            self.uncertain_check.pack(side="left", padx=(8, 0))
        self._update_actions()
        self.refresh()

    def _update_actions(self) -> None:
        """Enable «Повторить неотправленные» only when someone is left; say why not, else."""
        state = self.state
        if state is None:
            return
        include = self.uncertain_var.get()
        why = state.why_not_retry(include)
        self.retry_button.configure(state="disabled" if why else "normal")
        if why:
            self.action_note.configure(text=why)
        else:
            count = state.retryable(include)
            self.action_note.configure(
                text=f"Повтор отправит {count} получателям новой рассылкой; "
                "эта рассылка им больше не отправит."
            )

    def statuses(self) -> tuple[DeliveryStatus, ...] | None:
        return NOT_SENT if self.only_failed_var.get() else None

    def refresh(self) -> None:
        """Fill the list in batches, so a report of 100,000 rows never freezes the window."""
        self.tree.delete(*self.tree.get_children())
        self._generation = getattr(self, "_generation", 0) + 1
        rows = run_store.deliveries(self.window.conn, self.window.run_id, self.statuses())
        if not self._fitted:  # once, to every row: ticking «Только неотправленные» keeps them
            fit_treeview(self.tree, rows, _report_values, stretch=self.STRETCH,
                         addresses=("recipient", "mailbox"))  # fmt: skip
            self._fitted = True
        self._insert_batch(rows, 0, self._generation)

    def _insert_batch(self, rows: list, start: int, generation: int) -> None:
        if generation != self._generation or not self.winfo_exists():
            return  # a newer refresh has started, or the window is gone
        for d in rows[start : start + REPORT_BATCH]:
            self.tree.insert("", "end", values=_report_values(d))
        if start + REPORT_BATCH < len(rows):
            self.after(1, self._insert_batch, rows, start + REPORT_BATCH, generation)

    def export(self) -> None:
        from avtoprokat_mail.interchange import InterchangeError
        from avtoprokat_mail.interchange.report import export_report

        path = filedialogs.ask_save_path(
            self, title="Отчёт о рассылке", defaultextension=".xlsx",
            filetypes=[("Excel", "*.xlsx"), ("CSV для Excel", "*.csv")],
            initialfile=f"рассылка-{self.window.run_id}.xlsx",
        )  # fmt: skip
        if not path:
            return
        try:
            count = export_report(self.window.conn, self.window.run_id, Path(path), self.statuses())
        except InterchangeError as error:
            show_error(self, "Экспорт отчёта", str(error))
            return
        show_info(self, "Экспорт отчёта", f"Строк в отчёте: {count}\nФайл: {path}")
