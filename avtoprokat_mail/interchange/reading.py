"""Reading a client file into a header and data rows with their line numbers.

CSV comes as Excel and people write it: UTF-8 with or without BOM or Windows-1251 (KOI8-R
and CP866, from older programs, are recognised too), separated by ';' (Excel in a Russian
locale), ',' or tabs. XLSX is read with openpyxl's sheet parser, first sheet only.
Every failure becomes an :class:`InterchangeError` naming the file.

What a file can hold is bounded, so a small hostile file cannot fill the memory or the
database: a cell holds at most :data:`MAX_CELL_CHARS` characters (Excel's own limit; the row
is refused, with its number, in :attr:`ReadReport.rejected`), a file at most
:data:`MAX_FILE_BYTES`, an XLSX at most :data:`MAX_UNPACKED_BYTES` once unpacked, and only
the columns up to the header's last one are read. What was not read is said in
:attr:`ReadReport.notes`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from avtoprokat_mail.interchange.errors import InterchangeError
from avtoprokat_mail.sizes import plural

XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})
_DELIMITERS = (";", ",", "\t")
_ZIP_MAGIC = b"PK\x03\x04"

MAX_CELL_CHARS = 32_767  # what Excel itself lets a cell hold
MAX_FILE_BYTES = 256 * 2**20  # some 400,000 clients in CSV
MAX_UNPACKED_BYTES = 512 * 2**20  # an XLSX's sheet and strings, unpacked
MAX_COLUMNS = 256  # a header is looked for in these; a client file has a dozen or so
_SAMPLE_BYTES = 65_536  # how much of a CSV the encoding is judged on
_SHOWN = 5  # cells or rows named in a note, then "и ещё N"

# The most frequent Russian letters (some 85 % of letters in a text): bytes read in the wrong
# Cyrillic encoding turn into rare letters and symbols instead.
_COMMON_LETTERS = frozenset("оеаинтсрвлкмдпуяыь")
_ENCODINGS = (("cp1251", "Windows-1251"), ("koi8-r", "KOI8-R"), ("cp866", "CP866 (DOS)"))

Row = tuple[int, list[str]]  # (line number in the file, cells)


@dataclass
class ReadReport:
    """What reading a file left out or had to guess, filled in while the rows are read.

    ``rejected``: rows not given to the importer at all, (line, reason in Russian).
    ``notes``: sentences for the user about what was not read (in Russian).
    """

    rejected: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Table:
    """A file's header and an iterator over its data rows.

    ``strict_width`` is True for CSV, where a row with more or fewer cells than the header
    means the row is misaligned (a separator inside an unquoted value, a lost cell).
    ``report`` is complete once ``rows`` is exhausted.
    """

    header: list[str]
    header_line: int
    rows: Iterator[Row]
    strict_width: bool
    report: ReadReport = field(default_factory=ReadReport)


def read_table(path: Path) -> Table:
    """Open ``path`` (CSV or XLSX by its extension, or by its content) and find its header."""
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise InterchangeError(
            f"Файл «{path.name}» в старом формате Excel (.xls), его прочитать нельзя. "
            "Откройте его в Excel и сохраните как «Книга Excel (.xlsx)» или «CSV»."
        )
    data = _read_bytes(path)
    report = ReadReport()
    if suffix in XLSX_SUFFIXES or data.startswith(_ZIP_MAGIC):
        rows = _xlsx_rows(path, data, report)
        strict = False
    else:
        rows = _csv_rows(path, data, report)
        strict = True
    for line, cells in rows:
        if _is_blank(cells):
            continue
        return Table(cells, line, rows, strict, report)
    raise InterchangeError(f"Файл «{path.name}» пуст: в нём нет ни заголовка, ни строк.")


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InterchangeError(
                f"Файл «{path.name}» слишком велик для импорта: {size / 2**20:.0f} МБ (можно до "
                f"{MAX_FILE_BYTES // 2**20} МБ). Разделите его на несколько файлов."
            )
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
def decode(data: bytes, report: ReadReport | None = None) -> str:
    """Text of a CSV file: UTF-8 (BOM or not) when the bytes are valid UTF-8, else the
    Cyrillic single-byte encoding in which the text reads most like Russian.

    UTF-16 with a BOM (Excel's "Unicode text") is accepted too. Strict UTF-8 almost never
    accepts Cyrillic single-byte text by accident, so the order of the tries decides
    correctly. Windows-1251 wins ties; KOI8-R or CP866, and text that reads as Russian in
    none of them, are noted in ``report``.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    sample = data[:_SAMPLE_BYTES]
    scores = [(_russian_share(sample.decode(codec, "replace")), codec, name)
              for codec, name in _ENCODINGS]  # fmt: skip
    share, codec, name = max(scores, key=lambda score: score[0])  # the first on ties
    if report is not None:
        if share < 0.5 and sum(byte > 127 for byte in sample) >= 5:
            report.notes.append(
                "Кодировка файла не распознана: русские буквы могли прочитаться неверно. "
                "Проверьте имена в списке; лучше сохранить файл в Excel как «CSV UTF-8»."
            )
        elif codec != "cp1251":
            report.notes.append(f"Файл записан в кодировке {name}: он прочитан в ней.")
    return data.decode(codec, errors="replace")


def _russian_share(text: str) -> float:
    """The share of frequent Russian letters among the non-ASCII characters of ``text``."""
    others = [char for char in text if ord(char) > 127]
    if not others:
        return 1.0
    return sum(char.casefold() in _COMMON_LETTERS for char in others) / len(others)


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


def _csv_rows(path: Path, data: bytes, report: ReadReport) -> Iterator[Row]:
    text = decode(data, report)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    return (
        (line, [_unprotected(cell) for cell in cells])
        for line, cells in _numbered(path, reader, report)
    )


def _unprotected(cell: str) -> str:
    """A cell as it was before a CSV writer kept Excel from running it as a formula (a leading
    apostrophe before = + - @ tab or CR, as our exports and Excel's own text cells write it)."""
    if len(cell) > 1 and cell[0] == "'" and cell[1] in "=+-@\t\r":
        return cell[1:]
    return cell


def _numbered(path: Path, reader, report: ReadReport) -> Iterator[Row]:
    """Records with the file line number where each starts (a quoted value may span lines).

    A record with a cell over :data:`MAX_CELL_CHARS` goes to ``report.rejected`` (the csv
    module stops reading it there, so it never sits in memory whole); any other damage ends
    the reading with an InterchangeError.
    """
    line = 0
    previous_limit = csv.field_size_limit(MAX_CELL_CHARS)  # process-wide: restored below
    try:
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                if "field limit" not in str(error):
                    raise
                report.rejected.append((line + 1, _too_long(None)))
            else:
                yield line + 1, cells
            line = reader.line_num
    except csv.Error as error:
        raise InterchangeError(
            f"Файл «{path.name}», строка {line + 1}: не удаётся разобрать CSV ({error})."
        ) from error
    finally:
        csv.field_size_limit(previous_limit)


def _too_long(where: str | None) -> str:
    cell = f"ячейка {where}" if where else "значение"
    limit = f"{MAX_CELL_CHARS:,}".replace(",", "\u00a0")
    return f"{cell} длиннее {limit} знаков: столько в карточку клиента не войдёт"


# --- XLSX --------------------------------------------------------------------------------
def _xlsx_rows(path: Path, data: bytes, report: ReadReport) -> Iterator[Row]:
    from openpyxl import load_workbook  # openpyxl takes 0.1 s to import: only when needed

    _check_unpacked_size(path, data)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # BadZipFile, KeyError, ValueError...: openpyxl has no one kind
        raise InterchangeError(_not_xlsx(path)) from error
    return _sheet_rows(path, workbook, report)


def _check_unpacked_size(path: Path, data: bytes) -> None:
    """Refuse a workbook whose parts unpack to more than MAX_UNPACKED_BYTES: a few hundred
    kilobytes of zip can hold gigabytes of text. zipfile stops at the declared sizes, so
    the declaration is what counts."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise InterchangeError(_not_xlsx(path)) from error
    if unpacked > MAX_UNPACKED_BYTES:
        raise InterchangeError(
            f"Книга «{path.name}» в распакованном виде занимает {unpacked / 2**20:,.0f} МБ "
            f"(можно до {MAX_UNPACKED_BYTES // 2**20} МБ): в ней не только список клиентов. "
            "Скопируйте нужные столбцы в новую книгу или сохраните их как «CSV»."
        )


def _not_xlsx(path: Path) -> str:
    return (
        f"Файл «{path.name}» не является книгой Excel (.xlsx) или повреждён. "
        "Откройте его в Excel и сохраните заново как «Книга Excel» или «CSV»."
    )


def _sheet_rows(path: Path, workbook, report: ReadReport) -> Iterator[Row]:
    """The first sheet's rows, cut at the header's last column (MAX_COLUMNS until the header).

    Read with openpyxl's own sheet parser rather than ``iter_rows``: ``iter_rows`` pads
    every row to its last cell, so one cell in column XFD costs 16,384 cells a row, and it
    cannot tell a formula without a stored value from an empty cell.
    """
    sheet_state = _SheetState()
    try:
        if not workbook.worksheets:
            return
        with _parsed_cells(workbook, workbook.worksheets[0]) as rows:
            for number, cells in rows:
                row = sheet_state.take(number, cells, report)
                if row is not None:
                    yield number, row
        sheet_state.finish(report)
    except InterchangeError:
        raise
    except Exception as error:  # a damaged sheet inside a valid zip
        raise InterchangeError(_not_xlsx(path)) from error
    finally:
        workbook.close()


class _SheetState:
    """Turns parsed cells into rows as wide as the header, noting what was left unread."""

    def __init__(self) -> None:
        self.width = MAX_COLUMNS  # until the header is found
        self.header_found = False
        self.formulas: list[str] = []  # cells with a formula and no stored value
        self.beyond: list[str] = []  # filled cells right of the header's last column

    def take(self, number: int, cells: list[dict], report: ReadReport) -> list[str] | None:
        row: list[str] = [""] * self.width
        used = 0
        for cell in cells:
            column = cell["column"]
            text = cell_text(cell["value"])
            if cell.get("formula_without_value"):
                self.formulas.append(_coordinate(column, number))
            if column > self.width:
                if self.header_found and text.strip():
                    self.beyond.append(_coordinate(column, number))
                continue
            if len(text) > MAX_CELL_CHARS:
                report.rejected.append((number, _too_long(_coordinate(column, number))))
                return None
            row[column - 1] = text
            if text:
                used = max(used, column)
        if not self.header_found:
            if not used:
                return []
            self.header_found, self.width = True, used
        return row[: self.width]

    def finish(self, report: ReadReport) -> None:
        if self.formulas:
            report.notes.append(
                f"В {_count(len(self.formulas), 'ячейке', 'ячейках', 'ячейках')} формулы без "
                f"сохранённого значения ({_first_few(self.formulas)}): их значения не прочитаны. "
                "Откройте файл в Excel, сохраните его и импортируйте снова."
            )
        if self.beyond:
            cells = _count(
                len(self.beyond), "заполненная ячейка", "заполненные ячейки", "заполненных ячеек"
            )
            report.notes.append(
                f"{cells} правее столбцов с заголовками не прочитаны "
                f"({_first_few(self.beyond)}): у них нет заголовка."
            )


def _parsed_cells(workbook, sheet):
    """A context manager over (row number, [cell dicts]) of ``sheet``, sparse as stored."""
    import contextlib

    from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser

    class Parser(WorkSheetParser):
        def parse_cell(self, element):  # type: ignore[no-untyped-def]
            cell = super().parse_cell(element)
            if cell["value"] is None and element.find(FORMULA_TAG) is not None:
                cell["formula_without_value"] = True
            return cell

    @contextlib.contextmanager
    def rows():
        with workbook._archive.open(sheet._worksheet_path) as source:
            parser = Parser(
                source,
                sheet._shared_strings,
                data_only=True,
                epoch=workbook.epoch,
                date_formats=workbook._date_formats,
                timedelta_formats=workbook._timedelta_formats,
            )
            yield parser.parse()

    return rows()


def _coordinate(column: int, row: int) -> str:
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(column)}{row}"


def _first_few(items: list[str]) -> str:
    shown = ", ".join(items[:_SHOWN])
    return f"{shown} и ещё {len(items) - _SHOWN}" if len(items) > _SHOWN else shown


def _count(number: int, one: str, few: str, many: str) -> str:
    """«1 ячейке», «3 ячейках»: ``number`` with its word."""
    return f"{number} {plural(number, one, few, many)}"


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
