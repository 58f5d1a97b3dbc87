"""Passwords: in the operating system's credential store, never in the database or a file.

On Windows ``keyring`` uses the Credential Manager. Where no secure store exists (a headless
Linux box), a password lives in memory for this session only and the program says so. For
automation, ``AVTOPROKAT_MAIL_PASSWORD`` / ``AVTOPROKAT_MAIL_SMS_PASSWORD`` override (docs/cli.md).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING

from avtoprokat_mail.model import EmailSettings, ImapSettings, SmsSettings

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

# keyring is imported where a password is first read or stored: importing it and finding its
# backends costs some 80 ms, which a command that needs no password should not pay.

SERVICE = "avtoprokat_mail"
SMTP_PASSWORD_ENV = "AVTOPROKAT_MAIL_PASSWORD"
SMS_PASSWORD_ENV = "AVTOPROKAT_MAIL_SMS_PASSWORD"
NO_SECURE_STORE = (
    "В этой системе нет защищённого хранилища паролей, поэтому пароль не сохраняется: "
    "программа спросит его один раз за сеанс работы."
)


class CredentialsError(Exception):
    """The credential store failed; ``str()`` is a Russian message without the password."""


def smtp_account(settings: EmailSettings) -> str:
    """The credential-store name of the SMTP password: changes with the login and the server."""
    return f"smtp:{settings.user}@{settings.host}"


IMAP_PASSWORD_ENV = "AVTOPROKAT_MAIL_IMAP_PASSWORD"


def imap_account(imap: ImapSettings, email: EmailSettings) -> str:
    """The credential-store account of the INBOX login (its own password, when one is set)."""
    return f"imap:{imap.user or email.user}@{imap.host}"


def sms_account(settings: SmsSettings) -> str:
    """The credential-store name of the SMS gateway's secret (API key or password)."""
    return f"sms:{settings.provider.value}:{settings.login}"


def is_secure(backend: KeyringBackend) -> bool:
    """True for a real credential store; False for keyring's "fail" backend and plain files."""
    from keyring.backends import chainer, fail

    if isinstance(backend, fail.Keyring):
        return False
    if isinstance(backend, chainer.ChainerBackend):
        return any(is_secure(b) for b in backend.backends)
    return not type(backend).__module__.startswith("keyrings.alt")  # plaintext-file backends


class PasswordStore:
    """Where the program keeps passwords: the OS store when secure, else this session's memory."""

    def __init__(self, backend: KeyringBackend | None = None) -> None:
        self._backend = backend
        self._session: dict[str, str] = {}

    @cached_property
    def backend(self) -> KeyringBackend:
        if self._backend is not None:
            return self._backend
        import keyring

        return keyring.get_keyring()

    @cached_property
    def secure(self) -> bool:
        return is_secure(self.backend)

    def get(self, account: str) -> str | None:
        if not self.secure:
            return self._session.get(account)
        from keyring.errors import KeyringError

        try:
            return self.backend.get_password(SERVICE, account)
        except KeyringError as error:
            raise CredentialsError(f"Хранилище паролей недоступно: {error}") from None

    def set(self, account: str, password: str) -> None:
        if not self.secure:
            self._session[account] = password
            return
        from keyring.errors import KeyringError

        try:
            self.backend.set_password(SERVICE, account, password)
        except KeyringError as error:
            raise CredentialsError(f"Не удалось сохранить пароль в хранилище: {error}") from None

    def delete(self, account: str) -> None:
        if not self.secure:
            self._session.pop(account, None)
            return
        from keyring.errors import KeyringError, PasswordDeleteError

        try:
            self.backend.delete_password(SERVICE, account)
        except PasswordDeleteError:
            pass  # nothing stored: already gone
        except KeyringError as error:
            raise CredentialsError(f"Не удалось удалить пароль из хранилища: {error}") from None

    def is_set(self, account: str) -> bool:
        return bool(self.get(account))


def resolve_password(
    store: PasswordStore, account: str, env_name: str, environ: Mapping[str, str] = os.environ
) -> str | None:
    """The password to use now: the environment's (automation) first, then the store's."""
    return environ.get(env_name) or store.get(account)
