"""The client directory table. All SQL about clients lives here."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

from avtoprokat_mail.model import CLIENT_TEXT_FIELDS, Client

# The column order of :func:`fetch_rows`: the grid and the filters index rows by it.
ROW_COLUMNS: tuple[str, ...] = ("id", *CLIENT_TEXT_FIELDS, "marked", "opt_out")
_STORED_FIELDS: tuple[str, ...] = (*CLIENT_TEXT_FIELDS, "marked", "opt_out")

_SELECT_ROWS = f"SELECT {', '.join(ROW_COLUMNS)} FROM clients"
_INSERT = (
    f"INSERT INTO clients ({', '.join(_STORED_FIELDS)}) "
    f"VALUES ({', '.join('?' * len(_STORED_FIELDS))})"
)
_UPDATE = (
    f"UPDATE clients SET {', '.join(f'{name} = ?' for name in _STORED_FIELDS)}, "
    "updated = strftime('%Y-%m-%dT%H:%M:%S', 'now', 'localtime') WHERE id = ?"
)


def fetch_rows(conn: sqlite3.Connection, *, marked_only: bool = False) -> list[tuple]:
    """Every client as a tuple in :data:`ROW_COLUMNS` order, by id: the fast bulk read."""
    sql = _SELECT_ROWS + (" WHERE marked = 1" if marked_only else "") + " ORDER BY id"
    return conn.execute(sql).fetchall()


def client_from_row(row: Sequence) -> Client:
    """Build a :class:`Client` from a tuple in :data:`ROW_COLUMNS` order."""
    values = dict(zip(ROW_COLUMNS, row, strict=True))
    values["marked"] = bool(values["marked"])
    values["opt_out"] = bool(values["opt_out"])
    return Client(**values)


def list_clients(conn: sqlite3.Connection, *, marked_only: bool = False) -> list[Client]:
    """Every client (or every marked one) as records, by id."""
    return [client_from_row(row) for row in fetch_rows(conn, marked_only=marked_only)]


def fetch_row(conn: sqlite3.Connection, client_id: int) -> tuple | None:
    """One client as a tuple in :data:`ROW_COLUMNS` order, or None."""
    return conn.execute(_SELECT_ROWS + " WHERE id = ?", (client_id,)).fetchone()


def get_client(conn: sqlite3.Connection, client_id: int) -> Client | None:
    """One client by id, or None when there is no such client."""
    row = fetch_row(conn, client_id)
    return client_from_row(row) if row else None


def _values(client: Client) -> tuple:
    texts = tuple(str(getattr(client, name) or "").strip() for name in CLIENT_TEXT_FIELDS)
    return (*texts, int(bool(client.marked)), int(bool(client.opt_out)))


def add_client(conn: sqlite3.Connection, client: Client) -> int:
    """Store a new client and return its id (also set on ``client``)."""
    client.id = conn.execute(_INSERT, _values(client)).lastrowid
    return client.id


def update_client(conn: sqlite3.Connection, client: Client) -> None:
    """Write every field of an existing client."""
    if client.id is None:
        raise ValueError("update_client needs a stored client")
    conn.execute(_UPDATE, (*_values(client), client.id))


def add_clients(conn: sqlite3.Connection, clients: Iterable[Client]) -> None:
    """Insert many clients in one statement batch (the caller owns the transaction)."""
    conn.executemany(_INSERT, (_values(client) for client in clients))


def update_clients(conn: sqlite3.Connection, clients: Iterable[Client]) -> None:
    """Rewrite many stored clients (the caller owns the transaction)."""
    conn.executemany(_UPDATE, ((*_values(client), client.id) for client in clients))


def delete_clients(conn: sqlite3.Connection, ids: Iterable[int]) -> int:
    """Delete the given clients; returns how many were deleted."""
    cursor = conn.execute(
        "DELETE FROM clients WHERE id IN (SELECT value FROM json_each(?))", (_id_list(ids),)
    )
    return cursor.rowcount


def set_marked(conn: sqlite3.Connection, ids: Iterable[int], marked: bool) -> None:
    """Set or clear the mark of the given clients in one statement."""
    conn.execute(
        "UPDATE clients SET marked = ? WHERE id IN (SELECT value FROM json_each(?))",
        (int(marked), _id_list(ids)),
    )


def set_all_marked(conn: sqlite3.Connection, marked: bool) -> None:
    """Set or clear the mark of every client."""
    conn.execute("UPDATE clients SET marked = ? WHERE marked <> ?", (int(marked), int(marked)))


def invert_marks(conn: sqlite3.Connection) -> None:
    """Mark the unmarked clients and unmark the marked ones."""
    conn.execute("UPDATE clients SET marked = 1 - marked")


def counts(conn: sqlite3.Connection) -> tuple[int, int]:
    """(number of clients, number of marked clients)."""
    total, marked = conn.execute(
        "SELECT count(*), coalesce(sum(marked), 0) FROM clients"
    ).fetchone()
    return total, marked


def identity_index(conn: sqlite3.Connection) -> tuple[dict[str, int], dict[str, int]]:
    """Maps from lower-cased email and from mobile to client id, for import matching.

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
