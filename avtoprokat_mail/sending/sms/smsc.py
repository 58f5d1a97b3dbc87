"""SMSC.ru (https://smsc.ru/api/http/): the login with the password, or an API key alone.

With ``settings.login`` set, the secret is that login's password (``login`` + ``psw``);
with no login, the secret is an API key (``apikey``). With ``fmt=3`` every answer is JSON and
an error is ``{"error": "описание", "error_code": N}``, N from 1 to 9 (:data:`_CODES`).

- Balance, with ``cur=1``: ``/sys/balance.php`` -> ``{"balance": "12.34", "currency":
  "RUR"}``.
- Send: ``/sys/send.php`` (``phones``, ``mes``, optional ``sender``, ``charset=utf-8``) with
  ``cost=3`` -> ``{"id": 123, "cnt": 1, "cost": "1.40", "balance": "4761.18"}``: the id,
  the SMS parts, their price and the balance left.
- Price: the same call with ``cost=1`` sends nothing -> ``{"cost": "1.40", "cnt": 1}``.
- Send a batch: the same script with ``list`` instead of ``phones`` and ``mes``: a line
  ``номер:текст`` per message (a line break inside a text written as the two characters
  ``\\n``, as the docs ask), and ``op=1`` to get each number's own outcome -> ``{"id": 124,
  "cnt": 3, "cost": "4.20", "balance": "...", "phones": [{"phone": "79031112233", "mccmnc":
  "25001", "cost": "1.40", "status": "0", "error": "0"}, ...]}``. One id for the whole
  request (SMSC.ru finds a message by id and number). A number it refused has a non-zero
  ``error`` or a refusal ``status`` (the codes of its status API: 20 cannot be delivered,
  22 wrong number, 23 forbidden, 24 no money, 25 unreachable; :data:`_PHONE_ERRORS`); a list
  of numbers all refused is error 7 or 8 for the whole request, as for one number.

Code 6 ("message forbidden") is REQUEST, not BAD_NUMBER: SMSC.ru refuses the text or the
sender name (or a mass mailing without a contract), which are the same for every recipient
of a run, so going on would only fail them all; the user must change the template or the
sender name, or settle it with SMSC.ru.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

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

NAME = "SMSC.ru"
PRICE_BATCH = 100  # numbers per cost=1 request

# SMSC.ru's error codes, in the words the user needs: what happened and what to do.
# Code 2 depends on the way of logging in and is written in _auth_failure; codes 7 and 8
# are about the number and written in _NUMBER_CODES.
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
        "сообщение запрещено шлюзом (по тексту или по имени отправителя; массовые и "
        "рекламные рассылки SMSC.ru разрешает только по договору). Проверьте текст шаблона и "
        "имя отправителя: имя должно быть согласовано в личном кабинете SMSC.ru. Если всё "
        "верно, обратитесь в поддержку SMSC.ru.",
    ),
    9: (
        FailureKind.RATE_LIMITED,
        "слишком много запросов подряд. Подождите минуту и повторите.",
    ),
}
# The codes about the number: that recipient fails, the run goes on.
_NUMBER_CODES: dict[int, str] = {
    7: "номер {phone} не принят (неверный формат). Исправьте номер в карточке клиента: нужен "
    "номер мобильного телефона, например +7 903 111-22-33.",
    8: "SMS на номер {phone} не может быть доставлено (номер недоступен для SMS или запрещён "
    "в настройках SMSC.ru). Проверьте номер в карточке клиента.",
}
# A refused number's "error" in a batch answer (op=1): the error codes of SMSC.ru's status
# API, those that are about the number. Others get a generic text with the code.
_PHONE_ERRORS: dict[int, str] = {
    1: "номер {phone} не существует. Проверьте номер в карточке клиента.",
    11: "номер {phone} не принимает SMS. Проверьте номер в карточке клиента: нужен номер "
    "мобильного телефона.",
    248: "на номер {phone} SMSC.ru не может доставить SMS (нет маршрута). Проверьте номер в "
    "карточке клиента.",
    249: "номер {phone} не принят (неверный формат). Исправьте номер в карточке клиента: нужен "
    "номер мобильного телефона, например +7 903 111-22-33.",
    250: "номер {phone} запрещён в настройках вашего аккаунта SMSC.ru, SMS на него не "
    "отправляется.",
    251: "на номер {phone} сегодня отправлено слишком много сообщений (лимит на один номер). "
    "Отправьте этому клиенту завтра.",
    252: "номер {phone} запрещён SMSC.ru (он в стоп-листе), SMS на него не отправляется. "
    "Уберите этого клиента из SMS-рассылок.",
}
_REFUSED_STATUSES = frozenset({20, 22, 23, 24, 25})  # status API: not sent to this number
_NO_MONEY_STATUS = 24
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

    def _call(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        phones: Sequence[str] = (),
        delivers: bool = False,
    ) -> dict[str, Any]:
        """Call one API script; the answer when it holds no error, else GatewayFailure.

        ``phones``: the numbers (E.164) the call is about, named in a BAD_NUMBER message.
        """
        answer = self._post(
            path,
            {**self._credentials(), **(params or {}), "fmt": "3", "charset": "utf-8"},
            delivers=delivers,
        )
        if "error" not in answer and "error_code" not in answer:
            return answer
        code = answer.get("error_code")
        if isinstance(code, str) and code.strip().isdigit():
            code = int(code)
        if isinstance(code, bool) or not isinstance(code, int):
            self._unreadable("ошибка без кода", uncertain=delivers)
        if code == 2:
            self._fail(FailureKind.AUTH, self._auth_failure(), code)
        if code in _NUMBER_CODES:
            if len(phones) == 1:
                text = _NUMBER_CODES[code].format(phone=phones[0])
            else:
                text = (
                    f"ни один из номеров ({len(phones)}) не принят (код {code}). Проверьте "
                    "номера в карточках клиентов: нужны номера мобильных телефонов."
                )
            self._fail(FailureKind.BAD_NUMBER, f"{NAME}: {text}", code)
        self._fail_for_code(code, _CODES, answer.get("error"))

    def _message_params(self, phones: str, text: str, cost: str) -> dict[str, str]:
        params = {"phones": phones, "mes": text, "cost": cost}
        if self.settings.sender:
            params["sender"] = self.settings.sender
        return params

    def balance(self) -> Balance:
        answer = self._call("/sys/balance.php", {"cur": "1"})
        amount = parse_amount(answer.get("balance"))
        if amount is None:
            self._unreadable("нет суммы на счёте")
        currency = str(answer.get("currency") or "RUB").strip().upper()
        return Balance(amount, _CURRENCIES.get(currency, currency))

    def send(self, phone: str, text: str) -> Sent:
        number = self._number(phone)
        # cost=3: send, and answer with the price and the balance left as well as the id.
        answer = self._call(
            "/sys/send.php",
            self._message_params(number, text, cost="3"),
            phones=(phone,),
            delivers=True,
        )
        message_id = answer.get("id")
        if isinstance(message_id, bool) or not isinstance(message_id, int | str):
            message_id = ""
        if not str(message_id).strip():
            self._unreadable("нет номера сообщения", uncertain=True)
        segments, cost = parse_count(answer.get("cnt")), parse_amount(answer.get("cost"))
        return Sent(str(message_id).strip(), segments, cost)

    def send_many(self, messages: Sequence[tuple[str, str]]) -> list[Sent | GatewayFailure]:
        numbers, results = self._batch_numbers(messages)
        if numbers:
            results.update(self._send_list(messages, numbers))
        return [results[index] for index in range(len(messages))]

    def _send_list(
        self, messages: Sequence[tuple[str, str]], numbers: dict[str, int]
    ) -> dict[int, Sent | GatewayFailure]:
        """One ``list`` request for the messages of ``numbers``; each one's result by index."""
        lines = [f"{number}:{_list_text(messages[index][1])}" for number, index in numbers.items()]
        # cost=3: the price and the balance too; op=1: each number's own outcome.
        params = {"list": "\n".join(lines), "cost": "3", "op": "1"}
        if self.settings.sender:
            params["sender"] = self.settings.sender
        phones = [messages[index][0] for index in numbers.values()]
        try:
            answer = self._call("/sys/send.php", params, phones=phones, delivers=True)
        except GatewayFailure as failure:
            if failure.kind is not FailureKind.BAD_NUMBER:
                raise
            return {  # every number refused (7 or 8): each message fails, naming its number
                index: self._refusal(
                    _NUMBER_CODES[failure.code or 7], messages[index][0], failure.code
                )
                for index in numbers.values()
            }
        message_id = answer.get("id")
        if isinstance(message_id, bool) or not isinstance(message_id, int | str):
            message_id = ""
        entries = answer.get("phones")
        if not str(message_id).strip() or not isinstance(entries, list):
            self._unreadable("нет сведений о номерах", uncertain=True)
        by_number = {
            "".join(ch for ch in str(entry.get("phone")) if ch.isdigit()): entry
            for entry in entries
            if isinstance(entry, dict)
        }
        segments = parse_count(answer.get("cnt")) if len(numbers) == 1 else None
        results: dict[int, Sent | GatewayFailure] = {}
        for number, index in numbers.items():
            phone = messages[index][0]
            try:
                results[index] = self._phone_result(
                    by_number.get(number), phone, str(message_id).strip(), segments
                )
            except GatewayFailure as failure:
                results[index] = failure
        return results

    def _phone_result(
        self, entry: dict[str, Any] | None, phone: str, message_id: str, segments: int | None
    ) -> Sent:
        """What one number's entry of a batch answer says: Sent, else its failure."""
        if entry is None:
            self._no_word_on(phone)
        error, status = _code(entry.get("error")), _code(entry.get("status"))
        if error is None or status is None:
            self._no_word_on(phone)
        if status == _NO_MONEY_STATUS:
            kind, text = _CODES[3]
            self._fail(kind, f"{NAME}: {text}", status)
        if error or status in _REFUSED_STATUSES:
            code = error or status
            template = _PHONE_ERRORS.get(error) or (
                f"SMS на номер {{phone}} не принято (код {code}). Проверьте номер в карточке "
                "клиента; если он верен, обратитесь в поддержку SMSC.ru, назвав этот код."
            )
            raise self._refusal(template, phone, code)
        return Sent(message_id, segments, parse_amount(entry.get("cost")))

    def _refusal(self, template: str, phone: str, code: int | None) -> GatewayFailure:
        """BAD_NUMBER for ``phone``, to return or raise."""
        return self._failure(
            FailureKind.BAD_NUMBER, f"{NAME}: {template.format(phone=phone)}", code
        )

    def price(self, phones: Sequence[str], text: str) -> Price:
        """Numbers SMSC.ru refuses (or not E.164) are left out; all refused: BAD_NUMBER."""
        numbers = {number: phone for phone in phones if (number := gateway_number(phone))}
        if phones and not numbers:
            self._number(phones[0])  # raises BAD_NUMBER naming it
        amount, segments = Decimal(0), 0
        refused: GatewayFailure | None = None
        priced = False
        batch_list = list(numbers)
        for start in range(0, len(batch_list), PRICE_BATCH):
            batch = batch_list[start : start + PRICE_BATCH]
            try:
                # cost=1: the price only, nothing is sent.
                answer = self._call(
                    "/sys/send.php",
                    self._message_params(",".join(batch), text, cost="1"),
                    phones=[numbers[number] for number in batch],
                )
            except GatewayFailure as failure:
                if failure.kind is not FailureKind.BAD_NUMBER:
                    raise
                refused = refused or failure  # every number of this batch is refused
                continue
            cost = parse_amount(answer.get("cost"))
            count = parse_count(answer.get("cnt"))
            if cost is None or count is None:
                self._unreadable("нет стоимости")
            amount += cost
            segments += count
            priced = True
        if refused is not None and not priced:
            raise refused
        return Price(amount, segments, "RUB")


def _list_text(text: str) -> str:
    """A text as a line of ``list``: its line breaks written as the two characters \\n."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")


def _code(value: object) -> int | None:
    """A status or error code of a batch answer (absent: 0), None when it cannot be read."""
    if value is None or value == "":
        return 0
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None
