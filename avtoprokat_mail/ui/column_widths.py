"""Column widths that fit their content, measured cheaply, at any Windows display scaling.

A column is as wide as its header or its widest value, plus padding, within a minimum and a
maximum. ``Font.measure`` is a round trip to Tcl, so 100,000 rows are never all measured:
the values come from a sample (the first rows shown and an even spread of the rest), are
deduplicated, and only the few longest by character count are measured in pixels.

Every pixel constant here is given at 100 % (96 DPI, where ``tk scaling`` is 96/72) and
multiplied by :func:`ui_scale`, so at 125 % or 150 % on Windows the padding, the cap
and the fixed columns grow with the fonts (whose sizes are in points and grow by themselves).
"""

from __future__ import annotations

import heapq
import tkinter as tk
import tkinter.font as tkfont
from collections.abc import Callable, Collection, Iterable, Sequence
from math import ceil
from tkinter import ttk
from typing import TypeVar

from avtoprokat_mail.ui.screen import ui_scale

PADDING = 16  # px at 100 %: the cell's margins on both sides (a Treeview heading: 5 + 5 + borders)
MINIMUM = 40  # px at 100 %
MAXIMUM = 320  # px at 100 %: a long note or street address is cut here, not given half the screen
ADDRESS_MAXIMUM = 480  # px at 100 %: an email cut short is useless, so emails may go wider
STRETCH_MAXIMUM = 240  # px at 100 %: the column that takes the rest of the window starts here
HEAD_ROWS = 200  # the first rows shown are always in the sample: they are what the user sees
SPREAD_ROWS = 200  # plus about this many spread evenly over the rest
MEASURED = 5  # distinct values measured in pixels per column: the longest by character count

T = TypeVar("T")


def sample(items: Sequence[T], head: int = HEAD_ROWS, spread: int = SPREAD_ROWS) -> list[T]:
    """The first ``head`` items and about ``spread`` more, every k-th of the rest.

    Deterministic, so the same rows give the same widths every time the window opens.
    """
    picked = list(items[:head])
    if len(items) > head:
        picked += items[head :: ceil((len(items) - head) / spread)]
    return picked


def longest(values: Iterable[object], count: int = MEASURED) -> list[str]:
    """The ``count`` longest distinct lines (by characters) among ``values``, in a stable order.

    The longest by characters is nearly always the widest in pixels; measuring a few of
    them covers the proportional font's «ш» against «i».
    """
    lines: dict[str, None] = {}
    for value in values:
        if value is None or value == "":
            continue
        for line in str(value).splitlines():
            lines[line] = None
    return heapq.nlargest(count, lines, key=len)


def fit_width(
    header_font: tkfont.Font,
    font: tkfont.Font,
    header: str,
    values: Iterable[object],
    *,
    factor: float,
    minimum: float = MINIMUM,
    maximum: float = MAXIMUM,
    padding: float = PADDING,
) -> int:
    """Pixels for a column: its header always in full, its values up to ``maximum``.

    ``minimum``, ``maximum`` and ``padding`` are at 100 %; ``factor`` is :func:`ui_scale`.
    """
    pad = padding * factor
    head = header_font.measure(header) + pad if header else 0
    widest = max((font.measure(text) for text in longest(values)), default=0)
    body = min(widest + pad, maximum * factor)
    return ceil(max(minimum * factor, head, body))


def font_of(widget: tk.Misc, description: object) -> tkfont.Font:
    """A Font for any description Tk takes: a named font, a tuple, «-size 10 -weight bold»."""
    return tkfont.Font(root=widget, font=description)


def treeview_fonts(tree: ttk.Treeview) -> tuple[tkfont.Font, tkfont.Font]:
    """(heading font, row font) of a Treeview as its style draws them."""
    style = ttk.Style(tree)
    name = str(tree.cget("style")) or tree.winfo_class()
    rows = style.lookup(name, "font") or "TkDefaultFont"
    heading = style.lookup(f"{name}.Heading", "font") or style.lookup("Heading", "font") or rows
    return font_of(tree, heading), font_of(tree, rows)


def fit_treeview(
    tree: ttk.Treeview,
    rows: Sequence[T],
    values: Callable[[T], Sequence[object]],
    *,
    stretch: str,
    addresses: Collection[str] = (),
) -> None:
    """Fit a headings-only Treeview's columns to their titles and a sample of ``rows``.

    ``values`` turns a row into what the tree shows, in the order of its columns; only the
    sampled rows are turned. The ``stretch`` column takes whatever room the window has left;
    on its own it starts no wider than :data:`STRETCH_MAXIMUM`, so a long server reply does
    not make the window wider than the screen. The ``addresses`` columns (emails) are
    capped at :data:`ADDRESS_MAXIMUM` rather than :data:`MAXIMUM`.
    """
    heading_font, font = treeview_fonts(tree)
    factor = ui_scale(tree)
    shown = [values(row) for row in sample(rows)]
    for index, column in enumerate(tree["columns"]):
        maximum = ADDRESS_MAXIMUM if column in addresses else MAXIMUM
        width = fit_width(
            heading_font, font, str(tree.heading(column, "text")),
            (row[index] for row in shown), factor=factor,
            maximum=STRETCH_MAXIMUM if column == stretch else maximum,
        )  # fmt: skip
        tree.column(column, width=width, stretch=column == stretch)
