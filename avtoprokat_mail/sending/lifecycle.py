"""The life of a run, one service for the GUI and the CLI: plan, start, resume, retry, test.

Both front ends call :class:`Mailer` and nothing lower: it prepares the transport (asking for a
missing secret once, through the caller's ``ask_secret``) *before* anything is written or any
window opens, and it keeps the promise that no client gets the same template twice by accident:

- a repeat «Старт» skips the clients a real run of the template already reached (sent,
  uncertain or being sent), unless the user asks for ``again``;
- a second start of a template that is being sent (in any process) is refused: the run is
  created, and its OS lock taken, inside one write transaction, so the database decides;
- a new run takes the pending recipients of earlier unfinished runs over («moved»), and the
  engine claims each recipient with a conditional UPDATE, so of two runs only one can send;
- a test run into a folder is labelled ``test`` and counts for nothing a real run relies on.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from avtoprokat_mail.credentials import NO_SECURE_STORE, PasswordStore
from avtoprokat_mail.model import (
    Channel,
    Delivery,
    DeliveryStatus,
    Route,
    Run,
    RunStatus,
    Security,
    Template,
)
from avtoprokat_mail.sending.campaign import (
    ALREADY_REACHED,
    RETRY_DELAYS,
    Campaign,
    Progress,
    RunPlan,
    changed_attachment_message,
    opted_out_addresses,
    plan_run,
)
from avtoprokat_mail.sending.clock import SYSTEM_CLOCK, Clock
from avtoprokat_mail.sending.runlock import effective_status, is_being_sent, run_lock
from avtoprokat_mail.sending.setup import (
    SendingSetup,
    SetupError,
    prepare,
    secret_needed,
)
from avtoprokat_mail.storage import database_file, transaction
from avtoprokat_mail.storage import runs as run_store
from avtoprokat_mail.storage.settings import list_mailboxes, load_email_settings
from avtoprokat_mail.system.filelock import FileLock

ACTIVE = (RunStatus.RUNNING, RunStatus.PAUSED)
# Stored states in which a process may be holding the run (sending, paused, or waiting for the
# mailbox's daily limit in an open window): the run's lock tells whether one really is.
HELD = (RunStatus.RUNNING, RunStatus.PAUSED, RunStatus.WAITING)


class RunRefused(Exception):
    """What was asked cannot be done with this run now; ``str()`` says why (Russian)."""


class NobodyLeft(RunRefused):
    """Between the summary and the start, another run reached every planned recipient."""


@dataclass
class PreparedRun:
    """A run ready to send: its transport is set up and its lock is held by this process."""

    run_id: int
    setup: SendingSetup
    lock: FileLock
    database: Path

    def campaign(
        self,
        on_progress: Callable[[Progress], None] = lambda progress: None,
        *,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        wait_for_limit: bool = True,
        clock: Clock = SYSTEM_CLOCK,
    ) -> Campaign:
        """The engine for this run; it releases the lock when :meth:`Campaign.run` ends.

        At the mailbox's daily limit the engine waits (``wait_for_limit``: the window, and
        ``send --wait``) or ends the run as WAITING (``send`` from a scheduled job)."""
        setup = self.setup
        return Campaign(
            self.database, self.run_id, setup.transport, sender=setup.sender,
            per_minute=setup.per_minute, on_progress=on_progress, retry_delays=retry_delays,
            lock=self.lock, mailbox=setup.mailbox, daily_limit=setup.daily_limit,
            wait_for_limit=wait_for_limit, clock=clock, more_mailboxes=setup.more_mailboxes,
            connections=setup.connections,
        )  # fmt: skip

    def abandon(self) -> None:
        """Let the run go without sending (it stays resumable)."""
        self.lock.release()


@dataclass
class RunState:
    """What a run is now, and what can be done with it."""

    run: Run
    status: RunStatus  # INTERRUPTED for a running or paused run whose process is gone
    counts: Counter[DeliveryStatus]
    failed: int  # failed recipients no later run took over
    uncertain: int  # uncertain recipients no later run took over
    busy: bool = False  # some process holds the run now (sending, paused or waiting)

    @property
    def pending(self) -> int:
        return self.counts[DeliveryStatus.PENDING]

    @property
    def sent(self) -> int:
        return self.counts[DeliveryStatus.SENT]

    def why_not_continue(self, resend_uncertain: bool = False) -> str:
        """Why «Продолжить» cannot finish this run ("" when it can)."""
        if self.status in ACTIVE or self.busy:
            return f"Рассылка № {self.run.id} сейчас идёт в другом окне или процессе."
        if self.status is RunStatus.FINISHED:
            return f"Рассылка № {self.run.id} уже завершена: продолжать нечего."
        if not self.pending and not (resend_uncertain and self.uncertain):
            return "Неотправленных в этой рассылке не осталось."
        return ""

    def why_not_retry(self, include_uncertain: bool = False) -> str:
        """Why «Повторить неотправленные» has nobody to send to ("" when it has)."""
        if self.status in ACTIVE or self.busy:
            return f"Рассылка № {self.run.id} сейчас идёт: дождитесь её окончания или отмените её."
        if self.retryable(include_uncertain):
            return ""
        if self.uncertain and not include_uncertain:
            return (
                "Повторять некому: всем отправлено, кроме получателей с неизвестным исходом "
                "(письмо могло уйти) — отметьте их, чтобы отправить им ещё раз."
            )
        return "Повторять некому: всем получателям отправлено или передано в другую рассылку."

    def progress(self) -> Progress:
        """The run's figures as the engine would report them now (for a report of a past run)."""
        c = self.counts
        return Progress(
            run_id=self.run.id, status=self.status, total=sum(c.values()),
            sent=c[DeliveryStatus.SENT], failed=c[DeliveryStatus.FAILED],
            skipped=c[DeliveryStatus.SKIPPED], uncertain=c[DeliveryStatus.UNCERTAIN],
            pending=c[DeliveryStatus.PENDING], reason=self.run.reason,
        )  # fmt: skip

    def retryable(self, include_uncertain: bool = False) -> int:
        """How many recipients «Повторить неотправленные» would take."""
        return self.pending + self.failed + (self.uncertain if include_uncertain else 0)


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes ("" when it cannot be read: the run's checks report that)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


class Mailer:
    """Plans, starts, resumes and retries runs against one database.

    ``ask_secret(question)`` is asked, at most once per secret, for a password the system store
    cannot keep (the GUI shows a dialog; the CLI passes nothing and reports the missing secret).
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        passwords: PasswordStore,
        *,
        ask_secret: Callable[[str], str | None] | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        self.conn = conn
        self.passwords = passwords
        self.ask_secret = ask_secret
        self.environ = environ
        self.database = database_file(conn)
        self.folder = self.database.parent

    # --- what can be done -----------------------------------------------------------------------
    def plan(
        self, template: Template, *, again: bool = False, skip_incomplete: bool = False
    ) -> RunPlan:
        """What «Старт» of ``template`` would do now (see :func:`plan_run`)."""
        plan = plan_run(self.conn, template, again=again, skip_incomplete=skip_incomplete)
        if template.id is not None and (busy := self.active_run(template.id)):
            plan.problems.insert(0, _busy_message(busy))
        email = load_email_settings(self.conn)
        if plan.channel is Channel.EMAIL and email.auth and email.security is Security.NONE:
            plan.warnings.append(
                f"Пароль от {email.user} уйдёт на {email.host} без шифрования: выберите "
                "STARTTLS или SSL/TLS в «Параметрах» (почти все серверы их поддерживают)."
            )
        return plan

    def schedule(self, plan: RunPlan, now: float | None = None) -> Schedule:
        """How an email run of ``plan`` spreads over the sender mailboxes and the days."""
        settings = load_email_settings(self.conn)
        boxes = [(settings.sender_address.casefold(), settings.daily_limit)] + [
            (extra.sender_address.casefold(), extra.daily_limit)
            for _id, extra in list_mailboxes(self.conn, enabled_only=True)
        ]
        return plan_schedule(self.conn, boxes, len(plan.recipients), now or time.time())

    def active_run(self, template_id: int) -> Run | None:
        """A real run of the template that some process is sending (or has paused) now."""
        return active_run(self.conn, self.folder, template_id)

    def status_of(self, run: Run) -> RunStatus:
        """The run's status, INTERRUPTED when nobody sends a running or paused run any more."""
        return effective_status(run, self.folder)

    def state(self, run_id: int) -> RunState:
        run = run_store.get_run(self.conn, run_id)
        if run is None:
            raise RunRefused(f"Нет рассылки с номером {run_id}.")
        status = effective_status(run, self.folder)
        if status is RunStatus.INTERRUPTED:  # its process is gone: "sending" means "maybe sent"
            run_store.sending_to_uncertain(self.conn, run_id)
        unmoved = [
            d
            for d in run_store.deliveries(
                self.conn, run_id, [DeliveryStatus.FAILED, DeliveryStatus.UNCERTAIN]
            )
            if d.moved_to is None
        ]
        kinds = Counter(d.status for d in unmoved)
        return RunState(
            run=run,
            status=status,
            counts=run_store.status_counts(self.conn, run_id),
            failed=kinds[DeliveryStatus.FAILED],
            uncertain=kinds[DeliveryStatus.UNCERTAIN],
            busy=run.status in HELD and is_being_sent(self.folder, run_id),
        )

    def interrupted_runs(self) -> list[RunState]:
        """Runs left unfinished by a process that is gone, oldest first (offered at start-up):
        interrupted ones, and waiting ones that no open window waits with."""
        held = [run for run in reversed(run_store.list_runs(self.conn)) if run.status in HELD]
        states = [self.state(run.id) for run in held]  # one lock probe each, in state()
        return [state for state in states if not state.busy]

    # --- doing it ---------------------------------------------------------------------------------
    def will_ask_secret(self, channel: Channel) -> bool:
        """True when a start would ask for a password this computer cannot store."""
        needed = secret_needed(self.conn, channel)
        return not (
            needed is None
            or self.ask_secret is None
            or self.passwords.secure
            or self.passwords.get(needed[0])
        )

    def setup(self, channel: Channel, route: Route) -> SendingSetup:
        """The transport for a run; asks a secret the store cannot keep, once; else SetupError."""
        try:
            return prepare(self.conn, channel, route, self.passwords, self.environ)
        except SetupError:
            if route.is_test or not self.will_ask_secret(channel):
                raise
        account, question = secret_needed(self.conn, channel)
        secret = self.ask_secret(f"{question}\n\n{NO_SECURE_STORE}")
        if not secret:
            raise SetupError("Рассылка не начата: пароль не введён.")
        self.passwords.set(account, secret)
        return prepare(self.conn, channel, route, self.passwords, self.environ)

    def start(
        self, plan: RunPlan, *, outbox: Path | None = None, setup: SendingSetup | None = None
    ) -> PreparedRun:
        """Write the run of ``plan`` (a test run into ``outbox`` when given), ready to send.

        The settings are checked first; then, in one write transaction, a running start of the
        same template is refused, clients reached since the plan was made are left out, and
        pending recipients of earlier unfinished runs are taken over.
        """
        route = Route.outbox(outbox) if outbox else Route.direct(plan.channel)
        setup = setup or self.setup(plan.channel, route)  # a caller that showed it has one
        run_id, lock = create_run(self.conn, plan, route)
        return PreparedRun(run_id, setup, lock, self.database)

    def resume(self, run_id: int, *, resend_uncertain: bool = False) -> PreparedRun:
        """Continue an interrupted, cancelled or stopped run under its own id."""
        state = self.state(run_id)
        if why := state.why_not_continue(resend_uncertain):
            raise RunRefused(why)
        run = state.run
        self._refuse_changed_attachments(run)
        setup = self.setup(run.channel, run.route)
        lock = run_lock(self.folder, run_id)
        if not lock.acquire():
            raise RunRefused(f"Рассылка № {run_id} сейчас идёт в другом окне или процессе.")
        run_store.sending_to_uncertain(self.conn, run_id)
        if resend_uncertain:
            run_store.uncertain_to_pending(self.conn, run_id)
        return PreparedRun(run_id, setup, lock, self.database)

    def retry(self, run_id: int, *, include_uncertain: bool = False) -> PreparedRun:
        """A new run to ``run_id``'s clients who did not get it: pending and failed, and the
        uncertain ones only when asked. The old run never sends to them afterwards."""
        state = self.state(run_id)
        if why := state.why_not_retry(include_uncertain):
            raise RunRefused(why)
        old = state.run
        setup = self.setup(old.channel, old.route)
        new_id, lock = create_retry(self.conn, old, include_uncertain=include_uncertain)
        return PreparedRun(new_id, setup, lock, self.database)

    def _refuse_changed_attachments(self, run: Run) -> None:
        for path, digest in run.attachment_digests.items():
            if file_sha256(path) not in (digest, ""):  # a missing file: the run reports it
                raise RunRefused(changed_attachment_message(run, Path(path).name))


@dataclass
class Schedule:
    """Where the messages of a run go today, and when the last one can go."""

    today: list[tuple[str, int]]  # (mailbox, messages it can still send in the next 24 hours)
    later: int  # messages that must wait for a mailbox's limit
    ends_at: float  # Unix time the last message can go (now when nothing waits)


def plan_schedule(
    conn: sqlite3.Connection, boxes: Sequence[tuple[str, int]], count: int, now: float
) -> Schedule:
    """Spread ``count`` messages over ``boxes`` (address, daily limit; 0 = none), in order.

    A mailbox takes what its limit leaves of the last 24 hours; what none can take waits a day
    for every round of the mailboxes' limits (an estimate: slots also free during the day).
    """
    today, left, per_day = [], count, 0
    for address, limit in boxes:
        if not address:
            continue
        if not limit:  # no limit: it takes everything left
            today.append((address, left))
            return Schedule(today, 0, now)
        free = max(limit - run_store.handed_over_since(conn, address, now - run_store.DAY), 0)
        take = min(free, left)
        today.append((address, take))
        left -= take
        per_day += limit
    later = left
    days = -(-later // per_day) if later and per_day else 0
    return Schedule(today, later, now + days * run_store.DAY)


def active_run(conn: sqlite3.Connection, folder: Path, template_id: int) -> Run | None:
    """A real run of the template that some process holds now (sending, paused or waiting):
    stored as such, with its OS lock taken."""
    for run in run_store.runs_of_template(conn, template_id):
        if not run.test and run.status in HELD and is_being_sent(folder, run.id):
            return run
    return None


def _busy_message(run: Run) -> str:
    return (
        f"Этот шаблон уже рассылается: рассылка № {run.id} идёт в другом окне или процессе. "
        "Дождитесь её окончания или отмените её."
    )


def _digests(template: Template) -> tuple[str, str]:
    return tuple(file_sha256(p) if p else "" for p in (template.attachment1, template.attachment2))


def _take_lock(folder: Path, run_id: int) -> FileLock:
    lock = run_lock(folder, run_id)
    if not lock.acquire():  # a fresh id: only a leftover file from a deleted database
        raise RunRefused(f"Рассылка № {run_id} уже занята другим процессом.")
    return lock


def create_run(conn: sqlite3.Connection, plan: RunPlan, route: Route) -> tuple[int, FileLock]:
    """Journal the run of ``plan``; returns its id and its lock, taken before the commit.

    Taking the lock inside the transaction means no other process ever sees the new run
    without a live sender: a concurrent start of the same template is refused, not doubled.
    """
    folder = database_file(conn).parent
    template = plan.template
    run = Run.of(template, route)
    test = route.is_test
    if plan.channel is Channel.EMAIL:
        run.attachment1_sha256, run.attachment2_sha256 = _digests(template)
    recipients, skipped = list(plan.recipients), list(plan.skipped)
    with transaction(conn):
        if template.id is not None and not test:
            if busy := active_run(conn, folder, template.id):
                raise RunRefused(_busy_message(busy))
            if not plan.again:
                recipients, skipped = _leave_out_reached(conn, template.id, recipients, skipped)
            if not recipients:
                raise NobodyLeft(
                    "Пока вы смотрели сводку, все эти клиенты получили шаблон в другой "
                    "рассылке: отправлять некому."
                )
        everyone = sorted(recipients + skipped, key=lambda d: d.position)
        run_id = run_store.create_run(conn, run, everyone)
        if template.id is not None and not test:
            wanted = _identities(recipients)
            run_store.take_over(
                conn,
                [d for d in run_store.waiting_elsewhere(conn, template.id, run_id)
                 if _matches(d, wanted)],
                run_id,
            )  # fmt: skip
        lock = _take_lock(folder, run_id)
    return run_id, lock


def create_retry(
    conn: sqlite3.Connection, old: Run, *, include_uncertain: bool = False
) -> tuple[int, FileLock]:
    """Journal a new run to ``old``'s recipients who did not get it; returns its id and lock."""
    folder = database_file(conn).parent
    wanted = [DeliveryStatus.PENDING, DeliveryStatus.FAILED]
    if include_uncertain:
        wanted.append(DeliveryStatus.UNCERTAIN)
    refused = opted_out_addresses(conn, old.channel)
    run = Run.of(old.template(), old.route)
    run.attachment1_sha256, run.attachment2_sha256 = _digests(old.template())
    with transaction(conn):
        if is_being_sent(folder, old.id):
            raise RunRefused(f"Рассылка № {old.id} сейчас идёт: дождитесь её окончания.")
        reached_ids: set[int] = set()
        reached_addresses: set[str] = set()
        if old.template_id is not None and not old.test:
            reached_ids, reached_addresses = run_store.reached(
                conn, old.template_id, except_run=old.id
            )
        chosen = [d for d in run_store.deliveries(conn, old.id, wanted) if d.moved_to is None]
        fresh = []
        for number, d in enumerate(chosen, start=1):
            key = d.recipient.casefold()
            reason = ""
            if key in refused:
                reason = "отказ от рассылки"
            elif d.client_id in reached_ids or key in reached_addresses:
                reason = ALREADY_REACHED
            status = DeliveryStatus.SKIPPED if reason else DeliveryStatus.PENDING
            fresh.append(replace(d, position=number, status=status, time="", reply=reason,
                                 attempts=0, run_id=None, moved_to=None))  # fmt: skip
        if not any(d.status is DeliveryStatus.PENDING for d in fresh):
            raise RunRefused(
                "Повторять некому: все эти получатели уже получили сообщение "
                "или отказались от рассылки."
            )
        run_id = run_store.create_run(conn, run, fresh)
        run_store.take_over(conn, chosen, run_id)
        lock = _take_lock(folder, run_id)
    return run_id, lock


def _identities(deliveries: Sequence[Delivery]) -> tuple[set[int], set[str]]:
    ids = {d.client_id for d in deliveries if d.client_id is not None}
    return ids, {d.recipient.casefold() for d in deliveries}


def _matches(delivery: Delivery, identities: tuple[set[int], set[str]]) -> bool:
    ids, addresses = identities
    return delivery.client_id in ids or delivery.recipient.casefold() in addresses


def _leave_out_reached(
    conn: sqlite3.Connection, template_id: int, recipients: list[Delivery], skipped: list[Delivery]
) -> tuple[list[Delivery], list[Delivery]]:
    """Re-check the repeat rule inside the write transaction (another process may have sent)."""
    reached = run_store.reached(conn, template_id)
    keep, late = [], []
    for d in recipients:
        if _matches(d, reached):
            late.append(replace(d, status=DeliveryStatus.SKIPPED, reply=ALREADY_REACHED))
        else:
            keep.append(d)
    return keep, skipped + late


def start_run(conn: sqlite3.Connection, plan: RunPlan, route: Route) -> int:
    """Journal a run without sending it (its lock let go): for tests and tools."""
    run_id, lock = create_run(conn, plan, route)
    lock.release()
    return run_id
