"""``mailbox check [--apply]``: bounces and unsubscribe requests in the sender's INBOX."""

from __future__ import annotations

import sys

from avtoprokat_mail.cli.context import Context
from avtoprokat_mail.cli.exits import EXIT_ERROR, EXIT_OK
from avtoprokat_mail.cli.output import say, write_rows

CHECK_COLUMNS = ("kind", "email", "client_id", "reason", "date")
CHECK_TITLES = ("Что", "Адрес", "№ клиента", "Причина", "Дата")


def run(context: Context) -> int:
    from avtoprokat_mail.sending.imap import InboxError
    from avtoprokat_mail.sending.mailcheck import apply_check, check_mailbox

    args = context.args
    try:
        check = check_mailbox(context.conn, context.passwords)
    except InboxError as error:
        say(f"Ошибка: {error}")
        return EXIT_ERROR
    rows = [
        [f.kind.value, f.email, client_id, f.reason, f.date]
        for f in check.findings
        for client_id in (f.client_ids or [""])
    ]
    write_rows(CHECK_COLUMNS, rows, args.format, titles=CHECK_TITLES)
    if args.apply:
        apply_check(context.conn, check)
        say(f"Изменено в справочнике: {sum(len(f.client_ids) for f in check.findings)} клиентов.")
    elif check.findings:
        say("Справочник не изменён: чтобы отметить найденное, повторите с --apply.")
    # With CSV on stdout the last line goes to stderr, so stdout stays pure CSV.
    print(check.summary(), file=sys.stderr if args.format == "csv" else sys.stdout)
    return EXIT_OK
