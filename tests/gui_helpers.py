"""Driving the real Tk widgets the way a user does: clicks, keys, dialogs."""

from __future__ import annotations

import time
import tkinter as tk
from collections.abc import Callable

from avtoprokat_mail.ui import dialogs


def pump(root: tk.Misc, seconds: float = 0.0) -> None:
    """Process pending Tk events (and keep doing so for ``seconds``)."""
    deadline = time.monotonic() + seconds
    root.update()
    while time.monotonic() < deadline:
        root.update()
        time.sleep(0.01)


def answer_next_dialog(root: tk.Misc, button: str, seen: list[str] | None = None) -> None:
    """Press ``button`` in the next modal dialog as soon as it opens.

    Call before the action that opens the dialog: the dialog runs its own event loop, so the
    answer has to be scheduled beforehand. The dialog's message is appended to ``seen``.
    """

    def press() -> None:
        dialog = dialogs.open_dialog()
        if dialog is None:
            root.after(20, press)
            return
        if seen is not None:
            seen.append(dialog.message)
        dialog.press(button)

    root.after(20, press)


def toplevels_of(root: tk.Misc, kind: type) -> list:
    """Open windows of a given class."""
    return [w for w in root.winfo_children() if isinstance(w, kind) and w.winfo_exists()]


def click(widget: tk.Misc, x: int, y: int, *, then: Callable[[], None] | None = None) -> None:
    """A left click at widget coordinates: press and release."""
    widget.event_generate("<Motion>", x=x, y=y)
    widget.event_generate("<ButtonPress-1>", x=x, y=y, button=1)
    widget.event_generate("<ButtonRelease-1>", x=x, y=y, button=1)
    widget.update()
    if then:
        then()
