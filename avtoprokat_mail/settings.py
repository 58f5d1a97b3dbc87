"""The program's settings ("Параметры"): keys, parsing, checks, provider presets.

No tkinter here: the settings window and ``avtoprokat-mail settings`` share these functions.
Values are stored as text under the keys of CLI.md; the passwords never are (credentials.py).
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from avtoprokat_mail.model import EmailSettings, Security, SmsProvider, SmsSettings
from avtoprokat_mail.storage import settings as store
from avtoprokat_mail.validation import email_problem


class SettingsError(Exception):
    """A value or a combination of values is refused; ``str()`` says why, in Russian."""


@dataclass(frozen=True)
class Preset:
    """A mail provider's SMTP server as its help pages give it."""

    name: str
    host: str
    port: int
    security: Security


PRESETS: tuple[Preset, ...] = (
    Preset("mail.ru", "smtp.mail.ru", 465, Security.SSL),
    Preset("Яндекс", "smtp.yandex.ru", 465, Security.SSL),
    Preset("Gmail", "smtp.gmail.com", 587, Security.STARTTLS),
)
OTHER_PRESET = "другой"
APP_PASSWORD_HINT = (
    "mail.ru, Яндекс и Gmail принимают не обычный пароль от почты, а «пароль для внешнего "
    "приложения»: его создают в настройках безопасности почтового ящика."
)
SMS_ENDPOINTS: dict[SmsProvider, str] = {
    SmsProvider.SMSRU: "https://sms.ru",
    SmsProvider.SMSC: "https://smsc.ru",
}
SMS_PROVIDER_NAMES: dict[SmsProvider, str] = {
    SmsProvider.SMSRU: "SMS.ru",
    SmsProvider.SMSC: "SMSC.ru",
}
SECURITY_NAMES: dict[Security, str] = {
    Security.NONE: "без шифрования",
    Security.STARTTLS: "STARTTLS",
    Security.SSL: "SSL/TLS",
}


def preset_for(host: str, port: int, security: Security) -> str:
    """The name of the preset these values match, or "другой"."""
    for preset in PRESETS:
        if (preset.host, preset.port, preset.security) == (host.strip().lower(), port, security):
            return preset.name
    return OTHER_PRESET


# --- single values ---------------------------------------------------------------------------
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_SMS_SENDER = re.compile(r"[A-Za-z0-9 .\-_]{1,11}")


def _text(value: str) -> str:
    if any(ch in value for ch in "\r\n\x00"):
        raise SettingsError("значение не может содержать перевод строки")
    return value.strip()


def _integer(low: int, high: int, what: str) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise SettingsError(f"{what}: нужно целое число от {low} до {high}") from None
        if not low <= number <= high:
            raise SettingsError(f"{what}: нужно число от {low} до {high}, а не {number}")
        return number

    return parse


def _flag(value: str) -> bool:
    if value.strip() in ("1", "0"):
        return value.strip() == "1"
    raise SettingsError("нужно 1 (да) или 0 (нет)")


def _choice(kind: type) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            return kind(value.strip().lower())
        except ValueError:
            allowed = " | ".join(member.value for member in kind)
            raise SettingsError(f"допустимо: {allowed}") from None

    return parse


def host_problem(host: str) -> str | None:
    """Why ``host`` is not a server name or IP address, or None."""
    host = host.strip()
    if not host:
        return "укажите SMTP-сервер, например smtp.mail.ru"
    try:
        ipaddress.ip_address(host.strip("[]"))
        return None
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return f"«{host}» не похоже на имя сервера (пример: smtp.mail.ru)"
    return None


def _host(value: str) -> str:
    if problem := host_problem(value):
        raise SettingsError(problem)
    return value.strip().lower()


def _address(value: str) -> str:
    value = value.strip()
    if value and (problem := email_problem(value)):
        raise SettingsError(problem)
    return value


def endpoint_problem(url: str) -> str | None:
    """Why ``url`` cannot be a gateway base URL: https, or http to this computer only."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"):
        return None
    return f"адрес шлюза должен начинаться с https:// (получено «{url}»)"


def _endpoint(value: str) -> str:
    value = value.strip().rstrip("/")
    if problem := endpoint_problem(value):
        raise SettingsError(problem)
    return value


def _sms_sender(value: str) -> str:
    value = value.strip()
    if value and not _SMS_SENDER.fullmatch(value):
        raise SettingsError(
            "имя отправителя SMS: до 11 латинских букв, цифр, пробелов, точек или дефисов, "
            "и оно должно быть согласовано со шлюзом"
        )
    return value


@dataclass(frozen=True)
class Key:
    """One setting of CLI.md: where it lives and how its text is read."""

    name: str
    field: str
    parse: Callable[[str], Any]


EMAIL_KEYS: tuple[Key, ...] = (
    Key("email.sender_name", "sender_name", _text),
    Key("email.sender_address", "sender_address", _address),
    Key("email.host", "host", lambda v: _host(v) if v.strip() else ""),
    Key("email.port", "port", _integer(1, 65535, "порт")),
    Key("email.security", "security", _choice(Security)),
    Key("email.auth", "auth", _flag),
    Key("email.user", "user", _text),
    Key("email.per_minute", "per_minute", _integer(0, 10_000, "писем в минуту")),
    Key("email.timeout", "timeout", _integer(1, 600, "тайм-аут, секунд")),
)
SMS_KEYS: tuple[Key, ...] = (
    Key("sms.provider", "provider", _choice(SmsProvider)),
    Key("sms.login", "login", _text),
    Key("sms.sender", "sender", _sms_sender),
    Key("sms.endpoint", "endpoint", _endpoint),
    Key("sms.per_minute", "per_minute", _integer(0, 10_000, "SMS в минуту")),
)
KEYS: dict[str, Key] = {key.name: key for key in (*EMAIL_KEYS, *SMS_KEYS)}


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value.value if hasattr(value, "value") else value)


# --- whole sections ---------------------------------------------------------------------------
def _load(conn: sqlite3.Connection, keys: tuple[Key, ...], record: Any) -> Any:
    stored = store.read_all(conn)
    for key in keys:
        if key.name in stored:
            # A value that no longer parses (edited by hand) leaves the default in place.
            with contextlib.suppress(SettingsError):
                setattr(record, key.field, key.parse(stored[key.name]))
    return record


def load_email_settings(conn: sqlite3.Connection) -> EmailSettings:
    return _load(conn, EMAIL_KEYS, EmailSettings())


def load_sms_settings(conn: sqlite3.Connection) -> SmsSettings:
    return _load(conn, SMS_KEYS, SmsSettings())


def email_settings_problems(settings: EmailSettings) -> list[str]:
    """What keeps these EMail settings from being saved (all of it, in Russian).

    Settings left entirely empty are fine: the office may mail only by SMS.
    """
    if not (settings.host or settings.sender_address or settings.user):
        return []
    problems = []
    if problem := host_problem(settings.host):
        problems.append(f"SMTP-сервер: {problem}")
    if not settings.sender_address:
        problems.append("Email отправителя: укажите адрес, с которого уходят письма")
    elif problem := email_problem(settings.sender_address):
        problems.append(f"Email отправителя: {problem}")
    if settings.auth and not settings.user:
        problems.append("Пользователь: для аутентификации SMTP нужен логин (обычно ваш email)")
    for key in EMAIL_KEYS:
        if key.field not in ("host", "sender_address"):  # explained above, with context
            problems += _value_problem(key, getattr(settings, key.field))
    return problems


def sms_settings_problems(settings: SmsSettings) -> list[str]:
    """What keeps these SMS settings from being saved (in Russian)."""
    problems = []
    for key in SMS_KEYS:
        problems += _value_problem(key, getattr(settings, key.field))
    return problems


def _value_problem(key: Key, value: Any) -> list[str]:
    try:
        key.parse(_to_text(value))
    except SettingsError as error:
        return [f"{key.name}: {error}"]
    return []


def save_email_settings(conn: sqlite3.Connection, settings: EmailSettings) -> None:
    """Check and store the EMail tab; SettingsError lists every problem."""
    if problems := email_settings_problems(settings):
        raise SettingsError("\n".join(problems))
    store.write(conn, {k.name: _to_text(getattr(settings, k.field)) for k in EMAIL_KEYS})


def save_sms_settings(conn: sqlite3.Connection, settings: SmsSettings) -> None:
    """Check and store the SMS tab; SettingsError lists every problem."""
    if problems := sms_settings_problems(settings):
        raise SettingsError("\n".join(problems))
    store.write(conn, {k.name: _to_text(getattr(settings, k.field)) for k in SMS_KEYS})


def set_setting(conn: sqlite3.Connection, name: str, text: str) -> None:
    """Store one value by its key (``settings set``); SettingsError names a bad key or value."""
    key = KEYS.get(name)
    if key is None:
        raise SettingsError(f"нет такого параметра «{name}»; есть: {', '.join(KEYS)}")
    try:
        value = key.parse(text)
    except SettingsError as error:
        raise SettingsError(f"{name}: {error}") from None
    store.write(conn, {name: _to_text(value)})


def settings_items(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """Every key with its current value as text (defaults where nothing is stored)."""
    email, sms = load_email_settings(conn), load_sms_settings(conn)
    items = [(k.name, _to_text(getattr(email, k.field))) for k in EMAIL_KEYS]
    return items + [(k.name, _to_text(getattr(sms, k.field))) for k in SMS_KEYS]


def sms_endpoint(settings: SmsSettings) -> str:
    """The base URL to call: the configured one, or the provider's real one."""
    return settings.endpoint or SMS_ENDPOINTS[settings.provider]
