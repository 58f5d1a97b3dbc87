"""Plain records shared by every layer."""

from __future__ import annotations

from dataclasses import dataclass, fields

# The text fields of a client, in the order the grid, the form and the exports show them,
# with their Russian labels (SPEC §1).
CLIENT_TEXT_FIELDS: tuple[str, ...] = (
    "surname",
    "name",
    "position",
    "organization",
    "email",
    "mobile",
    "phone",
    "address",
    "note",
)
CLIENT_LABELS: dict[str, str] = {
    "surname": "Фамилия",
    "name": "Имя",
    "position": "Должность",
    "organization": "Наименование",
    "email": "Email",
    "mobile": "Сотовый телефон",
    "phone": "Телефон",
    "address": "Адрес",
    "note": "Примечание",
    "marked": "Отметка",
    "opt_out": "Отказ от рассылки",
}


@dataclass(slots=True)
class Client:
    """One record of the client directory. ``id`` is None until the client is stored.

    Slotted: an import plan of 100,000 clients is some 60 MB smaller without instance dicts.
    """

    surname: str = ""
    name: str = ""  # имя и отчество
    position: str = ""
    organization: str = ""
    email: str = ""
    mobile: str = ""
    phone: str = ""
    address: str = ""
    note: str = ""
    marked: bool = False
    opt_out: bool = False
    id: int | None = None

    @property
    def display_name(self) -> str:
        """Surname and name as a person would write them, for lists and messages."""
        return " ".join(part for part in (self.surname, self.name) if part)


CLIENT_FIELD_NAMES = tuple(f.name for f in fields(Client))


@dataclass(slots=True)
class Template:
    """A message template of the mailing window (SPEC §3). Times are ISO 8601 local strings."""

    subject: str = ""
    body: str = ""
    sms: bool = False
    attachment1: str = ""  # file paths; "" when not set
    attachment2: str = ""
    note: str = ""
    created: str = ""  # set by the database when stored
    sent: str = ""  # when the last run of this template finished; "" if never
    id: int | None = None

    @property
    def attachments(self) -> list[str]:
        """The attachment paths that are set, in order."""
        return [path for path in (self.attachment1, self.attachment2) if path]
