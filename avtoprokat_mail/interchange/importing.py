"""Planning and applying an import of clients: read, check, match, then write in one go.

:func:`plan_import` writes nothing, so the GUI can show what will happen (and the CLI's
``--dry-run`` can print it); :func:`apply_import` writes the plan in one transaction, so a
failure leaves the directory as it was: nothing half-imported.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

from avtoprokat_mail.interchange.columns import Layout, expected_headers
from avtoprokat_mail.interchange.columns import recognise as recognise_columns
from avtoprokat_mail.interchange.errors import InterchangeError
from avtoprokat_mail.interchange.reading import read_table
from avtoprokat_mail.model import CLIENT_TEXT_FIELDS, Client
from avtoprokat_mail.storage import DatabaseError, database_file, describe_error, transaction
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.validation import (
    client_problems,
    is_valid_mobile,
    mobile_for_sending,
    normalize_mobile,
    parse_date,
)

_TRUE = frozenset({"1", "да", "д", "yes", "y", "true", "истина", "x", "х", "+", "v", "✓", "✔"})
_FALSE = frozenset({"0", "", "нет", "н", "no", "n", "false", "ложь", "-"})
_FLAGS = ("marked", "opt_out")
# Stored clients are read one by one below this many matches, all at once above it.
_BULK_READ_FROM = 500
# Consent cells whose verdict is remembered (a file repeats a few dates many times).
_REMEMBERED_CONSENTS = 10_000


@dataclass
class RejectedRow:
    """A row left out of the import. ``line`` is the file line (header = 1) or sheet row."""

    line: int
    reason: str  # in Russian, for the user


@dataclass
class ImportPlan:
    """What an import will do. Nothing is written until :func:`apply_import`."""

    path: Path
    added: list[Client]  # new clients (id None)
    updated: list[Client]  # stored clients with their id, merged with the file's values
    rejected: list[RejectedRow]
    rows_read: int  # data rows seen, not counting the header or blank lines
    columns: dict[str, str] = field(default_factory=dict)  # field -> header as in the file
    ignored_columns: list[str] = field(default_factory=list)  # headers naming no field
    # Consent cells that are neither a date nor yes/no: (line, text). Their rows are imported,
    # the consent left as it was (none for a new client).
    unreadable_consent: list[tuple[int, str]] = field(default_factory=list)
    # What the file held that was not read, in sentences for the user (an unusual encoding,
    # formulas without stored values, cells without a header).
    notes: list[str] = field(default_factory=list)


def parse_flag(text: str) -> bool | None:
    """A yes/no cell ("да", "1", "x", "+" / "нет", "0", empty) as a bool; None if unclear."""
    key = text.strip().casefold()
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    return None


def plan_import(conn: sqlite3.Connection, path: Path) -> ImportPlan:
    """Read ``path``, check every row and match it against the directory. Writes nothing.

    Raises :class:`InterchangeError` when the file cannot be read or has no usable header;
    bad rows do not raise, they are listed in :attr:`ImportPlan.rejected`.
    """
    path = Path(path)
    table = read_table(path)
    layout = recognise_columns(table.header)
    if layout is None:
        raise InterchangeError(
            f"В файле «{path.name}» не найдено ни одного известного столбца с именем, "
            f"организацией, email или сотовым телефоном (строка заголовка {table.header_line}). "
            f"Первая строка файла должна содержать заголовки столбцов: {expected_headers()}."
        )
    by_email, by_mobile = client_store.identity_index(conn)
    _add_normal_mobiles(by_mobile)
    planner = _Planner(layout, by_email, by_mobile, table.strict_width)
    for line, cells in table.rows:
        planner.take(line, cells)
    updated = _merged(conn, planner.matches)
    unread = [RejectedRow(line, reason) for line, reason in table.report.rejected]
    return ImportPlan(
        path=path,
        added=planner.added,
        updated=updated,
        rejected=sorted(planner.rejected + unread, key=lambda row: row.line),
        rows_read=planner.rows_read + len(unread),
        columns=dict(layout.labels),
        ignored_columns=list(layout.ignored),
        unreadable_consent=planner.unreadable_consent,
        notes=list(table.report.notes),
    )


def _add_normal_mobiles(by_mobile: dict[str, int]) -> None:
    """Let a stored mobile written as '8 (903) 111-22-33' match the file's +79031112233.

    The file's mobiles are normalised before matching; stored ones may not be (typed by hand
    before validation, or imported by older versions). Canonical entries keep precedence.
    """
    for mobile, client_id in list(by_mobile.items()):
        if not is_valid_mobile(mobile):
            normal = normalize_mobile(mobile)
            if normal:
                by_mobile.setdefault(normal, client_id)


def apply_import(conn: sqlite3.Connection, plan: ImportPlan) -> None:
    """Write the plan in one transaction: all of it or, on any failure, nothing.

    Raises :class:`~avtoprokat_mail.storage.DatabaseError` (with a Russian message) when the
    database refuses the write; the directory is then unchanged.
    """
    try:
        with transaction(conn):
            client_store.add_clients(conn, plan.added)
            client_store.update_clients(conn, plan.updated)
    except sqlite3.Error as error:
        why = describe_error(error, database_file(conn))
        raise DatabaseError(
            f"Импорт из «{plan.path.name}» не выполнен, справочник не изменён. {why}"
        ) from error


class _Planner:
    """Checks rows one by one; the hot loop of a 100,000-row import, so kept lean.

    Each row becomes its :class:`Client` at once (positionally, from the file's columns, an
    absent field read from an empty cell appended to the row), so the check and the plan
    share one record; a consent cell's verdict is remembered by its text, as a file repeats
    a few dates many times.
    """

    def __init__(
        self,
        layout: Layout,
        by_email: dict[str, int],
        by_mobile: dict[str, int],
        strict_width: bool,
    ) -> None:
        columns = layout.columns
        self.text_names = tuple(f for f in CLIENT_TEXT_FIELDS if f in columns)
        # Every text field of Client in order; an absent one reads the appended empty cell.
        self.pick = itemgetter(*(columns.get(f, layout.width) for f in CLIENT_TEXT_FIELDS))
        self.flag_columns = [(f, columns[f]) for f in _FLAGS if f in columns]
        self.consent_column = columns.get("consent")
        self.today = dt.date.today().isoformat()  # the consent of a «да» cell
        self.labels = layout.labels
        self.width = layout.width
        self.needed = layout.last_used + 1  # a row shorter than this lost a used cell
        self.strict_width = strict_width
        self.by_email = by_email
        self.by_mobile = by_mobile
        self.added: list[Client] = []
        self.matches: list[tuple[int, dict]] = []  # (client id, the file's values to merge)
        self.rejected: list[RejectedRow] = []
        self.unreadable_consent: list[tuple[int, str]] = []
        self.rows_read = 0
        self._email_line: dict[str, int] = {}  # casefolded email -> first accepted line
        self._mobile_line: dict[str, int] = {}
        self._client_line: dict[int, int] = {}  # matched client id -> first line matching it
        self._consents: dict[str, tuple[str | None, str | None]] = {}  # cell -> _consent()

    def take(self, line: int, cells: list[str]) -> None:
        if not "".join(cells).strip():
            return  # a blank line: not a row at all
        self.rows_read += 1
        if len(cells) != self.width:
            problem = self._width_problem(cells)
            if problem:
                self.rejected.append(RejectedRow(line, problem))
                return
            cells = cells[: self.width] + [""] * (self.width - len(cells))
        client = Client(*map(str.strip, self.pick([*cells, ""])))
        problem = self._check(client)
        flag_problem = self._flags(cells, client) if self.flag_columns else None
        if problem or flag_problem:
            reason = "; ".join(p for p in (problem, flag_problem) if p)
            self.rejected.append(RejectedRow(line, reason))
            return
        consent = unreadable = None
        if self.consent_column is not None:
            cell = cells[self.consent_column]
            known = self._consents.get(cell)
            if known is None:
                known = self._consent(cell)
                if len(self._consents) < _REMEMBERED_CONSENTS:
                    self._consents[cell] = known
            consent, unreadable = known
        if self._place(line, client, consent) and unreadable:
            self.unreadable_consent.append((line, unreadable))

    def _width_problem(self, cells: list[str]) -> str | None:
        count = len(cells)
        if count > self.width:
            if self.strict_width and "".join(cells[self.width :]).strip():
                return f"лишние столбцы: {count} вместо {self.width}"
            return None
        if self.strict_width and count < self.needed:
            return f"мало столбцов: {count} вместо {self.width}"
        return None

    @staticmethod
    def _check(client: Client) -> str | None:
        """Why the row is refused (the form's rule, :func:`client_problems`), or None.

        An accepted row's mobile is rewritten in its +7 form, as the form stores it.
        """
        problems = client_problems(client)
        if problems:
            return "; ".join(problem.message for problem in problems)
        if client.mobile:
            client.mobile = mobile_for_sending(client.mobile) or client.mobile
        return None

    def _flags(self, cells: list[str], client: Client) -> str | None:
        """Set the row's yes/no columns on ``client``; why a cell is unclear, or None."""
        for name, index in self.flag_columns:
            value = parse_flag(cells[index])
            if value is None:
                text, label = cells[index].strip(), self.labels[name]
                return f"в столбце «{label}» непонятное «{text}»: нужно «да» или «нет»"
            setattr(client, name, value)
        return None

    def _consent(self, cell: str) -> tuple[str | None, str | None]:
        """(the consent to store or None to leave it, the cell's text when it is unreadable).

        A date (ДД.ММ.ГГГГ, ISO, an Excel date cell, a time after it ignored) is the consent's
        day; «да» is a consent given by the import's day; «нет» is no consent; empty says
        nothing.
        """
        text = cell.strip()
        if not text:
            return None, None
        if date := parse_date(text.split(" ", 1)[0].split("T", 1)[0]):
            return date, None
        answer = parse_flag(text)
        if answer is None:
            return None, text
        return (self.today if answer else ""), None

    def _place(self, line: int, client: Client, consent: str | None) -> bool:
        """Match the checked row: a repeat of an earlier row (rejected: False), an update, or
        a new client."""
        email_key = client.email.casefold()
        mobile = client.mobile
        earlier = self._email_line.get(email_key) if email_key else self._mobile_line.get(mobile)
        if earlier is not None:
            self.rejected.append(RejectedRow(line, f"повторяет строку {earlier}"))
            return False
        client_id = self.by_email.get(email_key) if email_key else None
        if client_id is None and mobile:
            client_id = self.by_mobile.get(mobile)
        if client_id is not None:
            earlier = self._client_line.get(client_id)
            if earlier is not None:
                reason = f"повторяет строку {earlier}: тот же клиент в справочнике"
                self.rejected.append(RejectedRow(line, reason))
                return False
            self._client_line[client_id] = line
            changes: dict[str, object] = {}
            for name in self.text_names:
                if value := getattr(client, name):
                    changes[name] = value
            for name, _ in self.flag_columns:
                changes[name] = getattr(client, name)
            if consent is not None:
                changes["consent"] = consent
            self.matches.append((client_id, changes))
        else:
            if consent:
                client.consent = consent
            self.added.append(client)
        if email_key:
            self._email_line[email_key] = line
        if mobile:
            self._mobile_line.setdefault(mobile, line)
        return True


def _merged(conn: sqlite3.Connection, matches: list[tuple[int, dict]]) -> list[Client]:
    """The matched stored clients with the file's values written over theirs."""
    if not matches:
        return []
    ids = [client_id for client_id, _ in matches]
    stored: dict[int, Client | None]
    if len(ids) < _BULK_READ_FROM:
        stored = {client_id: client_store.get_client(conn, client_id) for client_id in ids}
    else:
        wanted = set(ids)
        stored = {
            row[0]: client_store.client_from_row(row)
            for row in client_store.iter_rows(conn)
            if row[0] in wanted
        }
    updated = []
    for client_id, changes in matches:
        client = stored.get(client_id)
        if client is None:  # deleted since the index was read: nothing left to update
            continue
        for name, value in changes.items():
            setattr(client, name, value)
        updated.append(client)
    return updated
