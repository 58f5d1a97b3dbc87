"""The command line, in-process (capsys) and as a real subprocess."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from avtoprokat_mail.cli import main
from avtoprokat_mail.interchange.demo import demo_clients
from avtoprokat_mail.model import Client
from avtoprokat_mail.paths import HOME_ENV, database_path
from avtoprokat_mail.storage import clients as store

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LIST_HEADER = (
    "id,surname,name,position,organization,email,mobile,phone,marked,opt_out,bounced,consent"
)


def _subprocess(*args: str, cwd: Path, env: dict[str, str] | None = None):
    environment = {**os.environ, **(env or {}), "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "avtoprokat_mail", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )


def _marked(conn: sqlite3.Connection) -> set[int]:
    return {c.id for c in store.list_clients(conn, marked_only=True) if c.id is not None}


# --- demo -------------------------------------------------------------------------------------
def test_demo_is_idempotent(cli, db: sqlite3.Connection) -> None:
    status, out, _ = cli("demo")
    assert status == 0
    assert out.strip().endswith("300")
    assert store.counts(db)[0] == 300

    status, out, _ = cli("demo")
    assert status == 0
    assert out.strip().endswith(" 0")
    assert store.counts(db)[0] == 300


def test_demo_data_is_realistic_and_deterministic() -> None:
    from avtoprokat_mail.interchange import demo
    from avtoprokat_mail.validation import email_problem, is_valid_mobile

    clients = demo.demo_clients()
    assert clients == demo.demo_clients()
    assert len(clients) == 300
    female_forms = {female for male, female in demo._SURNAMES if male != female}
    for client in clients:
        first, patronymic = client.name.split()
        female = patronymic.endswith("на")
        assert (first in demo._FEMALE_NAMES) == female
        if female:
            assert client.surname in female_forms or client.surname in (
                "Ким",
                "Шевченко",
                "Ткаченко",
            )
        else:
            assert client.surname not in female_forms
    bad_emails = sum(1 for c in clients if c.email and email_problem(c.email))
    bad_mobiles = sum(1 for c in clients if c.mobile and not is_valid_mobile(c.mobile))
    assert 9 <= bad_emails <= 24
    assert 9 <= bad_mobiles <= 24
    assert 45 <= sum(c.marked for c in clients) <= 90
    assert 1 <= sum(c.opt_out for c in clients) <= 20
    assert any(not c.organization for c in clients)
    assert any(c.organization.startswith("ИП ") for c in clients)
    assert len({c.email.casefold() for c in clients if c.email}) == sum(
        1 for c in clients if c.email
    )
    # Most gave their consent on some past day, some did not; a few valid addresses bounce.
    consents = [c.consent for c in clients if c.consent]
    assert 200 <= len(consents) <= 270
    assert max(consents) < dt.date.today().isoformat()
    bounced = [c for c in clients if c.bounced]
    assert 2 <= len(bounced) <= 5
    assert all(not email_problem(c.email) and not c.opt_out for c in bounced)
    notes = demo.bounce_notes(clients)
    assert [c for c, _ in notes] == bounced
    assert all(n.bounce_reason and n.bounce_date for _, n in notes)


def test_demo_stores_the_bounce_reasons(cli, db: sqlite3.Connection) -> None:
    assert cli("demo")[0] == 0
    bounced = [c for c in store.list_clients(db) if c.bounced]
    assert bounced
    for client in bounced:
        assert store.client_notes(db, client.id).bounce_reason.startswith("55")


def test_demo_stays_idempotent_after_edits(db: sqlite3.Connection) -> None:
    from avtoprokat_mail.interchange.demo import fill_demo

    assert fill_demo(db, 50) == 50
    rows = store.fetch_rows(db)
    store.delete_clients(db, [row[0] for row in rows[:40]])  # the user deleted most of them
    assert fill_demo(db, 50) == 0
    store.delete_clients(db, [row[0] for row in rows[40:]])
    assert fill_demo(db, 50) == 50  # none left: asking for demo data adds it again


# --- import -------------------------------------------------------------------------------------
IMPORT_CSV = (
    "Фамилия;Имя;Email;Сотовый телефон\r\n"
    "Иванов;Иван;ivanov@mail.ru;8 (903) 111-22-33\r\n"
    "Петров;Пётр;petrov@mail;\r\n"
    "Сидоров;Семён;sidorov@mail.ru;\r\n"
    "Козлов;;;12345\r\n"
).encode("cp1251")


def test_import_reports_counts_and_rejected_lines(
    cli, db: sqlite3.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "клиенты.csv"
    path.write_bytes(IMPORT_CSV)

    status, out, err = cli("clients", "import", str(path))

    assert status == 0
    assert out.strip().splitlines()[-1] == "imported 2, updated 0, rejected 2"
    rejected = err.strip().splitlines()
    assert len(rejected) == 2
    assert rejected[0].startswith("строка 3: ") and "petrov@mail" in rejected[0]
    assert rejected[1].startswith("строка 5: ") and "12345" in rejected[1]
    assert store.counts(db)[0] == 2

    status, out, _ = cli("clients", "import", str(path))  # again: the same clients update
    assert out.strip().splitlines()[-1] == "imported 0, updated 2, rejected 2"
    assert store.counts(db)[0] == 2


def test_import_names_unreadable_consent_on_stderr(
    cli, db: sqlite3.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "согласия.csv"
    path.write_bytes(
        "Фамилия;Email;Согласие\r\nИванов;ivanov@mail.ru;весной\r\nПетров;petrov@mail.ru;да\r\n"
        .encode("cp1251")
    )  # fmt: skip
    status, out, err = cli("clients", "import", str(path))
    assert (status, out.strip().splitlines()[-1]) == (0, "imported 2, updated 0, rejected 0")
    assert err.strip() == "строка 2: согласие «весной» не распознано, загружена без него"
    assert {c.surname: bool(c.consent) for c in store.list_clients(db)} == {
        "Иванов": False, "Петров": True,
    }  # fmt: skip


def test_import_dry_run_writes_nothing(cli, db: sqlite3.Connection, tmp_path: Path) -> None:
    path = tmp_path / "клиенты.csv"
    path.write_bytes(IMPORT_CSV)
    status, out, err = cli("clients", "import", str(path), "--dry-run")
    assert status == 0
    assert out.strip().splitlines()[-1] == "будет: добавлено 2, обновлено 0, отклонено 2"
    assert "imported" not in out  # the stable line would claim an import that did not happen
    assert len(err.strip().splitlines()) == 2  # the rejected rows, as without --dry-run
    assert store.counts(db) == (0, 0)

    store.add_client(db, Client(surname="Иванов", email="ivanov@mail.ru"))
    _, out, _ = cli("clients", "import", str(path), "--dry-run")
    assert out.strip().splitlines()[-1] == "будет: добавлено 1, обновлено 1, отклонено 2"
    assert store.counts(db)[0] == 1


@pytest.mark.parametrize("name", ["нет-такого.csv", "garbage.xlsx"])
def test_import_unreadable_file(cli, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".xlsx"):
        path.write_bytes(b"this is not a workbook")
    status, out, err = cli("clients", "import", str(path))
    assert status == 2
    assert "imported" not in out
    assert err.startswith("Ошибка: ")
    assert name in err
    assert "Traceback" not in err


# --- export -------------------------------------------------------------------------------------
@pytest.fixture
def three_clients(db: sqlite3.Connection) -> list[int]:
    return [
        store.add_client(
            db, Client(surname="Иванов", email="ivanov@mail.ru", marked=True, bounced=True)
        ),
        store.add_client(
            db, Client(surname="Петров", mobile="+79031112233", opt_out=True, consent="2025-03-15")
        ),
        store.add_client(db, Client(surname="Сидоров", organization="ООО «Ромашка»")),
    ]


@pytest.mark.usefixtures("three_clients")
def test_export_csv_and_xlsx(cli, tmp_path: Path) -> None:
    status, out, _ = cli("clients", "export", str(tmp_path / "x.csv"))
    assert (status, out.strip()) == (0, "exported 3")
    text = (tmp_path / "x.csv").read_bytes().decode("cp1251")
    assert text.startswith("Фамилия;Имя;")

    status, out, _ = cli("clients", "export", str(tmp_path / "x.xlsx"))
    assert (status, out.strip()) == (0, "exported 3")
    rows = list(openpyxl.load_workbook(tmp_path / "x.xlsx").worksheets[0].values)
    assert [row[0] for row in rows] == ["Фамилия", "Иванов", "Петров", "Сидоров"]


def test_export_bad_target(cli, tmp_path: Path) -> None:
    status, _, err = cli("clients", "export", str(tmp_path / "x.pdf"))
    assert status == 2
    assert "x.pdf" in err
    status, _, err = cli("clients", "export", str(tmp_path / "нет" / "x.csv"))
    assert status == 2
    assert "не существует" in err


# --- list ----------------------------------------------------------------------------------------
def test_list_csv(cli, three_clients: list[int]) -> None:
    status, out, _ = cli("clients", "list", "--format", "csv")
    assert status == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert ",".join(rows[0]) == LIST_HEADER
    assert len(rows) == 4
    by_surname = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert by_surname["Иванов"]["marked"] == "1"
    assert by_surname["Иванов"]["opt_out"] == "0"
    assert by_surname["Петров"]["opt_out"] == "1"
    assert by_surname["Петров"]["mobile"] == "+79031112233"
    assert by_surname["Сидоров"]["organization"] == "ООО «Ромашка»"
    # The last two columns: whether mail bounces (0/1), the consent's day (ISO, or empty).
    assert rows[0][-2:] == ["bounced", "consent"]
    assert (by_surname["Иванов"]["bounced"], by_surname["Иванов"]["consent"]) == ("1", "")
    assert (by_surname["Петров"]["bounced"], by_surname["Петров"]["consent"]) == ("0", "2025-03-15")

    status, out, _ = cli("clients", "list", "--marked", "--format", "csv")
    assert [row[0] for row in csv.reader(io.StringIO(out))] == ["id", str(three_clients[0])]


@pytest.mark.usefixtures("three_clients")
def test_list_table(cli) -> None:
    status, out, _ = cli("clients", "list")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["№", "Фамилия", "Имя", "Должность"]
    assert lines[0].endswith("Недоставлено  Согласие на рассылку")
    assert not {"surname", "email", "opt_out", "consent"} & set(lines[0].split())
    assert len(lines) == 4


# --- mark ----------------------------------------------------------------------------------------
def test_mark_all_none_invert(cli, db: sqlite3.Connection, three_clients: list[int]) -> None:
    first, second, third = three_clients
    assert cli("clients", "mark", "--all")[0] == 0
    assert _marked(db) == {first, second, third}
    assert cli("clients", "mark", "--none")[0] == 0
    assert _marked(db) == set()
    store.set_marked(db, [second], True)
    assert cli("clients", "mark", "--invert")[0] == 0
    assert _marked(db) == {first, third}


def test_mark_search_and_ids_add_marks(
    cli, db: sqlite3.Connection, three_clients: list[int]
) -> None:
    first, second, third = three_clients  # the first is marked already
    status, out, _ = cli("clients", "mark", "--search", "ромашка")
    assert status == 0
    assert _marked(db) == {first, third}
    assert out.strip() == "отмечено 2 из 3"

    store.set_marked(db, [first], False)
    assert cli("clients", "mark", "--ids", f"{second}, {first}")[0] == 0
    assert _marked(db) == {first, second, third}


def test_mark_bad_ids(cli, three_clients: list[int]) -> None:
    status, _, err = cli("clients", "mark", "--ids", "1,два")
    assert status == 2
    assert "--ids" in err


# --- data folder and database problems --------------------------------------------------------
def test_home_env_var_is_the_default_data_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home-from-env"
    monkeypatch.setenv(HOME_ENV, str(home))
    assert main(["demo"]) == 0
    capsys.readouterr()
    assert database_path(home).exists()

    other = tmp_path / "explicit"
    assert main(["--data-dir", str(other), "clients", "list", "--format", "csv"]) == 0
    assert capsys.readouterr().out.strip() == LIST_HEADER  # --data-dir wins over the variable


def test_newer_schema_database_is_refused(cli, data_folder: Path) -> None:
    path = database_path(data_folder)
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA user_version = 99")
    raw.commit()
    raw.close()
    before = path.read_bytes()

    status, out, err = cli("clients", "list")

    assert status == 2
    assert out == ""
    assert err.startswith("Ошибка: ") and "более новой версией" in err
    assert "Traceback" not in err
    assert path.read_bytes() == before


# --- a real process ------------------------------------------------------------------------------
def test_subprocess_list_csv(tmp_path: Path) -> None:
    folder = tmp_path / "данные"
    demo = _subprocess("--data-dir", str(folder), "demo", cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr

    listed = _subprocess(
        "--data-dir", str(folder), "clients", "list", "--format", "csv", cwd=tmp_path
    )

    assert listed.returncode == 0, listed.stderr
    rows = list(csv.reader(io.StringIO(listed.stdout)))
    assert ",".join(rows[0]) == LIST_HEADER
    assert len(rows) == 301
    expected = demo_clients()
    assert (rows[1][1], rows[1][5]) == (expected[0].surname, expected[0].email)
    assert {row[8] for row in rows[1:]} == {"0", "1"}


def test_subprocess_bad_file_exit_status(tmp_path: Path) -> None:
    result = _subprocess(
        "--data-dir", str(tmp_path / "d"), "clients", "import", "нет.csv", cwd=tmp_path
    )
    assert result.returncode == 2
    assert "не найден" in result.stderr
    assert "Traceback" not in result.stderr


def test_subprocess_relative_data_dir_twice(tmp_path: Path) -> None:
    for _ in range(2):
        result = _subprocess("--data-dir", "rel", "clients", "list", cwd=tmp_path)
        assert result.returncode == 0, result.stderr


def test_commands_work_without_standard_streams_as_in_a_windowed_exe(
    data_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", None)
    monkeypatch.setattr(sys, "stdout", None)
    monkeypatch.setattr(sys, "stderr", None)
    assert main(["--data-dir", str(data_folder), "demo"]) == 0
    assert main(["--data-dir", str(data_folder), "clients", "list", "--format", "csv"]) == 0
    assert main(["--data-dir", str(data_folder), "send", "1"]) == 2  # no terminal: needs --yes
