"""``clients import | export | list | mark``."""

from __future__ import annotations

import argparse
import sys

from avtoprokat_mail.cli.context import Context
from avtoprokat_mail.cli.exits import EXIT_OK, UsageError
from avtoprokat_mail.cli.output import write_rows
from avtoprokat_mail.interchange import apply_import, export_clients, plan_import
from avtoprokat_mail.model import CLIENT_LABELS
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage.directory import ClientFilter, ClientTable

LIST_COLUMNS = (
    "id", "surname", "name", "position", "organization", "email", "mobile", "phone",
    "marked", "opt_out", "bounced", "consent",
)  # fmt: skip
LIST_TITLES = ("№", *(CLIENT_LABELS[name] for name in LIST_COLUMNS[1:]))


def run(context: Context) -> int:
    handler = {
        "import": _import,
        "export": _export,
        "list": _list,
        "mark": _mark,
    }[context.args.clients_command]
    return handler(context.conn, context.args)


def _import(conn, args: argparse.Namespace) -> int:
    plan = plan_import(conn, args.file)
    if plan.ignored_columns:
        names = ", ".join(f"«{name}»" for name in plan.ignored_columns)
        print(f"не загружаются столбцы с незнакомыми заголовками: {names}", file=sys.stderr)
    for note in plan.notes:
        print(note, file=sys.stderr)
    for rejected in plan.rejected:
        print(f"строка {rejected.line}: {rejected.reason}", file=sys.stderr)
    for line, text in plan.unreadable_consent:
        print(
            f"строка {line}: согласие «{text}» не распознано, загружена без него", file=sys.stderr
        )
    added, updated, rejected = len(plan.added), len(plan.updated), len(plan.rejected)
    if args.dry_run:  # nothing was imported: the stable result line would say otherwise
        print(f"будет: добавлено {added}, обновлено {updated}, отклонено {rejected}")
        return EXIT_OK
    apply_import(conn, plan)
    print(f"imported {added}, updated {updated}, rejected {rejected}")
    return EXIT_OK


def _export(conn, args: argparse.Namespace) -> int:
    count = export_clients(conn, args.file)
    print(f"exported {count}")
    return EXIT_OK


def _list(conn, args: argparse.Namespace) -> int:
    clients = client_store.list_clients(conn, marked_only=args.marked)
    rows = [
        [int(v) if isinstance(v, bool) else v for v in (getattr(c, n) for n in LIST_COLUMNS)]
        for c in clients
    ]
    write_rows(LIST_COLUMNS, rows, args.format, titles=LIST_TITLES)
    return EXIT_OK


def _mark(conn, args: argparse.Namespace) -> int:
    if args.all or args.none:
        client_store.set_all_marked(conn, args.all)
    elif args.invert:
        client_store.invert_marks(conn)
    else:
        client_store.set_marked(conn, _ids_to_mark(conn, args), True)
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
