"""Hand a file to the operating system's default program (the "view" buttons of a template)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


class OpenFileError(Exception):
    """The file could not be opened; ``str()`` is a Russian message for the user."""


def open_with_default_app(path: str | os.PathLike[str]) -> None:
    """Open ``path`` with the program the system associates with it, without waiting.

    Windows: ``os.startfile``; macOS: ``open``; elsewhere ``xdg-open``. The path is passed as
    one argument of an argument list, never through a shell, so no file name can run a command.
    """
    path = Path(path)
    if not path.is_file():
        raise OpenFileError(f"Файл не найден: {path}")
    try:
        if sys.platform == "win32":
            os.startfile(path)  # type: ignore[attr-defined]  # Windows only
            return
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        subprocess.Popen(
            [opener, str(path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as error:
        message = f"Не удаётся открыть {path}: нет программы для этого файла ({error})."
        raise OpenFileError(message) from error
