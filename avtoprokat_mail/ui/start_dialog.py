"""What "Старт" will do, shown before anything is sent: recipients, skipped and why, problems."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import ttkbootstrap as ttk

from avtoprokat_mail.model import SECURITY_NAMES, Channel, Delivery, Route, Template
from avtoprokat_mail.sending.lifecycle import Mailer, PreparedRun, RunRefused
from avtoprokat_mail.sending.setup import SetupError, prepare
from avtoprokat_mail.sending.sms.estimate import cost_line
from avtoprokat_mail.sizes import size_text
from avtoprokat_mail.storage.settings import load_email_settings
from avtoprokat_mail.ui import filedialogs
from avtoprokat_mail.ui.background import report_exception, run_in_background
from avtoprokat_mail.ui.column_widths import fit_treeview
from avtoprokat_mail.ui.screen import ScrollArea, fit_window, scaled


class StartDialog(ttk.Toplevel):
    """The start summary; "Начать рассылку" writes the run and hands it to ``on_started``.

    The two choices of the summary (send to those who already got the template; skip clients
    lacking data for a placeholder) plan the run again and redraw the summary.
    """

    def __init__(
        self,
        parent: tk.Misc,
        mailer: Mailer,
        template: Template,
        on_started: Callable[[PreparedRun], None],
    ) -> None:
        top = parent.winfo_toplevel()
        super().__init__(title="Старт рассылки", master=top, transient=top, minsize=(560, 360))
        self.mailer, self.template, self.on_started = mailer, template, on_started
        self.conn = mailer.conn
        self.again_var = tk.BooleanVar(self, value=False)
        self.skip_incomplete_var = tk.BooleanVar(self, value=False)
        self.body: ttk.Frame | None = None
        self.wrap = scaled(self, 620)  # where the summary's lines wrap
        self.replan()
        self.bind("<Escape>", lambda _e: self.destroy())
        fit_window(self, self.conn, "start_summary")

    def replan(self) -> None:
        """Plan with the current choices and (re)draw the summary."""
        self.plan = self.mailer.plan(
            self.template,
            again=self.again_var.get(),
            skip_incomplete=self.skip_incomplete_var.get(),
        )
        if self.body is not None:
            self.body.destroy()
        self._build()

    def _build(self) -> None:
        plan = self.plan
        self.body = ttk.Frame(self)
        self.body.pack(fill="both", expand=True)
        self._buttons(self.body)  # first: at the bottom, they keep their room
        self.scroll = ScrollArea(self.body, padding=(14, 14, 14, 0))
        self.scroll.pack(fill="both", expand=True)
        body = self.scroll.content
        title = plan.template.title(80)
        ttk.Label(body, text=title, font="-weight bold", wraplength=self.wrap).pack(anchor="w")
        ttk.Label(body, text=self._how()).pack(anchor="w", pady=(4, 8))
        self.recipients_label = ttk.Label(
            body, text=f"Получателей: {len(plan.recipients)}", font="-weight bold"
        )
        self.recipients_label.pack(anchor="w")
        for name, size in plan.attachments:
            ttk.Label(body, text=f"Приложение: {name} ({size_text(size)})").pack(anchor="w")
        if plan.channel is Channel.SMS:
            ttk.Label(body, text=f"SMS всего (с учётом длины текстов): {plan.segments}").pack(
                anchor="w"
            )
            self.cost_label = ttk.Label(
                body, text="Стоимость: спрашиваю шлюз…", wraplength=self.wrap
            )
            self.cost_label.pack(anchor="w")
            self._ask_cost()
        self._schedule(body)
        self.warning_label = ttk.Label(
            body, text="\n".join(plan.warnings), bootstyle="warning", wraplength=self.wrap,
            justify="left",
        )  # fmt: skip
        if plan.warnings:
            self.warning_label.pack(anchor="w", pady=(4, 0))
        self._repeats(body)
        self._consent(body)
        self._incomplete(body)
        if plan.taken_over:
            runs = ", ".join(f"№ {n}" for n in sorted({d.run_id for d in plan.taken_over}))
            ttk.Label(
                body, wraplength=self.wrap, justify="left",
                text=f"Ждали отправки в незавершённой рассылке ({runs}): {len(plan.taken_over)}. "
                     "Они получат сообщение в этой рассылке, а та им уже не отправит.",
            ).pack(anchor="w", pady=(4, 0))  # fmt: skip
        if plan.skipped:
            self._skipped(body)

    def _schedule(self, body: ttk.Frame) -> None:
        """Through which mailbox the messages go today, and when a limited run will end."""
        self.schedule_label = None
        plan = self.plan
        if plan.channel is not Channel.EMAIL or not plan.recipients:
            return
        if not load_email_settings(self.conn).host:
            return  # no mailbox yet: «Способ» says so, there is no schedule to tell
        schedule = self.mailer.schedule(plan)
        if len(schedule.today) < 2 and not schedule.later:
            return  # one mailbox with room for everyone: nothing worth saying
        lines = [f"через {address}: {count} в ближайшие сутки" for address, count in schedule.today]
        if schedule.later:
            when = datetime.fromtimestamp(schedule.ends_at).strftime("%d.%m.%Y %H:%M")
            lines.append(
                f"ещё {schedule.later} ждут дневного лимита ящиков: рассылка закончится около "
                f"{when} (окно рассылки дождётся и продолжит само)"
            )
        self.schedule_label = ttk.Label(body, text="\n".join(lines), wraplength=self.wrap,
                                        justify="left")  # fmt: skip
        self.schedule_label.pack(anchor="w", pady=(4, 0))

    def _repeats(self, body: ttk.Frame) -> None:
        """How many already got this template, and the choice to send to them again."""
        reached = self.plan.repeats
        if not reached and not self.again_var.get():
            self.repeat_label = None
            return
        text = (
            f"Уже получили этот шаблон: {reached} — им не отправляется."
            if reached
            else "Тем, кто уже получил этот шаблон, он будет отправлен ещё раз."
        )
        self.repeat_label = ttk.Label(body, text=text, bootstyle="warning", wraplength=self.wrap)
        self.repeat_label.pack(anchor="w", pady=(6, 0))
        ttk.Checkbutton(
            body, text="Отправить и тем, кто уже получил", variable=self.again_var,
            command=self.replan,
        ).pack(anchor="w")  # fmt: skip

    def _consent(self, body: ttk.Frame) -> None:
        """With «Только клиентам с согласием на рассылку» on: how many it leaves out."""
        self.consent_label = None
        if not self.plan.require_consent:
            return
        self.consent_label = ttk.Label(
            body, text=f"Без согласия на рассылку: {self.plan.without_consent} — не отправляется",
            bootstyle="warning" if self.plan.without_consent else "secondary", wraplength=self.wrap,
        )  # fmt: skip
        self.consent_label.pack(anchor="w", pady=(6, 0))

    def _incomplete(self, body: ttk.Frame) -> None:
        """Clients lacking a field the text uses without a default, and the choice to skip."""
        plan = self.plan
        if not plan.incomplete:
            self.incomplete_label = None
            return
        fields = ", ".join(f"%{name}% — {count}" for name, count in plan.missing_counts.items())
        people = len(plan.incomplete)
        text = (
            f"Нет данных для шаблона у {people} клиентов ({fields}): "
            + ("они пропускаются." if plan.skip_incomplete else "в их письмах это место будет "
               "пустым. Можно задать текст на этот случай, например %Должность|сотрудник%.")
        )  # fmt: skip
        self.incomplete_label = ttk.Label(
            body, text=text, bootstyle="warning", wraplength=self.wrap, justify="left"
        )
        self.incomplete_label.pack(anchor="w", pady=(6, 0))
        ttk.Checkbutton(
            body, text="Пропустить клиентов без этих данных",
            variable=self.skip_incomplete_var, command=self.replan,
        ).pack(anchor="w")  # fmt: skip

    def _buttons(self, body: ttk.Frame) -> None:
        bar = ttk.Frame(body, padding=(14, 8, 14, 14))
        bar.pack(side="bottom", fill="x")
        self.problem_label = ttk.Label(
            bar, text="\n".join(self.plan.problems), bootstyle="danger", wraplength=self.wrap,
            justify="left",
        )  # fmt: skip
        self.problem_label.pack(anchor="w", fill="x")
        buttons = ttk.Frame(bar)
        buttons.pack(fill="x", pady=(8, 0))
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
        if not self.plan.can_start:
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
            route = Route.direct(Channel.SMS)
            setup = prepare(self.conn, Channel.SMS, route, self.mailer.passwords)
        except SetupError as error:
            why = str(error)
            if self.mailer.will_ask_secret(Channel.SMS):
                why = "пароль SMS-шлюза не сохранён в Windows: программа спросит его при запуске."
            self.cost_label.configure(text=f"Стоимость не известна: {why}")
            return
        gateway, plan, label = setup.gateway, self.plan, self.cost_label

        def failed(error: BaseException) -> None:
            label.configure(text=f"Стоимость не известна: {error}")
            report_exception(label, error)

        # Tied to this summary's label: a replan draws a new one, and this answer is dropped.
        run_in_background(
            label, lambda: cost_line(gateway, plan),
            on_done=lambda line: label.configure(text=line), on_error=failed, name="sms-cost",
        )  # fmt: skip

    def _skipped(self, body: ttk.Frame) -> None:
        """How many are skipped and why, by kind; the table lists each, the full row on click."""
        kinds = ", ".join(f"{kind} — {count}" for kind, count in
                          self.plan.skip_kinds.most_common())  # fmt: skip
        self.skipped_label = ttk.Label(
            body, text=f"Пропущено: {len(self.plan.skipped)} ({kinds})", wraplength=self.wrap,
            justify="left",
        )  # fmt: skip
        self.skipped_label.pack(anchor="w", pady=(6, 2))
        self.skipped_detail = ttk.Label(
            body, text="Щёлкните строку, чтобы увидеть её целиком.", bootstyle="secondary",
            wraplength=self.wrap, justify="left",
        )  # fmt: skip
        self.skipped_detail.pack(side="bottom", anchor="w", fill="x", pady=(2, 0))
        frame = ttk.Frame(body)
        frame.pack(fill="both", expand=True)
        skipped = self.plan.skipped
        tree = ttk.Treeview(frame, columns=("who", "address", "reason"), show="headings",
                            height=min(max(len(skipped), 3), 8))  # fmt: skip
        for column, title in (("who", "Клиент"), ("address", "Адрес"), ("reason", "Причина")):
            tree.heading(column, text=title)

        def values(d: Delivery) -> tuple[str, str, str]:
            return d.display_name, d.recipient, d.reply

        fit_treeview(tree, skipped, values, stretch="reason", addresses=("address",))
        for d in skipped:
            tree.insert("", "end", values=values(d))
        scroll = ttk.Scrollbar(frame, orient="vertical", command=tree.yview)
        tree.configure(yscrollcommand=scroll.set)
        tree.pack(side="left", fill="both", expand=True)
        scroll.pack(side="right", fill="y")
        tree.bind("<<TreeviewSelect>>", lambda _e: self._show_skipped_row())
        self.skipped_tree = tree

    def _show_skipped_row(self) -> None:
        selected = self.skipped_tree.selection()
        if not selected:
            return
        who, address, reason = self.skipped_tree.item(selected[0], "values")
        self.skipped_detail.configure(
            text=f"Клиент: {who}\nАдрес: {address or '—'}\nПричина: {reason}", bootstyle="default"
        )

    def start(self) -> PreparedRun | None:
        """Start the run (asking a password the store cannot keep, once)."""
        return self._start(None)

    def start_to_folder(self) -> PreparedRun | None:
        folder = filedialogs.ask_directory(self, title="Папка для тестовой рассылки")
        return self._start(Path(folder)) if folder else None

    def _start(self, outbox: Path | None) -> PreparedRun | None:
        try:
            prepared = self.mailer.start(self.plan, outbox=outbox)
        except (SetupError, RunRefused) as error:
            self.problem_label.configure(text=str(error))
            return None
        self.destroy()
        self.on_started(prepared)
        return prepared
