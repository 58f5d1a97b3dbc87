"""Sending SMS in batches: up to 100 personal texts in one request, each number answered for.

Against the real local server of tests/sms_gateways.py, for every account way (SMS.ru api_id,
SMSC.ru login + password, SMSC.ru API key): what the server received and recorded is checked,
not only what the program says.
"""

from __future__ import annotations

import socket

import pytest

from avtoprokat_mail.model import Delivery, SmsProvider, SmsSettings
from avtoprokat_mail.sending.sms.gateway import (
    SEND_BATCH,
    FailureKind,
    GatewayFailure,
    Sent,
    SmsGateway,
)
from avtoprokat_mail.sending.sms.providers import gateway_for
from avtoprokat_mail.sending.sms.transport import SmsTransport
from avtoprokat_mail.sending.transport import DeliveryError
from tests.sms_gateways import (
    SMSC_KEY,
    SMSC_PASSWORD_LOGIN,
    SMSRU_KEY,
    WRONG_SECRET,
    Behaviour,
    FakeGateway,
)

SMSRU, SMSC = SmsProvider.SMSRU, SmsProvider.SMSC
ACCOUNTS = pytest.mark.parametrize(
    "account",
    [SMSRU_KEY, SMSC_PASSWORD_LOGIN, SMSC_KEY],
    ids=["smsru", "smsc-login", "smsc-apikey"],
)
PROVIDERS = pytest.mark.parametrize("account", [SMSRU_KEY, SMSC_KEY], ids=["smsru", "smsc"])
NAMES = {SMSRU: "SMS.ru", SMSC: "SMSC.ru"}
pytestmark = pytest.mark.usefixtures("no_secret_in_logs")

SENDER = "AvtoProkat"
GOOD, BAD, OTHER = "+79031112233", "+79160000000", "+79164445566"
NOT_E164 = "8 903 111-22-33"
# What a template can put into a text: Cyrillic, quotes, the characters of a form body
# (& = + %), line breaks, and the colon, comma and semicolon of SMSC.ru's list lines.
TRICKY_TEXTS = [
    'Пётр, ваш «Солярис» готов: ул. Ленина, 5; "вход со двора"',
    "a&b=c+d 100% #1 ?x=1&y=2",
    "Строка 1\nСтрока 2\n\nСтрока 4: конец",
    ":начинается с двоеточия, и 79031112233:текст внутри",
    "ёЁ — «»… 'одинарные' и \\ обратная черта",
]


def gateway(fake: FakeGateway, account: tuple, *, timeout: float = 5) -> SmsGateway:
    provider, login, secret = account
    return gateway_for(fake.settings(provider, login, SENDER), secret, timeout=timeout)


def phones(count: int) -> list[str]:
    return [f"+7903{n:07d}" for n in range(count)]


def items(messages: list[tuple[str, str]]) -> list[tuple[Delivery, object]]:
    return [
        (Delivery(position=n, recipient=phone), text) for n, (phone, text) in enumerate(messages)
    ]


def batch_error(transport: SmsTransport, messages: list[tuple[str, str]]) -> DeliveryError:
    """The DeliveryError the whole batch raises, checked to be Russian."""
    with pytest.raises(DeliveryError) as caught:
        transport.send_batch(items(messages))
    assert any("а" <= ch <= "я" for ch in caught.value.reply.lower())
    return caught.value


@ACCOUNTS
def test_a_batch_answers_for_each_number(fake: FakeGateway, account: tuple) -> None:
    fake.bad_numbers = [BAD]
    messages = [(GOOD, "Текст 1"), (BAD, "Текст 2"), (OTHER, "Текст 3"), (NOT_E164, "Текст 4")]

    results = gateway(fake, account).send_many(messages)

    assert fake.send_requests == 1
    assert fake.sent == [(GOOD, "Текст 1", SENDER), (OTHER, "Текст 3", SENDER)]
    first, refused, third, unreadable = results
    assert isinstance(first, Sent) and isinstance(third, Sent)
    assert [first.message_id, third.message_id] == fake.message_ids
    for failure, number in ((refused, BAD), (unreadable, NOT_E164)):
        assert isinstance(failure, GatewayFailure)
        assert (failure.kind, failure.uncertain) == (FailureKind.BAD_NUMBER, False)
        assert number in failure.message and failure.message.startswith(NAMES[account[0]])


@ACCOUNTS
def test_texts_arrive_intact(fake: FakeGateway, account: tuple) -> None:
    messages = list(zip(phones(len(TRICKY_TEXTS)), TRICKY_TEXTS, strict=True))

    results = gateway(fake, account).send_many(messages)

    assert all(isinstance(result, Sent) for result in results)
    assert fake.sent == [(phone, text, SENDER) for phone, text in messages]
    (request,) = [r for r in fake.requests if r.path in ("/sms/send", "/sys/send.php")]
    if account[0] is SMSRU:  # a personal text per number, no common one
        assert {f"to[{phone[1:]}]" for phone, _ in messages} <= request.form.keys()
        assert "msg" not in request.form
    else:  # one list line per message, and each number's own outcome asked for
        assert len(request.form["list"].split("\n")) == len(messages)
        assert (request.form["op"], request.form["charset"]) == ("1", "utf-8")


@PROVIDERS
def test_a_batch_too_long_or_with_a_number_twice_is_refused_unsent(
    fake: FakeGateway, account: tuple
) -> None:
    sms = gateway(fake, account)
    with pytest.raises(ValueError):
        sms.send_many([(phone, "текст") for phone in phones(SEND_BATCH + 1)])
    with pytest.raises(ValueError):
        sms.send_many([(GOOD, "раз"), (OTHER, "два"), (GOOD, "три")])
    assert fake.requests == [] and fake.sent == []


@PROVIDERS
def test_every_number_refused_fails_each_message_without_raising(
    fake: FakeGateway, account: tuple
) -> None:
    fake.bad_numbers = [GOOD, OTHER]

    results = gateway(fake, account).send_many([(GOOD, "1"), (OTHER, "2")])

    assert fake.sent == []
    for result, number in zip(results, (GOOD, OTHER), strict=True):
        assert isinstance(result, GatewayFailure) and result.kind is FailureKind.BAD_NUMBER
        assert number in result.message


@ACCOUNTS
def test_the_transport_replies_per_item(fake: FakeGateway, account: tuple) -> None:
    fake.bad_numbers = [BAD]
    transport = SmsTransport(gateway(fake, account))
    assert transport.batch_size == SEND_BATCH

    replies = transport.send_batch(items([(GOOD, "Первое"), (BAD, "Второе"), (OTHER, "Третье")]))

    name = NAMES[account[0]]
    assert replies[0] == f"принято шлюзом {name}, № {fake.message_ids[0]}"
    assert replies[2] == f"принято шлюзом {name}, № {fake.message_ids[1]}"
    refused = replies[1]
    assert isinstance(refused, DeliveryError) and BAD in refused.reply
    assert not (refused.fatal or refused.temporary or refused.uncertain or refused.connection)
    assert [phone for phone, _text, _sender in fake.sent] == [GOOD, OTHER]


@PROVIDERS
def test_a_lost_answer_leaves_the_whole_batch_uncertain(fake: FakeGateway, account: tuple) -> None:
    fake.behaviour = Behaviour.DROP_AFTER_SEND
    transport = SmsTransport(gateway(fake, account))
    messages = [(phone, f"Текст {n}") for n, phone in enumerate(phones(5))]

    error = batch_error(transport, messages)

    assert (error.uncertain, error.connection) == (True, True)
    assert "могла быть отправлена" in error.reply
    assert fake.sent == [(phone, text, SENDER) for phone, text in messages]  # it did go out


@PROVIDERS
@pytest.mark.parametrize("behaviour", [Behaviour.STALL_AFTER_SEND, Behaviour.GARBAGE])
def test_a_late_or_unreadable_answer_is_uncertain_too(
    fake: FakeGateway, account: tuple, behaviour: Behaviour
) -> None:
    fake.behaviour, fake.stall_seconds = behaviour, 3
    transport = SmsTransport(gateway(fake, account, timeout=0.3))

    error = batch_error(transport, [(GOOD, "раз"), (OTHER, "два")])

    assert error.uncertain and not error.fatal


@PROVIDERS
@pytest.mark.parametrize(
    ("setup", "fatal", "temporary", "connection"),
    [
        (lambda fake: setattr(fake, "behaviour", Behaviour.NO_FUNDS), True, False, False),
        (lambda fake: setattr(fake, "behaviour", Behaviour.HTTP_500), False, True, False),
    ],
    ids=["no-funds", "http-500"],
)
def test_a_failed_request_fails_the_whole_batch(
    fake: FakeGateway, account: tuple, setup, fatal: bool, temporary: bool, connection: bool
) -> None:
    setup(fake)
    error = batch_error(SmsTransport(gateway(fake, account)), [(GOOD, "раз"), (OTHER, "два")])

    assert (error.fatal, error.temporary, error.connection) == (fatal, temporary, connection)
    assert not error.uncertain
    assert fake.sent == []


@PROVIDERS
def test_a_refused_key_is_fatal(fake: FakeGateway, account: tuple) -> None:
    provider, login, _secret = account
    transport = SmsTransport(gateway(fake, (provider, login, WRONG_SECRET)))

    error = batch_error(transport, [(GOOD, "раз"), (OTHER, "два")])

    assert error.fatal and not error.uncertain
    assert fake.sent == []


@PROVIDERS
def test_no_connection_is_temporary_and_certainly_unsent(account: tuple) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider, login, secret = account
    settings = SmsSettings(provider=provider, login=login, endpoint=f"http://127.0.0.1:{port}")
    transport = SmsTransport(gateway_for(settings, secret, timeout=5))

    error = batch_error(transport, [(GOOD, "раз"), (OTHER, "два")])

    assert (error.temporary, error.connection, error.uncertain) == (True, True, False)


@PROVIDERS
def test_too_many_requests_fail_the_batch_for_later_and_slow_down(
    fake: FakeGateway, account: tuple
) -> None:
    fake.rate_limited_times = 2
    transport = SmsTransport(gateway(fake, account), first_pause=0.2, max_pause=8.0)
    messages = [(GOOD, "раз"), (OTHER, "два")]

    first = batch_error(transport, messages)
    assert first.temporary and not (first.fatal or first.uncertain)
    assert transport.pause == 0.2 and transport.ready_in() > 0
    batch_error(transport, messages)
    assert transport.pause == 0.4  # doubled at the second refusal

    replies = transport.send_batch(items(messages))  # the third request goes through

    assert all(isinstance(reply, str) for reply in replies)
    assert transport.pause == 0.2  # halved after a success
    assert fake.send_requests == 3 and len(fake.sent) == 2


def test_smsru_money_running_out_mid_batch_stops_at_that_number(fake: FakeGateway) -> None:
    fake.funds_for = 2
    transport = SmsTransport(gateway(fake, SMSRU_KEY))

    replies = transport.send_batch(items([(n, "текст") for n in phones(3)]))

    assert [type(reply) for reply in replies] == [str, str, DeliveryError]
    assert replies[2].fatal and "не хватает денег" in replies[2].reply
    assert len(fake.sent) == 2


def test_smsc_refuses_a_batch_the_money_does_not_cover(fake: FakeGateway) -> None:
    fake.funds_for = 2
    transport = SmsTransport(gateway(fake, SMSC_KEY))

    error = batch_error(transport, [(n, "текст") for n in phones(3)])

    assert error.fatal and fake.sent == []


def test_smsc_numbers_refused_in_a_batch_have_their_own_reasons(fake: FakeGateway) -> None:
    fake.bad_numbers = {BAD: 7, OTHER: 8}

    results = gateway(fake, SMSC_KEY).send_many([(GOOD, "a"), (BAD, "b"), (OTHER, "c")])

    assert isinstance(results[0], Sent)
    wrong, forbidden = results[1], results[2]
    assert isinstance(wrong, GatewayFailure) and isinstance(forbidden, GatewayFailure)
    assert (wrong.kind, wrong.code) == (FailureKind.BAD_NUMBER, 249)
    assert "неверный формат" in wrong.message and BAD in wrong.message
    assert (forbidden.kind, forbidden.code) == (FailureKind.BAD_NUMBER, 250)
    assert "запрещён" in forbidden.message and OTHER in forbidden.message
