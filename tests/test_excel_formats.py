"""Workbooks other than a plain XLSX: XLS (Excel 97–2003) and ODS (LibreOffice) read through
calamine, broken ones refused in Russian, a sparse XLSX read cell by cell, the XLSX export
read back. Real files throughout: the ODS is zipped here, the XLS is tests/files/клиенты.xls
(written once with xlwt by tests/files/make_xls.py, as no installed library writes XLS)."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import sqlite3
import zipfile
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from avtoprokat_mail.interchange import InterchangeError, export_clients, plan_import, reading
from avtoprokat_mail.model import Client
from avtoprokat_mail.storage import clients as store

XLS = Path(__file__).parent / "files" / "клиенты.xls"
ODS_MIMETYPE = "application/vnd.oasis.opendocument.spreadsheet"
MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
    '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{ODS_MIMETYPE}"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def _ods_cell(value: object) -> str:
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, float):
        return (f'<table:table-cell office:value-type="float" office:value="{value!r}">'
                f"<text:p>{value}</text:p></table:table-cell>")  # fmt: skip
    if isinstance(value, dt.date):
        return (f'<table:table-cell office:value-type="date" office:date-value="{value}">'
                f"<text:p>{value:%d.%m.%y}</text:p></table:table-cell>")  # fmt: skip
    return (
        f'<table:table-cell office:value-type="string"><text:p>{value}</text:p></table:table-cell>'
    )


def write_ods(path: Path, rows: list[list[object]], *, mimetype: str = ODS_MIMETYPE) -> Path:
    """An ODS as LibreOffice writes it: the rows, then the empty rest of the sheet repeated."""
    body = "".join(
        "<table:table-row>" + "".join(map(_ods_cell, row))
        + '<table:table-cell table:number-columns-repeated="1000"/></table:table-row>'
        for row in rows
    )  # fmt: skip
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Клиенты">'
        f'{body}<table:table-row table:number-rows-repeated="1048000">'
        '<table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
        '</table:table><table:table table:name="Второй"><table:table-row>'
        '<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell>'
        "</table:table-row></table:table></office:spreadsheet></office:body>"
        "</office:document-content>"
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), mimetype)  # stored, first, as ODF asks
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", MANIFEST)
    return path


ODS_ROWS: list[list[object]] = [
    [],
    ["Фамилия", "Имя", "Email", "Сотовый телефон", "Согласие на рассылку"],
    ["Иванов", "Пётр", "ivanov@mail.ru", 79031112233.0, dt.date(2024, 5, 1)],
    ["Смирнова", "Анна", "smirnova@mail.ru", "8 (916) 111-22-33", "да"],
    [],
    ["Сидоров", None, "bad@mail", None, None],
    ["Козлов", "Илья", "kozlov@mail.ru", 89261234567.0, None],
]


def _clients(db: sqlite3.Connection) -> dict[str, Client]:
    return {client.surname: client for client in store.list_clients(db)}


def _check_the_four_clients(db: sqlite3.Connection) -> None:
    clients = _clients(db)
    assert sorted(clients) == ["Иванов", "Козлов", "Смирнова"]
    assert clients["Иванов"].mobile == "+79031112233"  # a number cell, not 79031112233.0
    assert clients["Иванов"].consent == "2024-05-01"  # a date cell
    assert clients["Смирнова"].mobile == "+79161112233"
    assert clients["Смирнова"].consent == dt.date.today().isoformat()
    assert clients["Козлов"].mobile == "+79261234567"


@pytest.fixture
def ods(tmp_path: Path) -> Path:
    return write_ods(tmp_path / "клиенты.ods", ODS_ROWS)


@pytest.fixture
def xls(tmp_path: Path) -> Path:
    return Path(shutil.copy(XLS, tmp_path / XLS.name))


@pytest.mark.parametrize("kind", ["xls", "ods"])
def test_xls_and_ods_are_planned_like_xlsx(db, request, kind: str) -> None:
    path = request.getfixturevalue(kind)
    plan = plan_import(db, path)
    assert sorted(c.surname for c in plan.added) == ["Иванов", "Козлов", "Смирнова"]
    assert [(r.line, "mail" in r.reason) for r in plan.rejected] == [(6, True)]  # the sheet row
    assert plan.rows_read == 4
    assert plan.notes == []
    added = {c.surname: c for c in plan.added}
    assert added["Иванов"].mobile == "+79031112233"
    assert added["Иванов"].consent == "2024-05-01"


@pytest.mark.parametrize("kind", ["xls", "ods"])
def test_xls_and_ods_import_through_the_cli(db, cli, memory_keyring, request, kind: str) -> None:
    path = request.getfixturevalue(kind)
    status, out, err = cli("clients", "import", str(path))
    assert status == 0, err
    assert out.strip().splitlines()[-1] == "imported 3, updated 0, rejected 1"
    assert "строка 6" in err and "Traceback" not in err
    _check_the_four_clients(db)


def test_the_content_decides_over_the_extension(db, tmp_path: Path, ods: Path) -> None:
    """A workbook renamed by hand is read as what it is."""
    as_xlsx = Path(shutil.copy(XLS, tmp_path / "на самом деле xls.xlsx"))
    assert len(plan_import(db, as_xlsx).added) == 3
    as_csv = Path(shutil.copy(ods, tmp_path / "на самом деле ods.csv"))
    assert len(plan_import(db, as_csv).added) == 3
    workbook = openpyxl.Workbook()
    workbook.active.append(["Фамилия", "Email"])
    workbook.active.append(["Петров", "p@mail.ru"])
    workbook.save(tmp_path / "на самом деле xlsx.xls")
    assert [c.surname for c in plan_import(db, tmp_path / "на самом деле xlsx.xls").added] == [
        "Петров"
    ]


def _corrupt(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    good = {".xls": XLS.read_bytes(), ".ods": b"", ".xlsx": b""}[path.suffix]
    if path.suffix == ".ods":
        good = write_ods(tmp_path / "good.ods", ODS_ROWS).read_bytes()
    elif path.suffix == ".xlsx":
        workbook = openpyxl.Workbook()
        workbook.active.append(["Фамилия", "Email"])
        workbook.save(tmp_path / "good.xlsx")
        good = (tmp_path / "good.xlsx").read_bytes()
    path.write_bytes(good[: len(good) // 2] + bytes(64))  # cut in the middle, as a lost copy
    return path


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("клиенты.xls", "не является книгой Excel 97–2003 (.xls) или повреждён"),
        ("клиенты.ods", "не является таблицей OpenDocument (.ods) или повреждён"),
        ("клиенты.xlsx", "не является книгой Excel (.xlsx) или повреждён"),
    ],
)
def test_a_broken_workbook_is_refused_in_russian(db, cli, tmp_path: Path, name, says) -> None:
    path = _corrupt(tmp_path, name)
    with pytest.raises(InterchangeError, match=r"«клиенты\.\w+» " + re.escape(says)):
        plan_import(db, path)
    status, out, err = cli("clients", "import", str(path))
    assert status == 2 and "imported" not in out
    assert err.startswith("Ошибка: ") and name in err and "Traceback" not in err


@pytest.mark.parametrize(
    "data",
    [b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), b"<html><table></table></html>"],
    ids=["empty-ole", "html"],
)
def test_an_xls_that_is_no_workbook(db, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "выгрузка.xls"
    path.write_bytes(data)
    with pytest.raises(InterchangeError, match=r"«выгрузка\.xls» не является книгой Excel 97–2003"):
        plan_import(db, path)


def test_an_ods_without_its_mimetype_is_refused(db, tmp_path: Path) -> None:
    path = write_ods(tmp_path / "текст.ods", ODS_ROWS, mimetype="application/vnd.oasis.text")
    with pytest.raises(InterchangeError, match=r"«текст\.ods» не является таблицей OpenDocument"):
        plan_import(db, path)


def test_an_ods_repeating_a_filled_cell_far_is_refused_before_it_is_read(db, tmp_path) -> None:
    """calamine would unroll the repeats into a rectangle of billions of cells."""
    path = write_ods(tmp_path / "клиенты.ods", ODS_ROWS)
    with zipfile.ZipFile(path) as archive:
        content = archive.read("content.xml").decode()
    content = content.replace(
        '<table:table-cell office:value-type="string"><text:p>Иванов',
        '<table:table-cell table:number-columns-repeated="16000" office:value-type="string">'
        "<text:p>Иванов",
    ).replace('<table:table-row><table:table-cell office:value-type="string"><text:p>Козлов',
              '<table:table-row table:number-rows-repeated="1000000"><table:table-cell '
              'office:value-type="string"><text:p>Козлов')  # fmt: skip
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ODS_MIMETYPE)
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", MANIFEST)
    with pytest.raises(InterchangeError, match=r"«клиенты\.ods» слишком велика"):
        plan_import(db, path)


def test_an_ods_over_the_unpacked_limit_is_refused(db, ods: Path, monkeypatch) -> None:
    monkeypatch.setattr(reading, "MAX_UNPACKED_BYTES", 1000)
    with pytest.raises(InterchangeError, match="в распакованном виде"):
        plan_import(db, ods)


def test_a_password_protected_workbook_is_named_so(db, tmp_path: Path) -> None:
    """Excel saves an XLSX with a password as an OLE2 file holding an EncryptedPackage."""
    data = bytearray(XLS.read_bytes())
    at = data.find("Workbook".encode("utf-16-le"))
    data[at : at + 32] = "EncryptedPackage".encode("utf-16-le")
    path = tmp_path / "с паролем.xlsx"
    path.write_bytes(bytes(data))
    with pytest.raises(InterchangeError, match=r"«с паролем\.xlsx» защищена паролем"):
        plan_import(db, path)


# --- XLSX: the calamine and the sparse reading agree ----------------------------------------
def _workbook(path: Path, rows: list[list[object]], **cells: object) -> Path:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    for coordinate, value in cells.items():
        workbook.active[coordinate] = value
    workbook.save(path)
    return path


STRAY = [["", "Фамилия", "Имя", "Email"], ["", "Иванов", 7, "i@mail.ru"], [],
         ["", "Смирнова", 1.5, "s@mail.ru", None, "лишнее"]]  # fmt: skip


def _read(db, path: Path) -> tuple:
    plan = plan_import(db, path)
    return [(c.surname, c.name) for c in plan.added], plan.notes, plan.rows_read


def test_a_sparse_xlsx_is_read_cell_by_cell_with_the_same_result(db, tmp_path, monkeypatch):
    path = _workbook(tmp_path / "клиенты.xlsx", STRAY, H9="ещё")
    dense = _read(db, path)
    assert dense == (
        [("Иванов", "7"), ("Смирнова", "1.5")],
        ["2 заполненные ячейки правее столбцов с заголовками не прочитаны (F4, H9): "
         "у них нет заголовка."],
        2,
    )  # fmt: skip
    monkeypatch.setattr(reading, "DENSE_CELLS", 20)  # 9 rows × 8 columns: too many now
    assert reading._scan_xlsx(path, path.read_bytes()).sparse
    assert _read(db, path) == dense


def test_cells_without_an_address_are_read_cell_by_cell(db, tmp_path: Path) -> None:
    path = _workbook(tmp_path / "клиенты.xlsx", STRAY)
    _rewrite_sheet(path, lambda xml: xml.replace(b'<c r="B2"', b"<c"))
    assert reading._scan_xlsx(path, path.read_bytes()).sparse
    assert _read(db, path)[0] == [("Иванов", "7"), ("Смирнова", "1.5")]


# The sheet's extent is found by searches that rarely match, not by reading every address:
# sheets whose addresses are out of order or reach further in later rows must come out as
# the address-by-address scan finds them (read in small pieces too: a row a piece).
ODD_ADDRESSES = {
    "in order": lambda xml: xml,
    "a far row among the first": lambda xml: xml.replace(b'<c r="B2"', b'<c r="B900"'),
    "a row as long, out of order": lambda xml: xml.replace(b'<c r="B2"', b'<c r="B8"'),
    "a far column in the last row": lambda xml: xml.replace(b'<c r="F4"', b'<c r="AD4"'),
    "a formula in a namespace": lambda xml: xml.replace(
        b'<c r="C2" t="n"><v>7</v></c>', b'<c r="C2"><x:f>A1</x:f></c>'
    ),
}


@pytest.mark.parametrize("change", ODD_ADDRESSES.values(), ids=list(ODD_ADDRESSES))
@pytest.mark.parametrize("dense", [20, 30, 40, 50, 5_000_000])
@pytest.mark.parametrize("piece", [1, reading._CHUNK_BYTES])
def test_the_quick_scan_of_a_sheet_decides_as_reading_every_address(
    tmp_path: Path, monkeypatch, change, dense: int, piece: int
) -> None:
    path = _workbook(tmp_path / "клиенты.xlsx", STRAY)  # A1:F4, rows 1, 2 and 4
    _rewrite_sheet(path, change)
    monkeypatch.setattr(reading, "DENSE_CELLS", dense)
    monkeypatch.setattr(reading, "_CHUNK_BYTES", piece)
    data = path.read_bytes()
    quick, full = reading._scan_xlsx(path, data), reading._scan_xlsx(path, data, exact=True)
    assert (quick.sparse, quick.columns, quick.formulas) == (
        full.sparse,
        full.columns,
        full.formulas,
    )
    assert quick.rows <= full.rows


@pytest.mark.parametrize(
    ("name", "extent"),
    [("in order", (4, 6, [])), ("a far row among the first", (900, 6, [])),
     ("a row as long, out of order", (8, 6, [])), ("a far column in the last row", (4, 30, [])),
     ("a formula in a namespace", (4, 6, ["C2"]))],
)  # fmt: skip
def test_the_full_scan_reads_every_address(tmp_path: Path, name: str, extent: tuple) -> None:
    """The reference the quick scan is held to: the extent and the formulas as stored."""
    path = _workbook(tmp_path / "клиенты.xlsx", STRAY)
    _rewrite_sheet(path, ODD_ADDRESSES[name])
    scan = reading._scan_xlsx(path, path.read_bytes(), exact=True)
    assert (scan.rows, scan.columns, scan.formulas) == extent


def _rewrite_sheet(path: Path, change) -> None:
    with zipfile.ZipFile(path) as archive:
        parts = {info: archive.read(info) for info in archive.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in parts.items():
            archive.writestr(info, change(data) if "worksheets/" in info.filename else data)


def test_a_formula_with_its_stored_value_is_read_without_a_note(db, tmp_path: Path) -> None:
    """Excel stores a formula's last value beside it; only a formula without one is noted."""
    path = _workbook(tmp_path / "клиенты.xlsx", [["Фамилия", "Email"], ["Иванов", "=A1"],
                                                ["Петров", '=LOWER("P")&"@mail.ru"']])  # fmt: skip
    _rewrite_sheet(
        path,
        lambda xml: xml.replace(
            b'<c r="B2"><f>A1</f><v /></c>', b'<c r="B2" t="str"><f>A1</f><v>i@mail.ru</v></c>'
        ),
    )
    plan = plan_import(db, path)
    assert [(c.surname, c.email) for c in plan.added] == [("Иванов", "i@mail.ru"), ("Петров", "")]
    assert plan.notes == [
        "В 1 ячейке формулы без сохранённого значения (B3): их значения не прочитаны. "
        "Откройте файл в Excel, сохраните его и импортируйте снова."
    ]


# --- export ---------------------------------------------------------------------------------
def test_the_exported_xlsx_reads_back_as_the_data(db, tmp_path: Path) -> None:
    clients = [
        Client(surname="Иванов", name="Пётр", email="i@mail.ru", mobile="+79031112233",
               note="=HYPERLINK(\"x\") не формула\x01", marked=True, consent="2024-05-14"),
        Client(organization="АО «Вектор»", phone="007", opt_out=True),
    ]  # fmt: skip
    for client in clients:
        store.add_client(db, client)
    path = tmp_path / "клиенты.xlsx"
    assert export_clients(db, path) == 2
    with CalamineWorkbook.from_path(path) as workbook:
        rows = workbook.get_sheet_by_index(0).to_python()
    assert rows[0][:5] == ["Фамилия", "Имя", "Должность", "Наименование", "Email"]
    assert rows[1] == ["Иванов", "Пётр", "", "", "i@mail.ru", "+79031112233", "", "",
                       '=HYPERLINK("x") не формула', "да", "", "14.05.2024", ""]  # fmt: skip
    assert rows[2] == ["", "", "", "АО «Вектор»", "", "", "007", "", "", "", "да", "", ""]
    assert len(rows) == 3
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:M3"
    assert sheet["A1"].font.bold and not sheet["A2"].font.bold
    assert sheet.column_dimensions["F"].width >= 16  # phones fit


def test_the_written_xlsx_is_well_formed_and_reads_back_alike_in_both_readers(tmp_path):
    """The workbook is written by hand (zip and XML): every part must parse, and calamine
    and openpyxl must read the values, text only, as written, across batches of rows."""
    from xml.etree import ElementTree

    from avtoprokat_mail.interchange.exporting import write_table

    odd = ["A&B <c> \"q\" 'a'", " с пробелами ", "таб\tи\nстрока", "=1+1", "+79031112233",
           "007", "-5", "@x", "эмодзи 🙂", "bell\x07 esc\x1b", "", "Я" * 5000]  # fmt: skip
    header = [f"Столбец {number}" for number in range(1, len(odd) + 1)]
    rows = [[f"{value}{number}" if value else "" for value in odd] for number in range(2500)]
    rows[1500][10] = "nul\x00"  # a NUL among the values: that batch's values one by one
    path = tmp_path / "отчёт.xlsx"
    write_table(path, header, rows, sheet="Отчёт & «итог»", min_widths=[0, 30])

    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        for name in archive.namelist():
            ElementTree.fromstring(archive.read(name))  # raises on malformed XML
    expected = [header] + [[re.sub("[\x00\x07\x1b]", "", value) for value in row] for row in rows]
    with CalamineWorkbook.from_path(path) as workbook:
        assert workbook.sheet_names == ["Отчёт & «итог»"]
        assert workbook.get_sheet_by_index(0).to_python() == expected
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    read = [[cell.value or "" for cell in row] for row in sheet.iter_rows()]
    assert read == expected
    assert {cell.data_type for row in sheet.iter_rows() for cell in row if cell.value} == {"s"}
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == "A1:L2501"
    assert all(cell.font.bold for cell in sheet[1]) and not sheet["A2"].font.bold
    assert sheet.column_dimensions["A"].width > sheet.column_dimensions["F"].width
    assert sheet.column_dimensions["B"].width >= 30


def test_text_excel_reads_as_its_own_escapes_stays_as_written(tmp_path) -> None:
    """Excel reads "_x000D_" in a cell as a CR: such text is escaped as Excel does, and a CR
    written as it (openpyxl does not undo these escapes; calamine, like Excel, does)."""
    from avtoprokat_mail.interchange.exporting import write_table

    path = tmp_path / "e.xlsx"
    write_table(path, ["Примечание"], [["_x000D_ и _x0041_"], ["до\rпосле"]], sheet="Лист")
    with CalamineWorkbook.from_path(path) as workbook:
        assert workbook.get_sheet_by_index(0).to_python() == [
            ["Примечание"],
            ["_x000D_ и _x0041_"],
            ["до\rпосле"],
        ]
