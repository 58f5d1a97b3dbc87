"""What makes a template savable and sendable. Shared by the template form and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field

from avtoprokat_mail.model import Template
from avtoprokat_mail.placeholders import find_unknown
from avtoprokat_mail.sending.message import attachment_problems


@dataclass
class TemplateCheck:
    """``errors`` stop saving; ``warnings`` are shown and the user decides."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_template(template: Template) -> TemplateCheck:
    """Check a template before it is saved; every message is Russian and names its cause."""
    check = TemplateCheck()
    if not template.sms and not template.subject.strip():
        check.errors.append("Укажите тему письма: без темы письмо попадёт в спам.")
    if not template.body.strip():
        check.errors.append("Введите текст сообщения.")
    if template.sms and template.attachments:
        names = ", ".join(template.attachments)
        check.warnings.append(f"Приложения не отправляются по SMS и будут пропущены: {names}.")
    else:
        check.errors.extend(attachment_problems(template))
    check.warnings.extend(unknown_placeholder_messages(template))
    return check


def unknown_placeholder_messages(template: Template) -> list[str]:
    """One sentence per unknown %Word% in the subject (email only) and the body."""
    messages = []
    if not template.sms:
        messages += [u.describe("в теме") for u in find_unknown(template.subject)]
    messages += [u.describe("в сообщении") for u in find_unknown(template.body)]
    return messages
