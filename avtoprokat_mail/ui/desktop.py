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
        raise OpenFileError(_why_not_opened(path, error)) from error


# What Windows' ShellExecute reports for a file no program is registered to open: "no
# application is associated" (1155), "association incomplete" (1156), SE_ERR_NOASSOC (31),
# "file not found" (2) when the registered program itself is gone, and "not a valid
# application" (193), Wine's answer when it finds no program for the file.
NO_VIEWER_ERRORS = {2, 31, 193, 1155, 1156}


def _why_not_opened(path: Path, error: OSError) -> str:
    """Plain Russian for an opening that failed: no program at all, or something else."""
    no_viewer = isinstance(error, FileNotFoundError) or (
        getattr(error, "winerror", None) in NO_VIEWER_ERRORS
    )
    if no_viewer:
        kind = f"«{path.suffix}»" if path.suffix else "без расширения"
        return (
            f"На этом компьютере нет программы для просмотра файлов {kind}.\n\n"
            f"Файл на месте и будет отправлен; открыть его можно из папки:\n{path.parent}"
        )
    reason = error.strerror or error.__class__.__name__
    return f"Не удаётся открыть файл {path.name}: {reason}.\n\nПапка файла: {path.parent}"
