"""The argument parser: the global options, then each command group's own parser."""

from __future__ import annotations

import argparse

from avtoprokat_mail import __version__
from avtoprokat_mail.cli import clients, mailbox, runs, send, settings, templates

GROUPS = (clients, templates, settings, send, runs, mailbox)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command."""
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
    for group in GROUPS:
        group.register(commands)
    return parser
