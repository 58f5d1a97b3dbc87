"""Amounts as the window and the command line both say them: «119 байт», «12 КБ», «1,5 МБ»,
and the Russian plural of a counted word («1 ячейке», «3 ячейках»).

One formatter, so that a 119-byte price list is not «0 КБ» in one place and «1 КБ» in the
other. Kilobytes are rounded up (a small file is never «0 КБ»); megabytes have one decimal,
written with a comma, as Russian writes it.
"""

from __future__ import annotations

_KB, _MB = 1024, 1024 * 1024


def size_text(size: int) -> str:
    """``size`` bytes for a person: bytes under 1 KB, whole KB under 1 MB, else MB."""
    if size < _KB:
        return f"{size} {plural(size, 'байт', 'байта', 'байт')}"
    if size < _MB:
        return f"{-(-size // _KB)} КБ"
    return f"{size / _MB:.1f} МБ".replace(".", ",")


def plural(number: int, one: str, few: str, many: str) -> str:
    """The form of a word that goes with ``number``: one (1, 21), few (2–4, 22–24), many."""
    if number % 10 == 1 and number % 100 != 11:
        return one
    if 2 <= number % 10 <= 4 and not 12 <= number % 100 <= 14:
        return few
    return many
