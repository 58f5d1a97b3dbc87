"""The per-recipient report of a run, exported to CSV or XLSX from the progress window."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from avtoprokat_mail.interchange.exporting import write_table
from avtoprokat_mail.model import DELIVERY_STATUS_LABELS, DeliveryStatus
from avtoprokat_mail.storage import runs as run_store

REPORT_HEADER = (
    "№", "Получатель", "Фамилия", "Имя", "Результат", "Время", "Ответ сервера", "Ящик отправителя",
)  # fmt: skip


def export_report(
    conn: sqlite3.Connection,
    run_id: int,
    path: Path,
    statuses: Iterable[DeliveryStatus] | None = None,
) -> int:
    """Write a run's deliveries (only ``statuses`` when given); returns how many rows."""
    rows = [
        [str(d.position), d.recipient, d.surname, d.name, DELIVERY_STATUS_LABELS[d.status],
         d.time.replace("T", " "), d.reply, d.mailbox]
        for d in run_store.deliveries(conn, run_id, statuses)
    ]  # fmt: skip
    write_table(path, REPORT_HEADER, rows, sheet=f"Рассылка {run_id}")
    return len(rows)
