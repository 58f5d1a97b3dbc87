"""The client directory: the ``clients`` table and its ``marks``. All SQL about clients lives here.

A client's mark is the presence of its id in ``marks`` (see the migration for why); callers
see it as ``Client.marked`` and as the ``marked`` column of :func:`fetch_rows`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

from avtoprokat_mail.model import CLIENT_FIELD_NAMES, CLIENT_TEXT_FIELDS, Client, ClientNotes
from avtoprokat_mail.storage.db import transaction
from avtoprokat_mail.validation import strip_controls

# The column order of :func:`fetch_rows`: the grid and the filters index rows by it.
ROW_COLUMNS: tuple[str, ...] = (
    "id",
    *CLIENT_TEXT_FIELDS,
    "marked",
    "opt_out",
    "consent",
    "bounced",
)
_STORED_FIELDS: tuple[str, ...] = (*CLIENT_TEXT_FIELDS, "opt_out", "consent")

_SELECT_ROWS = (
    f"SELECT c.id, {', '.join('c.' + f for f in CLIENT_TEXT_FIELDS)}, "
    "m.client_id IS NOT NULL, c.opt_out, c.consent, c.bounced "
    "FROM clients c LEFT JOIN marks m ON m.client_id = c.id"
)
_INSERT = (
    f"INSERT INTO clients (id, {', '.join(_STORED_FIELDS)}, bounced) "
    f"VALUES (?, {', '.join('?' * len(_STORED_FIELDS))}, ?)"
)
# ``bounced`` and its details are the mailbox check's findings, never the form's: an update
# leaves them alone, except that a new email address starts afresh. SET expressions see the row
# as it was, and ?N is the N-th value: the new email.
_SAME_EMAIL = f"lower(email) = lower(?{1 + _STORED_FIELDS.index('email')})"
_UPDATE = (
    f"UPDATE clients SET {', '.join(f'{name} = ?' for name in _STORED_FIELDS)}, "
    f"bounced = CASE WHEN {_SAME_EMAIL} THEN bounced ELSE 0 END, "
    f"bounce_reason = CASE WHEN {_SAME_EMAIL} THEN bounce_reason ELSE '' END, "
    f"bounce_date = CASE WHEN {_SAME_EMAIL} THEN bounce_date ELSE '' END, "
    f"soft_bounces = CASE WHEN {_SAME_EMAIL} THEN soft_bounces ELSE 0 END, "
    "updated = strftime('%Y-%m-%dT%H:%M:%S', 'now', 'localtime') WHERE id = ?"
)
_MARK = "INSERT OR IGNORE INTO marks (client_id) VALUES (?)"
_UNMARK = "DELETE FROM marks WHERE client_id = ?"


def fetch_rows(conn: sqlite3.Connection, *, marked_only: bool = False) -> list[tuple]:
    """Every client as a tuple in :data:`ROW_COLUMNS` order, by id: the fast bulk read."""
    return iter_rows(conn, marked_only=marked_only).fetchall()


def iter_rows(conn: sqlite3.Connection, *, marked_only: bool = False) -> sqlite3.Cursor:
    """Like :func:`fetch_rows`, as a cursor: for callers that convert rows as they come."""
    where = " WHERE m.client_id IS NOT NULL" if marked_only else ""
    return conn.execute(_SELECT_ROWS + where + " ORDER BY c.id")


def fetch_row(conn: sqlite3.Connection, client_id: int) -> tuple | None:
    """One client as a tuple in :data:`ROW_COLUMNS` order, or None."""
    return conn.execute(_SELECT_ROWS + " WHERE c.id = ?", (client_id,)).fetchone()


def client_from_row(row: Sequence) -> Client:
    """Build a :class:`Client` from a tuple in :data:`ROW_COLUMNS` order.

    Positional, because imports build 100,000 of these: :data:`ROW_COLUMNS` is the id, then
    the fields of :class:`Client` in their declared order (the id is Client's last field).
    """
    client_id, *texts, marked, opt_out, consent, bounced = row
    return Client(*texts, bool(marked), bool(opt_out), consent, bool(bounced), client_id)


assert ("id", *CLIENT_FIELD_NAMES[:-1]) == ROW_COLUMNS, "client_from_row relies on this order"


def list_clients(conn: sqlite3.Connection, *, marked_only: bool = False) -> list[Client]:
    """Every client (or every marked one) as records, by id."""
    return [client_from_row(row) for row in fetch_rows(conn, marked_only=marked_only)]


def opted_out_clients(conn: sqlite3.Connection) -> list[Client]:
    """The clients who refused mailings."""
    rows = conn.execute(_SELECT_ROWS + " WHERE c.opt_out = 1 ORDER BY c.id")
    return [client_from_row(row) for row in rows]


def get_client(conn: sqlite3.Connection, client_id: int) -> Client | None:
    """One client by id, or None when there is no such client."""
    row = fetch_row(conn, client_id)
    return client_from_row(row) if row else None


_MULTILINE = frozenset({"address", "note"})  # the fields that may hold line breaks


def _values(client: Client) -> tuple:
    """The values of :data:`_STORED_FIELDS`."""
    texts = tuple(
        strip_controls(str(getattr(client, name) or ""), multiline=name in _MULTILINE).strip()
        for name in CLIENT_TEXT_FIELDS
    )
    return (*texts, int(bool(client.opt_out)), client.consent or "")


def add_client(conn: sqlite3.Connection, client: Client) -> int:
    """Store a new client and return its id (also set on ``client``)."""
    add_clients(conn, [client])
    return client.id


def update_client(conn: sqlite3.Connection, client: Client) -> None:
    """Write every field of an existing client, its mark included.

    ``bounced`` is not written (the mailbox check sets it), but a changed email clears it and
    the bounce details: mail to the new address has not come back yet.
    """
    if client.id is None:
        raise ValueError("update_client needs a stored client")
    update_clients(conn, [client])


def add_clients(conn: sqlite3.Connection, clients: Iterable[Client]) -> None:
    """Insert many clients, setting each one's ``id``.

    Ids are given explicitly (max + 1, …) so that the marks can be written with one
    ``executemany`` too; the write transaction keeps another writer from taking the same ids.
    """
    clients = list(clients)
    with transaction(conn):
        next_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM clients").fetchone()[0]
        for offset, client in enumerate(clients):
            client.id = next_id + offset
        conn.executemany(_INSERT, ((c.id, *_values(c), int(bool(c.bounced))) for c in clients))
        conn.executemany(_MARK, ((c.id,) for c in clients if c.marked))


def update_clients(conn: sqlite3.Connection, clients: Iterable[Client]) -> None:
    """Rewrite many stored clients and their marks (see :func:`update_client`)."""
    clients = list(clients)
    with transaction(conn):
        conn.executemany(_UPDATE, ((*_values(c), c.id) for c in clients))
        conn.executemany(_MARK, ((c.id,) for c in clients if c.marked))
        conn.executemany(_UNMARK, ((c.id,) for c in clients if not c.marked))


def client_notes(conn: sqlite3.Connection, client_id: int) -> ClientNotes:
    """What the mailbox said about one client (empty notes for an unknown id)."""
    row = conn.execute(
        "SELECT bounce_reason, bounce_date, soft_bounces, opt_out_date, opt_out_source "
        "FROM clients WHERE id = ?",
        (client_id,),
    ).fetchone()
    return ClientNotes(*row) if row else ClientNotes()


def write_notes(conn: sqlite3.Connection, notes: Iterable[tuple[int, ClientNotes]]) -> None:
    """Store the mailbox's notes of the given clients (the demo data, tests)."""
    conn.executemany(
        "UPDATE clients SET bounce_reason = ?, bounce_date = ?, soft_bounces = ?, "
        "opt_out_date = ?, opt_out_source = ? WHERE id = ?",
        (
            (n.bounce_reason, n.bounce_date, n.soft_bounces, n.opt_out_date, n.opt_out_source, i)
            for i, n in notes
        ),
    )


def delete_clients(conn: sqlite3.Connection, ids: Iterable[int]) -> int:
    """Delete the given clients (their marks go with them); returns how many were deleted."""
    cursor = conn.execute(
        "DELETE FROM clients WHERE id IN (SELECT value FROM json_each(?))", (_id_list(ids),)
    )
    return cursor.rowcount


def set_marked(conn: sqlite3.Connection, ids: Iterable[int], marked: bool) -> None:
    """Set or clear the mark of the given clients; unknown ids are ignored."""
    if marked:
        sql = (
            "INSERT OR IGNORE INTO marks (client_id) SELECT id FROM clients "
            "WHERE id IN (SELECT value FROM json_each(?))"
        )
    else:
        sql = "DELETE FROM marks WHERE client_id IN (SELECT value FROM json_each(?))"
    conn.execute(sql, (_id_list(ids),))


def set_all_marked(conn: sqlite3.Connection, marked: bool) -> None:
    """Set or clear the mark of every client."""
    if marked:
        conn.execute("INSERT OR IGNORE INTO marks (client_id) SELECT id FROM clients")
    else:
        conn.execute("DELETE FROM marks")


def invert_marks(conn: sqlite3.Connection) -> None:
    """Mark the unmarked clients and unmark the marked ones, in one transaction."""
    with transaction(conn):
        conn.execute("CREATE TEMP TABLE previously_marked AS SELECT client_id FROM marks")
        conn.execute("DELETE FROM marks")
        conn.execute(
            "INSERT INTO marks (client_id) SELECT id FROM clients "
            "WHERE id NOT IN (SELECT client_id FROM temp.previously_marked)"
        )
        conn.execute("DROP TABLE temp.previously_marked")


def counts(conn: sqlite3.Connection) -> tuple[int, int]:
    """(number of clients, number of marked clients)."""
    return conn.execute(
        "SELECT (SELECT count(*) FROM clients), (SELECT count(*) FROM marks)"
    ).fetchone()


def identity_index(conn: sqlite3.Connection) -> tuple[dict[str, int], dict[str, int]]:
    """Maps from case-folded email and from mobile to client id, for import matching.

    When two stored clients share an email or a mobile, the older one (lower id) wins.
    """
    by_email: dict[str, int] = {}
    by_mobile: dict[str, int] = {}
    for client_id, email, mobile in conn.execute(
        "SELECT id, email, mobile FROM clients ORDER BY id DESC"
    ):
        if email:
            by_email[email.casefold()] = client_id
        if mobile:
            by_mobile[mobile] = client_id
    return by_email, by_mobile


def _id_list(ids: Iterable[int]) -> str:
    """Ids as a JSON array: one bound parameter instead of thousands of placeholders."""
    return json.dumps([int(i) for i in ids])
