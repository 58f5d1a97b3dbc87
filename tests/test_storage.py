"""The database file: creation, migration, refusal of what it must not touch, marks."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

import avtoprokat_mail.storage.db as db_module
from avtoprokat_mail.model import Client, ClientNotes
from avtoprokat_mail.storage import DatabaseError, open_database, transaction
from avtoprokat_mail.storage import clients as store


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _add(conn: sqlite3.Connection, *names: str) -> list[int]:
    return [store.add_client(conn, Client(surname=name)) for name in names]


def test_new_database_gets_schema_and_version(tmp_path: Path) -> None:
    path = tmp_path / "new" / "t.sqlite3"
    path.parent.mkdir()
    conn = open_database(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        conn.close()
    assert version == db_module.SCHEMA_VERSION >= 1
    assert "clients" in tables
    assert mode == "wal"


def test_reopen_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    conn = open_database(path)
    client_id = store.add_client(conn, Client(surname="Иванов", email="ivanov@mail.ru"))
    conn.close()
    conn = open_database(path)
    try:
        stored = store.get_client(conn, client_id)
        assert stored is not None
        assert (stored.surname, stored.email) == ("Иванов", "ivanov@mail.ru")
        assert conn.execute("PRAGMA user_version").fetchone()[0] == db_module.SCHEMA_VERSION
    finally:
        conn.close()


def test_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE clients (id INTEGER PRIMARY KEY, surname TEXT)")
    raw.execute("INSERT INTO clients (surname) VALUES ('Петров')")
    raw.execute("PRAGMA user_version = 99")
    raw.commit()
    raw.close()
    before = _sha256(path)

    with pytest.raises(DatabaseError) as caught:
        open_database(path)

    message = str(caught.value)
    assert "более новой версией" in message
    assert "99" in message
    assert _sha256(path) == before
    assert not Path(f"{path}-wal").exists()
    assert not Path(f"{path}-journal").exists()


def test_random_bytes_file_is_refused_with_russian_message(tmp_path: Path) -> None:
    path = tmp_path / "damaged.sqlite3"
    path.write_bytes(os.urandom(8192))
    before = _sha256(path)

    with pytest.raises(DatabaseError) as caught:
        open_database(path)

    assert "повреждён" in str(caught.value)
    assert "Traceback" not in str(caught.value)
    assert _sha256(path) == before


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db_module, "BUSY_TIMEOUT_SECONDS", 0.2)


@pytest.mark.usefixtures("short_busy_timeout")
def test_database_held_exclusively_by_another_program_is_busy(tmp_path: Path) -> None:
    """Another program holds the file with an exclusive lock (e.g. a second copy migrating)."""
    path = tmp_path / "t.sqlite3"
    open_database(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseError) as caught:
            open_database(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "занята" in str(caught.value)


@pytest.mark.usefixtures("short_busy_timeout")
def test_new_database_locked_during_creation_is_busy(tmp_path: Path) -> None:
    """A database still in rollback-journal mode, locked by ``BEGIN EXCLUSIVE`` elsewhere."""
    path = tmp_path / "t.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE other (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseError) as caught:
            open_database(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert "занята" in str(caught.value)


def test_transaction_rolls_back_on_error(db: sqlite3.Connection) -> None:
    _add(db, "Иванов")
    with pytest.raises(RuntimeError), transaction(db):
        _add(db, "Петров")
        raise RuntimeError("boom")
    assert store.counts(db) == (1, 0)


def _marked_ids(conn: sqlite3.Connection) -> list[int]:
    return [c.id for c in store.list_clients(conn, marked_only=True)]


def test_marks_set_all_none_invert(db: sqlite3.Connection) -> None:
    first, second, third = _add(db, "Иванов", "Петров", "Сидоров")
    store.set_marked(db, [first, third], True)
    assert _marked_ids(db) == [first, third]
    store.set_marked(db, [first], False)
    assert _marked_ids(db) == [third]
    store.invert_marks(db)
    assert _marked_ids(db) == [first, second]
    store.set_all_marked(db, True)
    assert store.counts(db) == (3, 3)
    store.set_all_marked(db, False)
    assert store.counts(db) == (3, 0)


def test_marks_persist_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    conn = open_database(path)
    ids = _add(conn, "Иванов", "Петров")
    store.set_marked(conn, ids[1:], True)
    conn.close()
    conn = open_database(path)
    try:
        assert _marked_ids(conn) == ids[1:]
    finally:
        conn.close()


def test_identity_index_prefers_older_client(db: sqlite3.Connection) -> None:
    older = store.add_client(db, Client(surname="А", email="Same@Mail.ru", mobile="+79031112233"))
    store.add_client(db, Client(surname="Б", email="same@mail.ru", mobile="+79031112233"))
    by_email, by_mobile = store.identity_index(db)
    assert by_email == {"same@mail.ru": older}
    assert by_mobile == {"+79031112233": older}


# --- consent and bounces ------------------------------------------------------------------------
def test_consent_and_bounced_are_stored_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    conn = open_database(path)
    agreed = store.add_client(conn, Client(surname="Согласный", consent="2024-05-14"))
    bounced = store.add_client(conn, Client(surname="Возвратный", email="b@mail.ru", bounced=True))
    plain = store.add_client(conn, Client(surname="Обычный"))
    conn.close()
    conn = open_database(path)
    try:
        read = {c.id: (c.consent, c.bounced) for c in store.list_clients(conn)}
        assert read == {agreed: ("2024-05-14", False), bounced: ("", True), plain: ("", False)}
        row = dict(zip(store.ROW_COLUMNS, store.fetch_row(conn, agreed), strict=True))
        assert (row["consent"], row["bounced"]) == ("2024-05-14", 0)
        client = store.get_client(conn, agreed)
        client.consent = ""  # the consent withdrawn
        store.update_client(conn, client)
        assert store.get_client(conn, agreed).consent == ""
    finally:
        conn.close()


def _bounced_client(conn: sqlite3.Connection) -> int:
    client_id = store.add_client(
        conn, Client(surname="Возвратный", email="Old@Mail.ru", bounced=True, opt_out=True)
    )
    notes = ClientNotes("550 5.1.1 user unknown", "2025-03-01", 2, "2025-02-01", "письмо")
    store.write_notes(conn, [(client_id, notes)])
    return client_id


def test_a_saved_client_keeps_the_bounce_while_the_email_stays(db: sqlite3.Connection) -> None:
    client_id = _bounced_client(db)
    client = store.get_client(db, client_id)
    client.email, client.note = "old@mail.ru", "другое примечание"  # only the case changed
    client.bounced = False  # the form never clears it: only the mailbox check does
    store.update_client(db, client)
    assert store.get_client(db, client_id).bounced is True
    assert store.client_notes(db, client_id) == ClientNotes(
        "550 5.1.1 user unknown", "2025-03-01", 2, "2025-02-01", "письмо"
    )


def test_a_new_email_clears_the_bounce_and_its_details(db: sqlite3.Connection) -> None:
    client_id = _bounced_client(db)
    other = _bounced_client(db)
    client = store.get_client(db, client_id)
    client.email = "new@mail.ru"
    store.update_client(db, client)
    assert store.get_client(db, client_id).bounced is False
    # A fresh start for the address; the opt-out and where it came from stay.
    assert store.client_notes(db, client_id) == ClientNotes("", "", 0, "2025-02-01", "письмо")
    assert store.get_client(db, other).bounced is True  # nobody else's
    assert store.client_notes(db, other).bounce_reason == "550 5.1.1 user unknown"


def test_notes_of_an_unknown_client_are_empty(db: sqlite3.Connection) -> None:
    assert store.client_notes(db, 999) == ClientNotes()


def test_rows_of_100k_clients_still_build_clients(db: sqlite3.Connection) -> None:
    count = 100_000
    store.add_clients(
        db,
        (
            Client(surname=f"Клиент{i}", email=f"c{i}@mail.ru", marked=i % 3 == 0,
                   consent="2024-05-14" if i % 2 else "", bounced=i % 1000 == 0)
            for i in range(count)
        ),
    )  # fmt: skip
    clients = store.list_clients(db)
    assert len(clients) == count
    last = clients[-1]
    assert (last.surname, last.email, last.marked, last.consent, last.bounced) == (
        f"Клиент{count - 1}", f"c{count - 1}@mail.ru", True, "2024-05-14", False
    )  # fmt: skip
    assert sum(c.bounced for c in clients) == count // 1000
    assert sum(bool(c.consent) for c in clients) == count // 2
    assert sum(c.marked for c in clients) == len(range(0, count, 3))


def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path, monkeypatch) -> None:
    """A migration that fails half-way (power cut, disk full) is rolled back whole."""
    import sqlite3 as sqlite

    from avtoprokat_mail.storage import db as db_module
    from avtoprokat_mail.storage import open_database

    path = tmp_path / "half.sqlite3"
    open_database(path).close()
    version = db_module.SCHEMA_VERSION

    def broken(conn) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise sqlite.OperationalError("disk I/O error")

    monkeypatch.setattr(db_module, "MIGRATIONS", [*db_module.MIGRATIONS, broken])
    monkeypatch.setattr(db_module, "SCHEMA_VERSION", version + 1)
    with pytest.raises(db_module.DatabaseError):
        open_database(path)
    check = sqlite.connect(path)
    try:
        assert check.execute("PRAGMA user_version").fetchone()[0] == version
        tables = {row[0] for row in check.execute("SELECT name FROM sqlite_master")}
        assert "half_done" not in tables
    finally:
        check.close()


def test_a_run_route_is_stored_as_text_and_read_back_as_a_value(db, tmp_path):
    from avtoprokat_mail.model import Channel, Route, RouteKind, Run, Template
    from avtoprokat_mail.storage import runs as run_store

    folder = tmp_path / "папка писем"
    for route in (Route.direct(Channel.EMAIL), Route.direct(Channel.SMS), Route.outbox(folder)):
        run_id = run_store.create_run(db, Run.of(Template(subject="Тема", body="Текст"), route), [])
        stored = db.execute("SELECT transport, test FROM runs WHERE id = ?", (run_id,)).fetchone()
        assert stored == (str(route), int(route.is_test))
        assert run_store.get_run(db, run_id).route == route
    assert str(Route.outbox(folder)) == f"outbox:{folder.resolve()}"
    # Journals written before the gateway had one name keep reading as the gateway.
    assert Route.parse("smsru") == Route.parse("smsc") == Route(RouteKind.GATEWAY)


def test_the_runs_rebuild_keeps_every_run_and_delivery(tmp_path):
    """Version 6 rebuilds the runs table (a new status): the journal of earlier runs survives,
    and dropping the old table cascades to none of its deliveries."""
    from avtoprokat_mail.model import RunStatus
    from avtoprokat_mail.storage import runs as run_store

    path = tmp_path / "старая.sqlite3"
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("PRAGMA foreign_keys = ON")
    for number in range(5):
        with db_module.transaction(old):
            db_module.MIGRATIONS[number](old)
            old.execute(f"PRAGMA user_version = {number + 1}")
    old.execute(
        "INSERT INTO runs (channel, transport, subject, status, test) "
        "VALUES ('email', 'smtp', 'Скидка', 'stopped', 0)"
    )
    old.executemany(
        "INSERT INTO deliveries (run_id, position, recipient, status, reply) "
        "VALUES (1, ?, ?, ?, ?)",
        [(1, "a@x.ru", "sent", "250 ok"), (2, "b@x.ru", "pending", "")],
    )
    old.close()

    conn = db_module.open_database(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == db_module.SCHEMA_VERSION
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        run = run_store.get_run(conn, 1)
        assert (run.subject, run.status) == ("Скидка", RunStatus.STOPPED)
        assert [(d.recipient, d.reply) for d in run_store.deliveries(conn, 1)] == [
            ("a@x.ru", "250 ok"), ("b@x.ru", "")
        ]  # fmt: skip
        conn.execute("DELETE FROM runs WHERE id = 1")  # the cascade still works afterwards
        assert conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 0
    finally:
        conn.close()
