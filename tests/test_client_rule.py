"""One rule for a client: the form, the import, the grid and the run judge a record alike.

A record needs something to know the client by or to reach them by (surname, name,
organisation, email or mobile), and an email or mobile it has must be one a run can use. A
mobile in another usual spelling ("8 (903) 111-22-33") is usable: the run sends to its +7 form.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from avtoprokat_mail.credentials import PasswordStore, sms_account
from avtoprokat_mail.interchange import apply_import, plan_import
from avtoprokat_mail.model import Channel, Client, Route, RunStatus, SmsProvider, Template
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.sending.campaign import Campaign, plan_run
from avtoprokat_mail.sending.lifecycle import start_run
from avtoprokat_mail.sending.setup import prepare
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.storage.directory import EMAIL_COLUMN, MOBILE_COLUMN, ClientTable
from avtoprokat_mail.storage.settings import save_sms_settings
from avtoprokat_mail.ui.client_form import ClientForm
from tests.gui_helpers import Session, answer_next_dialog, click_cell, pump, row_of, toplevels_of
from tests.sms_gateways import SMSRU_API_ID

HEADER = "Фамилия;Имя;Организация;Email;Сотовый телефон;Телефон"


@dataclass(frozen=True)
class Sample:
    client: Client
    saved: bool  # the form saves it and the import takes it
    email_sent: bool  # a run by email sends to it
    sms_to: str  # the number a run by SMS sends to, "" when it skips the client
    asks_to_rewrite: bool = False  # the form offers the +7 spelling of the mobile first


SAMPLES = [
    Sample(Client(email="orlov@mail.ru"), True, True, ""),
    Sample(Client(mobile="8 (903) 111-22-33"), True, False, "+79031112233", True),
    Sample(Client(organization="ООО «Ромашка»"), True, False, ""),
    Sample(Client(surname="Зуев", mobile="89161234567"), True, False, "+79161234567", True),
    Sample(Client(name="Анна", email="anna@bk.ru", mobile="+79990001122"), True, True,
           "+79990001122"),
    Sample(Client(surname="Козлов", email="kozlov@@mail.ru"), False, False, ""),
    Sample(Client(surname="Белов", email="belov@mail"), False, False, ""),
    Sample(Client(surname="Титов", mobile="12345"), False, False, ""),
    Sample(Client(organization="ИП Лис", mobile="+7 (495) 111-22-33"), False, False, ""),
    Sample(Client(email="good@mail.ru", mobile="12346"), False, True, ""),
    Sample(Client(phone="+7 (495) 222-33-44"), False, False, ""),
]  # fmt: skip


def csv_line(client: Client) -> str:
    return ";".join(
        (client.surname, client.name, client.organization, client.email, client.mobile,
         client.phone)
    )  # fmt: skip


def form_saves(root, conn, client: Client, asks: bool) -> bool:
    """Type the client into a new «Клиент» form and press «Сохранить»."""
    form = ClientForm(root, conn, None, on_saved=lambda _id: None)
    for name in ("surname", "name", "organization", "email", "mobile", "phone"):
        form.vars[name].set(getattr(client, name))
    if asks:
        answer_next_dialog(root, "Да")
    saved = form.save()
    pump(root)
    if not saved:
        assert form.error_label.cget("text")
        form.destroy()
    return saved


def test_form_import_grid_and_run_agree(tk_root, gui_errors, db, data_folder, tmp_path) -> None:
    # The form, on an empty directory.
    form_verdicts = [form_saves(tk_root, db, s.client, s.asks_to_rewrite) for s in SAMPLES]
    assert form_verdicts == [s.saved for s in SAMPLES]
    client_store.delete_clients(db, [c.id for c in client_store.list_clients(db)])

    # The import of the same clients from a file (line 1 is the header).
    path = tmp_path / "клиенты.csv"
    path.write_bytes("\r\n".join([HEADER, *map(csv_line, (s.client for s in SAMPLES))])
                     .encode("cp1251") + b"\r\n")  # fmt: skip
    plan = plan_import(db, path)
    rejected = {r.line for r in plan.rejected}
    assert [line not in rejected for line in range(2, len(SAMPLES) + 2)] == [
        s.saved for s in SAMPLES
    ]

    # The run and the grid, on the clients stored as they are (typed before any check).
    ids = [client_store.add_client(db, replace(s.client, marked=True)) for s in SAMPLES]
    email_plan = plan_run(db, template_store.get_template(db, add_template(db, sms=False)))
    sms_plan = plan_run(db, template_store.get_template(db, add_template(db, sms=True)))
    emailed = {d.client_id for d in email_plan.recipients}
    texted = {d.client_id: d.recipient for d in sms_plan.recipients}
    assert [i in emailed for i in ids] == [s.email_sent for s in SAMPLES]
    assert [texted.get(i, "") for i in ids] == [s.sms_to for s in SAMPLES]

    table = ClientTable(list(client_store.iter_rows(db)))
    for sample, client_id in zip(SAMPLES, ids, strict=True):
        index = table.index_of(client_id)
        assert table.bad_email[index] == (bool(sample.client.email) and not sample.email_sent)
        assert table.bad_mobile[index] == (bool(sample.client.mobile) and not sample.sms_to)


def add_template(conn, *, sms: bool) -> int:
    if sms:
        return template_store.add_template(conn, Template(sms=True, body="Скидка 15%"))
    return template_store.add_template(conn, Template(subject="Скидка", body="Скидка 15%"))


def test_an_imported_contact_only_client_is_saved_again_from_the_form(
    tk_root, gui_errors, data_folder, tmp_path
) -> None:
    path = tmp_path / "клиенты.csv"
    path.write_bytes(f"{HEADER}\r\n;;;orlova@bk.ru;;\r\n".encode("cp1251"))
    session = Session(tk_root, data_folder)
    window = session.open()
    try:
        plan = plan_import(session.conn, path)
        assert not plan.rejected
        apply_import(session.conn, plan)
        window.reload()
        window.filters.search_var.set("orlova")
        pump(tk_root)
        click_cell(window, 0, 5)
        window.buttons["Изменить"].invoke()
        (form,) = toplevels_of(tk_root, ClientForm)
        form.vars["note"].set("звонила 12.03")
        form.save_button.invoke()
        pump(tk_root)
        assert not toplevels_of(tk_root, ClientForm), form.error_label.cget("text")
        (stored,) = client_store.list_clients(session.conn)
        assert (stored.email, stored.note, stored.surname) == ("orlova@bk.ru", "звонила 12.03", "")
    finally:
        session.close()


@pytest.fixture
def sms_ready(db, fake, memory_keyring):
    settings = fake.settings(SmsProvider.SMSRU, sender="AvtoProkat")
    save_sms_settings(db, settings)
    PasswordStore().set(sms_account(settings), SMSRU_API_ID)
    return db


def test_a_mobile_as_people_write_it_is_not_pink_and_gets_the_sms(
    tk_root, gui_errors, sms_ready, data_folder, fake
) -> None:
    conn = sms_ready
    client_store.add_client(
        conn, Client(surname="Ёлкин", name="Олег", mobile="8 (903) 111-22-33", marked=True)
    )
    client_store.add_client(conn, Client(surname="Зуев", mobile="12345", marked=True))
    template_store.add_template(conn, Template(sms=True, body="%Имя%, скидка 15%!"))

    session = Session(tk_root, data_folder)
    window = session.open()
    try:
        highlights = window.sheet.get_cell_options(key="highlight")
        elkin = window.sheet.data_r(row_of(window, "Ёлкин"))
        zuev = window.sheet.data_r(row_of(window, "Зуев"))
        assert (elkin, MOBILE_COLUMN) not in highlights
        assert (zuev, MOBILE_COLUMN) in highlights
        assert (elkin, EMAIL_COLUMN) not in highlights  # no email is not a wrong email
        window.filters.has_mobile_var.set(True)
        pump(tk_root)
        assert window.shown == [elkin]
    finally:
        session.close()

    (template,) = template_store.list_templates(conn)
    run_id = start_run(conn, plan_run(conn, template), Route.direct(Channel.SMS))
    setup = prepare(conn, Channel.SMS, Route.direct(Channel.SMS), PasswordStore())
    final = Campaign(database_path(data_folder), run_id, setup.transport,
                     retry_delays=(0.05,)).run()  # fmt: skip
    assert final.status is RunStatus.FINISHED and (final.sent, final.skipped) == (1, 1)
    assert [(phone, text) for phone, text, _ in fake.sent] == [
        ("+79031112233", "Олег, скидка 15%!")
    ]


def test_the_rule_is_one_function() -> None:
    from avtoprokat_mail.validation import client_problems

    for sample in SAMPLES:
        assert (not client_problems(sample.client)) == sample.saved, sample.client


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("+79031112233", "+79031112233"),
        ("8 (903) 111-22-33", "+79031112233"),
        (" 89031112233 ", "+79031112233"),
        ("+7 903 111 22 33", "+79031112233"),
        ("", None),
        ("12345", None),
        ("+7 (495) 111-22-33", None),  # an office phone: no SMS
    ],
)
def test_mobile_for_sending(text: str, number: str | None) -> None:
    from avtoprokat_mail.validation import mobile_for_sending

    assert mobile_for_sending(text) == number
