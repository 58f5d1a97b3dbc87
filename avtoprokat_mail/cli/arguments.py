"""The arguments of every command group, one function per group.

Kept apart from the commands themselves and light on purpose: building the parser imports only
this module and argparse, so ``send`` does not load the spreadsheet readers of ``clients
import`` nor the settings checks just to read its own options. Each command's module
(cli/send.py, cli/clients.py …) is imported by cli/dispatch.py only when that command runs.
"""

from __future__ import annotations

from pathlib import Path

from avtoprokat_mail.cli.russian import whole_number


def add_format_option(parser) -> None:
    parser.add_argument(
        "--format", choices=("table", "csv"), default="table",
        help="table — таблица для чтения (по умолчанию), csv — для программ (UTF-8)",
    )  # fmt: skip


def clients(commands) -> None:
    """``clients import | export | list | mark``."""
    clients = commands.add_parser("clients", help="справочник клиентов").add_subparsers(
        dest="clients_command", metavar="ДЕЙСТВИЕ", title="действия", required=True
    )
    imp = clients.add_parser("import", help="импорт из CSV или XLSX")
    imp.add_argument("file", type=Path, metavar="ФАЙЛ", help="файл .csv или .xlsx")
    imp.add_argument(
        "--dry-run", action="store_true", help="только показать, что будет сделано, не меняя базу"
    )
    exp = clients.add_parser("export", help="экспорт в CSV или XLSX (по расширению файла)")
    exp.add_argument("file", type=Path, metavar="ФАЙЛ", help="файл .csv или .xlsx")
    lst = clients.add_parser("list", help="список клиентов")
    lst.add_argument("--marked", action="store_true", help="только отмеченные")
    add_format_option(lst)
    mark = clients.add_parser("mark", help="отметка клиентов")
    how = mark.add_mutually_exclusive_group(required=True)
    how.add_argument("--all", action="store_true", help="отметить всех")
    how.add_argument("--none", action="store_true", help="снять все отметки")
    how.add_argument("--invert", action="store_true", help="инвертировать отметки")
    how.add_argument("--search", metavar="ТЕКСТ", help="отметить найденных быстрым поиском")
    how.add_argument("--ids", metavar="1,2,3", help="отметить клиентов с этими номерами")


def templates(commands) -> None:
    """``templates list | add | preview``."""
    templates = commands.add_parser("templates", help="шаблоны сообщений").add_subparsers(
        dest="templates_command", metavar="ДЕЙСТВИЕ", title="действия", required=True
    )
    add_format_option(templates.add_parser("list", help="список шаблонов"))
    add = templates.add_parser("add", help="новый шаблон; печатает его номер")
    add.add_argument("--subject", default="", metavar="ТЕМА", help="тема (обязательна для письма)")
    body = add.add_mutually_exclusive_group(required=True)
    body.add_argument("--body", metavar="ТЕКСТ", help="текст сообщения")
    body.add_argument(
        "--body-file", type=Path, metavar="ФАЙЛ", help="файл с текстом сообщения (UTF-8)"
    )
    add.add_argument("--attach1", default="", metavar="ФАЙЛ", help="приложение 1")
    add.add_argument("--attach2", default="", metavar="ФАЙЛ", help="приложение 2")
    add.add_argument("--sms", action="store_true", help="отправлять как SMS")
    add.add_argument("--note", default="", metavar="ТЕКСТ", help="примечание")
    preview = templates.add_parser("preview", help="сообщение так, как его получит клиент")
    preview.add_argument(
        "template_id", type=whole_number, metavar="НОМЕР_ШАБЛОНА", help="номер шаблона"
    )
    preview.add_argument(
        "--client", type=whole_number, required=True, metavar="НОМЕР_КЛИЕНТА",
        help="номер клиента (столбец «№» в clients list)",
    )  # fmt: skip


def settings(commands) -> None:
    """``settings show | set | set-password | test | mailboxes``."""
    settings = commands.add_parser("settings", help="параметры почты и SMS").add_subparsers(
        dest="settings_command", metavar="ДЕЙСТВИЕ", title="действия", required=True
    )
    settings.add_parser("show", help="все параметры (пароль — только задан или нет)")
    change = settings.add_parser("set", help="изменить один параметр")
    change.add_argument("key", metavar="КЛЮЧ", help="например email.host (все: settings show)")
    change.add_argument("value", metavar="ЗНАЧЕНИЕ", help="новое значение")
    password = settings.add_parser(
        "set-password", help="сохранить пароль (читается со стандартного ввода)"
    )
    which = password.add_mutually_exclusive_group()
    which.add_argument("--sms", action="store_true", help="ключ или пароль SMS-шлюза")
    which.add_argument(
        "--mailbox",
        type=whole_number,
        metavar="НОМЕР",
        help="пароль дополнительного ящика с этим номером",
    )
    which.add_argument(
        "--imap", action="store_true", help="свой пароль для чтения почты по IMAP (иначе SMTP)"
    )
    test = settings.add_parser("test", help="проверить соединение (ничего не отправляет)")
    test.add_argument("--sms", action="store_true", help="проверить SMS-шлюз (баланс)")
    _mailboxes(settings)


def _mailboxes(settings) -> None:
    boxes = settings.add_parser(
        "mailboxes", help="дополнительные ящики отправителя (рассылка идёт через все по очереди)"
    ).add_subparsers(dest="mailboxes_command", metavar="ДЕЙСТВИЕ", title="действия", required=True)
    add_format_option(boxes.add_parser("list", help="список дополнительных ящиков"))
    add = boxes.add_parser("add", help="добавить ящик; печатает его номер")
    add.add_argument(
        "--address", required=True, metavar="АДРЕС", help="адрес отправителя (его видят получатели)"
    )
    add.add_argument("--name", default="", metavar="ИМЯ", help="имя отправителя в письме")
    add.add_argument("--host", required=True, metavar="СЕРВЕР", help="SMTP-сервер")
    add.add_argument(
        "--port", type=whole_number, default=465, metavar="ПОРТ", help="порт (по умолчанию 465)"
    )
    add.add_argument(
        "--security", choices=("none", "starttls", "ssl"), default="ssl",
        help="защита соединения: none — нет, starttls или ssl (по умолчанию)",
    )  # fmt: skip
    add.add_argument("--user", default="", metavar="ЛОГИН", help="логин (по умолчанию — адрес)")
    add.add_argument("--no-auth", action="store_true", help="сервер не требует входа")
    add.add_argument(
        "--daily-limit", type=whole_number, default=0, metavar="ЧИСЛО",
        help="писем в сутки (0 — без лимита)",
    )  # fmt: skip
    add.add_argument(
        "--per-minute", type=whole_number, default=0, metavar="ЧИСЛО",
        help="писем в минуту (0 — без лимита)",
    )  # fmt: skip
    remove = boxes.add_parser("remove", help="убрать ящик")
    remove.add_argument("mailbox_id", type=whole_number, metavar="НОМЕР", help="номер ящика")


def send(commands) -> None:
    """``send TEMPLATE_ID``, ``send --resume RUN_ID``, ``send --retry RUN_ID``."""
    send = commands.add_parser("send", help="разослать шаблон отмеченным клиентам")
    send.add_argument(
        "template_id", type=whole_number, nargs="?", metavar="НОМЕР_ШАБЛОНА",
        help="номер шаблона (templates list)",
    )  # fmt: skip
    send.add_argument(
        "--resume", type=whole_number, metavar="НОМЕР_РАССЫЛКИ",
        help="продолжить прерванную, отменённую, остановленную или ждущую рассылку",
    )  # fmt: skip
    send.add_argument(
        "--retry", type=whole_number, metavar="НОМЕР_РАССЫЛКИ",
        help="новой рассылкой отправить тем, кому та рассылка не отправила",
    )  # fmt: skip
    send.add_argument(
        "--include-uncertain", action="store_true",
        help="с --retry: отправить и тем, чей исход неизвестен (письмо могло уйти)",
    )  # fmt: skip
    send.add_argument(
        "--again", action="store_true", help="отправить и тем, кто уже получил этот шаблон"
    )
    send.add_argument(
        "--skip-incomplete", action="store_true",
        help="пропустить клиентов, у которых нет данных для обозначений шаблона",
    )  # fmt: skip
    send.add_argument(
        "--outbox", type=Path, metavar="ПАПКА",
        help="тестовая рассылка: записать письма файлами .eml в папку, никому не отправляя",
    )  # fmt: skip
    send.add_argument("--yes", action="store_true", help="не спрашивать подтверждения")
    send.add_argument(
        "--wait", action="store_true",
        help="у дневного лимита ящика не выходить, а дождаться и продолжить",
    )  # fmt: skip
    send.add_argument(
        "--resend-uncertain", action="store_true",
        help="при продолжении отправить и тем, чей исход неизвестен (письмо могло уйти)",
    )  # fmt: skip


def runs(commands) -> None:
    """``runs list | show``."""
    runs = commands.add_parser("runs", help="журнал рассылок").add_subparsers(
        dest="runs_command", metavar="ДЕЙСТВИЕ", title="действия", required=True
    )
    add_format_option(runs.add_parser("list", help="все рассылки"))
    show = runs.add_parser("show", help="исход по каждому получателю")
    show.add_argument(
        "run_id", type=whole_number, metavar="НОМЕР_РАССЫЛКИ", help="номер рассылки (runs list)"
    )
    add_format_option(show)


def mailbox(commands) -> None:
    """``mailbox check [--apply]``."""
    mailbox = commands.add_parser("mailbox", help="почта, вернувшаяся в ящик отправителя")
    actions = mailbox.add_subparsers(
        dest="mailbox_command", metavar="ДЕЙСТВИЕ", title="действия", required=True
    )
    check = actions.add_parser(
        "check", help="найти во «Входящих» возвраты писем и просьбы отписаться"
    )
    check.add_argument(
        "--apply", action="store_true",
        help="отметить недоставляемые адреса и отказы от рассылки в справочнике",
    )  # fmt: skip
    add_format_option(check)


# In the order `avtoprokat-mail --help` lists them.
GROUPS = (clients, templates, settings, send, runs, mailbox)
