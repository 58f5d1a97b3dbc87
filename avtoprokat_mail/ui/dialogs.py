"""Small modal dialogs with Russian buttons.

ttkbootstrap's Messagebox translates its button texts and returns them, so its answers
depend on the locale. These dialogs return plain values, and tests find an open
one with :func:`open_dialog` and press its buttons like a user would.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Sequence

import ttkbootstrap as ttk

from avtoprokat_mail.ui.screen import ScrollArea, fit_window, scaled

_open: list[MessageDialog] = []


class MessageDialog(ttk.Toplevel):
    """A modal message with buttons; ``result`` is the value of the pressed button."""

    def __init__(
        self,
        parent: tk.Misc,
        title: str,
        message: str,
        buttons_spec: Sequence[tuple[str, object]],
        *,
        default: int = 0,
        cancel_value: object = None,
        bootstyle: str = "primary",
    ) -> None:
        super().__init__(
            title=title,
            master=parent.winfo_toplevel(),
            transient=parent.winfo_toplevel(),
        )
        self.result: object = cancel_value
        self.message = message
        # The buttons first, at the bottom: a long message scrolls, the buttons stay in view.
        row = ttk.Frame(self, padding=(16, 0, 16, 16))
        row.pack(side="bottom", fill="x")
        self.scroll = ScrollArea(self, padding=(16, 16, 16, 0))
        self.scroll.pack(fill="both", expand=True)
        body = self.scroll.content
        self.message_label = ttk.Label(
            body, text=message, wraplength=scaled(self, 460), justify="left"
        )
        self.message_label.pack(anchor="w", fill="x")
        self._build_fields(body)
        self.buttons: dict[str, ttk.Button] = {}
        buttons = ttk.Frame(row)
        buttons.pack(side="right", pady=(16, 0))
        for index, (text, value) in enumerate(buttons_spec):
            style = bootstyle if index == default else "secondary"
            button = ttk.Button(
                buttons, text=text, bootstyle=style, command=lambda v=value: self._finish(v)
            )
            button.pack(side="left", padx=(8, 0))
            self.buttons[text] = button
        self.protocol("WM_DELETE_WINDOW", lambda: self._finish(cancel_value))
        self.bind("<Escape>", lambda _e: self._finish(cancel_value))
        self.bind("<Return>", lambda _e: self._finish(buttons_spec[default][1]))
        list(self.buttons.values())[default].focus_set()
        fit_window(self)

    def _build_fields(self, body: ttk.Frame) -> None:
        """Fields of a dialog that asks for something; they go under the message."""

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


def ask_yes_no_cancel(parent: tk.Misc, title: str, message: str) -> bool | None:
    """Ask a question that can also be put off: True «Да», False «Нет», None «Отмена»."""
    dialog = MessageDialog(parent, title, message, [("Да", True), ("Нет", False), ("Отмена", None)])
    return dialog.run()  # type: ignore[return-value]


def close_asking(window: tk.Toplevel, changed: bool, save: Callable[[], bool], what: str) -> bool:
    """Close a form, first asking what to do with its unsaved edits; True when it closed.

    «Да» saves (and the save closes the form when it succeeds), «Нет» throws the edits away,
    «Отмена» keeps the form open.
    """
    if changed:
        answer = ask_yes_no_cancel(window, window.title(), f"{what} Сохранить изменения?")
        if answer is None:
            return False
        if answer:
            return save()
    window.destroy()
    return True


def variable_values(*owners: object) -> dict[str, object]:
    """What every Tk variable held by ``owners`` (as attributes or in a dict ``vars``) holds:
    a snapshot to tell later whether a form was edited."""
    values: dict[str, object] = {}
    for number, owner in enumerate(owners):
        found = dict(vars(owner))
        found.update({f"vars.{k}": v for k, v in getattr(owner, "vars", {}).items()})
        for name, value in found.items():
            if isinstance(value, tk.Variable):
                try:
                    values[f"{number}.{name}"] = value.get()
                except tk.TclError:
                    values[f"{number}.{name}"] = None
    return values


def show_info(parent: tk.Misc, title: str, message: str) -> None:
    """Tell the user something and wait for "OK"."""
    MessageDialog(parent, title, message, [("OK", None)]).run()


def show_error(parent: tk.Misc, title: str, message: str) -> None:
    """Report a problem in plain words and wait for "OK"."""
    MessageDialog(parent, title, message, [("OK", None)], bootstyle="danger").run()


class PasswordDialog(MessageDialog):
    """Ask for a password that is not stored (no secure store on this computer)."""

    def __init__(self, parent: tk.Misc, title: str, message: str) -> None:
        self.typed = ""
        super().__init__(
            parent, title, message, [("OK", True), ("Отмена", False)], cancel_value=False
        )
        self.entry.focus_set()

    def _build_fields(self, body: ttk.Frame) -> None:
        self.password_var = tk.StringVar(self)
        self.entry = ttk.Entry(body, textvariable=self.password_var, show="•", width=36)
        self.entry.pack(pady=(12, 0), fill="x")

    def _collect(self) -> None:
        self.typed = self.password_var.get()


def ask_password(parent: tk.Misc, title: str, message: str) -> str | None:
    """The typed password, or None when the user cancelled or typed nothing."""
    dialog = PasswordDialog(parent, title, message)
    confirmed = dialog.run()
    return (dialog.typed or None) if confirmed else None
