"""Demo clients: a realistic directory to try the program on, generated here, not downloaded.

The data is generated from a fixed seed, so every call makes the same clients. About 5% carry
a bad email and 5% a bad mobile on purpose, to show the grid's highlighting and the offer to
normalise "8 (903) 111-22-33". Most clients gave their consent to mailings on some past day,
some did not, and a few addresses bounce (with the server's reason), as in a real directory.

Every demo address ends in ".example", a top-level name reserved by RFC 2606 that no mail
server serves ("ivanov@mail.ru.example"): the addresses look real and pass validation, but a
newcomer who sets up a real mailbox and presses "Старт" on the demo data mails nobody.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import sqlite3

from avtoprokat_mail.model import Client, ClientNotes, Template
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.storage import transaction
from avtoprokat_mail.validation import is_valid_email

SEED = 2026
# Consent and bounces come from their own stream: the clients themselves stay as they were.
_RETURNS_SEED = SEED + 1
_CONSENT_SHARE = 0.8
_CONSENT_FIRST = dt.date(2022, 1, 10)  # consents fall between these days, all long past
_CONSENT_DAYS = 1000
_BOUNCES = (
    ("2025-02-14", "550 5.1.1 Recipient address rejected: user unknown"),
    ("2025-03-03", "550 5.2.1 Mailbox disabled, not accepting messages"),
    ("2025-03-20", "552 5.2.2 Mailbox full: quota exceeded"),
)
DEMO_DOMAIN_SUFFIX = ".example"

# (male form, female form)
_SURNAMES = (
    ("Иванов", "Иванова"), ("Смирнов", "Смирнова"), ("Кузнецов", "Кузнецова"),
    ("Попов", "Попова"), ("Васильев", "Васильева"), ("Петров", "Петрова"),
    ("Соколов", "Соколова"), ("Михайлов", "Михайлова"), ("Новиков", "Новикова"),
    ("Фёдоров", "Фёдорова"), ("Морозов", "Морозова"), ("Волков", "Волкова"),
    ("Алексеев", "Алексеева"), ("Лебедев", "Лебедева"), ("Семёнов", "Семёнова"),
    ("Егоров", "Егорова"), ("Павлов", "Павлова"), ("Козлов", "Козлова"),
    ("Степанов", "Степанова"), ("Николаев", "Николаева"), ("Орлов", "Орлова"),
    ("Андреев", "Андреева"), ("Макаров", "Макарова"), ("Никитин", "Никитина"),
    ("Захаров", "Захарова"), ("Зайцев", "Зайцева"), ("Соловьёв", "Соловьёва"),
    ("Борисов", "Борисова"), ("Яковлев", "Яковлева"), ("Григорьев", "Григорьева"),
    ("Романов", "Романова"), ("Воробьёв", "Воробьёва"), ("Сергеев", "Сергеева"),
    ("Ковалёв", "Ковалёва"), ("Ильин", "Ильина"), ("Гусев", "Гусева"),
    ("Титов", "Титова"), ("Белов", "Белова"), ("Комаров", "Комарова"),
    ("Виноградов", "Виноградова"), ("Богданов", "Богданова"), ("Медведев", "Медведева"),
    ("Жуков", "Жукова"), ("Фролов", "Фролова"), ("Калинин", "Калинина"),
    ("Ершов", "Ершова"), ("Ткаченко", "Ткаченко"), ("Шевченко", "Шевченко"),
    ("Ким", "Ким"), ("Островский", "Островская"), ("Вишневский", "Вишневская"),
    ("Белоусов", "Белоусова"), ("Толстой", "Толстая"), ("Гончаров", "Гончарова"),
)  # fmt: skip
_MALE_NAMES = (
    "Александр", "Алексей", "Андрей", "Антон", "Артём", "Борис", "Вадим", "Виктор",
    "Владимир", "Дмитрий", "Евгений", "Иван", "Игорь", "Илья", "Кирилл", "Максим",
    "Михаил", "Николай", "Олег", "Павел", "Пётр", "Роман", "Сергей", "Юрий",
)  # fmt: skip
_FEMALE_NAMES = (
    "Анна", "Анастасия", "Валентина", "Виктория", "Галина", "Дарья", "Екатерина", "Елена",
    "Ирина", "Ксения", "Людмила", "Марина", "Мария", "Наталья", "Ольга", "Светлана",
    "Татьяна", "Юлия",
)  # fmt: skip
# Father's names as (male patronymic, female patronymic)
_PATRONYMICS = (
    ("Александрович", "Александровна"), ("Алексеевич", "Алексеевна"),
    ("Андреевич", "Андреевна"), ("Борисович", "Борисовна"), ("Викторович", "Викторовна"),
    ("Владимирович", "Владимировна"), ("Дмитриевич", "Дмитриевна"),
    ("Евгеньевич", "Евгеньевна"), ("Иванович", "Ивановна"), ("Игоревич", "Игоревна"),
    ("Михайлович", "Михайловна"), ("Николаевич", "Николаевна"), ("Олегович", "Олеговна"),
    ("Павлович", "Павловна"), ("Петрович", "Петровна"), ("Сергеевич", "Сергеевна"),
    ("Юрьевич", "Юрьевна"), ("Ильич", "Ильинична"),
)  # fmt: skip
_POSITIONS = (
    "Директор", "Генеральный директор", "Главный бухгалтер", "Бухгалтер",
    "Менеджер по закупкам", "Менеджер по персоналу", "Офис-менеджер", "Водитель",
    "Начальник транспортного отдела", "Коммерческий директор", "Инженер", "Логист",
    "Секретарь", "Юрист",
)  # fmt: skip
# (organisation words, its domain)
_COMPANIES = (
    ("Автотранс", "avtotrans"), ("Северный путь", "sevput"), ("СтройИнвест", "stroyinvest"),
    ("Волга-Логистик", "volga-logistic"), ("Ромашка", "romashka"),
    ("Техносервис", "tehnoservis"), ("Уральские дороги", "uraldorogi"),
    ("Меридиан", "meridian-group"), ("Альфа-Строй", "alfastroy"),
    ("Гранит", "granit-spb"), ("Сибирский лес", "siblesprom"), ("Интерфарм", "interfarm"),
    ("Балтийский берег", "baltbereg"), ("Вектор", "vektor-plus"), ("Горизонт", "gorizont-nn"),
    ("ТрансКом", "transkom"), ("Кубань-Агро", "kuban-agro"), ("Энергомаш", "energomash"),
    ("Дельта Трейд", "deltatrade"), ("Медицинский центр «Здоровье»", "zdorovie-med"),
)  # fmt: skip
_LEGAL_FORMS = ("ООО", "ООО", "ООО", "АО", "ПАО", "ЗАО")
_FREE_MAIL = ("mail.ru", "mail.ru", "yandex.ru", "gmail.com", "bk.ru", "list.ru", "inbox.ru")
# (city, area code, streets)
_CITIES = (
    ("Москва", "495", ("Тверская", "Профсоюзная", "Ленинский проспект", "Арбат", "Новослободская")),
    ("Москва", "499", ("Дмитровское шоссе", "Садовая-Кудринская", "Мясницкая")),
    ("Санкт-Петербург", "812", ("Невский проспект", "Садовая", "Лиговский проспект")),
    ("Екатеринбург", "343", ("Малышева", "Ленина", "8 Марта")),
    ("Новосибирск", "383", ("Красный проспект", "Кирова", "Большевистская")),
    ("Казань", "843", ("Баумана", "Пушкина", "Декабристов")),
    ("Нижний Новгород", "831", ("Большая Покровская", "Родионова")),
    ("Самара", "846", ("Ново-Садовая", "Молодогвардейская")),
    ("Ростов-на-Дону", "863", ("Большая Садовая", "Пушкинская")),
    ("Краснодар", "861", ("Красная", "Северная")),
)  # fmt: skip
_MOBILE_CODES = (
    "903", "905", "906", "909", "910", "915", "916", "917", "919", "921", "925", "926",
    "929", "950", "951", "960", "961", "977", "985", "999",
)  # fmt: skip
_NOTES = (
    "Постоянный клиент", "Скидка 10%", "Корпоративный договор", "Звонить после 18:00",
    "Интересуется минивэнами", "Аренда на месяц, продление", "Рекомендовал знакомым",
    "Был штраф ГИБДД, оплачен", "Предпочитает автомат", "Нужно детское кресло",
    "Оплата по безналу", "Трансфер в аэропорт",
)  # fmt: skip

_TRANSLIT = str.maketrans({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu",
    "я": "ya", "-": "", " ": "",
})  # fmt: skip


def translit(text: str) -> str:
    """Latin spelling of a Russian word for an email address: 'Фёдоров' -> 'fedorov'."""
    return text.lower().translate(_TRANSLIT)


DEMO_TEMPLATE_NOTE = "Демо-шаблон"
DEMO_TEMPLATES = (
    Template(
        subject="%Имя%, скидка 15% на аренду автомобилей до конца месяца",
        body=(
            "Здравствуйте, %Имя%!\n\n"
            "Для вас как для клиента нашего автопроката до конца месяца действует скидка 15% "
            "на аренду любого автомобиля от трёх суток. Бронирование по телефону "
            "+7 (495) 123-45-67 или ответом на это письмо.\n\n"
            "С уважением,\nотдел проката"
        ),
        note=f"{DEMO_TEMPLATE_NOTE}: скидка для постоянных клиентов",
    ),
    Template(
        subject="Напоминание о возврате автомобиля",
        body=(
            "Здравствуйте, %Имя%!\n\n"
            "Напоминаем, что срок аренды автомобиля заканчивается завтра. Если вы хотите "
            "продлить аренду, позвоните нам: +7 (495) 123-45-67.\n\nСпасибо, что выбрали нас!"
        ),
        note=f"{DEMO_TEMPLATE_NOTE}: напоминание",
    ),
    Template(
        sms=True,
        body="%Имя%, скидка 15% на аренду авто в выходные! Автопрокат, +74951234567",
        note=f"{DEMO_TEMPLATE_NOTE}: SMS о скидке",
    ),
)


def add_demo_data(conn: sqlite3.Connection) -> tuple[int, int]:
    """Demo clients and templates, each added once; returns (clients added, templates added)."""
    return fill_demo(conn), fill_demo_templates(conn)


def fill_demo_templates(conn: sqlite3.Connection) -> int:
    """Add the demo templates unless a template with the demo note is already there."""
    with transaction(conn):
        if any(t.note.startswith(DEMO_TEMPLATE_NOTE) for t in template_store.list_templates(conn)):
            return 0
        for template in DEMO_TEMPLATES:
            template_store.add_template(conn, dataclasses.replace(template))
    return len(DEMO_TEMPLATES)


def fill_demo(conn: sqlite3.Connection, count: int = 300) -> int:
    """Add ``count`` demo clients in one transaction; return how many were added.

    Idempotent: when any stored client has one of the demo emails (compared case-
    insensitively), the demo is taken as already there and nothing is added (returns 0).
    Checking the whole set rather than one marker row or a note survives the user editing
    or deleting some demo clients; only when every demo client is gone does a new call add
    them again, which is what asking for demo data then means.
    """
    clients = demo_clients(count)
    demo_emails = {client.email.casefold() for client in clients if client.email}
    with transaction(conn):
        by_email, _ = client_store.identity_index(conn)
        if not demo_emails.isdisjoint(by_email):
            return 0
        client_store.add_clients(conn, clients)
        client_store.write_notes(conn, [(c.id, notes) for c, notes in bounce_notes(clients)])
    return len(clients)


def demo_clients(count: int = 300) -> list[Client]:
    """The demo clients, the same on every call for the same ``count``."""
    rnd = random.Random(SEED)
    used_emails: set[str] = set()
    clients = [_client(rnd, used_emails) for _ in range(count)]
    _add_returns(clients)
    return clients


def _add_returns(clients: list[Client]) -> None:
    """Consent to most clients on some past day; a few valid addresses bounce."""
    rnd = random.Random(_RETURNS_SEED)
    for client in clients:
        if rnd.random() < _CONSENT_SHARE:
            day = _CONSENT_FIRST + dt.timedelta(days=rnd.randrange(_CONSENT_DAYS))
            client.consent = day.isoformat()
    reachable = [c for c in clients if c.email and is_valid_email(c.email) and not c.opt_out]
    for client in rnd.sample(reachable, min(len(_BOUNCES), len(reachable))):
        client.bounced = True


def bounce_notes(clients: list[Client]) -> list[tuple[Client, ClientNotes]]:
    """The bounced demo clients with the day and the server's reason of their bounce."""
    bounced = [c for c in clients if c.bounced]
    return [
        (client, ClientNotes(bounce_date=date, bounce_reason=reason))
        for client, (date, reason) in zip(bounced, _BOUNCES, strict=False)
    ]


def _client(rnd: random.Random, used_emails: set[str]) -> Client:
    female = rnd.random() < 0.4
    surname = rnd.choice(_SURNAMES)[female]
    first = rnd.choice(_FEMALE_NAMES if female else _MALE_NAMES)
    patronymic = rnd.choice(_PATRONYMICS)[female]
    city, area, streets = rnd.choice(_CITIES)
    client = Client(surname=surname, name=f"{first} {patronymic}")
    domain = _employment(rnd, client, surname, first, patronymic)
    client.email = _email(rnd, surname, first, domain, used_emails)
    client.mobile = _mobile(rnd)
    if client.organization and rnd.random() < 0.7:
        client.phone = (
            f"+7 ({area}) {rnd.randint(200, 999)}-{rnd.randint(10, 99)}-{rnd.randint(10, 99)}"
        )
    client.address = _address(rnd, city, streets, office=bool(client.organization))
    if rnd.random() < 0.3:
        client.note = rnd.choice(_NOTES)
    client.marked = rnd.random() < 0.2
    client.opt_out = rnd.random() < 0.03
    _spoil(rnd, client)
    return client


def _employment(
    rnd: random.Random, client: Client, surname: str, first: str, patronymic: str
) -> str:
    """Set position and organisation; return the email domain fitting them."""
    kind = rnd.random()
    if kind < 0.2:  # a private person
        return rnd.choice(_FREE_MAIL)
    if kind < 0.32:  # a sole trader
        client.position = "Индивидуальный предприниматель"
        client.organization = f"ИП {surname} {first[0]}. {patronymic[0]}."
        return rnd.choice(_FREE_MAIL)
    words, domain = rnd.choice(_COMPANIES)
    form = rnd.choice(_LEGAL_FORMS)
    client.organization = f"{form} «{words}»" if "«" not in words else f"{form} {words}"
    client.position = rnd.choice(_POSITIONS)
    return f"{domain}.ru" if rnd.random() < 0.6 else rnd.choice(_FREE_MAIL)


def _email(rnd: random.Random, surname: str, first: str, domain: str, used: set[str]) -> str:
    if rnd.random() < 0.06:
        return ""  # a client known only by phone
    last, given = translit(surname), translit(first)
    local = rnd.choice(
        (
            f"{given}.{last}",
            f"{last}.{given[0]}",
            f"{given[0]}.{last}",
            f"{last}{rnd.randint(70, 99)}",
            f"{last}_{given}",
        )
    )
    domain += DEMO_DOMAIN_SUFFIX
    address = f"{local}@{domain}"
    suffix = 1
    while address.casefold() in used:
        suffix += 1
        address = f"{local}{suffix}@{domain}"
    used.add(address.casefold())
    return address


def _mobile(rnd: random.Random) -> str:
    if rnd.random() < 0.05:
        return ""
    return f"+7{rnd.choice(_MOBILE_CODES)}{rnd.randint(0, 9_999_999):07d}"


def _address(rnd: random.Random, city: str, streets: tuple[str, ...], *, office: bool) -> str:
    if rnd.random() < 0.1:
        return ""
    street = rnd.choice(streets)
    place = "ул. " + street if "проспект" not in street and "шоссе" not in street else street
    tail = f", оф. {rnd.randint(1, 450)}" if office else f", кв. {rnd.randint(1, 300)}"
    return f"г. {city}, {place}, д. {rnd.randint(1, 120)}{tail if rnd.random() < 0.8 else ''}"


def _spoil(rnd: random.Random, client: Client) -> None:
    """Make about 5% of the emails and 5% of the mobiles wrong, as real directories are."""
    if client.email and rnd.random() < 0.06:
        local, domain = client.email.split("@")
        client.email = rnd.choice(
            (
                f"{local}@{domain.split('.', 1)[0]}",  # ivanov@mail
                f"{local}.{domain}",  # ivanov.mail.ru
                f"{local}@@{domain}",  # ivanov@@mail.ru
                f"{local}@{domain.replace('.', '..')}",  # ivanov@mail..ru
                f"{local} @{domain}",  # a stray space
            )
        )
    if client.mobile and rnd.random() < 0.05:
        digits = client.mobile[2:]
        client.mobile = rnd.choice(
            (
                f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}",  # not normalised
                f"8{digits}",
                digits[-5:],  # "12345": too short
            )
        )
