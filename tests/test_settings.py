"""Settings and passwords: keys, checks, storage, the credential store, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from avtoprokat_mail.credentials import (
    NO_SECURE_STORE,
    SMTP_PASSWORD_ENV,
    PasswordStore,
    resolve_password,
    sms_account,
    smtp_account,
)
from avtoprokat_mail.model import EmailSettings, Security, SmsProvider, SmsSettings, preset_for
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.storage.settings import (
    load_email_settings,
    load_sms_settings,
    save_email_settings,
    save_sms_settings,
    set_setting,
    settings_items,
)
from avtoprokat_mail.validation import SettingsError
from tests.keyring_backends import FILE_ENV

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Пароль-для-внешнего-приложения-7Qz"
MAILRU = EmailSettings(
    sender_name="Иван Петров",
    sender_address="office@mail.ru",
    host="smtp.mail.ru",
    port=465,
    security=Security.SSL,
    auth=True,
    user="office@mail.ru",
)


# --- values and checks ---------------------------------------------------------------------------
def test_defaults_before_anything_is_saved(db) -> None:
    assert load_email_settings(db) == EmailSettings()
    assert load_email_settings(db).port == 25
    assert load_sms_settings(db) == SmsSettings()


def test_save_and_load_round_trip(db) -> None:
    save_email_settings(db, MAILRU)
    sms = SmsSettings(provider=SmsProvider.SMSC, login="avtoprokat", sender="AvtoProkat",
                      endpoint="https://smsc.ru", per_minute=30)  # fmt: skip
    save_sms_settings(db, sms)
    assert load_email_settings(db) == MAILRU
    assert load_sms_settings(db) == sms
    assert preset_for(MAILRU.host, MAILRU.port, MAILRU.security) == "mail.ru"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"port": 0}, "от 1 до 65535"),
        ({"port": 65536}, "от 1 до 65535"),
        ({"host": "smtp mail.ru"}, "не похоже на имя сервера"),
        ({"host": ""}, "укажите SMTP-сервер"),
        ({"sender_address": "office@"}, "Email отправителя"),
        ({"sender_address": ""}, "Email отправителя"),
        ({"user": ""}, "нужен логин"),
        ({"timeout": 0}, "тайм-аут"),
        ({"per_minute": -1}, "писем в минуту"),
        ({"sender_name": "Иван\r\nBcc: x@y.ru"}, "перевод строки"),
    ],
)
def test_bad_email_settings_are_refused_with_a_reason(db, change, expected) -> None:
    bad = EmailSettings(**{**{f: getattr(MAILRU, f) for f in MAILRU.__slots__}, **change})
    with pytest.raises(SettingsError, match=expected):
        save_email_settings(db, bad)
    assert load_email_settings(db) == EmailSettings()  # nothing stored


def test_empty_email_settings_may_be_saved_for_sms_only_offices(db) -> None:
    save_email_settings(db, EmailSettings())
    assert load_email_settings(db) == EmailSettings()


@pytest.mark.parametrize(
    ("endpoint", "ok"),
    [
        ("", True),
        ("https://sms.ru", True),
        ("http://127.0.0.1:8080", True),
        ("http://localhost:9000", True),
        ("http://sms.ru", False),
        ("ftp://sms.ru", False),
    ],
)
def test_sms_endpoint_must_be_https_except_on_this_computer(db, endpoint, ok) -> None:
    settings = SmsSettings(endpoint=endpoint)
    if ok:
        save_sms_settings(db, settings)
    else:
        with pytest.raises(SettingsError, match="https://"):
            save_sms_settings(db, settings)


def test_set_setting_by_key(db) -> None:
    set_setting(db, "email.port", "587")
    set_setting(db, "email.security", "STARTTLS")
    set_setting(db, "email.auth", "1")
    set_setting(db, "sms.provider", "smsc")
    email = load_email_settings(db)
    assert (email.port, email.security, email.auth) == (587, Security.STARTTLS, True)
    assert load_sms_settings(db).provider is SmsProvider.SMSC
    items = dict(settings_items(db))
    assert items["email.port"] == "587" and items["email.auth"] == "1"


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("email.colour", "red", "нет такого параметра"),
        ("email.port", "пятьсот", "целое число"),
        ("email.security", "tls13", "none | starttls | ssl"),
        ("email.auth", "да", "1 (да) или 0 (нет)"),
        ("sms.sender", "Очень длинное имя", "до 11 латинских"),
        ("email.connections", "0", "одновременных соединений: нужно число от 1 до 8"),
        ("email.connections", "9", "одновременных соединений: нужно число от 1 до 8"),
    ],
)
def test_set_setting_refuses_bad_keys_and_values(db, key, value, expected) -> None:
    with pytest.raises(SettingsError, match=expected.replace("|", r"\|").replace("(", r"\(")
                       .replace(")", r"\)")):  # fmt: skip
        set_setting(db, key, value)


# --- passwords -------------------------------------------------------------------------------
def test_password_goes_to_the_store_and_never_to_the_database(db, data_folder, memory_keyring):
    save_email_settings(db, MAILRU)
    store = PasswordStore()
    assert store.secure
    store.set(smtp_account(MAILRU), PASSWORD)
    save_sms_settings(db, SmsSettings(login="avtoprokat"))
    store.set(sms_account(load_sms_settings(db)), PASSWORD + "-sms")
    assert (
        memory_keyring.passwords[("avtoprokat_mail", "smtp:office@mail.ru@smtp.mail.ru")]
        == PASSWORD
    )
    db.execute("PRAGMA wal_checkpoint(FULL)")
    files = [p for p in data_folder.iterdir() if p.name.startswith(database_path(data_folder).name)]
    everything = b"".join(p.read_bytes() for p in files)
    for encoding in ("utf-8", "utf-16-le", "cp1251"):
        assert PASSWORD.encode(encoding) not in everything


def test_account_changes_with_login_and_server(memory_keyring):
    store = PasswordStore()
    store.set(smtp_account(MAILRU), PASSWORD)
    other = EmailSettings(**{**{f: getattr(MAILRU, f) for f in MAILRU.__slots__},
                             "user": "sales@mail.ru"})  # fmt: skip
    assert store.is_set(smtp_account(MAILRU))
    assert not store.is_set(smtp_account(other))
    store.delete(smtp_account(MAILRU))
    store.delete(smtp_account(MAILRU))  # deleting twice is not an error
    assert not store.is_set(smtp_account(MAILRU))


def test_without_a_secure_store_the_password_lives_in_memory_only(monkeypatch):
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        store = PasswordStore()
        assert not store.secure
        store.set("smtp:a@b", PASSWORD)
        assert store.get("smtp:a@b") == PASSWORD
        assert PasswordStore().get("smtp:a@b") is None  # a new session knows nothing
    finally:
        keyring.set_keyring(previous)


def test_environment_password_wins_for_automation(memory_keyring):
    store = PasswordStore()
    store.set("smtp:a@b", "stored")
    assert resolve_password(store, "smtp:a@b", SMTP_PASSWORD_ENV, {}) == "stored"
    env = {SMTP_PASSWORD_ENV: "from-env"}
    assert resolve_password(store, "smtp:a@b", SMTP_PASSWORD_ENV, env) == "from-env"


# --- the command line ------------------------------------------------------------------------
def test_cli_settings_show_set_and_errors(cli, memory_keyring):
    assert cli("settings", "set", "email.host", "smtp.yandex.ru")[0] == 0
    assert cli("settings", "set", "email.port", "465")[0] == 0
    status, _, err = cli("settings", "set", "email.port", "0")
    assert status == 2 and "от 1 до 65535" in err
    status, out, _ = cli("settings", "show")
    assert status == 0
    lines = out.splitlines()
    assert "email.host = smtp.yandex.ru" in lines
    assert "email.port = 465" in lines
    assert "email.password = не задан" in lines
    assert "sms.password = не задан" in lines


def _cli_subprocess(
    data: Path, *args: str, stdin: str = "", keyring_file: Path
) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "PYTHON_KEYRING_BACKEND": "tests.keyring_backends.FileKeyring",
        FILE_ENV: str(keyring_file),
    }
    env.pop(SMTP_PASSWORD_ENV, None)
    return subprocess.run(
        [sys.executable, "-m", "avtoprokat_mail", "--data-dir", str(data), *args],
        input=stdin, capture_output=True, text=True, timeout=60, env=env, cwd=PROJECT_ROOT,
    )  # fmt: skip


def test_cli_set_password_reads_stdin_and_shows_only_that_it_is_set(tmp_path):
    keyring_file = tmp_path / "keyring.json"
    data = tmp_path / "data"
    run = _cli_subprocess(data, "settings", "set", "email.host", "smtp.mail.ru",
                          keyring_file=keyring_file)  # fmt: skip
    assert run.returncode == 0, run.stderr
    _cli_subprocess(
        data, "settings", "set", "email.user", "office@mail.ru", keyring_file=keyring_file
    )
    run = _cli_subprocess(data, "settings", "set-password", stdin=PASSWORD + "\n",
                          keyring_file=keyring_file)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert PASSWORD in keyring_file.read_text(encoding="utf-8")
    show = _cli_subprocess(data, "settings", "show", keyring_file=keyring_file)
    assert "email.password = задан" in show.stdout.splitlines()
    assert PASSWORD not in show.stdout + show.stderr
    database = b"".join(p.read_bytes() for p in data.iterdir())
    assert PASSWORD.encode() not in database


def test_cli_set_password_without_a_secure_store_points_to_the_environment(cli):
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        status, _, err = cli("settings", "set-password")
    finally:
        keyring.set_keyring(previous)
    assert status == 2
    assert NO_SECURE_STORE in err and SMTP_PASSWORD_ENV in err


def _configure(cli, settings: EmailSettings) -> None:
    for key, value in (
        ("email.host", settings.host),
        ("email.port", str(settings.port)),
        ("email.security", settings.security.value),
        ("email.auth", "1"),
        ("email.user", settings.user),
        ("email.sender_address", settings.sender_address),
        ("email.timeout", "5"),
    ):
        assert cli("settings", "set", key, value)[0] == 0


def test_cli_settings_test_uses_the_environment_password(
    cli, memory_keyring, starttls_server, trust_test_ca, monkeypatch
):
    from tests.smtp_servers import PASSWORD as SERVER_PASSWORD

    _configure(cli, starttls_server.settings(Security.STARTTLS))
    monkeypatch.setenv(SMTP_PASSWORD_ENV, SERVER_PASSWORD)
    status, out, _ = cli("settings", "test")
    assert status == 0 and "установлено" in out
    monkeypatch.setenv(SMTP_PASSWORD_ENV, "неверный")
    status, out, err = cli("settings", "test")
    assert status == 2 and "пароль для внешнего приложения" in out + err
    assert "неверный" not in out + err


def test_cli_settings_test_sms_asks_the_gateway(cli, memory_keyring, monkeypatch):
    from avtoprokat_mail.credentials import SMS_PASSWORD_ENV
    from tests.sms_gateways import SMSRU_API_ID, FakeGateway

    with FakeGateway(balance="99.5") as fake:
        assert cli("settings", "set", "sms.endpoint", fake.url)[0] == 0
        monkeypatch.setenv(SMS_PASSWORD_ENV, SMSRU_API_ID)
        status, out, _ = cli("settings", "test", "--sms")
        assert status == 0 and "99,50 руб." in out
        monkeypatch.delenv(SMS_PASSWORD_ENV)
        status, out, err = cli("settings", "test", "--sms")
        assert status == 2 and "не задан" in out + err
