"""Recognising the header row of an imported file: which column holds which client field.

People write headers by hand, so a header is compared in a folded form: case-insensitive,
"ё" as "е", spaces and punctuation dropped ("E-mail", "e mail" and "EMAIL" are one name).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from avtoprokat_mail.model import CLIENT_LABELS

_ALIASES: dict[str, tuple[str, ...]] = {
    "surname": ("Фамилия", "surname", "last name", "family name", "lastname"),
    "name": (
        "Имя", "Имя Отчество", "Имя и отчество", "Имя, отчество",
        "name", "first name", "firstname", "given name",
    ),
    "position": ("Должность", "position", "title", "job title"),
    "organization": (
        "Наименование", "Организация", "Компания", "Фирма", "Наименование организации",
        "Название организации", "Название", "organization", "organisation", "company",
    ),
    "email": (
        "Email", "E-mail", "Эл. почта", "Электронная почта", "Почта", "Емейл", "Имейл",
        "Адрес электронной почты", "mail", "email address",
    ),
    "mobile": (
        "Сотовый телефон", "Сотовый", "Мобильный", "Мобильный телефон", "Моб. телефон",
        "Моб. тел.", "Сот. тел.", "mobile", "mobile phone", "cell", "cell phone", "cellphone",
    ),
    "phone": (
        "Телефон", "Рабочий телефон", "Городской телефон", "Тел.", "phone", "work phone",
        "telephone",
    ),
    "address": ("Адрес", "address"),
    "note": ("Примечание", "Комментарий", "Примечания", "note", "notes", "comment", "comments"),
    "marked": ("Отметка", "Отмечен", "marked", "mark"),
    "opt_out": (
        "Отказ от рассылки", "Отказ", "opt_out", "opt-out", "optout", "unsubscribed",
    ),
    "consent": ("Согласие на рассылку", "Согласие", "consent"),
}  # fmt: skip

# Fields that say who a row is about; a file needs at least one of them.
IDENTITY_FIELDS: tuple[str, ...] = ("surname", "name", "organization", "email", "mobile")

_NOT_WORD = re.compile(r"[\W_]+")


def fold_header(text: str) -> str:
    """The comparable form of a header cell: 'Эл. почта' -> 'элпочта', 'E-mail' -> 'email'."""
    return _NOT_WORD.sub("", text.casefold().replace("ё", "е"))


_BY_FOLDED: dict[str, str] = {
    fold_header(alias): field for field, aliases in _ALIASES.items() for alias in aliases
}
# Columns the export writes that an import does not load (nor lists as unknown): whether mail
# to an address bounces is what the mailbox said, not something a file can tell.
_NOT_LOADED = frozenset({fold_header(CLIENT_LABELS["bounced"]), "bounced"})


@dataclass(frozen=True)
class Layout:
    """Where each recognised field sits in a row, as found in the header."""

    columns: dict[str, int]  # field name -> cell index
    labels: dict[str, str]  # field name -> header text as written in the file
    ignored: list[str]  # non-empty header cells that name no known field
    width: int  # number of header cells

    @property
    def last_used(self) -> int:
        """Index of the rightmost recognised column."""
        return max(self.columns.values())


def recognise(header: Sequence[str]) -> Layout | None:
    """Map the header cells to client fields; None when the file names no identity column.

    The first of two columns naming the same field wins; the second is ignored.
    """
    columns: dict[str, int] = {}
    labels: dict[str, str] = {}
    ignored: list[str] = []
    for index, cell in enumerate(header):
        folded = fold_header(cell)
        if folded in _NOT_LOADED:
            continue
        field = _BY_FOLDED.get(folded)
        if field is None or field in columns:
            if cell.strip():
                ignored.append(cell.strip())
            continue
        columns[field] = index
        labels[field] = cell.strip()
    if not any(field in columns for field in IDENTITY_FIELDS):
        return None
    return Layout(columns=columns, labels=labels, ignored=ignored, width=len(header))


def expected_headers() -> str:
    """The headers a user should write, for error messages."""
    russian = ", ".join(f"«{label}»" for field, label in CLIENT_LABELS.items() if field in _ALIASES)
    return (
        f"{russian} (или по-английски: surname, name, position, organization, email, "
        "mobile, phone, address, note, consent)"
    )
