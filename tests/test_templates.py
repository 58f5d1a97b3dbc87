"""Templates: storage, the v1 → v2 migration, the save rules, the demo templates."""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from avtoprokat_mail.interchange.demo import DEMO_TEMPLATES, add_demo_data, fill_demo_templates
from avtoprokat_mail.model import Template
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.sending.template_check import check_template
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import open_database, transaction
from avtoprokat_mail.storage import templates as store
from avtoprokat_mail.storage.db import MIGRATIONS, SCHEMA_VERSION

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


def _template(**changes) -> Template:
    fields = {"subject": "Тема %Имя%", "body": "Текст\nвторая строка", "note": "заметка"}
    return Template(**{**fields, **changes})


def _seconds_from_now(stamp: str) -> float:
    return abs((datetime.fromisoformat(stamp) - datetime.now()).total_seconds())


# --- storage ------------------------------------------------------------------------------------
def test_add_and_get(db: sqlite3.Connection) -> None:
    template = _template(sms=True, attachment1=" /x/a.pdf ", note="  заметка  ")
    template_id = store.add_template(db, template)

    assert template.id == template_id
    assert ISO.fullmatch(template.created)
    assert _seconds_from_now(template.created) < 60
    stored = store.get_template(db, template_id)
    assert stored == Template(
        "Тема %Имя%", "Текст\nвторая строка", True, "/x/a.pdf", "", "заметка",
        template.created, "", template_id,
    )  # fmt: skip


def test_get_unknown_is_none(db: sqlite3.Connection) -> None:
    assert store.get_template(db, 999) is None


def test_list_is_newest_first(db: sqlite3.Connection) -> None:
    ids = [store.add_template(db, _template(subject=f"№{n}")) for n in range(3)]
    assert [t.id for t in store.list_templates(db)] == ids[::-1]

    db.execute("UPDATE templates SET created = '2001-01-01T00:00:00' WHERE id = ?", (ids[2],))
    db.execute("UPDATE templates SET created = '2099-01-01T00:00:00' WHERE id = ?", (ids[0],))
    assert [t.id for t in store.list_templates(db)] == [ids[0], ids[1], ids[2]]


def test_update_keeps_created_and_sent(db: sqlite3.Connection) -> None:
    template_id = store.add_template(db, _template())
    store.mark_sent(db, template_id, "2026-11-26T18:05:00")
    before = store.get_template(db, template_id)

    edited = Template("Новая тема", "Новый текст", True, "/a", "/b", "новая",
                      "1999-01-01T00:00:00", "", template_id)  # fmt: skip
    store.update_template(db, edited)

    after = store.get_template(db, template_id)
    assert (after.subject, after.body, after.sms, after.attachment1, after.attachment2,
            after.note) == ("Новая тема", "Новый текст", True, "/a", "/b", "новая")  # fmt: skip
    assert (after.created, after.sent) == (before.created, "2026-11-26T18:05:00")


def test_update_needs_a_stored_template(db: sqlite3.Connection) -> None:
    with pytest.raises(ValueError):
        store.update_template(db, _template())


def test_copy_has_new_id_same_content_and_is_not_sent(db: sqlite3.Connection) -> None:
    original_id = store.add_template(db, _template(attachment2="/x/b.jpg"))
    db.execute(
        "UPDATE templates SET created = '2020-05-05T10:00:00', sent = '2020-05-06T10:00:00' "
        "WHERE id = ?",
        (original_id,),
    )

    copy_id = store.copy_template(db, original_id)

    original, copy = store.get_template(db, original_id), store.get_template(db, copy_id)
    assert copy_id != original_id
    assert copy.sent == ""
    assert _seconds_from_now(copy.created) < 60
    assert (copy.subject, copy.body, copy.sms, copy.attachment1, copy.attachment2, copy.note) == (
        original.subject, original.body, original.sms, original.attachment1,
        original.attachment2, original.note,
    )  # fmt: skip
    assert original.sent == "2020-05-06T10:00:00"


def test_copy_of_unknown_template(db: sqlite3.Connection) -> None:
    with pytest.raises(ValueError):
        store.copy_template(db, 42)


def test_delete(db: sqlite3.Connection) -> None:
    keep = store.add_template(db, _template())
    gone = store.add_template(db, _template())

    store.delete_template(db, gone)

    assert store.get_template(db, gone) is None
    assert [t.id for t in store.list_templates(db)] == [keep]


def test_mark_sent(db: sqlite3.Connection) -> None:
    template_id = store.add_template(db, _template())
    assert store.get_template(db, template_id).sent == ""

    store.mark_sent(db, template_id, "2026-11-26T18:05:00")

    assert store.get_template(db, template_id).sent == "2026-11-26T18:05:00"


# --- migration ----------------------------------------------------------------------------------
def test_version_1_database_is_upgraded_keeping_clients(data_folder: Path) -> None:
    path = database_path(data_folder)
    old = sqlite3.connect(path, isolation_level=None)
    with transaction(old):
        MIGRATIONS[0](old)
        old.execute("PRAGMA user_version = 1")
    old.execute("INSERT INTO clients (surname, name, email) VALUES ('Иванов', 'Иван', 'i@x.ru')")
    old.close()

    conn = open_database(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        client = client_store.get_client(conn, 1)
        assert (client.surname, client.name, client.email) == ("Иванов", "Иван", "i@x.ru")
        assert store.list_templates(conn) == []
        template_id = store.add_template(conn, _template())
        assert store.get_template(conn, template_id).subject == "Тема %Имя%"
    finally:
        conn.close()


# --- save rules ---------------------------------------------------------------------------------
def test_valid_template_has_no_errors_or_warnings(tmp_path: Path) -> None:
    attachment = tmp_path / "прайс.pdf"
    attachment.write_bytes(b"%PDF-1.4")
    check = check_template(_template(attachment1=str(attachment)))
    assert (check.errors, check.warnings) == ([], [])


def test_email_without_subject_is_an_error() -> None:
    check = check_template(_template(subject="   "))
    assert check.errors == ["Укажите тему письма: без темы письмо попадёт в спам."]


def test_empty_body_is_an_error() -> None:
    assert check_template(_template(body=" \n ")).errors == ["Введите текст сообщения."]
    assert check_template(_template(sms=True, body="")).errors == ["Введите текст сообщения."]


def test_missing_attachment_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "нет.pdf"
    check = check_template(_template(attachment1=str(missing)))
    assert check.errors == [f"Приложение 1: файл не найден — {missing}"]


def test_attachments_over_25_mb_are_an_error(tmp_path: Path) -> None:
    big = tmp_path / "видео.mp4"
    with big.open("wb") as f:
        f.truncate(25 * 1024 * 1024 + 1)
    (error,) = check_template(_template(attachment2=str(big))).errors
    assert "25.0 МБ" in error
    assert "не больше 25 МБ" in error


def test_exactly_25_mb_is_allowed(tmp_path: Path) -> None:
    big = tmp_path / "видео.mp4"
    with big.open("wb") as f:
        f.truncate(25 * 1024 * 1024)
    assert check_template(_template(attachment1=str(big))).errors == []


def test_sms_with_attachments_is_a_warning_without_a_file_check(tmp_path: Path) -> None:
    missing = str(tmp_path / "нет.pdf")
    check = check_template(_template(sms=True, subject="", attachment1=missing))

    assert check.errors == []
    assert check.warnings == [f"Приложения не отправляются по SMS и будут пропущены: {missing}."]


def test_unknown_placeholder_is_a_warning_with_its_position() -> None:
    check = check_template(_template(subject="Для %Фамилия%", body="Текст\n  %Скидка%"))

    assert check.errors == []
    assert check.warnings == [
        "Неизвестное обозначение %Фамилия% в теме (строка 1, позиция 5). "
        "Можно использовать: %Имя%, %Должность%, %Наименование%; "
        "с текстом на случай пустого поля: %Должность|сотрудник%.",
        "Неизвестное обозначение %Скидка% в сообщении (строка 2, позиция 3). "
        "Можно использовать: %Имя%, %Должность%, %Наименование%; "
        "с текстом на случай пустого поля: %Должность|сотрудник%.",
    ]


def test_sms_subject_is_not_checked_for_placeholders() -> None:
    check = check_template(_template(sms=True, subject="%Фамилия%", body="%Имя%, привет"))
    assert (check.errors, check.warnings) == ([], [])


# --- demo templates -----------------------------------------------------------------------------
def test_demo_templates_are_added_once(db: sqlite3.Connection) -> None:
    assert add_demo_data(db) == (300, 3)
    assert add_demo_data(db) == (0, 0)
    templates = store.list_templates(db)
    assert len(templates) == 3
    assert sorted(t.sms for t in templates) == [False, False, True]


def test_demo_templates_stay_once_after_the_user_adds_one(db: sqlite3.Connection) -> None:
    store.add_template(db, _template())
    assert fill_demo_templates(db) == 3
    assert fill_demo_templates(db) == 0
    assert len(store.list_templates(db)) == 4


def test_demo_templates_pass_the_save_rules(db: sqlite3.Connection) -> None:
    fill_demo_templates(db)
    for template in store.list_templates(db):
        check = check_template(template)
        assert (check.errors, check.warnings) == ([], []), template.note


def test_demo_template_constants_are_not_mutated_by_storing(db: sqlite3.Connection) -> None:
    fill_demo_templates(db)
    assert all(t.id is None and t.created == "" for t in DEMO_TEMPLATES)
