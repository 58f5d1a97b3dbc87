"""The SMS balance check against a real local HTTP server speaking both gateways' APIs."""

from __future__ import annotations

import socket
import ssl
import time
from decimal import Decimal
from pathlib import Path

import pytest
import trustme

from avtoprokat_mail.model import SmsProvider, SmsSettings
from avtoprokat_mail.sending.sms.gateway import Balance, FailureKind, GatewayFailure, format_money
from avtoprokat_mail.sending.sms.providers import check_sms, gateway_for
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

ACCOUNTS = pytest.mark.parametrize(
    ("provider", "login", "secret"),
    [SMSRU_KEY, SMSC_PASSWORD_LOGIN, SMSC_KEY],
    ids=["smsru", "smsc-login", "smsc-apikey"],
)
NAMES = {SMSRU: "SMS.ru", SMSC: "SMSC.ru"}
pytestmark = pytest.mark.usefixtures("no_secret_in_logs")


def failure_of(settings: SmsSettings, secret: str, timeout: float = 5) -> GatewayFailure:
    """The failure of a balance call, checked to match what check_sms shows and leak nothing."""
    with pytest.raises(GatewayFailure) as caught:
        gateway_for(settings, secret, timeout=timeout).balance()
    failure = caught.value
    result = check_sms(settings, secret, timeout=timeout)
    assert (result.ok, result.message) == (False, failure.message)
    assert str(failure) == failure.message
    assert failure.__suppress_context__  # no chained urllib error (which may hold the URL)
    for known in ALL_SECRETS:
        assert known not in failure.message
        assert known not in repr(failure)
    assert any("а" <= ch <= "я" for ch in failure.message.lower())  # Russian for the user
    return failure


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- success ------------------------------------------------------------------------------------
def test_smsru_balance_sends_api_id_and_json(fake: FakeGateway) -> None:
    result = check_sms(fake.settings(SMSRU), SMSRU_API_ID, timeout=5)

    assert result.ok
    assert result.message == "SMS.ru: соединение установлено, на счёте 4 762,58 руб."
    (request,) = fake.requests
    assert request.path == "/my/balance"
    assert request.params["api_id"] == SMSRU_API_ID
    assert request.params["json"] == "1"
    assert request.method == "POST" and SMSRU_API_ID not in request.target  # not in the URL


def test_smsc_balance_with_login_sends_login_and_password(fake: FakeGateway) -> None:
    result = check_sms(fake.settings(SMSC, login=SMSC_LOGIN), SMSC_PASSWORD, timeout=5)

    assert result.ok
    assert result.message == "SMSC.ru: соединение установлено, на счёте 4 762,58 руб."
    (request,) = fake.requests
    assert request.path == "/sys/balance.php"
    assert (request.params["login"], request.params["psw"]) == (SMSC_LOGIN, SMSC_PASSWORD)
    assert "apikey" not in request.params
    assert request.params["fmt"] == "3"
    assert request.method == "POST" and SMSC_PASSWORD not in request.target


def test_smsc_balance_without_login_sends_the_api_key(fake: FakeGateway) -> None:
    result = check_sms(fake.settings(SMSC), SMSC_APIKEY, timeout=5)

    assert result.ok
    assert "4 762,58 руб." in result.message
    (request,) = fake.requests
    assert request.params["apikey"] == SMSC_APIKEY
    assert "login" not in request.params and "psw" not in request.params
    assert request.params["fmt"] == "3"


@ACCOUNTS
def test_balance_amount_and_currency(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    fake.balance = Decimal("12.3")
    balance = gateway_for(fake.settings(provider, login), secret, timeout=5).balance()
    assert balance == Balance(Decimal("12.3"), "RUB")  # SMSC.ru's "RUR" is the rouble too


@ACCOUNTS
def test_zero_balance_is_ok_but_says_to_top_up(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    fake.balance = Decimal("0")
    result = check_sms(fake.settings(provider, login), secret, timeout=5)

    assert result.ok
    assert result.message.startswith(f"{NAMES[provider]}: соединение установлено")
    assert "0,00 руб." in result.message
    assert "пополните счёт" in result.message


def test_negative_balance_says_to_top_up(fake: FakeGateway) -> None:
    fake.balance = Decimal("-15.5")  # SMSC.ru lets an account go into credit
    result = check_sms(fake.settings(SMSC), SMSC_APIKEY, timeout=5)
    assert result.ok and "-15,50 руб." in result.message and "пополните счёт" in result.message


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("4762.58", "RUB", "4 762,58 руб."),
        ("1234567.5", "RUB", "1 234 567,50 руб."),
        ("999", "RUB", "999,00 руб."),
        ("0.005", "RUB", "0,01 руб."),
        ("-3.456", "RUB", "-3,46 руб."),
        ("100", "KZT", "100,00 KZT"),
    ],
)
def test_money_is_written_the_russian_way(amount: str, currency: str, text: str) -> None:
    assert format_money(Decimal(amount), currency) == text
    assert str(Balance(Decimal(amount), currency)) == text


def test_https_gateway_with_a_trusted_certificate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The production path (TLS, certificate checked) works when the CA is trusted."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # read by ssl.create_default_context()

    with FakeGateway(tls=server_context) as fake:
        assert fake.url.startswith("https://")
        result = check_sms(fake.settings(SMSRU), SMSRU_API_ID, timeout=5)
    assert result.ok, result.message


# --- no secret -----------------------------------------------------------------------------
@pytest.mark.parametrize("secret", [None, ""], ids=["none", "empty"])
@pytest.mark.parametrize(
    ("provider", "login", "what"),
    [(SMSRU, "", "API-ключ"), (SMSC, SMSC_LOGIN, "пароль"), (SMSC, "", "API-ключ")],
    ids=["smsru", "smsc-login", "smsc-apikey"],
)
def test_no_secret_is_refused_without_a_request(
    fake: FakeGateway, provider: SmsProvider, login: str, what: str, secret: str | None
) -> None:
    result = check_sms(fake.settings(provider, login), secret, timeout=5)

    assert not result.ok
    assert result.message.startswith(f"{NAMES[provider]}: {what} не задан")
    assert fake.requests == []


# --- the gateway says no ---------------------------------------------------------------------
@ACCOUNTS
def test_wrong_secret_is_an_auth_failure(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    failure = failure_of(fake.settings(provider, login), WRONG_SECRET)

    assert failure.kind is FailureKind.AUTH
    assert failure.message.startswith(f"{NAMES[provider]}: ")
    assert "не принят" in failure.message
    assert "параметрах SMS" in failure.message  # where to fix it


def test_smsc_wrong_login_names_the_login(fake: FakeGateway) -> None:
    failure = failure_of(fake.settings(SMSC, login="someone"), SMSC_PASSWORD)
    assert failure.kind is FailureKind.AUTH
    assert "«someone»" in failure.message and "IP-адрес" in failure.message
    assert failure.code == 2


@pytest.mark.parametrize(
    ("account", "code"), [(SMSRU_KEY, 201), (SMSC_KEY, 3)], ids=["smsru", "smsc"]
)
def test_no_funds(fake: FakeGateway, account: tuple[SmsProvider, str, str], code: int) -> None:
    provider, login, secret = account
    fake.behaviour = Behaviour.NO_FUNDS
    failure = failure_of(fake.settings(provider, login), secret)

    assert (failure.kind, failure.code) == (FailureKind.NO_FUNDS, code)
    assert "Пополните счёт" in failure.message


def test_smsc_ip_blocked_is_an_auth_failure_about_the_ip(fake: FakeGateway) -> None:
    fake.behaviour = Behaviour.IP_BLOCKED
    failure = failure_of(fake.settings(SMSC, login=SMSC_LOGIN), SMSC_PASSWORD)

    assert (failure.kind, failure.code) == (FailureKind.AUTH, 4)
    assert "IP-адрес" in failure.message and "заблокирован" in failure.message


def test_smsc_too_many_requests_is_rate_limited(fake: FakeGateway) -> None:
    fake.behaviour = Behaviour.RATE_LIMITED
    failure = failure_of(fake.settings(SMSC), SMSC_APIKEY)

    assert (failure.kind, failure.code) == (FailureKind.RATE_LIMITED, 9)
    assert "Подождите" in failure.message


@ACCOUNTS
def test_unknown_code_is_a_request_failure_with_the_secret_masked(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str
) -> None:
    fake.behaviour = Behaviour.UNKNOWN_ERROR  # the gateway's own text echoes the secret
    failure = failure_of(fake.settings(provider, login), secret)

    assert failure.kind is FailureKind.REQUEST
    assert f"(код {failure.code})" in failure.message
    assert "***" in failure.message


# --- the server or the network fails ----------------------------------------------------------
@ACCOUNTS
@pytest.mark.parametrize("behaviour", [Behaviour.HTTP_500, Behaviour.GARBAGE], ids=str)
def test_server_error_and_garbage_are_server_failures(
    fake: FakeGateway, provider: SmsProvider, login: str, secret: str, behaviour: Behaviour
) -> None:
    fake.behaviour = behaviour
    failure = failure_of(fake.settings(provider, login), secret)

    assert failure.kind is FailureKind.SERVER
    expected = "HTTP 500" if behaviour is Behaviour.HTTP_500 else "непонятный ответ"
    assert expected in failure.message


@pytest.mark.parametrize("account", [SMSRU_KEY, SMSC_PASSWORD_LOGIN], ids=["smsru", "smsc"])
def test_a_stalled_gateway_times_out(
    fake: FakeGateway, account: tuple[SmsProvider, str, str]
) -> None:
    provider, login, secret = account
    fake.behaviour = Behaviour.STALL
    started = time.monotonic()
    with pytest.raises(GatewayFailure) as caught:
        gateway_for(fake.settings(provider, login), secret, timeout=1).balance()
    elapsed = time.monotonic() - started

    failure = caught.value
    assert failure.kind is FailureKind.NETWORK
    assert elapsed < 4
    assert f"127.0.0.1:{fake.port}" in failure.message and "не ответил за 1 с" in failure.message
    assert secret not in failure.message


@pytest.mark.parametrize("account", [SMSRU_KEY, SMSC_PASSWORD_LOGIN], ids=["smsru", "smsc"])
def test_connection_refused_is_a_network_failure(account: tuple[SmsProvider, str, str]) -> None:
    provider, login, secret = account
    port = closed_port()
    settings = SmsSettings(provider=provider, login=login, endpoint=f"http://127.0.0.1:{port}")
    failure = failure_of(settings, secret)

    assert failure.kind is FailureKind.NETWORK
    assert f"127.0.0.1:{port}" in failure.message and "отказал в соединении" in failure.message


@pytest.mark.parametrize("account", [SMSRU_KEY, SMSC_PASSWORD_LOGIN], ids=["smsru", "smsc"])
def test_an_untrusted_certificate_is_refused(account: tuple[SmsProvider, str, str]) -> None:
    provider, login, secret = account
    untrusted = trustme.CA()  # nobody trusts this CA
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    untrusted.issue_cert("127.0.0.1").configure_cert(server_context)

    with FakeGateway(tls=server_context) as fake:
        failure = failure_of(fake.settings(provider, login), secret)
        assert fake.requests == []  # the secret never left: no request got through

    assert failure.kind is FailureKind.NETWORK
    assert "сертификат" in failure.message


def test_plain_http_to_another_computer_is_refused_before_connecting() -> None:
    settings = SmsSettings(provider=SMSRU, endpoint="http://sms.example.com")
    failure = failure_of(settings, SMSRU_API_ID)

    assert failure.kind is FailureKind.REQUEST
    assert "https://" in failure.message


def test_the_gateway_repr_hides_the_secret() -> None:
    gateway = gateway_for(SmsSettings(provider=SMSRU), SMSRU_API_ID)
    assert SMSRU_API_ID not in repr(gateway)
    assert gateway.base_url == "https://sms.ru"
    assert gateway_for(SmsSettings(provider=SMSC), SMSC_APIKEY).base_url == "https://smsc.ru"
