"""What «Проверить почту» reads and changes. All SQL about the INBOX check lives here."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from avtoprokat_mail.storage.db import transaction

SOFT_BOUNCES_TO_FLAG = 3  # a soft bounce (mailbox full, try later) flags the address at the third


def seen(conn: sqlite3.Connection, account: str) -> set[tuple[int, int]]:
    """(UIDVALIDITY, UID) of every INBOX message already processed for ``account``."""
    rows = conn.execute(
        "SELECT uidvalidity, uid FROM inbox_seen WHERE account = ?", (account,)
    ).fetchall()
    return {(uidvalidity, uid) for uidvalidity, uid in rows}


def remember(
    conn: sqlite3.Connection, account: str, messages: Iterable[tuple[int, int, str]]
) -> None:
    """Mark INBOX messages (UIDVALIDITY, UID, what they were) as processed."""
    conn.executemany(
        "INSERT OR IGNORE INTO inbox_seen (account, uidvalidity, uid, kind) VALUES (?, ?, ?, ?)",
        [(account, *message) for message in messages],
    )


def clients_with_email(conn: sqlite3.Connection, address: str) -> list[int]:
    """Ids of the clients with this email (case does not matter)."""
    rows = conn.execute(
        "SELECT id FROM clients WHERE lower(email) = lower(?) AND email <> '' ORDER BY id",
        (address.strip(),),
    )
    return [row[0] for row in rows]


def deliveries_of(conn: sqlite3.Connection, message_ids: Iterable[str]) -> list[tuple]:
    """(run_id, client_id, recipient) of our messages with these Message-IDs."""
    ids = [i for i in message_ids if i]
    if not ids:
        return []
    return conn.execute(
        "SELECT run_id, client_id, recipient FROM deliveries "
        f"WHERE message_id IN ({', '.join('?' * len(ids))}) AND message_id <> ''",
        ids,
    ).fetchall()


def flag_bounce(
    conn: sqlite3.Connection, client_ids: Iterable[int], reason: str, date: str, *, permanent: bool
) -> None:
    """A returned message: a hard bounce flags the address at once, a soft one at the third."""
    with transaction(conn):
        for client_id in client_ids:
            conn.execute(
                "UPDATE clients SET soft_bounces = soft_bounces + ? WHERE id = ?",
                (0 if permanent else 1, client_id),
            )
            conn.execute(
                "UPDATE clients SET bounced = 1, bounce_reason = ?, bounce_date = ? "
                "WHERE id = ? AND (? OR soft_bounces >= ?)",
                (reason, date, client_id, permanent, SOFT_BOUNCES_TO_FLAG),
            )


def opt_out(conn: sqlite3.Connection, client_ids: Iterable[int], date: str, source: str) -> None:
    """The client asked to stop: the opt-out, with its date and where it came from."""
    with transaction(conn):
        conn.executemany(
            "UPDATE clients SET opt_out = 1, opt_out_date = ?, opt_out_source = ? WHERE id = ?",
            [(date, source, client_id) for client_id in client_ids],
        )
