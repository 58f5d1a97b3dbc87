"""Personalisation: %Имя%, %Должность% and %Наименование% in a template's subject and body.

No tkinter here. An unknown %Слово% is found with its line and column before anything is
sent; a percent sign that is not around a word ("скидка 20%", "20%–30%") is plain text.
Client data bound for an email header is cleaned first (see :func:`clean_header_value`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from avtoprokat_mail.model import Client

# The placeholders of the seed, each with the client field it stands for.
PLACEHOLDERS: dict[str, str] = {
    "Имя": "name",  # имя и отчество
    "Должность": "position",
    "Наименование": "organization",
}
# %Word%: a letter first, then letters, digits or "_" — so "20%" or "20%-30%" never match.
_PLACEHOLDER = re.compile(r"%([^\W\d_]\w*)%")
# A known name written with spaces inside the percent signs ("%Имя %"): sent as is, it would
# reach the client literally, so it is reported like an unknown name.
_SPACED_PLACEHOLDER = re.compile(r"%([ \t]*)([^\W\d_]\w*)([ \t]*)%")
_ENCODED_WORD_MARK = re.compile(r"=\?|\?=")
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x85\u2028\u2029]+")


def _key(name: str) -> str:
    return name.casefold().replace("ё", "е")


_FIELD_BY_KEY = {_key(name): field for name, field in PLACEHOLDERS.items()}


def placeholder(name: str) -> str:
    """The text a user types for a placeholder: ``placeholder("Имя") == "%Имя%"``."""
    return f"%{name}%"


@dataclass(frozen=True)
class UnknownPlaceholder:
    """A %Word% that names no client field, where it stands in the text (1-based)."""

    text: str  # as written, with its percent signs
    line: int
    column: int
    meant: str = ""  # the known placeholder a spaced spelling stands for

    def describe(self, where: str) -> str:
        """A Russian sentence for the user; ``where`` is e.g. "в теме" or "в сообщении"."""
        if self.meant:
            return (
                f"Обозначение «{self.text}» {where} (строка {self.line}, позиция {self.column}) "
                f"написано с пробелом: должно быть {self.meant}."
            )
        known = ", ".join(placeholder(name) for name in PLACEHOLDERS)
        return (
            f"Неизвестное обозначение {self.text} {where} (строка {self.line}, "
            f"позиция {self.column}). Можно использовать: {known}."
        )


def find_unknown(text: str) -> list[UnknownPlaceholder]:
    """Every %Word% of ``text`` that is not a known placeholder (case and ё do not matter)."""
    found = []
    for match in _PLACEHOLDER.finditer(text):
        if _key(match.group(1)) not in _FIELD_BY_KEY:
            found.append(UnknownPlaceholder(match.group(0), *_position(text, match.start())))
    for offset in (i for i, char in enumerate(text) if char == "%"):
        match = _SPACED_PLACEHOLDER.match(text, offset)  # at every "%": the matches may overlap
        if not match or not (match.group(1) or match.group(3)):
            continue
        field = _FIELD_BY_KEY.get(_key(match.group(2)))
        if field is not None:
            name = next(n for n, f in PLACEHOLDERS.items() if f == field)
            found.append(UnknownPlaceholder(
                match.group(0), *_position(text, match.start()), meant=placeholder(name)
            ))  # fmt: skip
    return sorted(found, key=lambda u: (u.line, u.column))


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def missing_fields(text: str, client: Client) -> list[str]:
    """Names of the placeholders ``text`` uses that the client has no value for, in order."""
    missing: list[str] = []
    for match in _PLACEHOLDER.finditer(text):
        field = _FIELD_BY_KEY.get(_key(match.group(1)))
        name = next((n for n, f in PLACEHOLDERS.items() if f == field), None)
        if field and name not in missing and not (getattr(client, field) or "").strip():
            missing.append(name)
    return missing


def render(text: str, client: Client, *, header: bool = False) -> str:
    """``text`` with each known placeholder replaced by the client's field.

    A field the client lacks becomes empty. Unknown %Words% stay as written (callers refuse
    to send them: see :func:`find_unknown`). With ``header=True`` the result goes into an
    email header: line breaks become spaces and client data is cleaned of encoded-word markers.
    """

    def value(match: re.Match[str]) -> str:
        field = _FIELD_BY_KEY.get(_key(match.group(1)))
        if field is None:
            return match.group(0)
        data = getattr(client, field) or ""
        return clean_header_value(data) if header else data

    result = _PLACEHOLDER.sub(value, text)
    return _LINE_BREAKS.sub(" ", result).strip() if header else result


def clean_header_value(text: str) -> str:
    """Make client data safe for an email header.

    Python 3.11 and 3.12 fold a header holding ``=?UTF-8?Q?=0A?=`` so that the decoded line
    break starts a new header (CVE-2024-6923, fixed in 3.13): a client named
    ``=?UTF-8?Q?=0A?=Bcc: x@y`` would add a Bcc. Line breaks become spaces and the ``=?`` /
    ``?=`` markers lose their meaning (a space goes between the two characters); nothing a
    real name, position or organisation holds is changed.
    """
    text = _LINE_BREAKS.sub(" ", text)
    return _ENCODED_WORD_MARK.sub(lambda m: m.group(0)[0] + " " + m.group(0)[1], text).strip()
