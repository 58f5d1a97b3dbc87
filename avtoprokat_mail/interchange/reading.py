"""Reading a client file into a header and data rows with their line numbers.

CSV comes as Excel and people write it: UTF-8 with or without BOM or Windows-1251, separated
by ';' (Excel in a Russian locale), ',' or tabs. XLSX is read with openpyxl, first sheet only.
Every failure becomes an :class:`InterchangeError` naming the file.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from avtoprokat_mail.interchange.errors import InterchangeError

XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})
_DELIMITERS = (";", ",", "\t")
_ZIP_MAGIC = b"PK\x03\x04"

Row = tuple[int, list[str]]  # (line number in the file, cells)


@dataclass
class Table:
    """A file's header and an iterator over its data rows.

    ``strict_width`` is True for CSV, where a row with more or fewer cells than the header
    means the row is misaligned (a separator inside an unquoted value, a lost cell).
    """

    header: list[str]
    header_line: int
    rows: Iterator[Row]
    strict_width: bool


def read_table(path: Path) -> Table:
    """Open ``path`` (CSV or XLSX by its extension, or by its content) and find its header."""
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise InterchangeError(
            f"Файл «{path.name}» в старом формате Excel (.xls), его прочитать нельзя. "
            "Откройте его в Excel и сохраните как «Книга Excel (.xlsx)» или «CSV»."
        )
    data = _read_bytes(path)
    if suffix in XLSX_SUFFIXES or data.startswith(_ZIP_MAGIC):
        rows = _xlsx_rows(path, data)
        strict = False
    else:
        rows = _csv_rows(path, data)
        strict = True
    for line, cells in rows:
        if _is_blank(cells):
            continue
        return Table(header=cells, header_line=line, rows=rows, strict_width=strict)
    raise InterchangeError(f"Файл «{path.name}» пуст: в нём нет ни заголовка, ни строк.")


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as error:
        raise InterchangeError(f"Файл «{path}» не найден.") from error
    except IsADirectoryError as error:
        raise InterchangeError(f"«{path}» — это папка, а не файл.") from error
    except PermissionError as error:
        raise InterchangeError(
            f"Нет доступа к файлу «{path}»: возможно, он открыт в другой программе."
        ) from error
    except OSError as error:
        raise InterchangeError(f"Не удаётся прочитать файл «{path}»: {error.strerror}.") from error


def _is_blank(cells: list[str]) -> bool:
    return not "".join(cells).strip()


# --- CSV ---------------------------------------------------------------------------------
def decode(data: bytes) -> str:
    """Text of a CSV file: UTF-8 (BOM or not) when the bytes are valid UTF-8, else cp1251.

    UTF-16 with a BOM (Excel's "Unicode text") is accepted too. Strict UTF-8 almost never
    accepts Cyrillic cp1251 text by accident, so the order of the tries decides correctly.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1251", errors="replace")


def sniff_delimiter(text: str) -> str:
    """The separator of the header record: the most frequent of ';', ',' and tab outside
    quotes. Ties and a one-column header go to ';', which Excel writes in a Russian locale."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in _first_record(text):
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])  # max keeps the first on ties: ';'
    return best if counts[best] else ";"


def _first_record(text: str) -> str:
    """The first non-blank line, extended while a quote is left open (up to 64 KiB)."""
    start = len(text) - len(text.lstrip("\r\n "))
    end = start
    quoted = False
    limit = min(len(text), start + 65536)
    while end < limit:
        char = text[end]
        if char == '"':
            quoted = not quoted
        elif char in "\r\n" and not quoted:
            break
        end += 1
    return text[start:end]


def _csv_rows(path: Path, data: bytes) -> Iterator[Row]:
    text = decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    return (
        (line, [_unprotected(cell) for cell in cells]) for line, cells in _numbered(path, reader)
    )


def _unprotected(cell: str) -> str:
    """A cell as it was before a CSV writer kept Excel from running it as a formula (a leading
    apostrophe before = + - @ tab or CR, as our exports and Excel's own text cells write it)."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in "=+-@\t\r":
        return cell[1:]
    return cell


def _numbered(path: Path, reader) -> Iterator[Row]:
    """Records with the file line number where each starts (a quoted value may span lines)."""
    line = 0
    try:
        for cells in reader:
            yield line + 1, cells
            line = reader.line_num
    except csv.Error as error:
        raise InterchangeError(
            f"Файл «{path.name}», строка {line + 1}: не удаётся разобрать CSV ({error})."
        ) from error


# --- XLSX --------------------------------------------------------------------------------
def _xlsx_rows(path: Path, data: bytes) -> Iterator[Row]:
    from openpyxl import load_workbook  # openpyxl takes 0.1 s to import: only when needed

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # BadZipFile, KeyError, ValueError...: openpyxl has no one kind
        raise InterchangeError(_not_xlsx(path)) from error
    return _sheet_rows(path, workbook)


def _not_xlsx(path: Path) -> str:
    return (
        f"Файл «{path.name}» не является книгой Excel (.xlsx) или повреждён. "
        "Откройте его в Excel и сохраните заново как «Книга Excel» или «CSV»."
    )


def _sheet_rows(path: Path, workbook) -> Iterator[Row]:
    try:
        if not workbook.worksheets:
            return
        sheet = workbook.worksheets[0]
        sheet.reset_dimensions()  # some programs write a wrong size; read what is there
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, [cell_text(value) for value in values]
    except InterchangeError:
        raise
    except Exception as error:  # a damaged sheet inside a valid zip
        raise InterchangeError(_not_xlsx(path)) from error
    finally:
        workbook.close()


def cell_text(value: object) -> str:
    """A spreadsheet cell as the text a person sees: 79031112233.0 -> '79031112233'."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%d.%m.%Y" if value.time() == dt.time() else "%d.%m.%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d.%m.%Y")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value)
