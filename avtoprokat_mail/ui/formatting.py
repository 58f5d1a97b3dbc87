"""How values look to a Russian user."""

from __future__ import annotations

from datetime import datetime

from avtoprokat_mail.model import RunStatus

RUN_STATUS_LABELS: dict[RunStatus, str] = {
    RunStatus.RUNNING: "идёт",
    RunStatus.PAUSED: "пауза",
    RunStatus.WAITING: "ждёт дневного лимита",
    RunStatus.INTERRUPTED: "прервана",
    RunStatus.CANCELLED: "отменена",
    RunStatus.STOPPED: "остановлена",
    RunStatus.FINISHED: "завершена",
}


def run_status_text(status: RunStatus, test: bool) -> str:
    """A run's state as lists show it; a test run into a folder says so."""
    return RUN_STATUS_LABELS[status] + (" (тестовая, в папку)" if test else "")


def format_time(iso: str) -> str:
    """'2026-11-26T18:05:00' → '26.11.2026 18:05'; '' stays ''."""
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).strftime("%d.%m.%Y %H:%M")
    except ValueError:
        return iso
