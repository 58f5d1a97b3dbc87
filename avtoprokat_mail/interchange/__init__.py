"""CSV / XLSX import and export of clients. No tkinter here: the GUI and the CLI share it."""

from avtoprokat_mail.interchange.errors import InterchangeError
from avtoprokat_mail.interchange.exporting import export_clients
from avtoprokat_mail.interchange.importing import (
    ImportPlan,
    RejectedRow,
    apply_import,
    plan_import,
)

__all__ = [
    "ImportPlan",
    "InterchangeError",
    "RejectedRow",
    "apply_import",
    "export_clients",
    "plan_import",
]
