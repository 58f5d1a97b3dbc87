"""``settings show | set | set-password | test``."""

from __future__ import annotations

import sys

from avtoprokat_mail.cli.context import Context
from avtoprokat_mail.cli.exits import EXIT_ERROR, EXIT_OK, UsageError
from avtoprokat_mail.cli.output import write_rows
from avtoprokat_mail.credentials import (
    IMAP_PASSWORD_ENV,
    NO_SECURE_STORE,
    SMS_PASSWORD_ENV,
    SMTP_PASSWORD_ENV,
    imap_account,
    resolve_password,
    sms_account,
    smtp_account,
)
from avtoprokat_mail.model import EmailSettings, Security
from avtoprokat_mail.storage.settings import (
    add_mailbox,
    delete_mailbox,
    list_mailboxes,
    load_email_settings,
    load_imap_settings,
    load_sms_settings,
    set_setting,
    settings_items,
)
from avtoprokat_mail.system.console import read_secret
from avtoprokat_mail.validation import value_text


def run(context: Context) -> int:
    handler = {
        "show": _show,
        "set": _set,
        "set-password": _set_password,
        "test": _test,
        "mailboxes": _mailboxes,
    }[context.args.settings_command]
    return handler(context)


def _show(context: Context) -> int:
    conn, store = context.conn, context.passwords
    for key, value in settings_items(conn):
        print(f"{key} = {value}")
    email, sms = load_email_settings(conn), load_sms_settings(conn)
    for key, account in (
        ("email.password", smtp_account(email)),
        ("sms.password", sms_account(sms)),
    ):
        print(f"{key} = {'задан' if store.secure and store.is_set(account) else 'не задан'}")
    if not store.secure:
        print(f"Внимание: {NO_SECURE_STORE}", file=sys.stderr)
    return EXIT_OK


def _set(context: Context) -> int:
    set_setting(context.conn, context.args.key, context.args.value)
    return EXIT_OK


def _set_password(context: Context) -> int:
    conn, store, sms = context.conn, context.passwords, context.args.sms
    if not store.secure:
        env = SMS_PASSWORD_ENV if sms else SMTP_PASSWORD_ENV
        raise UsageError(f"{NO_SECURE_STORE} Для автоматизации задайте переменную окружения {env}.")
    password = read_secret()
    if not password:
        raise UsageError("пустой пароль: передайте его на стандартный ввод")
    if sms:
        account = sms_account(load_sms_settings(conn))
    elif context.args.imap:
        account = imap_account(load_imap_settings(conn), load_email_settings(conn))
    elif context.args.mailbox is not None:
        account = smtp_account(_extra_mailbox(conn, context.args.mailbox))
    else:
        account = smtp_account(load_email_settings(conn))
    store.set(account, password)
    print("пароль сохранён в хранилище паролей системы")
    return EXIT_OK


def _test(context: Context) -> int:
    conn, store = context.conn, context.passwords
    if context.args.sms:
        from avtoprokat_mail.sending.sms.providers import check_sms

        sms = load_sms_settings(conn)
        results = [check_sms(sms, resolve_password(store, sms_account(sms), SMS_PASSWORD_ENV))]
    else:
        from avtoprokat_mail.sending.smtp import check_smtp

        email = load_email_settings(conn)
        if not email.host:
            raise UsageError("SMTP-сервер не задан: settings set email.host smtp.mail.ru")
        password = resolve_password(store, smtp_account(email), SMTP_PASSWORD_ENV)
        results = [check_smtp(email, password)]
        imap = load_imap_settings(conn)
        if imap.host:  # the INBOX that «Проверить почту» reads: its login too
            from avtoprokat_mail.sending.imap import check_imap

            secret = resolve_password(store, imap_account(imap, email), IMAP_PASSWORD_ENV)
            results.append(check_imap(imap, imap.user or email.user, secret or password))
    for result in results:
        print(result.message)
    return EXIT_OK if all(result.ok for result in results) else EXIT_ERROR


MAILBOX_COLUMNS = ("id", "sender_address", "host", "port", "security", "user", "daily_limit")
MAILBOX_TITLES = ("№", "Email отправителя", "SMTP-сервер", "Порт", "Защита", "Логин", "В сутки")


def _extra_mailbox(conn, mailbox_id: int) -> EmailSettings:
    for found_id, mailbox in list_mailboxes(conn):
        if found_id == mailbox_id:
            return mailbox
    raise UsageError(f"нет дополнительного ящика с номером {mailbox_id}")


def _mailboxes(context: Context) -> int:
    conn, args = context.conn, context.args
    if args.mailboxes_command == "list":
        rows = [
            [mailbox_id, *(value_text(getattr(m, n)) for n in MAILBOX_COLUMNS[1:])]
            for mailbox_id, m in list_mailboxes(conn)
        ]
        write_rows(MAILBOX_COLUMNS, rows, args.format, titles=MAILBOX_TITLES)
    elif args.mailboxes_command == "add":
        mailbox = EmailSettings(
            sender_name=args.name, sender_address=args.address, host=args.host, port=args.port,
            security=Security(args.security), auth=not args.no_auth,
            user=args.user or args.address, per_minute=args.per_minute,
            daily_limit=args.daily_limit,
        )  # fmt: skip
        print(add_mailbox(conn, mailbox))
    elif not delete_mailbox(conn, args.mailbox_id):
        raise UsageError(f"нет дополнительного ящика с номером {args.mailbox_id}")
    return EXIT_OK
