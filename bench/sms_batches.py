"""SMS in batches: 1,000 personal SMS one request per number against 100 numbers a request.

Run: ``python3 bench/sms_batches.py`` (from the project folder; ``--count``, ``--delay``).
The gateway is the local fake of tests/sms_gateways.py (SMS.ru's API on 127.0.0.1) answering
every send request after ``--delay`` seconds (0.1 s by default: a gateway on the internet),
so what is measured is mostly the number of round trips, as with the real gateway.

- one request per number (the baseline): ``SmsTransport.send`` in a loop. To keep the run
  short only the first 100 are sent and timed; the time of all of them is extrapolated from
  those, and printed as such;
- batches: ``SmsTransport.send_batch`` with 100 messages a request, all of them sent;
- engine: a real run, ``plan_run`` → ``start_run`` → ``Campaign(...).run()`` with the same
  transport, of as many clients with mobiles: the engine claims up to ``batch_size`` at once,
  hands them to ``send_batch`` and journals each number in SQLite.

Each path checks that the fake received every SMS once with its own text. Target: batches at
least 20 times faster than one request per number. Exit 1 when missed or a check fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.sms_gateways

from avtoprokat_mail.model import (
    Channel,
    Client,
    Delivery,
    Route,
    RunStatus,
    SmsProvider,
    Template,
)
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.sending.campaign import Campaign, plan_run
from avtoprokat_mail.sending.lifecycle import start_run
from avtoprokat_mail.sending.sms.gateway import SEND_BATCH
from avtoprokat_mail.sending.sms.providers import gateway_for
from avtoprokat_mail.sending.sms.transport import SmsTransport
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import open_database
from avtoprokat_mail.storage import templates as template_store
from tests.sms_gateways import SMSRU_API_ID, FakeGateway

TARGET_RATIO = 20.0
BASELINE_SAMPLE = 100  # numbers actually sent one request each
TEMPLATE = "%Имя%, ваш автомобиль готов: ул. Ленина, 5. Скидка 15% до пятницы!"


def mobile(n: int) -> str:
    return f"+7916{n:07d}"


def text(n: int) -> str:
    return TEMPLATE.replace("%Имя%", f"Клиент {n}")


def transport_for(fake: FakeGateway) -> SmsTransport:
    settings = fake.settings(SmsProvider.SMSRU, sender="AvtoProkat")
    return SmsTransport(gateway_for(settings, SMSRU_API_ID))


def check(fake: FakeGateway, expected: dict[str, str], what: str) -> None:
    counts = Counter(phone for phone, _text, _sender in fake.sent)
    if set(counts) != set(expected) or max(counts.values()) != 1:
        sys.exit(
            f"{what}: the fake received {len(fake.sent)} SMS, not each of {len(expected)} once"
        )
    if any(expected[phone] != sent_text for phone, sent_text, _sender in fake.sent):
        sys.exit(f"{what}: a text arrived changed")


def one_per_request(count: int, delay: float) -> tuple[float, int]:
    """Seconds for BASELINE_SAMPLE numbers, one request each; the requests made."""
    sample = min(count, BASELINE_SAMPLE)
    with FakeGateway(answer_delay=delay) as fake:
        transport = transport_for(fake)
        began = time.perf_counter()
        for n in range(sample):
            transport.send(Delivery(position=n, recipient=mobile(n)), text(n))
        seconds = time.perf_counter() - began
        check(fake, {mobile(n): text(n) for n in range(sample)}, "one per request")
        return seconds, fake.send_requests


def batches(count: int, delay: float) -> tuple[float, int]:
    """Seconds for all ``count`` numbers through send_batch; the requests made."""
    messages = [(mobile(n), text(n)) for n in range(count)]
    with FakeGateway(answer_delay=delay) as fake:
        transport = transport_for(fake)
        began = time.perf_counter()
        position = 0
        size = transport.batch_size  # the numbers are all different: plain slices
        for batch in (messages[start : start + size] for start in range(0, len(messages), size)):
            items = [
                (Delivery(position=position + i, recipient=p), t) for i, (p, t) in enumerate(batch)
            ]
            position += len(batch)
            replies = transport.send_batch(items)
            if not all(isinstance(reply, str) for reply in replies):
                sys.exit("batches: a message was refused")
        seconds = time.perf_counter() - began
        check(fake, dict(messages), "batches")
        return seconds, fake.send_requests


def engine(count: int, delay: float) -> tuple[float, int]:
    """Seconds of a real run of ``count`` SMS through the engine; the requests made."""
    with tempfile.TemporaryDirectory() as folder, FakeGateway(answer_delay=delay) as fake:
        database = database_path(Path(folder))
        conn = open_database(database)
        for n in range(count):
            client = Client(
                surname=f"Клиентов{n}", name=f"Клиент {n}", mobile=mobile(n), marked=True
            )
            client_store.add_client(conn, client)
        template_store.add_template(conn, Template(sms=True, body=TEMPLATE))
        template = template_store.list_templates(conn)[0]
        run_id = start_run(conn, plan_run(conn, template), Route.direct(Channel.SMS))
        conn.close()
        campaign = Campaign(database, run_id, transport_for(fake))
        began = time.perf_counter()
        final = campaign.run()
        seconds = time.perf_counter() - began
        if final.status is not RunStatus.FINISHED or final.sent != count:
            sys.exit(f"engine: the run ended {final.status}, {final.sent} of {count} sent")
        check(fake, {mobile(n): text(n) for n in range(count)}, "engine")
        return seconds, fake.send_requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="SMS to send (1000)")
    parser.add_argument("--delay", type=float, default=0.1, help="the gateway's answer delay, s")
    args = parser.parse_args()
    count, delay = args.count, args.delay
    print(f"{count} SMS, SMS.ru fake answering each send request after {delay:g} s, "
          f"{SEND_BATCH} per batch request")  # fmt: skip

    sample_seconds, sample_requests = one_per_request(count, delay)
    sample = min(count, BASELINE_SAMPLE)
    baseline = sample_seconds * count / sample
    print(f"one request per number: {sample} SMS in {sample_seconds:.2f} s ({sample_requests} "
          f"requests, {sample / sample_seconds:.1f} SMS/s); {count} SMS EXTRAPOLATED: "
          f"{baseline:.1f} s")  # fmt: skip

    batch_seconds, batch_requests = batches(count, delay)
    ratio = baseline / batch_seconds
    print(f"send_batch, {SEND_BATCH} a request: {count} SMS in {batch_seconds:.2f} s "
          f"({batch_requests} requests, {count / batch_seconds:.0f} SMS/s): "
          f"{ratio:.1f}x the baseline (target >= {TARGET_RATIO:g}x)")  # fmt: skip

    run_seconds, run_requests = engine(count, delay)
    run_ratio = baseline / run_seconds
    print(f"engine run (Campaign, journal in SQLite): {count} SMS in {run_seconds:.2f} s "
          f"({run_requests} requests, {count / run_seconds:.0f} SMS/s): "
          f"{run_ratio:.1f}x the baseline")  # fmt: skip

    if ratio < TARGET_RATIO:
        print(f"MISSED: batches are {ratio:.1f}x, the target is {TARGET_RATIO:g}x")
        sys.exit(1)


if __name__ == "__main__":
    main()
