"""``settings show | set | set-password | test``."""

from __future__ import annotations

import sys

from avtoprokat_mail.cli.context import Context
from avtoprokat_mail.cli.exits import EXIT_ERROR, EXIT_OK, UsageError
from avtoprokat_mail.credentials import (
    NO_SECURE_STORE,
    SMS_PASSWORD_ENV,
    SMTP_PASSWORD_ENV,
    resolve_password,
    sms_account,
    smtp_account,
)
from avtoprokat_mail.storage.settings import (
    load_email_settings,
    load_sms_settings,
    set_setting,
    settings_items,
)


def register(commands) -> None:
    settings = commands.add_parser("settings", help="параметры почты и SMS").add_subparsers(
        dest="settings_command", metavar="ДЕЙСТВИЕ", required=True
    )
    settings.add_parser("show", help="все параметры (пароль — только задан или нет)")
    change = settings.add_parser("set", help="изменить один параметр")
    change.add_argument("key", metavar="КЛЮЧ")
    change.add_argument("value", metavar="ЗНАЧЕНИЕ")
    password = settings.add_parser("set-password", help="сохранить пароль (читается из stdin)")
    password.add_argument("--sms", action="store_true", help="ключ или пароль SMS-шлюза")
    test = settings.add_parser("test", help="проверить соединение (ничего не отправляет)")
    test.add_argument("--sms", action="store_true", help="проверить SMS-шлюз (баланс)")


def run(context: Context) -> int:
    handler = {
        "show": _show,
        "set": _set,
        "set-password": _set_password,
        "test": _test,
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
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise UsageError("пустой пароль: передайте его на стандартный ввод")
    if sms:
        account = sms_account(load_sms_settings(conn))
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
