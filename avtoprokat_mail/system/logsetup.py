"""The program's log: a file in the data folder (a windowed .exe has no console at all)."""

from __future__ import annotations

import logging
import logging.handlers
import sys
from pathlib import Path

LOG_NAME = "avtoprokat_mail.log"


def log_path(folder: Path) -> Path:
    return Path(folder) / LOG_NAME


def configure_logging(folder: Path) -> Path:
    """Log to ``folder/avtoprokat_mail.log`` (1 MB × 3 files); returns its path.

    Uncaught exceptions of any thread are logged too. A process logs to one file: a later call
    for another folder (tests use many) replaces the earlier file handler.
    """
    path = log_path(folder)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "avtoprokat_log", path) != path]:
        root.removeHandler(old)
        old.close()
    if not any(getattr(h, "avtoprokat_log", None) == path for h in root.handlers):
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=1_000_000, backupCount=3, encoding="utf-8", delay=True
        )
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
        )
        handler.avtoprokat_log = path
        root.addHandler(handler)
        root.setLevel(logging.INFO)
    sys.excepthook = _log_uncaught
    return path


def _log_uncaught(kind, value, tb) -> None:
    logging.getLogger("avtoprokat_mail").critical(
        "Необработанная ошибка", exc_info=(kind, value, tb)
    )
    if sys.__stderr__ is not None:  # a windowed .exe has none
        sys.__excepthook__(kind, value, tb)
