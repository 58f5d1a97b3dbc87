"""«Проверить почту» and ``mailbox check``: what came back to the sender's mailbox, and its effect.

The INBOX is read (sending/imap.py), each new message classified (sending/returns.py) and
matched to clients: by the address it names, else through the Message-ID it quotes, kept in the
journal for every message sent. Nothing changes until :func:`apply_check`: the window shows what
was found first. Then bounced addresses are flagged (a hard bounce at once, a soft one at the
third), unsubscribe requests become opt-outs with their date and source, and every message read
is remembered by UIDVALIDITY and UID, so the next check finds only new ones. No mail is deleted,
moved or even marked read.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from avtoprokat_mail.credentials import (
    IMAP_PASSWORD_ENV,
    SMTP_PASSWORD_ENV,
    PasswordStore,
    imap_account,
    resolve_password,
    smtp_account,
)
from avtoprokat_mail.sending.imap import InboxError, read_inbox
from avtoprokat_mail.sending.returns import Return, ReturnKind, read_return
from avtoprokat_mail.storage import inbox as inbox_store
from avtoprokat_mail.storage.settings import load_email_settings, load_imap_settings


@dataclass
class Finding:
    """One address a returned message concerns, and the clients it matches."""

    kind: ReturnKind
    email: str
    client_ids: list[int]
    reason: str
    date: str
    permanent: bool = True
    run_ids: list[int] = field(default_factory=list)


@dataclass
class MailCheck:
    """What one check found; nothing is changed until it is applied."""

    account: str
    findings: list[Finding] = field(default_factory=list)
    bounces: int = 0  # bounce reports found, matched to a client or not
    unsubscribes: int = 0
    read: list[tuple[int, int, str]] = field(default_factory=list)  # (uidvalidity, uid, kind)

    @property
    def unmatched(self) -> int:
        return sum(1 for f in self.findings if not f.client_ids)

    def summary(self) -> str:
        """The stable last line of ``mailbox check``."""
        return (
            f"bounces {self.bounces}, unsubscribes {self.unsubscribes}, unmatched {self.unmatched}"
        )


def check_mailbox(
    conn: sqlite3.Connection, passwords: PasswordStore, environ: Mapping[str, str] = os.environ
) -> MailCheck:
    """Read the new messages of the sender's INBOX and say what they mean (InboxError if not)."""
    email, imap = load_email_settings(conn), load_imap_settings(conn)
    if not imap.host:  # nothing to read yet: say what to fill in, not which password lacks
        raise InboxError(
            "Не указан IMAP-сервер, с которого читать почту: заполните строку «IMAP» в "
            "«Параметрах» на вкладке EMail (у mail.ru, Яндекса и Gmail её заполняет выбор "
            "почтового сервиса)."
        )
    user = imap.user or email.user or email.sender_address
    account = imap_account(imap, email)
    password = environ.get(IMAP_PASSWORD_ENV) or passwords.get(account)
    password = password or resolve_password(
        passwords, smtp_account(email), SMTP_PASSWORD_ENV, environ
    )
    if not password:
        raise InboxError(
            f"Не задан пароль для {user} на {imap.host or 'IMAP-сервере'}: введите пароль почты "
            "в «Параметрах» (в командной строке: settings set-password)."
        )
    done = inbox_store.seen(conn, account)
    uidvalidity, messages = read_inbox(
        imap, user, password, is_new=lambda validity, uid: (validity, uid) not in done
    )
    check = MailCheck(account)
    own = email.sender_address
    for uid, raw in messages:
        found = read_return(raw, own)
        check.read.append((uidvalidity, uid, found.kind.value if found else ""))
        if found is not None:
            _add(conn, check, found)
    return check


def _add(conn: sqlite3.Connection, check: MailCheck, found: Return) -> None:
    if found.kind is ReturnKind.BOUNCE:
        check.bounces += 1
    quoted = inbox_store.deliveries_of(conn, found.message_ids)
    for address in found.addresses:
        client_ids = inbox_store.clients_with_email(conn, address)
        ours = [(run, client) for run, client, rcpt in quoted if rcpt.lower() == address]
        runs = sorted({run for run, _client in ours})
        if not client_ids:  # the address changed since: the journal knows whom it was sent to
            client_ids = sorted({client for _run, client in ours if client})
        if found.kind is ReturnKind.UNSUBSCRIBE:
            check.unsubscribes += 1
        check.findings.append(
            Finding(found.kind, address, client_ids, found.reason, _day(), found.permanent, runs)
        )


def apply_check(conn: sqlite3.Connection, check: MailCheck) -> None:
    """Flag the bounced addresses, set the opt-outs, remember what was read."""
    for finding in check.findings:
        if not finding.client_ids:
            continue
        if finding.kind is ReturnKind.BOUNCE:
            inbox_store.flag_bounce(
                conn, finding.client_ids, finding.reason, finding.date,
                permanent=finding.permanent,
            )  # fmt: skip
        else:
            source = f"ответ на письмо («{finding.reason}»)"
            inbox_store.opt_out(conn, finding.client_ids, finding.date, source)
    inbox_store.remember(conn, check.account, check.read)


def _day() -> str:
    return date.today().isoformat()


def check_mailbox_at(database, passwords: PasswordStore) -> MailCheck:
    """:func:`check_mailbox` with a connection of its own: for a worker thread."""
    from avtoprokat_mail.storage import open_database

    conn = open_database(database)
    try:
        return check_mailbox(conn, passwords)
    finally:
        conn.close()
