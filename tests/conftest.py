"""Shared fixtures: real SQLite files in tmp_path, one real Tk root under Xvfb."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from avtoprokat_mail.paths import database_path
from avtoprokat_mail.storage import open_database

# Real SMTP servers (aiosmtpd with STARTTLS/TLS and AUTH, a trustme CA) as fixtures.
pytest_plugins = ["tests.smtp_servers"]


@pytest.fixture
def data_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def db(data_folder: Path) -> Iterator:
    """An open, migrated database in a fresh data folder."""
    conn = open_database(database_path(data_folder))
    yield conn
    conn.close()


@pytest.fixture
def cli(data_folder: Path, capsys: pytest.CaptureFixture[str]):
    """Run ``avtoprokat-mail --data-dir DATA ...`` in-process: (exit status, stdout, stderr)."""
    from avtoprokat_mail.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        status = main(["--data-dir", str(data_folder), *args])
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.fixture
def memory_keyring():
    """An explicit in-memory keyring backend for the test (the program talks to it via keyring)."""
    import keyring

    from tests.keyring_backends import MemoryKeyring

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy from the environment must not catch the calls to the local test servers."""
    for name in (
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake():
    """The local fake SMS gateway (both APIs on one HTTP server), stopped after the test."""
    from tests.sms_gateways import FakeGateway

    with FakeGateway() as gateway:
        yield gateway


@pytest.fixture
def no_secret_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fails the test when a gateway secret of tests/sms_gateways.py reaches the log."""
    from tests.sms_gateways import ALL_SECRETS

    caplog.set_level(logging.DEBUG)
    yield
    for secret in ALL_SECRETS:
        assert secret not in caplog.text


# --- GUI ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tk_root():
    """The one ttkbootstrap App of the test session (a second one raises RuntimeError).

    Exceptions raised inside Tk callbacks are collected, and :func:`gui_errors` fails the
    test that caused them instead of letting Tk print and carry on.
    """
    from avtoprokat_mail.app import create_root

    root = create_root()
    root.callback_errors = []
    root.report_callback_exception = lambda kind, value, tb: root.callback_errors.append(value)
    root.update()
    yield root
    root.destroy()


@pytest.fixture
def gui_errors(tk_root):
    tk_root.callback_errors.clear()
    yield tk_root.callback_errors
    # Collect the test's Tk garbage now, on the Tk thread: otherwise a later collection may run
    # on some worker thread, whose Variable.__del__ cannot reach Tk outside its main loop.
    gc.collect()
    errors = list(tk_root.callback_errors)
    tk_root.callback_errors.clear()
    assert not errors, f"exceptions in Tk callbacks: {errors!r}"
