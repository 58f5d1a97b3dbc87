"""What an SMTP server's refusal means, so that the engine can act on it.

A refusal has three parts: the reply code (550), the enhanced status code (class.subject.detail:
5.7.1), which servers usually put first in the text, and the text itself. :func:`classify`
reads all three, and the stage of the dialogue it came at, and sorts the refusal into a
:class:`ReplyKind`: is it this recipient's address, the recipient's full mailbox, the size of
the message, the sender, the sender's daily sending limit, a spam verdict, a rate limit, some
other policy, or just "try later". :meth:`Reply.explain` says it in one or two plain Russian
sentences for the report and the progress window, ending with the server's own words.

The order of the decision:
  1. an enhanced code whose meaning does not depend on the text (:data:`_SPECIFIC`);
  2. the known texts of Yandex, mail.ru, Gmail and the common servers (:data:`KNOWN_TEXTS`),
     first match wins;
  3. the subject of the enhanced code (X.1.x addressing, X.7.x policy...);
  4. the reply code, read with the stage (552 at MAIL FROM is the SIZE extension's refusal,
     550 at RCPT TO is the recipient's mailbox);
  5. last, the stage and the class settle what cannot be: a recipient refused at MAIL FROM is
     the sender, a "permanent" kind in a 4xx reply is only a reason to try later.

Pure functions, no network, no tkinter; the regular expressions of the known texts are
compiled once, at the first refusal (not at import: a run with none never needs them), so
:func:`classify` is cheap enough to call for every message.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from enum import Enum

__all__ = ["KNOWN_TEXTS", "STAGES", "Reply", "ReplyKind", "classify"]


class ReplyKind(Enum):
    """What a refusal means; the comment says what the engine should do about it."""

    RECIPIENT = "recipient"  # the address does not exist or is disabled: fail this recipient
    MAILBOX_FULL = "mailbox_full"  # the recipient's storage is full: fail (5xx) or retry (4xx)
    SIZE = "size"  # the message is too big: stop, every message of the run is the same size
    SENDER = "sender"  # the sender address is refused: stop the run
    SENDING_QUOTA = "sending_quota"  # the sender's mailbox is over its daily limit: wait a day
    SPAM = "spam"  # refused as spam or for the sender's reputation: pause the run
    RATE = "rate"  # too many messages or connections per unit of time: slow down, retry
    POLICY = "policy"  # relaying, authentication, TLS, SPF/DKIM/DMARC...: stop the run
    TEMPORARY = "temporary"  # any other 4xx: retry later
    OTHER = "other"  # any other 5xx: fail this recipient


K = ReplyKind

# The dialogue's stages, as :func:`classify` takes them: the greeting / EHLO / STARTTLS, AUTH,
# MAIL FROM, RCPT TO, and DATA with the reply to the final dot.
STAGES = ("connect", "auth", "mail", "rcpt", "data")

# Enhanced status codes whose meaning does not depend on the text. Keys are "subject.detail"
# for either class, or the whole code where the class changes the meaning.
_SPECIFIC: dict[str, ReplyKind] = {
    "1.1": K.RECIPIENT,  # bad destination mailbox address
    "1.2": K.RECIPIENT,  # bad destination system address (no such domain)
    "1.3": K.RECIPIENT,  # bad destination mailbox address syntax
    "1.4": K.RECIPIENT,  # destination mailbox address ambiguous
    "1.6": K.RECIPIENT,  # destination mailbox has moved, no forwarding address
    "1.10": K.RECIPIENT,  # recipient address has null MX; Exchange's "recipient not found"
    "1.7": K.SENDER,  # bad sender's mailbox address syntax
    "1.8": K.SENDER,  # bad sender's system address (the sender's domain does not resolve)
    "2.2": K.MAILBOX_FULL,  # mailbox full
    "2.3": K.SIZE,  # message length exceeds administrative limit (Gmail's size refusal)
    "3.4": K.SIZE,  # message too big for system
    "5.4.5": K.SENDING_QUOTA,  # Gmail and Yandex: "Daily user sending quota exceeded"
    "7.8": K.POLICY,  # authentication credentials invalid
    "7.9": K.POLICY,  # authentication mechanism too weak (Gmail: app password required)
    "7.10": K.POLICY,  # encryption needed
    "7.11": K.POLICY,  # encryption required for requested authentication mechanism
    "7.12": K.POLICY,  # a password transition is needed
    "7.13": K.POLICY,  # user account disabled (the login's own account)
    "7.14": K.POLICY,  # trust relationship required (Gmail: "log in via your web browser")
    "7.17": K.RECIPIENT,  # mailbox owner has changed
    "7.18": K.RECIPIENT,  # domain owner has changed
    "7.20": K.POLICY,  # no passing DKIM signature found
    "7.21": K.POLICY,  # no acceptable DKIM signature found
    "7.22": K.POLICY,  # no valid author-matched DKIM signature found
    "7.23": K.POLICY,  # SPF validation failed
    "7.24": K.POLICY,  # SPF validation error
    "7.25": K.POLICY,  # reverse DNS validation failed
    "7.26": K.POLICY,  # multiple authentication checks failed (Gmail: DMARC, unauthenticated)
    "7.27": K.POLICY,  # sender address has null MX
    "4.7.28": K.RATE,  # Gmail: "unusual rate of mail ... temporarily rate limited"
    "5.7.28": K.SPAM,  # Gmail: "unusual rate of unsolicited mail ... has been blocked"
    "7.29": K.POLICY,  # ARC validation failure
    "7.30": K.POLICY,  # REQUIRETLS support required
}

# Known texts, (pattern, kind), tried in this order on the whole reply, case-insensitively; the
# first that matches decides. None for the kind: a bare "quota", whose owner (the recipient's
# storage or the sender's sending quota) is read from the enhanced code and the stage.
# TEMPORARY here means "nothing definite": a 4xx stays TEMPORARY, a 5xx is left to its codes.
KNOWN_TEXTS: tuple[tuple[str, ReplyKind | None], ...] = (
    # Greylisting (Postgrey and other policy services): refuses a new sender once, always.
    (r"greylist|graylist", K.TEMPORARY),
    # --- The sender's mailbox is over its sending limit. First: these texts also say "rate",
    # "limit" or "quota", which later entries would read as a rate or a full mailbox.
    (r"sending (quota|limit)", K.SENDING_QUOTA),  # Gmail, Yandex; hosting relays
    (r"ratelimit exceeded for mailbox", K.SENDING_QUOTA),  # mail.ru
    (r"submissionquotaexceeded", K.SENDING_QUOTA),  # Outlook.com, Exchange Online
    (
        r"\b(daily|per day|24 hours?)\b.{0,60}\b(quota|limit|exceeded)"
        r"|\b(quota|limit|exceeded)\b.{0,60}\b(daily|per day|24 hours?)\b"
        r"|messages per day",
        K.SENDING_QUOTA,
    ),  # Google Workspace relay, Amazon SES "Daily message quota exceeded", hosting relays
    (r"превышен\w* (\w+ )?лимит(?! размер)", K.SENDING_QUOTA),  # mail.ru, Russian hostings
    (r"лимит\w* (на )?отправк|(суточн|дневн)\w* (лимит|квот)", K.SENDING_QUOTA),  # likewise
    # Sending turned off for the whole mailbox (a hacked or spamming account): stop and tell.
    (r"sending\b.{0,30}\b(disabled|blocked|suspended)", K.POLICY),  # mail.ru
    (r"отправк\w*.{0,30}(запрещен|заблокирован|отключен)", K.POLICY),  # Russian servers
    # --- Spam verdicts and the sender's reputation.
    (r"suspicion of spam|blocked by spam statistics", K.SPAM),  # Yandex
    (r"spam message rejected", K.SPAM),  # mail.ru
    (r"unsolicited|reputation", K.SPAM),  # Gmail: "likely unsolicited mail", "low reputation"
    (r"outboundspam", K.SPAM),  # Outlook.com: the account is held for outbound spam
    (
        r"blocked using|black ?list|block ?list|spamhaus|spamcop|barracuda|\bdnsbl\b|\brbl\b",
        K.SPAM,
    ),  # DNS blocklists, as Postfix, Exim and Yandex word them
    # --- Too much, too fast.
    (
        r"too many (messages|mails?|e-?mails|connections|recipients|rcpts?|requests"
        r"|login attempts|sessions|concurrent|simultaneous)",
        K.RATE,
    ),  # Postfix, Exim, Yandex "Error: too many connections", Gmail "too many recipients"
    (r"rate ?limit|rate-limit", K.RATE),  # rspamd "Ratelimit exceeded", mail.ru, Yandex, Gmail
    (r"too (much mail|fast|quickly)|at a rate that|unusual rate", K.RATE),  # Postfix, Gmail
    (r"(e-?mails?|messages?|recipients?) per (\d+ )?(hour|minute|second)", K.RATE),  # cPanel
    (r"throttl|server busy", K.RATE),  # Amazon SES "Throttling failure", Exchange
    (r"слишком (много|часто|быстро)", K.RATE),  # Russian servers
    # --- The recipient's storage, then the message's size ("mailbox size limit" is storage).
    (r"mailbox\b.{0,20}\b(full|quota|size)", K.MAILBOX_FULL),  # Postfix, Dovecot, Yandex
    (r"over ?quota|user quota exceeded", K.MAILBOX_FULL),  # Gmail "is over quota", mail.ru
    (r"переполнен|(нет|недостаточно) (свободного )?места", K.MAILBOX_FULL),  # Russian
    (r"quota|квот", None),  # anything else about a quota: whose, see _quota_owner
    (
        r"(message|mail|e-?mail) (size|length)|size (limit|exceed)|too (big|large)"
        r"|exceeds? .{0,30}size|databytes",
        K.SIZE,
    ),  # Postfix "Message size exceeds fixed limit", Exim, Gmail, Yandex, qmail "databytes"
    (r"слишком (больш|велик)|размер\w* (письма|сообщения)", K.SIZE),  # Russian
    # --- The sender address. Before the recipient: "Sender verify failed" replies also say
    # "Unrouteable address", and Postfix words an unknown sender "User unknown".
    (r"sender address rejected|not owned by", K.SENDER),  # Postfix, Yandex
    (r"not local sender", K.SENDER),  # mail.ru: "not local sender over smtp"
    (r"sender verify failed|badmailfrom", K.SENDER),  # Exim, qmail
    (r"sendasdenied|send as this sender", K.SENDER),  # Exchange
    (r"\bsender (is )?(not allowed|denied|refused|rejected|invalid|unknown)", K.SENDER),
    (r"адрес\w* отправителя|отправител\w* .{0,20}(отклон|запрещ|не принадлеж)", K.SENDER),
    # --- The recipient's address.
    (r"user unknown|unknown user|recipient unknown|unknown recipient", K.RECIPIENT),  # Postfix
    (r"no such (user|mailbox|recipient|address|account)", K.RECIPIENT),  # Yandex, Exim
    (
        r"\b(user|mailbox|recipient|address|account)\b.{0,40}\b(does not|doesn't|do not) exist",
        K.RECIPIENT,
    ),  # Gmail "The email account that you tried to reach does not exist"
    (
        r"\b(user|mailbox|recipient|account) (was |is )?not found|recipientnotfound",
        K.RECIPIENT,
    ),  # mail.ru "user not found", Exchange "RecipientNotFound"
    (r"invalid (mailbox|recipient)|unrout(e)?able", K.RECIPIENT),  # mail.ru, Exim
    (r"policy rejection on the target address", K.RECIPIENT),  # Yandex: recipient blocked
    (
        r"\b(account|mailbox|user)\b.{0,40}\b(disabled|inactive|deactivated|suspended)",
        K.RECIPIENT,
    ),  # Gmail "account ... is disabled", mail.ru "account is disabled"
    (r"recipient address rejected: access denied", K.RECIPIENT),  # Microsoft 365
    (
        r"нет такого (ящика|пользователя|адреса|получателя)|несуществующ"
        r"|(пользовател|ящик|адрес|получател)\w* не (существует|найден)",
        K.RECIPIENT,
    ),  # Russian servers
    # --- Policy: relaying, authentication, TLS, the sender domain's SPF/DKIM/DMARC.
    (
        r"relay(ing)? (access )?(denied|not permitted|prohibited|not allowed)"
        r"|unable to relay|not permitted to relay|rcpthosts",
        K.POLICY,
    ),  # Postfix "Relay access denied", Exim "relay not permitted", qmail, Exchange
    (
        r"authentication (is )?required|must (authenticate|be authenticated)"
        r"|not authenticated|auth(enticate)? first",
        K.POLICY,
    ),  # Gmail "Authentication Required", Exchange, Yandex "send AUTH command first"
    (r"starttls|tls (is )?required|encryption required|must use (ssl|tls)", K.POLICY),  # Gmail
    (r"\b(spf|dkim|dmarc|ptr)\b|unauthenticated|reverse dns", K.POLICY),  # Gmail, mail.ru
    (
        r"application.specific password|app(lication)? password|parol prilozheniya"
        r"|пароль (для )?(внешнего )?приложения",
        K.POLICY,
    ),  # Gmail 5.7.9, mail.ru "NEOBHODIM parol prilozheniya"
    # --- Spam said plainly, after the rate limits (Gmail's rate texts say "protect our users
    # from spam") and the policy texts (its DMARC texts say so too).
    (r"spam|спам", K.SPAM),
    # --- Plainly temporary, then a bare "try again later", which Gmail and others say when
    # they limit the rate.
    (r"service (is )?(currently |temporarily )?unavailable", K.TEMPORARY),  # Yandex
    (r"temporary (system|local) problem|local problem", K.TEMPORARY),  # Gmail, Exim
    (r"try (again )?later|повторите (попытку )?позже", K.RATE),  # Gmail, GMX, relays
    # --- Any other policy, last: a policy service that only defers says "try later" too.
    (r"administrative prohibition|polic(y|ies)|prohibited", K.POLICY),  # Exim, Gmail
)


@functools.cache
def _texts() -> tuple[tuple[re.Pattern[str], ReplyKind | None], ...]:
    """:data:`KNOWN_TEXTS` compiled (~3 ms for all of them, paid at the first refusal)."""
    return tuple((re.compile(pattern, re.IGNORECASE), kind) for pattern, kind in KNOWN_TEXTS)


_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
_QMAIL_ENHANCED = re.compile(r"\(#([245]\.\d{1,3}\.\d{1,3})\)$")  # qmail puts it last
_LINE_CODE = re.compile(r"^(\d{3})(?:[ -]|$)")  # a reply code repeated inside the text
_FINAL_STOP = re.compile(r"[.!?…]$")

# Kinds a 4xx cannot mean: the server only asks to try later.
_PERMANENT_ONLY = frozenset({K.RECIPIENT, K.SIZE, K.SENDER, K.OTHER})
_UNKNOWN = (None, K.TEMPORARY, K.OTHER)  # nothing definite was found
# Kinds that concern the whole run, which the stage does not change.
_RUN_KINDS = frozenset({K.SENDER, K.SENDING_QUOTA, K.SPAM, K.RATE, K.POLICY})


@dataclass(frozen=True)
class Reply:
    """A server's refusal, understood."""

    code: int  # 550
    enhanced: str  # "5.7.1", or "" when the server gave none
    text: str  # the server's text, decoded, whitespace folded (the enhanced code included)
    kind: ReplyKind

    @property
    def temporary(self) -> bool:
        """A 4xx reply: the server asks to try again later."""
        return 400 <= self.code < 500

    def explain(self) -> str:
        """What happened and what to do, in Russian, ending with the server's own words."""
        head = _policy_hint(self) if self.kind is K.POLICY else _HEADS[self.kind]
        if self.kind is K.MAILBOX_FULL and self.temporary:
            head = _MAILBOX_FULL_LATER
        return f"{head}{_WORDS_OPEN}{_words(self, MAX_EXPLANATION - len(head))}{_WORDS_CLOSE}"


def classify(code: int, text: bytes | str, *, stage: str = "data") -> Reply:
    """Understand a refusal: the reply ``code`` and ``text`` as smtplib gives them.

    ``stage`` is where in the dialogue it came: "connect" (the greeting, EHLO, STARTTLS),
    "auth", "mail" (MAIL FROM), "rcpt" (RCPT TO) or "data" (DATA and the final dot). Bytes
    are decoded as UTF-8 with replacement; a multi-line reply (lines joined by "\\n", as
    smtplib joins them) loses the enhanced code repeated at the start of every line.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown SMTP stage {stage!r}; one of {', '.join(STAGES)}")
    folded, enhanced = _fold(code, text)
    kind = (
        _SPECIFIC.get(enhanced) or _SPECIFIC.get(enhanced[2:]) or _by_text(folded, enhanced, stage)
    )
    if kind is K.TEMPORARY and not 400 <= code < 500:
        kind = None  # "unavailable, try later" in a permanent refusal: the codes decide
    kind = kind or _by_subject(enhanced) or _by_code(code, stage)
    return Reply(code, enhanced, folded, _settle(kind, code, stage))


def _fold(code: int, text: bytes | str) -> tuple[str, str]:
    """(the text on one line, the enhanced code or "")."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    enhanced = ""
    parts: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        echo = _LINE_CODE.match(line)
        if echo and int(echo.group(1)) == code:  # "550-5.1.1 ..." passed whole
            line = line[3:].lstrip(" -")
        if not parts:
            found = _ENHANCED.match(line)
            enhanced = found.group(0) if found else ""
        elif enhanced and line.startswith(enhanced):  # Gmail repeats it on every line
            rest = line[len(enhanced) :]
            if not rest[:1].isdigit():
                line = rest.strip()
        if line:
            parts.append(line)
    folded = " ".join(" ".join(parts).split())
    if not enhanced:
        trailer = _QMAIL_ENHANCED.search(folded)
        enhanced = trailer.group(1) if trailer else ""
    return folded, _canonical(enhanced)


def _canonical(enhanced: str) -> str:
    """Without leading zeros (5.07.001 is 5.7.1), as the tables spell the codes."""
    if not enhanced:
        return ""
    return ".".join(str(int(part)) for part in enhanced.split("."))


def _by_text(text: str, enhanced: str, stage: str) -> ReplyKind | None:
    for pattern, kind in _texts():
        if pattern.search(text):
            return kind or _quota_owner(enhanced, stage)
    return None


def _quota_owner(enhanced: str, stage: str) -> ReplyKind:
    """A bare "quota": the recipient's storage (X.2.x, or RCPT/DATA without a code), or the
    sender's sending quota (any other subject: 4.7.1, 4.5.3; or before there is a recipient)."""
    if enhanced:
        return K.MAILBOX_FULL if enhanced.split(".")[1] == "2" else K.SENDING_QUOTA
    return K.MAILBOX_FULL if stage in ("rcpt", "data") else K.SENDING_QUOTA


def _by_subject(enhanced: str) -> ReplyKind | None:
    """What the subject of the enhanced code says when nothing more precise did."""
    if not enhanced:
        return None
    klass, subject, detail = enhanced.split(".")
    if subject in ("1", "2") or (subject, detail) == ("4", "4"):  # addressing, mailbox, route
        return K.RECIPIENT
    if (subject, detail) in (("5", "3"), ("4", "5")):  # too many recipients, congestion
        return K.RATE
    if subject == "7" and klass == "5":  # security or policy; a 4.7.x only asks to wait
        return K.POLICY
    return None


def _by_code(code: int, stage: str) -> ReplyKind | None:
    """What the bare reply code says at this stage."""
    if code in (530, 534, 535, 538):  # authentication or encryption required, or refused
        return K.POLICY
    if code == 552:  # "exceeded storage allocation": the recipient's at RCPT, else the size
        return K.MAILBOX_FULL if stage == "rcpt" else K.SIZE
    if code in (550, 551, 553) and stage == "rcpt":  # mailbox unavailable, not local, bad name
        return K.RECIPIENT
    return None


def _settle(kind: ReplyKind | None, code: int, stage: str) -> ReplyKind:
    """Make the kind fit the stage and the class of the reply."""
    permanent = not 400 <= code < 500
    if stage == "mail":  # no recipient yet: only the sender or the message can be refused
        if code == 552 and kind not in _RUN_KINDS:
            kind = K.SIZE  # the SIZE extension's refusal
        elif kind in (K.RECIPIENT, K.MAILBOX_FULL) or (permanent and kind in _UNKNOWN):
            kind = K.SENDER
    elif stage in ("connect", "auth") and permanent and kind not in _RUN_KINDS:
        kind = K.POLICY  # no message yet: only the session can be refused
    if kind is None or kind is K.TEMPORARY:
        return K.OTHER if permanent else K.TEMPORARY
    if not permanent and kind in _PERMANENT_ONLY:
        return K.TEMPORARY
    return kind


# --- Explanations. Every one is a sentence or two, and the server's words follow.

MAX_EXPLANATION = 400  # characters of Reply.explain(), server's words included
_WORDS_OPEN = " (Сервер ответил: "
_WORDS_CLOSE = ")"

_HEADS: dict[ReplyKind, str] = {
    K.RECIPIENT: (
        "Такого адреса нет или он отключён: письмо этому клиенту не доставить. "
        "Проверьте адрес в карточке клиента."
    ),
    K.MAILBOX_FULL: (
        "Ящик получателя переполнен: сервер не принял письмо. Отправьте его этому клиенту "
        "позже, когда ящик освободится."
    ),
    K.SIZE: "Письмо слишком большое для сервера: уменьшите или уберите приложения.",
    K.SENDER: (
        "Сервер не принимает письма от этого адреса отправителя: «Email отправителя» в "
        "параметрах должен совпадать с адресом ящика, через который идёт отправка."
    ),
    K.SENDING_QUOTA: (
        "Почтовый ящик отправителя исчерпал дневной лимит отправки: сервер не примет писем "
        "примерно сутки."
    ),
    K.SPAM: (
        "Сервер отклонил письмо как спам. Продолжать опасно: ящик могут заблокировать. "
        "Проверьте текст и ссылки письма, добавьте отписку, уменьшите скорость; продолжите "
        "рассылку позже."
    ),
    K.RATE: (
        "Сервер ограничил частоту отправки: слишком много писем или подключений за короткое "
        "время. Отправку можно повторить позже; если это повторяется, уменьшите «Писем в "
        "минуту» в параметрах."
    ),
    K.TEMPORARY: "Сервер временно не принял письмо: отправку можно повторить позже.",
    K.OTHER: (
        "Сервер отказался принять письмо для этого получателя: повторять отправку без "
        "изменений бесполезно."
    ),
}
_MAILBOX_FULL_LATER = (
    "Ящик получателя переполнен: сервер просит повторить отправку позже, когда ящик освободится."
)

# POLICY says what to fix: the first pattern that matches "<enhanced> <text>" picks the advice.
_POLICY_HINTS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), hint)
    for pattern, hint in (
        (
            r"sending\b.{0,30}\b(disabled|blocked|suspended)|web ?browser"
            r"|отправк\w*.{0,30}(запрещен|заблокирован|отключен)|^[45]\.7\.13\b",
            "Сервер запретил отправку с этого ящика, обычно после подозрения на взлом или спам: "
            "войдите в почту через браузер и выполните указания почтового сервиса.",
        ),
        (
            r"^[45]\.7\.(2[0-9])\b|\b(spf|dkim|dmarc|ptr)\b|unauthenticated|reverse dns",
            "Сервер не доверяет домену отправителя: проверки SPF, DKIM или DMARC не пройдены. "
            "Отправляйте с адреса того ящика, через который идёт рассылка, или попросите "
            "администратора домена настроить SPF и DKIM.",
        ),
        (
            r"^[45]\.7\.1[01]\b|starttls|\btls\b|\bssl\b|encryption",
            "Сервер требует защищённого соединения: выберите в параметрах защиту STARTTLS "
            "(порт 587) или SSL/TLS (порт 465).",
        ),
        (
            r"^[45]\.7\.(8|9|12)\b|password|credentials|authentication failed|parol|парол",
            "Сервер не принял логин или пароль: проверьте их в параметрах. mail.ru, Яндекс и "
            "Gmail принимают только пароль для внешнего приложения, а не пароль от почты.",
        ),
        (
            r"relay|rcpthosts|authenticat|\bauth\b|аутентификац|авторизац",
            "Сервер не пропускает письма без входа: включите в параметрах «Требуется "
            "аутентификация SMTP», проверьте логин и «Email отправителя».",
        ),
    )
)
_POLICY_DEFAULT = (
    "Сервер отказал по своим правилам, причина — в его ответе. Исправьте настройки или письмо, "
    "прежде чем продолжать рассылку."
)


def _policy_hint(reply: Reply) -> str:
    subject = f"{reply.enhanced} {reply.text}".lstrip()
    for pattern, hint in _POLICY_HINTS:
        if pattern.search(subject):
            return hint
    return _POLICY_DEFAULT


def _words(reply: Reply, room: int) -> str:
    """The server's reply, cut with «…» to fit ``room`` with the brackets around it."""
    words = f"{reply.code} {reply.text}".strip()
    room -= len(_WORDS_OPEN) + len(_WORDS_CLOSE)
    if len(words) + 1 > room:
        cut = words[: room - 1].rstrip()
        space = cut.rfind(" ")
        if space > len(cut) - 20:  # end on a whole word when one ends near the limit
            cut = cut[:space].rstrip(" ,;:-")
        return cut + "…"
    if _FINAL_STOP.search(words):
        return words
    return words.rstrip(" ,;:-") + "."
