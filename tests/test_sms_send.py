"""Sending one SMS and asking the price, against a real local server speaking both gateways' APIs.

Every account way is covered: SMS.ru (api_id), SMSC.ru with login + password, SMSC.ru with an
API key. Each gateway code is checked to land on its FailureKind with a Russian message that
names the number when it is about the number, and never holds a secret.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from avtoprokat_mail.model import SmsProvider, SmsSettings
from avtoprokat_mail.sending.sms.gateway import (
    FailureKind,
    GatewayFailure,
    Price,
    Sent,
    SmsGateway,
    gateway_number,
)
from avtoprokat_mail.sending.sms.providers import gateway_for
from avtoprokat_mail.sending.sms.segments import sms_length
from tests.sms_gateways import (
    ALL_SECRETS,
    SMSC_APIKEY,
    SMSC_KEY,
    SMSC_LOGIN,
    SMSC_PASSWORD,
    SMSC_PASSWORD_LOGIN,
    SMSRU_API_ID,
    SMSRU_KEY,
    WRONG_SECRET,
    Behaviour,
    FakeGateway,
)

SMSRU, SMSC = SmsProvider.SMSRU, SmsProvider.SMSC

ACCOUNT_IDS = ["smsru", "smsc-login", "smsc-apikey"]
ACCOUNTS = pytest.mark.parametrize(
    ("provider", "login", "secret"), [SMSRU_KEY, SMSC_PASSWORD_LOGIN, SMSC_KEY], ids=ACCOUNT_IDS
)
NAMES = {SMSRU: "SMS.ru", SMSC: "SMSC.ru"}
pytestmark = pytest.mark.usefixtures("no_secret_in_logs")

PHONE = "+79031112233"
OTHER = "+79164445566"
SENDER = "AvtoProkat"
# Cyrillic, a dash, a "ё" and more than 70 characters: UCS-2 in two parts.
TEXT = (
    "Здравствуйте, Пётр Иванович! Ваш автомобиль Lada Vesta готов — ждём вас завтра "
    "с 9:00 по адресу ул. Ленина, 5."
)
assert sms_length(TEXT).segments == 2


def gateway(
    fake: FakeGateway,
    provider: SmsProvider,
    login: str,
    secret: str,
    *,
    sender: str = SENDER,
    timeout: float = 5,
) -> SmsGateway:
    return gateway_for(fake.settings(provider, login, sender), secret, timeout=timeout)


def failure_of(call: Callable[[], Any]) -> GatewayFailure:
    """The failure ``call`` raises, checked to be Russian, unchained and free of secrets."""
    with pytest.raises(GatewayFailure) as caught:
        call()
    failure = caught.value
    assert str(failure) == failure.message
    assert failure.__suppress_context__  # no chained urllib error (which may hold the URL)
    for known in ALL_SECRETS:
        assert known not in failure.message
        assert known not in repr(failure)
    assert any("а" <= ch <= "я" for ch in failure.message.lower())
    return failure


# --- sending ---------------------------------------------------------------------------------
@ACCOUNTS
def test_send_returns_the_gateway_message_id(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    sent = gateway(fake, provider, login, secret).send(PHONE, TEXT)

    assert fake.sent == [(PHONE, TEXT, SENDER)]  # the exact Cyrillic text arrived
    (message_id,) = fake.message_ids
    assert sent.message_id == message_id
    if provider is SMSRU:
        assert sent == Sent(message_id)  # SMS.ru's send answer has no parts or price
    else:  # cost=3: SMSC.ru answers with the parts and their price
        assert sent == Sent(message_id, segments=2, cost=Decimal("5.18"))


def test_smsru_send_request(fake: FakeGateway) -> None:
    gateway(fake, *SMSRU_KEY).send(PHONE, TEXT)

    (request,) = fake.requests
    assert (request.method, request.path) == ("POST", "/sms/send")
    assert request.query == {}  # everything in the form body, nothing in the URL
    assert request.form == {
        "api_id": SMSRU_API_ID,
        "to": "79031112233",  # without the "+"
        "msg": TEXT,
        "from": SENDER,
        "json": "1",
    }


@pytest.mark.parametrize(
    ("account", "credentials"),
    [
        (SMSC_PASSWORD_LOGIN, {"login": SMSC_LOGIN, "psw": SMSC_PASSWORD}),
        (SMSC_KEY, {"apikey": SMSC_APIKEY}),
    ],
    ids=["smsc-login", "smsc-apikey"],
)
def test_smsc_send_request(
    fake: FakeGateway, account: tuple[SmsProvider, str, str], credentials: dict[str, str]
) -> None:
    gateway(fake, *account).send(PHONE, TEXT)

    (request,) = fake.requests
    assert (request.method, request.path) == ("POST", "/sys/send.php")
    assert request.query == {}
    assert request.form == {
        **credentials,
        "phones": "79031112233",
        "mes": TEXT,
        "sender": SENDER,
        "cost": "3",
        "fmt": "3",
        "charset": "utf-8",
    }


@ACCOUNTS
def test_without_a_sender_name_none_is_passed(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    gateway(fake, provider, login, secret, sender="").send(PHONE, "Test")

    assert fake.sent == [(PHONE, "Test", "")]
    (request,) = fake.requests
    assert "from" not in request.params and "sender" not in request.params


@ACCOUNTS
def test_each_send_is_its_own_message(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    sms = gateway(fake, provider, login, secret)
    ids = [sms.send(phone, f"Код {n}").message_id for n, phone in enumerate((PHONE, OTHER))]

    assert ids == fake.message_ids and len(set(ids)) == 2
    assert fake.sent == [(PHONE, "Код 0", SENDER), (OTHER, "Код 1", SENDER)]


@pytest.mark.parametrize(
    ("phone", "number"),
    [("+79031112233", "79031112233"), (" +77012345678 ", "77012345678")],
)
def test_the_gateways_take_e164_without_the_plus(phone: str, number: str) -> None:
    assert gateway_number(phone) == number


@ACCOUNTS
@pytest.mark.parametrize("phone", ["89031112233", "9031112233", "+7 903 111", "+7903abc2233", ""])
def test_a_number_not_in_e164_is_refused_without_a_request(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str, phone: str
) -> None:
    failure = failure_of(lambda: gateway(fake, provider, login, secret).send(phone, TEXT))

    assert failure.kind is FailureKind.BAD_NUMBER
    assert (phone.strip() or "(пусто)") in failure.message
    assert fake.requests == []


# --- the price -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("account", "unit_price"),
    [(SMSRU_KEY, "2.59"), (SMSC_PASSWORD_LOGIN, "1.40"), (SMSC_KEY, "1.40")],
    ids=ACCOUNT_IDS,
)
def test_price_of_one_sms_as_documented(
    fake: FakeGateway, account: tuple[SmsProvider, str, str], unit_price: str
) -> None:
    fake.sms_price = Decimal(unit_price)  # the gateways' documented examples
    price = gateway(fake, *account).price([PHONE], "hello world")

    assert price == Price(Decimal(unit_price), 1, "RUB")
    assert fake.sent == [] and fake.message_ids == []  # nothing was sent


@ACCOUNTS
def test_price_of_a_long_text_to_two_numbers(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    price = gateway(fake, provider, login, secret).price([PHONE, OTHER], TEXT)

    assert price == Price(Decimal("10.36"), 4)  # 2 numbers x 2 parts x 2.59
    assert str(price) == "10,36 руб."
    assert fake.sent == []
    (request,) = fake.requests
    assert request.method == "POST" and request.query == {}
    if provider is SMSRU:
        assert request.path == "/sms/cost"
        assert request.form["to"] == "79031112233,79164445566"
        assert (request.form["msg"], request.form["json"]) == (TEXT, "1")
    else:
        assert request.path == "/sys/send.php"
        assert request.form["cost"] == "1"  # the price only
        assert request.form["phones"] == "79031112233,79164445566"
        assert (request.form["mes"], request.form["charset"]) == (TEXT, "utf-8")


@ACCOUNTS
def test_price_of_many_numbers_is_asked_in_batches(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    phones = [f"+7903{n:07d}" for n in range(250)]
    price = gateway(fake, provider, login, secret).price(phones, "Test")

    assert price == Price(Decimal("647.50"), 250)
    assert len(fake.requests) == 3  # 100 + 100 + 50


@ACCOUNTS
def test_price_of_no_numbers_asks_nothing(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    assert gateway(fake, provider, login, secret).price([], TEXT) == Price(Decimal(0), 0)
    assert fake.requests == []


@ACCOUNTS
def test_price_leaves_out_refused_numbers(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    fake.bad_numbers = {OTHER}
    price = gateway(fake, provider, login, secret).price([PHONE, OTHER, "8903"], "Test")
    assert price == Price(Decimal("2.59"), 1)


@ACCOUNTS
def test_price_when_every_number_is_refused(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    fake.bad_numbers = {PHONE}
    failure = failure_of(lambda: gateway(fake, provider, login, secret).price([PHONE], TEXT))
    assert failure.kind is FailureKind.BAD_NUMBER and PHONE in failure.message


# --- the gateway refuses the number: that recipient fails, the run goes on --------------------
@pytest.mark.parametrize(
    ("account", "code"),
    [(SMSRU_KEY, 202), (SMSC_PASSWORD_LOGIN, 7), (SMSC_KEY, 7)],
    ids=ACCOUNT_IDS,
)
def test_a_refused_number_is_a_bad_number_naming_it(
    fake: FakeGateway, account: tuple[SmsProvider, str, str], code: int
) -> None:
    fake.bad_numbers = {PHONE}
    sms = gateway(fake, *account)
    failure = failure_of(lambda: sms.send(PHONE, TEXT))

    assert (failure.kind, failure.code) == (FailureKind.BAD_NUMBER, code)
    assert failure.message.startswith(f"{NAMES[account[0]]}: ")
    assert PHONE in failure.message and "карточке клиента" in failure.message
    assert not failure.uncertain
    assert fake.sent == []
    assert sms.send(OTHER, TEXT).message_id  # the next recipient goes out
    assert fake.sent == [(OTHER, TEXT, SENDER)]


# Every documented code: through the fake's per-number refusal, which answers with any code
# (SMS.ru inside "sms" for that number, SMSC.ru as the request's error).
SMSRU_CODES = {
    202: FailureKind.BAD_NUMBER,
    203: FailureKind.BAD_NUMBER,
    207: FailureKind.BAD_NUMBER,
    209: FailureKind.BAD_NUMBER,
    214: FailureKind.BAD_NUMBER,
    215: FailureKind.BAD_NUMBER,
    230: FailureKind.BAD_NUMBER,
    231: FailureKind.BAD_NUMBER,
    232: FailureKind.BAD_NUMBER,
    233: FailureKind.BAD_NUMBER,
    200: FailureKind.AUTH,
    300: FailureKind.AUTH,
    301: FailureKind.AUTH,
    302: FailureKind.AUTH,
    201: FailureKind.NO_FUNDS,
    206: FailureKind.NO_FUNDS,  # the account's daily limit: stop like an empty account
    204: FailureKind.REQUEST,
    205: FailureKind.REQUEST,
    208: FailureKind.REQUEST,
    210: FailureKind.REQUEST,
    211: FailureKind.REQUEST,
    212: FailureKind.REQUEST,
    213: FailureKind.REQUEST,
    220: FailureKind.SERVER,
    500: FailureKind.SERVER,
    299: FailureKind.REQUEST,  # unknown
}
SMSC_CODES = {
    1: FailureKind.REQUEST,
    2: FailureKind.AUTH,
    3: FailureKind.NO_FUNDS,
    4: FailureKind.AUTH,
    5: FailureKind.REQUEST,
    6: FailureKind.REQUEST,  # the text or the sender name: the same for the whole run
    7: FailureKind.BAD_NUMBER,
    8: FailureKind.BAD_NUMBER,
    9: FailureKind.RATE_LIMITED,
    77: FailureKind.REQUEST,  # unknown
}


@pytest.mark.parametrize(("code", "kind"), SMSRU_CODES.items(), ids=str)
def test_smsru_code_to_kind(fake: FakeGateway, code: int, kind: FailureKind) -> None:
    fake.bad_numbers = {PHONE: code}
    failure = failure_of(lambda: gateway(fake, *SMSRU_KEY).send(PHONE, TEXT))

    assert (failure.kind, failure.code) == (kind, code)
    assert failure.message.startswith("SMS.ru: ")
    if kind is FailureKind.BAD_NUMBER or code == 299:
        assert PHONE in failure.message
    assert not failure.uncertain  # a readable refusal: certainly not sent
    assert fake.sent == []


@pytest.mark.parametrize(("code", "kind"), SMSC_CODES.items(), ids=str)
def test_smsc_code_to_kind(fake: FakeGateway, code: int, kind: FailureKind) -> None:
    fake.bad_numbers = {PHONE: code}
    failure = failure_of(lambda: gateway(fake, *SMSC_PASSWORD_LOGIN).send(PHONE, TEXT))

    assert (failure.kind, failure.code) == (kind, code)
    assert failure.message.startswith("SMSC.ru: ")
    assert (PHONE in failure.message) == (kind is FailureKind.BAD_NUMBER)
    assert not failure.uncertain
    assert fake.sent == []


def test_smsru_stop_list_says_where_to_remove_it(fake: FakeGateway) -> None:
    fake.bad_numbers = {PHONE: 209}
    failure = failure_of(lambda: gateway(fake, *SMSRU_KEY).send(PHONE, TEXT))
    assert "стоп-листе" in failure.message and "личном кабинете" in failure.message


def test_smsc_forbidden_message_points_at_the_text_and_sender(fake: FakeGateway) -> None:
    fake.bad_numbers = {PHONE: 6}
    failure = failure_of(lambda: gateway(fake, *SMSC_KEY).send(PHONE, TEXT))
    assert "текст" in failure.message and "имя отправителя" in failure.message


# --- the account, the gateway, the network ----------------------------------------------------
@ACCOUNTS
def test_no_funds_after_some_sends(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    fake.funds_for = 2
    sms = gateway(fake, provider, login, secret)
    sms.send(PHONE, "Один")
    sms.send(OTHER, "Два")
    failure = failure_of(lambda: sms.send(PHONE, "Три"))

    assert (failure.kind, failure.code) == (FailureKind.NO_FUNDS, 201 if provider is SMSRU else 3)
    assert "Пополните счёт" in failure.message
    assert [text for _, text, _ in fake.sent] == ["Один", "Два"]
    assert sms.price([PHONE], "Три").amount == Decimal("2.59")  # pricing still answers


@ACCOUNTS
def test_a_wrong_secret_is_an_auth_failure(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    sms = gateway(fake, provider, login, WRONG_SECRET)
    for call in (lambda: sms.send(PHONE, TEXT), lambda: sms.price([PHONE], TEXT)):
        failure = failure_of(call)
        assert failure.kind is FailureKind.AUTH
        assert failure.message.startswith(f"{NAMES[provider]}: ")
        assert "параметрах SMS" in failure.message
    assert fake.sent == []


@ACCOUNTS
def test_too_many_requests_then_normal(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    fake.rate_limited_times = 2
    sms = gateway(fake, provider, login, secret)
    for call in (lambda: sms.send(PHONE, TEXT), lambda: sms.price([PHONE], TEXT)):
        failure = failure_of(call)
        assert failure.kind is FailureKind.RATE_LIMITED
        assert failure.code == (None if provider is SMSRU else 9)  # SMS.ru: HTTP 429
        assert "Подождите" in failure.message
    assert fake.sent == []

    assert sms.send(PHONE, TEXT).message_id  # the limit is over
    assert fake.sent == [(PHONE, TEXT, SENDER)]


@ACCOUNTS
def test_http_500_is_a_server_failure(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    fake.behaviour = Behaviour.HTTP_500
    failure = failure_of(lambda: gateway(fake, provider, login, secret).send(PHONE, TEXT))

    assert failure.kind is FailureKind.SERVER and "HTTP 500" in failure.message
    assert not failure.uncertain


@ACCOUNTS
def test_an_unreadable_answer_to_a_send_is_uncertain(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    fake.behaviour = Behaviour.GARBAGE
    sms = gateway(fake, provider, login, secret)
    failure = failure_of(lambda: sms.send(PHONE, TEXT))

    assert failure.kind is FailureKind.SERVER and failure.uncertain
    assert "неизвестно, отправлено ли SMS" in failure.message
    priced = failure_of(lambda: sms.price([PHONE], TEXT))  # nothing to be unsure of
    assert priced.kind is FailureKind.SERVER and not priced.uncertain


@ACCOUNTS
def test_an_unknown_error_masks_the_secret(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    fake.behaviour = Behaviour.UNKNOWN_ERROR  # the gateway's own text echoes the secret
    failure = failure_of(lambda: gateway(fake, provider, login, secret).send(PHONE, TEXT))

    assert failure.kind is FailureKind.REQUEST
    assert "***" in failure.message and f"(код {failure.code})" in failure.message


def test_smsc_ip_blocked_on_send_is_an_auth_failure(fake: FakeGateway) -> None:
    fake.behaviour = Behaviour.IP_BLOCKED
    failure = failure_of(lambda: gateway(fake, *SMSC_PASSWORD_LOGIN).send(PHONE, TEXT))
    assert (failure.kind, failure.code) == (FailureKind.AUTH, 4)


@pytest.mark.parametrize("account", [SMSRU_KEY, SMSC_KEY], ids=["smsru", "smsc"])
def test_a_stalled_gateway_times_out_and_the_send_is_uncertain(
    fake: FakeGateway, account: tuple[SmsProvider, str, str]
) -> None:
    fake.behaviour = Behaviour.STALL
    started = time.monotonic()
    failure = failure_of(lambda: gateway(fake, *account, timeout=1).send(PHONE, TEXT))

    assert time.monotonic() - started < 4
    assert failure.kind is FailureKind.NETWORK
    assert failure.uncertain  # the request was out: the SMS may have gone
    assert "не ответил за 1 с" in failure.message
    assert "неизвестно, отправлено ли SMS" in failure.message


@pytest.mark.parametrize("account", [SMSRU_KEY, SMSC_PASSWORD_LOGIN], ids=["smsru", "smsc"])
def test_the_answer_lost_after_the_sms_went_out(
    fake: FakeGateway, account: tuple[SmsProvider, str, str]
) -> None:
    fake.behaviour = Behaviour.STALL_AFTER_SEND
    failure = failure_of(lambda: gateway(fake, *account, timeout=0.3).send(PHONE, TEXT))

    assert (failure.kind, failure.uncertain) == (FailureKind.NETWORK, True)
    assert fake.sent == [(PHONE, TEXT, SENDER)]  # it did go out


def test_a_stalled_price_is_a_network_failure_not_uncertain(fake: FakeGateway) -> None:
    fake.behaviour = Behaviour.STALL
    failure = failure_of(lambda: gateway(fake, *SMSC_KEY, timeout=0.3).price([PHONE], TEXT))
    assert (failure.kind, failure.uncertain) == (FailureKind.NETWORK, False)


@pytest.mark.parametrize("account", [SMSRU_KEY, SMSC_PASSWORD_LOGIN], ids=["smsru", "smsc"])
def test_connection_refused_is_certainly_not_sent(account: tuple[SmsProvider, str, str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider, login, secret = account
    settings = SmsSettings(provider=provider, login=login, endpoint=f"http://127.0.0.1:{port}")
    failure = failure_of(lambda: gateway_for(settings, secret, timeout=5).send(PHONE, TEXT))

    assert failure.kind is FailureKind.NETWORK and not failure.uncertain
    assert "отказал в соединении" in failure.message


@ACCOUNTS
def test_no_secret_in_any_request_target_or_log(
    fake: FakeGateway,
    provider: SmsProvider,
    login: str,
    secret: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake.bad_numbers = {OTHER}
    sms = gateway(fake, provider, login, secret)
    sms.send(PHONE, TEXT)
    sms.price([PHONE, OTHER], TEXT)
    failure_of(lambda: sms.send(OTHER, TEXT))

    assert all(secret not in request.target for request in fake.requests)
    assert secret not in repr(sms)
    assert "failure" in caplog.text  # the failure was logged, the secret was not (autouse)
