"""``templates list | add | preview``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from avtoprokat_mail.cli.context import Context
from avtoprokat_mail.cli.exits import EXIT_OK, UsageError
from avtoprokat_mail.cli.output import write_rows
from avtoprokat_mail.model import Template
from avtoprokat_mail.sending.message import (
    TemplateError,
    build_email,
    build_sms,
    configured_sender,
    load_attachments,
)
from avtoprokat_mail.sending.sms.segments import sms_length
from avtoprokat_mail.sending.template_check import check_template, unknown_placeholder_messages
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.storage.settings import load_email_settings
from avtoprokat_mail.validation import email_problem

TEMPLATE_COLUMNS = ("id", "created", "sent", "sms", "subject", "note")
TEMPLATE_TITLES = ("№", "Создан", "Отправлен", "SMS", "Тема", "Примечание")


def run(context: Context) -> int:
    handler = {
        "list": _list,
        "add": _add,
        "preview": _preview,
    }[context.args.templates_command]
    return handler(context.conn, context.args)


def _list(conn, args: argparse.Namespace) -> int:
    rows = [
        [t.id, t.created, t.sent, int(t.sms), t.subject, t.note]
        for t in template_store.list_templates(conn)
    ]
    write_rows(TEMPLATE_COLUMNS, rows, args.format, titles=TEMPLATE_TITLES)
    return EXIT_OK


def _add(conn, args: argparse.Namespace) -> int:
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


def _preview(conn, args: argparse.Namespace) -> int:
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
    try:
        wire = build_email(template, client, sender, attachments).as_bytes()
    except Exception as error:  # any failure to make the message: said, never a traceback
        raise UsageError(f"не удаётся составить письмо клиенту {args.client}: {error}") from error
    if sender is None:
        print(
            "Внимание: отправитель ещё не настроен (окно «Параметры»), поэтому в письме нет From.",
            file=sys.stderr,
        )
    sys.stdout.flush()
    sys.stdout.buffer.write(wire)
    sys.stdout.buffer.flush()
    return EXIT_OK
