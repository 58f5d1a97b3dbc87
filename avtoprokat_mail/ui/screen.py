"""Windows that fit the screen they open on, reopen where the user left them, and scroll.

An office laptop has a 1366×768 screen with the taskbar taking about 40 px of it, and Windows
scales everything by 125 % or 150 %. A window sized by its content alone can be taller than
that, and then its buttons are off the screen. So every window here is given a size that fits
the work area, its buttons are packed first (they keep their room when the window shrinks),
and what does not fit scrolls inside a :class:`ScrollArea`.

The size and place of each kind of window are kept in the settings table under ``ui.window.*``
and restored clamped to the screen the program runs on now (a second monitor may be gone).
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import sys
import tkinter as tk
import tkinter.font as tkfont
from dataclasses import dataclass

import ttkbootstrap as ttk

from avtoprokat_mail.storage import settings as settings_store

# What the window manager adds around a window (frame and title bar), in pixels at 100 %.
FRAME_WIDTH, FRAME_HEIGHT = 16, 40
TASKBAR_HEIGHT = 40  # reserved where the system does not tell its work area (not on Windows)
_GEOMETRY = re.compile(r"^(\d+)x(\d+)([+-]-?\d+)([+-]-?\d+)$")
SETTING_PREFIX = "ui.window."


def ui_scale(widget: tk.Misc) -> float:
    """How much bigger than at 96 DPI things are drawn: 1.0 at 100 %, 1.5 at 150 %."""
    return float(widget.tk.call("tk", "scaling")) / (96 / 72)


def scaled(widget: tk.Misc, pixels: float) -> int:
    """``pixels`` at 100 % scaled to the screen's DPI (never below one pixel)."""
    return max(1, round(pixels * ui_scale(widget)))


@dataclass(frozen=True)
class Area:
    """A rectangle of the screen in pixels."""

    x: int
    y: int
    width: int
    height: int


def work_area(widget: tk.Misc) -> Area:
    """The part of the screen windows may take: without the taskbar."""
    if sys.platform == "win32":
        area = _windows_work_area()
        if area is not None:
            return area
    return Area(0, 0, widget.winfo_screenwidth(), widget.winfo_screenheight() - TASKBAR_HEIGHT)


def _windows_work_area() -> Area | None:  # pragma: no cover - Windows only
    import ctypes
    from ctypes import wintypes

    rect = wintypes.RECT()
    spi_getworkarea = 0x0030
    if not ctypes.windll.user32.SystemParametersInfoW(spi_getworkarea, 0, ctypes.byref(rect), 0):
        return None
    return Area(rect.left, rect.top, rect.right - rect.left, rect.bottom - rect.top)


def room_for_window(widget: tk.Misc) -> Area:
    """The work area less the window manager's frame and the window's menu bar: the most
    the window's inside (what ``wm geometry`` sizes) can take."""
    area = work_area(widget)
    frame_w = scaled(widget, FRAME_WIDTH)
    frame_h = scaled(widget, FRAME_HEIGHT) + menu_bar_height(widget)
    return Area(area.x, area.y, area.width - frame_w, area.height - frame_h)


def menu_bar_height(window: tk.Misc) -> int:
    """The height of the window's menu bar, which ``wm geometry`` leaves out, or 0.

    Estimated from the menu font: the menu widget's own height is that of its drop-down
    form, and the bar is only measurable once shown (the estimate errs on the tall side).
    """
    try:
        has_menu = isinstance(window, tk.Wm) and bool(str(window.cget("menu")))
    except tk.TclError:
        has_menu = False
    if not has_menu:
        return 0
    linespace = tkfont.nametofont("TkMenuFont", root=window).metrics("linespace")
    return linespace + scaled(window, 15)


@dataclass(frozen=True)
class Place:
    """A window's size and position, as ``wm geometry`` gives them; ``zoomed`` = maximised."""

    width: int
    height: int
    x: int
    y: int
    zoomed: bool = False

    @classmethod
    def parse(cls, text: str) -> Place | None:
        zoomed = text.endswith(" zoomed")
        match = _GEOMETRY.match(text.removesuffix(" zoomed"))
        if not match:
            return None
        width, height, x, y = (int(group.replace("+-", "-")) for group in match.groups())
        return cls(width, height, x, y, zoomed)

    def text(self) -> str:
        return f"{self.width}x{self.height}+{self.x}+{self.y}" + (" zoomed" if self.zoomed else "")

    def clamped(self, room: Area, minimum: tuple[int, int] = (1, 1)) -> Place:
        """The same window moved and, when it must, shrunk to lie wholly inside ``room``."""
        width = max(min(self.width, room.width), min(minimum[0], room.width))
        height = max(min(self.height, room.height), min(minimum[1], room.height))
        x = min(max(self.x, room.x), room.x + room.width - width)
        y = min(max(self.y, room.y), room.y + room.height - height)
        return Place(width, height, x, y, self.zoomed)


def saved_place(conn: sqlite3.Connection, key: str) -> Place | None:
    text = settings_store.read_all(conn).get(SETTING_PREFIX + key, "")
    return Place.parse(text)


def save_place(conn: sqlite3.Connection, key: str, window: tk.Misc) -> None:
    """Store where ``window`` is now (its size and place; maximised or not)."""
    try:
        zoomed = window.wm_state() == "zoomed"
        place = Place.parse(window.wm_geometry())
    except tk.TclError:
        return
    if place is None or place.width < 50 or place.height < 50:
        return  # never mapped: nothing the user chose
    place = Place(place.width, place.height, place.x, place.y, zoomed)
    with contextlib.suppress(sqlite3.Error):  # a busy or closed database must not stop a close
        settings_store.write(conn, {SETTING_PREFIX + key: place.text()})


def fit_window(
    window: tk.Wm,
    conn: sqlite3.Connection | None = None,
    key: str | None = None,
    *,
    size: tuple[int, int] | None = None,
    owner: tk.Misc | None = None,
) -> Place:
    """Give ``window`` a size and place inside the work area, and remember them on close.

    The size is the one saved under ``key``, else ``size`` (scaled), else what the content
    asks for; in each case no bigger than the screen allows. A window with no saved place is
    centred on the window it belongs to. The size is pinned: content that grows later
    (an error line, a longer list) scrolls or wraps instead of pushing the buttons away.
    The place is saved when ``owner`` (default: the window itself) starts to close.
    """
    window.update_idletasks()
    room = room_for_window(window)
    wanted = saved_place(conn, key) if conn is not None and key else None
    minimum = tuple(window.wm_minsize())
    if minimum[0] > room.width or minimum[1] > room.height:
        window.wm_minsize(min(minimum[0], room.width), min(minimum[1], room.height))
    if wanted is None:
        if size is not None:
            width, height = scaled(window, size[0]), scaled(window, size[1])
        else:
            width, height = window.winfo_reqwidth(), window.winfo_reqheight()
        width, height = max(width, minimum[0]), max(height, minimum[1])
        if getattr(window, "_fitted", False):  # fitted again for new content: grows in place
            x, y = window.winfo_rootx(), window.winfo_rooty()
        else:
            x, y = _centre_over_parent(window, min(width, room.width), min(height, room.height))
        wanted = Place(width, height, x, y)
    place = wanted.clamped(room, minimum)
    window.wm_geometry(f"{place.width}x{place.height}+{place.x}+{place.y}")
    window._fitted = True
    if place.zoomed:
        try:
            window.wm_state("zoomed")
        except tk.TclError:
            window.wm_attributes("-zoomed", True)  # X11 window managers
    if conn is not None and key:
        _save_on_close(window, owner or window, conn, key)
    return place


def _centre_over_parent(window: tk.Misc, width: int, height: int) -> tuple[int, int]:
    parent = window.master.winfo_toplevel() if window.master is not None else None
    if parent is None or parent is window or not parent.winfo_ismapped():
        area = work_area(window)
        return area.x + (area.width - width) // 2, area.y + (area.height - height) // 3
    x = parent.winfo_rootx() + (parent.winfo_width() - width) // 2
    y = parent.winfo_rooty() + (parent.winfo_height() - height) // 3
    return x, y


def _save_on_close(window: tk.Misc, owner: tk.Misc, conn: sqlite3.Connection, key: str) -> None:
    """Save the place once, when ``owner`` starts to close: its first <Destroy> (a child's
    comes first) arrives while the window's geometry is still whole."""
    saved = False

    def on_destroy(_event: tk.Event) -> None:
        nonlocal saved
        if not saved:
            saved = True
            save_place(conn, key, window)

    tag = f"save_place_{key}_{id(owner)}"
    owner.bind_class(tag, "<Destroy>", on_destroy)
    # A window fitted again (the progress window showing its report) is saved under its
    # newest key only.
    kept = [t for t in owner.bindtags() if not t.startswith("save_place_")]
    owner.bindtags((tag, *kept))


class ScrollArea(ttk.Frame):
    """A frame whose content scrolls vertically when the window is shorter than it.

    Put widgets into ``content``. The area asks for the content's natural size, so a window
    that has room opens with nothing to scroll; a shorter window shows a scroll bar. When the
    window is taller, the content is stretched to the full height (a text field can grow).
    """

    def __init__(self, master: tk.Misc, *, padding: int | tuple = 0) -> None:
        super().__init__(master)
        self.canvas = tk.Canvas(self, highlightthickness=0, borderwidth=0)
        self.bar = ttk.Scrollbar(self, orient="vertical", command=self.canvas.yview)
        self.canvas.configure(yscrollcommand=self._on_scrolled)
        self.canvas.grid(row=0, column=0, sticky="nsew")
        self.rowconfigure(0, weight=1)
        self.columnconfigure(0, weight=1)
        # The bar's lane is kept even while it is hidden: its coming does not squeeze the content.
        self.columnconfigure(1, minsize=self.bar.winfo_reqwidth())
        self.content = ttk.Frame(self.canvas, padding=padding)
        self._item = self.canvas.create_window(0, 0, anchor="nw", window=self.content)
        self.content.bind("<Configure>", self._on_content_changed, add="+")
        self.canvas.bind("<Configure>", self._on_canvas_resized, add="+")
        self._style_background()
        top = self.winfo_toplevel()
        for sequence in ("<MouseWheel>", "<Button-4>", "<Button-5>"):
            top.bind(sequence, self._on_wheel, add="+")

    def hold(self, content: ttk.Frame) -> None:
        """Scroll ``content`` (made with ``self.canvas`` as its master) instead of own frame."""
        self.canvas.delete(self._item)
        self.content.destroy()
        self.content = content
        self._item = self.canvas.create_window(0, 0, anchor="nw", window=content)
        content.bind("<Configure>", self._on_content_changed, add="+")

    def _style_background(self) -> None:
        background = ttk.Style().lookup("TFrame", "background")
        if background:
            self.canvas.configure(background=background)

    def _on_content_changed(self, _event: tk.Event | None = None) -> None:
        width, height = self.content.winfo_reqwidth(), self.content.winfo_reqheight()
        if (int(self.canvas.cget("width")), int(self.canvas.cget("height"))) != (width, height):
            self.canvas.configure(width=width, height=height)
        self._on_canvas_resized()

    def _on_canvas_resized(self, _event: tk.Event | None = None) -> None:
        shown_w, shown_h = self.canvas.winfo_width(), self.canvas.winfo_height()
        needed_h = self.content.winfo_reqheight()
        self.canvas.itemconfigure(self._item, width=shown_w, height=max(shown_h, needed_h))
        self.canvas.configure(scrollregion=(0, 0, shown_w, max(shown_h, needed_h)))

    def _on_scrolled(self, first: str, last: str) -> None:
        self.bar.set(first, last)
        if float(first) <= 0.0 and float(last) >= 1.0:
            self.bar.grid_remove()
        else:
            self.bar.grid(row=0, column=1, sticky="ns")

    @property
    def scrolls(self) -> bool:
        """True when part of the content is out of view."""
        first, last = self.canvas.yview()
        return first > 0.0 or last < 1.0

    def _on_wheel(self, event: tk.Event) -> None:
        widget = event.widget
        if not isinstance(widget, tk.Misc) or not self.scrolls:
            return
        if widget is self.canvas:
            inside, scrolls_itself = True, False
        else:
            inside = str(widget).startswith(str(self.canvas) + ".")
            scrolls_itself = isinstance(widget, (tk.Text, tk.Listbox, ttk.Treeview, tk.Canvas))
        if not inside or scrolls_itself:
            return
        if event.num == 4 or getattr(event, "delta", 0) > 0:
            self.canvas.yview_scroll(-2, "units")
        else:
            self.canvas.yview_scroll(2, "units")


class FlowBar(ttk.Frame):
    """A toolbar whose buttons wrap onto a second row when the window is too narrow for one
    (a 1366-pixel screen at 150 % has room for about 900 pixels' worth of 100 % buttons)."""

    def __init__(self, master: tk.Misc, **options) -> None:
        super().__init__(master, **options)
        self.items: list[tuple[tk.Widget, int]] = []  # (widget, space after it)
        self._rows: list[ttk.Frame] = []
        self._width = 0
        self.bind("<Configure>", self._on_resized, add="+")

    def add(self, widget: tk.Widget, space_after: int = 4) -> None:
        """Put ``widget`` after the ones added before it."""
        self.items.append((widget, space_after))
        self.reflow(self.winfo_width() if self.winfo_ismapped() else 0)

    def _on_resized(self, event: tk.Event) -> None:
        if event.width != self._width:
            self.reflow(event.width)

    def _side_padding(self) -> int:
        """Left plus right padding of the bar, in pixels."""
        pads = [int(self.winfo_fpixels(str(p))) for p in self.tk.splitlist(
            self.tk.call(self._w, "cget", "-padding"))]  # fmt: skip
        if not pads:
            return 0
        left = pads[0]
        right = pads[2] if len(pads) > 2 else left
        return left + right

    def reflow(self, width: int) -> None:
        """Lay the items out in rows no wider than ``width`` (all in one row while unknown)."""
        self._width = width
        room = width - self._side_padding() if width else 0
        row = used = 0
        placed: list[list[tuple[tk.Widget, int]]] = [[]]
        for widget, space in self.items:
            needed = widget.winfo_reqwidth() + space
            if room and placed[row] and used + needed > room:
                row, used = row + 1, 0
                placed.append([])
            placed[row].append((widget, space))
            used += needed
        while len(self._rows) < len(placed):
            frame = ttk.Frame(self)
            self._rows.append(frame)
        for index, frame in enumerate(self._rows):
            if index < len(placed):
                frame.pack(fill="x", pady=(0, 4) if index + 1 < len(placed) else 0)
            else:
                frame.pack_forget()
        for frame, items in zip(self._rows, placed, strict=False):
            for widget, space in items:
                # A row frame is a child of the bar, so the bar's widgets can be packed in it.
                widget.pack(in_=frame, side="left", padx=(0, space), fill="y")
                widget.lift(frame)
