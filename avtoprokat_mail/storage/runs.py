"""Runs and their journal of deliveries. All SQL about runs lives here.

Each outcome is written in its own short transaction the moment it is known, so a crash loses
nothing that happened before it (WAL with synchronous=NORMAL: a commit is durable against a
killed process; a power cut may lose the last few, which then show as "sending"/uncertain).
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable

from avtoprokat_mail.model import Channel, Delivery, DeliveryStatus, Route, Run, RunStatus
from avtoprokat_mail.storage.db import transaction

_NOW = "strftime('%Y-%m-%dT%H:%M:%S', 'now', 'localtime')"
_RUN_FIELDS = (
    "channel", "transport", "subject", "body", "attachment1", "attachment2", "template_id",
    "status", "reason", "started", "finished", "id", "test", "attachment1_sha256",
    "attachment2_sha256", "resume_at",
)  # fmt: skip
_DELIVERY_FIELDS = (
    "position", "recipient", "client_id", "surname", "name", "position_title", "organization",
    "status", "time", "reply", "attempts", "run_id", "moved_to", "mailbox", "message_id",
)  # fmt: skip


def _run(row: tuple) -> Run:
    run = Run(*row)
    run.channel, run.status, run.test = Channel(run.channel), RunStatus(run.status), bool(run.test)
    run.route = Route.parse(run.route)
    return run


def _delivery(row: tuple) -> Delivery:
    delivery = Delivery(*row)
    delivery.status = DeliveryStatus(delivery.status)
    return delivery


def create_run(conn: sqlite3.Connection, run: Run, deliveries: Iterable[Delivery]) -> int:
    """Store a run and all its recipients in one transaction; returns the run id."""
    with transaction(conn):
        run.id, run.started = conn.execute(
            "INSERT INTO runs (channel, transport, subject, body, attachment1, attachment2, "
            "template_id, status, test, attachment1_sha256, attachment2_sha256) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id, started",
            (run.channel.value, str(run.route), run.subject, run.body, run.attachment1,
             run.attachment2, run.template_id, run.status.value, int(run.test),
             run.attachment1_sha256, run.attachment2_sha256),
        ).fetchone()  # fmt: skip
        conn.executemany(
            f"INSERT INTO deliveries ({', '.join(_DELIVERY_FIELDS)}) "
            f"VALUES ({', '.join('?' * len(_DELIVERY_FIELDS))})",
            (
                (d.position, d.recipient, d.client_id, d.surname, d.name, d.position_title,
                 d.organization, d.status.value, d.time, d.reply, d.attempts, run.id, None, "",
                 "")
                for d in deliveries
            ),
        )  # fmt: skip
    return run.id


def get_run(conn: sqlite3.Connection, run_id: int) -> Run | None:
    row = conn.execute(f"SELECT {', '.join(_RUN_FIELDS)} FROM runs WHERE id = ?", (run_id,))
    found = row.fetchone()
    return _run(found) if found else None


def list_runs(conn: sqlite3.Connection) -> list[Run]:
    """Every run, newest first."""
    rows = conn.execute(f"SELECT {', '.join(_RUN_FIELDS)} FROM runs ORDER BY id DESC")
    return [_run(row) for row in rows]


def status_counts_of(
    conn: sqlite3.Connection, run_ids: Iterable[int]
) -> dict[int, Counter[DeliveryStatus]]:
    """:func:`status_counts` of several runs in one query."""
    ids = list(run_ids)
    result: dict[int, Counter[DeliveryStatus]] = {run_id: Counter() for run_id in ids}
    if not ids:
        return result
    rows = conn.execute(
        "SELECT run_id, status, count(*) FROM deliveries "
        f"WHERE run_id IN ({', '.join('?' * len(ids))}) GROUP BY run_id, status",
        ids,
    )
    for run_id, status, count in rows:
        result[run_id][DeliveryStatus(status)] = count
    return result


def status_counts(conn: sqlite3.Connection, run_id: int) -> Counter[DeliveryStatus]:
    """How many deliveries of a run are in each state."""
    rows = conn.execute(
        "SELECT status, count(*) FROM deliveries WHERE run_id = ? GROUP BY status", (run_id,)
    )
    return Counter({DeliveryStatus(status): count for status, count in rows})


def deliveries(
    conn: sqlite3.Connection, run_id: int, statuses: Iterable[DeliveryStatus] | None = None
) -> list[Delivery]:
    """A run's deliveries in order (only those in ``statuses`` when given)."""
    sql = f"SELECT {', '.join(_DELIVERY_FIELDS)} FROM deliveries WHERE run_id = ?"
    params: list = [run_id]
    if statuses is not None:
        wanted = [s.value for s in statuses]
        sql += f" AND status IN ({', '.join('?' * len(wanted))})"
        params += wanted
    return [_delivery(row) for row in conn.execute(sql + " ORDER BY position", params)]


def mark(
    conn: sqlite3.Connection,
    run_id: int,
    position: int,
    status: DeliveryStatus,
    reply: str = "",
    *,
    attempts: int | None = None,
) -> None:
    """Journal one delivery's new state now (its own transaction: durable at once).

    A message that did not reach the server (pending again, failed) stops counting against its
    mailbox's daily limit.
    """
    handed_over = status in (DeliveryStatus.SENT, DeliveryStatus.UNCERTAIN, DeliveryStatus.SENDING)
    conn.execute(
        f"UPDATE deliveries SET status = ?, reply = ?, time = {_NOW}, "
        "attempts = coalesce(?, attempts), "
        "sent_at = CASE WHEN ? THEN sent_at END, mailbox = CASE WHEN ? THEN mailbox ELSE '' END "
        "WHERE run_id = ? AND position = ?",
        (status.value, reply, attempts, handed_over, handed_over, run_id, position),
    )


def claim(
    conn: sqlite3.Connection,
    run_id: int,
    position: int,
    attempts: int,
    mailbox: str = "",
    now: float | None = None,
    message_id: str = "",
) -> bool:
    """Take a pending delivery for sending ("sending" journaled); False when it is not pending.

    The one place where a message is committed to: the UPDATE only matches a row that is still
    pending, so a recipient that another run took over in the meantime (a retry or a new start,
    possibly in another process) is never sent by this one. SQLite serialises the writers.
    """
    cursor = conn.execute(
        f"UPDATE deliveries SET status = 'sending', time = {_NOW}, attempts = ?, mailbox = ?, "
        "sent_at = ?, message_id = ? WHERE run_id = ? AND position = ? AND status = 'pending'",
        (attempts, mailbox, now if mailbox else None, message_id, run_id, position),
    )
    return cursor.rowcount == 1


def set_status(
    conn: sqlite3.Connection,
    run_id: int,
    status: RunStatus,
    reason: str = "",
    *,
    resume_at: float = 0.0,
) -> None:
    """Record a run's state; FINISHED, CANCELLED and STOPPED also record the finish time, and
    WAITING the Unix time it goes on at."""
    ended = status in (RunStatus.FINISHED, RunStatus.CANCELLED, RunStatus.STOPPED)
    finished = _NOW if ended else "''"
    conn.execute(
        f"UPDATE runs SET status = ?, reason = ?, finished = {finished}, resume_at = ? "
        "WHERE id = ?",
        (status.value, reason, resume_at if status is RunStatus.WAITING else 0.0, run_id),
    )


# --- mailboxes: the daily limit ----------------------------------------------------------------
DAY = 24 * 60 * 60
# "mailbox <> ''" repeats the partial index's condition: without it SQLite cannot prove the
# index applies to a bound parameter and scans the whole journal.
HANDED_OVER_SINCE = (
    "SELECT count(*) FROM deliveries WHERE mailbox = ? AND mailbox <> '' AND sent_at > ?"
)


def handed_over_since(conn: sqlite3.Connection, mailbox: str, since: float) -> int:
    """Messages ``mailbox`` handed over (sent, uncertain or in flight) after ``since``, in every
    run (test runs have no mailbox). One range of the mailbox index: cheap per message."""
    return conn.execute(HANDED_OVER_SINCE, (mailbox, since)).fetchone()[0]


def slot_frees_at(conn: sqlite3.Connection, mailbox: str, now: float, limit: int) -> float:
    """When ``mailbox`` may hand over its next message without more than ``limit`` in any 24
    hours: the moment the oldest message that keeps it at the limit leaves the window."""
    since = now - DAY
    used = handed_over_since(conn, mailbox, since)
    if used < limit:
        return now
    oldest = conn.execute(
        "SELECT sent_at FROM deliveries WHERE mailbox = ? AND mailbox <> '' AND sent_at > ? "
        "ORDER BY sent_at LIMIT 1 OFFSET ?",
        (mailbox, since, used - limit),
    ).fetchone()[0]
    return oldest + DAY


def block_mailbox(conn: sqlite3.Connection, mailbox: str, until: float, reason: str) -> None:
    """The provider refused for quota: no attempt through ``mailbox`` before ``until``."""
    conn.execute(
        "INSERT INTO mailbox_blocks (mailbox, until, reason) VALUES (?, ?, ?) "
        "ON CONFLICT (mailbox) DO UPDATE SET until = excluded.until, reason = excluded.reason",
        (mailbox, until, reason),
    )


def blocked_until(conn: sqlite3.Connection, mailbox: str) -> tuple[float, str]:
    """(until, reason) of a provider's block on ``mailbox``; (0, "") when there is none."""
    row = conn.execute(
        "SELECT until, reason FROM mailbox_blocks WHERE mailbox = ?", (mailbox,)
    ).fetchone()
    return (row[0], row[1]) if row else (0.0, "")


def finished_time(conn: sqlite3.Connection, run_id: int) -> str:
    return conn.execute("SELECT finished FROM runs WHERE id = ?", (run_id,)).fetchone()[0]


def sending_to_uncertain(conn: sqlite3.Connection, run_id: int) -> int:
    """After a crash: deliveries caught in "sending" become "uncertain"; returns how many."""
    cursor = conn.execute(
        "UPDATE deliveries SET status = 'uncertain', "
        "reply = 'программа прервалась во время отправки: письмо могло уйти' "
        "WHERE run_id = ? AND status = 'sending'",
        (run_id,),
    )
    return cursor.rowcount


def uncertain_to_pending(conn: sqlite3.Connection, run_id: int) -> int:
    """The user asked to resend the uncertain ones; returns how many.

    Those a later run took over stay as they are: that run sends to them, not this one.
    """
    cursor = conn.execute(
        "UPDATE deliveries SET status = 'pending', reply = '' "
        "WHERE run_id = ? AND status = 'uncertain' AND moved_to IS NULL",
        (run_id,),
    )
    return cursor.rowcount


# --- across runs: the repeat check and taking recipients over ---------------------------------
_TEMPLATE_RUNS = "SELECT id FROM runs WHERE template_id = ? AND test = 0"


def runs_of_template(conn: sqlite3.Connection, template_id: int) -> list[Run]:
    """Every run of a template, newest first (test runs included)."""
    rows = conn.execute(
        f"SELECT {', '.join(_RUN_FIELDS)} FROM runs WHERE template_id = ? ORDER BY id DESC",
        (template_id,),
    )
    return [_run(row) for row in rows]


def reached(
    conn: sqlite3.Connection, template_id: int, except_run: int | None = None
) -> tuple[set[int], set[str]]:
    """Client ids and addresses (casefolded) that a real run of the template sent to, or may
    have (uncertain, or being sent right now), leaving ``except_run`` out."""
    rows = conn.execute(
        "SELECT client_id, recipient FROM deliveries "
        f"WHERE run_id IN ({_TEMPLATE_RUNS}) AND run_id IS NOT ? "
        "AND status IN ('sent', 'uncertain', 'sending')",
        (template_id, except_run),
    )
    ids: set[int] = set()
    addresses: set[str] = set()
    for client_id, recipient in rows:
        if client_id is not None:
            ids.add(client_id)
        addresses.add(recipient.casefold())
    return ids, addresses


def waiting_elsewhere(
    conn: sqlite3.Connection, template_id: int, except_run: int | None = None
) -> list[Delivery]:
    """Pending deliveries of the template's real runs (other than ``except_run``).

    Asked twice by every start. Left to itself, SQLite (no statistics) walks each run's whole
    journal by the primary key, every message the template ever sent; the (run_id, status)
    index reads the pending ones only.
    """
    rows = conn.execute(
        f"SELECT {', '.join(_DELIVERY_FIELDS)} FROM deliveries INDEXED BY deliveries_status "
        f"WHERE run_id IN ({_TEMPLATE_RUNS}) AND run_id IS NOT ? AND status = 'pending' "
        "ORDER BY run_id, position",
        (template_id, except_run),
    )
    return [_delivery(row) for row in rows]


def take_over(conn: sqlite3.Connection, deliveries: Iterable[Delivery], new_run: int) -> int:
    """Hand ``deliveries`` of older runs over to ``new_run``; returns how many pending ones moved.

    A pending one becomes skipped («передано в рассылку № N»); a failed or uncertain one keeps
    its outcome. Either way ``moved_to`` says who took it, and the old run never sends to it
    again (a resume sends only pending ones; «--resend-uncertain» skips moved ones).
    """
    deliveries = list(deliveries)
    pending = [
        (new_run, f"передано в рассылку № {new_run}", d.run_id, d.position)
        for d in deliveries
        if d.status is DeliveryStatus.PENDING
    ]
    settled = [
        (new_run, d.run_id, d.position)
        for d in deliveries
        if d.status is not DeliveryStatus.PENDING
    ]
    moved = 0
    if pending:  # one statement for all of them; rowcount sums the rows still pending
        moved = conn.executemany(
            f"UPDATE deliveries SET status = 'skipped', moved_to = ?, time = {_NOW}, "
            "reply = ? WHERE run_id = ? AND position = ? AND status = 'pending'",
            pending,
        ).rowcount
    conn.executemany(
        "UPDATE deliveries SET moved_to = ? WHERE run_id = ? AND position = ?", settled
    )
    return moved
