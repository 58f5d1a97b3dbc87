"""The argument parser: the global options, then each command group's own parser."""

from __future__ import annotations

from avtoprokat_mail import __version__
from avtoprokat_mail.cli import clients, mailbox, runs, send, settings, templates
from avtoprokat_mail.cli.russian import RussianParser

GROUPS = (clients, templates, settings, send, runs, mailbox)


def build_parser() -> RussianParser:
    """The parser of every command (Russian: see cli/russian.py)."""
    parser = RussianParser(
        prog="avtoprokat-mail",
        description="Рассылка писем и SMS клиентам пункта проката. Без команды открывает окно.",
        epilog="Справка по команде: avtoprokat-mail КОМАНДА --help",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}",
        help="показать версию программы и выйти",
    )  # fmt: skip
    parser.add_argument(
        "--data-dir", metavar="ПАПКА", help="папка данных (по умолчанию — папка пользователя)"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="открыть базу и главное окно, закрыть, выйти с 0"
    )
    parser.add_argument("--demo", action="store_true", help="сначала заполнить демо-данными")
    commands = parser.add_subparsers(dest="command", metavar="КОМАНДА", title="команды")
    gui = commands.add_parser("gui", help="открыть окно программы")
    gui.add_argument(
        "--demo", action="store_true", dest="gui_demo", help="сначала заполнить демо-данными"
    )
    commands.add_parser("demo", help="добавить демо-клиентов и демо-шаблоны")
    for group in GROUPS:
        group.register(commands)
    return parser
