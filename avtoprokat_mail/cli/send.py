"""``send``: a run from the command line, with a progress bar on a terminal; Ctrl+C cancels."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import datetime

from avtoprokat_mail.cli.context import Context
from avtoprokat_mail.cli.exits import EXIT_ERROR, EXIT_OK, EXIT_SOME_FAILED, EXIT_WAITING
from avtoprokat_mail.cli.output import say as _say
from avtoprokat_mail.model import Channel, Route, RunStatus
from avtoprokat_mail.sending.campaign import Campaign, Progress, RunBusy, RunPlan, format_duration
from avtoprokat_mail.sending.lifecycle import (
    Mailer,
    NobodyLeft,
    PreparedRun,
    RunRefused,
    Schedule,
)
from avtoprokat_mail.sending.setup import SetupError
from avtoprokat_mail.sizes import size_text
from avtoprokat_mail.storage import templates as template_store


def run(context: Context) -> int:
    """``send TEMPLATE_ID``, ``send --resume RUN_ID`` or ``send --retry RUN_ID``."""
    args = context.args
    chosen = [x is not None for x in (args.template_id, args.resume, args.retry)]
    if sum(chosen) != 1:
        _say(
            "Ошибка: укажите номер шаблона, или --resume НОМЕР_РАССЫЛКИ, или --retry НОМЕР_РАССЫЛКИ"
        )
        return EXIT_ERROR
    mailer = Mailer(context.conn, context.passwords)
    try:
        if args.template_id is not None:
            prepared = _new_run(mailer, args)
        elif args.resume is not None:
            prepared = _resumed_run(mailer, args)
        else:
            prepared = _retried_run(mailer, args)
    except SetupError as error:
        _say(f"Ошибка: {error.for_command_line()}")
        return EXIT_ERROR
    except RunRefused as error:
        _say(f"Ошибка: {error}")
        return EXIT_ERROR
    if isinstance(prepared, int):
        return prepared
    bar = ProgressBar(enabled=sys.stderr.isatty())
    final = _run_interruptibly(prepared.campaign(bar.show, wait_for_limit=args.wait))
    bar.close()
    if final is None:
        return EXIT_ERROR
    if final.reason:
        _say(final.reason)
    print(result_line(final.sent, final.failed, final.skipped, final.uncertain))
    if final.status is RunStatus.WAITING:
        _say(
            f"Рассылка № {prepared.run_id} ждёт: продолжит {format_moment(final.resume_at)} "
            f"(send --resume {prepared.run_id}, или сразу с ожиданием: send --resume "
            f"{prepared.run_id} --wait)"
        )
        return EXIT_WAITING
    if final.status is not RunStatus.FINISHED:
        _say(
            f"Рассылка № {prepared.run_id} не завершена; продолжить: send --resume "
            f"{prepared.run_id}, или отправить оставшимся новой рассылкой: send --retry "
            f"{prepared.run_id}"
        )
        return EXIT_ERROR
    return EXIT_SOME_FAILED if final.failed or final.uncertain else EXIT_OK


def format_moment(unix_time: float) -> str:
    """A moment as the user reads it: local date and time, «03.12.2026 08:06»."""
    return datetime.fromtimestamp(unix_time).strftime("%d.%m.%Y %H:%M")


def result_line(sent: int, failed: int, skipped: int, uncertain: int) -> str:
    """The last stdout line of ``send`` (stable English, read by scripts)."""
    return f"sent {sent}, failed {failed}, skipped {skipped}, uncertain {uncertain}"


def _new_run(mailer: Mailer, args: argparse.Namespace) -> PreparedRun | int:
    template = template_store.get_template(mailer.conn, args.template_id)
    if template is None:
        _say(f"Ошибка: нет шаблона с номером {args.template_id}")
        return EXIT_ERROR
    plan = mailer.plan(template, again=args.again, skip_incomplete=args.skip_incomplete)
    route = Route.outbox(args.outbox) if args.outbox else Route.direct(plan.channel)
    setup = mailer.setup(plan.channel, route)  # settings problems before the summary
    _print_plan(plan, test=route.is_test)
    if setup.gateway is not None:  # an SMS run through the gateway, not into a folder
        # Imported here: the gateway's HTTP client has no part in an email run.
        from avtoprokat_mail.sending.sms.estimate import cost_line

        _say(f"  SMS всего: {plan.segments}. {cost_line(setup.gateway, plan)}")
    if plan.channel is Channel.EMAIL and not route.is_test and plan.recipients:
        _print_schedule(mailer.schedule(plan))
    if not plan.recipients and plan.repeats and len(plan.problems) == 1:
        _say(plan.problems[0])  # the repeat check left nobody: nothing to do, and no error
        print(result_line(0, 0, len(plan.skipped), 0))
        return EXIT_OK
    if not plan.can_start:
        for problem in plan.problems:
            _say(f"Ошибка: {problem}")
        return EXIT_ERROR
    what = "Записать в папку" if args.outbox else "Отправить"
    if not _confirmed(args, f"{what} {len(plan.recipients)} сообщений?"):
        return EXIT_ERROR
    try:
        prepared = mailer.start(plan, outbox=args.outbox, setup=setup)
    except NobodyLeft as nobody:  # the repeat check, made again at the start, left nobody
        _say(str(nobody))
        print(result_line(0, 0, len(plan.recipients) + len(plan.skipped), 0))
        return EXIT_OK
    test = " (тестовая: письма в папку, клиентам ничего не отправляется)" if args.outbox else ""
    _say(f"Рассылка № {prepared.run_id}{test}")
    return prepared


def _print_schedule(schedule: Schedule) -> None:
    """Which mailbox sends how many today, and when the run can end (daily limits)."""
    for address, count in schedule.today:
        _say(f"  через {address}: {count} в ближайшие сутки")
    if schedule.later:
        _say(
            f"  ещё {schedule.later} ждут дневного лимита ящиков: рассылка закончится около "
            f"{format_moment(schedule.ends_at)}"
        )


def _print_plan(plan: RunPlan, *, test: bool) -> None:
    _say(f"Получателей: {len(plan.recipients)}, пропущено: {len(plan.skipped)}")
    for warning in [] if test else plan.warnings:
        _say(f"Внимание: {warning}")
    for kind, count in plan.skip_kinds.most_common():
        _say(f"  пропущено ({count}): {kind}")
    if plan.repeats:
        _say(f"  уже получили этот шаблон: {plan.repeats} — отправить и им: --again")
    if plan.taken_over and not test:  # a test run takes nobody over
        runs = ", ".join(f"№ {n}" for n in sorted({d.run_id for d in plan.taken_over}))
        _say(f"  из незавершённых рассылок ({runs}) переходят в эту: {len(plan.taken_over)}")
    for name, size in plan.attachments:
        _say(f"  приложение: {name}, {size_text(size)}")
    _warn_incomplete(plan)


def _warn_incomplete(plan: RunPlan) -> None:
    """Name the clients who would get an empty field (stderr), or who are skipped for it."""
    if not plan.incomplete:
        return
    counts = ", ".join(f"%{name}% — {count}" for name, count in plan.missing_counts.items())
    names = [d.display_name or d.recipient for d, _missing in plan.incomplete]
    shown = ", ".join(names[:10]) + (f" и ещё {len(names) - 10}" if len(names) > 10 else "")
    if plan.skip_incomplete:
        _say(f"  пропущены клиенты без данных для шаблона ({counts}): {shown}")
    else:
        _say(
            f"Предупреждение: у {len(names)} клиентов нет данных для шаблона ({counts}), "
            f"в письме это место останется пустым: {shown}. Пропустить их: --skip-incomplete; "
            "или задайте значение по умолчанию, например %Должность|сотрудник%."
        )


def _resumed_run(mailer: Mailer, args: argparse.Namespace) -> PreparedRun | int:
    state = mailer.state(args.resume)
    _say(
        f"Продолжение рассылки № {state.run.id}: осталось {state.pending}, "
        f"отправлено ранее {state.sent}"
    )
    if state.uncertain:
        _say(f"  с неизвестным исходом: {state.uncertain} (письмо могло уйти; не отправляются "
             "повторно, если не указан --resend-uncertain)")  # fmt: skip
    if why := state.why_not_continue(args.resend_uncertain):
        _say(f"Ошибка: {why}")
        return EXIT_ERROR
    if not _confirmed(args, "Продолжить рассылку?"):
        return EXIT_ERROR
    return mailer.resume(state.run.id, resend_uncertain=args.resend_uncertain)


def _retried_run(mailer: Mailer, args: argparse.Namespace) -> PreparedRun | int:
    state = mailer.state(args.retry)
    include = args.include_uncertain
    _say(
        f"Повтор рассылки № {state.run.id}: не отправлено {state.pending}, "
        f"ошибок {state.failed}, с неизвестным исходом {state.uncertain}"
        + ("" if include or not state.uncertain else " (их — только с --include-uncertain)")
    )
    if why := state.why_not_retry(include):
        _say(f"Ошибка: {why}")
        return EXIT_ERROR
    if not _confirmed(args, f"Отправить {state.retryable(include)} сообщений новой рассылкой?"):
        return EXIT_ERROR
    prepared = mailer.retry(state.run.id, include_uncertain=include)
    _say(f"Рассылка № {prepared.run_id} (повтор рассылки № {state.run.id})")
    return prepared


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
        state = f"осталось {left}"
        if progress.status is RunStatus.WAITING:  # send --wait at the mailbox's daily limit
            state = f"дневной лимит: ждёт до {format_moment(progress.resume_at)}"
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (self.width - filled)}] {progress.sent}/{progress.total} "
            f"отправлено, ошибок {progress.failed}, {progress.per_minute:.0f}/мин, {state}   "
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
