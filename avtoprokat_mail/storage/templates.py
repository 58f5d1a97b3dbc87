"""Message templates. All SQL about templates lives here."""

from __future__ import annotations

import sqlite3

from avtoprokat_mail.model import Template
from avtoprokat_mail.validation import strip_controls

_FIELDS = ("subject", "body", "sms", "attachment1", "attachment2", "note")
_SELECT = f"SELECT {', '.join(_FIELDS)}, created, sent, id FROM templates"


def _from_row(row: tuple) -> Template:
    subject, body, sms, attachment1, attachment2, note, created, sent, template_id = row
    return Template(subject, body, bool(sms), attachment1, attachment2, note, created, sent,
                    template_id)  # fmt: skip


def _values(template: Template) -> tuple:
    return (
        strip_controls(template.subject).strip(),
        strip_controls(template.body, multiline=True),
        int(bool(template.sms)),
        template.attachment1.strip(),
        template.attachment2.strip(),
        template.note.strip(),
    )


def list_templates(conn: sqlite3.Connection) -> list[Template]:
    """Every template, newest first (as the mailing window lists them)."""
    return [_from_row(row) for row in conn.execute(_SELECT + " ORDER BY created DESC, id DESC")]


def get_template(conn: sqlite3.Connection, template_id: int) -> Template | None:
    """One template by id, or None."""
    row = conn.execute(_SELECT + " WHERE id = ?", (template_id,)).fetchone()
    return _from_row(row) if row else None


def add_template(conn: sqlite3.Connection, template: Template) -> int:
    """Store a new template; sets and returns its id and sets ``created``."""
    cursor = conn.execute(
        f"INSERT INTO templates ({', '.join(_FIELDS)}) VALUES ({', '.join('?' * len(_FIELDS))}) "
        "RETURNING id, created",
        _values(template),
    )
    template.id, template.created = cursor.fetchone()
    return template.id


def update_template(conn: sqlite3.Connection, template: Template) -> None:
    """Write the editable fields of a stored template (not ``created`` nor ``sent``)."""
    if template.id is None:
        raise ValueError("update_template needs a stored template")
    conn.execute(
        f"UPDATE templates SET {', '.join(f + ' = ?' for f in _FIELDS)} WHERE id = ?",
        (*_values(template), template.id),
    )


def copy_template(conn: sqlite3.Connection, template_id: int) -> int:
    """A new template with the same content, created now and never sent; returns its id."""
    original = get_template(conn, template_id)
    if original is None:
        raise ValueError(f"no template {template_id}")
    original.id = None
    return add_template(conn, original)


def delete_template(conn: sqlite3.Connection, template_id: int) -> None:
    conn.execute("DELETE FROM templates WHERE id = ?", (template_id,))


def mark_sent(conn: sqlite3.Connection, template_id: int, finished: str) -> None:
    """Record when the last run of a template finished (the «Отправлено» field)."""
    conn.execute("UPDATE templates SET sent = ? WHERE id = ?", (finished, template_id))
