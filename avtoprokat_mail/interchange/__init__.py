"""CSV / XLSX import and export of clients. No tkinter here: the GUI and the CLI share it.

The names below are imported on first use: a command that only needs
:class:`InterchangeError` (every command, to report it) does not load the spreadsheet readers.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from avtoprokat_mail.interchange.errors import InterchangeError

if TYPE_CHECKING:
    from avtoprokat_mail.interchange.exporting import export_clients
    from avtoprokat_mail.interchange.importing import (
        ImportPlan,
        RejectedRow,
        apply_import,
        plan_import,
    )

_WHERE = {
    "export_clients": "exporting",
    "ImportPlan": "importing",
    "RejectedRow": "importing",
    "apply_import": "importing",
    "plan_import": "importing",
}

__all__ = [
    "ImportPlan",
    "InterchangeError",
    "RejectedRow",
    "apply_import",
    "export_clients",
    "plan_import",
]


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{module}"), name)
