"""The client directory as the grid shows it: filtering, sorting and marks in memory.

No tkinter here. The GUI binds :class:`ClientTable.grid` to the sheet (tksheet keeps a
reference to the list, so reordering it in place reorders the sheet), and the CLI's
``clients mark --search`` uses the same :meth:`ClientTable.matching`, so a search marks
exactly the rows the window would show.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from avtoprokat_mail.model import CLIENT_LABELS, CLIENT_TEXT_FIELDS
from avtoprokat_mail.storage.clients import ROW_COLUMNS
from avtoprokat_mail.validation import is_valid_email, mobile_for_sending

# Grid columns: the mark check box, the text fields, the opt-out flag as a word, the day of
# the consent to mailings (ДД.ММ.ГГГГ). Whether the email bounced is not a column: the grid
# paints the email cell (ClientTable.bounced).
GRID_COLUMNS: tuple[str, ...] = ("marked", *CLIENT_TEXT_FIELDS, "opt_out", "consent")
GRID_HEADERS: tuple[str, ...] = (
    "✓", *(CLIENT_LABELS[f] for f in CLIENT_TEXT_FIELDS), "Отказ", "Согласие",
)  # fmt: skip
MARK_COLUMN = 0
EMAIL_COLUMN = GRID_COLUMNS.index("email")
MOBILE_COLUMN = GRID_COLUMNS.index("mobile")
OPT_OUT_COLUMN = GRID_COLUMNS.index("opt_out")
CONSENT_COLUMN = GRID_COLUMNS.index("consent")
OPT_OUT_TEXT = "отказ"

_ID = ROW_COLUMNS.index("id")
_TEXTS = slice(1, 1 + len(CLIENT_TEXT_FIELDS))
_MARKED = ROW_COLUMNS.index("marked")
_OPT_OUT = ROW_COLUMNS.index("opt_out")
_CONSENT = ROW_COLUMNS.index("consent")
_BOUNCED = ROW_COLUMNS.index("bounced")
_ORGANIZATION = GRID_COLUMNS.index("organization")


class OptOut(Enum):
    """The opt-out filter: everybody, only those who refused mailings, or only the others."""

    ANY = "все"
    ONLY = "только отказавшиеся"
    EXCLUDE = "без отказавшихся"


@dataclass(frozen=True)
class ClientFilter:
    """What the user asked to see. The default shows every client."""

    text: str = ""
    organization: str = ""
    has_email: bool = False
    has_valid_mobile: bool = False
    marked_only: bool = False
    opt_out: OptOut = OptOut.ANY
    bounced_only: bool = False  # only the clients whose email comes back undelivered

    @property
    def is_empty(self) -> bool:
        return self == ClientFilter()


def fold(text: str) -> str:
    """Case- and ё-insensitive form for searching ("Ёлкин" finds "елкин")."""
    return text.casefold().replace("ё", "е")


def grid_row(row: Sequence) -> list:
    """A storage row (:data:`ROW_COLUMNS`) as a grid row (:data:`GRID_COLUMNS`).

    The consent's ISO date is turned into ДД.ММ.ГГГГ inline (:func:`ru_date` spelled out):
    this runs for every client when the window opens.
    """
    consent = row[_CONSENT]
    return [
        bool(row[_MARKED]),
        *row[_TEXTS],
        OPT_OUT_TEXT if row[_OPT_OUT] else "",
        consent and f"{consent[8:10]}.{consent[5:7]}.{consent[:4]}",
    ]


def _date_key(text: str) -> str:
    """A ДД.ММ.ГГГГ cell as a key that sorts by date."""
    return text[6:] + text[3:5] + text[:2]


class ClientTable:
    """The directory in memory: grid rows with their ids, search keys and validity flags.

    An email or mobile is flagged bad exactly when a run would skip the client for it (the
    checks of avtoprokat_mail/validation.py that sending/campaign.py uses too): a mobile
    written "8 (903) 111-22-33" is not bad, a run sends to +79031112233.

    ``bounced`` says whose email comes back undelivered (the grid paints those cells).

    The lists are parallel and always reordered together; indexes into them are the sheet's
    data indexes.
    """

    def __init__(self, rows: Sequence[Sequence]) -> None:
        self.grid: list[list] = []
        self.ids: list[int] = []
        self._keys: list[str] = []
        self.bad_email: list[bool] = []
        self.bad_mobile: list[bool] = []
        self.bounced: list[int] = []  # 0/1 as stored
        self.reset(rows)

    def reset(self, rows: Iterable[Sequence]) -> None:
        """Replace every row, keeping the list objects (the sheet holds a reference).

        ``rows`` may be a cursor: the storage rows are consumed one at a time and never held
        all at once. Built column by column with comprehensions: at 100,000 clients this is
        the bulk of opening the window, and a per-row method call would double it.
        """
        grid, ids, bounced = self.grid, self.ids, self.bounced
        grid.clear()
        ids.clear()
        bounced.clear()
        for row in rows:
            ids.append(row[_ID])
            bounced.append(row[_BOUNCED])
            grid.append(grid_row(row))
        self._keys[:] = [fold("\x1f".join(row[1:OPT_OUT_COLUMN])) for row in self.grid]
        self.bad_email[:] = [
            bool(r[EMAIL_COLUMN]) and not is_valid_email(r[EMAIL_COLUMN]) for r in self.grid
        ]
        self.bad_mobile[:] = [
            bool(r[MOBILE_COLUMN]) and mobile_for_sending(r[MOBILE_COLUMN]) is None
            for r in self.grid
        ]

    def __len__(self) -> int:
        return len(self.grid)

    # --- rows -------------------------------------------------------------------------
    def append(self, row: Sequence) -> int:
        """Add a storage row at the end; returns its index."""
        self.grid.append(grid_row(row))
        self.ids.append(row[_ID])
        self.bounced.append(row[_BOUNCED])
        self._keys.append("")
        self.bad_email.append(False)
        self.bad_mobile.append(False)
        self._refresh(len(self.grid) - 1)
        return len(self.grid) - 1

    def replace(self, index: int, row: Sequence) -> None:
        """Put a fresh storage row at ``index`` (after the client was edited)."""
        self.grid[index][:] = grid_row(row)
        self.ids[index] = row[_ID]
        self.bounced[index] = row[_BOUNCED]
        self._refresh(index)

    def remove(self, indexes: Sequence[int]) -> None:
        """Drop the rows at ``indexes``."""
        gone = set(indexes)
        keep = [i for i in range(len(self.grid)) if i not in gone]
        self._reorder(keep)

    def index_of(self, client_id: int) -> int:
        """The row index of a client id (ValueError when absent)."""
        return self.ids.index(client_id)

    def _refresh(self, index: int) -> None:
        row = self.grid[index]
        self._keys[index] = fold("\x1f".join(row[1:OPT_OUT_COLUMN]))
        email, mobile = row[EMAIL_COLUMN], row[MOBILE_COLUMN]
        self.bad_email[index] = bool(email) and not is_valid_email(email)
        self.bad_mobile[index] = bool(mobile) and mobile_for_sending(mobile) is None

    # --- filtering and sorting -----------------------------------------------------------
    def matching(self, flt: ClientFilter) -> list[int]:
        """Indexes of the rows ``flt`` shows, in grid order."""
        indexes = range(len(self.grid))
        if flt.is_empty:
            return list(indexes)
        grid = self.grid
        words = fold(flt.text).split()
        if words:
            keys = self._keys
            indexes = [i for i in indexes if all(word in keys[i] for word in words)]
        if flt.organization:
            org = fold(flt.organization)
            indexes = [i for i in indexes if fold(grid[i][_ORGANIZATION]) == org]
        if flt.has_email:
            bad = self.bad_email
            indexes = [i for i in indexes if grid[i][EMAIL_COLUMN] and not bad[i]]
        if flt.has_valid_mobile:
            bad = self.bad_mobile
            indexes = [i for i in indexes if grid[i][MOBILE_COLUMN] and not bad[i]]
        if flt.marked_only:
            indexes = [i for i in indexes if grid[i][MARK_COLUMN]]
        if flt.opt_out is not OptOut.ANY:
            wanted = flt.opt_out is OptOut.ONLY
            indexes = [i for i in indexes if bool(grid[i][OPT_OUT_COLUMN]) == wanted]
        if flt.bounced_only:
            bounced = self.bounced
            indexes = [i for i in indexes if bounced[i]]
        return list(indexes)

    def sort(self, column: int, *, descending: bool = False) -> None:
        """Reorder every row by one grid column, in place (stable; text case-insensitive)."""
        grid = self.grid
        if column == MARK_COLUMN:
            order = sorted(range(len(grid)), key=lambda i: grid[i][column], reverse=descending)
        else:
            key = _date_key if column == CONSENT_COLUMN else fold
            keyed = [(key(row[column]), i) for i, row in enumerate(grid)]
            # Empty cells last whichever the direction, as spreadsheet users expect.
            filled = sorted((k for k in keyed if k[0]), reverse=descending)
            order = [i for _, i in filled] + [i for k, i in keyed if not k]
        self._reorder(order)

    def _reorder(self, order: list[int]) -> None:
        for name in ("grid", "ids", "_keys", "bad_email", "bad_mobile", "bounced"):
            column = getattr(self, name)
            column[:] = [column[i] for i in order]

    # --- marks and summaries -------------------------------------------------------------
    def set_marks(self, indexes: Sequence[int], marked: bool) -> list[int]:
        """Set the mark on rows in memory; returns the ids whose mark changed."""
        changed = []
        for i in indexes:
            row = self.grid[i]
            if row[MARK_COLUMN] != marked:
                row[MARK_COLUMN] = marked
                changed.append(self.ids[i])
        return changed

    def mark_every(self, marked: bool) -> None:
        """Set or clear every row's mark in memory (no list of changes: "mark all" at 100k)."""
        for row in self.grid:
            row[MARK_COLUMN] = marked

    def invert_every(self) -> None:
        """Flip every row's mark in memory."""
        for row in self.grid:
            row[MARK_COLUMN] = not row[MARK_COLUMN]

    def marked_count(self) -> int:
        return sum(1 for row in self.grid if row[MARK_COLUMN])

    def organizations(self) -> list[str]:
        """Distinct organisation names, sorted, for the organisation filter."""
        names = {row[_ORGANIZATION] for row in self.grid if row[_ORGANIZATION]}
        return sorted(names, key=fold)
