"""The command line speaks Russian: argparse's help and errors, table headers, --dry-run.

Only the result lines that the command-line contract fixes for scripts stay English; they are
asserted in test_cli.py and test_send_cli.py.
"""

from __future__ import annotations

import argparse
import ast
import gettext
import inspect
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from avtoprokat_mail.cli import main
from avtoprokat_mail.cli.parser import build_parser
from avtoprokat_mail.cli.russian import MESSAGES, PLURAL_MESSAGES
from avtoprokat_mail.model import EmailSettings
from avtoprokat_mail.storage.settings import add_mailbox

PROJECT_ROOT = Path(__file__).resolve().parent.parent

ARGPARSE_ENGLISH = (
    "usage:", "positional arguments", "options:", "optional arguments", "show this help",
    "error:", "the following arguments", "is required", "invalid choice", "choose from",
    "unrecognized arguments", "expected one argument", "invalid int value", "not allowed with",
    "argument ", "subcommands",
)  # fmt: skip
# Acronyms and file types a Russian help names as they are.
TECHNICAL_WORDS = {"SMTP", "IMAP", "SMS", "CSV", "XLSX", "UTF", "csv", "xlsx", "eml"}
# argparse's texts that only a mistake in the parser's own code can bring up (a programmer
# reads them, in a traceback), and a pure format string: no translation needed.
NOT_FOR_USERS = {
    "'required' is an invalid argument for positionals",
    "%r is not callable",
    ".__call__() not defined",
    'argument "-" with mode %r',
    "cannot have multiple subparser arguments",
    "cannot merge actions - two groups are named %r",
    "conflicting subparser alias: %s",
    "conflicting subparser: %s",
    "dest= is required for options like %r",
    "invalid conflict_resolution value: %r",
    "invalid option string %(option)r: must start with a character %(prefix_chars)r",
    "mutually exclusive arguments must be optional",
    "unexpected option string: %s",
    "%(heading)s:",
    "conflicting option string: %s",
    "conflicting option strings: %s",
}


def run_cli(folder: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The real entry point; --help and usage errors end in SystemExit, as from a shell."""
    try:
        status = main(["--data-dir", str(folder), *args])
    except SystemExit as ended:
        status = ended.code if isinstance(ended.code, int) else 2
    out, err = capsys.readouterr()
    return status, out, err


def command_paths(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator:
    """Every command and action, as the words typed before --help: (), ("clients",), …"""
    yield path
    for action in parser._actions:
        if isinstance(action.choices, dict):  # a subparsers action: its commands
            for name, child in action.choices.items():
                yield from command_paths(child, (*path, name))


def allowed_words(parser: argparse.ArgumentParser) -> set[str]:
    """Latin words a Russian help may show: command names, choice values, technical terms."""
    words = set(TECHNICAL_WORDS)
    for action in parser._actions:
        if isinstance(action.choices, dict):
            for name, child in action.choices.items():
                words.add(name)
                words |= allowed_words(child)
        elif action.choices:
            words |= {str(choice) for choice in action.choices}
    return words


def english_words(text: str, allowed: set[str]) -> set[str]:
    """Latin-letter words of a help text other than the program's name, options, commands,
    setting keys (email.host) and the allowed words."""
    text = text.replace("avtoprokat-mail", "")
    text = re.sub(r"(?<![\w-])--?[A-Za-z][\w-]*", "", text)  # --dry-run, -h
    text = re.sub(r"\b[a-z]+\.[a-z_]+\b", "", text)  # setting keys
    for word in (w for w in allowed if "-" in w):  # set-password: not «set» and «password»
        text = re.sub(rf"(?<![\w-]){re.escape(word)}(?![\w-])", "", text)
    return set(re.findall(r"[A-Za-z]{2,}", text)) - allowed


def columns(line: str) -> list[str]:
    """A table line's cells (the columns are two or more spaces apart)."""
    return re.split(r" {2,}", line.strip())


# --- help -----------------------------------------------------------------------------------------
def test_the_main_help_is_russian(data_folder: Path, capsys) -> None:
    status, out, err = run_cli(data_folder, capsys, "--help")
    assert (status, err) == (0, "")
    assert out.startswith("Использование: avtoprokat-mail [-h]")
    assert "\nпараметры:\n" in out and "\nкоманды:\n" in out
    assert "-h, --help" in out and "показать эту справку и выйти" in out
    assert "показать версию программы и выйти" in out
    assert "разослать шаблон отмеченным клиентам" in out
    for english in ARGPARSE_ENGLISH:
        assert english not in out


def test_send_help_is_russian(data_folder: Path, capsys) -> None:
    status, out, _ = run_cli(data_folder, capsys, "send", "--help")
    assert status == 0
    assert out.startswith("Использование: avtoprokat-mail send [-h]")
    assert "\nаргументы:\n  НОМЕР_ШАБЛОНА" in out
    assert "--resume НОМЕР_РАССЫЛКИ" in out and "--outbox ПАПКА" in out
    assert "не спрашивать подтверждения" in out
    for english in ARGPARSE_ENGLISH:
        assert english not in out


def test_every_command_help_has_no_english_words(data_folder: Path, capsys) -> None:
    parser = build_parser()
    allowed = allowed_words(parser)
    paths = list(command_paths(parser))
    assert ("settings", "mailboxes", "add") in paths and len(paths) > 20
    for path in paths:
        status, out, err = run_cli(data_folder, capsys, *path, "--help")
        assert (status, err) == (0, ""), path
        assert out.startswith("Использование: "), path
        assert english_words(out, allowed) == set(), (path, out)


def test_the_word_scan_would_see_english() -> None:
    """The scan above must be able to fail: argparse's own help is caught by it."""
    plain = argparse.ArgumentParser(prog="avtoprokat-mail")
    plain.add_argument("--data-dir", help="папка данных")
    assert {"usage", "options", "show", "help", "message", "exit"} <= english_words(
        plain.format_help(), set()
    )


# --- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["nosuch"], "аргумент КОМАНДА: недопустимое значение 'nosuch' (можно: 'gui'"),
        (["clients"], "не указаны обязательные аргументы: ДЕЙСТВИЕ"),
        (["clients", "mark"], "нужен один из аргументов: --all --none --invert --search --ids"),
        (["clients", "mark", "--all", "--none"],
         "аргумент --none: нельзя указывать вместе с --all"),
        (["clients", "list", "--bogus"], "лишние или неизвестные аргументы: --bogus"),
        (["clients", "list", "--format", "xml"],
         "аргумент --format: недопустимое значение 'xml' (можно: 'table', 'csv')"),
        (["send", "abc"], "аргумент НОМЕР_ШАБЛОНА: ожидается целое число, а не «abc»"),
        (["send", "--resume"], "аргумент --resume: нужно указать значение"),
        (["runs", "show"], "не указаны обязательные аргументы: НОМЕР_РАССЫЛКИ"),
        (["settings", "mailboxes", "add", "--host", "h", "--address", "a@b.ru", "--port", "x"],
         "аргумент --port: ожидается целое число, а не «x»"),
        (["clients", "mark", "--all=1"],
         "аргумент --all: параметр не принимает значения, а указано '1'"),
    ],
)  # fmt: skip
def test_usage_errors_are_russian(data_folder: Path, capsys, args: list[str], expected: str):
    status, out, err = run_cli(data_folder, capsys, *args)
    assert (status, out) == (2, "")
    assert err.startswith("Использование: avtoprokat-mail")
    assert "ошибка: " + expected in err.replace("\n", " ").replace('"', "'")
    assert "Справка: avtoprokat-mail" in err
    for english in ARGPARSE_ENGLISH:
        assert english not in err


def test_argparse_is_english_again_for_everybody_else(data_folder: Path, capsys) -> None:
    """The Russian texts are argparse's only while our parser works: pytest's stays as it was."""
    run_cli(data_folder, capsys, "clients", "mark")
    assert argparse._ is gettext.gettext and argparse.ngettext is gettext.ngettext
    plain = argparse.ArgumentParser(prog="other")
    plain.add_argument("--n", type=int)
    with pytest.raises(SystemExit):
        plain.parse_args(["--n", "x"])
    assert "other: error: argument --n: invalid int value: 'x'" in capsys.readouterr().err


def test_every_message_argparse_can_show_a_user_is_translated() -> None:
    """Against this Python's own argparse (3.11 … 3.14 word some messages differently)."""
    singular, plural = set(), set()
    for node in ast.walk(ast.parse(inspect.getsource(argparse))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            texts = [a.value for a in node.args if isinstance(a, ast.Constant)]
            if node.func.id == "_" and texts:
                singular.add(texts[0])
            elif node.func.id == "ngettext" and len(texts) == 2:
                plural.add(tuple(texts))
    assert "the following arguments are required: %s" in singular  # the scan works
    assert singular - NOT_FOR_USERS - set(MESSAGES) == set()
    assert {p for p in plural if p[0] not in NOT_FOR_USERS} - set(PLURAL_MESSAGES) == set()


# --- tables and --dry-run -------------------------------------------------------------------------
def test_table_headers_are_russian_and_csv_headers_stay(cli, db) -> None:
    cli("templates", "add", "--subject", "Напоминание", "--body", "Текст")
    add_mailbox(db, EmailSettings(sender_address="second@mail.ru", host="smtp.mail.ru"))

    tables = {
        ("templates", "list"): ["№", "Создан", "Отправлен", "SMS", "Тема", "Примечание"],
        ("runs", "list"): [
            "№", "Шаблон", "Начата", "Закончена", "Состояние", "Отправлено", "Ошибок",
            "Пропущено", "Тестовая",
        ],
        ("settings", "mailboxes", "list"): [
            "№", "Email отправителя", "SMTP-сервер", "Порт", "Защита", "Логин", "В сутки",
        ],
        ("clients", "list"): ["№", "Фамилия", "Имя", "Должность", "Наименование", "Email"],
    }  # fmt: skip
    for command, titles in tables.items():
        status, out, _ = cli(*command)
        assert status == 0
        assert columns(out.splitlines()[0])[: len(titles)] == titles, (command, out)

    csv_headers = {
        ("templates", "list"): "id,created,sent,sms,subject,note",
        ("runs", "list"): "id,template_id,started,finished,status,sent,failed,skipped,test",
        ("settings", "mailboxes", "list"): "id,sender_address,host,port,security,user,daily_limit",
    }
    for command, header in csv_headers.items():
        assert cli(*command, "--format", "csv")[1].splitlines()[0] == header


def test_runs_show_table_is_russian(cli, db) -> None:
    from avtoprokat_mail.model import Channel, Delivery, Route, Run, Template
    from avtoprokat_mail.storage import runs as run_store

    status, _, err = cli("runs", "show", "1")
    assert (status, err.strip()) == (2, "Ошибка: нет рассылки с номером 1")
    run_id = run_store.create_run(
        db, Run.of(Template(subject="Тема", body="Текст"), Route.direct(Channel.EMAIL)),
        [Delivery(position=1, recipient="ivanov@mail.ru")],
    )  # fmt: skip
    status, out, _ = cli("runs", "show", str(run_id))
    assert status == 0
    assert columns(out.splitlines()[0]) == [
        "№ клиента", "Получатель", "Результат", "Время", "Ответ сервера", "Ящик",
    ]  # fmt: skip
    assert "ivanov@mail.ru" in out.splitlines()[1]
    csv_out = cli("runs", "show", str(run_id), "--format", "csv")[1]
    assert csv_out.splitlines()[0] == "client_id,recipient,status,time,reply,mailbox"


def test_dry_run_says_what_would_happen(cli, db, tmp_path: Path) -> None:
    source = tmp_path / "клиенты.csv"
    source.write_text("Фамилия;Email\nИванов;i@mail.ru\nПетров;плохой\n", encoding="utf-8")
    status, out, err = cli("clients", "import", str(source), "--dry-run")
    assert status == 0
    assert out.strip() == "будет: добавлено 1, обновлено 0, отклонено 1"
    assert err.startswith("строка 3: ")
    status, out, _ = cli("clients", "import", str(source))
    assert out.strip() == "imported 1, updated 0, rejected 1"  # the contract's line, unchanged


# --- a real process ---------------------------------------------------------------------------
def _environment() -> dict[str, str]:
    """No PYTHONIOENCODING, and a locale without Russian letters (as an English Windows)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHONIO"))}
    env.update(LANG="C", LC_ALL="C", PYTHONUTF8="0", PYTHONPATH=str(PROJECT_ROOT))
    return env


def test_help_and_a_wrong_command_in_a_real_process(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "avtoprokat_mail", "--data-dir", str(tmp_path / "d")]
    helped = subprocess.run(
        [*command, "--help"], capture_output=True, env=_environment(), timeout=60
    )
    assert helped.returncode == 0, helped.stderr.decode("utf-8", "replace")
    out = helped.stdout.decode("utf-8")
    assert out.startswith("Использование: avtoprokat-mail") and "параметры:" in out
    for english in ARGPARSE_ENGLISH:
        assert english not in out

    wrong = subprocess.run([*command, "sned"], capture_output=True, env=_environment(), timeout=60)
    assert wrong.returncode == 2
    err = wrong.stderr.decode("utf-8")
    assert "avtoprokat-mail: ошибка: аргумент КОМАНДА: недопустимое значение 'sned'" in err
    assert "usage:" not in err and "invalid choice" not in err
