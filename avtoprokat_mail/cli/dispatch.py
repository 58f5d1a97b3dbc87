"""Run one command: parse, open what it needs, turn every expected failure into a message."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from avtoprokat_mail.cli.exits import EXIT_ERROR, EXIT_OK, UsageError
from avtoprokat_mail.cli.parser import build_parser
from avtoprokat_mail.system.console import prepare_streams

if TYPE_CHECKING:
    from avtoprokat_mail.cli.context import Context


def run(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status."""
    prepare_streams()
    args = build_parser().parse_args(argv)  # --help, --version and a usage error end here
    return _execute(args)


def _execute(args: argparse.Namespace) -> int:
    """Run the parsed command. What it imports is needed only now: ``send --help`` or a
    mistyped option does not pay for the database, the log and the settings checks."""
    import logging
    import sqlite3

    from avtoprokat_mail.cli.context import Context
    from avtoprokat_mail.credentials import CredentialsError
    from avtoprokat_mail.interchange import InterchangeError
    from avtoprokat_mail.storage import DatabaseError, describe_error
    from avtoprokat_mail.system.logsetup import log_path
    from avtoprokat_mail.validation import SettingsError

    handlers: dict[str | None, Callable[[Context], int]] = {None: _gui, "gui": _gui, "demo": _demo}
    command = None if args.smoke else args.command
    context = Context(args)
    try:
        return (handlers.get(command) or _command_module(command).run)(context)
    except (DatabaseError, InterchangeError, UsageError, SettingsError, CredentialsError) as error:
        print(f"Ошибка: {error}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:  # `avtoprokat-mail runs show 1 | head`: the reader has gone
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except sqlite3.Error as error:  # e.g. the file became locked by another program mid-command
        print(f"Ошибка: {describe_error(error, context.database)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception:  # a defect: a sentence and the exit status, the details in the log
        logging.getLogger(__name__).exception("the command %r failed", command)
        print(
            "Ошибка программы: команда не выполнена. Подробности записаны в журнал "
            f"{log_path(context.folder)}.",
            file=sys.stderr,
        )
        return EXIT_ERROR
    finally:
        context.close()


def _command_module(command: str):
    """The module of one command group, imported only when that command runs: ``send`` does
    not pay at start-up for the spreadsheet readers of ``clients import``."""
    return importlib.import_module(f"avtoprokat_mail.cli.{command}")


def _gui(context: Context) -> int:
    from avtoprokat_mail.app import run  # the GUI is imported only when asked for

    args = context.args
    demo = args.demo or getattr(args, "gui_demo", False)
    return run(context.folder, demo=demo, smoke=args.smoke)


def _demo(context: Context) -> int:
    from avtoprokat_mail.interchange.demo import add_demo_data

    clients_added, templates_added = add_demo_data(context.conn)
    print(f"демо-шаблонов добавлено: {templates_added}")
    print(f"демо-клиентов добавлено: {clients_added}")
    return EXIT_OK
