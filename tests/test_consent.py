"""Consent to mailings and bounced addresses in the plan of a run (who is skipped, and why)."""

from __future__ import annotations

import sqlite3

import pytest

from avtoprokat_mail.model import Channel, Client, Template
from avtoprokat_mail.sending.campaign import BOUNCED, NO_CONSENT, plan_run
from avtoprokat_mail.storage import clients as store
from avtoprokat_mail.storage.settings import load_email_settings, set_setting, settings_items
from avtoprokat_mail.validation import SettingsError

EMAIL = Template(subject="Скидки", body="Здравствуйте, %Имя|коллега%!")
SMS = Template(body="Скидка 10% до конца месяца", sms=True)


def _add(db: sqlite3.Connection, surname: str, **fields) -> int:
    """A marked client with an email and a mobile of their own."""
    number = store.counts(db)[0] + 1
    return store.add_client(
        db,
        Client(surname=surname, email=f"client{number}@mail.ru", mobile=f"+7903111223{number}",
               marked=True, **fields),
    )  # fmt: skip


def _skipped(plan) -> dict[int, str]:
    return {d.client_id: d.reply for d in plan.skipped}


def test_the_setting_is_off_by_default_and_takes_0_or_1(db: sqlite3.Connection) -> None:
    assert load_email_settings(db).require_consent is False
    assert dict(settings_items(db))["email.require_consent"] == "0"
    set_setting(db, "email.require_consent", "1")
    assert load_email_settings(db).require_consent is True
    with pytest.raises(SettingsError, match="1 \\(да\\) или 0 \\(нет\\)"):
        set_setting(db, "email.require_consent", "да")


@pytest.mark.parametrize("template", [EMAIL, SMS], ids=["email", "sms"])
def test_without_the_setting_consent_does_not_matter(db, template) -> None:
    ids = [_add(db, "Согласов", consent="2024-05-14"), _add(db, "Несогласов")]
    plan = plan_run(db, template)
    assert [d.client_id for d in plan.recipients] == ids
    assert (plan.require_consent, plan.without_consent) == (False, 0)


@pytest.mark.parametrize("template", [EMAIL, SMS], ids=["email", "sms"])
def test_with_the_setting_clients_without_consent_are_skipped(db, template) -> None:
    set_setting(db, "email.require_consent", "1")
    agreed = _add(db, "Согласов", consent="2024-05-14")
    silent = _add(db, "Несогласов")
    refused = _add(db, "Отказов", opt_out=True)  # the opt-out is the reason given
    plan = plan_run(db, template)
    assert [d.client_id for d in plan.recipients] == [agreed]
    assert _skipped(plan) == {silent: NO_CONSENT, refused: "отказ от рассылки"}
    assert NO_CONSENT == "нет согласия на рассылку"
    assert (plan.require_consent, plan.without_consent) == (True, 1)
    assert plan.can_start


def test_nobody_with_consent_blocks_the_start_and_says_why(db: sqlite3.Connection) -> None:
    set_setting(db, "email.require_consent", "1")
    _add(db, "Несогласов")
    _add(db, "Безсогласов")
    plan = plan_run(db, EMAIL)
    assert not plan.can_start
    assert plan.without_consent == 2
    assert "Ни у одного отмеченного клиента нет согласия на рассылку (2)" in plan.problems[-1]


def test_a_bounced_address_is_skipped_by_email_runs_only(db: sqlite3.Connection) -> None:
    good = _add(db, "Доставов")
    bounced = _add(db, "Возвратов", bounced=True)
    email_plan = plan_run(db, EMAIL)
    assert [d.client_id for d in email_plan.recipients] == [good]
    assert _skipped(email_plan) == {bounced: BOUNCED}
    assert BOUNCED == "адрес не доставляется (возврат письма)"
    skipped = email_plan.skipped[0]
    assert skipped.recipient == "client2@mail.ru"  # the report names the address
    sms_plan = plan_run(db, SMS)  # an SMS goes to the mobile: a bounced email does not matter
    assert [d.client_id for d in sms_plan.recipients] == [good, bounced]
    assert sms_plan.channel is Channel.SMS


def test_a_bounced_client_without_consent_is_skipped_for_the_consent(db) -> None:
    set_setting(db, "email.require_consent", "1")
    both = _add(db, "Возвратов", bounced=True)
    plan = plan_run(db, EMAIL)
    assert _skipped(plan) == {both: NO_CONSENT}
    assert plan.without_consent == 1
