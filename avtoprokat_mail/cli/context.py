"""What a command works with: the data folder, its database, the one password store."""

from __future__ import annotations

import argparse
import sqlite3
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from avtoprokat_mail.paths import data_dir, database_path
from avtoprokat_mail.storage import open_database
from avtoprokat_mail.system.logsetup import configure_logging

if TYPE_CHECKING:
    from avtoprokat_mail.credentials import PasswordStore


class Context:
    """Opened on demand, closed by :meth:`close`: a command that needs no database opens none,
    and the password store (keyring, slow to import) is built once, only when asked for."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.folder: Path = data_dir(args.data_dir)
        configure_logging(self.folder)
        self.database = database_path(self.folder)

    @cached_property
    def conn(self) -> sqlite3.Connection:
        return open_database(self.database)

    @cached_property
    def passwords(self) -> PasswordStore:
        from avtoprokat_mail.credentials import PasswordStore

        return PasswordStore()

    def close(self) -> None:
        if "conn" in self.__dict__:
            self.conn.close()
