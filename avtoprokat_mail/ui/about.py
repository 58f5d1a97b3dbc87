"""The «О программе» box."""

from __future__ import annotations

import tkinter as tk
from pathlib import Path

from avtoprokat_mail import APP_NAME, __version__
from avtoprokat_mail.system.logsetup import log_path
from avtoprokat_mail.ui.dialogs import show_info


def show_about(parent: tk.Misc, data_folder: Path) -> None:
    """Name, version, what the program does, and where its data lives."""
    show_info(
        parent,
        "О программе",
        f"{APP_NAME}\nВерсия {__version__}\n\n"
        "Рассылка email и SMS отмеченным клиентам.\n\n"
        f"Папка данных: {data_folder}\nЖурнал: {log_path(data_folder)}",
    )
