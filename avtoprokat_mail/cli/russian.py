"""argparse in Russian: the parser class of every command, and argparse's own texts translated.

argparse builds its texts itself: the usage line, the section titles, the -h option's help and
every error («the following arguments are required», «invalid choice» …). The structure is
Russian by subclassing (titles, the usage prefix, our own -h/--help, our own error line). The
error texts are formatted deep inside argparse, after it passes each through its module-level
gettext hook (``argparse._`` / ``argparse.ngettext``): while a :class:`RussianParser` parses, that
hook answers from :data:`MESSAGES`, and afterwards it is put back as it was, so nothing else in
the process (pytest's own parser, for one) is touched.

:data:`MESSAGES` holds the texts of Python 3.11 to 3.14; a text missing from it (a newer Python's
new wording) stays English rather than failing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

from avtoprokat_mail.cli.exits import EXIT_ERROR

USAGE_PREFIX = "Использование: "

MESSAGES: dict[str, str] = {
    # Help: the sections, the usage line, argparse's default help texts.
    "usage: ": USAGE_PREFIX,
    "positional arguments": "аргументы",
    "options": "параметры",
    "optional arguments": "параметры",  # Python ≤ 3.9
    "subcommands": "команды",
    "show this help message and exit": "показать эту справку и выйти",
    "show program's version number and exit": "показать версию программы и выйти",
    " (default: %(default)s)": " (по умолчанию: %(default)s)",
    # Errors, the line around them.
    "%(prog)s: error: %(message)s\n": "%(prog)s: ошибка: %(message)s\n",
    "%(prog)s: warning: %(message)s\n": "%(prog)s: предупреждение: %(message)s\n",
    "argument %(argument_name)s: %(message)s": "аргумент %(argument_name)s: %(message)s",
    # Errors while parsing.
    "the following arguments are required: %s": "не указаны обязательные аргументы: %s",
    "one of the arguments %s is required": "нужен один из аргументов: %s",
    "not allowed with argument %s": "нельзя указывать вместе с %s",
    "unrecognized arguments: %s": "лишние или неизвестные аргументы: %s",
    "ambiguous option: %(option)s could match %(matches)s": (
        "неоднозначный параметр %(option)s: подходят %(matches)s"
    ),
    "ignored explicit argument %r": "параметр не принимает значения, а указано %r",
    "expected one argument": "нужно указать значение",
    "expected at most one argument": "можно указать не больше одного значения",
    "expected at least one argument": "нужно указать хотя бы одно значение",
    "invalid %(type)s value: %(value)r": "недопустимое значение: %(value)r",
    "invalid choice: %(value)r (choose from %(choices)s)": (
        "недопустимое значение %(value)r (можно: %(choices)s)"
    ),
    "invalid choice: %(value)r, maybe you meant %(closest)r? (choose from %(choices)s)": (
        "недопустимое значение %(value)r, может быть, %(closest)r? (можно: %(choices)s)"
    ),
    "unknown parser %(parser_name)r (choices: %(choices)s)": (
        "неизвестная команда %(parser_name)r (можно: %(choices)s)"
    ),
    "can't open '%(filename)s': %(error)s": "не удаётся открыть «%(filename)s»: %(error)s",
    "option '%(option)s' is deprecated": "параметр «%(option)s» устарел",
    "argument '%(argument_name)s' is deprecated": "аргумент «%(argument_name)s» устарел",
    "command '%(parser_name)s' is deprecated": "команда «%(parser_name)s» устарела",
}
PLURAL_MESSAGES: dict[tuple[str, str], str] = {
    ("expected %s argument", "expected %s arguments"): "нужно указать значений: %s",
}


def translate(message: str) -> str:
    """argparse's ``_()``: the Russian text of one of its messages, else the message itself."""
    return MESSAGES.get(message, message)


def translate_plural(singular: str, plural: str, count: int) -> str:
    """argparse's ``ngettext()``."""
    return PLURAL_MESSAGES.get((singular, plural), singular if count == 1 else plural)


@contextmanager
def russian_messages() -> Iterator[None]:
    """argparse's gettext hook answers in Russian inside the block; re-entrant (subparsers)."""
    saved: tuple[Callable[..., str], Callable[..., str]] = (
        argparse._,  # type: ignore[attr-defined]
        argparse.ngettext,  # type: ignore[attr-defined]
    )
    argparse._, argparse.ngettext = translate, translate_plural  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._, argparse.ngettext = saved  # type: ignore[attr-defined]


class RussianFormatter(argparse.HelpFormatter):
    """The usage line begins «Использование:»."""

    def add_usage(self, usage, actions, groups, prefix=None) -> None:
        super().add_usage(usage, actions, groups, USAGE_PREFIX if prefix is None else prefix)


class RussianParser(argparse.ArgumentParser):
    """An ArgumentParser whose every text is Russian; subparsers are made of the same class."""

    def __init__(self, *args: Any, add_help: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", RussianFormatter)
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = "аргументы"
        self._optionals.title = "параметры"
        if add_help:
            self.add_argument(
                "-h", "--help", action="help", default=argparse.SUPPRESS,
                help="показать эту справку и выйти",
            )  # fmt: skip

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        with russian_messages():
            return super().parse_known_args(args, namespace)

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        with russian_messages():  # «unrecognized arguments» is worded here, outside the above
            return super().parse_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        """The usage, what is wrong, and where the help is; exit status 2 (as argparse's own)."""
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: ошибка: {message}\nСправка: {self.prog} --help\n")


def whole_number(text: str) -> int:
    """``type=`` for numbers: a Russian message instead of «invalid int value»."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"ожидается целое число, а не «{text}»") from None
