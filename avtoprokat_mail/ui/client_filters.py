"""The filter bar above the client grid: search, organisation, opt-out and four check boxes."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable, Iterable

import ttkbootstrap as ttk

from avtoprokat_mail.storage.directory import ClientFilter, OptOut

NO_ORGANIZATION = "(все организации)"


class ClientFilterBar(ttk.Frame):
    """What the user asked to see, as a :class:`ClientFilter`.

    ``on_change`` is called with no arguments once Tk is idle after any change (a burst of
    keystrokes gives one call), and at once after «Сбросить фильтры».
    """

    def __init__(self, master: tk.Misc, on_change: Callable[[], None]) -> None:
        super().__init__(master)
        self.on_change = on_change
        self._pending = False
        self._build_fields()
        self._build_checks()
        for var in (
            self.search_var,
            self.organization_var,
            self.has_email_var,
            self.has_mobile_var,
            self.marked_only_var,
            self.bounced_only_var,
            self.opt_out_var,
        ):
            var.trace_add("write", lambda *_: self._schedule())
        self.search_entry.bind("<Escape>", lambda _e: self.search_var.set(""))

    def _build_fields(self) -> None:
        bar = ttk.Frame(self, padding=(8, 0, 8, 2))
        bar.pack(fill="x")
        ttk.Label(bar, text="Поиск:").pack(side="left")
        self.search_var = tk.StringVar(self)
        self.search_entry = ttk.Entry(bar, textvariable=self.search_var, width=30)
        self.search_entry.pack(side="left", padx=(4, 12))
        ttk.Label(bar, text="Организация:").pack(side="left")
        self.organization_var = tk.StringVar(self, value=NO_ORGANIZATION)
        self.organization_box = ttk.Combobox(
            bar, textvariable=self.organization_var, width=26, state="readonly"
        )
        self.organization_box.pack(side="left", padx=(4, 12))
        ttk.Label(bar, text="Отказ от рассылки:").pack(side="left")
        self.opt_out_var = tk.StringVar(self, value=OptOut.ANY.value)
        ttk.Combobox(
            bar,
            textvariable=self.opt_out_var,
            values=[o.value for o in OptOut],
            width=20,
            state="readonly",
        ).pack(side="left", padx=(4, 10))

    def _build_checks(self) -> None:
        checks = ttk.Frame(self, padding=(8, 2, 8, 6))
        checks.pack(fill="x")
        self.has_email_var = tk.BooleanVar(self)
        self.has_mobile_var = tk.BooleanVar(self)
        self.marked_only_var = tk.BooleanVar(self)
        self.bounced_only_var = tk.BooleanVar(self)
        for text, var in (
            ("Есть email", self.has_email_var),
            ("Есть сотовый", self.has_mobile_var),
            ("Только отмеченные", self.marked_only_var),
            ("Недоставленные", self.bounced_only_var),
        ):
            ttk.Checkbutton(checks, text=text, variable=var).pack(side="left", padx=(0, 14))
        ttk.Button(checks, text="Сбросить фильтры", bootstyle="link", command=self.reset).pack(
            side="left"
        )

    def current(self) -> ClientFilter:
        organization = self.organization_var.get()
        return ClientFilter(
            text=self.search_var.get(),
            organization="" if organization == NO_ORGANIZATION else organization,
            has_email=self.has_email_var.get(),
            has_valid_mobile=self.has_mobile_var.get(),
            marked_only=self.marked_only_var.get(),
            opt_out=OptOut(self.opt_out_var.get()),
            bounced_only=self.bounced_only_var.get(),
        )

    @property
    def marked_only(self) -> bool:
        """True when only marked clients are shown: a changed mark changes what is shown."""
        return self.marked_only_var.get()

    def set_organizations(self, names: Iterable[str]) -> None:
        """The choices of the organisation box (the directory's organisations)."""
        self.organization_box.configure(values=[NO_ORGANIZATION, *names])

    def reset(self) -> None:
        """Show everybody again, and say so at once."""
        self.search_var.set("")
        self.organization_var.set(NO_ORGANIZATION)
        for var in (
            self.has_email_var,
            self.has_mobile_var,
            self.marked_only_var,
            self.bounced_only_var,
        ):
            var.set(False)
        self.opt_out_var.set(OptOut.ANY.value)
        self._changed()

    def _schedule(self) -> None:
        """Coalesce a burst of keystrokes into one call when Tk is idle."""
        if not self._pending:
            self._pending = True
            self.after_idle(self._changed)

    def _changed(self) -> None:
        self._pending = False
        self.on_change()
