"""The settings («Параметры»): text values under dotted keys. All SQL about settings lives here.

Values are stored as text under the keys scripts use (``email.host``, ``sms.login``, …); the
passwords never are (see credentials.py). Checks of the values live in validation.py.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from avtoprokat_mail.model import IMAP_PRESETS, EmailSettings, ImapSettings, SmsSettings
from avtoprokat_mail.storage.db import transaction
from avtoprokat_mail.validation import (
    EMAIL_FIELDS,
    IMAP_FIELDS,
    SMS_FIELDS,
    SettingsError,
    email_settings_problems,
    sms_settings_problems,
    value_text,
)

KEYS: dict[str, Callable[[str], Any]] = {
    **{f"email.{name}": parse for name, parse in EMAIL_FIELDS.items()},
    **{f"email.imap_{name}": parse for name, parse in IMAP_FIELDS.items()},
    **{f"sms.{name}": parse for name, parse in SMS_FIELDS.items()},
}


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


def _load(conn: sqlite3.Connection, section: str, fields: dict, record: Any) -> Any:
    stored = read_all(conn)
    for name, parse in fields.items():
        key = f"{section}.{name}"
        if key in stored:
            # A value that no longer parses (edited by hand) leaves the default in place.
            with contextlib.suppress(SettingsError):
                setattr(record, name, parse(stored[key]))
    return record


def load_email_settings(conn: sqlite3.Connection) -> EmailSettings:
    return _load(conn, "email", EMAIL_FIELDS, EmailSettings())


def load_sms_settings(conn: sqlite3.Connection) -> SmsSettings:
    return _load(conn, "sms", SMS_FIELDS, SmsSettings())


def load_imap_settings(conn: sqlite3.Connection) -> ImapSettings:
    """The INBOX settings; an unset server follows the SMTP provider's (mail.ru, Яндекс, Gmail)."""
    imap = _load(conn, "email", {f"imap_{n}": p for n, p in IMAP_FIELDS.items()}, _ImapRecord())
    settings = ImapSettings(imap.imap_host, imap.imap_port, imap.imap_security, imap.imap_user)
    if not settings.host:
        settings.host = IMAP_PRESETS.get(load_email_settings(conn).host, "")
    return settings


def save_imap_settings(conn: sqlite3.Connection, settings: ImapSettings) -> None:
    """Store the INBOX settings (checked like every other value)."""
    values = {}
    for name, parse in IMAP_FIELDS.items():
        text = value_text(getattr(settings, name))
        try:
            parse(text)
        except SettingsError as error:
            raise SettingsError(f"email.imap_{name}: {error}") from None
        values[f"email.imap_{name}"] = text
    write(conn, values)


class _ImapRecord:
    """The stored keys "email.imap_*" as attributes, for :func:`_load`."""

    def __init__(self) -> None:
        default = ImapSettings()
        self.imap_host, self.imap_port = default.host, default.port
        self.imap_security, self.imap_user = default.security, default.user


def save_email_settings(conn: sqlite3.Connection, settings: EmailSettings) -> None:
    """Check and store the EMail tab; SettingsError lists every problem."""
    if problems := email_settings_problems(settings):
        raise SettingsError("\n".join(problems))
    write(conn, {f"email.{n}": value_text(getattr(settings, n)) for n in EMAIL_FIELDS})


def save_sms_settings(conn: sqlite3.Connection, settings: SmsSettings) -> None:
    """Check and store the SMS tab; SettingsError lists every problem."""
    if problems := sms_settings_problems(settings):
        raise SettingsError("\n".join(problems))
    write(conn, {f"sms.{n}": value_text(getattr(settings, n)) for n in SMS_FIELDS})


def set_setting(conn: sqlite3.Connection, name: str, text: str) -> None:
    """Store one value by its key (``settings set``); SettingsError names a bad key or value."""
    parse = KEYS.get(name)
    if parse is None:
        raise SettingsError(f"нет такого параметра «{name}»; есть: {', '.join(KEYS)}")
    try:
        value = parse(text)
    except SettingsError as error:
        raise SettingsError(f"{name}: {error}") from None
    write(conn, {name: value_text(value)})


def settings_items(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """Every key with its current value as text (defaults where nothing is stored)."""
    email, sms = load_email_settings(conn), load_sms_settings(conn)
    items = [(f"email.{n}", value_text(getattr(email, n))) for n in EMAIL_FIELDS]
    imap = load_imap_settings(conn)
    items += [(f"email.imap_{n}", value_text(getattr(imap, n))) for n in IMAP_FIELDS]
    return items + [(f"sms.{n}", value_text(getattr(sms, n))) for n in SMS_FIELDS]


# --- more sender mailboxes ----------------------------------------------------------------------
# The main mailbox's fields, less those about the whole mailing (whom to send to at all, and
# how many connections the run keeps: it has that many, whichever mailboxes they go through).
_RUN_FIELDS = ("require_consent", "connections")
_MAILBOX_FIELDS = tuple(name for name in EMAIL_FIELDS if name not in _RUN_FIELDS)


def list_mailboxes(
    conn: sqlite3.Connection, *, enabled_only: bool = False
) -> list[tuple[int, EmailSettings]]:
    """The sender mailboxes beyond the main one, (id, settings), in the order they were added."""
    where = " WHERE enabled = 1" if enabled_only else ""
    rows = conn.execute(
        f"SELECT id, {', '.join(_MAILBOX_FIELDS)} FROM mailboxes{where} ORDER BY id"
    ).fetchall()
    found = []
    for mailbox_id, *values in rows:
        record = EmailSettings()
        for name, value in zip(_MAILBOX_FIELDS, values, strict=True):
            setattr(record, name, EMAIL_FIELDS[name](value_text(value)))
        found.append((mailbox_id, record))
    return found


def add_mailbox(conn: sqlite3.Connection, mailbox: EmailSettings) -> int:
    """Check and store one more sender mailbox; SettingsError lists every problem."""
    if not mailbox.host or not mailbox.sender_address:
        raise SettingsError("у ящика должны быть SMTP-сервер и адрес отправителя")
    if problems := email_settings_problems(mailbox):
        raise SettingsError("\n".join(problems))
    values = [value_text(getattr(mailbox, n)) for n in _MAILBOX_FIELDS]
    with transaction(conn):
        return conn.execute(
            f"INSERT INTO mailboxes ({', '.join(_MAILBOX_FIELDS)}) "
            f"VALUES ({', '.join('?' * len(_MAILBOX_FIELDS))}) RETURNING id",
            values,
        ).fetchone()[0]


def delete_mailbox(conn: sqlite3.Connection, mailbox_id: int) -> bool:
    """Forget one of the extra mailboxes; False when there is no such one."""
    return conn.execute("DELETE FROM mailboxes WHERE id = ?", (mailbox_id,)).rowcount == 1
