"""Exporting clients to CSV (for Excel in a Russian locale) or XLSX (written with xlsxwriter).

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
from collections.abc import Callable, Sequence
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
    writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)
    text = buffer.getvalue()
    try:
        return text.encode("cp1251")
    except UnicodeEncodeError:
        return text.encode("utf-8-sig")


def _write_xlsx(
    file: BinaryIO,
    header: Sequence[str],
    rows: list[list[str]],
    title: str,
    widths: list[float],
) -> None:
    """Write the sheet with xlsxwriter row by row (constant memory: each row goes to a
    temporary file as soon as the next one starts). Every value is written as text: phones
    keep their "+" and zeros, and a value starting with "=" stays text, never a formula."""
    import xlsxwriter  # imported only when needed, as the GUI starts faster without it

    workbook = xlsxwriter.Workbook(file, {"constant_memory": True})
    try:
        sheet = workbook.add_worksheet(title)
        for number, width in enumerate(widths):
            sheet.set_column(number, number, width)
        sheet.freeze_panes(1, 0)
        sheet.autofilter(0, 0, len(rows), len(header) - 1)
        sheet.write_row(0, 0, header, workbook.add_format({"bold": True}))
        write = sheet.write_string
        for number, row in enumerate(rows, start=1):
            for column, value in enumerate(row):
                if value:
                    write(number, column, _ILLEGAL_CHARACTERS.sub("", value))
    finally:
        workbook.close()


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
