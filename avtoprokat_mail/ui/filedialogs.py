"""File pickers. One place, so tests can give the answer a user would pick."""

from __future__ import annotations

import tkinter as tk
from tkinter import filedialog


def ask_open_path(parent: tk.Misc, **options) -> str:
    """The file the user chose to open, or "" when they cancelled."""
    return filedialog.askopenfilename(parent=parent, **options) or ""


def ask_save_path(parent: tk.Misc, **options) -> str:
    """The file the user chose to save to, or "" when they cancelled."""
    return filedialog.asksaveasfilename(parent=parent, **options) or ""


def ask_directory(parent: tk.Misc, **options) -> str:
    """The folder the user chose, or "" when they cancelled."""
    return filedialog.askdirectory(parent=parent, mustexist=False, **options) or ""
