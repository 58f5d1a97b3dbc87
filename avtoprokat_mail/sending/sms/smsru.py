"""SMS.ru (https://sms.ru/api): the secret is the account's api_id.

Every method answers, with ``json=1``, an object whose ``status`` is "OK" (``status_code``
100) or "ERROR" with a ``status_code`` and a ``status_text``: the request-level codes
(:data:`_CODES`: the key, the money, the service).

- Balance: ``/my/balance`` -> ``{"status": "OK", "status_code": 100, "balance": 4762.58}``.
- Send: ``/sms/send`` (``to``, ``msg``, optional ``from``) -> ``{"status": "OK",
  "status_code": 100, "sms": {"79031112233": {"status": "OK", "status_code": 100,
  "sms_id": "000000-10000000"}}, "balance": 4122.56}``. Each number has its own status
  inside ``sms``; a refused one is ``{"status": "ERROR", "status_code": 202, "status_text":
  ...}`` (:data:`_NUMBER_CODES`), while the overall status stays OK.
- Send a batch: ``/sms/send`` with ``to[79031112233]=текст1&to[79164445566]=текст2`` (a
  personal text per number, up to 100; older pages of the docs name it ``multi[...]``) and
  the same answer, one entry per number inside ``sms``.
- Price: ``/sms/cost`` (the same parameters; nothing is sent) -> ``{"status": "OK",
  "status_code": 100, "sms": {"79031112233": {"status": "OK", "status_code": 100, "cost":
  "2.59", "sms": 1}}, "total_cost": 2.59, "total_sms": 1}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any, NoReturn

from avtoprokat_mail.sending.sms.gateway import (
    Balance,
    FailureKind,
    GatewayFailure,
    Price,
    Sent,
    SmsGateway,
    gateway_number,
    parse_amount,
    parse_count,
)

NAME = "SMS.ru"
PRICE_BATCH = 100  # numbers per /sms/cost request (SMS.ru refuses longer lists)

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
    204: (
        FailureKind.REQUEST,
        "имя отправителя не согласовано с SMS.ru. Согласуйте его в личном кабинете SMS.ru "
        "(раздел «Отправители») или очистите поле «Имя отправителя» в параметрах SMS.",
    ),
    205: (
        FailureKind.REQUEST,
        "сообщение слишком длинное (больше 8 SMS). Сократите текст шаблона.",
    ),
    # The account's own daily limit: like an empty account, nothing more goes out today, so
    # the run stops with the rest of the recipients left to send (not failed one by one).
    206: (
        FailureKind.NO_FUNDS,
        "достигнут дневной лимит отправки SMS, заданный для аккаунта. Продолжите рассылку "
        "завтра или увеличьте лимит в личном кабинете SMS.ru.",
    ),
    208: (
        FailureKind.REQUEST,
        "время отправки не принято. Сообщите разработчику программы.",
    ),
    213: (
        FailureKind.REQUEST,
        "в запросе слишком много номеров. Сообщите разработчику программы.",
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


# The codes about one number (inside "sms"): that recipient fails, the run goes on. A number's
# entry may also hold a request-level code (201 on the last SMS the money covered): _CODES.
_NUMBER_CODES: dict[int, str] = {
    202: "номер {phone} не принят: он указан неверно или на него нет маршрута. Проверьте "
    "номер в карточке клиента: нужен номер мобильного телефона.",
    203: "для номера {phone} получился пустой текст SMS. Проверьте шаблон и поля клиента, "
    "которые в него подставляются.",
    207: "на номер {phone} SMS.ru не может доставить SMS (нет маршрута). Проверьте номер в "
    "карточке клиента: нужен номер мобильного телефона.",
    209: "номер {phone} в вашем стоп-листе SMS.ru, SMS на него не отправляется. Если клиент "
    "согласен получать SMS, уберите номер из стоп-листа в личном кабинете SMS.ru.",
    214: "номер {phone} зарубежный, а в SMS.ru включена отправка только на номера России. "
    "Проверьте номер клиента или измените настройку в личном кабинете SMS.ru.",
    215: "номер {phone} в общем стоп-листе SMS.ru (его владелец жаловался на спам), SMS на "
    "него не отправляется. Уберите этого клиента из SMS-рассылок.",
    230: "на номер {phone} сегодня отправлено слишком много сообщений (лимит SMS.ru на один "
    "номер в день). Отправьте этому клиенту завтра.",
    231: "этот же текст уже отправлялся на номер {phone} в последнюю минуту (лимит SMS.ru на "
    "одинаковые сообщения). Повторно отправлять его не нужно.",
    232: "этот же текст уже отправлялся на номер {phone} сегодня (лимит SMS.ru на одинаковые "
    "сообщения в день). Повторно отправлять его не нужно.",
    233: "на номер {phone} слишком часто отправлялись сообщения с кодами (защита SMS.ru от "
    "мошенников; её можно отключить в настройках личного кабинета). Повторите позже.",
}


class SmsRuGateway(SmsGateway):
    name = NAME

    def _call(
        self, path: str, params: dict[str, str] | None = None, *, delivers: bool = False
    ) -> dict[str, Any]:
        """Call one API method; the answer when its status is OK, else GatewayFailure."""
        answer = self._post(
            path, {"api_id": self._secret, **(params or {}), "json": "1"}, delivers=delivers
        )
        if answer.get("status") == "OK":
            return answer
        code = answer.get("status_code")
        if answer.get("status") != "ERROR" or isinstance(code, bool) or not isinstance(code, int):
            self._unreadable("нет статуса", uncertain=delivers)
        self._fail_for_code(code, _CODES, answer.get("status_text"))

    def _message_params(self, to: str, text: str) -> dict[str, str]:
        params = {"to": to, "msg": text}
        if self.settings.sender:
            params["from"] = self.settings.sender
        return params

    def _number_failure(self, entry: dict[str, Any], phone: str) -> NoReturn:
        """Raise the failure of one number's ERROR entry inside "sms"."""
        code = entry.get("status_code")
        if isinstance(code, str) and code.strip().isdigit():
            code = int(code)
        if isinstance(code, bool) or not isinstance(code, int):
            code = None
        if code in _NUMBER_CODES:
            text = _NUMBER_CODES[code].format(phone=phone)
            self._fail(FailureKind.BAD_NUMBER, f"{NAME}: {text}", code)
        if code in _CODES:
            self._fail_for_code(code, _CODES, None)
        said = self.server_text(entry.get("status_text"))
        self._fail(
            FailureKind.REQUEST,
            f"{NAME}: SMS на номер {phone} не принято: «{said}» (код {code}). Если непонятно, "
            f"что исправить, обратитесь в поддержку {NAME}, назвав этот код.",
            code,
        )

    def balance(self) -> Balance:
        answer = self._call("/my/balance")
        amount = parse_amount(answer.get("balance"))
        if amount is None:
            self._unreadable("нет суммы на счёте")
        return Balance(amount, "RUB")

    def send(self, phone: str, text: str) -> Sent:
        number = self._number(phone)
        answer = self._call("/sms/send", self._message_params(number, text), delivers=True)
        entries = self._entries(answer)
        entry = entries.get(number)
        if entry is None and len(entries) == 1:  # written another way ("+7...")
            entry = next(iter(entries.values()))
        return self._accepted(entry, phone)

    def send_many(self, messages: Sequence[tuple[str, str]]) -> list[Sent | GatewayFailure]:
        numbers, results = self._batch_numbers(messages)
        if not numbers:
            return [results[index] for index in range(len(messages))]
        # A personal text per number: to[79031112233]=текст (the docs' "разный текст на
        # разные номера"); the answer has an entry per number, as for one.
        params = {f"to[{number}]": messages[index][1] for number, index in numbers.items()}
        if self.settings.sender:
            params["from"] = self.settings.sender
        entries = self._entries(self._call("/sms/send", params, delivers=True))
        for number, index in numbers.items():
            phone = messages[index][0]
            try:
                results[index] = self._accepted(entries.get(number), phone)
            except GatewayFailure as failure:
                results[index] = failure
        return [results[index] for index in range(len(messages))]

    def _entries(self, answer: dict[str, Any]) -> dict[str, Any]:
        """The per-number entries of a send answer; none readable: it may have gone out."""
        entries = answer.get("sms")
        if not isinstance(entries, dict):
            self._unreadable("нет сведений о номере", uncertain=True)
        return entries

    def _accepted(self, entry: object, phone: str) -> Sent:
        """What one number's entry says: Sent, else the failure of that number."""
        if not isinstance(entry, dict):
            self._no_word_on(phone)
        if entry.get("status") != "OK":
            if entry.get("status") != "ERROR":
                self._no_word_on(phone)
            self._number_failure(entry, phone)
        sms_id = entry.get("sms_id")
        if isinstance(sms_id, bool) or not isinstance(sms_id, str | int) or not str(sms_id):
            self._no_word_on(phone)
        return Sent(str(sms_id), parse_count(entry.get("sms")), parse_amount(entry.get("cost")))

    def price(self, phones: Sequence[str], text: str) -> Price:
        """Numbers SMS.ru refuses (or not E.164) are left out; all refused: BAD_NUMBER."""
        numbers = {number: phone for phone in phones if (number := gateway_number(phone))}
        if phones and not numbers:
            self._number(phones[0])  # raises BAD_NUMBER naming it
        amount, segments, accepted = Decimal(0), 0, 0
        refused: tuple[dict[str, Any], str] | None = None
        batch_list = list(numbers)
        for start in range(0, len(batch_list), PRICE_BATCH):
            batch = batch_list[start : start + PRICE_BATCH]
            answer = self._call("/sms/cost", self._message_params(",".join(batch), text))
            entries = answer.get("sms")
            if isinstance(entries, dict):
                for number, entry in entries.items():
                    if not isinstance(entry, dict) or entry.get("status") == "OK":
                        accepted += 1
                    elif refused is None:
                        refused = (entry, numbers.get(number, f"+{number}"))
            else:
                accepted += len(batch)
            cost = parse_amount(answer.get("total_cost"))
            count = parse_count(answer.get("total_sms"))
            if cost is None or count is None:
                self._unreadable("нет стоимости")
            amount += cost
            segments += count
        if refused is not None and accepted == 0:
            self._number_failure(*refused)
        return Price(amount, segments, "RUB")
