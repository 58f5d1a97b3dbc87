"""A local SMTP server for the Windows build's checks: keeps every message it gets as a file.

    python3 packaging/smtp_sink.py FOLDER [--auth]

Listens on 127.0.0.1 on a free port, writes the port to FOLDER/port once it listens, and
saves each message as FOLDER/N.eml (the bytes as received, with the envelope recipients in
FOLDER/N.rcpt) until it is stopped. No TLS: the .exe under Wine reaches it on the loopback with
«без шифрования». With ``--auth`` it requires AUTH (PLAIN or LOGIN, in the clear), takes any
password and writes the last login and password it got to FOLDER/auth (UTF-8, one per line):
the password the program took from the system's store, seen from outside.
"""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
import warnings
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Keeper:
    def __init__(self, folder: Path) -> None:
        self.folder, self.count, self.lock = folder, 0, threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        with self.lock:
            self.count += 1
            number = self.count
        (self.folder / f"{number}.rcpt").write_text("\n".join(envelope.rcpt_tos), "utf-8")
        (self.folder / f"{number}.eml").write_bytes(envelope.original_content)
        return "250 2.0.0 Принято"


class Recorder:
    """An aiosmtpd authenticator that accepts anyone and remembers what it was given."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = (part.decode("utf-8") for part in (auth_data.login, auth_data.password))
        (self.folder / "auth").write_text(f"{login}\n{password}\n", "utf-8")
        return AuthResult(success=True)


def main() -> int:
    warnings.simplefilter("ignore")  # aiosmtpd warns of AUTH without TLS: that is the point
    logging.getLogger("mail.log").setLevel(logging.ERROR)  # and logs it too
    folder = Path(sys.argv[1])
    auth = {}
    if "--auth" in sys.argv[2:]:
        auth = {"authenticator": Recorder(folder), "auth_required": True,
                "auth_require_tls": False}  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    with socket.socket() as probe:  # a free port (aiosmtpd cannot listen on port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        Keeper(folder), hostname="127.0.0.1", port=port, enable_SMTPUTF8=True, **auth
    )
    controller.start()
    (folder / "port").write_text(str(controller.port), "ascii")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
