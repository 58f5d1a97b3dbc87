"""The mailing run: recipients → journal → transport → progress events. No tkinter here.

A run is a template × the clients marked at the moment of "Старт". :func:`plan_run` says what
will happen (recipients, who is skipped and why, what blocks the start); :func:`start_run`
writes the run and its journal; :class:`Campaign` sends it, on any thread, with its own
database connection, journaling every outcome as it happens:

    pending → sending → sent | failed (with the server's reply) | pending again (retry later)

"sending" is written before a message is handed over and "sent" after the server accepts it,
so after a crash a recipient left in "sending" is *uncertain* — maybe delivered — and is not
sent again unless the user asks. Nobody gets the same message twice.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from avtoprokat_mail.model import (
    Channel,
    Client,
    Delivery,
    DeliveryStatus,
    Run,
    RunStatus,
    Template,
)
from avtoprokat_mail.sending.message import (
    EmailFactory,
    Sender,
    TemplateError,
    attachment_problems,
    build_sms,
    load_attachments,
)
from avtoprokat_mail.sending.outbox import is_outbox
from avtoprokat_mail.sending.runlock import run_lock
from avtoprokat_mail.sending.sms.segments import sms_length
from avtoprokat_mail.sending.transport import DeliveryError, Transport
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import open_database
from avtoprokat_mail.storage import runs as run_store
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.template_rules import unknown_placeholder_messages
from avtoprokat_mail.validation import email_problem, is_valid_mobile, normalize_mobile

RETRY_DELAYS = (5.0, 30.0, 120.0)  # seconds before the 2nd, 3rd and 4th try of a message
MAX_FAILURES_IN_A_ROW = 10
RATE_WINDOW = 30  # messages the speed is measured over


# --- planning --------------------------------------------------------------------------------
@dataclass
class RunPlan:
    """What "Старт" would do, shown to the user before anything is sent."""

    template: Template
    channel: Channel
    recipients: list[Delivery]
    skipped: list[Delivery]
    problems: list[str] = field(default_factory=list)  # each one blocks the start
    attachments: list[tuple[str, int]] = field(default_factory=list)  # (file name, bytes)
    segments: int = 0  # SMS parts all the personalised texts take together (SMS runs)

    @property
    def skip_reasons(self) -> Counter[str]:
        return Counter(d.reply for d in self.skipped)

    @property
    def can_start(self) -> bool:
        return not self.problems and bool(self.recipients)


def plan_run(conn, template: Template) -> RunPlan:
    """The recipients of ``template`` among the marked clients, and why others are skipped."""
    channel = Channel.SMS if template.sms else Channel.EMAIL
    recipients: list[Delivery] = []
    skipped: list[Delivery] = []
    seen: set[str] = set()
    refused = _opted_out_addresses(conn, channel)
    for client in client_store.list_clients(conn, marked_only=True):
        address, reason = _address_of(client, channel)
        key = address.casefold()
        if not reason and key in refused:
            reason = "этот адрес отказался от рассылки (в карточке другого клиента)"
        if not reason and key in seen:
            reason = "этот адрес уже есть в рассылке: второе сообщение не отправляется"
        seen.add(key)
        position = len(recipients) + len(skipped) + 1
        # What the report shows for a skipped client: the channel's contact, else the other one.
        if channel is Channel.SMS:
            shown = client.mobile or client.email
        else:
            shown = client.email or client.mobile
        delivery = _delivery_for(client, address or shown, position)
        if reason:
            delivery.status, delivery.reply = DeliveryStatus.SKIPPED, reason
            skipped.append(delivery)
        else:
            recipients.append(delivery)
    plan = RunPlan(template, channel, recipients, skipped)
    plan.problems += unknown_placeholder_messages(template)
    if channel is Channel.SMS:
        plan.segments = sum(
            sms_length(build_sms(template, d.client())).segments for d in recipients
        )
    if channel is Channel.EMAIL:
        plan.problems += attachment_problems(template)
        plan.attachments = [
            (Path(p).name, Path(p).stat().st_size)
            for p in template.attachments
            if Path(p).is_file()
        ]
    if not recipients:
        plan.problems.append(
            "Некому отправлять: отметьте клиентов в справочнике «Клиенты»."
            if not skipped
            else "Ни одному отмеченному клиенту нельзя отправить сообщение (см. причины)."
        )
    return plan


def _opted_out_addresses(conn, channel: Channel) -> set[str]:
    """Addresses of every client who refused mailings: the refusal follows the address."""
    refused = set()
    for client in client_store.opted_out_clients(conn):
        client.opt_out = False
        address, reason = _address_of(client, channel)
        if address and not reason:
            refused.add(address.casefold())
    return refused


def _address_of(client: Client, channel: Channel) -> tuple[str, str]:
    """(address to use, reason to skip or "")."""
    if client.opt_out:
        return "", "отказ от рассылки"
    if channel is Channel.EMAIL:
        if not client.email:
            return "", "нет email"
        problem = email_problem(client.email)
        return client.email, problem or ""
    if not client.mobile:
        return "", "нет сотового телефона"
    mobile = client.mobile if is_valid_mobile(client.mobile) else normalize_mobile(client.mobile)
    if not mobile:
        return "", f"неверный сотовый телефон «{client.mobile}»"
    return mobile, ""


def _delivery_for(client: Client, recipient: str, position: int) -> Delivery:
    return Delivery(
        position=position,
        recipient=recipient,
        client_id=client.id,
        surname=client.surname,
        name=client.name,
        position_title=client.position,
        organization=client.organization,
    )


def start_run(conn, plan: RunPlan, transport: str) -> int:
    """Write the run and its journal (recipients pending, the skipped ones with their reason)."""
    run = Run.of(plan.template, transport)
    everyone = sorted(plan.recipients + plan.skipped, key=lambda d: d.position)
    return run_store.create_run(conn, run, everyone)


def retry_run(conn, run_id: int) -> int:
    """A new run of the same text to the failed (and uncertain) recipients of ``run_id``."""
    old = run_store.get_run(conn, run_id)
    again = run_store.deliveries(conn, run_id, [DeliveryStatus.FAILED, DeliveryStatus.UNCERTAIN])
    for position, delivery in enumerate(again, start=1):
        delivery.position, delivery.status, delivery.reply, delivery.attempts = (
            position, DeliveryStatus.PENDING, "", 0,
        )  # fmt: skip
    return run_store.create_run(conn, Run.of(old.template(), old.transport), again)


# --- sending ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    """Where a run stands; the engine reports one after every message and every state change."""

    run_id: int
    status: RunStatus
    total: int
    sent: int
    failed: int
    skipped: int
    uncertain: int
    pending: int
    current: str = ""  # the recipient being sent to
    per_minute: float = 0.0
    seconds_left: float | None = None
    reason: str = ""  # why the run stopped

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped + self.uncertain

    @property
    def ended(self) -> bool:
        return self.status in (RunStatus.FINISHED, RunStatus.CANCELLED, RunStatus.STOPPED)


def format_duration(seconds: float) -> str:
    """Time left as a person reads it: "4:05" or "1:02:30"."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class RunBusy(Exception):
    """The run is being sent by another window or process right now."""


class _Stop(Exception):
    def __init__(self, status: RunStatus, reason: str = "") -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class Campaign:
    """Sends one run. :meth:`run` blocks: call it on a worker thread (or from the CLI).

    :meth:`pause`, :meth:`resume` and :meth:`cancel` may be called from any thread at any
    moment; they take effect between messages and during any wait.
    """

    def __init__(
        self,
        database: Path,
        run_id: int,
        transport: Transport,
        *,
        sender: Sender | None = None,
        per_minute: int = 0,
        on_progress: Callable[[Progress], None] = lambda progress: None,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        max_failures_in_a_row: int = MAX_FAILURES_IN_A_ROW,
    ) -> None:
        self.database = Path(database)
        self.run_id = run_id
        self.transport = transport
        self.sender = sender
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self.on_progress = on_progress
        self.retry_delays = tuple(retry_delays)
        self.max_failures_in_a_row = max_failures_in_a_row
        self._cancelled = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()
        self._sent_times: deque[float] = deque(maxlen=RATE_WINDOW)
        self._last_send = 0.0

    # --- control, from any thread ---
    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def cancel(self) -> None:
        self._cancelled.set()
        self._running.set()

    # --- the run ---
    def run(self) -> Progress:
        """Send every pending recipient; returns the final progress (status and reason)."""
        conn = open_database(self.database)
        lock = run_lock(self.database.parent, self.run_id)
        try:
            if not lock.acquire():
                raise RunBusy(f"Рассылка № {self.run_id} уже идёт в другом окне или процессе.")
            try:
                return self._run(conn)
            finally:
                lock.release()
        finally:
            conn.close()

    def _run(self, conn) -> Progress:
        run = run_store.get_run(conn, self.run_id)
        if run is None or run.status is RunStatus.FINISHED:
            return self._progress(conn, run.status if run else RunStatus.FINISHED)
        run_store.sending_to_uncertain(conn, self.run_id)
        run_store.set_status(conn, self.run_id, RunStatus.RUNNING)
        self._counts = run_store.status_counts(conn, self.run_id)
        self._report(conn, RunStatus.RUNNING)
        try:
            build = self._builder(run)
            self._open()
            self._send_all(
                conn, run_store.deliveries(conn, self.run_id, [DeliveryStatus.PENDING]), build
            )
        except _Stop as stop:
            run_store.set_status(conn, self.run_id, stop.status, stop.reason)
            return self._report(conn, stop.status, reason=stop.reason)
        finally:
            self.transport.close()
        run_store.set_status(conn, self.run_id, RunStatus.FINISHED)
        if run.template_id is not None and not is_outbox(run.transport):
            template_store.mark_sent(
                conn, run.template_id, run_store.finished_time(conn, self.run_id)
            )
        return self._report(conn, RunStatus.FINISHED)

    def _builder(self, run: Run) -> Callable[[Delivery], object]:
        template = run.template()
        if run.channel is Channel.SMS:
            return lambda d: build_sms(template, d.client())
        try:
            attachments = load_attachments(template)  # read and encoded once for the whole run
        except TemplateError as error:
            raise _Stop(RunStatus.STOPPED, str(error)) from None
        factory = EmailFactory(template, self.sender, attachments)  # shared parts encoded once
        return lambda d: factory.build(d.client())

    def _open(self) -> None:
        try:
            self.transport.open()
        except DeliveryError as error:
            raise _Stop(RunStatus.STOPPED, error.reply) from None

    def _send_all(self, conn, pending: list[Delivery], build: Callable[[Delivery], object]) -> None:
        failures_in_a_row = 0
        for number, delivery in enumerate(pending, start=1):
            self._checkpoint(conn)
            self._wait_for_rate()
            self._report(conn, RunStatus.RUNNING, current=delivery.recipient)
            status, reply = self._deliver(conn, delivery, build(delivery))
            self._counts[DeliveryStatus.PENDING] -= 1
            self._counts[status] += 1
            failures_in_a_row = failures_in_a_row + 1 if status is DeliveryStatus.FAILED else 0
            if failures_in_a_row >= self.max_failures_in_a_row and number < len(pending):
                raise _Stop(RunStatus.STOPPED, (
                    f"Подряд не отправлено {failures_in_a_row} сообщений, последняя ошибка: "
                    f"{reply}. Рассылка остановлена: проверьте параметры и продолжите её."
                ))  # fmt: skip

    def _deliver(self, conn, delivery: Delivery, payload: object) -> tuple[DeliveryStatus, str]:
        """Hand one message over, retrying temporary failures; journal every step."""
        for attempt in range(1, len(self.retry_delays) + 2):
            run_store.mark(
                conn, self.run_id, delivery.position, DeliveryStatus.SENDING, attempts=attempt
            )
            try:
                reply = self.transport.send(delivery, payload)
            except DeliveryError as error:
                if error.uncertain:  # maybe delivered: never sent again automatically
                    run_store.mark(
                        conn, self.run_id, delivery.position, DeliveryStatus.UNCERTAIN, error.reply
                    )
                    return DeliveryStatus.UNCERTAIN, error.reply
                if error.fatal or (error.connection and attempt > len(self.retry_delays)):
                    run_store.mark(
                        conn, self.run_id, delivery.position, DeliveryStatus.PENDING, error.reply
                    )
                    raise _Stop(RunStatus.STOPPED, error.reply) from None
                if error.temporary and attempt <= len(self.retry_delays):
                    run_store.mark(
                        conn, self.run_id, delivery.position, DeliveryStatus.PENDING, error.reply
                    )
                    self._sleep(conn, self.retry_delays[attempt - 1])
                    continue
                run_store.mark(
                    conn, self.run_id, delivery.position, DeliveryStatus.FAILED, error.reply
                )
                return DeliveryStatus.FAILED, error.reply
            run_store.mark(conn, self.run_id, delivery.position, DeliveryStatus.SENT, reply)
            now = time.monotonic()
            self._sent_times.append(now)
            self._last_send = now
            return DeliveryStatus.SENT, reply
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _checkpoint(self, conn) -> None:
        """Between messages: honour a cancel, and wait out a pause."""
        if self._cancelled.is_set():
            raise _Stop(RunStatus.CANCELLED, "Рассылка отменена пользователем.")
        if not self._running.is_set():
            self.transport.close()  # an idle connection would be dropped by the server anyway
            run_store.set_status(conn, self.run_id, RunStatus.PAUSED)
            self._report(conn, RunStatus.PAUSED)
            self._running.wait()
            if self._cancelled.is_set():
                raise _Stop(RunStatus.CANCELLED, "Рассылка отменена пользователем.")
            run_store.set_status(conn, self.run_id, RunStatus.RUNNING)

    def _sleep(self, conn, seconds: float) -> None:
        """Wait before a retry, waking at once for a cancel (a pause waits after it)."""
        if self._cancelled.wait(seconds):
            raise _Stop(RunStatus.CANCELLED, "Рассылка отменена пользователем.")

    def _wait_for_rate(self) -> None:
        if self.interval and self._last_send:
            delay = self._last_send + self.interval - time.monotonic()
            if delay > 0 and self._cancelled.wait(delay):
                raise _Stop(RunStatus.CANCELLED, "Рассылка отменена пользователем.")

    # --- progress ---
    def _progress(self, conn, status: RunStatus, current: str = "", reason: str = "") -> Progress:
        counts = getattr(self, "_counts", None) or run_store.status_counts(conn, self.run_id)
        per_minute = 0.0
        if len(self._sent_times) >= 2:
            span = self._sent_times[-1] - self._sent_times[0]
            per_minute = 60.0 * (len(self._sent_times) - 1) / span if span > 0 else 0.0
        pending = counts[DeliveryStatus.PENDING]
        left = pending * 60.0 / per_minute if per_minute else None
        return Progress(
            run_id=self.run_id, status=status, total=sum(counts.values()),
            sent=counts[DeliveryStatus.SENT], failed=counts[DeliveryStatus.FAILED],
            skipped=counts[DeliveryStatus.SKIPPED], uncertain=counts[DeliveryStatus.UNCERTAIN],
            pending=pending, current=current, per_minute=per_minute, seconds_left=left,
            reason=reason,
        )  # fmt: skip

    def _report(self, conn, status: RunStatus, current: str = "", reason: str = "") -> Progress:
        progress = self._progress(conn, status, current, reason)
        self.on_progress(progress)
        return progress
