"""A local SMTP server for the Windows build's checks: keeps every message it gets as a file.

    python3 packaging/smtp_sink.py FOLDER

Listens on 127.0.0.1 on a free port, writes the port to FOLDER/port once it listens, and
saves each message as FOLDER/N.eml (the bytes as received, with the envelope recipients in
FOLDER/N.rcpt) until it is stopped. No TLS and no AUTH: the .exe under Wine reaches it on the
loopback with «без шифрования» and no login.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
from pathlib import Path

from aiosmtpd.controller import Controller


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


def main() -> int:
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    with socket.socket() as probe:  # a free port (aiosmtpd cannot listen on port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Keeper(folder), hostname="127.0.0.1", port=port, enable_SMTPUTF8=True)
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
