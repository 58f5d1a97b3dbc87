"""``runs list | show``: the journal of runs, for people and for scripts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from avtoprokat_mail.cli.context import Context
from avtoprokat_mail.cli.exits import EXIT_OK, UsageError
from avtoprokat_mail.cli.output import write_rows
from avtoprokat_mail.model import DeliveryStatus
from avtoprokat_mail.sending.runlock import effective_status
from avtoprokat_mail.storage import runs as run_store


def run(context: Context) -> int:
    args = context.args
    if args.runs_command == "list":
        headers, rows = runs_table(context.conn, context.folder)
        titles = RUN_TITLES
    else:
        headers, rows = run_details(context.conn, args.run_id)
        titles = DELIVERY_TITLES
    write_rows(headers, rows, args.format, titles=titles)
    return EXIT_OK


RUN_COLUMNS = (
    "id", "template_id", "started", "finished", "status", "sent", "failed", "skipped", "test",
)  # fmt: skip
DELIVERY_COLUMNS = ("client_id", "recipient", "status", "time", "reply", "mailbox")
RUN_TITLES = (
    "№", "Шаблон", "Начата", "Закончена", "Состояние", "Отправлено", "Ошибок", "Пропущено",
    "Тестовая",
)  # fmt: skip
DELIVERY_TITLES = ("№ клиента", "Получатель", "Результат", "Время", "Ответ сервера", "Ящик")


def runs_table(conn: sqlite3.Connection, folder: Path) -> tuple[tuple[str, ...], list[list]]:
    """``runs list``: every run with its effective status and counts."""
    rows = []
    for run in run_store.list_runs(conn):
        counts = run_store.status_counts(conn, run.id)
        rows.append([
            run.id, run.template_id if run.template_id is not None else "", run.started,
            run.finished, effective_status(run, folder).value, counts[DeliveryStatus.SENT],
            counts[DeliveryStatus.FAILED], counts[DeliveryStatus.SKIPPED], int(run.test),
        ])  # fmt: skip
    return RUN_COLUMNS, rows


def run_details(conn: sqlite3.Connection, run_id: int) -> tuple[tuple[str, ...], list[list]]:
    """``runs show``: each recipient's outcome."""
    if run_store.get_run(conn, run_id) is None:
        raise UsageError(f"нет рассылки с номером {run_id}")
    rows = [
        [
            d.client_id if d.client_id is not None else "",
            d.recipient,
            d.status.value,
            d.time,
            d.reply,
            d.mailbox,
        ]
        for d in run_store.deliveries(conn, run_id)
    ]
    return DELIVERY_COLUMNS, rows
