"""Where the program keeps its data: one folder per user, one SQLite file in it."""

from __future__ import annotations

import os
from pathlib import Path

HOME_ENV = "AVTOPROKAT_MAIL_HOME"
DATABASE_NAME = "avtoprokat_mail.sqlite3"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Return the data folder, creating it when missing.

    Order of precedence: the explicit override (``--data-dir``), the environment variable
    ``AVTOPROKAT_MAIL_HOME``, then the per-user folder (``%APPDATA%`` on Windows).
    """
    if override:
        folder = Path(override)
    elif os.environ.get(HOME_ENV):
        folder = Path(os.environ[HOME_ENV])
    else:
        import platformdirs  # only here: a command given its folder does not load it

        folder = Path(platformdirs.user_data_dir("avtoprokat_mail", appauthor=False, roaming=True))
    folder = folder.expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def database_path(folder: Path) -> Path:
    """The database file inside a data folder."""
    return folder / DATABASE_NAME
