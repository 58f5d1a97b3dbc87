"""The argument parser: the global options, then each command group's own parser.

Only cli/arguments.py is imported to build it: the commands' modules are imported when their
command runs (cli/dispatch.py), and the version is looked up only for ``--version``.
"""

from __future__ import annotations

import argparse

from avtoprokat_mail.cli.arguments import GROUPS
from avtoprokat_mail.cli.russian import RussianParser


class ShowVersion(argparse.Action):
    """``--version``: the installed version (importlib.metadata), looked up only when asked."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None) -> None:  # fmt: skip
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from avtoprokat_mail import __version__

        print(f"{parser.prog} {__version__}")
        parser.exit()


def build_parser() -> RussianParser:
    """The parser of every command (Russian: see cli/russian.py)."""
    parser = RussianParser(
        prog="avtoprokat-mail",
        description="Рассылка писем и SMS клиентам пункта проката. Без команды открывает окно.",
        epilog="Справка по команде: avtoprokat-mail КОМАНДА --help",
    )
    parser.add_argument("--version", action=ShowVersion, help="показать версию программы и выйти")
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
        group(commands)
    return parser
