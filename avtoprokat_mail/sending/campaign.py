"""The mailing run: recipients → journal → transport → progress events. No tkinter here.

A run is a template × the clients marked at the moment of "Старт". :func:`plan_run` says what
will happen (recipients, who is skipped and why, what blocks the start); the run and its journal
are written by sending/lifecycle.py; :class:`Campaign` sends it, on any thread, with its own
database connection, journaling every outcome as it happens:

    pending → sending → sent | failed (with the server's reply) | pending again (retry later)

"sending" is written before a message is handed over — by a conditional UPDATE that only a still
pending recipient matches, so a recipient another run took over is never sent by this one — and
"sent" after the server accepts it. After a crash a recipient left in "sending" is *uncertain*
(maybe delivered) and is not sent again unless the user asks.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
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
from avtoprokat_mail.placeholders import fields_without_default, lacking
from avtoprokat_mail.sending.clock import SYSTEM_CLOCK, Clock
from avtoprokat_mail.sending.lanes import Job, Lane, batch_size, opens_more
from avtoprokat_mail.sending.message import (
    Attachment,
    EmailFactory,
    Sender,
    TemplateError,
    attachment_problems,
    build_sms,
    load_attachments,
)
from avtoprokat_mail.sending.runlock import run_lock
from avtoprokat_mail.sending.sms.segments import sms_length
from avtoprokat_mail.sending.template_check import unknown_placeholder_messages
from avtoprokat_mail.sending.transport import DeliveryError, Transport
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import open_database
from avtoprokat_mail.storage import runs as run_store
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.storage.settings import load_email_settings
from avtoprokat_mail.system.filelock import FileLock
from avtoprokat_mail.validation import email_problem, mobile_for_sending

logger = logging.getLogger(__name__)
RETRY_DELAYS = (5.0, 30.0, 120.0)  # seconds before the 2nd, 3rd and 4th try of a message
MAX_FAILURES_IN_A_ROW = 10
RATE_WINDOW = 30  # messages the speed is measured over
# The speed and the time left are shown once the run has been sending this long: before that,
# a handful of messages over a few milliseconds would claim tens of thousands a minute.
RATE_SETTLE_SECONDS = 3.0


# --- planning --------------------------------------------------------------------------------
ALREADY_REACHED = "уже получил(а) этот шаблон"
NO_CONSENT = "нет согласия на рассылку"
BOUNCED = "адрес не доставляется (возврат письма)"


def reason_kind(reason: str) -> str:
    """A skip reason without the value it quotes: «неверный email «a@b»: …» → «неверный email»."""
    head, quote, _rest = reason.partition("«")
    return head.strip(" :") if quote and head.strip(" :") else reason


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
    again: bool = False  # include the clients who already got this template
    skip_incomplete: bool = False  # skip the clients lacking a field the text uses
    # Recipients lacking a field the text uses without a default, with the placeholders.
    incomplete: list[tuple[Delivery, list[str]]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # said, but the user decides
    # Pending recipients of earlier, unfinished runs of the template that this run takes over.
    taken_over: list[Delivery] = field(default_factory=list)
    require_consent: bool = False  # the setting: clients without consent are skipped

    @property
    def skip_reasons(self) -> Counter[str]:
        return Counter(d.reply for d in self.skipped)

    @property
    def skip_kinds(self) -> Counter[str]:
        """Skip reasons grouped by kind: «неверный email — 12», not each bad address once."""
        return Counter(reason_kind(d.reply) for d in self.skipped)

    @property
    def repeats(self) -> int:
        """How many marked clients are left out because they already got the template."""
        return sum(1 for d in self.skipped if d.reply == ALREADY_REACHED)

    @property
    def without_consent(self) -> int:
        """How many marked clients are left out for lack of consent to mailings."""
        return sum(1 for d in self.skipped if d.reply == NO_CONSENT)

    @property
    def missing_counts(self) -> Counter[str]:
        """Placeholder name → how many recipients (or skipped-for-it clients) lack it."""
        return Counter(name for _delivery, names in self.incomplete for name in names)

    @property
    def can_start(self) -> bool:
        return not self.problems and bool(self.recipients)


def plan_run(
    conn, template: Template, *, again: bool = False, skip_incomplete: bool = False
) -> RunPlan:
    """The recipients of ``template`` among the marked clients, and why others are skipped.

    Unless ``again``, a client a real run of this template already reached (sent, uncertain or
    being sent) is skipped with :data:`ALREADY_REACHED`. A client lacking a field the text
    uses without a default is listed in ``incomplete``, and skipped when ``skip_incomplete``.
    With the setting ``email.require_consent`` a client without consent is skipped
    (:data:`NO_CONSENT`, email and SMS); an email run skips a bounced address (:data:`BOUNCED`).
    """
    channel = Channel.SMS if template.sms else Channel.EMAIL
    require_consent = load_email_settings(conn).require_consent
    recipients: list[Delivery] = []
    skipped: list[Delivery] = []
    incomplete: list[tuple[Delivery, list[str]]] = []
    seen: set[str] = set()
    refused = opted_out_addresses(conn, channel)
    reached_ids, reached_addresses = (
        run_store.reached(conn, template.id)
        if template.id is not None and not again
        else (set(), set())
    )
    text = template.body if channel is Channel.SMS else f"{template.subject}\n{template.body}"
    needed = fields_without_default(text)  # read once, not once per client
    for client in client_store.list_clients(conn, marked_only=True):
        address, reason = _address_of(client, channel)
        key = address.casefold()
        if not reason and key in refused:
            reason = "этот адрес отказался от рассылки (в карточке другого клиента)"
        if not reason and require_consent and not client.consent:
            reason = NO_CONSENT
        if not reason and client.bounced and channel is Channel.EMAIL:
            reason = BOUNCED
        if not reason and key in seen:
            reason = "этот адрес уже есть в рассылке: второе сообщение не отправляется"
        if not reason and (client.id in reached_ids or key in reached_addresses):
            reason = ALREADY_REACHED
        seen.add(key)
        position = len(recipients) + len(skipped) + 1
        # What the report shows for a skipped client: the channel's contact, else the other one.
        if channel is Channel.SMS:
            shown = client.mobile or client.email
        else:
            shown = client.email or client.mobile
        delivery = _delivery_for(client, address or shown, position)
        if not reason and (missing := lacking(needed, client)):
            incomplete.append((delivery, missing))
            if skip_incomplete:
                reason = "нет данных для " + ", ".join(f"%{name}%" for name in missing)
        if reason:
            delivery.status, delivery.reply = DeliveryStatus.SKIPPED, reason
            skipped.append(delivery)
        else:
            recipients.append(delivery)
    plan = RunPlan(template, channel, recipients, skipped, again=again,
                   skip_incomplete=skip_incomplete, incomplete=incomplete,
                   require_consent=require_consent)  # fmt: skip
    if template.id is not None:
        plan.taken_over = _waiting_in_other_runs(conn, template.id, recipients)
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
        plan.problems.append(_nobody_to_send(skipped, plan.repeats, plan.without_consent))
    return plan


def _nobody_to_send(skipped: list[Delivery], repeats: int, without_consent: int) -> str:
    if not skipped:
        return "Некому отправлять: отметьте клиентов в справочнике «Клиенты»."
    if without_consent == len(skipped):
        return (
            f"Ни у одного отмеченного клиента нет согласия на рассылку ({without_consent}), а "
            "в «Параметрах» включено «Только клиентам с согласием на рассылку». Укажите дату "
            "согласия в карточках клиентов или загрузите её импортом."
        )
    if repeats:
        return (
            f"Все, кому можно отправить, уже получили этот шаблон ({repeats}). Чтобы отправить "
            "им ещё раз, включите «Отправить и тем, кто уже получил»."
        )
    return "Ни одному отмеченному клиенту нельзя отправить сообщение (см. причины)."


def _waiting_in_other_runs(conn, template_id: int, recipients: list[Delivery]) -> list[Delivery]:
    """Pending deliveries of the template's other real runs for this plan's recipients."""
    ids = {d.client_id for d in recipients if d.client_id is not None}
    addresses = {d.recipient.casefold() for d in recipients}
    return [
        d
        for d in run_store.waiting_elsewhere(conn, template_id)
        if d.client_id in ids or d.recipient.casefold() in addresses
    ]


def opted_out_addresses(conn, channel: Channel) -> set[str]:
    """Addresses of every client who refused mailings: the refusal follows the address."""
    refused = set()
    for client in client_store.opted_out_clients(conn):
        client.opt_out = False
        address, reason = _address_of(client, channel)
        if address and not reason:
            refused.add(address.casefold())
    return refused


def _address_of(client: Client, channel: Channel) -> tuple[str, str]:
    """(address to use, reason to skip or "").

    The checks are the grid's (storage/directory.py paints a cell pink for the same values).
    """
    if client.opt_out:
        return "", "отказ от рассылки"
    if channel is Channel.EMAIL:
        if not client.email:
            return "", "нет email"
        problem = email_problem(client.email)
        return client.email, problem or ""
    if not client.mobile:
        return "", "нет сотового телефона"
    mobile = mobile_for_sending(client.mobile)
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


# --- sending ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Progress:
    """Where a run stands; the engine reports one before every message, at every change of state,
    and at the end."""

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
    reason: str = ""  # why the run stopped (or waits)
    resume_at: float = 0.0  # a waiting run goes on at this Unix time

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped + self.uncertain

    @property
    def ended(self) -> bool:
        return self.status in (RunStatus.FINISHED, RunStatus.CANCELLED, RunStatus.STOPPED)


class SendingClock:
    """The run's speed over the time it was actually sending (a pause does not count).

    Messages per minute over the last :data:`RATE_WINDOW` messages, or over the whole run
    while it has sent fewer; nothing until :data:`RATE_SETTLE_SECONDS` of sending have passed.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._paused_total = 0.0
        self._started: float | None = None
        self._times: deque[float] = deque(maxlen=RATE_WINDOW)

    def _now(self) -> float:
        """Sending time: the clock less every pause."""
        return self._clock() - self._paused_total

    def start(self) -> None:
        self._started = self._now()
        self._times.clear()

    def sent(self) -> None:
        self._times.append(self._now())

    @contextmanager
    def paused(self) -> Iterator[None]:
        began = self._clock()
        try:
            yield
        finally:
            self._paused_total += self._clock() - began

    def per_minute(self) -> float:
        if self._started is None or not self._times:
            return 0.0
        now = self._now()
        if now - self._started < RATE_SETTLE_SECONDS:
            return 0.0
        if len(self._times) < RATE_WINDOW:
            return 60.0 * len(self._times) / (now - self._started)
        span = now - self._times[0]
        return 60.0 * (len(self._times) - 1) / span if span > 0 else 0.0


def changed_attachments(run: Run, attachments: Sequence[Attachment]) -> str:
    """Why the run must not go on with these attachment bytes ("" when they are as it began).

    Every recipient of one run gets the same file: a file changed since the run started (a
    crash, a pause, a cancel) is refused, naming it, instead of sending a second version.
    """
    recorded = run.attachment_digests
    for path, attachment in zip(run.template().attachments, attachments, strict=False):
        digest = recorded.get(path)
        if digest and digest != payload_sha256(attachment):
            return changed_attachment_message(run, attachment.filename)
    return ""


def changed_attachment_message(run: Run, filename: str) -> str:
    """Why a run refuses to go on: its attachment ``filename`` is not the file it began with."""
    return (
        f"Файл приложения «{filename}» изменился после начала рассылки № {run.id}: все её "
        "получатели должны получить один и тот же файл. Верните прежний файл или разошлите "
        "изменённый новой рассылкой."
    )


def payload_sha256(attachment: Attachment) -> str:
    """SHA-256 of the bytes an attachment carries (decoded from its transfer encoding)."""
    return hashlib.sha256(attachment.part.get_payload(decode=True)).hexdigest()


def message_id_of(payload: object) -> str:
    """The Message-ID of a built email (wire bytes or an EmailMessage); "" for an SMS."""
    if isinstance(payload, bytes):
        start = payload.find(b"\r\nMessage-ID: ")
        if start < 0:
            return ""
        end = payload.find(b"\r\n", start + 2)
        return payload[start + 14 : end].decode("ascii", "replace").strip()
    if isinstance(payload, str):
        return ""
    return str(payload.get("Message-ID", "")).strip()


def format_duration(seconds: float) -> str:
    """Time left as a person reads it: "4:05" or "1:02:30"."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


@dataclass(eq=False)
class _Waiting:
    """A recipient in the run's line: the attempt it is at, and when it may go (a retry)."""

    delivery: Delivery
    attempt: int = 1
    due: float = 0.0  # time.monotonic(); 0: at once


class RunBusy(Exception):
    """The run is being sent by another window or process right now."""


class _Stop(Exception):
    def __init__(self, status: RunStatus, reason: str = "", resume_at: float = 0.0) -> None:
        super().__init__(reason)
        self.status, self.reason, self.resume_at = status, reason, resume_at


@dataclass(eq=False)
class Mailbox:
    """One way out for a run's messages: a transport with its From and its limits.

    A run sends through one mailbox, or through several (each up to its daily limit, the From
    of each message being the mailbox that sent it). ``address`` keys the daily limit in the
    journal; "" (SMS, a folder) keeps no such count.
    """

    transport: Transport
    sender: Sender | None = None
    address: str = ""
    daily_limit: int = 0  # messages in any 24 hours; 0 = no limit
    per_minute: int = 0
    out: str = ""  # why this mailbox was left out of the run ("" while it is usable)
    last_send: float = 0.0  # when its last message went to a connection (time.monotonic)

    @property
    def interval(self) -> float:
        return 60.0 / self.per_minute if self.per_minute > 0 else 0.0


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
        lock: FileLock | None = None,
        mailbox: str = "",
        daily_limit: int = 0,
        wait_for_limit: bool = True,
        clock: Clock = SYSTEM_CLOCK,
        more_mailboxes: Sequence[Mailbox] = (),
        connections: int = 1,
    ) -> None:
        self.database = Path(database)
        self.run_id = run_id
        self.mailboxes = [
            Mailbox(transport, sender, mailbox, daily_limit, per_minute),
            *more_mailboxes,
        ]
        self.on_progress = on_progress
        self.retry_delays = tuple(retry_delays)
        self.max_failures_in_a_row = max_failures_in_a_row
        self._cancelled = threading.Event()
        self._running = threading.Event()  # cleared while paused
        self._running.set()
        self._lock = lock  # the run's lock, already taken by whoever created or resumed it
        self.wait_for_limit = wait_for_limit  # else a run at its limit ends as WAITING
        self.clock = clock
        self.connections = max(1, connections)
        self._speed = SendingClock(clock.monotonic)
        self._lanes: list[Lane] = []

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
        lock = self._lock or run_lock(self.database.parent, self.run_id)
        if self._lock is None and not lock.acquire():
            raise RunBusy(f"Рассылка № {self.run_id} уже идёт в другом окне или процессе.")
        try:
            conn = open_database(self.database)
            try:
                return self._run(conn)
            finally:
                conn.close()
        finally:
            lock.release()

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
            self._speed.start()
            self._send_all(
                conn, run_store.deliveries(conn, self.run_id, [DeliveryStatus.PENDING]), build
            )
        except _Stop as stop:
            reason = self._with_left_out(stop.reason)
            run_store.set_status(conn, self.run_id, stop.status, reason, resume_at=stop.resume_at)
            return self._report(conn, stop.status, reason=reason, resume_at=stop.resume_at)
        finally:
            self._close_all()
        reason = self._with_left_out("")
        run_store.set_status(conn, self.run_id, RunStatus.FINISHED, reason)
        if run.template_id is not None and not run.test:
            template_store.mark_sent(
                conn, run.template_id, run_store.finished_time(conn, self.run_id)
            )
        return self._report(conn, RunStatus.FINISHED, reason=reason)

    def _with_left_out(self, reason: str) -> str:
        """``reason``, and a line for each mailbox the run went without while others went on."""
        if len(self.mailboxes) < 2 or all(m.out for m in self.mailboxes):
            return reason  # one mailbox, or none left: the reason says it already
        notes = [f"Ящик {m.address} не использовался: {m.out}" for m in self.mailboxes if m.out]
        return "\n".join(filter(None, [reason, *notes]))

    def _builder(self, run: Run) -> Callable[[Delivery, Mailbox], object]:
        template = run.template()
        if run.channel is Channel.SMS:
            return lambda d, _mailbox: build_sms(template, d.client())
        try:
            attachments = load_attachments(template)  # read and encoded once for the whole run
        except TemplateError as error:
            raise _Stop(RunStatus.STOPPED, str(error)) from None
        if changed := changed_attachments(run, attachments):
            raise _Stop(RunStatus.STOPPED, changed)
        # Shared parts (the attachments, each From) are encoded once, one factory a mailbox.
        factories = {id(m): EmailFactory(template, m.sender, attachments) for m in self.mailboxes}
        return lambda d, mailbox: factories[id(mailbox)].build(d.client())

    def _open(self) -> None:
        """Connect every mailbox; one that cannot be used is left out with the reason."""
        for mailbox in self.mailboxes:
            try:
                mailbox.transport.open()
            except DeliveryError as error:
                mailbox.out = error.reply
        self._usable()

    def _usable(self) -> list[Mailbox]:
        """The mailboxes still in the run; none left stops it with every reason."""
        usable = [m for m in self.mailboxes if not m.out]
        if not usable:
            reasons = [m.out for m in self.mailboxes]
            if len(reasons) > 1:
                reasons = [f"{m.address or 'ящик'}: {m.out}" for m in self.mailboxes]
            raise _Stop(RunStatus.STOPPED, "\n".join(reasons))
        return usable

    def _close_all(self) -> None:
        """Let every connection go (all lanes are free whenever this is called)."""
        for mailbox in self.mailboxes:
            mailbox.transport.close()
        for lane in self._lanes:
            lane.close()

    def _lane_count(self) -> int:
        """Parallel connections: as many as set, when every mailbox can open more than one."""
        if self.connections > 1 and all(opens_more(m.transport) for m in self.mailboxes):
            return self.connections
        return 1

    def _send_all(self, conn, pending: list[Delivery], build: Callable[[Delivery], object]) -> None:
        """Hand every pending recipient to a free connection and journal what comes back.

        This thread decides everything and writes the journal; the lanes only talk to the
        servers. A message is claimed ("sending") right before its lane gets it, so the daily
        limit counts it at once; its outcome is journaled in the same transaction as the next
        claim (one commit a message), and always before any wait.
        """
        self._queue = deque(_Waiting(d) for d in pending)
        self._finished: queue.SimpleQueue[Job] = queue.SimpleQueue()
        count = self._lane_count()
        # One connection sends on this thread: measured, handing each message to another
        # thread costs more than building the next one meanwhile saves.
        self._lanes = [Lane(index, self._finished, inline=count == 1) for index in range(count)]
        self._failures_in_a_row = 0
        self._stop: _Stop | None = None
        self._defect: BaseException | None = None
        try:
            while True:
                self._settle_finished(conn)
                if not self._queue:  # the last jobs are out; one may yet come back to retry
                    if not self._in_flight():
                        break
                    self._settle_next(conn)
                    self._raise_recorded()
                    continue
                self._checkpoint(conn)
                self._dispatch(conn, self._free_lane(conn), build)
        except _Stop:
            self._drain(conn)
            raise
        finally:
            self._commit(conn)
            for lane in self._lanes:
                lane.stop()
        self._raise_recorded()

    def _in_flight(self) -> bool:
        return any(lane.job for lane in self._lanes)

    def _raise_recorded(self) -> None:
        """Raise what an outcome decided (a stop) or what a lane hit (a defect)."""
        if self._defect is not None:
            raise self._defect
        if self._stop is not None:
            raise self._stop

    # --- the journal: one transaction from an outcome to the next claim ---
    def _begin(self, conn) -> None:
        if not conn.in_transaction:
            conn.execute("BEGIN IMMEDIATE")

    def _commit(self, conn) -> None:
        """Make what is journaled durable; done before every wait, so no writer waits on us."""
        if conn.in_transaction:
            conn.execute("COMMIT")

    # --- handing over ---
    def _free_lane(self, conn) -> Lane:
        """The first free lane; while none is, await an outcome."""
        while True:
            self._raise_recorded()
            for lane in self._lanes:
                if lane.free:
                    return lane
            self._settle_next(conn)

    def _dispatch(self, conn, lane: Lane, build) -> None:
        """Claim the next message(s) and give them to ``lane``."""
        due = self._queue[0].due
        if due > time.monotonic():  # a retry: the server asked for time, the run gives it
            self._drain(conn)
            self._raise_recorded()
            self._wait(conn, due - time.monotonic())
            self._checkpoint(conn)
        mailbox = self._choose_mailbox(conn)
        self._wait_for_rate(conn, mailbox)
        transport = lane.transport(mailbox)
        self._wait(conn, transport.ready_in())  # before the claim: a cancel sends nothing
        batch = self._take_batch(conn, mailbox, transport)
        self._report(conn, RunStatus.RUNNING, current=self._current(batch))
        items = [(w.delivery, self._build(build, w.delivery, mailbox)) for w in batch]
        self._begin(conn)
        claimed = [
            (waiting, item)
            for waiting, item in zip(batch, items, strict=True)
            if self._claim(conn, waiting, mailbox, item[1])
        ]
        self._commit(conn)
        for waiting in batch:
            if all(waiting is not w for w, _item in claimed):
                self._count(waiting.delivery, DeliveryStatus.SKIPPED, "")  # another run took it
        if not claimed:
            return
        mailbox.last_send = time.monotonic() + (len(claimed) - 1) * mailbox.interval
        lane.start(Job(mailbox, [item for _w, item in claimed],
                       [w.attempt for w, _item in claimed], lane))  # fmt: skip

    def _current(self, batch: list[_Waiting]) -> str:
        """«Сейчас»: the recipient handed over now, and how many more are on their way with it
        (the rest of a batch, the other connections' messages)."""
        others = len(batch) - 1 + sum(len(lane.job.items) for lane in self._lanes if lane.job)
        first = batch[0].delivery.recipient
        return f"{first} и ещё {others}" if others else first

    def _take_batch(self, conn, mailbox: Mailbox, transport: Transport) -> list[_Waiting]:
        """The next message, or as many as the transport takes at once (SMS), the limits kept.

        Under a per-minute limit a batch holds about a second of it, and a divisor of the limit,
        one batch going every so many intervals: then no minute ever holds more than the limit.
        """
        size = batch_size(transport)
        if mailbox.per_minute:
            cap = max(1, min(size, mailbox.per_minute // 60))
            size = max(n for n in range(1, cap + 1) if mailbox.per_minute % n == 0)
        if mailbox.daily_limit and mailbox.address and size > 1:
            since = self.clock.now() - run_store.DAY
            used = run_store.handed_over_since(conn, mailbox.address, since)
            size = max(1, min(size, mailbox.daily_limit - used))
        batch = [self._queue.popleft()]
        while len(batch) < size and self._queue and self._queue[0].attempt == batch[0].attempt:
            if self._queue[0].due > time.monotonic():
                break
            batch.append(self._queue.popleft())
        return batch

    def _claim(self, conn, waiting: _Waiting, mailbox: Mailbox, payload: object) -> bool:
        return run_store.claim(
            conn, self.run_id, waiting.delivery.position, waiting.attempt, mailbox.address,
            self.clock.now(), message_id_of(payload),
        )  # fmt: skip

    def _build(self, build, delivery: Delivery, mailbox: Mailbox) -> object:
        """The message for one recipient; a failure to make it stops the run with the reason
        (the recipient stays pending), never a traceback that leaves the run interrupted."""
        try:
            return build(delivery, mailbox)
        except Exception as error:
            logger.exception("building the message for %s", delivery.recipient)
            raise _Stop(RunStatus.STOPPED, (
                f"Не удалось составить сообщение для {delivery.recipient}: {error}. "
                "Исправьте шаблон или данные клиента и продолжите рассылку."
            )) from None  # fmt: skip

    # --- what comes back ---
    def _settle_finished(self, conn) -> None:
        """Journal every outcome already back, without waiting."""
        while True:
            try:
                job = self._finished.get_nowait()
            except queue.Empty:
                return
            self._settle(conn, job)

    def _settle_next(self, conn) -> None:
        """Wait for the next job to come back and journal it."""
        self._commit(conn)
        self._settle(conn, self._finished.get())

    def _drain(self, conn) -> None:
        """Wait for every job in flight and journal each (before a pause, a wait or the end)."""
        while self._in_flight():
            self._settle_next(conn)
        self._commit(conn)

    def _settle(self, conn, job: Job) -> None:
        """Journal the outcome of each message of a job that came back; decide what follows."""
        job.lane.job = None
        if job.defect is not None:
            self._defect = self._defect or job.defect  # its messages stay "sending": uncertain
            return
        self._begin(conn)
        again: list[_Waiting] = []
        for (delivery, _payload), attempt, outcome in zip(
            job.items, job.attempts, job.outcomes, strict=True
        ):
            if isinstance(outcome, DeliveryError):
                again += self._refused(conn, job, delivery, attempt, outcome)
            else:
                self._mark(conn, delivery, DeliveryStatus.SENT, outcome)
                self._speed.sent()
                job.lane.accepted += 1
        self._queue.extendleft(reversed(again))

    def _refused(
        self, conn, job: Job, delivery: Delivery, attempt: int, error: DeliveryError
    ) -> list[_Waiting]:
        """Journal one message the server did not take; what to send again (first in line)."""
        mailbox, reply = job.mailbox, error.reply
        if error.quota:  # the provider blocks this mailbox for a day: no more knocking
            self._mark(conn, delivery, DeliveryStatus.PENDING, reply, final=False)
            run_store.block_mailbox(conn, mailbox.address, self.clock.now() + run_store.DAY, reply)
            return [_Waiting(delivery)]
        if self._retire(job.lane, error):
            self._mark(conn, delivery, DeliveryStatus.PENDING, reply, final=False)
            return [_Waiting(delivery, attempt)]
        gave_up = error.connection and attempt > len(self.retry_delays)
        others = [m for m in self.mailboxes if not m.out and m is not mailbox]
        if (error.mailbox or gave_up) and others:  # this mailbox is left out, the others go on
            self._mark(conn, delivery, DeliveryStatus.PENDING, reply, final=False)
            mailbox.out = mailbox.out or reply
            return [_Waiting(delivery)]
        if error.uncertain:  # maybe delivered: never sent again automatically
            self._mark(conn, delivery, DeliveryStatus.UNCERTAIN, reply)
            return []
        if error.fatal or gave_up:
            self._mark(conn, delivery, DeliveryStatus.PENDING, reply, final=False)
            self._stop = self._stop or _Stop(RunStatus.STOPPED, reply)
            return []
        if error.temporary and attempt <= len(self.retry_delays):
            self._mark(conn, delivery, DeliveryStatus.PENDING, reply, final=False)
            due = time.monotonic() + self.retry_delays[attempt - 1]
            return [_Waiting(delivery, attempt + 1, due)]
        self._mark(conn, delivery, DeliveryStatus.FAILED, reply)
        return []

    def _retire(self, lane: Lane, error: DeliveryError) -> bool:
        """An extra connection the server would not take (a limit on connections): the run
        goes on with the others instead of retrying or stopping."""
        if lane.index == 0 or lane.accepted or error.uncertain or not error.connection:
            return False  # lane 0 never retires: the run always keeps one connection
        lane.retired = error.reply
        logger.warning("connection %d left out of the run: %s", lane.index + 1, error.reply)
        return True

    def _mark(
        self, conn, delivery: Delivery, status: DeliveryStatus, reply: str, *, final: bool = True
    ) -> None:
        """Journal ``delivery``'s new state; a final one also counts it for the progress."""
        run_store.mark(conn, self.run_id, delivery.position, status, reply)
        if final:
            self._count(delivery, status, reply)

    def _count(self, delivery: Delivery, status: DeliveryStatus, reply: str) -> None:
        self._counts[DeliveryStatus.PENDING] -= 1
        self._counts[status] += 1
        if status is not DeliveryStatus.FAILED:
            self._failures_in_a_row = 0
            return
        self._failures_in_a_row += 1
        more = self._queue or self._in_flight()
        if self._failures_in_a_row >= self.max_failures_in_a_row and more and not self._stop:
            self._stop = _Stop(RunStatus.STOPPED, (
                f"Подряд не отправлено {self._failures_in_a_row} сообщений, последняя ошибка: "
                f"{reply}. Рассылка остановлена: проверьте параметры и продолжите её."
            ))  # fmt: skip

    # --- pauses and waits ---
    def _checkpoint(self, conn) -> None:
        """Between messages: honour a cancel, and wait out a pause."""
        if self._cancelled.is_set():
            raise _Stop(RunStatus.CANCELLED, "Рассылка отменена пользователем.")
        if not self._running.is_set():
            self._drain(conn)  # what is on its way finishes; nothing new starts
            self._raise_recorded()
            self._close_all()  # an idle connection would be dropped by the server anyway
            run_store.set_status(conn, self.run_id, RunStatus.PAUSED)
            self._report(conn, RunStatus.PAUSED)
            with self._speed.paused():
                self._running.wait()
            if self._cancelled.is_set():
                raise _Stop(RunStatus.CANCELLED, "Рассылка отменена пользователем.")
            run_store.set_status(conn, self.run_id, RunStatus.RUNNING)

    def _choose_mailbox(self, conn) -> Mailbox:
        """The mailbox for the next message: the first one free now, in the settings' order.

        Each mailbox keeps its daily limit, counted from the journal (every run through it in
        the last 24 hours, so the limit holds across runs, processes and days — and across
        this run's connections, as each message is claimed before its lane gets it), and any
        block of its provider. When none is free the run becomes WAITING until the first one
        is: it waits here (the window, ``send --wait``) or ends so that ``send --resume`` goes
        on.
        """
        now = self.clock.now()
        best, best_at, best_why = None, 0.0, ""
        for mailbox in self._usable():
            at, why = self._free_at(conn, mailbox, now)
            if best is None or at < best_at:
                best, best_at, best_why = mailbox, at, why
        if best_at > now:
            self._wait_until(conn, best_at, best_why)
        return best

    def _free_at(self, conn, mailbox: Mailbox, now: float) -> tuple[float, str]:
        """When ``mailbox`` may hand over its next message, and why not before."""
        if not mailbox.address:
            return now, ""
        until, why = run_store.blocked_until(conn, mailbox.address)
        if until <= now:
            until, why = now, ""
        if mailbox.daily_limit:
            frees = run_store.slot_frees_at(conn, mailbox.address, now, mailbox.daily_limit)
            if frees > until:
                until, why = (
                    frees,
                    (
                        f"Дневной лимит ящика {mailbox.address} исчерпан: не больше "
                        f"{mailbox.daily_limit} писем за сутки."
                    ),
                )
        return until, why

    def _wait_until(self, conn, when: float, why: str) -> None:
        if not self.wait_for_limit:
            raise _Stop(RunStatus.WAITING, why, resume_at=when)
        self._drain(conn)  # what is on its way finishes first
        self._raise_recorded()
        self._close_all()  # an idle connection would be dropped by the server anyway
        run_store.set_status(conn, self.run_id, RunStatus.WAITING, why, resume_at=when)
        self._report(conn, RunStatus.WAITING, reason=why, resume_at=when)
        with self._speed.paused():
            while (left := when - self.clock.now()) > 0:
                if self.clock.wait(self._cancelled, min(left, 60.0)):
                    raise _Stop(RunStatus.CANCELLED, "Рассылка отменена пользователем.")
        run_store.set_status(conn, self.run_id, RunStatus.RUNNING)

    def _wait_for_rate(self, conn, mailbox: Mailbox) -> None:
        if mailbox.interval and mailbox.last_send:
            self._wait(conn, mailbox.last_send + mailbox.interval - time.monotonic())

    def _wait(self, conn, seconds: float) -> None:
        """Wait, waking at once for a cancel; what is journaled is committed first."""
        if seconds <= 0:
            return
        self._commit(conn)
        if self._cancelled.wait(seconds):
            raise _Stop(RunStatus.CANCELLED, "Рассылка отменена пользователем.")

    # --- progress ---
    def _progress(self, conn, status: RunStatus, current: str = "", reason: str = "") -> Progress:
        counts = getattr(self, "_counts", None) or run_store.status_counts(conn, self.run_id)
        pending = counts[DeliveryStatus.PENDING]
        per_minute = self._speed.per_minute() if status is RunStatus.RUNNING else 0.0
        left = pending * 60.0 / per_minute if per_minute and pending else None
        return Progress(
            run_id=self.run_id, status=status, total=sum(counts.values()),
            sent=counts[DeliveryStatus.SENT], failed=counts[DeliveryStatus.FAILED],
            skipped=counts[DeliveryStatus.SKIPPED], uncertain=counts[DeliveryStatus.UNCERTAIN],
            pending=pending, current=current, per_minute=per_minute, seconds_left=left,
            reason=reason,
        )  # fmt: skip

    def _report(
        self, conn, status: RunStatus, current: str = "", reason: str = "", resume_at: float = 0.0
    ) -> Progress:
        progress = replace(self._progress(conn, status, current, reason), resume_at=resume_at)
        self.on_progress(progress)
        return progress
