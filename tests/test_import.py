"""Import and export of clients with files shaped like the ones people really have."""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import io
import os
import re
import sqlite3
import zipfile
from pathlib import Path

import openpyxl
import pytest

from avtoprokat_mail.interchange import (
    ImportPlan,
    InterchangeError,
    apply_import,
    export_clients,
    plan_import,
)
from avtoprokat_mail.interchange.columns import fold_header, recognise
from avtoprokat_mail.interchange.importing import parse_flag
from avtoprokat_mail.interchange.reading import cell_text, decode, sniff_delimiter
from avtoprokat_mail.model import Client
from avtoprokat_mail.storage import DatabaseError
from avtoprokat_mail.storage import clients as store

CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)

# What Excel (Russian locale) writes for "CSV (разделители - запятые)": cp1251, ';', CRLF,
# quotes only around values holding ';', '"' or a line break (a bare LF inside the quotes).
EXCEL_RU_CSV = (
    "Фамилия;Имя;Должность;Наименование;E-mail;Сотовый;Телефон;Адрес;Примечание;Отметка;"
    "Отказ от рассылки\r\n"
    "Иванов;Иван Петрович;Директор;ООО «Ромашка»;ivanov@mail.ru;+79031112233;"
    '+7 (495) 123-45-67;"г. Москва; ул. Ленина, д. 1";"Постоянный клиент\nскидка 10%";да;\r\n'
    "Петрова;Анна Сергеевна;Главный бухгалтер;АО «Вектор»;petrova@yandex.ru;"
    '8 (916) 222-33-44;;;"Просила ""не звонить"" утром";;нет\r\n'
    "Ёлкин;Пётр Ильич;;;;89051234567;;г. Казань;;x;1\r\n"
)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _rows(conn: sqlite3.Connection) -> list[tuple]:
    return store.fetch_rows(conn)


def _by_surname(conn: sqlite3.Connection) -> dict[str, Client]:
    return {c.surname: c for c in store.list_clients(conn)}


def _import(conn: sqlite3.Connection, path: Path) -> ImportPlan:
    plan = plan_import(conn, path)
    apply_import(conn, plan)
    return plan


# --- reading real-looking files ---------------------------------------------------------------
def test_excel_russian_csv_cp1251_semicolon_crlf(db: sqlite3.Connection, tmp_path: Path) -> None:
    path = _write(tmp_path / "клиенты.csv", EXCEL_RU_CSV.encode("cp1251"))

    plan = _import(db, path)

    assert (len(plan.added), len(plan.updated), plan.rejected) == (3, 0, [])
    assert plan.rows_read == 3
    clients = _by_surname(db)
    ivanov = clients["Иванов"]
    assert ivanov.name == "Иван Петрович"
    assert ivanov.organization == "ООО «Ромашка»"
    assert ivanov.address == "г. Москва; ул. Ленина, д. 1"
    assert ivanov.note == "Постоянный клиент\nскидка 10%"
    assert (ivanov.marked, ivanov.opt_out) == (True, False)
    petrova = clients["Петрова"]
    assert petrova.mobile == "+79162223344"  # stored normalised
    assert petrova.note == 'Просила "не звонить" утром'
    elkin = clients["Ёлкин"]
    assert (elkin.mobile, elkin.marked, elkin.opt_out) == ("+79051234567", True, True)
    assert plan.columns["email"] == "E-mail"
    assert plan.ignored_columns == []


def test_line_numbers_count_lines_inside_quoted_values(
    db: sqlite3.Connection, tmp_path: Path
) -> None:
    text = EXCEL_RU_CSV + "Орлов;;;;orlov@mail;;;;;;\r\n"  # record 5 starts on file line 6
    plan = plan_import(db, _write(tmp_path / "c.csv", text.encode("cp1251")))
    assert [r.line for r in plan.rejected] == [6]


def test_utf8_bom_comma_english_headers(db: sqlite3.Connection, tmp_path: Path) -> None:
    text = (
        "Last name,First Name,Title,Company,Email,Mobile,Phone,Address,Notes,Marked,Opt-out\r\n"
        'Smith,John,CEO,"Acme, Inc.",john@acme.com,+7 903 555-44-33,,London,VIP,yes,no\r\n'
        "Müller,Jürgen,,,jm@example.de,,,,,false,TRUE\r\n"
    )
    path = _write(tmp_path / "clients.csv", codecs.BOM_UTF8 + text.encode("utf-8"))

    plan = _import(db, path)

    assert (len(plan.added), len(plan.updated), len(plan.rejected)) == (2, 0, 0)
    clients = _by_surname(db)
    assert clients["Smith"].organization == "Acme, Inc."
    assert clients["Smith"].mobile == "+79035554433"
    assert clients["Smith"].marked is True
    assert clients["Müller"].name == "Jürgen"
    assert (clients["Müller"].marked, clients["Müller"].opt_out) == (False, True)


def test_utf8_without_bom_and_tab_separated(db: sqlite3.Connection, tmp_path: Path) -> None:
    text = "Фамилия\tEmail\nСидоров\tsidorov@mail.ru\n"
    plan = plan_import(db, _write(tmp_path / "c.txt", text.encode("utf-8")))
    assert [(c.surname, c.email) for c in plan.added] == [("Сидоров", "sidorov@mail.ru")]


def test_xlsx_with_numeric_phone_and_blank_first_row(
    db: sqlite3.Connection, tmp_path: Path
) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append([])  # row 1 left empty: the header is the first non-empty row
    sheet.append(["Фамилия", "Имя и отчество", "Организация", "Эл. почта", "Мобильный", "Дата"])
    sheet.append(["Иванов", "Иван", "ООО «Ромашка»", "ivanov@mail.ru", 79031112233, None])
    sheet.append(["Петров", "Пётр", None, "petrov@mail.ru", 89161112233.0, dt.datetime(2024, 5, 1)])
    sheet.append([])
    sheet.append(["Сидоров", None, None, "bad@mail", None, None])  # sheet row 6
    path = tmp_path / "клиенты.xlsx"
    workbook.save(path)

    plan = _import(db, path)

    assert (len(plan.added), len(plan.updated)) == (2, 0)
    assert [r.line for r in plan.rejected] == [6]
    assert plan.rows_read == 3
    assert plan.ignored_columns == ["Дата"]
    clients = _by_surname(db)
    assert clients["Иванов"].mobile == "+79031112233"
    assert clients["Петров"].mobile == "+79161112233"
    assert clients["Иванов"].name == "Иван"


# --- consent to mailings --------------------------------------------------------------------------
@pytest.mark.parametrize("header", ["Согласие", "Согласие на рассылку", "consent", "СОГЛАСИЕ"])
def test_consent_column_takes_dates_and_yes_as_the_import_day(
    db: sqlite3.Connection, tmp_path: Path, header: str
) -> None:
    today = dt.date.today().isoformat()
    text = (
        f"Фамилия;Email;{header}\r\n"
        "Дата;d@mail.ru;15.03.2025\r\n"
        "Короткая;k@mail.ru;5.3.2024\r\n"
        "Исо;i@mail.ru;2024-11-30\r\n"
        "Да;da@mail.ru;да\r\n"
        "Yes;yes@mail.ru;Yes\r\n"
        "Один;one@mail.ru;1\r\n"
        "True;true@mail.ru;TRUE\r\n"
        "Нет;net@mail.ru;нет\r\n"
        "Пусто;empty@mail.ru;\r\n"
    )
    plan = _import(db, _write(tmp_path / "c.csv", text.encode("cp1251")))
    assert (len(plan.added), plan.rejected, plan.unreadable_consent) == (9, [], [])
    assert plan.ignored_columns == []
    consent = {c.surname: c.consent for c in store.list_clients(db)}
    assert consent == {
        "Дата": "2025-03-15", "Короткая": "2024-03-05", "Исо": "2024-11-30",
        "Да": today, "Yes": today, "Один": today, "True": today, "Нет": "", "Пусто": "",
    }  # fmt: skip


def test_consent_from_excel_date_cells(db: sqlite3.Connection, tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Фамилия", "Email", "Согласие на рассылку"])
    sheet.append(["Дата", "d@mail.ru", dt.date(2024, 5, 1)])
    sheet.append(["Время", "t@mail.ru", dt.datetime(2023, 12, 31, 17, 45)])
    sheet.append(["Текст", "x@mail.ru", "01.02.2022"])
    path = tmp_path / "с датами.xlsx"
    workbook.save(path)

    _import(db, path)

    consent = {c.surname: c.consent for c in store.list_clients(db)}
    assert consent == {"Дата": "2024-05-01", "Время": "2023-12-31", "Текст": "2022-02-01"}


def test_unreadable_consent_imports_the_row_without_it_and_names_the_value(
    db: sqlite3.Connection, tmp_path: Path
) -> None:
    known = store.add_client(
        db, Client(surname="Старый", email="old@mail.ru", consent="2023-04-05")
    )
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).strftime("%d.%m.%Y")
    text = (
        "Фамилия;Email;Согласие\r\n"
        "Весенний;spring@mail.ru;весной\r\n"  # 2
        "Старый;old@mail.ru;??\r\n"  # 3: an update keeps the stored consent
        "Февральский;feb@mail.ru;31.02.2024\r\n"  # 4
        f"Завтрашний;tomorrow@mail.ru;{tomorrow}\r\n"  # 5
        "Плохой;bad@mail;весной\r\n"  # 6: rejected for its email, its consent not named
    )
    plan = _import(db, _write(tmp_path / "c.csv", text.encode("cp1251")))
    assert [r.line for r in plan.rejected] == [6]
    assert (len(plan.added), len(plan.updated)) == (3, 1)
    assert plan.unreadable_consent == [(2, "весной"), (3, "??"), (4, "31.02.2024"), (5, tomorrow)]
    consent = {c.surname: c.consent for c in store.list_clients(db)}
    assert consent == {"Старый": "2023-04-05", "Весенний": "", "Февральский": "", "Завтрашний": ""}
    assert store.get_client(db, known).consent == "2023-04-05"


def test_consent_of_a_known_client_is_replaced_by_a_date_or_no_and_kept_when_empty(
    db: sqlite3.Connection, tmp_path: Path
) -> None:
    ids = [
        store.add_client(db, Client(surname=name, email=f"{n}@mail.ru", consent="2022-01-01"))
        for n, name in enumerate(("Новая", "Отозвал", "Пусто"))
    ]
    text = "Email;Согласие\r\n0@mail.ru;02.02.2024\r\n1@mail.ru;нет\r\n2@mail.ru;\r\n"
    _import(db, _write(tmp_path / "c.csv", text.encode("cp1251")))
    assert [store.get_client(db, i).consent for i in ids] == ["2024-02-02", "", "2022-01-01"]


def test_the_exported_bounced_column_is_neither_loaded_nor_unknown(
    db: sqlite3.Connection, tmp_path: Path
) -> None:
    client_id = store.add_client(db, Client(surname="Возвратов", email="back@mail.ru"))
    text = "Фамилия;Email;Недоставлено\r\nВозвратов;back@mail.ru;да\r\nНовый;new@mail.ru;да\r\n"
    plan = _import(db, _write(tmp_path / "c.csv", text.encode("cp1251")))
    assert (plan.ignored_columns, plan.rejected, len(plan.updated)) == ([], [], 1)
    assert not any(c.bounced for c in store.list_clients(db))
    assert store.get_client(db, client_id).bounced is False


# --- the broken file: every kind of bad row -------------------------------------------------------
BROKEN_CSV = (
    "Фамилия;Имя;Email;Сотовый телефон;Примечание\r\n"  # 1
    "Сидоров;Пётр;sidorov@mail.ru;+79161234567;\r\n"  # 2 new
    "Козлов;Олег;kozlov@mail;+79161234568;\r\n"  # 3 bad email
    "Орлов;Игорь;orlov@mail.ru;12345;\r\n"  # 4 bad phone
    "Лебедев;Антон\r\n"  # 5 too few columns
    ";;;;\r\n"  # 6 empty line (all cells empty): skipped
    "\r\n"  # 7 blank line: skipped
    "Сидоров-второй;;SIDOROV@mail.ru;;\r\n"  # 8 repeats line 2 (email, any case)
    ";;Ivanov@Mail.ru;;новое примечание\r\n"  # 9 updates Иванов by email
    "Петрова;;;8 (916) 222-33-44;\r\n"  # 10 updates Петрова by mobile
    ";;;;только примечание\r\n"  # 11 no name, organisation or contact
    "Фролов;Фёдор;frolov@mail.ru;;;лишнее\r\n"  # 12 extra non-empty cell
    "Гусев;Глеб;gusev@mail.ru;;;;\r\n"  # 13 extra empty cells: fine, new
    "Титов;Тимур;;89031234567;\r\n"  # 14 new, mobile normalised
    "Титова;Тамара;;+79031234567;\r\n"  # 15 repeats line 14 by mobile (no email)
)


@pytest.fixture
def existing(db: sqlite3.Connection) -> dict[str, int]:
    ivanov = Client(
        surname="Иванов",
        name="Иван",
        position="Директор",
        email="ivanov@mail.ru",
        mobile="+79030000001",
        note="старое",
        marked=True,
    )
    petrova = Client(surname="Петрова", email="petrova@yandex.ru", mobile="+79162223344")
    return {c.surname: store.add_client(db, c) for c in (ivanov, petrova)}


def test_broken_file_counts_lines_and_reasons(
    db: sqlite3.Connection, existing: dict[str, int], tmp_path: Path
) -> None:
    path = _write(tmp_path / "broken.csv", BROKEN_CSV.encode("cp1251"))

    plan = plan_import(db, path)

    assert len(plan.added) == 3
    assert len(plan.updated) == 2
    assert [r.line for r in plan.rejected] == [3, 4, 5, 8, 11, 12, 15]
    assert plan.rows_read == 12  # lines 2-15 less the two empty ones
    reasons = {r.line: r.reason for r in plan.rejected}
    assert "kozlov@mail" in reasons[3]
    assert "12345" in reasons[4]
    assert reasons[5] == "мало столбцов: 2 вместо 5"
    assert reasons[8] == "повторяет строку 2"
    assert reasons[11] == "нет ни имени, ни организации, ни контакта"
    assert reasons[12].startswith("лишние столбцы")
    assert reasons[15] == "повторяет строку 14"
    assert all(CYRILLIC.search(r.reason) for r in plan.rejected)
    assert [c.surname for c in plan.added] == ["Сидоров", "Гусев", "Титов"]
    assert plan.added[2].mobile == "+79031234567"


def test_broken_file_updates_merge_present_columns_only(
    db: sqlite3.Connection, existing: dict[str, int], tmp_path: Path
) -> None:
    path = _write(tmp_path / "broken.csv", BROKEN_CSV.encode("cp1251"))

    _import(db, path)

    ivanov = store.get_client(db, existing["Иванов"])
    assert ivanov is not None
    assert ivanov.note == "новое примечание"  # the file's non-empty value wins
    assert ivanov.surname == "Иванов"  # empty in the file: kept
    assert ivanov.mobile == "+79030000001"
    assert ivanov.position == "Директор"  # no such column in the file: kept
    assert ivanov.email == "Ivanov@Mail.ru"
    assert ivanov.marked is True  # no Отметка column: the mark is left alone
    petrova = store.get_client(db, existing["Петрова"])
    assert petrova is not None
    assert (petrova.email, petrova.mobile) == ("petrova@yandex.ru", "+79162223344")
    assert store.counts(db)[0] == 5


def test_flag_columns_overwrite_when_present(
    db: sqlite3.Connection, existing: dict[str, int], tmp_path: Path
) -> None:
    text = "Email;Отметка;Отказ\r\nivanov@mail.ru;;да\r\npetrova@yandex.ru;может быть;\r\n"
    plan = _import(db, _write(tmp_path / "f.csv", text.encode("cp1251")))
    ivanov = store.get_client(db, existing["Иванов"])
    assert ivanov is not None
    assert (ivanov.marked, ivanov.opt_out) == (False, True)
    assert [r.line for r in plan.rejected] == [3]
    assert "может быть" in plan.rejected[0].reason


def test_two_rows_matching_one_stored_client(
    db: sqlite3.Connection, existing: dict[str, int], tmp_path: Path
) -> None:
    text = "Email;Сотовый\r\nivanov@mail.ru;\r\nnew@mail.ru;+79030000001\r\n"
    plan = plan_import(db, _write(tmp_path / "f.csv", text.encode("cp1251")))
    assert len(plan.updated) == 1
    assert [r.line for r in plan.rejected] == [3]
    assert "строку 2" in plan.rejected[0].reason


def test_plan_writes_nothing(
    db: sqlite3.Connection, existing: dict[str, int], tmp_path: Path
) -> None:
    path = _write(tmp_path / "broken.csv", BROKEN_CSV.encode("cp1251"))
    before_rows, before_changes = _rows(db), db.total_changes

    plan = plan_import(db, path)

    assert plan.added and plan.updated
    assert _rows(db) == before_rows
    assert db.total_changes == before_changes
    assert not db.in_transaction


def test_apply_is_one_transaction(
    db: sqlite3.Connection, existing: dict[str, int], tmp_path: Path
) -> None:
    path = _write(tmp_path / "broken.csv", BROKEN_CSV.encode("cp1251"))
    plan = plan_import(db, path)
    before = _rows(db)
    # The adds go first; then the second update hits a database-level refusal.
    db.execute(
        f"CREATE TEMP TRIGGER refuse BEFORE UPDATE ON clients WHEN NEW.id = {existing['Петрова']} "
        "BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
    )

    with pytest.raises(DatabaseError) as caught:
        apply_import(db, plan)

    assert "не изменён" in str(caught.value)
    assert _rows(db) == before
    assert not db.in_transaction
    db.execute("DROP TRIGGER refuse")
    apply_import(db, plan)
    assert store.counts(db)[0] == len(before) + len(plan.added)


# --- files that cannot be imported ------------------------------------------------------------
def test_missing_file(db: sqlite3.Connection, tmp_path: Path) -> None:
    with pytest.raises(InterchangeError, match="не найден"):
        plan_import(db, tmp_path / "нет.csv")


def test_folder_instead_of_file(db: sqlite3.Connection, tmp_path: Path) -> None:
    with pytest.raises(InterchangeError, match="папка"):
        plan_import(db, tmp_path)


@pytest.mark.parametrize(
    "data",
    [os.urandom(4096), b"PK\x03\x04 truncated zip", b"", "Фамилия;Имя".encode("cp1251")],
    ids=["random", "broken-zip", "empty", "csv-text"],
)
def test_garbage_xlsx(db: sqlite3.Connection, tmp_path: Path, data: bytes) -> None:
    path = _write(tmp_path / "клиенты.xlsx", data)
    with pytest.raises(InterchangeError) as caught:
        plan_import(db, path)
    assert "клиенты.xlsx" in str(caught.value)


def test_xlsx_with_empty_sheet(db: sqlite3.Connection, tmp_path: Path) -> None:
    path = tmp_path / "пусто.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(InterchangeError, match="пуст"):
        plan_import(db, path)


def test_zip_that_is_not_a_workbook(db: sqlite3.Connection, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    path = _write(tmp_path / "a.xlsx", buffer.getvalue())
    with pytest.raises(InterchangeError, match="не является книгой Excel"):
        plan_import(db, path)


def test_old_xls_is_explained(db: sqlite3.Connection, tmp_path: Path) -> None:
    path = _write(tmp_path / "old.xls", b"\xd0\xcf\x11\xe0" + bytes(500))
    with pytest.raises(InterchangeError, match="xlsx"):
        plan_import(db, path)


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n  \r\n", codecs.BOM_UTF8])
def test_empty_csv(db: sqlite3.Connection, tmp_path: Path, data: bytes) -> None:
    with pytest.raises(InterchangeError, match="пуст"):
        plan_import(db, _write(tmp_path / "e.csv", data))


@pytest.mark.parametrize(
    "header",
    ["Дата;Сумма;Автомобиль", "Адрес;Телефон;Примечание"],
    ids=["unknown", "no-identity-column"],
)
def test_no_usable_header(db: sqlite3.Connection, tmp_path: Path, header: str) -> None:
    text = header + "\r\n1;2;3\r\n"
    with pytest.raises(InterchangeError) as caught:
        plan_import(db, _write(tmp_path / "x.csv", text.encode("cp1251")))
    message = str(caught.value)
    assert "x.csv" in message
    assert "«Фамилия»" in message and "«Email»" in message


def test_random_bytes_csv_never_tracebacks(db: sqlite3.Connection, tmp_path: Path) -> None:
    with pytest.raises(InterchangeError):
        plan_import(db, _write(tmp_path / "r.csv", os.urandom(20000)))


# --- header and cell helpers ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Фамилия", "surname"), ("LAST NAME", "surname"), ("Имя Отчество", "name"),
        ("Имя и отчество", "name"), ("First name", "name"), ("Должность", "position"),
        ("Организация", "organization"), ("Компания", "organization"), ("Фирма", "organization"),
        ("Organisation", "organization"), ("E-mail", "email"), ("e mail", "email"),
        ("Эл. почта", "email"), ("Электронная почта", "email"), ("Почта", "email"),
        ("Сотовый телефон", "mobile"), ("Сотовый", "mobile"), ("Мобильный телефон", "mobile"),
        ("cell", "mobile"), ("Телефон", "phone"), ("Рабочий телефон", "phone"),
        ("Адрес", "address"), ("Комментарий", "note"), ("Notes", "note"),
        ("Отметка", "marked"), ("Отказ от рассылки", "opt_out"), ("Отказ", "opt_out"),
        ("opt_out", "opt_out"), ("Opt-Out", "opt_out"), ("Unsubscribed", "opt_out"),
        (" ФАМИЛИЯ: ", "surname"), ("Наименование", "organization"),
    ],
)  # fmt: skip
def test_header_variants(header: str, field: str) -> None:
    layout = recognise(["Фамилия" if field != "surname" else "Email", header])
    assert layout is not None
    assert layout.columns[field] == 1


def test_fold_header_treats_yo_as_ye() -> None:
    assert fold_header("Ёмкость, Е-МАЙЛ!") == fold_header("емкость е майл")


def test_first_of_two_same_columns_wins() -> None:
    layout = recognise(["Телефон", "Email", "Телефон"])
    assert layout is not None
    assert layout.columns == {"phone": 0, "email": 1}
    assert layout.ignored == ["Телефон"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", True), ("да", True), ("Да", True), ("YES", True), ("true", True), ("x", True),
        ("X", True), ("+", True), ("0", False), ("", False), ("нет", False), ("No", False),
        ("false", False), (" ", False), ("может быть", None),
    ],
)  # fmt: skip
def test_parse_flag(text: str, expected: bool | None) -> None:
    assert parse_flag(text) is expected


@pytest.mark.parametrize(
    ("line", "delimiter"),
    [
        ("Фамилия;Имя;Email", ";"),
        ("surname,name,email", ","),
        ("surname\tname\temail", "\t"),
        ('"Фамилия, имя";Email', ";"),
        ('"a;b;c",d', ","),
        ("Email", ";"),
        ("\r\n\r\nФамилия,Имя", ","),
    ],
)
def test_sniff_delimiter(line: str, delimiter: str) -> None:
    assert sniff_delimiter(line + "\r\nx") == delimiter


def test_decode_prefers_utf8_then_cp1251() -> None:
    assert decode("Фамилия".encode()) == "Фамилия"
    assert decode(codecs.BOM_UTF8 + "Фамилия".encode()) == "Фамилия"
    assert decode("Фамилия".encode("cp1251")) == "Фамилия"
    assert decode("Фамилия".encode("utf-16")) == "Фамилия"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""), (79031112233, "79031112233"), (79031112233.0, "79031112233"),
        (1.5, "1.5"), (True, "1"), (dt.datetime(2024, 5, 1), "01.05.2024"),
        (dt.datetime(2024, 5, 1, 9, 30), "01.05.2024 09:30"), (dt.date(2024, 5, 1), "01.05.2024"),
        ("  текст ", "  текст "),
    ],
)  # fmt: skip
def test_cell_text(value: object, text: str) -> None:
    assert cell_text(value) == text


def test_client_from_row_puts_each_column_in_its_field(db: sqlite3.Connection) -> None:
    original = Client(
        "Ф", "И", "Д", "О", "e@x.ru", "+79031112233", "т", "а", "п", True, False, "2024-05-14", True
    )
    store.add_client(db, original)
    (row,) = store.fetch_rows(db)
    assert store.client_from_row(row) == original
    assert dict(zip(store.ROW_COLUMNS, row, strict=True))["note"] == "п"


# --- export ------------------------------------------------------------------------------------
ROUND_TRIP = [
    Client(
        surname="Иванов",
        name="Иван Петрович",
        position="Директор",
        organization='ООО «Ромашка; и ""партнёры""»',
        email="ivanov@mail.ru",
        mobile="+79031112233",
        phone="+7 (495) 123-45-67",
        address="г. Москва, ул. Ленина, д. 1",
        note="Первая строка\nвторая строка",
        marked=True,
        consent="2024-05-14",
        bounced=True,
    ),
    Client(
        surname="Ёлкина", name="Анна", email="elkina@yandex.ru", opt_out=True, consent="2023-01-02"
    ),
    Client(surname="Петров", mobile="+79161112233", note="=1+1 не формула"),
    Client(organization="АО «Вектор»", email="info@vektor.ru", phone="007", marked=True),
]


@pytest.fixture
def filled(db: sqlite3.Connection) -> sqlite3.Connection:
    for client in ROUND_TRIP:
        store.add_client(db, dataclasses.replace(client, id=None))
    return db


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_then_import_is_identity(filled: sqlite3.Connection, tmp_path: Path, suffix) -> None:
    before = _rows(filled)
    path = tmp_path / f"экспорт{suffix}"

    assert export_clients(filled, path) == len(ROUND_TRIP)
    plan = _import(filled, path)

    assert (len(plan.added), len(plan.updated), plan.rejected) == (0, len(ROUND_TRIP), [])
    assert _rows(filled) == before


def test_export_csv_is_cp1251_semicolon_crlf(filled: sqlite3.Connection, tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    export_clients(filled, path)
    data = path.read_bytes()
    assert not data.startswith(codecs.BOM_UTF8)
    text = data.decode("cp1251")
    header = text.split("\r\n", 1)[0]
    assert header == (
        "Фамилия;Имя;Должность;Наименование;Email;Сотовый телефон;Телефон;Адрес;"
        "Примечание;Отметка;Отказ от рассылки;Согласие на рассылку;Недоставлено"
    )
    assert text.endswith("\r\n")
    assert "Иванов;Иван Петрович;Директор;" in text
    assert ";да;;14.05.2024;да\r\n" in text  # marked, no opt-out, consent, bounced
    assert "elkina@yandex.ru;;;;;;да;02.01.2023;\r\n" in text
    assert text.count("\r\n") == len(ROUND_TRIP) + 1


def test_export_xlsx_reads_back(filled: sqlite3.Connection, tmp_path: Path) -> None:
    path = tmp_path / "e.xlsx"
    export_clients(filled, path)
    sheet = openpyxl.load_workbook(path).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:2] == ("Фамилия", "Имя")
    assert sheet["A1"].font.bold
    assert rows[1][5] == "+79031112233"
    assert sheet["F2"].data_type == "s"  # phones are text, not numbers
    assert sheet["G5"].value == "007"
    assert sheet["I4"].value == "=1+1 не формула"
    assert sheet["I4"].data_type == "s"
    assert rows[1][9] == "да"
    assert sheet.column_dimensions["A"].width >= 8
    assert len(rows) == len(ROUND_TRIP) + 1


def test_export_falls_back_to_utf8_bom(db: sqlite3.Connection, tmp_path: Path) -> None:
    store.add_client(db, Client(surname="Смайлов", email="s@mail.ru", note="Спасибо 🚗 ß"))
    path = tmp_path / "e.csv"
    export_clients(db, path)
    assert path.read_bytes().startswith(codecs.BOM_UTF8)
    plan = plan_import(db, path)
    assert plan.updated[0].note == "Спасибо 🚗 ß"


def test_export_selected_ids_in_given_order(filled: sqlite3.Connection, tmp_path: Path) -> None:
    ids = [row[0] for row in _rows(filled)]
    path = tmp_path / "e.csv"
    assert export_clients(filled, path, ids=[ids[2], ids[0], 9999]) == 2
    lines = path.read_bytes().decode("cp1251").split("\r\n")
    assert lines[1].startswith("Петров;")
    assert lines[2].startswith("Иванов;")


def test_export_empty_directory_writes_header(db: sqlite3.Connection, tmp_path: Path) -> None:
    path = tmp_path / "e.xlsx"
    assert export_clients(db, path) == 0
    rows = list(openpyxl.load_workbook(path).worksheets[0].iter_rows(values_only=True))
    assert len(rows) == 1


def test_export_unknown_extension(filled: sqlite3.Connection, tmp_path: Path) -> None:
    with pytest.raises(InterchangeError, match=r"\.csv"):
        export_clients(filled, tmp_path / "e.txt")


def test_export_to_missing_folder(filled: sqlite3.Connection, tmp_path: Path) -> None:
    with pytest.raises(InterchangeError, match="не существует"):
        export_clients(filled, tmp_path / "нет" / "e.csv")


def test_failed_export_leaves_nothing_behind(filled: sqlite3.Connection, tmp_path: Path) -> None:
    target = tmp_path / "e.csv"
    target.mkdir()  # os.replace cannot put a file over a folder
    with pytest.raises(InterchangeError):
        export_clients(filled, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "e.csv"]


def test_export_replaces_older_file(filled: sqlite3.Connection, tmp_path: Path) -> None:
    path = _write(tmp_path / "e.csv", b"old")
    export_clients(filled, path)
    assert path.read_bytes().startswith("Фамилия".encode("cp1251"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "e.csv"]


def test_stored_unnormalised_mobile_still_matches(db: sqlite3.Connection, tmp_path: Path) -> None:
    client_id = store.add_client(db, Client(surname="Старов", mobile="8 (903) 111-22-33"))
    text = "Фамилия;Сотовый телефон\r\nСтаров;+79031112233\r\n"
    plan = _import(db, _write(tmp_path / "m.csv", text.encode("cp1251")))
    assert (len(plan.added), len(plan.updated)) == (0, 1)
    stored = store.get_client(db, client_id)
    assert stored is not None
    assert stored.mobile == "+79031112233"


# Values at the edge of spreadsheet_safe()'s rule: the CSV export looks at a thousand rows
# at a time and must neutralise exactly the cells the rule would, no more, no fewer.
FORMULA_EDGES = ["+79031112233", "+7 903 111", "-5", "-5.5", "+5,25", "+", "-", "=", "@",
                 "=1+1", "@SUM(A1)", "\tтаб", "\rвозврат", "a=b", "Петров-Водкин", "-x",
                 "+٣", "1-2", "", "+5\n", "-5.", "+-5", "--5", "x\t", "'=уже"]  # fmt: skip


@pytest.mark.parametrize("nul", [False, True])
def test_the_csv_export_neutralises_exactly_the_cells_spreadsheet_safe_would(nul: bool):
    import csv

    from avtoprokat_mail.interchange.exporting import csv_bytes
    from avtoprokat_mail.validation import spreadsheet_safe

    header = ["a", "b", "c", "d"]
    rows = []  # one value of the edge a row, among safe ones, in each column in turn
    for number, value in enumerate(FORMULA_EDGES * 100):
        row = ["обычный", "+79031112233", "-5", "текст"]
        row[number % 4] = value
        rows.append(row)
    if nul:  # a value holding a NUL itself: its batch is looked at cell by cell
        rows[1200] = ["+5\x00=x", "-1\x00x", "=a\x00", "\x00"]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)
    expected = buffer.getvalue()
    data = csv_bytes(rows, header)
    assert data.decode("utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "cp1251") == expected
    assert ";'=1+1" in expected and ";+79031112233;" in expected  # the rule did apply
