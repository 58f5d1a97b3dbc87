"""Checks of what clients type: email addresses and Russian mobile numbers.

Both checks have a fast path for the common, clean case, because the grid checks every row
of a directory that may hold 100,000 clients and an import checks every row of a file:
email-validator costs about 20 µs a call and phonenumbers about 30 µs, the regular
expressions below well under 1 µs. The fast paths accept only a strict subset of what the
libraries accept, so the verdict never differs; anything else goes to the library.
"""

from __future__ import annotations

import re

import phonenumbers
from email_validator import EmailNotValidError, validate_email

# Dot-atom local part and LDH host labels with an alphabetic TLD: a strict subset of RFC 5322.
_PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}"
)
# Top-level names email-validator refuses as special-use (RFC 6761 and friends).
_SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test", "internal"})
_CANONICAL_MOBILE = re.compile(r"\+79\d{9}")
_PLAIN_PHONE = re.compile(r"\+?[\d\s().-]+")


def email_problem(address: str) -> str | None:
    """Return why ``address`` is not a usable email address, in Russian, or None if it is.

    Syntax only: no DNS lookups (the office may be offline, and a directory check must be fast).
    """
    address = address.strip()
    if not address:
        return "не указан email"
    if _is_plain_email(address):
        return None
    if address.count("@") != 1 or "." not in address.rpartition("@")[2]:
        # Common typos ("ivanov@mail", "ivanov.mail.ru") that email-validator would refuse
        # too; answered here because a directory may hold thousands of them.
        return f"неверный email «{address}»"
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
        digits = re.sub(r"\D", "", text)
        if text.startswith("+"):
            candidate = "+" + digits
        elif len(digits) == 11 and digits[0] in "78":  # 8 is the Russian trunk prefix
            candidate = "+7" + digits[1:]
        else:
            candidate = "+7" + digits  # a bare ten-digit mobile, as people often write it
        return candidate if is_valid_mobile(candidate) else None
    try:
        parsed = phonenumbers.parse(text, "RU")
    except phonenumbers.NumberParseException:
        return None
    candidate = f"+{parsed.country_code}{parsed.national_number}"
    return candidate if is_valid_mobile(candidate) else None


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
    return f"неверный сотовый телефон «{text}» (нужно +7 и 10 цифр, например +79031112233)"
