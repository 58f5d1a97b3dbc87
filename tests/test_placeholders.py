"""Placeholders: rendering, unknown names with their position, and header injection."""

from __future__ import annotations

import email
from email import policy

import pytest

from avtoprokat_mail.model import Client, Template
from avtoprokat_mail.placeholders import (
    UnknownPlaceholder,
    clean_header_value,
    fields_without_default,
    find_unknown,
    missing_fields,
    render,
)
from avtoprokat_mail.sending.message import Sender, build_email

CLIENT = Client(
    surname="Петров",
    name="Иван Ильич",
    position="Директор",
    organization="ООО «Ромашка»",
    email="petrov@romashka.ru",
)
SENDER = Sender("Офис", "office@avtoprokat.ru")


# --- rendering ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("%Имя%", "Иван Ильич"),
        ("%Должность%", "Директор"),
        ("%Наименование%", "ООО «Ромашка»"),
        ("%Имя%, %Должность% в %Наименование%", "Иван Ильич, Директор в ООО «Ромашка»"),
    ],
)
def test_each_placeholder_in_body_and_subject(text: str, expected: str) -> None:
    assert render(text, CLIENT) == expected
    assert render(text, CLIENT, header=True) == expected


@pytest.mark.parametrize("text", ["%имя%", "%ИМЯ%", "%иМя%"])
def test_placeholder_names_ignore_case(text: str) -> None:
    assert render(text, CLIENT) == "Иван Ильич"
    assert find_unknown(text) == []


def test_placeholder_names_treat_yo_as_ye() -> None:
    assert render("%Наименованиё%", CLIENT) == "ООО «Ромашка»"
    assert find_unknown("%НАИМЕНОВАНИЁ%") == []


def test_missing_client_fields_become_empty() -> None:
    client = Client(name="Анна")
    assert render("[%Должность%|%Наименование%]", client) == "[|]"
    assert render("%Имя%, %Должность%", client, header=True) == "Анна,"


def test_body_keeps_its_lines_and_the_subject_is_one_line() -> None:
    text = "Здравствуйте, %Имя%!\n\nВаша должность: %Должность%\n"
    assert render(text, CLIENT) == "Здравствуйте, Иван Ильич!\n\nВаша должность: Директор\n"
    assert render("Тема\r\nвторая строка", CLIENT, header=True) == "Тема вторая строка"


def test_adjacent_and_doubled_percent_signs() -> None:
    assert render("%Имя%%Должность%", CLIENT) == "Иван ИльичДиректор"
    assert render("%%Имя%%", CLIENT) == "%Иван Ильич%"


# --- unknown placeholders --------------------------------------------------------------------
def test_unknown_placeholder_is_left_as_written() -> None:
    assert render("Привет, %Фамилия%!", CLIENT) == "Привет, %Фамилия%!"
    assert render("Привет, %Фамилия%!", CLIENT, header=True) == "Привет, %Фамилия%!"


def test_find_unknown_reports_line_and_column() -> None:
    text = "Здравствуйте, %Имя%!\nСкидка %Процент% и %Срок_2%\n\n  %Город%"
    assert find_unknown(text) == [
        UnknownPlaceholder("%Процент%", 2, 8),
        UnknownPlaceholder("%Срок_2%", 2, 20),
        UnknownPlaceholder("%Город%", 4, 3),
    ]


def test_find_unknown_on_the_first_column() -> None:
    assert find_unknown("%Foo%") == [UnknownPlaceholder("%Foo%", 1, 1)]


def test_unknown_placeholder_description_is_russian_with_position() -> None:
    message = UnknownPlaceholder("%Город%", 3, 7).describe("в сообщении")
    assert message == (
        "Неизвестное обозначение %Город% в сообщении (строка 3, позиция 7). "
        "Можно использовать: %Имя%, %Должность%, %Наименование%; "
        "с текстом на случай пустого поля: %Должность|сотрудник%."
    )


# --- literal percent signs --------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "скидка 20%",
        "20%–30%",
        "100%",
        "%",
        "50 % скидка",
        "20%Имя",  # no closing percent sign
        "%1abc%",  # a digit right after the first % is not a placeholder
        "%_x%",  # nor is "_"
        "%Иначе %",  # nor an unknown word followed by a space (a known one is reported)
        "скидка 20% и ещё 30%",
    ],
)
def test_percent_signs_that_are_not_placeholders_stay(text: str) -> None:
    assert render(text, CLIENT) == text
    assert render(text, CLIENT, header=True) == text.strip()
    assert find_unknown(text) == []


def test_percent_after_a_number_then_a_placeholder() -> None:
    # "20%Имя%": a letter follows the first %, so %Имя% is a placeholder (documented rule).
    assert render("20%Имя%", CLIENT) == "20Иван Ильич"
    assert render("скидка 20%, %Имя%", CLIENT) == "скидка 20%, Иван Ильич"


# --- header values ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Анна-Мария О'Нил", "ООО «Ромашка»", "Иванов И. И.", "A&B (1)"])
def test_clean_header_value_leaves_ordinary_names(name: str) -> None:
    assert clean_header_value(name) == name


def test_clean_header_value_breaks_encoded_words_and_lines() -> None:
    assert clean_header_value("=?UTF-8?Q?=0A?=Bcc: x@y") == "= ?UTF-8?Q? =0A? =Bcc: x@y"
    assert clean_header_value("Иван\nBcc: evil@x.ru") == "Иван Bcc: evil@x.ru"
    assert clean_header_value("\r\nX-Evil: 1") == "X-Evil: 1"


# --- header injection through a real message -------------------------------------------------
INJECTING_CLIENTS = [
    Client(name="=?UTF-8?Q?=0A?=Bcc: x@y", position="\r\nX-Evil: 1", email="a@example.ru"),
    Client(name="Иван\nBcc: evil@x.ru", position="\r\nX-Evil: 1", email="a@example.ru"),
    Client(
        surname="=?UTF-8?Q?=0A?=X-Evil: 1",
        name="Иван",
        organization="=?utf-8?b?CkJjYzogeEB5?=",
        email="a@example.ru",
    ),
]


@pytest.mark.parametrize("client", INJECTING_CLIENTS)
def test_client_data_cannot_inject_headers(client: Client) -> None:
    template = Template(
        subject="%Имя%: предложение для %Должность% %Наименование%",
        body="Здравствуйте, %Имя%!",
    )

    data = build_email(template, client, SENDER, []).as_bytes()

    parsed = email.message_from_bytes(data, policy=policy.default)
    assert parsed["Bcc"] is None
    assert parsed["X-Evil"] is None
    assert len(parsed.get_all("To")) == 1
    assert len(parsed["To"].addresses) == 1
    assert parsed["To"].addresses[0].addr_spec == "a@example.ru"
    header_block = data.split(b"\r\n\r\n", 1)[0]
    for line in header_block.split(b"\r\n"):
        assert not line.lower().startswith((b"bcc:", b"x-evil:")), line


def test_injection_attempt_arrives_as_visible_text() -> None:
    client = INJECTING_CLIENTS[1]
    template = Template(subject="Для %Имя%, %Должность%", body="x")

    parsed = email.message_from_bytes(
        build_email(template, client, SENDER, []).as_bytes(), policy=policy.default
    )

    assert parsed["Subject"] == "Для Иван Bcc: evil@x.ru, X-Evil: 1"
    assert parsed["To"].addresses[0].display_name == "Иван Bcc: evil@x.ru"


@pytest.mark.parametrize(
    ("text", "written", "column", "meant"),
    [
        ("Привет, %Имя %!", "%Имя %", 9, "%Имя%"),
        ("% Должность% компании", "% Должность%", 1, "%Должность%"),
        ("скидка 20% для %Наименование %", "%Наименование %", 16, "%Наименование%"),
    ],
)
def test_a_known_name_written_with_a_space_is_reported(text, written, column, meant) -> None:
    (found,) = find_unknown(text)
    assert (found.text, found.line, found.column, found.meant) == (written, 1, column, meant)
    assert f"должно быть {meant}" in found.describe("в сообщении")


@pytest.mark.parametrize("text", ["скидка 20 % и 30 %", "50 % скидка", "% и %", "%Имя% и 100 %"])
def test_percent_signs_around_ordinary_words_are_not_reported(text) -> None:
    assert find_unknown(text) == []


# --- defaults: %Должность|сотрудник% -----------------------------------------------------------
NO_POSITION = Client(name="Анна", position="", organization="ООО «Ромашка»")


def test_a_default_stands_in_for_an_empty_field_only() -> None:
    text = "Вам, как %Должность|сотрудник% компании (%Наименование|вашей%), …"
    assert render(text, NO_POSITION) == "Вам, как сотрудник компании (ООО «Ромашка»), …"
    assert render(text, CLIENT) == "Вам, как Директор компании (ООО «Ромашка»), …"


@pytest.mark.parametrize("blank", [" ", "  \t ", None])
def test_a_blank_field_takes_the_default(blank) -> None:
    client = Client(name="Анна", position=blank)
    assert render("%Должность|сотрудник%", client) == "сотрудник"
    assert render("Для %Должность|сотрудник%", client, header=True) == "Для сотрудник"


def test_a_default_may_hold_spaces_cyrillic_and_punctuation() -> None:
    text = "%Имя|уважаемый клиент, «коллега» (ИП/ООО) — 100 ₽!%"
    assert render(text, Client()) == "уважаемый клиент, «коллега» (ИП/ООО) — 100 ₽!"
    assert find_unknown(text) == []


def test_an_empty_default_means_empty_on_purpose() -> None:
    assert render("[%Должность|%]", NO_POSITION) == "[]"
    assert render("[%Должность|%]", CLIENT) == "[Директор]"
    assert find_unknown("%Должность|%") == []
    assert missing_fields("%Должность|%", NO_POSITION) == []


def test_default_names_ignore_case_and_yo() -> None:
    assert render("%ДОЛЖНОСТЬ|сотрудник% %наименованиё|компания%", Client()) == (
        "сотрудник компания"
    )
    assert find_unknown("%ДОЛЖНОСТЬ|сотрудник% %наименованиё|компания%") == []


def test_a_default_ends_at_the_line() -> None:
    text = "%Должность|сотрудник\nкомпании%"
    assert render(text, NO_POSITION) == text
    assert find_unknown(text) == []
    assert render("%Должность|сотрудник%\nкомпании%", NO_POSITION) == "сотрудник\nкомпании%"


def test_a_hostile_default_is_cleaned_in_a_header_like_client_data() -> None:
    text = "%Имя|=?UTF-8?Q?=0A?=Bcc: x@y%"
    assert render(text, Client(), header=True) == "= ?UTF-8?Q? =0A? =Bcc: x@y"
    assert render(text, Client()) == "=?UTF-8?Q?=0A?=Bcc: x@y"  # the body is not a header


def test_a_hostile_default_cannot_inject_a_header() -> None:
    template = Template(subject="Для %Имя|=?UTF-8?Q?=0A?=Bcc: x@y%", body="x")
    client = Client(email="a@example.ru")
    parsed = email.message_from_bytes(
        build_email(template, client, SENDER, []).as_bytes(), policy=policy.default
    )
    assert parsed["Bcc"] is None
    assert parsed["Subject"] == "Для = ?UTF-8?Q? =0A? =Bcc: x@y"


def test_an_unknown_name_with_a_default_is_reported_as_written() -> None:
    text = "Ваш город: %Город|Москва%.\n%Должность|сотрудник%"
    assert find_unknown(text) == [UnknownPlaceholder("%Город|Москва%", 1, 12)]
    assert render(text, NO_POSITION) == "Ваш город: %Город|Москва%.\nсотрудник"


@pytest.mark.parametrize(
    ("text", "written", "meant"),
    [
        ("Вам, как %Должность |сотрудник%", "%Должность |сотрудник%", "%Должность|сотрудник%"),
        ("% Имя|клиент%!", "% Имя|клиент%", "%Имя|клиент%"),
        ("%Наименование |%", "%Наименование |%", "%Наименование|%"),
    ],
)
def test_a_spaced_name_with_a_default_is_reported(text, written, meant) -> None:
    (found,) = find_unknown(text)
    assert (found.text, found.meant) == (written, meant)
    assert f"должно быть {meant}" in found.describe("в сообщении")


def test_fields_without_default_in_order_of_use() -> None:
    text = "%Наименование|компания% %должность% %Имя|клиент% %Имя% %Должность% %Город%"
    assert fields_without_default(text) == ["Должность", "Имя"]
    assert fields_without_default("%Должность|сотрудник% %Наименование|%") == []
    assert fields_without_default("%Имя %") == []  # spaced: reported by find_unknown instead


def test_missing_fields_skips_a_field_covered_by_a_default_everywhere() -> None:
    client = Client(name="", position="", organization="")
    assert missing_fields("%Должность|сотрудник% %Имя%", client) == ["Имя"]
    assert missing_fields("%Должность|сотрудник%, %Должность|сотрудник%", client) == []
    # Once with a default and once without: the second use would be empty.
    assert missing_fields("%Должность|сотрудник%, %Должность%", client) == ["Должность"]
    assert missing_fields("%Должность%, %Должность|сотрудник%", NO_POSITION) == ["Должность"]
    assert missing_fields("%Должность% %Наименование%", NO_POSITION) == ["Должность"]
    # A default ends at the first "%": «%Имя|%» is an empty default, «Должность%» plain text.
    assert missing_fields("%Имя|%Должность%", client) == []
