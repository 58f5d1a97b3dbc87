"""Opening the database: PRAGMAs, schema migrations by ``PRAGMA user_version``, clear errors.

Every failure a user can meet (a database from a newer program, a damaged file, a file held by
another program) becomes a :class:`DatabaseError` with a Russian message, never a traceback.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

BUSY_TIMEOUT_SECONDS = 5.0


class DatabaseError(Exception):
    """The database cannot be used; ``str(error)`` is a message for the user, in Russian."""


def _v1_clients(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        CREATE TABLE clients (
            id           INTEGER PRIMARY KEY,
            surname      TEXT NOT NULL DEFAULT '',
            name         TEXT NOT NULL DEFAULT '',
            position     TEXT NOT NULL DEFAULT '',
            organization TEXT NOT NULL DEFAULT '',
            email        TEXT NOT NULL DEFAULT '',
            mobile       TEXT NOT NULL DEFAULT '',
            phone        TEXT NOT NULL DEFAULT '',
            address      TEXT NOT NULL DEFAULT '',
            note         TEXT NOT NULL DEFAULT '',
            opt_out      INTEGER NOT NULL DEFAULT 0 CHECK (opt_out IN (0, 1)),
            created      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S', 'now', 'localtime')),
            updated      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S', 'now', 'localtime'))
        );
        CREATE INDEX clients_email ON clients (lower(email)) WHERE email <> '';
        CREATE INDEX clients_mobile ON clients (mobile) WHERE mobile <> '';
        -- Marks live in their own narrow table: marking or unmarking 100,000 clients then
        -- writes 100,000 small keys (about 20 ms) or nothing at all (DELETE), instead of
        -- rewriting every client row (about 90 ms), and editing a mark never touches the record.
        CREATE TABLE marks (
            client_id INTEGER PRIMARY KEY REFERENCES clients (id) ON DELETE CASCADE
        );
        """,
    )


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Execute statements one by one: ``executescript`` would commit the open transaction."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {statement!r}")


def _v2_templates(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        CREATE TABLE templates (
            id          INTEGER PRIMARY KEY,
            created     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S', 'now', 'localtime')),
            sent        TEXT NOT NULL DEFAULT '',
            sms         INTEGER NOT NULL DEFAULT 0 CHECK (sms IN (0, 1)),
            subject     TEXT NOT NULL DEFAULT '',
            body        TEXT NOT NULL DEFAULT '',
            attachment1 TEXT NOT NULL DEFAULT '',
            attachment2 TEXT NOT NULL DEFAULT '',
            note        TEXT NOT NULL DEFAULT ''
        );
        """,
    )


def _v3_settings(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        -- Settings as text under dotted keys ("email.host"); never a password (credentials.py).
        CREATE TABLE settings (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
    )


def _v4_runs(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        -- A run: one "Старт" of a template. The template's text is copied, so a resumed run
        -- sends what was started even if the template was edited meanwhile.
        CREATE TABLE runs (
            id          INTEGER PRIMARY KEY,
            template_id INTEGER REFERENCES templates (id) ON DELETE SET NULL,
            channel     TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
            transport   TEXT NOT NULL,
            started     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S', 'now', 'localtime')),
            finished    TEXT NOT NULL DEFAULT '',
            status      TEXT NOT NULL DEFAULT 'running' CHECK (status IN
                            ('running', 'paused', 'cancelled', 'stopped', 'finished')),
            reason      TEXT NOT NULL DEFAULT '',
            subject     TEXT NOT NULL DEFAULT '',
            body        TEXT NOT NULL DEFAULT '',
            attachment1 TEXT NOT NULL DEFAULT '',
            attachment2 TEXT NOT NULL DEFAULT ''
        );
        -- The journal: one row per recipient, written as each outcome happens. The client's
        -- data is copied too: a resumed run personalises exactly as it started.
        CREATE TABLE deliveries (
            run_id       INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            position     INTEGER NOT NULL,
            client_id    INTEGER,
            recipient    TEXT NOT NULL,
            surname      TEXT NOT NULL DEFAULT '',
            name         TEXT NOT NULL DEFAULT '',
            position_title TEXT NOT NULL DEFAULT '',
            organization TEXT NOT NULL DEFAULT '',
            status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN
                             ('pending', 'sending', 'sent', 'failed', 'skipped', 'uncertain')),
            time         TEXT NOT NULL DEFAULT '',
            reply        TEXT NOT NULL DEFAULT '',
            attempts     INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (run_id, position)
        ) WITHOUT ROWID;
        CREATE INDEX deliveries_status ON deliveries (run_id, status);
        """,
    )


def _v5_run_history(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        -- A test run writes .eml files into a folder: nothing a real run relies on (the
        -- template's «Отправлено», the repeat check) may count it.
        ALTER TABLE runs ADD COLUMN test INTEGER NOT NULL DEFAULT 0 CHECK (test IN (0, 1));
        UPDATE runs SET test = 1 WHERE transport LIKE 'outbox:%';
        -- The attachments' SHA-256 when the run started: a resume refuses a changed file, so
        -- every recipient of one run gets the same bytes.
        ALTER TABLE runs ADD COLUMN attachment1_sha256 TEXT NOT NULL DEFAULT '';
        ALTER TABLE runs ADD COLUMN attachment2_sha256 TEXT NOT NULL DEFAULT '';
        CREATE INDEX runs_template ON runs (template_id);
        -- The run that took this recipient over (a retry, or a new start of the template):
        -- this run never sends to them again.
        ALTER TABLE deliveries ADD COLUMN moved_to INTEGER;
        """,
    )


def _v6_mailbox_limits(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        -- A run may wait for its mailbox's daily limit: status 'waiting' until resume_at. The
        -- CHECK of the status cannot be altered in place, so the table is rebuilt (foreign
        -- keys are off for this migration: dropping the old table must not cascade).
        CREATE TABLE runs_new (
            id          INTEGER PRIMARY KEY,
            template_id INTEGER REFERENCES templates (id) ON DELETE SET NULL,
            channel     TEXT NOT NULL CHECK (channel IN ('email', 'sms')),
            transport   TEXT NOT NULL,
            started     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%S', 'now', 'localtime')),
            finished    TEXT NOT NULL DEFAULT '',
            status      TEXT NOT NULL DEFAULT 'running' CHECK (status IN
                            ('running', 'paused', 'waiting', 'cancelled', 'stopped', 'finished')),
            reason      TEXT NOT NULL DEFAULT '',
            subject     TEXT NOT NULL DEFAULT '',
            body        TEXT NOT NULL DEFAULT '',
            attachment1 TEXT NOT NULL DEFAULT '',
            attachment2 TEXT NOT NULL DEFAULT '',
            test        INTEGER NOT NULL DEFAULT 0 CHECK (test IN (0, 1)),
            attachment1_sha256 TEXT NOT NULL DEFAULT '',
            attachment2_sha256 TEXT NOT NULL DEFAULT '',
            resume_at   REAL NOT NULL DEFAULT 0
        );
        INSERT INTO runs_new (id, template_id, channel, transport, started, finished, status,
                              reason, subject, body, attachment1, attachment2, test,
                              attachment1_sha256, attachment2_sha256)
            SELECT id, template_id, channel, transport, started, finished, status, reason,
                   subject, body, attachment1, attachment2, test, attachment1_sha256,
                   attachment2_sha256
            FROM runs;
        DROP TABLE runs;
        ALTER TABLE runs_new RENAME TO runs;
        CREATE INDEX runs_template ON runs (template_id);
        -- Which mailbox handed each message over, and when (Unix time): the daily limit of a
        -- mailbox is counted over the last 24 hours of every run from this index.
        ALTER TABLE deliveries ADD COLUMN mailbox TEXT NOT NULL DEFAULT '';
        ALTER TABLE deliveries ADD COLUMN sent_at REAL;
        CREATE INDEX deliveries_mailbox_time ON deliveries (mailbox, sent_at) WHERE mailbox <> '';
        -- A mailbox the provider blocked (over its sending quota): no attempt before "until".
        CREATE TABLE mailbox_blocks (
            mailbox TEXT PRIMARY KEY,
            until   REAL NOT NULL,
            reason  TEXT NOT NULL DEFAULT ''
        );
        """,
    )


_v6_mailbox_limits.foreign_keys_off = True


def _v7_more_mailboxes(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        -- Sender mailboxes beyond the main one (the email.* settings): a run may send through
        -- several, each within its own daily limit. Passwords are in the system's store.
        CREATE TABLE mailboxes (
            id             INTEGER PRIMARY KEY,
            sender_name    TEXT NOT NULL DEFAULT '',
            sender_address TEXT NOT NULL,
            host           TEXT NOT NULL,
            port           INTEGER NOT NULL,
            security       TEXT NOT NULL CHECK (security IN ('none', 'starttls', 'ssl')),
            auth           INTEGER NOT NULL DEFAULT 1 CHECK (auth IN (0, 1)),
            user           TEXT NOT NULL DEFAULT '',
            per_minute     INTEGER NOT NULL DEFAULT 0,
            timeout        INTEGER NOT NULL DEFAULT 30,
            daily_limit    INTEGER NOT NULL DEFAULT 0,
            enabled        INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1))
        );
        """,
    )


def _v8_mailbox_returns(conn: sqlite3.Connection) -> None:
    _run_script(
        conn,
        """
        -- What comes back to the sender's mailbox: consent to mailings (38-ФЗ), bounced
        -- addresses, and where an opt-out came from.
        ALTER TABLE clients ADD COLUMN consent TEXT NOT NULL DEFAULT '';  -- ISO date, '' = none
        ALTER TABLE clients ADD COLUMN bounced INTEGER NOT NULL DEFAULT 0
            CHECK (bounced IN (0, 1));
        ALTER TABLE clients ADD COLUMN bounce_reason TEXT NOT NULL DEFAULT '';
        ALTER TABLE clients ADD COLUMN bounce_date TEXT NOT NULL DEFAULT '';
        ALTER TABLE clients ADD COLUMN soft_bounces INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE clients ADD COLUMN opt_out_date TEXT NOT NULL DEFAULT '';
        ALTER TABLE clients ADD COLUMN opt_out_source TEXT NOT NULL DEFAULT '';
        -- Each message's Message-ID: a bounce quoting it leads back to its run and delivery.
        ALTER TABLE deliveries ADD COLUMN message_id TEXT NOT NULL DEFAULT '';
        CREATE INDEX deliveries_message_id ON deliveries (message_id) WHERE message_id <> '';
        -- Messages of the sender's INBOX already read by «Проверить почту», per account.
        CREATE TABLE inbox_seen (
            account     TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL,
            uid         INTEGER NOT NULL,
            kind        TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (account, uidvalidity, uid)
        ) WITHOUT ROWID;
        """,
    )


# Ordered migrations: entry N brings the schema from version N to N + 1. Never edit a released
# entry; append a new one.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1_clients,
    _v2_templates,
    _v3_settings,
    _v4_runs,
    _v5_run_history,
    _v6_mailbox_limits,
    _v7_more_mailboxes,
    _v8_mailbox_returns,
]
SCHEMA_VERSION = len(MIGRATIONS)


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating when missing) and migrate the database at ``path``.

    A database written by a newer version of the program is refused before anything writes to
    it. Raises :class:`DatabaseError` with a message for the user on every failure.
    """
    path = Path(path).absolute()  # sqlite URIs (the read-only probe) need an absolute path
    if path.exists():
        _refuse_newer_schema(path)
    try:
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
    except sqlite3.Error as error:
        raise DatabaseError(describe_error(error, path)) from error
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        _migrate(conn, path)
        conn.execute("PRAGMA quick_check(1)").fetchone()
    except sqlite3.Error as error:
        conn.close()
        raise DatabaseError(describe_error(error, path)) from error
    except DatabaseError:
        conn.close()
        raise
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: committed when the block ends, rolled back on any exception.

    The connection runs in autocommit mode (``isolation_level=None``), so every statement
    outside such a block is its own transaction. Inside a transaction that is already open,
    the block simply joins it: the outermost block commits or rolls back.
    """
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _refuse_newer_schema(path: Path) -> None:
    """Read the schema version without writing a byte; refuse a newer one."""
    try:
        probe = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
    except sqlite3.Error as error:
        raise DatabaseError(describe_error(error, path)) from error
    try:
        version = probe.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as error:
        raise DatabaseError(describe_error(error, path)) from error
    finally:
        probe.close()
    if version > SCHEMA_VERSION:
        raise DatabaseError(
            f"База данных {path} создана более новой версией программы "
            f"(версия схемы {version}, эта программа знает версию {SCHEMA_VERSION}). "
            "Установите новую версию программы. Файл не изменён."
        )


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Apply the missing migrations, each in its own transaction with its version bump."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:  # written by a newer program between the probe and now
        raise DatabaseError(f"База данных {path} создана более новой версией программы.")
    for number in range(version, SCHEMA_VERSION):
        migration = MIGRATIONS[number]
        rebuilds = getattr(migration, "foreign_keys_off", False)
        if rebuilds:  # a table rebuild: dropping the old table must not cascade to its children
            conn.execute("PRAGMA foreign_keys = OFF")
        try:
            with transaction(conn):
                migration(conn)
                if rebuilds and conn.execute("PRAGMA foreign_key_check").fetchone():
                    raise DatabaseError(f"База данных {path}: связи таблиц нарушены обновлением.")
                conn.execute(f"PRAGMA user_version = {number + 1}")
        finally:
            if rebuilds:
                conn.execute("PRAGMA foreign_keys = ON")


def database_file(conn: sqlite3.Connection) -> Path:
    """The file an open connection works on (for messages that name it)."""
    return Path(conn.execute("PRAGMA database_list").fetchone()[2])


def describe_error(error: sqlite3.Error, path: Path) -> str:
    """Turn an sqlite3 error into a message a rental manager can act on (in Russian)."""
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return (
            f"База данных {path} занята другой программой (возможно, открыта вторая копия "
            "программы). Закройте её и попробуйте снова."
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (
            f"Файл базы данных {path} повреждён или не является базой данных программы. "
            "Восстановите его из резервной копии или укажите другую папку данных."
        )
    if "unable to open" in text or "readonly" in text or "read-only" in text:
        return f"Не удаётся открыть базу данных {path}: нет доступа к файлу или папке."
    return f"Ошибка базы данных {path}: {error}"
