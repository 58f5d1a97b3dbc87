"""SMSC.ru (https://smsc.ru/api/http/): the login with the password, or an API key alone.

With ``settings.login`` set, the secret is that login's password (``login`` + ``psw``);
with no login, the secret is an API key (``apikey``). With ``fmt=3`` every answer is JSON and
an error is ``{"error": "описание", "error_code": N}``, N from 1 to 9. Balance, with
``cur=1``: ``/sys/balance.php`` -> ``{"balance": "12.34", "currency": "RUR"}``.
"""

from __future__ import annotations

from typing import Any

from avtoprokat_mail.sending.sms.gateway import (
    Balance,
    FailureKind,
    SmsGateway,
    parse_amount,
)

NAME = "SMSC.ru"

# SMSC.ru's error codes, in the words the user needs: what happened and what to do.
# Code 2 depends on the way of logging in and is written in _auth_failure.
_CODES: dict[int, tuple[FailureKind, str]] = {
    1: (
        FailureKind.REQUEST,
        "в параметрах запроса ошибка. Проверьте параметры SMS; если ошибка "
        "повторяется, сообщите разработчику программы.",
    ),
    3: (
        FailureKind.NO_FUNDS,
        "на счёте не хватает денег. Пополните счёт в личном кабинете SMSC.ru.",
    ),
    4: (
        FailureKind.AUTH,
        "IP-адрес этого компьютера временно заблокирован из-за частых ошибочных "
        "запросов (обычно из-за неверного пароля). Проверьте логин и пароль в параметрах SMS "
        "и повторите через несколько минут.",
    ),
    5: (
        FailureKind.REQUEST,
        "время отправки не принято (неверный формат даты). Сообщите разработчику программы.",
    ),
    6: (
        FailureKind.REQUEST,
        "сообщение запрещено шлюзом (по тексту или по имени отправителя). Проверьте "
        "текст и имя отправителя: имя должно быть согласовано в личном кабинете SMSC.ru.",
    ),
    7: (
        FailureKind.REQUEST,
        "номер телефона не принят (неверный формат). Проверьте номер клиента: нужен номер "
        "мобильного телефона, например +7 903 111-22-33.",
    ),
    8: (
        FailureKind.REQUEST,
        "сообщение не может быть доставлено на этот номер. Проверьте номер клиента; если "
        "он верен, телефон абонента может не принимать SMS.",
    ),
    9: (
        FailureKind.RATE_LIMITED,
        "слишком много запросов подряд. Подождите минуту и повторите.",
    ),
}
_CURRENCIES = {"RUR": "RUB"}  # SMSC.ru writes the rouble's old code


class SmscGateway(SmsGateway):
    name = NAME

    def _credentials(self) -> dict[str, str]:
        if self.settings.login:
            return {"login": self.settings.login, "psw": self._secret}
        return {"apikey": self._secret}

    def _auth_failure(self) -> str:
        if self.settings.login:
            return (
                f"{NAME}: логин «{self.settings.login}» или пароль не приняты. Проверьте их в "
                "параметрах SMS. Если они верны, проверьте в личном кабинете SMSC.ru список "
                "разрешённых IP-адресов: адреса этого компьютера в нём может не быть."
            )
        return (
            f"{NAME}: API-ключ не принят. Создайте ключ в личном кабинете SMSC.ru и укажите его "
            "в параметрах SMS (или укажите логин и пароль). Если ключ верен, проверьте список "
            "разрешённых IP-адресов в личном кабинете."
        )

    def _call(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """Call one API script; the answer when it holds no error, else GatewayFailure."""
        answer = self._post(
            path, {**self._credentials(), **(params or {}), "fmt": "3", "charset": "utf-8"}
        )
        if "error" not in answer and "error_code" not in answer:
            return answer
        code = answer.get("error_code")
        if isinstance(code, str) and code.strip().isdigit():
            code = int(code)
        if isinstance(code, bool) or not isinstance(code, int):
            self._unreadable("ошибка без кода")
        if code == 2:
            self._fail(FailureKind.AUTH, self._auth_failure(), code)
        self._fail_for_code(code, _CODES, answer.get("error"))

    def balance(self) -> Balance:
        answer = self._call("/sys/balance.php", {"cur": "1"})
        amount = parse_amount(answer.get("balance"))
        if amount is None:
            self._unreadable("нет суммы на счёте")
        currency = str(answer.get("currency") or "RUB").strip().upper()
        return Balance(amount, _CURRENCIES.get(currency, currency))
