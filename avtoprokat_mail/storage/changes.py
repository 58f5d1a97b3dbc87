"""Noticing what other connections wrote to the database, cheaply.

The window "Клиенты" keeps every client in memory. The command line, a scheduled job or a
worker thread of the program itself (a mailing run, a mail check) may change the same file
meanwhile through another connection; the window asks these two questions every few seconds
and reloads only when both say yes.
"""

from __future__ import annotations

import sqlite3


def data_version(conn: sqlite3.Connection) -> int:
    """A number that changes when ANOTHER connection commits; this connection's own writes
    leave it alone. Reading it costs next to nothing."""
    return conn.execute("PRAGMA data_version").fetchone()[0]


def clients_fingerprint(conn: sqlite3.Connection) -> tuple:
    """A summary of the clients and their marks that changes when they change.

    A mailing run commits its journal after every message: :func:`data_version` then moves
    every few seconds while no client changed, and this tells the two apart (about 35 ms at
    100,000 clients, against half a second for reading them all). Rows added or deleted change
    the count and the sum of ids; an edit moves ``updated`` forward (so the sum of the times
    grows); the mail check sets ``bounced`` and ``opt_out`` without touching ``updated``, so
    those are summed too. Marks change their count, sum or sum of squares of the ids.
    """
    clients = conn.execute(
        "SELECT count(*), sum(id), sum(strftime('%s', updated)), sum(bounced), sum(opt_out) "
        "FROM clients"
    ).fetchone()
    marks = conn.execute(
        "SELECT count(*), sum(client_id), total(client_id * client_id) FROM marks"
    ).fetchone()
    return (*clients, *marks)
