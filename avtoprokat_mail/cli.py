"""The command line (../shared/spec/CLI.md). No GUI import unless the GUI is asked for."""

from __future__ import annotations

import argparse
import csv
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from avtoprokat_mail import __version__
from avtoprokat_mail.credentials import (
    NO_SECURE_STORE,
    SMS_PASSWORD_ENV,
    SMTP_PASSWORD_ENV,
    CredentialsError,
    PasswordStore,
    resolve_password,
    sms_account,
    smtp_account,
)
from avtoprokat_mail.interchange import (
    InterchangeError,
    apply_import,
    export_clients,
    plan_import,
)
from avtoprokat_mail.model import Template
from avtoprokat_mail.paths import data_dir, database_path
from avtoprokat_mail.sending.message import (
    TemplateError,
    build_email,
    build_sms,
    configured_sender,
    load_attachments,
)
from avtoprokat_mail.sending.sms.segments import sms_length
from avtoprokat_mail.sending.template_check import check_template, unknown_placeholder_messages
from avtoprokat_mail.storage import DatabaseError, describe_error, open_database
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.storage.directory import ClientFilter, ClientTable
from avtoprokat_mail.storage.settings import (
    load_email_settings,
    load_sms_settings,
    set_setting,
    settings_items,
)
from avtoprokat_mail.system.logsetup import configure_logging
from avtoprokat_mail.validation import SettingsError, email_problem

EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_ERROR = 2


class UsageError(Exception):
    """Bad input from the command line; the message is shown to the user."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every command of CLI.md implemented so far."""
    parser = argparse.ArgumentParser(
        prog="avtoprokat-mail",
        description="Рассылка email и SMS клиентам пункта проката. Без команды открывает окно.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--data-dir", help="папка данных (по умолчанию папка пользователя)")
    parser.add_argument(
        "--smoke", action="store_true", help="открыть базу и главное окно, закрыть, выйти с 0"
    )
    parser.add_argument("--demo", action="store_true", help="сначала заполнить демо-данными")
    commands = parser.add_subparsers(dest="command", metavar="КОМАНДА")

    gui = commands.add_parser("gui", help="открыть окно программы")
    gui.add_argument(
        "--demo", action="store_true", dest="gui_demo", help="сначала заполнить демо-данными"
    )
    commands.add_parser("demo", help="добавить демо-клиентов и демо-шаблоны")

    clients = commands.add_parser("clients", help="справочник клиентов").add_subparsers(
        dest="clients_command", metavar="ДЕЙСТВИЕ", required=True
    )
    imp = clients.add_parser("import", help="импорт из CSV или XLSX")
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="только показать, что будет сделано")
    exp = clients.add_parser("export", help="экспорт в CSV или XLSX (по расширению файла)")
    exp.add_argument("file", type=Path)
    lst = clients.add_parser("list", help="список клиентов")
    lst.add_argument("--marked", action="store_true", help="только отмеченные")
    lst.add_argument("--format", choices=("table", "csv"), default="table")
    mark = clients.add_parser("mark", help="отметка клиентов")
    how = mark.add_mutually_exclusive_group(required=True)
    how.add_argument("--all", action="store_true", help="отметить всех")
    how.add_argument("--none", action="store_true", help="снять все отметки")
    how.add_argument("--invert", action="store_true", help="инвертировать отметки")
    how.add_argument("--search", metavar="ТЕКСТ", help="отметить найденных быстрым поиском")
    how.add_argument("--ids", metavar="1,2,3", help="отметить клиентов с этими номерами")
    templates = commands.add_parser("templates", help="шаблоны сообщений").add_subparsers(
        dest="templates_command", metavar="ДЕЙСТВИЕ", required=True
    )
    tlist = templates.add_parser("list", help="список шаблонов")
    tlist.add_argument("--format", choices=("table", "csv"), default="table")
    tadd = templates.add_parser("add", help="новый шаблон; печатает его номер")
    tadd.add_argument("--subject", default="", help="тема (обязательна для email)")
    body = tadd.add_mutually_exclusive_group(required=True)
    body.add_argument("--body", help="текст сообщения")
    body.add_argument("--body-file", type=Path, help="файл с текстом сообщения (UTF-8)")
    tadd.add_argument("--attach1", default="", help="приложение 1")
    tadd.add_argument("--attach2", default="", help="приложение 2")
    tadd.add_argument("--sms", action="store_true", help="отправлять как SMS")
    tadd.add_argument("--note", default="", help="примечание")
    preview = templates.add_parser("preview", help="сообщение так, как его получит клиент")
    preview.add_argument("template_id", type=int, metavar="ID")
    preview.add_argument("--client", type=int, required=True, metavar="CLIENT_ID")
    settings = commands.add_parser("settings", help="параметры почты и SMS").add_subparsers(
        dest="settings_command", metavar="ДЕЙСТВИЕ", required=True
    )
    settings.add_parser("show", help="все параметры (пароль — только задан или нет)")
    sset = settings.add_parser("set", help="изменить один параметр")
    sset.add_argument("key", metavar="КЛЮЧ")
    sset.add_argument("value", metavar="ЗНАЧЕНИЕ")
    spass = settings.add_parser("set-password", help="сохранить пароль (читается из stdin)")
    spass.add_argument("--sms", action="store_true", help="ключ или пароль SMS-шлюза")
    stest = settings.add_parser("test", help="проверить соединение (ничего не отправляет)")
    stest.add_argument("--sms", action="store_true", help="проверить SMS-шлюз (баланс)")
    send = commands.add_parser("send", help="разослать шаблон отмеченным клиентам")
    send.add_argument("template_id", type=int, nargs="?", metavar="TEMPLATE_ID")
    send.add_argument(
        "--resume", type=int, metavar="RUN_ID",
        help="продолжить прерванную, отменённую или остановленную рассылку",
    )  # fmt: skip
    send.add_argument(
        "--retry", type=int, metavar="RUN_ID",
        help="новой рассылкой отправить тем, кому рассылка RUN_ID не отправила",
    )  # fmt: skip
    send.add_argument(
        "--include-uncertain", action="store_true",
        help="с --retry: отправить и тем, чей исход неизвестен (письмо могло уйти)",
    )  # fmt: skip
    send.add_argument(
        "--again", action="store_true",
        help="отправить и тем, кто уже получил этот шаблон",
    )  # fmt: skip
    send.add_argument(
        "--skip-incomplete", action="store_true",
        help="пропустить клиентов, у которых нет данных для обозначений шаблона",
    )  # fmt: skip
    send.add_argument("--outbox", type=Path, metavar="DIR", help="записать письма в папку .eml")
    send.add_argument("--yes", action="store_true", help="не спрашивать подтверждения")
    send.add_argument(
        "--resend-uncertain",
        action="store_true",
        help="при продолжении отправить и тем, чей исход неизвестен (письмо могло уйти)",
    )
    runs = commands.add_parser("runs", help="журнал рассылок").add_subparsers(
        dest="runs_command", metavar="ДЕЙСТВИЕ", required=True
    )
    rlist = runs.add_parser("list", help="все рассылки")
    rlist.add_argument("--format", choices=("table", "csv"), default="table")
    rshow = runs.add_parser("show", help="исход по каждому получателю")
    rshow.add_argument("run_id", type=int, metavar="RUN_ID")
    rshow.add_argument("--format", choices=("table", "csv"), default="table")
    return parser


def _give_missing_streams_a_null_device() -> None:
    """A windowed .exe starts with no stdin, stdout or stderr (None): make them the null device,
    so commands run from the Task Scheduler work by their exit status instead of crashing."""
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    _give_missing_streams_a_null_device()
    args = build_parser().parse_args(argv)
    handlers: dict[str | None, Callable[[argparse.Namespace], int]] = {
        None: _run_gui,
        "gui": _run_gui,
        "demo": _run_demo,
        "clients": _run_clients,
        "templates": _run_templates,
        "settings": _run_settings,
        "send": _run_send,
        "runs": _run_runs,
    }
    command = None if args.smoke else args.command
    try:
        return handlers[command](args)
    except (DatabaseError, InterchangeError, UsageError, SettingsError, CredentialsError) as error:
        print(f"Ошибка: {error}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `avtoprokat-mail runs show 1 | head`: the reader has gone
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except sqlite3.Error as error:  # e.g. the file became locked by another program mid-command
        print(f"Ошибка: {describe_error(error, database_path(_folder(args)))}", file=sys.stderr)
        return EXIT_ERROR


def _folder(args: argparse.Namespace) -> Path:
    folder = data_dir(args.data_dir)
    configure_logging(folder)
    return folder


def _open(args: argparse.Namespace):
    return open_database(database_path(_folder(args)))


def _run_gui(args: argparse.Namespace) -> int:
    from avtoprokat_mail.app import run  # the GUI is imported only when asked for

    demo = args.demo or getattr(args, "gui_demo", False)
    return run(_folder(args), demo=demo, smoke=args.smoke)


def _run_demo(args: argparse.Namespace) -> int:
    from avtoprokat_mail.interchange.demo import add_demo_data

    conn = _open(args)
    try:
        clients, templates = add_demo_data(conn)
    finally:
        conn.close()
    print(f"демо-шаблонов добавлено: {templates}")
    print(f"демо-клиентов добавлено: {clients}")
    return EXIT_OK


def _run_clients(args: argparse.Namespace) -> int:
    conn = _open(args)
    try:
        return {
            "import": _clients_import,
            "export": _clients_export,
            "list": _clients_list,
            "mark": _clients_mark,
        }[args.clients_command](conn, args)
    finally:
        conn.close()


def _clients_import(conn, args: argparse.Namespace) -> int:
    plan = plan_import(conn, args.file)
    for rejected in plan.rejected:
        print(f"строка {rejected.line}: {rejected.reason}", file=sys.stderr)
    if not args.dry_run:
        apply_import(conn, plan)
    print(f"imported {len(plan.added)}, updated {len(plan.updated)}, rejected {len(plan.rejected)}")
    return EXIT_OK


def _clients_export(conn, args: argparse.Namespace) -> int:
    count = export_clients(conn, args.file)
    print(f"exported {count}")
    return EXIT_OK


_LIST_COLUMNS = (
    "id", "surname", "name", "position", "organization", "email", "mobile", "phone",
    "marked", "opt_out",
)  # fmt: skip


def _clients_list(conn, args: argparse.Namespace) -> int:
    clients = client_store.list_clients(conn, marked_only=args.marked)
    rows = [
        [int(v) if isinstance(v, bool) else v for v in (getattr(c, n) for n in _LIST_COLUMNS)]
        for c in clients
    ]
    _write_rows(_LIST_COLUMNS, rows, args.format)
    return EXIT_OK


def _write_rows(headers: Sequence[str], rows: list[list], output_format: str) -> None:
    """A header and rows as CSV for scripts (UTF-8, CLI.md) or as a table for people."""
    if output_format == "csv":
        # CLI.md promises UTF-8; a redirected stdout on Windows would otherwise be cp1251.
        sys.stdout.reconfigure(encoding="utf-8")
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)
    else:
        _print_table(headers, rows)


def _print_table(headers: Sequence[str], rows: list[list]) -> None:
    """Plain aligned columns for a terminal."""
    texts = [[str(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in texts)]) for i, h in enumerate(headers)]
    for line in [list(headers), *texts]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


def _clients_mark(conn, args: argparse.Namespace) -> int:
    if args.all or args.none:
        client_store.set_all_marked(conn, args.all)
    elif args.invert:
        client_store.invert_marks(conn)
    else:
        ids = _ids_to_mark(conn, args)
        client_store.set_marked(conn, ids, True)
    total, marked = client_store.counts(conn)
    print(f"отмечено {marked} из {total}")
    return EXIT_OK


def _ids_to_mark(conn, args: argparse.Namespace) -> list[int]:
    if args.search is not None:
        table = ClientTable(client_store.fetch_rows(conn))
        return [table.ids[i] for i in table.matching(ClientFilter(text=args.search))]
    try:
        return [int(part) for part in args.ids.split(",") if part.strip()]
    except ValueError as error:
        raise UsageError(f"--ids ждёт номера через запятую, например 1,2,3: {args.ids}") from error


def _run_templates(args: argparse.Namespace) -> int:
    conn = _open(args)
    try:
        return {
            "list": _templates_list,
            "add": _templates_add,
            "preview": _templates_preview,
        }[args.templates_command](conn, args)
    finally:
        conn.close()


_TEMPLATE_COLUMNS = ("id", "created", "sent", "sms", "subject", "note")


def _templates_list(conn, args: argparse.Namespace) -> int:
    rows = [
        [t.id, t.created, t.sent, int(t.sms), t.subject, t.note]
        for t in template_store.list_templates(conn)
    ]
    _write_rows(_TEMPLATE_COLUMNS, rows, args.format)
    return EXIT_OK


def _templates_add(conn, args: argparse.Namespace) -> int:
    if args.body_file is not None:
        try:
            body = args.body_file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise UsageError(f"не удаётся прочитать {args.body_file}: {error}") from error
    else:
        body = args.body
    template = Template(
        subject=args.subject,
        body=body,
        sms=args.sms,
        attachment1=_absolute(args.attach1),
        attachment2=_absolute(args.attach2),
        note=args.note,
    )
    check = check_template(template)
    for warning in check.warnings:
        print(f"Внимание: {warning}", file=sys.stderr)
    if check.errors:
        raise UsageError(" ".join(check.errors))
    print(template_store.add_template(conn, template))
    return EXIT_OK


def _absolute(path: str) -> str:
    """Attachments are stored as absolute paths: a template must not depend on the cwd."""
    return str(Path(path).expanduser().resolve()) if path else ""


def _templates_preview(conn, args: argparse.Namespace) -> int:
    template = template_store.get_template(conn, args.template_id)
    if template is None:
        raise UsageError(f"нет шаблона с номером {args.template_id}")
    client = client_store.get_client(conn, args.client)
    if client is None:
        raise UsageError(f"нет клиента с номером {args.client}")
    for problem in unknown_placeholder_messages(template):
        print(f"Внимание: {problem}", file=sys.stderr)
    if template.sms:
        text = build_sms(template, client)
        print(text)
        print(sms_length(text).describe())
        return EXIT_OK
    if problem := email_problem(client.email):
        raise UsageError(f"клиенту {args.client} письмо не отправить: {problem}")
    try:
        attachments = load_attachments(template)
    except TemplateError as error:
        raise UsageError(str(error)) from error
    sender = configured_sender(load_email_settings(conn))
    message = build_email(template, client, sender, attachments)
    if sender is None:
        print(
            "Внимание: отправитель ещё не настроен (окно «Параметры»), поэтому в письме нет From.",
            file=sys.stderr,
        )
    sys.stdout.flush()
    sys.stdout.buffer.write(message.as_bytes())
    sys.stdout.buffer.flush()
    return EXIT_OK


def _run_settings(args: argparse.Namespace) -> int:
    conn = _open(args)
    try:
        return {
            "show": _settings_show,
            "set": _settings_set,
            "set-password": _settings_set_password,
            "test": _settings_test,
        }[args.settings_command](conn, args)
    finally:
        conn.close()


def _settings_show(conn, args: argparse.Namespace) -> int:
    for key, value in settings_items(conn):
        print(f"{key} = {value}")
    store = PasswordStore()
    email, sms = load_email_settings(conn), load_sms_settings(conn)
    for key, account in (
        ("email.password", smtp_account(email)),
        ("sms.password", sms_account(sms)),
    ):
        print(f"{key} = {'задан' if store.secure and store.is_set(account) else 'не задан'}")
    if not store.secure:
        print(f"Внимание: {NO_SECURE_STORE}", file=sys.stderr)
    return EXIT_OK


def _settings_set(conn, args: argparse.Namespace) -> int:
    set_setting(conn, args.key, args.value)
    return EXIT_OK


def _settings_set_password(conn, args: argparse.Namespace) -> int:
    store = PasswordStore()
    if not store.secure:
        env = SMS_PASSWORD_ENV if args.sms else SMTP_PASSWORD_ENV
        raise UsageError(f"{NO_SECURE_STORE} Для автоматизации задайте переменную окружения {env}.")
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise UsageError("пустой пароль: передайте его на стандартный ввод")
    if args.sms:
        account = sms_account(load_sms_settings(conn))
    else:
        account = smtp_account(load_email_settings(conn))
    store.set(account, password)
    print("пароль сохранён в хранилище паролей системы")
    return EXIT_OK


def _settings_test(conn, args: argparse.Namespace) -> int:
    store = PasswordStore()
    if args.sms:
        from avtoprokat_mail.sending.sms.gateway import check_sms

        sms = load_sms_settings(conn)
        result = check_sms(sms, resolve_password(store, sms_account(sms), SMS_PASSWORD_ENV))
    else:
        from avtoprokat_mail.sending.smtp import check_smtp

        email = load_email_settings(conn)
        if not email.host:
            raise UsageError("SMTP-сервер не задан: settings set email.host smtp.mail.ru")
        password = resolve_password(store, smtp_account(email), SMTP_PASSWORD_ENV)
        result = check_smtp(email, password)
    print(result.message)
    return EXIT_OK if result.ok else EXIT_ERROR


def _run_send(args: argparse.Namespace) -> int:
    from avtoprokat_mail import sending_cli

    folder = _folder(args)
    conn = open_database(database_path(folder))
    try:
        return sending_cli.send(conn, database_path(folder), args)
    finally:
        conn.close()


def _run_runs(args: argparse.Namespace) -> int:
    from avtoprokat_mail import sending_cli

    folder = _folder(args)
    conn = open_database(database_path(folder))
    try:
        if args.runs_command == "list":
            headers, rows = sending_cli.runs_table(conn, folder)
        else:
            headers, rows = sending_cli.run_details(conn, args.run_id)
        _write_rows(headers, rows, args.format)
    finally:
        conn.close()
    return EXIT_OK
