"""Exporting clients to CSV (for Excel in a Russian locale) or XLSX (written here, see
:func:`_write_xlsx`).

The file is written beside its destination under a temporary name and moved into place only
when complete, so a failed export never leaves half a file (nor spoils an older export).
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
import sqlite3
import zipfile
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from avtoprokat_mail.interchange.errors import InterchangeError
from avtoprokat_mail.model import CLIENT_LABELS, CLIENT_TEXT_FIELDS
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.validation import ru_date, spreadsheet_safe

# The consent is written ДД.ММ.ГГГГ; «Недоставлено» only informs (the import does not load it).
EXPORT_FIELDS: tuple[str, ...] = (*CLIENT_TEXT_FIELDS, "marked", "opt_out", "consent", "bounced")
EXPORT_HEADER: tuple[str, ...] = tuple(CLIENT_LABELS[name] for name in EXPORT_FIELDS)
YES, NO = "да", ""  # how the flags are written; the import reads them back
_TEXTS = slice(1, 1 + len(CLIENT_TEXT_FIELDS))
_MARKED, _OPT_OUT, _CONSENT, _BOUNCED = (
    client_store.ROW_COLUMNS.index(name) for name in ("marked", "opt_out", "consent", "bounced")
)
_WIDTH_SAMPLE = 2000  # rows looked at to size the XLSX columns
_PHONE_FIELDS = frozenset({"mobile", "phone"})
# Control characters XML 1.0 cannot hold (tab, LF and CR it can).
_ILLEGAL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_ILLEGAL_BUT_NUL = re.compile(r"[\x01-\x08\x0b\x0c\x0e-\x1f]")  # NUL joins the cells below
# Text Excel would read as one of its own escapes (_x000D_ is a CR): its "_" escaped too.
_EXCEL_ESCAPE = re.compile(r"(_x[0-9a-fA-F]{4}_)")
_ILLEGAL_BYTES = bytes([*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
# Whitespace an XML reader may drop at a value's edges unless told to keep it; as UTF-8
# bytes at the start or end of a value joined to others by NUL.
_XML_SPACES = (" ", "\t", "\n")
_EDGE_BYTES = (b" ", b"\t", b"\n")
_EDGE_NEEDLES = tuple(chain.from_iterable((b"\x00" + edge, edge + b"\x00") for edge in _EDGE_BYTES))
_XLSX_BATCH = 1000  # rows made into XML (or checked for CSV) at a time
# A cell, among cells joined by NUL, that spreadsheet_safe() would change: starting with
# one of = + - @ tab CR, and not a plain number (a phone in +7 form is one).
_FORMULA_CELL = re.compile(
    r"[=+\-@\t\r](?<![^\x00][=+\-@\t\r])(?!(?<=[+-])\d+(?:[.,]\d+)?(?:\x00|\Z))"
)
_XLSX_COMPRESSION = 3  # zlib's level: four times faster than 6, as small within 5 %


def export_clients(
    conn: sqlite3.Connection, path: Path, *, ids: Sequence[int] | None = None
) -> int:
    """Write clients to ``path``, CSV or XLSX by its extension; return how many were written.

    ``ids=None`` exports every client in id order; otherwise the given clients in the given
    order (the order the user sees them), unknown ids skipped. Raises
    :class:`InterchangeError` for another extension or when the file cannot be written.
    """
    rows = [_export_row(row) for row in _selected_rows(conn, ids)]
    min_widths = [16 if name in _PHONE_FIELDS else 0 for name in EXPORT_FIELDS]
    write_table(path, EXPORT_HEADER, rows, sheet="Клиенты", min_widths=min_widths)
    return len(rows)


def write_table(
    path: Path,
    header: Sequence[str],
    rows: list[list[str]],
    *,
    sheet: str,
    min_widths: Sequence[int] = (),
) -> None:
    """Write a header and rows of text to ``path``: CSV or XLSX by its extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InterchangeError(
            f"Не знаю, как записать файл «{Path(path).name}»: "
            "укажите расширение .csv (для Excel и других программ) или .xlsx (книга Excel)."
        )
    if suffix == ".csv":
        data = csv_bytes(rows, header)
        _write_atomically(path, lambda file: file.write(data))
    else:
        widths = _column_widths(header, rows, min_widths)
        _write_atomically(path, lambda file: _write_xlsx(file, header, rows, sheet, widths))


def _selected_rows(conn: sqlite3.Connection, ids: Sequence[int] | None) -> list[tuple]:
    rows = client_store.fetch_rows(conn)
    if ids is None:
        return rows
    by_id = {row[0]: row for row in rows}
    return [by_id[i] for i in dict.fromkeys(ids) if i in by_id]


def _export_row(row: tuple) -> list[str]:
    """A storage row (:data:`~avtoprokat_mail.storage.clients.ROW_COLUMNS`) as the cells of
    :data:`EXPORT_FIELDS`."""
    return [
        *row[_TEXTS],
        YES if row[_MARKED] else NO,
        YES if row[_OPT_OUT] else NO,
        ru_date(row[_CONSENT]),
        YES if row[_BOUNCED] else NO,
    ]


def csv_bytes(rows: list[list[str]], header: Sequence[str] = EXPORT_HEADER) -> bytes:
    """The CSV file as Excel in a Russian locale writes and reads it: ';', CRLF, cp1251.

    When some value has a character Windows-1251 cannot hold (an emoji, "ß", "ł", ...), the
    whole file is written as UTF-8 with a BOM instead: Excel recognises the BOM, the import
    reads both, and no character is lost or replaced by "?".
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(_formula_safe(rows))
    text = buffer.getvalue()
    try:
        return text.encode("cp1251")
    except UnicodeEncodeError:
        return text.encode("utf-8-sig")


def _formula_safe(rows: list[list[str]]) -> list[list[str]]:
    """``rows`` with :func:`~avtoprokat_mail.validation.spreadsheet_safe` applied to every
    cell, looked at a thousand rows at a time: only a row with a cell it would change is
    copied and changed (rare: a phone in +7 form or a number stays as it is).

    A batch's cells are joined by NUL and searched once for a cell starting with = + - @
    tab or CR that is not a plain number (spreadsheet_safe's rule); a batch where a value
    holds a NUL itself, or is not text, or whose rows differ in width, goes cell by cell.
    """
    safe = list(rows)
    for start in range(0, len(rows), _XLSX_BATCH):
        batch = rows[start : start + _XLSX_BATCH]
        width = len(batch[0])
        try:
            joined = "\x00".join(chain.from_iterable(batch))
            regular = set(map(len, batch)) == {width} and joined.count("\x00") == (
                len(batch) * width - 1
            )
        except TypeError:  # a value that is not text
            regular = False
        if not regular:
            safe[start : start + len(batch)] = [
                [spreadsheet_safe(cell) for cell in row] for row in batch
            ]
            continue
        position = cell = 0
        for match in _FORMULA_CELL.finditer(joined):
            cell += joined.count("\x00", position, match.start())
            position = match.start()
            number = start + cell // width
            safe[number] = [spreadsheet_safe(value) for value in rows[number]]
    return safe


def _write_xlsx(
    file: BinaryIO,
    header: Sequence[str],
    rows: list[list[str]],
    title: str,
    widths: list[float],
) -> None:
    """Write the workbook: a zip of the six parts a one-sheet workbook needs, the sheet's XML
    made a thousand rows at a time and compressed as it is made.

    Every value is written as text (an inline string): phones keep their "+" and zeros, and
    a value starting with "=" stays text, never a formula. The header is bold, the columns
    have their widths, the first row is frozen and has an autofilter; control characters
    XML cannot hold are dropped, as xlsxwriter, which wrote these files before, did (and
    escaped a CR and text like "_x000D_" as it did). Written here because xlsxwriter spends
    some 5 µs a cell in Python: 100,000 clients took 4.9 s, now about a fifth of it.
    """
    last_column, last_row = _column_letters(len(header) - 1), len(rows) + 1
    last, absolute = f"{last_column}{last_row}", f"${last_column}${last_row}"
    name = _xml_escape(title[:31])
    quoted = _xml_escape("'" + title[:31].replace("'", "''") + "'")
    columns = "".join(
        f'<col min="{number}" max="{number}" width="{_excel_width(width)}" customWidth="1"/>'
        for number, width in enumerate(widths, start=1)
    )
    with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED, compresslevel=_XLSX_COMPRESSION) as book:
        book.writestr("[Content_Types].xml", _CONTENT_TYPES)
        book.writestr("_rels/.rels", _PACKAGE_RELS)
        book.writestr(
            "xl/workbook.xml", _WORKBOOK.format(name=name, quoted=quoted, absolute=absolute)
        )
        book.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        book.writestr("xl/styles.xml", _STYLES)
        with book.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(_SHEET_START.format(last=last, columns=columns).encode())
            for piece in _sheet_rows(header, rows):
                sheet.write(piece.encode())
            sheet.write(_SHEET_END.format(last=last).encode())


def _sheet_rows(header: Sequence[str], rows: list[list[str]]) -> Iterator[str]:
    """The <row> elements of the header (bold: style 1) and the rows, a batch at a time."""
    letters = [_column_letters(index) for index in range(len(header))]
    yield _rows_xml([list(header)], 1, letters, ' s="1"')
    for start in range(0, len(rows), _XLSX_BATCH):
        yield _rows_xml(rows[start : start + _XLSX_BATCH], start + 2, letters, "")


def _rows_xml(rows: list[list[str]], first: int, letters: list[str], style: str) -> str:
    """Rows numbered from ``first``, each non-empty value an inline string.

    The batch's values are cleaned and escaped together (:func:`_xml_texts`), so that the
    work per cell is one f-string: some 0.15 µs, where xlsxwriter spent 5 µs.
    """
    texts, spaced = _xml_texts(rows, len(letters))
    openings = [f'<c r="{letter}' for letter in letters]
    middle = f'"{style} t="inlineStr"><is><t>'
    keeping = f'"{style} t="inlineStr"><is><t xml:space="preserve">'  # edge spaces kept
    parts: list[str] = []
    append = parts.append
    cells = iter(texts)
    for number in range(first, first + len(rows)):
        row = str(number)
        append(f'<row r="{row}">')
        for opening in openings:
            text = next(cells)
            if not text:
                continue
            if spaced and (text[0] in _XML_SPACES or text[-1] in _XML_SPACES):
                append(f"{opening}{row}{keeping}{text}</t></is></c>")
            else:
                append(f"{opening}{row}{middle}{text}</t></is></c>")
        append("</row>")
    return "".join(parts)


def _xml_texts(rows: list[list[str]], width: int) -> tuple[list[str], bool]:
    """The rows' values, ``width`` a row, as XML text, and whether a value starts or ends
    with a space (rare: such a value needs xml:space="preserve").

    Control characters XML cannot hold are dropped, & < > escaped, a CR and text that
    Excel would read as its own escape (_x000D_) written as Excel reads them back. The
    values are joined by NUL (which no value keeps) and looked at together, mostly as
    UTF-8 bytes, where searching is fastest.
    """
    try:
        joined = "\x00".join(chain.from_iterable(rows))
        regular = joined.count("\x00") == len(rows) * width - 1 and set(map(len, rows)) == {width}
    except TypeError:  # a value that is not text
        regular = False
    if not regular:  # a NUL in a value, a row of another width: each value on its own
        rows = [[_ILLEGAL_CHARACTERS.sub("", str(value)) for value in row[:width]]
                + [""] * (width - len(row)) for row in rows]  # fmt: skip
        joined = "\x00".join(chain.from_iterable(rows))
    data = joined.encode()
    if len(data.translate(None, _ILLEGAL_BYTES)) != len(data):
        joined = _ILLEGAL_BUT_NUL.sub("", joined)
        data = joined.encode()
    spaced = data[:1] in _EDGE_BYTES or data[-1:] in _EDGE_BYTES
    spaced = spaced or any(needle in data for needle in _EDGE_NEEDLES)
    joined = joined.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if "_x" in joined:
        joined = _EXCEL_ESCAPE.sub(r"_x005F\1", joined)
    if "\r" in joined:
        joined = joined.replace("\r", "_x000D_")
    if "\ufffe" in joined or "\uffff" in joined:
        joined = joined.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    return joined.split("\x00"), spaced


def _xml_escape(text: str) -> str:
    """``text`` for an XML attribute or element."""
    text = _ILLEGAL_CHARACTERS.sub("", text)
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _column_letters(index: int) -> str:
    """'A' for column 0, 'M' for 12, 'AA' for 26."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _excel_width(characters: float) -> str:
    """A column width in characters as Excel stores it: the pixels of that many digits of
    the default font (7 pixels each) and 5 pixels of margin, in 1/256 of a digit."""
    pixels = int(characters * 7 + 0.5) + 5
    return f"{pixels * 256 // 7 / 256:.16g}"


_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE = "http://schemas.openxmlformats.org/package/2006"
_OFFICE = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_CONTENT_TYPES = (
    f'{_XML}<Types xmlns="{_PACKAGE}/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_OFFICE}.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_OFFICE}.worksheet+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{_OFFICE}.styles+xml"/>'
    "</Types>"
)
_PACKAGE_RELS = (
    f'{_XML}<Relationships xmlns="{_PACKAGE}/relationships">'
    f'<Relationship Id="rId1" Type="{_RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK_RELS = (
    f'{_XML}<Relationships xmlns="{_PACKAGE}/relationships">'
    f'<Relationship Id="rId1" Type="{_RELATIONSHIPS}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_RELATIONSHIPS}/styles" Target="styles.xml"/>'
    "</Relationships>"
)
# The autofilter's range is named as Excel names it, or Excel would drop the filter.
_WORKBOOK = (
    f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}">'
    '<bookViews><workbookView xWindow="240" yWindow="15" windowWidth="16095" windowHeight="9660"/>'
    '</bookViews><sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets>'
    '<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
    "{quoted}!$A$1:{absolute}</definedName></definedNames>"
    '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'
)
_STYLES = (
    f'{_XML}<styleSheet xmlns="{_MAIN}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)
_SHEET_START = (
    f'{_XML}<worksheet xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}">'
    '<dimension ref="A1:{last}"/><sheetViews><sheetView tabSelected="1" workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
    '<selection pane="bottomLeft"/></sheetView></sheetViews>'
    '<sheetFormatPr defaultRowHeight="15"/><cols>{columns}</cols><sheetData>'
)
_SHEET_END = (
    '</sheetData><autoFilter ref="A1:{last}"/>'
    '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
    "</worksheet>"
)


def _column_widths(
    header: Sequence[str], rows: list[list[str]], min_widths: Sequence[int]
) -> list[float]:
    """Widths in characters from the header and the first rows, within 8..50."""
    widths = []
    sample = rows[:_WIDTH_SAMPLE]
    for index, label in enumerate(header):
        longest = max([len(label), *(len(str(row[index])) for row in sample)])
        if index < len(min_widths):
            longest = max(longest, min_widths[index])
        widths.append(min(max(longest + 2, 8), 50))
    return widths


def _write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through ``write`` into a temporary file beside ``path``, then move it into place."""
    temporary = path.with_name(f".~{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        try:
            with open(temporary, "xb") as file:
                write(file)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    except FileNotFoundError as error:
        raise InterchangeError(f"Папка «{path.parent}» не существует.") from error
    except IsADirectoryError as error:
        raise InterchangeError(f"«{path}» — это папка, а не файл.") from error
    except PermissionError as error:
        raise InterchangeError(
            f"Файл «{path}» открыт в другой программе или недоступен для записи. "
            "Закройте его (например, в Excel) или выберите другую папку и попробуйте снова."
        ) from error
    except OSError as error:
        raise InterchangeError(f"Не удаётся записать файл «{path}»: {error.strerror}.") from error
