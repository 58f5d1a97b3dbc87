"""Hide a secret where it appears as a secret in text a server sent back.

A server's reply can echo what the program sent it: the AUTH PLAIN or LOGIN exchange
(base64 of login and password), an HTTP form or URL (``psw=…``), or the password itself.
Such a reply is quoted to the user, written to the log and kept in ``runs.reason``, so it is
scrubbed first, by :func:`hide_secret`.

The secret is hidden only where it stands as a whole value: a word of its own, the value of
``key=value``, or a base64 word that decodes to text holding it. It is never replaced as a
substring of other words: a password equal to the login's local part must not turn the login
«ivan@example.com» into «***@example.com» (which tells the password), and a one-letter
password must not mangle host names.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode
from urllib.parse import unquote_plus

MASK = "***"

_WORD = re.compile(r"\S+")
_EDGES = "\"'«»()<>[]{},;:.!?"  # punctuation that may wrap a word in a sentence
_PAIR = re.compile(r"(?P<key>[\w.-]+)=(?P<value>[^&;=\s]*)")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{4,}={0,2}")
_MIN_BASE64 = 8  # shorter base64 words are ordinary words more often than encodings


def hide_secret(text: str, secret: str | None) -> str:
    """``text`` with each word that is, encodes or carries ``secret`` replaced by ***."""
    if not secret or not text:
        return text
    return _WORD.sub(lambda word: _hidden_word(word.group(), secret), text)


def _hidden_word(word: str, secret: str) -> str:
    if _is_secret(word, secret):  # a secret may well end in punctuation itself
        return MASK
    core = word.strip(_EDGES)
    if not core:
        return word
    start = word.index(core)
    head, tail = word[:start], word[start + len(core) :]
    if _is_secret(core, secret):
        return head + MASK + tail
    if "=" in core:
        return head + _PAIR.sub(lambda pair: _hidden_pair(pair, secret), core) + tail
    return word


def _hidden_pair(pair: re.Match[str], secret: str) -> str:
    value = pair.group("value")
    if value and _is_secret(value, secret):
        return f"{pair.group('key')}={MASK}"
    return pair.group()


def _is_secret(word: str, secret: str) -> bool:
    """``word`` is the secret, URL-encoded or not, or base64 of text that holds it."""
    if word == secret or (("%" in word or "+" in word) and unquote_plus(word) == secret):
        return True
    return _decodes_to_secret(word, secret)


def _decodes_to_secret(word: str, secret: str) -> bool:
    if len(word) < _MIN_BASE64 or not _BASE64.fullmatch(word):
        return False
    padded = word + "=" * (-len(word) % 4)
    try:
        decoded = b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return False
    # AUTH PLAIN is "\0login\0password": the password is one of the NUL-separated parts.
    parts = decoded.split(b"\0")
    wanted = secret.encode("utf-8")
    return wanted in parts or decoded == wanted
