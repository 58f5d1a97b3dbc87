"""The command line's output on a system whose code page has no Russian letters.

Windows writes pipes and files in its ANSI code page (cp1252 on an English Windows); the
same happens here with the C locale and UTF-8 mode off, where Python writes pipes in ASCII.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from avtoprokat_mail.model import Client
from avtoprokat_mail.storage import clients as client_store

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _ascii_environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PYTHONIO"))}
    env.update(LANG="C", LC_ALL="C", PYTHONUTF8="0", PYTHONCOERCECLOCALE="0",
               PYTHONPATH=str(PROJECT_ROOT))  # fmt: skip
    return env


def _command(folder: Path, *args: str, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "avtoprokat_mail", "--data-dir", str(folder), *args],
        capture_output=True, timeout=60, env=env or _ascii_environment(), cwd=PROJECT_ROOT,
    )  # fmt: skip


def test_the_interpreter_here_really_writes_pipes_in_ascii():
    """The premise: without the program's care, this environment fails on Russian text."""
    probe = subprocess.run(
        [sys.executable, "-c", "print('Иванов')"], capture_output=True, env=_ascii_environment()
    )
    assert probe.returncode != 0 and b"UnicodeEncodeError" in probe.stderr


def test_russian_output_to_a_pipe_is_utf8_whatever_the_code_page(db, data_folder):
    client_store.add_client(db, Client(surname="Иванов", name="Пётр", email="p@mail.ru"))
    listed = _command(data_folder, "clients", "list")
    assert listed.returncode == 0, listed.stderr.decode("utf-8", "replace")
    assert "Иванов" in listed.stdout.decode("utf-8") and "Пётр" in listed.stdout.decode("utf-8")
    as_csv = _command(data_folder, "clients", "list", "--format", "csv")
    assert "Иванов" in as_csv.stdout.decode("utf-8")


def test_russian_errors_on_stderr_are_utf8_too(data_folder):
    failed = _command(data_folder, "send", "999", "--yes")
    assert failed.returncode == 2
    assert "Ошибка" in failed.stderr.decode("utf-8")


def test_pythonioencoding_still_decides_when_set(db, data_folder):
    client_store.add_client(db, Client(surname="Иванов", name="Пётр", email="p@mail.ru"))
    env = {**_ascii_environment(), "PYTHONIOENCODING": "cp1251"}
    listed = _command(data_folder, "clients", "list", env=env)
    assert listed.returncode == 0 and "Иванов" in listed.stdout.decode("cp1251")


def test_a_defect_is_a_sentence_and_exit_status_2_with_the_details_in_the_log(
    cli, data_folder, monkeypatch
):
    """No traceback on the screen, and (in the windowed .exe) no error box: a job of the
    Task Scheduler learns of it by the exit status and the log."""
    from avtoprokat_mail.cli import runs

    def broken(context):
        raise RuntimeError("a defect for the test")

    monkeypatch.setattr(runs, "run", broken)
    status, out, err = cli("runs", "list")
    assert status == 2 and out == ""
    assert "Ошибка программы: команда не выполнена" in err and "Traceback" not in err
    log = (data_folder / "avtoprokat_mail.log").read_text("utf-8")
    assert "RuntimeError: a defect for the test" in log


def test_the_frozen_launcher_never_lets_an_exception_out(monkeypatch, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "launcher", PROJECT_ROOT / "packaging/launcher.py"
    )
    launcher = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launcher)
    import avtoprokat_mail.cli as cli_package

    def exploding(argv=None):
        raise MemoryError("even this")

    monkeypatch.setattr(cli_package, "main", exploding)
    assert launcher._main() == 2
    assert "MemoryError: even this" in capsys.readouterr().err


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251"])
def test_a_piped_password_is_stored_as_typed_whatever_the_code_page(
    db, data_folder, tmp_path, encoding
):
    """Piped bytes are UTF-8 when they are valid UTF-8, else the stream's code page: on a
    Windows reading pipes as cp1251, a UTF-8 password was stored as «РџР°СЂРѕР»СЊ»."""
    import json

    from avtoprokat_mail.storage.settings import set_setting

    set_setting(db, "email.host", "smtp.mail.ru")
    set_setting(db, "email.user", "office@mail.ru")
    keyring_file = tmp_path / "keyring.json"
    env = {**_ascii_environment(), "PYTHON_KEYRING_BACKEND": "tests.keyring_backends.FileKeyring",
           "AVTOPROKAT_TEST_KEYRING_FILE": str(keyring_file)}  # fmt: skip
    if encoding == "cp1251":
        env["PYTHONIOENCODING"] = "cp1251"  # a pipe in the ANSI code page of a Russian Windows
    password = "Пароль-Ёж-42"
    stored = subprocess.run(
        [sys.executable, "-m", "avtoprokat_mail", "--data-dir", str(data_folder), "settings",
         "set-password"],
        input=password.encode(encoding) + b"\r\n", capture_output=True, timeout=60, env=env,
        cwd=PROJECT_ROOT,
    )  # fmt: skip
    assert stored.returncode == 0, stored.stderr.decode("utf-8", "replace")
    assert list(json.loads(keyring_file.read_text("utf-8")).values()) == [password]
