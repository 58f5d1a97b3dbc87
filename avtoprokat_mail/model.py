"""Plain records shared by every layer."""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path

# The text fields of a client, in the order the grid, the form and the exports show them,
# with their Russian labels as the window shows them.
CLIENT_TEXT_FIELDS: tuple[str, ...] = (
    "surname",
    "name",
    "position",
    "organization",
    "email",
    "mobile",
    "phone",
    "address",
    "note",
)
CLIENT_LABELS: dict[str, str] = {
    "surname": "Фамилия",
    "name": "Имя",
    "position": "Должность",
    "organization": "Наименование",
    "email": "Email",
    "mobile": "Сотовый телефон",
    "phone": "Телефон",
    "address": "Адрес",
    "note": "Примечание",
    "marked": "Отметка",
    "opt_out": "Отказ от рассылки",
    "consent": "Согласие на рассылку",
    "bounced": "Недоставлено",
}


@dataclass(slots=True)
class Client:
    """One record of the client directory. ``id`` is None until the client is stored.

    Slotted: an import plan of 100,000 clients is some 60 MB smaller without instance dicts.
    """

    surname: str = ""
    name: str = ""  # имя и отчество
    position: str = ""
    organization: str = ""
    email: str = ""
    mobile: str = ""
    phone: str = ""
    address: str = ""
    note: str = ""
    marked: bool = False
    opt_out: bool = False
    consent: str = ""  # the day the client agreed to mailings, ISO; "" = no consent
    bounced: bool = False  # mail to the email address comes back undelivered
    id: int | None = None

    @property
    def display_name(self) -> str:
        """Surname and name as a person would write them, for lists and messages."""
        return " ".join(part for part in (self.surname, self.name) if part)


CLIENT_FIELD_NAMES = tuple(f.name for f in fields(Client))


@dataclass(slots=True)
class ClientNotes:
    """What the mailbox said about one client, for the client's card only (never in bulk).

    Dates are ISO ("2026-03-01"), "" when unknown.
    """

    bounce_reason: str = ""  # the mail server's words why the address bounced
    bounce_date: str = ""
    soft_bounces: int = 0  # temporary failures since the last delivered message
    opt_out_date: str = ""
    opt_out_source: str = ""  # where the refusal came from, as the user reads it


@dataclass(slots=True)
class Template:
    """A message template of the mailing window. Times are ISO 8601 local strings."""

    subject: str = ""
    body: str = ""
    sms: bool = False
    attachment1: str = ""  # file paths; "" when not set
    attachment2: str = ""
    note: str = ""
    created: str = ""  # set by the database when stored
    sent: str = ""  # when the last run of this template finished; "" if never
    id: int | None = None

    def title(self, length: int = 60) -> str:
        """How lists and windows name the template: its subject, or the start of an SMS text."""
        text = " ".join((self.subject or self.body).split())
        return text if len(text) <= length else text[: length - 1].rstrip() + "…"

    @property
    def attachments(self) -> list[str]:
        """The attachment paths that are set, in order."""
        return [path for path in (self.attachment1, self.attachment2) if path]


class Security(StrEnum):
    """How the SMTP connection is protected."""

    NONE = "none"  # plain SMTP (a relay inside the office network)
    STARTTLS = "starttls"  # plain connect, then STARTTLS before anything else (port 587)
    SSL = "ssl"  # TLS from the first byte (port 465)


@dataclass(slots=True)
class EmailSettings:
    """The "EMail" tab of "Параметры". The password is not here: see credentials.py."""

    sender_name: str = ""  # «Отправитель», the display name in From
    sender_address: str = ""  # «Email отправителя»
    host: str = ""  # «SMTP-сервер»
    port: int = 25  # «Порт»
    security: Security = Security.NONE
    auth: bool = False  # «Требуется аутентификация SMTP»
    user: str = ""  # «Пользователь»
    per_minute: int = 0  # messages per minute, 0 = no limit
    timeout: int = 30  # seconds for connecting and for each server reply
    daily_limit: int = 0  # messages from this mailbox in any 24 hours, 0 = no limit
    require_consent: bool = False  # runs (email and SMS) skip clients without consent
    # «Одновременных соединений»: SMTP connections a run sends through at once (1–8); the
    # limits above hold across all of them. The providers' presets keep 1.
    connections: int = 1


@dataclass(slots=True)
class ImapSettings:
    """Reading the sender's INBOX («Проверить почту»): bounces and unsubscribe replies.

    The login is the SMTP one when ``user`` is empty; the password the SMTP one unless one is
    stored for the IMAP account (see credentials.py).
    """

    host: str = ""  # «IMAP-сервер»
    port: int = 993
    security: Security = Security.SSL
    user: str = ""


IMAP_PRESETS: dict[str, str] = {  # SMTP server → its provider's IMAP server (port 993, SSL)
    "smtp.mail.ru": "imap.mail.ru",
    "smtp.yandex.ru": "imap.yandex.ru",
    "smtp.gmail.com": "imap.gmail.com",
}


class SmsProvider(StrEnum):
    SMSRU = "smsru"
    SMSC = "smsc"


@dataclass(slots=True)
class SmsSettings:
    """The "SMS" tab of "Параметры". The secret (API key or password) is in credentials.py.

    SMS.ru authenticates with its api_id alone (the secret); SMSC.ru with the login and the
    password, or, when the login is empty, with the secret as its API key.
    """

    provider: SmsProvider = SmsProvider.SMSRU
    login: str = ""
    sender: str = ""  # the sender name registered with the gateway; "" = the gateway's default
    endpoint: str = ""  # the gateway's base URL; "" = the real one
    per_minute: int = 0


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"


class RunStatus(StrEnum):
    """A run's state. INTERRUPTED is never stored: it is a RUNNING or PAUSED run whose process
    died (see sending/runlock.py)."""

    RUNNING = "running"
    PAUSED = "paused"
    WAITING = "waiting"  # the mailbox reached its daily limit: goes on at the run's resume_at
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"
    STOPPED = "stopped"  # the engine stopped it: authentication, no connection, too many errors
    FINISHED = "finished"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # handed to the server; the outcome is not journaled yet
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNCERTAIN = "uncertain"  # was SENDING when the program died: maybe delivered, maybe not


class RouteKind(StrEnum):
    SMTP = "smtp"  # the mail server of «Параметры»
    GATEWAY = "gateway"  # the SMS gateway of «Параметры»
    OUTBOX = "outbox"  # files in a folder: a test run, nothing reaches a client


_OUTBOX_PREFIX = "outbox:"
_LEGACY_GATEWAYS = ("smsru", "smsc")  # how early journals named the SMS gateway


@dataclass(frozen=True)
class Route:
    """How a run's messages travel. Stored in the journal as text: "smtp", "gateway" or
    "outbox:<folder>" (the folder is remembered, so a resumed test run writes to it again)."""

    kind: RouteKind
    folder: Path | None = None

    @classmethod
    def direct(cls, channel: Channel) -> Route:
        """A real run on ``channel``: the mail server, or the SMS gateway."""
        return cls(RouteKind.SMTP if channel is Channel.EMAIL else RouteKind.GATEWAY)

    @classmethod
    def outbox(cls, folder: str | Path) -> Route:
        """A test run into ``folder``."""
        return cls(RouteKind.OUTBOX, Path(folder).resolve())

    @classmethod
    def parse(cls, text: str) -> Route:
        """The route of a journal's text (see the class)."""
        if text.startswith(_OUTBOX_PREFIX):
            return cls(RouteKind.OUTBOX, Path(text.removeprefix(_OUTBOX_PREFIX)))
        if text in _LEGACY_GATEWAYS:
            return cls(RouteKind.GATEWAY)
        return cls(RouteKind(text))

    @property
    def is_test(self) -> bool:
        return self.kind is RouteKind.OUTBOX

    def __str__(self) -> str:
        if self.kind is RouteKind.OUTBOX:
            return f"{_OUTBOX_PREFIX}{self.folder}"
        return self.kind.value


@dataclass(slots=True)
class Run:
    """One "Старт" of a template: the template's text as it was, and how it is sent."""

    channel: Channel
    route: Route
    subject: str = ""
    body: str = ""
    attachment1: str = ""
    attachment2: str = ""
    template_id: int | None = None
    status: RunStatus = RunStatus.RUNNING
    reason: str = ""  # why it stopped, for the user
    started: str = ""
    finished: str = ""
    id: int | None = None
    test: bool = False  # a test run into a folder: not a mailing, the repeat check ignores it
    attachment1_sha256: str = ""  # the attachments' bytes when the run started
    attachment2_sha256: str = ""
    resume_at: float = 0.0  # a waiting run goes on at this Unix time

    @classmethod
    def of(cls, template: Template, route: Route) -> Run:
        """A new run of ``template``'s text (copied: later edits do not change the run)."""
        return cls(
            channel=Channel.SMS if template.sms else Channel.EMAIL,
            route=route,
            subject=template.subject,
            body=template.body,
            attachment1=template.attachment1,
            attachment2=template.attachment2,
            template_id=template.id,
            test=route.is_test,
        )

    @property
    def attachment_digests(self) -> dict[str, str]:
        """Attachment path → its SHA-256 when the run started (only those recorded)."""
        pairs = ((self.attachment1, self.attachment1_sha256),
                 (self.attachment2, self.attachment2_sha256))  # fmt: skip
        return {path: digest for path, digest in pairs if path and digest}

    def template(self) -> Template:
        """The template as it was when the run started."""
        return Template(
            subject=self.subject,
            body=self.body,
            sms=self.channel is Channel.SMS,
            attachment1=self.attachment1,
            attachment2=self.attachment2,
            id=self.template_id,
        )


@dataclass(slots=True)
class Delivery:
    """One recipient of a run and what happened to the message (the journal's row)."""

    position: int
    recipient: str  # the email address or mobile number used
    client_id: int | None = None
    surname: str = ""
    name: str = ""
    position_title: str = ""
    organization: str = ""
    status: DeliveryStatus = DeliveryStatus.PENDING
    time: str = ""
    reply: str = ""  # the server's answer, or why it was skipped
    attempts: int = 0
    run_id: int | None = None
    moved_to: int | None = None  # the later run that took this recipient over
    mailbox: str = ""  # the sender mailbox that handed the message over
    message_id: str = ""  # the message's Message-ID: a bounce quoting it leads back here

    @property
    def display_name(self) -> str:
        """Who the recipient is, for lists: surname and name, else the organisation."""
        return " ".join(part for part in (self.surname, self.name) if part) or self.organization

    def client(self) -> Client:
        """The client as the run saw them, for personalising the message."""
        return Client(
            surname=self.surname,
            name=self.name,
            position=self.position_title,
            organization=self.organization,
            email=self.recipient if "@" in self.recipient else "",
            mobile="" if "@" in self.recipient else self.recipient,
            id=self.client_id,
        )


DELIVERY_STATUS_LABELS: dict[DeliveryStatus, str] = {
    DeliveryStatus.PENDING: "не отправлено",
    DeliveryStatus.SENDING: "отправляется",
    DeliveryStatus.SENT: "отправлено",
    DeliveryStatus.FAILED: "ошибка",
    DeliveryStatus.SKIPPED: "пропущено",
    DeliveryStatus.UNCERTAIN: "неизвестно (могло уйти)",
}


# --- settings: the providers' presets and the names the user sees ------------------------------
@dataclass(frozen=True)
class Preset:
    """A mail provider's SMTP server as its help pages give it."""

    name: str
    host: str
    port: int
    security: Security
    daily_limit: int = 0  # what the provider allows one mailbox in 24 hours (0: not published)


PRESETS: tuple[Preset, ...] = (
    Preset("mail.ru", "smtp.mail.ru", 465, Security.SSL),  # mail.ru publishes no figure
    Preset("Яндекс", "smtp.yandex.ru", 465, Security.SSL, daily_limit=500),
    Preset("Gmail", "smtp.gmail.com", 587, Security.STARTTLS, daily_limit=500),
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


def sms_endpoint(settings: SmsSettings) -> str:
    """The base URL to call: the configured one, or the provider's real one."""
    return settings.endpoint or SMS_ENDPOINTS[settings.provider]
