"""SMS.ru (https://sms.ru/api): the secret is the account's api_id.

Every method answers, with ``json=1``, an object whose ``status`` is "OK" (``status_code``
100) or "ERROR" with a ``status_code`` and a ``status_text``. Balance:
``/my/balance`` -> ``{"status": "OK", "status_code": 100, "balance": 4762.58}`` (roubles).
"""

from __future__ import annotations

from typing import Any

from avtoprokat_mail.sending.sms.gateway import (
    Balance,
    FailureKind,
    SmsGateway,
    parse_amount,
)

NAME = "SMS.ru"
OK = 100

# The request-level codes (those about the call, not about one phone number), in the words
# the user needs: what happened and what to do.
_CODES: dict[int, tuple[FailureKind, str]] = {
    200: (
        FailureKind.AUTH,
        "ключ API (api_id) не принят. Скопируйте ключ из личного кабинета SMS.ru "
        "(раздел «API») и укажите его в параметрах SMS.",
    ),
    201: (
        FailureKind.NO_FUNDS,
        "на счёте не хватает денег. Пополните счёт в личном кабинете SMS.ru.",
    ),
    210: (
        FailureKind.REQUEST,
        "шлюз ждал запрос другого вида (POST вместо GET). Сообщите разработчику программы.",
    ),
    211: (
        FailureKind.REQUEST,
        "шлюз не знает такого метода API. Проверьте адрес шлюза в параметрах SMS "
        "(обычно его оставляют пустым).",
    ),
    212: (
        FailureKind.REQUEST,
        "шлюз не смог прочитать текст: он должен быть в кодировке UTF-8. Сообщите "
        "разработчику программы.",
    ),
    220: (
        FailureKind.SERVER,
        "сервис SMS.ru временно недоступен. Повторите попытку через несколько минут.",
    ),
    300: (
        FailureKind.AUTH,
        "ключ доступа не принят (токен устарел). Укажите ключ API в параметрах SMS заново.",
    ),
    301: (
        FailureKind.AUTH,
        "ключ API (api_id) или логин и пароль не приняты. Проверьте ключ в параметрах "
        "SMS: его можно скопировать в личном кабинете SMS.ru.",
    ),
    302: (
        FailureKind.AUTH,
        "аккаунт SMS.ru не подтверждён. Завершите регистрацию в личном кабинете SMS.ru "
        "(подтвердите номер телефона) и повторите.",
    ),
    500: (
        FailureKind.SERVER,
        "ошибка на сервере SMS.ru. Повторите попытку через несколько минут.",
    ),
}


class SmsRuGateway(SmsGateway):
    name = NAME

    def _call(self, path: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        """Call one API method; the answer when its status is OK, else GatewayFailure."""
        answer = self._post(path, {"api_id": self._secret, **(params or {}), "json": "1"})
        if answer.get("status") == "OK":
            return answer
        code = answer.get("status_code")
        if answer.get("status") != "ERROR" or isinstance(code, bool) or not isinstance(code, int):
            self._unreadable("нет статуса")
        self._fail_for_code(code, _CODES, answer.get("status_text"))

    def balance(self) -> Balance:
        answer = self._call("/my/balance")
        amount = parse_amount(answer.get("balance"))
        if amount is None:
            self._unreadable("нет суммы на счёте")
        return Balance(amount, "RUB")
