"""Reading a client file into a header and data rows with their line numbers.

CSV comes as Excel and people write it: UTF-8 with or without BOM or Windows-1251 (KOI8-R
and CP866, from older programs, are recognised too), separated by ';' (Excel in a Russian
locale), ',' or tabs. Workbooks, XLSX, XLS (Excel 97–2003) and ODS (LibreOffice), are read
with calamine, a Rust reader, first sheet only (a sparse XLSX with openpyxl's sheet parser).
Every failure becomes an :class:`InterchangeError` naming the file.

What a file can hold is bounded, so a small hostile file cannot fill the memory or the
database: a cell holds at most :data:`MAX_CELL_CHARS` characters (Excel's own limit; the row
is refused, with its number, in :attr:`ReadReport.rejected`), a file at most
:data:`MAX_FILE_BYTES`, an XLSX or ODS at most :data:`MAX_UNPACKED_BYTES` once unpacked, and only
the columns up to the header's last one are read. What was not read is said in
:attr:`ReadReport.notes`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from avtoprokat_mail.interchange.errors import InterchangeError
from avtoprokat_mail.sizes import plural

XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})
_DELIMITERS = (";", ",", "\t")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # Excel 97–2003, and an encrypted XLSX, are OLE2 files
_ENCRYPTED_STREAM = "EncryptedPackage".encode("utf-16-le")  # a password-protected XLSX
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"

MAX_CELL_CHARS = 32_767  # what Excel itself lets a cell hold
MAX_FILE_BYTES = 256 * 2**20  # some 400,000 clients in CSV
MAX_UNPACKED_BYTES = 512 * 2**20  # an XLSX's sheet and strings, unpacked
MAX_COLUMNS = 256  # a header is looked for in these; a client file has a dozen or so
# calamine holds a sheet as a rectangle of 32-byte cells: above this many (160 MB) an XLSX is
# read sparsely instead, an ODS refused.
DENSE_CELLS = 5_000_000
_CHUNK_BYTES = 4 * 2**20  # an XLSX sheet's XML is scanned in pieces of this size
_SAMPLE_BYTES = 65_536  # how much of a CSV the encoding is judged on
_SHOWN = 5  # cells or rows named in a note, then "и ещё N"

# The most frequent Russian letters (some 85 % of letters in a text): bytes read in the wrong
# Cyrillic encoding turn into rare letters and symbols instead.
_COMMON_LETTERS = frozenset("оеаинтсрвлкмдпуяыь")
_ENCODINGS = (("cp1251", "Windows-1251"), ("koi8-r", "KOI8-R"), ("cp866", "CP866 (DOS)"))

Row = tuple[int, list[str]]  # (line number in the file, cells)

# An XLSX sheet's XML, looked at without parsing it (a cell is <c r="B7" ...>...</c>).
_COLUMN_REF = re.compile(rb' r="([A-Z]+)\d')  # a cell's column letters
_ROW_REF = re.compile(rb' r="[A-Z]*(\d+)"')  # a cell's or a row's number
_UNADDRESSED = re.compile(rb'<c(?:[>/]| (?!r="))')  # a cell without r= first
_CELL_REF = re.compile(rb' r="([A-Z]+\d+)"')
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_VALUE = re.compile(rb"<(?:\w+:)?v(?:\s[^>]*)?>[^<]")
_CAPITALS = bytes(range(ord("A"), ord("Z") + 1))
# An address's digits as zeros and a namespace's colon as "<" (see _scan_chunk).
_SHAPE = bytes.maketrans(b"0123456789:", b"0" * 10 + b"<")
_MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_OFFICE_DOCUMENT = f"{_REL_NS}/officeDocument"
_TABLE_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"


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
    """Open ``path`` (CSV, XLSX, XLS or ODS by its content, or by its extension) and find
    its header."""
    data = _read_bytes(path)
    report = ReadReport()
    kind = _workbook_kind(path, data)
    if kind is not None:
        rows = _workbook_rows(path, data, kind, report)
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


# --- workbooks: XLSX, XLS, ODS -----------------------------------------------------------
def _workbook_kind(path: Path, data: bytes) -> str | None:
    """'xlsx', 'xls' or 'ods' when ``path`` is a workbook by its content or extension, else
    None (a CSV). The content decides when it is clear: a renamed file is read as what it is."""
    suffix = path.suffix.lower()
    if data.startswith(_OLE_MAGIC):
        return "xls"
    if data.startswith(_ZIP_MAGIC):
        return "ods" if suffix == ".ods" or _zip_mimetype(data) == _ODS_MIMETYPE else "xlsx"
    if suffix in XLSX_SUFFIXES:
        return "xlsx"
    return {".xls": "xls", ".ods": "ods"}.get(suffix)


def _zip_mimetype(data: bytes) -> bytes | None:
    """The ``mimetype`` member an OpenDocument file starts with, or None."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("mimetype")
            return archive.read(info).strip() if info.file_size < 200 else None
    except (KeyError, zipfile.BadZipFile, OSError, ValueError, RuntimeError):
        return None


def _workbook_rows(path: Path, data: bytes, kind: str, report: ReadReport) -> Iterator[Row]:
    """The first sheet's rows, read with calamine (Rust) after the checks it cannot make.

    XLSX and ODS are zips: their declared unpacked size is checked first, then the sheet's
    extent, since calamine holds a sheet as a full rectangle (one cell in column XFD would
    make every row 16,384 cells). A too wide or sparse XLSX is read with openpyxl's sparse
    parser instead; an ODS that repeats filled cells beyond that is refused. XLS is bounded
    by its format (65,536 × 256).
    """
    formulas: list[str] = []
    if kind == "xls":
        if _ENCRYPTED_STREAM in data:
            raise InterchangeError(_locked(path))
    elif kind == "ods":
        _check_ods(path, data)
    else:
        scan = _scan_xlsx(path, data)
        if scan.sparse:
            return _openpyxl_rows(path, data, report)
        formulas = scan.formulas
    return _calamine_rows(path, data, kind, report, formulas)


def _calamine_rows(
    path: Path, data: bytes, kind: str, report: ReadReport, formulas: list[str]
) -> Iterator[Row]:
    from python_calamine import CalamineWorkbook, PasswordError

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = workbook.get_sheet_by_index(0) if workbook.sheet_names else None
    except PasswordError as error:
        raise InterchangeError(_locked(path)) from error
    except BaseException as error:  # CalamineError, ValueError..., or a Rust panic
        if not _reader_failure(error):
            raise
        raise InterchangeError(_broken(path, kind)) from error
    return _dense_rows(path, kind, workbook, sheet, report, formulas)


def _reader_failure(error: BaseException) -> bool:
    """True for an error of the reader itself: a Rust panic (PanicException) derives from
    BaseException, and a broken file must not end the program."""
    return isinstance(error, Exception) or type(error).__name__ == "PanicException"


def _dense_rows(
    path: Path, kind: str, workbook, sheet, report: ReadReport, formulas: list[str]
) -> Iterator[Row]:
    """Rows of a calamine sheet as text, cut at the header's last column (MAX_COLUMNS until
    the header), with the same rejections and notes as :class:`_SheetState`."""
    beyond: list[str] = []
    try:
        if sheet is None:
            return
        # Rows and columns from A1 on, so that positions are the sheet's: iter_rows() starts
        # the columns, but not the rows, at the first filled cell.
        table = sheet.to_python(skip_empty_area=False)
        width, header_found = MAX_COLUMNS, False
        for number, values in enumerate(table, start=1):
            # The usual row is all text: joining it proves that and sums its lengths in C,
            # so that no cell needs looking at when the whole row is within a cell's limit.
            try:
                length = len("".join(values))
                cells = values
            except TypeError:  # a number or a date among the cells
                cells = [value if type(value) is str else cell_text(value) for value in values]
                length = len("".join(cells))
            row = cells[:width] if len(cells) > width else cells
            if length > MAX_CELL_CHARS and max(map(len, row), default=0) > MAX_CELL_CHARS:
                column = next(i for i, text in enumerate(row, 1) if len(text) > MAX_CELL_CHARS)
                report.rejected.append((number, _too_long(_coordinate(column, number))))
                continue
            if not header_found:
                used = max((i for i, text in enumerate(row, 1) if text), default=0)
                if not used:
                    continue
                header_found, width, row = True, used, row[:used]
            elif len(cells) > width:
                beyond.extend(_filled(cells, width, number))
            yield number, row
        _note_unread(report, formulas, beyond)
    except InterchangeError:
        raise
    except BaseException as error:
        if not _reader_failure(error):
            raise
        raise InterchangeError(_broken(path, kind)) from error
    finally:
        workbook.close()


def _filled(cells: list[str], width: int, number: int) -> Iterator[str]:
    """The coordinates of the filled cells of row ``number`` right of column ``width``."""
    for column, text in enumerate(cells[width:], width + 1):
        if text.strip():
            yield _coordinate(column, number)


def _check_unpacked_size(path: Path, data: bytes, kind: str = "xlsx") -> zipfile.ZipFile:
    """Refuse a workbook whose parts unpack to more than MAX_UNPACKED_BYTES: a few hundred
    kilobytes of zip can hold gigabytes of text. zipfile stops at the declared sizes, so
    the declaration is what counts. Returns the open archive."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise InterchangeError(_broken(path, kind)) from error
    if unpacked > MAX_UNPACKED_BYTES:
        archive.close()
        raise InterchangeError(
            f"Книга «{path.name}» в распакованном виде занимает {unpacked / 2**20:,.0f} МБ "
            f"(можно до {MAX_UNPACKED_BYTES // 2**20} МБ): в ней не только список клиентов. "
            "Скопируйте нужные столбцы в новую книгу или сохраните их как «CSV»."
        )
    return archive


@dataclass
class _SheetScan:
    """What a cheap pass over an XLSX sheet's XML found before calamine reads it."""

    rows: int = 0  # the last row number named
    columns: int = 0  # the last column number named
    sparse: bool = False  # too wide a rectangle, or cells without an address: read sparsely
    formulas: list[str] = field(default_factory=list)  # cells with a formula and no value


def _scan_xlsx(path: Path, data: bytes, *, exact: bool = False) -> _SheetScan:
    """Find the first sheet's extent and its formulas without a stored value.

    calamine gives a formula without a value as an empty cell, like an empty cell: the XML
    is looked at for them (a formula is rare in a client list, so this costs a search).

    The extent is found with searches that rarely match rather than by reading every cell's
    address (see :func:`_scan_chunk`); when what they leave unread could matter, the sheet
    is scanned again reading every address (``exact``), as it always was before.
    """
    scan = _SheetScan()
    with _check_unpacked_size(path, data) as archive:
        part = _first_sheet_part(archive)
        if part is None:
            raise InterchangeError(_not_xlsx(path))
        try:
            chunks = _xml_chunks(archive, part, b"</row>")
            bound = max((_scan_chunk(chunk, scan, exact) for chunk in chunks), default=0)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error) as error:
            raise InterchangeError(_not_xlsx(path)) from error
    if not scan.sparse and bound * scan.columns > DENSE_CELLS:
        return _scan_xlsx(path, data, exact=True)
    scan.sparse = scan.sparse or scan.rows * scan.columns > DENSE_CELLS
    return scan


def _scan_chunk(chunk: bytes, scan: _SheetScan, exact: bool) -> int:
    """Add a piece of the sheet's XML to ``scan``; return a bound of the row numbers that
    were not read (0: every one is counted in ``scan.rows``).

    Unless ``exact``, no address is read one by one where the piece cannot change the
    result: the columns only when a search finds a column beyond the last one known, the
    rows only when some row number has more digits than the last row's, or as many and
    their highest possible value would make too large a rectangle (else that value is the
    bound returned). A sheet as Excel writes it, rows in order, is so read at search speed.
    """
    if _UNADDRESSED.search(chunk):  # a cell placed by its order, not its r="B7"
        scan.sparse = True
    if exact or _columns_beyond(scan.columns).search(chunk):
        letters = set(_COLUMN_REF.findall(chunk))
        if letters:
            scan.columns = max(scan.columns, *map(_column_number, letters))
    # Each address's digits as zeros, its letters gone: ' r="AB123"' reads ' r="000"'; and
    # a formula's tag, <f> or <x:f>, reads "<f" either way.
    shape = chunk.translate(_SHAPE, _CAPITALS)
    bound = 0
    if not exact:
        last_row = chunk.rfind(b"<row ")
        if last_row >= 0 and (last := _ROW_REF.match(chunk, last_row + len(b"<row"))):
            scan.rows = max(scan.rows, int(last.group(1)))
        digits = len(str(scan.rows))
        prefix = b' r="' + b"0" * digits
        if shape.find(prefix + b"0") >= 0:  # a row number longer than the last row's
            exact = True
        elif shape.find(prefix + b'"') >= 0:  # as long: at most 99...9
            bound = 10**digits - 1
            exact = bound * max(scan.columns, 1) > DENSE_CELLS
    if exact:
        numbers = set(_ROW_REF.findall(chunk))
        if numbers:
            scan.rows = max(scan.rows, *map(int, numbers))
        bound = 0
    if b"<f" in shape:
        for match in _FORMULA.finditer(chunk):
            start = chunk.rfind(b"<c ", 0, match.start())
            end = chunk.find(b"</c>", match.end())
            if start < 0 or end < 0:
                scan.sparse = True  # not where a cell's formula is: let openpyxl judge
                continue
            cell = chunk[start:end]
            if not _VALUE.search(cell):
                ref = _CELL_REF.search(cell)
                scan.formulas.append(ref.group(1).decode() if ref else "?")
    return bound


@functools.lru_cache(maxsize=32)
def _columns_beyond(column: int) -> re.Pattern[bytes]:
    """A search for a cell address whose column comes after ``column`` (7: H to Z, AA...)."""
    letters = _coordinate(column, 1)[:-1].encode() if column else b""
    options = [rb"[A-Z]{%d,}" % (len(letters) + 1)]
    for index, letter in enumerate(letters):
        if letter < ord("Z"):
            rest = len(letters) - index - 1
            options.append(letters[:index] + b"[%c-Z]" % (letter + 1)
                           + (rb"[A-Z]{%d}" % rest if rest else b""))  # fmt: skip
    return re.compile(rb' r="(?:' + b"|".join(options) + rb")\d")


def _xml_chunks(archive: zipfile.ZipFile, part: str, boundary: bytes) -> Iterator[bytes]:
    """The XML of ``part`` in pieces of about _CHUNK_BYTES, each ending after ``boundary``
    (so a row is never split), read as it unpacks: a big sheet never sits in memory whole."""
    carry = b""
    with archive.open(part) as source:
        while block := source.read(_CHUNK_BYTES):
            block = carry + block
            cut = block.rfind(boundary)
            if cut < 0:
                carry = block
                continue
            cut += len(boundary)
            carry = block[cut:]
            yield block[:cut]
    if carry:
        yield carry


def _first_sheet_part(archive: zipfile.ZipFile) -> str | None:
    """The zip path of the workbook's first sheet, as its relationships name it."""
    from xml.etree import ElementTree

    try:
        book = _target(ElementTree.fromstring(archive.read("_rels/.rels")), _OFFICE_DOCUMENT)
        if book is None:
            return None
        book = book.lstrip("/")
        folder, _, name = book.rpartition("/")
        sheets = ElementTree.fromstring(archive.read(book)).find(f"{{{_MAIN_NS}}}sheets")
        first = None if sheets is None else next(iter(sheets), None)
        if first is None:
            return None
        rels = ElementTree.fromstring(archive.read(f"{folder}/_rels/{name}.rels"))
        target = _target(rels, None, first.get(f"{{{_REL_NS}}}id"))
    except (KeyError, ElementTree.ParseError, zipfile.BadZipFile, OSError, ValueError):
        return None
    if target is None:
        return None
    return target.lstrip("/") if target.startswith("/") else f"{folder}/{target}".lstrip("/")


def _target(rels, kind: str | None, rel_id: str | None = None) -> str | None:
    for rel in rels:
        if (kind and rel.get("Type") == kind) or (rel_id and rel.get("Id") == rel_id):
            return rel.get("Target")
    return None


def _check_ods(path: Path, data: bytes) -> None:
    """Refuse an ODS that is no OpenDocument spreadsheet, or whose first table, with its
    repeated cells and rows counted, is a larger rectangle than DENSE_CELLS."""
    from xml.etree import ElementTree

    with _check_unpacked_size(path, data, "ods") as archive:
        if _zip_mimetype(data) != _ODS_MIMETYPE:
            raise InterchangeError(_broken(path, "ods"))
        try:
            rows, columns = _ods_extent(archive.open("content.xml"))
        except (KeyError, ElementTree.ParseError, zipfile.BadZipFile, OSError, ValueError,
                EOFError, zlib.error) as error:  # fmt: skip
            raise InterchangeError(_broken(path, "ods")) from error
    if rows * columns > DENSE_CELLS:
        raise InterchangeError(
            f"Таблица «{path.name}» слишком велика: {rows:,} строк × {columns:,} столбцов "
            "с повторами. Скопируйте нужные столбцы в новую таблицу или сохраните их "
            "как «CSV»".replace(",", "\u00a0")
            + "."
        )


def _ods_extent(source) -> tuple[int, int]:
    """(last row, last column) holding a value in the first table, repeats counted."""
    from xml.etree import ElementTree

    table, row, cell = f"{{{_TABLE_NS}}}table", f"{{{_TABLE_NS}}}table-row", "table-cell"
    rows_repeated = f"{{{_TABLE_NS}}}number-rows-repeated"
    columns_repeated = f"{{{_TABLE_NS}}}number-columns-repeated"
    value_type = f"{{{_OFFICE_NS}}}value-type"
    last_row = last_column = row_number = column = row_last = 0
    for _event, element in ElementTree.iterparse(source):
        tag = element.tag
        if tag.endswith(cell) and tag.startswith(f"{{{_TABLE_NS}}}"):
            repeat = int(element.get(columns_repeated, "1"))
            if element.get(value_type) or len(element):
                row_last = column + repeat
            column += repeat
        elif tag == row:
            repeat = int(element.get(rows_repeated, "1"))
            if row_last:
                last_row, last_column = row_number + repeat, max(last_column, row_last)
            row_number += repeat
            column = row_last = 0
            element.clear()
        elif tag == table:
            break
    return last_row, last_column


def _openpyxl_rows(path: Path, data: bytes, report: ReadReport) -> Iterator[Row]:
    """A sparse or unusual XLSX, read cell by cell with openpyxl's sheet parser (slower)."""
    from openpyxl import load_workbook  # openpyxl takes 0.1 s to import: only when needed

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as error:  # BadZipFile, KeyError, ValueError...: openpyxl has no one kind
        raise InterchangeError(_not_xlsx(path)) from error
    return _sheet_rows(path, workbook, report)


def _broken(path: Path, kind: str) -> str:
    if kind == "xls":
        return (
            f"Файл «{path.name}» не является книгой Excel 97–2003 (.xls) или повреждён. "
            "Откройте его в Excel и сохраните заново как «Книга Excel (.xlsx)» или «CSV»."
        )
    if kind == "ods":
        return (
            f"Файл «{path.name}» не является таблицей OpenDocument (.ods) или повреждён. "
            "Откройте его в LibreOffice Calc и сохраните заново как «.ods», "
            "«Книга Excel (.xlsx)» или «CSV»."
        )
    return _not_xlsx(path)


def _locked(path: Path) -> str:
    return (
        f"Книга «{path.name}» защищена паролем, её прочитать нельзя. Откройте её в Excel, "
        "снимите пароль (Файл → Сведения → Защита книги) и сохраните заново."
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
        _note_unread(report, self.formulas, self.beyond)


def _note_unread(report: ReadReport, formulas: list[str], beyond: list[str]) -> None:
    """Say which formulas had no stored value and which filled cells had no header."""
    if formulas:
        report.notes.append(
            f"В {_count(len(formulas), 'ячейке', 'ячейках', 'ячейках')} формулы без "
            f"сохранённого значения ({_first_few(formulas)}): их значения не прочитаны. "
            "Откройте файл в Excel, сохраните его и импортируйте снова."
        )
    if beyond:
        cells = _count(len(beyond), "заполненная ячейка", "заполненные ячейки", "заполненных ячеек")
        report.notes.append(
            f"{cells} правее столбцов с заголовками не прочитаны "
            f"({_first_few(beyond)}): у них нет заголовка."
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
    """'XFD2' for column 16,384 of row 2."""
    letters = ""
    while column:
        column, rest = divmod(column - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"{letters}{row}"


def _column_number(letters: bytes) -> int:
    """16,384 for b'XFD'."""
    number = 0
    for letter in letters:
        number = number * 26 + letter - ord("A") + 1
    return number


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
