"""Checks of what clients type: email addresses, Russian mobile numbers, whole client records.

:func:`client_problems` is the one rule of what may be stored as a client (the form and the
import apply it); :func:`email_problem` and :func:`mobile_for_sending` are the address checks
behind it, which the grid's pink cells and a run's skipped recipients use too, so a value is
pink exactly when a run would skip it.

Both checks have a fast path for the common, clean case, because the grid checks every row
of a directory that may hold 100,000 clients and an import checks every row of a file:
email-validator costs about 20 µs a call and phonenumbers about 30 µs, the regular
expressions below well under 1 µs. The fast paths accept only a strict subset of what the
libraries accept, so the verdict never differs; anything else goes to the library.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from avtoprokat_mail.model import Client, EmailSettings, Security, SmsProvider, SmsSettings

# Dot-atom local part and LDH host labels with an alphabetic TLD: a strict subset of RFC 5322.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
)
# Top-level names email-validator refuses as special-use (RFC 6761 and friends).
_SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test", "internal"})
# ASCII digits only: "\d" alone also takes full-width and other scripts' digits, which would
# pass as a valid mobile and slip past the duplicate check ("+79031112233" vs its look-alike).
_CANONICAL_MOBILE = re.compile(r"\+79[0-9]{9}")
_PLAIN_PHONE = re.compile(r"\+?[0-9\s().-]+")
_MAX_LOCAL_PART = 64  # octets, RFC 5321


def email_problem(address: str) -> str | None:
    """Return why ``address`` is not a usable email address, in Russian, or None if it is.

    Syntax only: no DNS lookups (the office may be offline, and a directory check must be fast).
    """
    address = address.strip()
    if not address:
        return "не указан email"
    if _is_plain_email(address):
        return None
    if len(address.rpartition("@")[0].encode("utf-8")) > _MAX_LOCAL_PART:
        return f"неверный email «{address}»: до «@» не больше {_MAX_LOCAL_PART} символов"
    if address.count("@") != 1 or "." not in address.rpartition("@")[2]:
        # Common typos ("ivanov@mail", "ivanov.mail.ru") that email-validator would refuse
        # too; answered here because a directory may hold thousands of them.
        return f"неверный email «{address}»"
    # Imported here: the plain addresses above need no library, and a command that checks
    # none (``send`` of a planned run) should not pay some 20 ms to import it.
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return f"неверный email «{address}»"
    return None


def is_valid_email(address: str) -> bool:
    """True when ``address`` is a syntactically valid email address."""
    return email_problem(address) is None


def _is_plain_email(address: str) -> bool:
    if len(address) > 254 or not _PLAIN_EMAIL.fullmatch(address):
        return False
    local, domain = address.rsplit("@", 1)
    # Labels like "ab--c" are reserved for Punycode (IDNA): leave any "--" to the library.
    return (
        len(local) <= 64
        and "--" not in domain
        and domain.rsplit(".", 1)[-1].lower() not in _SPECIAL_TLDS
    )


def is_valid_mobile(number: str) -> bool:
    """True when ``number`` is a Russian mobile in the form the seed demands: +79XXXXXXXXX."""
    return bool(_CANONICAL_MOBILE.fullmatch(number))


def normalize_mobile(text: str) -> str | None:
    """Return ``text`` as +79XXXXXXXXX when it is a Russian mobile number in any usual spelling.

    '8 (903) 111-22-33', '89031112233', '9031112233' and '+7 903 111 22 33' all give
    '+79031112233'. Returns None for anything that is not a Russian mobile number.

    The verdict is the seed's rule (+7, then 10 digits, a mobile starting with 9), the same
    one :func:`is_valid_mobile` applies, so a number is never valid in one spelling and
    invalid in another. Plain digit spellings are read directly (about 2 µs); anything else
    (letters, extensions, unusual punctuation) is parsed by phonenumbers.
    """
    text = text.strip()
    if is_valid_mobile(text):
        return text
    if _PLAIN_PHONE.fullmatch(text):
        digits = re.sub(r"[^0-9]", "", text)
        if text.startswith("+"):
            candidate = "+" + digits
        elif len(digits) == 11 and digits[0] in "78":  # 8 is the Russian trunk prefix
            candidate = "+7" + digits[1:]
        else:
            candidate = "+7" + digits  # a bare ten-digit mobile, as people often write it
        return candidate if is_valid_mobile(candidate) else None
    import phonenumbers  # only unusual spellings get here: its import costs some 40 ms

    try:
        parsed = phonenumbers.parse(text, "RU")
    except phonenumbers.NumberParseException:
        return None
    candidate = f"+{parsed.country_code}{parsed.national_number}"
    return candidate if is_valid_mobile(candidate) else None


def mobile_for_sending(text: str) -> str | None:
    """The number a run sends an SMS to for the mobile ``text``, or None when it cannot send.

    Any usual spelling of a Russian mobile is usable ("8 (903) 111-22-33" gives
    +79031112233, see :func:`normalize_mobile`); an empty mobile is not. The stored form
    +79XXXXXXXXX is answered first without a call, as the grid asks this of every client.
    """
    if _CANONICAL_MOBILE.fullmatch(text):
        return text
    return normalize_mobile(text)


def mobile_problem(text: str) -> str | None:
    """Return why ``text`` is not a stored-form mobile, in Russian, or None if it is.

    An empty mobile is not a problem here (a client may have none); callers that need one
    check for emptiness themselves.
    """
    text = text.strip()
    if not text or is_valid_mobile(text):
        return None
    suggestion = normalize_mobile(text)
    if suggestion:
        return f"номер «{text}» нужно записать как {suggestion}"
    return _bad_mobile(text)


def _bad_mobile(text: str) -> str:
    return f"неверный сотовый телефон «{text}» (нужно +7 и 10 цифр, например +79031112233)"


# --- client records ------------------------------------------------------------------------------
class ClientProblem(NamedTuple):
    """One reason a client record cannot be stored."""

    field: str  # the field to correct: "surname" when nothing names or reaches the client
    message: str  # in Russian, lower case, no full stop


NO_IDENTITY = "нет ни имени, ни организации, ни контакта"


def client_problems(client: Client) -> list[ClientProblem]:
    """What keeps ``client`` from being stored, from the form or an import; empty when nothing.

    A client needs something to know them by or to reach them by: a surname, a name, an
    organisation, an email or a mobile (a file of bare email addresses is a mailing list
    worth importing, and what was imported must be savable again from the form). An email or
    mobile that is given must be one a run can use (:func:`email_problem`,
    :func:`mobile_for_sending`). A mobile in another spelling passes: the form and the import
    store its +7 form. An ordinary phone alone is not enough: nothing can be sent to it.
    """
    problems = []
    if not (client.surname or client.name or client.organization or client.email or client.mobile):
        problems.append(ClientProblem("surname", NO_IDENTITY))
    if client.email and (problem := email_problem(client.email)):
        problems.append(ClientProblem("email", problem))
    if client.mobile and mobile_for_sending(client.mobile) is None:
        problems.append(ClientProblem("mobile", _bad_mobile(client.mobile.strip())))
    return problems


# --- dates (the consent to mailings) -------------------------------------------------------------
_RU_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def parse_date(text: str) -> str | None:
    """A date written ДД.ММ.ГГГГ (or ISO ГГГГ-ММ-ДД) as ISO text; None when it is no date.

    Only dates up to today: a consent cannot have been given tomorrow.
    """
    date = _date_of(text)
    return date.isoformat() if date and date <= dt.date.today() else None


def _date_of(text: str) -> dt.date | None:
    text = text.strip()
    if match := _RU_DATE.fullmatch(text):
        day, month, year = map(int, match.groups())
    elif match := _ISO_DATE.fullmatch(text):
        year, month, day = map(int, match.groups())
    else:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def ru_date(iso: str) -> str:
    """An ISO date (or date and time) as the user reads it, ДД.ММ.ГГГГ; "" stays ""."""
    return f"{iso[8:10]}.{iso[5:7]}.{iso[:4]}" if iso else ""


def consent_problem(text: str) -> str | None:
    """Why the typed consent date cannot be stored (in Russian), or None; empty is fine."""
    text = text.strip()
    if not text or parse_date(text):
        return None
    if _date_of(text):
        return f"Согласие на рассылку: дата «{text}» ещё не наступила."
    return (
        f"Согласие на рассылку: «{text}» — не дата. Нужна дата вида ДД.ММ.ГГГГ, "
        "например 15.03.2025, или пустое поле."
    )


# --- settings («Параметры»): each field's text → value, and whole-tab checks ---------------------
class SettingsError(Exception):
    """A value or a combination of values is refused; ``str()`` says why, in Russian."""


# --- single values ---------------------------------------------------------------------------
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_SMS_SENDER = re.compile(r"[A-Za-z0-9 .\-_]{1,11}")


def parse_text(value: str) -> str:
    if any(ch in value for ch in "\r\n\x00"):
        raise SettingsError("значение не может содержать перевод строки")
    return value.strip()


def parse_integer(low: int, high: int, what: str) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value.strip())
        except ValueError:
            raise SettingsError(f"{what}: нужно целое число от {low} до {high}") from None
        if not low <= number <= high:
            raise SettingsError(f"{what}: нужно число от {low} до {high}, а не {number}")
        return number

    return parse


def parse_flag(value: str) -> bool:
    if value.strip() in ("1", "0"):
        return value.strip() == "1"
    raise SettingsError("нужно 1 (да) или 0 (нет)")


def parse_choice(kind: type) -> Callable[[str], Any]:
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


def parse_host(value: str) -> str:
    if problem := host_problem(value):
        raise SettingsError(problem)
    return value.strip().lower()


def parse_address(value: str) -> str:
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


def parse_endpoint(value: str) -> str:
    value = value.strip().rstrip("/")
    if problem := endpoint_problem(value):
        raise SettingsError(problem)
    return value


def parse_sms_sender(value: str) -> str:
    value = value.strip()
    if value and not _SMS_SENDER.fullmatch(value):
        raise SettingsError(
            "имя отправителя SMS: до 11 латинских букв, цифр, пробелов, точек или дефисов, "
            "и оно должно быть согласовано со шлюзом"
        )
    return value


def _optional_host(value: str) -> str:
    return parse_host(value) if value.strip() else ""


MAX_CONNECTIONS = 8  # parallel SMTP connections of a run: more only annoys a provider

# Each settings field with the parser of its text. The key of a field is "email.<field>" or
# "sms.<field>" (the names scripts use with ``settings set``).
EMAIL_FIELDS: dict[str, Callable[[str], Any]] = {
    "sender_name": parse_text,
    "sender_address": parse_address,
    "host": _optional_host,
    "port": parse_integer(1, 65535, "порт"),
    "security": parse_choice(Security),
    "auth": parse_flag,
    "user": parse_text,
    "per_minute": parse_integer(0, 10_000, "писем в минуту"),
    "timeout": parse_integer(1, 600, "тайм-аут, секунд"),
    "daily_limit": parse_integer(0, 1_000_000, "писем в сутки"),
    "require_consent": parse_flag,
    "connections": parse_integer(1, MAX_CONNECTIONS, "одновременных соединений"),
}
SMS_FIELDS: dict[str, Callable[[str], Any]] = {
    "provider": parse_choice(SmsProvider),
    "login": parse_text,
    "sender": parse_sms_sender,
    "endpoint": parse_endpoint,
    "per_minute": parse_integer(0, 10_000, "SMS в минуту"),
}


def _optional_port(value: str) -> int:
    return parse_integer(1, 65535, "порт IMAP")(value)


IMAP_FIELDS: dict[str, Callable[[str], Any]] = {  # keys "email.imap_<field>"
    "host": _optional_host,
    "port": _optional_port,
    "security": parse_choice(Security),
    "user": parse_text,
}


def value_text(value: Any) -> str:
    """A settings value as it is stored and shown: 1/0 for flags, an enum's value."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value.value if hasattr(value, "value") else value)


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
    for name, parse in EMAIL_FIELDS.items():
        if name not in ("host", "sender_address"):  # explained above, with context
            problems += _value_problem(f"email.{name}", parse, getattr(settings, name))
    return problems


def sms_settings_problems(settings: SmsSettings) -> list[str]:
    """What keeps these SMS settings from being saved (in Russian)."""
    problems = []
    for name, parse in SMS_FIELDS.items():
        problems += _value_problem(f"sms.{name}", parse, getattr(settings, name))
    return problems


def _value_problem(key: str, parse: Callable[[str], Any], value: Any) -> list[str]:
    try:
        parse(value_text(value))
    except SettingsError as error:
        return [f"{key}: {error}"]
    return []


# --- cells of the CSV files the program writes ----------------------------------------------------
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?\d+(?:[.,]\d+)?")


def spreadsheet_safe(value: object) -> object:
    """A CSV cell Excel will not run as a formula (CSV injection): text starting with ``=``,
    ``+``, ``-``, ``@``, a tab or a CR gets a leading apostrophe. A phone in E.164 form
    (+79031112233) and a plain number stay as they are; non-text values are left alone."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    if _CANONICAL_MOBILE.fullmatch(value) or _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


# --- control characters: never stored, never printed ---------------------------------------------
_CONTROLS = {code: None for code in (*range(0, 32), 127, *range(128, 160))}
_CONTROLS_BUT_LINES = {code: None for code in _CONTROLS if code != 10}


def strip_controls(text: str, *, multiline: bool = False) -> str:
    """``text`` without control characters (NUL, ESC, BEL, CR, tabs…); line breaks stay only
    when ``multiline``. A NUL would reach a header; ESC sequences would drive the terminal that
    prints ``clients list``. One C-level pass (str.translate), cheap at 100,000 rows."""
    if multiline:
        return text.replace("\r\n", "\n").translate(_CONTROLS_BUT_LINES)
    return text.translate(_CONTROLS)
