"""Personalisation: %Имя%, %Должность% and %Наименование% in a template's subject and body.

No tkinter here. An unknown %Слово% is found with its line and column before anything is
sent; a percent sign that is not around a word ("скидка 20%", "20%–30%") is plain text.
``%Должность|сотрудник%`` gives a default: the text after "|" stands in when the client's
field is empty or blank (``%Должность|%`` leaves it empty on purpose). Client data and
defaults bound for an email header are cleaned first (see :func:`clean_header_value`).
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
_LINE_BREAK_CHARS = r"\r\n\v\f\x85\u2028\u2029"  # for a regex character class
# "|default": any text up to the closing "%" on the same line.
_DEFAULT = rf"(?:\|([^%{_LINE_BREAK_CHARS}]*))?"
# %Word% or %Word|default%: a letter first, then letters, digits or "_" — so "20%" or
# "20%-30%" never match. Group 1 is the name, group 2 the default (None when there is none).
_PLACEHOLDER = re.compile(rf"%([^\W\d_]\w*){_DEFAULT}%")
# A known name written with spaces inside the percent signs ("%Имя %", "%Должность |x%"):
# sent as is, it would reach the client literally, so it is reported like an unknown name.
_SPACED_PLACEHOLDER = re.compile(rf"%([ \t]*)([^\W\d_]\w*)([ \t]*){_DEFAULT}%")
_ENCODED_WORD_MARK = re.compile(r"=\?|\?=")
_LINE_BREAKS = re.compile(rf"[{_LINE_BREAK_CHARS}]+")


def _key(name: str) -> str:
    return name.casefold().replace("ё", "е")


_FIELD_BY_KEY = {_key(name): field for name, field in PLACEHOLDERS.items()}


def placeholder(name: str, default: str | None = None) -> str:
    """The text a user types for a placeholder: ``placeholder("Имя") == "%Имя%"``.

    With a default: ``placeholder("Должность", "сотрудник") == "%Должность|сотрудник%"``.
    """
    return f"%{name}%" if default is None else f"%{name}|{default}%"


def _known_name(name: str) -> str | None:
    """The PLACEHOLDERS key ``name`` stands for (case and ё do not matter), or None."""
    field = _FIELD_BY_KEY.get(_key(name))
    return next((n for n, f in PLACEHOLDERS.items() if f == field), None)


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
        example = placeholder("Должность", "сотрудник")
        return (
            f"Неизвестное обозначение {self.text} {where} (строка {self.line}, "
            f"позиция {self.column}). Можно использовать: {known}; "
            f"с текстом на случай пустого поля: {example}."
        )


def find_unknown(text: str) -> list[UnknownPlaceholder]:
    """Every %Word% (or %Word|default%) of ``text`` that is not a known placeholder.

    Case and ё do not matter; an unknown name is reported as written, default included.
    """
    found = []
    for match in _PLACEHOLDER.finditer(text):
        if _known_name(match.group(1)) is None:
            found.append(UnknownPlaceholder(match.group(0), *_position(text, match.start())))
    for offset in (i for i, char in enumerate(text) if char == "%"):
        match = _SPACED_PLACEHOLDER.match(text, offset)  # at every "%": the matches may overlap
        if not match or not (match.group(1) or match.group(3)):
            continue
        if (name := _known_name(match.group(2))) is not None:
            meant = placeholder(name, match.group(4))
            found.append(UnknownPlaceholder(
                match.group(0), *_position(text, match.start()), meant=meant
            ))  # fmt: skip
    return sorted(found, key=lambda u: (u.line, u.column))


def _position(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def fields_without_default(text: str) -> list[str]:
    """Names (PLACEHOLDERS keys) of the placeholders used at least once without a default.

    In the order of their first such use; ``%Должность|%`` has a default (an empty one).
    """
    names: list[str] = []
    for match in _PLACEHOLDER.finditer(text):
        name = _known_name(match.group(1))
        if name is not None and match.group(2) is None and name not in names:
            names.append(name)
    return names


def missing_fields(text: str, client: Client) -> list[str]:
    """Names of the placeholders ``text`` uses that the client has no value for, in order.

    A placeholder whose every use carries a default (``%Должность|сотрудник%``) is not missing.
    """
    return lacking(fields_without_default(text), client)


def lacking(names: list[str], client: Client) -> list[str]:
    """Those of ``names`` (PLACEHOLDERS keys) the client has no value for, in order.

    For many clients and one text: ``lacking(fields_without_default(text), client)`` reads the
    text once, where :func:`missing_fields` reads it again for every client.
    """
    return [name for name in names if not (getattr(client, PLACEHOLDERS[name]) or "").strip()]


def render(text: str, client: Client, *, header: bool = False) -> str:
    """``text`` with each known placeholder replaced by the client's field.

    A field the client lacks (empty or blank) becomes the placeholder's default, or empty
    when it has none. Unknown %Words% stay as written (callers refuse to send them: see
    :func:`find_unknown`). With ``header=True`` the result goes into an email header: line
    breaks become spaces and client data and defaults are cleaned of encoded-word markers.
    """

    def value(match: re.Match[str]) -> str:
        field = _FIELD_BY_KEY.get(_key(match.group(1)))
        if field is None:
            return match.group(0)
        data = getattr(client, field) or ""
        if match.group(2) is not None and not data.strip():
            data = match.group(2)
        return clean_header_value(data) if header else data

    result = _PLACEHOLDER.sub(value, text)
    # In a header the template's own text is cleaned as client data is: a subject typed (or
    # imported) with an encoded-word line break must not add a header either.
    return clean_header_value(result) if header else result


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
