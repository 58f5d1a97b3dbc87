"""What comes back to the sender's mailbox: bounces and unsubscribe requests, read from a real
Dovecot over TLS, matched to clients, shown first and applied on request; nothing in the mailbox
is deleted, moved or marked read, and a second check finds nothing new.
"""

# ruff: noqa: F401, F811  (fixtures imported, then requested by name)
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from avtoprokat_mail.credentials import PasswordStore, imap_account, smtp_account
from avtoprokat_mail.model import Channel, Client, Delivery, Route, Run, Security, Template
from avtoprokat_mail.sending.returns import ReturnKind, read_return
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import runs as run_store
from avtoprokat_mail.storage.settings import load_imap_settings, set_setting
from tests.imap_server import ImapServer, imap_server

SAMPLES = Path(__file__).parent / "inbox_samples"
OWN = "office@avtoprokat.ru"

# sample → (kind, address, permanent); None: neither a bounce nor an unsubscribe
EXPECTED = {
    "postfix_dsn_hard": (ReturnKind.BOUNCE, "petrov@rambler.ru.example", True),
    "postfix_dsn_soft": (ReturnKind.BOUNCE, "sidorova@bk.ru.example", False),
    "exim_bounce": (ReturnKind.BOUNCE, "kuznetsov@autopark-sever.example", True),
    "yandex_bounce": (ReturnKind.BOUNCE, "smirnova@yandex.ru.example", True),
    "mailru_bounce": (ReturnKind.BOUNCE, "volkov@mail.ru.example", True),
    "gmail_bounce": (ReturnKind.BOUNCE, "orlov.dmitry@gmail.com.example", True),
    "unknown_address_bounce": (ReturnKind.BOUNCE, "nobody@nowhere.example", True),
    "unsubscribe_ru": (ReturnKind.UNSUBSCRIBE, "ivanov@mail.ru.example", True),
    "unsubscribe_subject": (ReturnKind.UNSUBSCRIBE, "petrova.anna@gmail.com.example", True),
    "stop_reply": (ReturnKind.UNSUBSCRIBE, "sokolov@yandex.ru.example", True),
    "autoreply": None,
    "ordinary_reply": None,
}
CLIENTS = [  # one client for every address the samples name, but nobody@nowhere
    ("Петров", "petrov@rambler.ru.example"), ("Сидорова", "sidorova@bk.ru.example"),
    ("Кузнецов", "kuznetsov@autopark-sever.example"), ("Смирнова", "smirnova@yandex.ru.example"),
    ("Волков", "volkov@mail.ru.example"), ("Орлов", "orlov.dmitry@gmail.com.example"),
    ("Иванов", "ivanov@mail.ru.example"), ("Петрова", "petrova.anna@gmail.com.example"),
    ("Соколов", "sokolov@yandex.ru.example"),
]  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_kind_of_return_is_recognised(name):
    found = read_return((SAMPLES / f"{name}.eml").read_bytes(), OWN)
    if EXPECTED[name] is None:
        assert found is None
        return
    kind, address, permanent = EXPECTED[name]
    assert (found.kind, found.addresses, found.permanent) == (kind, [address], permanent)
    assert found.reason


def test_a_bounce_quotes_the_message_id_of_what_it_returns():
    found = read_return((SAMPLES / "postfix_dsn_hard.eml").read_bytes(), OWN)
    assert found.message_ids and all(i.endswith("@avtoprokat.ru>") for i in found.message_ids)


# --- against a real IMAP server ------------------------------------------------------------------
@pytest.fixture
def office(db: sqlite3.Connection, imap_server: ImapServer, memory_keyring, trust_test_ca):
    """The directory, the settings pointing at Dovecot, the password stored, the INBOX full."""
    client_store.add_clients(db, [Client(surname=s, email=e) for s, e in CLIENTS])
    for key, value in (
        ("email.sender_address", OWN), ("email.user", imap_server.user),
        ("email.imap_host", imap_server.host), ("email.imap_port", str(imap_server.port)),
        ("email.imap_security", "ssl"),
    ):  # fmt: skip
        set_setting(db, key, value)
    PasswordStore().set(imap_account(load_imap_settings(db), _email(db)), imap_server.password)
    for sample in sorted(SAMPLES.glob("*.eml")):
        imap_server.append(sample.read_bytes())
    return imap_server


def _email(db):
    from avtoprokat_mail.storage.settings import load_email_settings

    return load_email_settings(db)


def _client(db, surname: str):
    return next(c for c in client_store.list_clients(db) if c.surname == surname)


def _flags(db, surname: str) -> tuple:
    return db.execute(
        "SELECT bounced, bounce_reason <> '', soft_bounces, opt_out, opt_out_source <> '' "
        "FROM clients WHERE surname = ?",
        (surname,),
    ).fetchone()


def test_mailbox_check_lists_first_and_applies_on_request(cli, db, office):
    before = office.messages()

    status, out, err = cli("mailbox", "check", "--format", "csv")
    assert status == 0, err
    rows = [line.split(",", 4) for line in out.strip().splitlines()]
    assert rows[0] == ["kind", "email", "client_id", "reason", "date"]
    kinds = {(kind, address) for kind, address, *_ in rows[1:]}
    assert ("bounce", "petrov@rambler.ru.example") in kinds
    assert ("unsubscribe", "ivanov@mail.ru.example") in kinds
    assert ("bounce", "nobody@nowhere.example") in kinds  # listed, with no client
    assert err.strip().splitlines()[-1] == "bounces 7, unsubscribes 3, unmatched 1"
    assert _flags(db, "Петров") == (0, 0, 0, 0, 0)  # nothing changed without --apply

    status, out, err = cli("mailbox", "check", "--apply")
    assert status == 0, err
    assert out.strip().splitlines()[-1] == "bounces 7, unsubscribes 3, unmatched 1"
    assert _flags(db, "Петров") == (1, 1, 0, 0, 0)  # a hard bounce flags at once
    assert _flags(db, "Сидорова") == (0, 0, 1, 0, 0)  # a soft one is counted
    assert _flags(db, "Иванов") == (0, 0, 0, 1, 1)  # «Отписаться»: opt-out, with its source
    assert _flags(db, "Соколов")[3] == 1 and _flags(db, "Петрова")[3] == 1

    status, out, _ = cli("mailbox", "check")
    assert out.strip().splitlines()[-1] == "bounces 0, unsubscribes 0, unmatched 0"
    assert office.messages() == before  # nothing deleted, moved or changed


def test_a_soft_bounce_flags_the_address_at_the_third(cli, db, office):
    soft = (SAMPLES / "postfix_dsn_soft.eml").read_bytes()
    cli("mailbox", "check", "--apply")
    for _ in range(2):
        office.append(soft)
        cli("mailbox", "check", "--apply")
    assert _flags(db, "Сидорова")[:3] == (1, 1, 3)


def test_a_bounce_for_an_address_changed_since_finds_its_client_through_the_journal(
    cli, db, office
):
    """The client's email was corrected after the mailing: the quoted Message-ID still leads
    to the delivery, and so to the client."""
    found = read_return((SAMPLES / "postfix_dsn_hard.eml").read_bytes(), OWN)
    petrov = _client(db, "Петров")
    run_id = run_store.create_run(
        db, Run.of(Template(subject="Скидка", body="…"), Route.direct(Channel.EMAIL)),
        [Delivery(position=1, recipient="petrov@rambler.ru.example", client_id=petrov.id)],
    )  # fmt: skip
    db.execute(
        "UPDATE deliveries SET status = 'sent', message_id = ? WHERE run_id = ?",
        (found.message_ids[0], run_id),
    )
    petrov.email = "petrov.new@rambler.ru.example"
    client_store.update_client(db, petrov)

    _, out, _ = cli("mailbox", "check", "--format", "csv")
    row = next(line for line in out.splitlines() if "petrov@rambler" in line)
    assert row.split(",")[2] == str(petrov.id)


def test_a_wrong_password_is_said_plainly(cli, db, office):
    PasswordStore().set(imap_account(load_imap_settings(db), _email(db)), "неверный")
    status, _, err = cli("mailbox", "check")
    assert status == 2
    assert "не принял логин" in err and "неверный" not in err


def test_an_untrusted_certificate_is_refused(cli, db, office, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(Path(__file__)))  # not a CA: nothing is trusted
    status, _, err = cli("mailbox", "check")
    assert status == 2
    assert "Сертификат IMAP-сервера" in err or "защищённое соединение" in err


def test_settings_test_also_logs_in_to_imap(cli, db, office, starttls_server):
    from avtoprokat_mail.storage.settings import save_email_settings

    settings = starttls_server.settings(Security.STARTTLS, auth=True, sender_address=OWN)
    save_email_settings(db, settings)
    from tests.smtp_servers import PASSWORD

    PasswordStore().set(smtp_account(settings), PASSWORD)
    status, out, err = cli("settings", "test")
    assert status == 0, out + err
    assert "IMAP" in out and "вход выполнен" in out


def test_without_an_imap_server_the_check_says_what_to_fill_in(cli):
    status, _, err = cli("mailbox", "check")
    assert status == 2 and "Не указан IMAP-сервер" in err and "пароль" not in err
