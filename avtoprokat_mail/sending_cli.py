"""``send`` and ``runs`` of the command line (CLI.md): the engine with a terminal progress bar."""

from __future__ import annotations

import argparse
import sqlite3
import sys
import threading
import time
from pathlib import Path

from avtoprokat_mail.credentials import PasswordStore
from avtoprokat_mail.model import DeliveryStatus, RunStatus
from avtoprokat_mail.sending.campaign import (
    Campaign,
    Progress,
    RunBusy,
    RunPlan,
    format_duration,
    plan_run,
    start_run,
)
from avtoprokat_mail.sending.runlock import effective_status
from avtoprokat_mail.sending.setup import SetupError, direct_transport, outbox_name, prepare
from avtoprokat_mail.sending.sms.estimate import cost_line
from avtoprokat_mail.sending.sms.transport import SmsTransport
from avtoprokat_mail.storage import runs as run_store
from avtoprokat_mail.storage import templates as template_store

EXIT_OK, EXIT_SOME_FAILED, EXIT_ERROR = 0, 1, 2


def _say(text: str) -> None:
    print(text, file=sys.stderr)


def send(conn: sqlite3.Connection, database: Path, args: argparse.Namespace) -> int:
    """``send TEMPLATE_ID`` or ``send --resume RUN_ID``; returns the exit status of CLI.md."""
    if (args.template_id is None) == (args.resume is None):
        _say("Ошибка: укажите номер шаблона или --resume RUN_ID")
        return EXIT_ERROR
    try:
        run_id = _new_run(conn, args) if args.resume is None else _resumable(conn, database, args)
    except SetupError as error:
        _say(f"Ошибка: {error}")
        return EXIT_ERROR
    if run_id is None:
        return EXIT_ERROR
    run = run_store.get_run(conn, run_id)
    try:
        setup = prepare(conn, run.channel, run.transport, PasswordStore())
    except SetupError as error:
        _say(f"Ошибка: {error}")
        return EXIT_ERROR
    bar = ProgressBar(enabled=sys.stderr.isatty())
    campaign = Campaign(database, run_id, setup.transport, sender=setup.sender,
                        per_minute=setup.per_minute, on_progress=bar.show)  # fmt: skip
    final = _run_interruptibly(campaign)
    bar.close()
    if final is None:
        return EXIT_ERROR
    if final.reason:
        _say(final.reason)
    print(f"sent {final.sent}, failed {final.failed}, skipped {final.skipped}")
    if final.status is not RunStatus.FINISHED:
        _say(f"Рассылка № {run_id} не завершена; продолжить: send --resume {run_id}")
        return EXIT_ERROR
    return EXIT_SOME_FAILED if final.failed or final.uncertain else EXIT_OK


def _new_run(conn: sqlite3.Connection, args: argparse.Namespace) -> int | None:
    template = template_store.get_template(conn, args.template_id)
    if template is None:
        _say(f"Ошибка: нет шаблона с номером {args.template_id}")
        return None
    plan = plan_run(conn, template)
    transport = outbox_name(args.outbox) if args.outbox else direct_transport(plan.channel)
    setup = prepare(conn, plan.channel, transport, PasswordStore())  # settings problems first
    _print_plan(plan)
    if isinstance(setup.transport, SmsTransport):  # not for a test run into a folder
        _say(f"  SMS всего: {plan.segments}. {cost_line(setup.transport.gateway, plan)}")
    if not plan.can_start:
        for problem in plan.problems:
            _say(f"Ошибка: {problem}")
        return None
    if not _confirmed(args, f"Отправить {len(plan.recipients)} сообщений?"):
        return None
    run_id = start_run(conn, plan, transport)
    _say(f"Рассылка № {run_id}")
    return run_id


def _print_plan(plan: RunPlan) -> None:
    _say(f"Получателей: {len(plan.recipients)}, пропущено: {len(plan.skipped)}")
    for reason, count in plan.skip_reasons.most_common():
        _say(f"  пропущено ({count}): {reason}")
    for name, size in plan.attachments:
        _say(f"  приложение: {name}, {size / 1024:.0f} КБ")


def _resumable(conn: sqlite3.Connection, database: Path, args: argparse.Namespace) -> int | None:
    run = run_store.get_run(conn, args.resume)
    if run is None:
        _say(f"Ошибка: нет рассылки с номером {args.resume}")
        return None
    status = effective_status(run, database.parent)
    if status is RunStatus.FINISHED:
        _say(f"Рассылка № {run.id} уже завершена: повторять нечего.")
        return None
    if status is RunStatus.RUNNING:
        _say(f"Ошибка: рассылка № {run.id} сейчас идёт в другом окне или процессе.")
        return None
    run_store.sending_to_uncertain(conn, run.id)
    if args.resend_uncertain:
        run_store.uncertain_to_pending(conn, run.id)
    counts = run_store.status_counts(conn, run.id)
    _say(f"Продолжение рассылки № {run.id}: осталось {counts[DeliveryStatus.PENDING]}, "
         f"отправлено ранее {counts[DeliveryStatus.SENT]}")  # fmt: skip
    if uncertain := counts[DeliveryStatus.UNCERTAIN]:
        _say(f"  с неизвестным исходом: {uncertain} (письмо могло уйти; не отправляются "
             "повторно, если не указан --resend-uncertain)")  # fmt: skip
    if not _confirmed(args, "Продолжить рассылку?"):
        return None
    return run.id


def _confirmed(args: argparse.Namespace, question: str) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        _say("Ошибка: подтвердите отправку ключом --yes (нет терминала, чтобы спросить).")
        return False
    answer = input(f"{question} [да/нет] ").strip().casefold()
    return answer in ("да", "д", "y", "yes")


def _run_interruptibly(campaign: Campaign) -> Progress | None:
    """Run on a worker thread so Ctrl+C cancels between messages instead of mid-message."""
    outcome: list[Progress | BaseException] = []
    done = threading.Event()

    def work() -> None:
        try:
            outcome.append(campaign.run())
        except BaseException as error:
            outcome.append(error)
        finally:
            done.set()

    worker = threading.Thread(target=work, name="campaign")
    worker.start()
    # Wait on an Event, not on join(): on Python < 3.13 a KeyboardInterrupt inside join()
    # marks the thread as ended while it still runs (CPython gh-90882), so the next join()
    # returns at once and the program exits in the middle of a message.
    try:
        while not done.wait(0.2):
            pass
    except KeyboardInterrupt:
        _say("\nОтмена: дожидаюсь окончания текущего сообщения…")
        campaign.cancel()
        done.wait()
    result = outcome[0] if outcome else None
    if isinstance(result, RunBusy):
        _say(f"Ошибка: {result}")
        return None
    if isinstance(result, BaseException):
        raise result
    return result


class ProgressBar:
    """A one-line progress bar on the terminal (stderr), redrawn at most ten times a second."""

    def __init__(self, *, enabled: bool, width: int = 30) -> None:
        self.enabled, self.width = enabled, width
        self._drawn = 0.0

    def show(self, progress: Progress) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self._drawn < 0.1 and not progress.ended):
            return
        self._drawn = now
        total = max(progress.total, 1)
        filled = int(self.width * progress.done / total)
        left = format_duration(progress.seconds_left) if progress.seconds_left is not None else "—"
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {progress.sent}/{progress.total} "
            f"отправлено, ошибок {progress.failed}, {progress.per_minute:.0f}/мин, "
            f"осталось {left}   "
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


RUN_COLUMNS = ("id", "template_id", "started", "finished", "status", "sent", "failed", "skipped")
DELIVERY_COLUMNS = ("client_id", "recipient", "status", "time", "reply")


def runs_table(conn: sqlite3.Connection, folder: Path) -> tuple[tuple[str, ...], list[list]]:
    """``runs list``: every run with its effective status and counts."""
    rows = []
    for run in run_store.list_runs(conn):
        counts = run_store.status_counts(conn, run.id)
        rows.append([
            run.id, run.template_id if run.template_id is not None else "", run.started,
            run.finished, effective_status(run, folder).value, counts[DeliveryStatus.SENT],
            counts[DeliveryStatus.FAILED], counts[DeliveryStatus.SKIPPED],
        ])  # fmt: skip
    return RUN_COLUMNS, rows


def run_details(conn: sqlite3.Connection, run_id: int) -> tuple[tuple[str, ...], list[list]]:
    """``runs show``: each recipient's outcome."""
    from avtoprokat_mail.cli import UsageError

    if run_store.get_run(conn, run_id) is None:
        raise UsageError(f"нет рассылки с номером {run_id}")
    rows = [
        [
            d.client_id if d.client_id is not None else "",
            d.recipient,
            d.status.value,
            d.time,
            d.reply,
        ]
        for d in run_store.deliveries(conn, run_id)
    ]
    return DELIVERY_COLUMNS, rows
