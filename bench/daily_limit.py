"""The daily limit's cost per message: the engine's check before each message, at 10,000 rows.

Run: ``python3 bench/daily_limit.py``. A journal of 10,000 handed-over messages over the last
three days from three mailboxes; the engine's choice of a mailbox before a message (each
mailbox's count over the last 24 hours, its provider block, the time a slot frees) is timed
over 5,000 calls and compared with the same count made by scanning the journal
(``NOT INDEXED``), the baseline.
Target: under 0.05 ms a message. Exit 1 when missed.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from avtoprokat_mail.model import Channel, Delivery, Route, Run, Template
from avtoprokat_mail.sending.campaign import Campaign
from avtoprokat_mail.sending.outbox import OutboxTransport
from avtoprokat_mail.storage import open_database
from avtoprokat_mail.storage import runs as run_store

ROWS, CALLS, TARGET_MS = 10_000, 5_000, 0.05
MAILBOXES = ("office@avtoprokat.ru", "sales@avtoprokat.ru", "info@avtoprokat.ru")


def build(folder: Path):
    conn = open_database(folder / "bench.sqlite3")
    now = time.time()
    rng = random.Random(1)
    run = Run.of(Template(subject="Тема", body="Текст"), Route.direct(Channel.EMAIL))
    run_id = run_store.create_run(
        conn, run, [Delivery(position=n, recipient=f"c{n}@x.ru") for n in range(1, ROWS + 1)]
    )
    conn.execute("BEGIN")
    for n in range(1, ROWS + 1):
        conn.execute(
            "UPDATE deliveries SET status = 'sent', mailbox = ?, sent_at = ? "
            "WHERE run_id = ? AND position = ?",
            (rng.choice(MAILBOXES), now - rng.uniform(0, 3 * run_store.DAY), run_id, n),
        )
    conn.execute("COMMIT")
    return conn, now


def per_call_ms(work) -> float:
    began = time.perf_counter()
    for _ in range(CALLS):
        work()
    return (time.perf_counter() - began) * 1000 / CALLS


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        conn, now = build(Path(tmp))
        campaign = Campaign(
            Path(tmp) / "bench.sqlite3", 1, OutboxTransport(Path(tmp)),
            mailbox=MAILBOXES[0], daily_limit=1_000_000,
        )  # fmt: skip
        check = per_call_ms(lambda: campaign._choose_mailbox(conn))
        scan_sql = run_store.HANDED_OVER_SINCE.replace("deliveries", "deliveries NOT INDEXED", 1)
        scan = per_call_ms(
            lambda: conn.execute(scan_sql, (MAILBOXES[0], now - run_store.DAY)).fetchone()
        )
        used = run_store.handed_over_since(conn, MAILBOXES[0], now - run_store.DAY)
        conn.close()
    verdict = "OK" if check <= TARGET_MS else "MISSED"
    print(f"journal: {ROWS:,} handed-over messages, 3 mailboxes, 3 days; {used} in the last 24 h")
    print(
        f"check before a message  {check:.4f} ms   target ≤ {TARGET_MS} ms   {verdict}\n"
        f"baseline: scan count    {scan:.4f} ms   ratio check/scan {check / scan:.2f}"
    )
    return 0 if verdict == "OK" else 1


if __name__ == "__main__":
    sys.exit(main())
