"""The settings table: text values under dotted keys. All SQL about settings lives here."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from avtoprokat_mail.storage.db import transaction


def read_all(conn: sqlite3.Connection) -> dict[str, str]:
    """Every stored setting."""
    return dict(conn.execute("SELECT key, value FROM settings"))


def write(conn: sqlite3.Connection, values: Mapping[str, str]) -> None:
    """Store several settings in one transaction."""
    with transaction(conn):
        conn.executemany(
            "INSERT INTO settings (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            values.items(),
        )
