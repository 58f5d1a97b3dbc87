"""`templates list | add | preview` on the command line, in-process and as a real process."""

from __future__ import annotations

import csv
import email
import io
import os
import re
import sqlite3
import subprocess
import sys
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from avtoprokat_mail.cli import main
from avtoprokat_mail.model import Client, Template
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import templates as template_store

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PDF_NAME = "Прайс-лист на аренду 2026.pdf"
PDF_BYTES = bytes(range(256)) * 40


@pytest.fixture
def cli_bytes(data_folder: Path, capsysbinary: pytest.CaptureFixture[bytes]):
    """As ``cli``, with stdout as the bytes the program wrote (stderr decoded)."""

    def run(*args: str) -> tuple[int, bytes, str]:
        status = main(["--data-dir", str(data_folder), *args])
        out, err = capsysbinary.readouterr()
        return status, out, err.decode("utf-8")

    return run


@pytest.fixture
def client_id(db: sqlite3.Connection) -> int:
    client = Client(
        surname="Петров",
        name="Иван Ильич",
        position="Директор",
        organization="ООО «Ромашка»",
        email="petrov@romashka.ru",
        mobile="+79031112233",
    )
    return client_store.add_client(db, client)


@pytest.fixture
def email_template_id(db: sqlite3.Connection, tmp_path: Path) -> int:
    attachment = tmp_path / PDF_NAME
    attachment.write_bytes(PDF_BYTES)
    template = Template(
        subject="%Наименование%: скидка 15%",
        body="Здравствуйте, %Имя%!\nДля вас как %Должность% скидка 15%.",
        attachment1=str(attachment),
    )
    return template_store.add_template(db, template)


def _parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)


def _assert_is_the_personalised_email(data: bytes) -> None:
    message = _parse(data)
    assert message["Subject"] == "ООО «Ромашка»: скидка 15%"
    assert message["To"].addresses[0].display_name == "Петров Иван Ильич"
    assert message["To"].addresses[0].addr_spec == "petrov@romashka.ru"
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == (
        "Здравствуйте, Иван Ильич!\nДля вас как Директор скидка 15%.\n"
    )
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == PDF_NAME
    assert attachment.get_content() == PDF_BYTES


# --- templates add ------------------------------------------------------------------------------
def test_add_prints_only_the_new_id(cli, db: sqlite3.Connection) -> None:
    status, out, err = cli("templates", "add", "--subject", "Тема", "--body", "Текст %Имя%")

    assert (status, out, err) == (0, "1\n", "")
    stored = template_store.get_template(db, 1)
    assert (stored.subject, stored.body, stored.sms) == ("Тема", "Текст %Имя%", False)


def test_add_ids_increase(cli) -> None:
    assert cli("templates", "add", "--subject", "A", "--body", "a")[1] == "1\n"
    assert cli("templates", "add", "--subject", "B", "--body", "b", "--note", "N")[1] == "2\n"


def test_add_body_file_with_bom(cli, db: sqlite3.Connection, tmp_path: Path) -> None:
    body_file = tmp_path / "письмо.txt"
    body_file.write_bytes("Здравствуйте, %Имя%!\nСтрока 2\n".encode("utf-8-sig"))

    status, out, _ = cli("templates", "add", "--subject", "S", "--body-file", str(body_file))

    assert status == 0
    assert template_store.get_template(db, int(out)).body == "Здравствуйте, %Имя%!\nСтрока 2\n"


def test_add_unreadable_body_file(cli, tmp_path: Path) -> None:
    status, out, err = cli("templates", "add", "--subject", "S", "--body-file",
                           str(tmp_path / "нет.txt"))  # fmt: skip
    assert (status, out) == (2, "")
    assert "нет.txt" in err


def test_add_email_without_subject_is_refused(cli, db: sqlite3.Connection) -> None:
    status, out, err = cli("templates", "add", "--body", "Текст")

    assert (status, out) == (2, "")
    assert err == "Ошибка: Укажите тему письма: без темы письмо попадёт в спам.\n"
    assert template_store.list_templates(db) == []


def test_add_sms_without_subject(cli, db: sqlite3.Connection) -> None:
    status, out, _ = cli("templates", "add", "--sms", "--body", "%Имя%, скидка 15%!")

    assert status == 0
    assert template_store.get_template(db, int(out)).sms is True


def test_add_missing_attachment_is_refused(cli, db: sqlite3.Connection, tmp_path: Path) -> None:
    missing = tmp_path / "нет.pdf"
    status, out, err = cli("templates", "add", "--subject", "S", "--body", "B",
                           "--attach1", str(missing))  # fmt: skip

    assert (status, out) == (2, "")
    assert f"Приложение 1: файл не найден — {missing}" in err
    assert template_store.list_templates(db) == []


def test_add_stores_attachment_paths_absolute(
    cli, db: sqlite3.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "прайс.pdf").write_bytes(b"%PDF")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "фото.jpg").write_bytes(b"\xff\xd8")
    monkeypatch.chdir(tmp_path)

    status, out, _ = cli("templates", "add", "--subject", "S", "--body", "B",
                         "--attach1", "прайс.pdf", "--attach2", "docs/фото.jpg")  # fmt: skip

    assert status == 0
    stored = template_store.get_template(db, int(out))
    assert stored.attachment1 == str((tmp_path / "прайс.pdf").resolve())
    assert stored.attachment2 == str((tmp_path / "docs" / "фото.jpg").resolve())


def test_add_warns_about_unknown_placeholder_but_saves(cli) -> None:
    status, out, err = cli("templates", "add", "--subject", "S", "--body", "Привет, %Фамилия%")

    assert (status, out) == (0, "1\n")
    assert "Внимание: Неизвестное обозначение %Фамилия% в сообщении (строка 1, позиция 9)" in err


# --- templates list -----------------------------------------------------------------------------
def test_list_csv(cli, db: sqlite3.Connection) -> None:
    cli("templates", "add", "--subject", "Скидка, 15%", "--body", "B", "--note", "весна")
    cli("templates", "add", "--sms", "--body", "SMS")
    template_store.mark_sent(db, 1, "2026-11-26T18:05:00")

    status, out, _ = cli("templates", "list", "--format", "csv")

    assert status == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert out.splitlines()[0] == "id,created,sent,sms,subject,note"
    assert [row[0] for row in rows[1:]] == ["2", "1"]
    newest, oldest = rows[1], rows[2]
    assert (newest[2], newest[3], newest[4], newest[5]) == ("", "1", "", "")
    assert (oldest[2], oldest[3], oldest[4], oldest[5]) == (
        "2026-11-26T18:05:00", "0", "Скидка, 15%", "весна",
    )  # fmt: skip
    for row in rows[1:]:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", row[1])


def test_list_csv_empty_has_header(cli) -> None:
    assert cli("templates", "list", "--format", "csv") == (
        0, "id,created,sent,sms,subject,note\n", "",
    )  # fmt: skip


def test_list_table_shows_subject(cli) -> None:
    cli("templates", "add", "--subject", "Напоминание о возврате", "--body", "B")
    status, out, _ = cli("templates", "list")
    assert status == 0
    assert "Напоминание о возврате" in out.splitlines()[1]


# --- templates preview --------------------------------------------------------------------------
def test_preview_email_is_the_whole_message(
    cli_bytes, client_id: int, email_template_id: int
) -> None:
    status, out, err = cli_bytes("templates", "preview", str(email_template_id),
                                 "--client", str(client_id))  # fmt: skip

    assert status == 0
    _assert_is_the_personalised_email(out)
    assert out.isascii()
    assert _parse(out)["From"] is None
    assert "отправитель ещё не настроен" in err


def test_preview_email_is_from_the_configured_sender(
    cli_bytes, client_id: int, email_template_id: int
) -> None:
    assert cli_bytes("settings", "set", "email.sender_name", "Автопрокат «Лада»")[0] == 0
    assert cli_bytes("settings", "set", "email.sender_address", "office@avtoprokat.ru")[0] == 0

    status, out, err = cli_bytes("templates", "preview", str(email_template_id),
                                 "--client", str(client_id))  # fmt: skip

    assert (status, err) == (0, "")
    _assert_is_the_personalised_email(out)
    (sender,) = _parse(out)["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Автопрокат «Лада»", "office@avtoprokat.ru")
    assert _parse(out)["Message-ID"].endswith("@avtoprokat.ru>")


def test_preview_warns_about_unknown_placeholder(
    cli_bytes, db: sqlite3.Connection, client_id: int
) -> None:
    template_id = template_store.add_template(
        db, Template(subject="Для %Фамилия%", body="Здравствуйте!\n  %Скидка% на всё")
    )

    status, out, err = cli_bytes("templates", "preview", str(template_id),
                                 "--client", str(client_id))  # fmt: skip

    assert status == 0
    assert "Неизвестное обозначение %Фамилия% в теме (строка 1, позиция 5)" in err
    assert "Неизвестное обозначение %Скидка% в сообщении (строка 2, позиция 3)" in err
    assert _parse(out)["Subject"] == "Для %Фамилия%"


def test_preview_sms_prints_text_and_segments(cli, db: sqlite3.Connection, client_id: int) -> None:
    template_id = template_store.add_template(
        db, Template(sms=True, body="%Имя%, скидка 15% на аренду авто в выходные!")
    )

    status, out, err = cli("templates", "preview", str(template_id), "--client", str(client_id))

    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "Иван Ильич, скидка 15% на аренду авто в выходные!",
        "Символов: 49, SMS: 1 (кириллица/Unicode, 70 в одной SMS, 67 в части)",
    ]


def test_preview_unknown_template(cli, client_id: int) -> None:
    status, out, err = cli("templates", "preview", "99", "--client", str(client_id))
    assert (status, out) == (2, "")
    assert err == "Ошибка: нет шаблона с номером 99\n"


def test_preview_unknown_client(cli, email_template_id: int) -> None:
    status, out, err = cli("templates", "preview", str(email_template_id), "--client", "77")
    assert (status, out) == (2, "")
    assert err == "Ошибка: нет клиента с номером 77\n"


def test_preview_attachment_deleted_after_saving(
    cli, db: sqlite3.Connection, tmp_path: Path, client_id: int, email_template_id: int
) -> None:
    (tmp_path / PDF_NAME).unlink()

    status, out, err = cli("templates", "preview", str(email_template_id),
                           "--client", str(client_id))  # fmt: skip

    assert (status, out) == (2, "")
    assert PDF_NAME in err


def test_preview_email_for_client_without_email(
    cli, db: sqlite3.Connection, email_template_id: int
) -> None:
    client_id = client_store.add_client(db, Client(surname="Козлов", mobile="+79031112233"))

    status, out, err = cli("templates", "preview", str(email_template_id),
                           "--client", str(client_id))  # fmt: skip

    assert (status, out) == (2, "")
    assert "email" in err


# --- a real process -----------------------------------------------------------------------------
def test_subprocess_preview_writes_the_message_bytes(
    data_folder: Path, tmp_path: Path, client_id: int, email_template_id: int
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "avtoprokat_mail", "--data-dir", str(data_folder),
         "templates", "preview", str(email_template_id), "--client", str(client_id)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        timeout=60,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    _assert_is_the_personalised_email(result.stdout)
    assert "отправитель ещё не настроен" in result.stderr.decode("utf-8")
