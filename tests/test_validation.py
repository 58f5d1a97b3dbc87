"""Email and mobile checks, and the promise of the email fast path."""

from __future__ import annotations

import datetime as dt
import random
import string

import pytest
from email_validator import EmailNotValidError, validate_email

from avtoprokat_mail import validation
from avtoprokat_mail.validation import (
    consent_problem,
    email_problem,
    is_valid_email,
    is_valid_mobile,
    mobile_problem,
    normalize_mobile,
    parse_date,
    ru_date,
)


@pytest.mark.parametrize(
    "text",
    [
        "8 (903) 111-22-33",
        "89031112233",
        "9031112233",
        "+7 903 111-22-33",
        "+7 (903) 111 22 33",
        "79031112233",
        " +79031112233 ",
    ],
)
def test_mobile_spellings_normalise(text: str) -> None:
    assert normalize_mobile(text) == "+79031112233"


@pytest.mark.parametrize("text", ["+74951234567", "8 (495) 123-45-67", "12345", "", "abc"])
def test_not_a_mobile_gives_none(text: str) -> None:
    assert normalize_mobile(text) is None


def test_is_valid_mobile_wants_exact_stored_form() -> None:
    assert is_valid_mobile("+79031112233")
    for text in ("89031112233", "+7 903 111 22 33", "+7903111223", "+790311122334", "+74951234567"):
        assert not is_valid_mobile(text)


def test_mobile_problem_offers_normal_form() -> None:
    assert mobile_problem("+79031112233") is None
    assert mobile_problem("") is None
    assert "+79031112233" in (mobile_problem("8 (903) 111-22-33") or "")
    assert "неверный сотовый" in (mobile_problem("12345") or "")


@pytest.mark.parametrize(
    "address",
    ["ivanov@mail.ru", "Ivan.Petrov+rent@Yandex.RU", "иван@почта.рф", "info@пример.рф"],
)
def test_valid_emails(address: str) -> None:
    assert email_problem(address) is None
    assert is_valid_email(address)


@pytest.mark.parametrize(
    "address",
    ["ivanov@mail", "petrov.mail.ru", "a@@b.ru", "a..b@x.ru", ".a@x.ru", "a b@x.ru", "a@x..ru"],
)
def test_invalid_emails(address: str) -> None:
    problem = email_problem(address)
    assert problem is not None
    assert "неверный email" in problem
    assert address in problem


def test_empty_email_is_a_problem() -> None:
    assert email_problem("  ") == "не указан email"


_LOCAL_CHARS = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-."
_DOMAIN_CHARS = string.ascii_letters + string.digits + "-."


def _random_address(rnd: random.Random) -> str:
    """Mostly plausible, often broken plain-ASCII addresses to probe the fast path."""
    local = "".join(rnd.choice(_LOCAL_CHARS) for _ in range(rnd.randint(1, 70)))
    labels = [
        "".join(rnd.choice(_DOMAIN_CHARS) for _ in range(rnd.randint(1, 12)))
        for _ in range(rnd.randint(1, 3))
    ]
    tld = rnd.choice(["ru", "com", "test", "local", "x", "рф", "museum", "1a", "RU", "onion"])
    domain = ".".join([*labels, tld])
    if rnd.random() < 0.05:
        domain = "a" * rnd.randint(60, 70) + ".ru"
    return f"{local}@{domain}"


def test_plain_email_fast_path_never_accepts_what_the_library_refuses() -> None:
    rnd = random.Random(7)
    accepted = 0
    for _ in range(4000):
        address = _random_address(rnd)
        if not validation._is_plain_email(address):
            continue
        accepted += 1
        try:
            validate_email(address, check_deliverability=False)
        except EmailNotValidError as error:
            pytest.fail(f"fast path accepted {address!r}, email-validator refused: {error}")
    assert accepted > 500  # the generator does exercise the fast path


@pytest.mark.parametrize("address", ["a@ab--c.ru", "info@mail.xy--z.com"])
def test_fast_path_leaves_double_hyphen_labels_to_the_library(address: str) -> None:
    with pytest.raises(EmailNotValidError):
        validate_email(address, check_deliverability=False)
    assert email_problem(address) is not None


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("15.03.2025", "2025-03-15"),
        (" 5.3.2024 ", "2024-03-05"),
        ("2024-11-30", "2024-11-30"),
        ("29.02.2024", "2024-02-29"),
        ("29.02.2023", None),
        ("31.04.2024", None),
        ("15/03/2025", None),
        ("2025-3-15", None),
        ("весной", None),
        ("", None),
    ],
)
def test_parse_date(text: str, iso: str | None) -> None:
    assert parse_date(text) == iso
    if iso:
        assert parse_date(ru_date(iso)) == iso


def test_a_consent_cannot_be_given_tomorrow() -> None:
    today, tomorrow = dt.date.today(), dt.date.today() + dt.timedelta(days=1)
    assert parse_date(today.strftime("%d.%m.%Y")) == today.isoformat()
    assert parse_date(tomorrow.strftime("%d.%m.%Y")) is None
    assert "ещё не наступила" in consent_problem(tomorrow.strftime("%d.%m.%Y"))
    assert "не дата" in consent_problem("32.01.2024")
    assert consent_problem("") is None
    assert consent_problem("01.02.2024") is None
    assert ru_date("") == ""
