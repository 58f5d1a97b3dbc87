"""What a message in the sender's INBOX says about a mailing: a bounce, an unsubscribe, or nothing.

Bounces are found by Mailman's detectors (``flufl.bounce``: RFC 3464 delivery status reports and
the free-form reports of Exim, Postfix, qmail, Exchange and others); the Russian providers'
own free-form reports, which those detectors do not read, are recognised here by their
sender and wording, and their addresses taken from the text. Auto-replies («Автоответ», «Out of
office») are neither. An unsubscribe is a reply whose subject or first line asks for it
(«Отписаться», «unsubscribe», «стоп») — which is also what a mail program's «Отписаться»
button sends to our ``List-Unsubscribe: <mailto:…?subject=unsubscribe>``.

No network and no database here: :func:`read_return` looks at one message.
"""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from enum import StrEnum

from flufl.bounce import all_failures


class ReturnKind(StrEnum):
    BOUNCE = "bounce"
    UNSUBSCRIBE = "unsubscribe"


@dataclass
class Return:
    """What one INBOX message reports about our mailings."""

    kind: ReturnKind
    addresses: list[str]  # lower-case addresses concerned (the bounced, or the one leaving)
    reason: str  # for the client's card: the server's words, or the reply's subject
    permanent: bool = True  # a hard bounce (a soft one counts only after three)
    message_ids: list[str] = field(default_factory=list)  # Message-IDs of ours it quotes
    date: str = ""  # the report's Date header as written


_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(автоответ|автоматический ответ|auto[- ]?reply|automatic reply|out of (the )?office"
    r"|вне офиса|в отпуске)",
    re.IGNORECASE,
)
_REPORT_SENDER = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)@", re.I)
_REPORT_SUBJECT = re.compile(
    r"undeliver|delivery (status|failure|has failed)|returned mail|failure notice"
    r"|mail delivery failed|не доставлен|недоставленн|не удалось доставить|возврат",
    re.IGNORECASE,
)
_UNSUBSCRIBE = re.compile(
    r"^\W*(отписаться|отпишите(\s+меня)?|отписка|unsubscribe|стоп|stop)\b", re.IGNORECASE
)
_ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_MESSAGE_ID = re.compile(r"^(?:Message-ID|In-Reply-To|References):\s*(.+)$", re.I | re.M)
_ID = re.compile(r"<[^<>\s]+>")
_STATUS = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b|\b([45])\d\d\b")
_REASON_LINE = re.compile(r"\b[45]\d\d\b.*|.*\b[45]\.\d{1,3}\.\d{1,3}\b.*")


def read_return(raw: bytes, own_address: str = "") -> Return | None:
    """Classify one message of the sender's INBOX; None when it is neither kind."""
    message = email.message_from_bytes(raw, policy=policy.default)
    bounce = _bounce(message, raw, own_address.casefold())  # a report is auto-submitted too
    if bounce is not None:
        return bounce
    if _is_auto_reply(message):  # «Автоответ», «Out of office»: nobody asked for anything
        return None
    return _unsubscribe(message, own_address.casefold())


def _header(message: EmailMessage, name: str) -> str:
    try:
        return str(message.get(name, "") or "")
    except (ValueError, TypeError, IndexError):  # a broken header must not stop the check
        return ""


def _is_auto_reply(message: EmailMessage) -> bool:
    auto = _header(message, "Auto-Submitted").strip().lower()
    if (
        auto == "auto-replied"
        or _header(message, "X-Autoreply")
        or _header(message, "X-Autorespond")
    ):
        return True
    if _header(message, "Precedence").strip().lower() == "auto_reply":
        return True
    return bool(_AUTO_REPLY_SUBJECT.match(_header(message, "Subject")))


def _looks_like_report(message: EmailMessage) -> bool:
    sender = parseaddr(_header(message, "From"))[1]
    return (
        message.get_content_type() == "multipart/report"
        or bool(_REPORT_SENDER.match(sender))
        or bool(_REPORT_SUBJECT.search(_header(message, "Subject")))
    )


def _bounce(message: EmailMessage, raw: bytes, own: str) -> Return | None:
    if not _looks_like_report(message):
        return None
    temporary, permanent = all_failures(email.message_from_bytes(raw))
    found = {_text(a).lower() for a in permanent}
    soft = {_text(a).lower() for a in temporary} - found
    text = _all_text(message)
    if not found and not soft:  # a provider's own free-form report: the addresses it names
        found = _named_addresses(text, own, message)
        if found and not _is_permanent(text):
            found, soft = set(), found
    if not found and not soft:
        return None
    return Return(
        ReturnKind.BOUNCE,
        sorted(found or soft),
        _reason(text),
        permanent=bool(found),
        message_ids=_quoted_ids(text) + _embedded_ids(message),
        date=_header(message, "Date"),
    )


def _unsubscribe(message: EmailMessage, own: str) -> Return | None:
    subject = _header(message, "Subject")
    words = re.sub(r"^\s*((re|fwd?|ответ|отв)\s*:\s*)+", "", subject, flags=re.IGNORECASE)
    first = _first_line(message)
    if not (_UNSUBSCRIBE.match(words) or _UNSUBSCRIBE.match(first)):
        return None
    sender = parseaddr(_header(message, "Reply-To") or _header(message, "From"))[1].lower()
    if not sender or sender == own:
        return None
    ids = [i for name in ("In-Reply-To", "References") for i in _ID.findall(_header(message, name))]
    return Return(
        ReturnKind.UNSUBSCRIBE, [sender], subject.strip() or first, message_ids=ids,
        date=_header(message, "Date"),
    )  # fmt: skip


def _first_line(message: EmailMessage) -> str:
    """The first line the person wrote (quoted lines and greetings' blank lines skipped)."""
    body = message.get_body(preferencelist=("plain", "html"))
    if body is None:
        return ""
    try:
        text = body.get_content()
    except (LookupError, ValueError):
        return ""
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(">"):
            return re.sub(r"<[^>]+>", "", line).strip()
    return ""


def _all_text(message: EmailMessage) -> str:
    """Every text part and the delivery-status fields, decoded, for reading addresses."""
    pieces = []
    for part in message.walk():
        if part.get_content_maintype() == "multipart":
            continue
        try:
            payload = part.get_payload(decode=True) or b""
        except (AssertionError, ValueError):
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            pieces.append(payload.decode(charset, "replace"))
        except LookupError:
            pieces.append(payload.decode("utf-8", "replace"))
    return "\n".join(pieces)


def _named_addresses(text: str, own: str, message: EmailMessage) -> set[str]:
    """Addresses a free-form report names, less ours and the reporting system's."""
    reporters = {a.lower() for _n, a in getaddresses([_header(message, "From")])}
    text = _MESSAGE_ID.sub("", text)  # a Message-ID looks like an address: not one
    found = set()
    for address in _ADDRESS.findall(text):
        address = address.lower().strip(".")
        local = address.split("@")[0]
        if address == own or address in reporters or _REPORT_SENDER.match(address):
            continue
        if local in ("postmaster", "abuse", "noreply", "no-reply"):
            continue
        found.add(address)
    return found


def _is_permanent(text: str) -> bool:
    codes = [m.group(1) or m.group(2) for m in _STATUS.finditer(text)]
    return not codes or "5" in codes


def _reason(text: str) -> str:
    """The first line with a reply code or status code: the server's words, shortened."""
    for line in text.splitlines():
        line = line.strip()
        if _REASON_LINE.fullmatch(line):
            return line[:200]
    return "письмо вернулось: адрес не принимает почту"


def _quoted_ids(text: str) -> list[str]:
    return [i for match in _MESSAGE_ID.finditer(text) for i in _ID.findall(match.group(1))]


def _embedded_ids(message: EmailMessage) -> list[str]:
    """Message-IDs of the messages a report carries whole (message/rfc822 parts)."""
    found = []
    for part in message.walk():
        if part is not message and (value := _header(part, "Message-ID")):
            found += _ID.findall(value)
    return found


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
