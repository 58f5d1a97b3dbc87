"""Small modal dialogs with Russian buttons.

ttkbootstrap's Messagebox translates its button texts and returns them, so its answers
depend on the locale. These dialogs return plain values, and tests find an open
one with :func:`open_dialog` and press its buttons like a user would.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Sequence

import ttkbootstrap as ttk

_open: list[MessageDialog] = []


def center_on_parent(window: tk.Toplevel) -> None:
    """Put a dialog in the middle of the window it belongs to (kept on screen)."""
    window.update_idletasks()
    parent = window.master.winfo_toplevel() if window.master else window
    width, height = window.winfo_reqwidth(), window.winfo_reqheight()
    x = parent.winfo_rootx() + (parent.winfo_width() - width) // 2
    y = parent.winfo_rooty() + (parent.winfo_height() - height) // 3
    x = max(0, min(x, window.winfo_screenwidth() - width))
    y = max(0, min(y, window.winfo_screenheight() - height))
    window.geometry(f"+{x}+{y}")


class MessageDialog(ttk.Toplevel):
    """A modal message with buttons; ``result`` is the value of the pressed button."""

    def __init__(
        self,
        parent: tk.Misc,
        title: str,
        message: str,
        buttons: Sequence[tuple[str, object]],
        *,
        default: int = 0,
        cancel_value: object = None,
        bootstyle: str = "primary",
    ) -> None:
        super().__init__(
            title=title,
            master=parent.winfo_toplevel(),
            transient=parent.winfo_toplevel(),
            resizable=(False, False),
        )
        self.result: object = cancel_value
        self.message = message
        body = ttk.Frame(self, padding=16)
        body.pack(fill="both", expand=True)
        ttk.Label(body, text=message, wraplength=460, justify="left").pack(anchor="w")
        row = ttk.Frame(body)
        row.pack(anchor="e", pady=(16, 0))
        self.buttons: dict[str, ttk.Button] = {}
        for index, (text, value) in enumerate(buttons):
            style = bootstyle if index == default else "secondary"
            button = ttk.Button(
                row, text=text, bootstyle=style, command=lambda v=value: self._finish(v)
            )
            button.pack(side="left", padx=(8, 0))
            self.buttons[text] = button
        self.protocol("WM_DELETE_WINDOW", lambda: self._finish(cancel_value))
        self.bind("<Escape>", lambda _e: self._finish(cancel_value))
        self.bind("<Return>", lambda _e: self._finish(buttons[default][1]))
        list(self.buttons.values())[default].focus_set()
        center_on_parent(self)

    def _finish(self, value: object) -> None:
        self.result = value
        self._collect()
        self.destroy()

    def _collect(self) -> None:
        """Read what the dialog's own fields hold before they are destroyed."""

    def press(self, text: str) -> None:
        """Press the button labelled ``text`` (what a click does; used by tests)."""
        self.buttons[text].invoke()

    def run(self) -> object:
        """Show modally and return the result once the dialog closes."""
        _open.append(self)
        try:
            self.grab_set()
            self.wait_window(self)
        finally:
            _open.remove(self)
        return self.result


def open_dialog() -> MessageDialog | None:
    """The innermost dialog now waiting for an answer, if any."""
    return _open[-1] if _open else None


def ask_yes_no(parent: tk.Misc, title: str, message: str, *, danger: bool = False) -> bool:
    """Ask a question; True for "Да". Closing the window means "Нет"."""
    dialog = MessageDialog(
        parent,
        title,
        message,
        [("Да", True), ("Нет", False)],
        default=1 if danger else 0,
        cancel_value=False,
        bootstyle="danger" if danger else "primary",
    )
    return bool(dialog.run())


def show_info(parent: tk.Misc, title: str, message: str) -> None:
    """Tell the user something and wait for "OK"."""
    MessageDialog(parent, title, message, [("OK", None)]).run()


def show_error(parent: tk.Misc, title: str, message: str) -> None:
    """Report a problem in plain words and wait for "OK"."""
    MessageDialog(parent, title, message, [("OK", None)], bootstyle="danger").run()


class PasswordDialog(MessageDialog):
    """Ask for a password that is not stored (no secure store on this computer)."""

    def __init__(self, parent: tk.Misc, title: str, message: str) -> None:
        super().__init__(
            parent, title, message, [("OK", True), ("Отмена", False)], cancel_value=False
        )
        self.typed = ""
        self.password_var = tk.StringVar(self)
        self.entry = ttk.Entry(self, textvariable=self.password_var, show="•", width=36)
        self.entry.pack(padx=16, pady=(0, 16), fill="x")
        self.entry.focus_set()

    def _collect(self) -> None:
        self.typed = self.password_var.get()


def ask_password(parent: tk.Misc, title: str, message: str) -> str | None:
    """The typed password, or None when the user cancelled or typed nothing."""
    dialog = PasswordDialog(parent, title, message)
    confirmed = dialog.run()
    return (dialog.typed or None) if confirmed else None
