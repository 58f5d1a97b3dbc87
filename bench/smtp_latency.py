"""Sending over a slow link: what SMTP PIPELINING (RFC 2920) gains per connection.

    python3 bench/smtp_latency.py [--messages 500] [--delay-ms 25] [--size 2048]

A local SMTP sink that offers PIPELINING sits behind a TCP proxy that holds every chunk
``--delay-ms`` in each direction (25 ms: a 50 ms round trip, a server in another city). Both
run in a child process, so they do not compete with the measured code for this process's GIL.
The same prebuilt ~2 KB messages (bytes, as EmailFactory builds them) go out over one
connection each time:

- smtplib: ``SMTP.sendmail`` per message, the baseline: MAIL, RCPT, DATA and the message each
  wait for their reply, four round trips a message;
- transport: the program's ``SmtpTransport.send`` per message; with PIPELINING offered MAIL,
  RCPT and DATA go out together: two round trips a message;
- transport, no PIPELINING (for information): the same with the sink not offering it, so the
  old path: it should match the baseline;
- send_batch: ``SmtpTransport.send_batch`` with ``batch_size`` (4) messages a handover: each
  message's content goes out with the next one's MAIL, RCPT and DATA, so 4 messages take 5
  round trips: expect a little under 4 / 1.25 = 3.2x.

Then the program's whole engine: a real run (``Campaign``: the journal, the personal messages
built from a template with a ~20 KB attachment, the limits) of ``--messages`` clients through
the same proxy with «Одновременных соединений» 1 and 4, against the baseline loop sending those
very messages (built beforehand) over one connection. Targets: 1 connection ≥ 2x the baseline,
4 connections ≥ 5x.

Timed from the first message to the last reply (connecting and EHLO not included). The sink
checks that it got every message byte for byte; the run fails (exit 1) when it did not.
Prints messages a second of each and the ratio pipelined / baseline (2 round trips against 4:
expect a little under 2). Measured (500 messages of 2.1 KB, 50 ms round trip, Python 3.11):
smtplib 4.8 msg/s, SmtpTransport with PIPELINING 9.6 msg/s (2.01x), without it 4.8 msg/s.

Measured with send_batch (``--messages 200``, 2.1 KB, 50 ms round trip, Python 3.11.7, one
run on a shared 2-core machine): smtplib 4.9 msg/s; SmtpTransport.send with PIPELINING 9.7
msg/s (1.99x), without it 4.9 msg/s (1.00x); SmtpTransport.send_batch 15.6 msg/s (3.20x).
The engine, 200 personal messages of 31 KB: smtplib 4.9 msg/s; a run with 1 connection 15.0
msg/s (3.09x, target >= 2x; batches of 4 through send_batch); with 4 connections 50.2 msg/s
(10.34x, target >= 5x).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import random
import smtplib
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))  # send_throughput's helpers

from avtoprokat_mail.model import Delivery, EmailSettings, Security
from avtoprokat_mail.sending.campaign import Campaign
from avtoprokat_mail.sending.smtp import SmtpTransport

HOST = "127.0.0.1"
SENDER = "office@avtoprokat.ru"


# --- the child: a sink and a proxy in front of it -------------------------------------------------
class Sink(asyncio.Protocol):
    """Just enough SMTP to take messages: each one's SHA-256 is kept (dots unstuffed)."""

    def __init__(self, pipelining: bool, digests: list[str]) -> None:
        self.pipelining, self.digests = pipelining, digests
        self.pending, self.body = b"", None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._say(b"220 sink ESMTP")

    def _say(self, *lines: bytes) -> None:
        self.transport.write(b"".join(line + b"\r\n" for line in lines))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        self.pending += data
        while b"\n" in self.pending:
            line, self.pending = self.pending.split(b"\n", 1)
            if self.body is not None:
                if line == b".\r":
                    self.digests.append(hashlib.sha256(self.body).hexdigest())
                    self.body = None
                    self._say(b"250 2.0.0 Ok: queued")
                else:
                    self.body += (line[1:] if line.startswith(b".") else line) + b"\n"
                continue
            verb = line[:4].upper()
            if verb == b"EHLO":
                offered = [b"250-sink", b"250-SIZE 10240000", b"250-8BITMIME"]
                offered += [b"250-PIPELINING"] if self.pipelining else []
                self._say(*offered, b"250 ENHANCEDSTATUSCODES")
            elif verb == b"DATA":
                self.body = b""
                self._say(b"354 End data with <CR><LF>.<CR><LF>")
            elif verb == b"QUIT":
                self._say(b"221 2.0.0 Bye")
                self.transport.close()
            else:  # MAIL, RCPT, RSET, NOOP: all fine
                self._say(b"250 2.0.0 Ok")


async def _delayed_pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
) -> None:
    """Copy reader to writer, each chunk ``delay`` seconds late, in order."""
    chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, chunk = await chunks.get()
            if not chunk:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            writer.write(chunk)
            await writer.drain()
        writer.close()

    delivering = asyncio.create_task(deliver())
    while chunk := await reader.read(65536):
        chunks.put_nowait((time.monotonic() + delay, chunk))
    chunks.put_nowait((0.0, b""))
    await delivering


async def _serve(pipe: Connection, delay: float) -> None:
    loop = asyncio.get_running_loop()
    digests: dict[bool, list[str]] = {True: [], False: []}
    ports = {}
    for pipelining in (True, False):
        sink = await loop.create_server(lambda p=pipelining: Sink(p, digests[p]), HOST, 0)
        sink_port = sink.sockets[0].getsockname()[1]

        async def relay(reader, writer, port=sink_port) -> None:
            up_reader, up_writer = await asyncio.open_connection(HOST, port)
            try:
                await asyncio.gather(
                    _delayed_pipe(reader, up_writer, delay),
                    _delayed_pipe(up_reader, writer, delay),
                )
            except (asyncio.CancelledError, ConnectionError):
                return  # the bench has ended (Python 3.11 would log a cancelled relay)

        proxy = await asyncio.start_server(relay, HOST, 0)
        ports[pipelining] = proxy.sockets[0].getsockname()[1]
    pipe.send(ports)
    while True:  # answer "digests?" until told to stop
        request = await loop.run_in_executor(None, pipe.recv)
        if request == "stop":
            return
        pipe.send(digests[request][:])
        digests[request].clear()


def _child(pipe: Connection, delay: float) -> None:
    asyncio.run(_serve(pipe, delay))


# --- the measured loops ---------------------------------------------------------------------------
def build_messages(count: int, size: int) -> list[tuple[str, bytes]]:
    """``count`` (recipient, message) pairs of about ``size`` bytes, some lines with a dot."""
    rng = random.Random(5)
    words = ["аренда", "автомобиль", "скидка", "офис", "договор", ".точка", "lorem", "ipsum"]
    messages = []
    for number in range(count):
        recipient = f"client{number}@example.ru"
        head = (
            f"From: {SENDER}\r\nTo: {recipient}\r\nSubject: message {number}\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
        ).encode("ascii")
        body = b""
        while len(head) + len(body) < size:
            body += " ".join(rng.choice(words) for _ in range(8)).encode() + b"\r\n"
        messages.append((recipient, head + body))
    return messages


def with_smtplib(port: int, messages: list[tuple[str, bytes]]) -> float:
    with smtplib.SMTP(HOST, port, timeout=30) as smtp:
        smtp.ehlo()
        start = time.perf_counter()
        for recipient, message in messages:
            smtp.sendmail(SENDER, [recipient], message)
        return time.perf_counter() - start


def with_transport(port: int, messages: list[tuple[str, bytes]]) -> float:
    settings = EmailSettings(
        sender_address=SENDER, host=HOST, port=port, security=Security.NONE, auth=False, timeout=30
    )
    transport = SmtpTransport(settings, None)
    transport.open()
    try:
        start = time.perf_counter()
        for number, (recipient, message) in enumerate(messages, 1):
            transport.send(Delivery(number, recipient), message)
        return time.perf_counter() - start
    finally:
        transport.close()


def with_batches(port: int, messages: list[tuple[str, bytes]]) -> float:
    """``SmtpTransport.send_batch``, as many messages a handover as ``batch_size`` says."""
    settings = EmailSettings(
        sender_address=SENDER, host=HOST, port=port, security=Security.NONE, auth=False, timeout=30
    )
    transport = SmtpTransport(settings, None)
    transport.open()
    items = [(Delivery(n, r), m) for n, (r, m) in enumerate(messages, 1)]
    try:
        start = time.perf_counter()
        while items:
            handed, items = items[: transport.batch_size], items[transport.batch_size :]
            results = transport.send_batch(handed)
            if not all(isinstance(result, str) for result in results):
                raise RuntimeError(f"send_batch refused: {results}")
        return time.perf_counter() - start
    finally:
        transport.close()


def with_campaign(port: int, setup, connections: int) -> float:
    """Seconds of a whole run of ``setup``'s plan through ``connections`` connections."""
    from send_throughput import SENDER as FROM
    from send_throughput import settings as sink_settings

    config = sink_settings(port)
    run_id = setup.new_run()
    engine = Campaign(
        setup.database, run_id, SmtpTransport(config, None), sender=FROM,
        connections=connections,
    )  # fmt: skip
    start = time.perf_counter()
    final = engine.run()
    seconds = time.perf_counter() - start
    if final.sent != len(setup.plan.recipients):
        raise RuntimeError(f"the run sent {final.sent}: {final.reason}")
    return seconds


def engine_runs(ours: Connection, port: int, count: int) -> bool:
    """The engine against the plain loop, both with the same personal messages."""
    import tempfile

    from send_throughput import make_attachment, prebuilt, prepare

    with tempfile.TemporaryDirectory() as folder:
        setup = prepare(Path(folder) / "data", count, make_attachment(Path(folder)))
        messages = [
            (delivery.recipient, payload if isinstance(payload, bytes) else payload.as_bytes())
            for delivery, payload in prebuilt(setup)
        ]
        size = sum(len(m) for _, m in messages) / len(messages)
        print(f"\nthe engine: {count} personal messages of {size / 1024:.0f} KB, journaled")
        runs = [("smtplib sendmail (baseline)", lambda: with_smtplib(port, messages))]
        for n in (1, 4):
            name = f"run, {n} connection{'s' if n > 1 else ''}"
            runs.append((name, lambda n=n: with_campaign(port, setup, n)))
        rates, ok = [], True
        for name, measure in runs:
            seconds = measure()
            ours.send(True)
            received = len(ours.recv())
            ok &= received == count
            rates.append(count / seconds)
            check = "all received" if received == count else f"MISMATCH ({received} got)"
            print(f"{name:30} {seconds:7.2f} s  {rates[-1]:6.1f} msg/s  {check}")
    print(f"run, 1 connection / baseline: {rates[1] / rates[0]:.2f}x (target >= 2x)")
    print(f"run, 4 connections / baseline: {rates[2] / rates[0]:.2f}x (target >= 5x)")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--delay-ms", type=float, default=25.0, help="each way")
    parser.add_argument("--size", type=int, default=2048, help="bytes a message, about")
    args = parser.parse_args()
    messages = build_messages(args.messages, args.size)
    expected = sorted(hashlib.sha256(m).hexdigest() for _, m in messages)
    average = sum(len(m) for _, m in messages) / len(messages)
    print(
        f"{args.messages} messages of {average:.0f} bytes, one connection each run; proxy delay "
        f"{args.delay_ms:g} ms each way ({2 * args.delay_ms:g} ms round trip); "
        f"Python {sys.version.split()[0]}"
    )
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(target=_child, args=(theirs, args.delay_ms / 1000))
    child.start()
    ok = True
    try:
        ports = ours.recv()
        runs = [
            ("smtplib sendmail (baseline)", with_smtplib, True),
            ("SmtpTransport, PIPELINING", with_transport, True),
            ("SmtpTransport, no PIPELINING", with_transport, False),
            ("SmtpTransport.send_batch", with_batches, True),
        ]
        rates = []
        for name, loop, pipelining in runs:
            seconds = loop(ports[pipelining], messages)
            ours.send(pipelining)
            received = sorted(ours.recv())
            exact = received == expected
            ok &= exact
            rates.append(len(messages) / seconds)
            check = "all received byte-exact" if exact else f"MISMATCH ({len(received)} got)"
            print(f"{name:30} {seconds:7.2f} s  {rates[-1]:6.1f} msg/s  {check}")
        print(f"pipelined / baseline: {rates[1] / rates[0]:.2f}x (target >= 2x)")
        print(f"transport without PIPELINING / baseline: {rates[2] / rates[0]:.2f}x")
        print(f"send_batch / baseline: {rates[3] / rates[0]:.2f}x (n + 1 round trips for n)")
        ok &= engine_runs(ours, ports[True], args.messages)
    finally:
        ours.send("stop")
        child.join(timeout=10)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
