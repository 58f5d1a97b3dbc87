"""SQLite storage. No tkinter here: the GUI, the CLI, tests and benchmarks share it."""

from avtoprokat_mail.storage.db import (
    DatabaseError,
    database_file,
    describe_error,
    open_database,
    transaction,
)

__all__ = ["DatabaseError", "database_file", "describe_error", "open_database", "transaction"]
