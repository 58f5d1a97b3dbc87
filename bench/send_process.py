"""The whole ``send`` process against the wire's limit: start-up, planning, journal, build, send.

``python3 bench/send_process.py [--clients 2000] [--repeat 3]``. The same clients, template
and ~20 KB attachment as bench/send_throughput.py, to the same kind of local SMTP sink (aiosmtpd
in a process of its own, loopback, no TLS). Two figures, medians of ``--repeat`` runs:

- ``send``: ``python -m avtoprokat_mail --data-dir D send TEMPLATE --again --yes`` as a child
  process, timed from its start to its exit (interpreter start, imports, opening the
  database, planning, writing the run, building, journaling and sending every message);
- the limit: a plain smtplib loop sending the same messages, built and flattened beforehand,
  over one connection.

The ratio is ``send`` msg/s over the limit's; the target is at least 0.9. A second table says
where the child's time goes before the first message: ``-X importtime`` of the command line.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from send_throughput import (
    SENDER,
    Sink,
    make_attachment,
    measure_plain,
    prepare,
    settings,
)

from avtoprokat_mail.storage import open_database
from avtoprokat_mail.storage.settings import save_email_settings

TARGET = 0.9
ROOT = Path(__file__).resolve().parent.parent


def run_send(folder: Path, template_id: int) -> float:
    """Seconds of one whole ``send`` process; fails when it did not send everything."""
    command = [sys.executable, "-m", "avtoprokat_mail", "--data-dir", str(folder),
               "send", str(template_id), "--again", "--yes"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"send exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds


def start_up_imports(folder: Path) -> list[tuple[int, str]]:
    """The costliest imports of ``send --help`` (cumulative microseconds, module)."""
    command = [sys.executable, "-X", "importtime", "-m", "avtoprokat_mail",
               "--data-dir", str(folder), "send", "--help"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    found = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)", line)
        if match and len(match.group(2)) <= 3:  # top-level imports and their children
            found.append((int(match.group(1)), match.group(3)))
    return sorted(found, reverse=True)[:8]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # The program ships compiled (the .exe holds its bytecode), so the child must not compile
    # the project anew at each start, as it would with PYTHONDONTWRITEBYTECODE set and no cache.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "avtoprokat_mail")],
                   check=True)  # fmt: skip
    sink = Sink()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "data"
            attachment = make_attachment(Path(tmp))
            setup = prepare(folder, args.clients, attachment)
            conn = open_database(setup.database)
            save_email_settings(conn, settings(sink.port))
            conn.close()
            plain, _objects = measure_plain(setup, sink, 1)  # warms the sink up
            limits, sends = [], []
            for _ in range(args.repeat):
                limits.append(measure_plain(setup, sink, 1)[0].seconds)
                sends.append(run_send(folder, setup.template.id))
            limit, whole = statistics.median(limits), statistics.median(sends)
            count = args.clients
            ratio = (count / whole) / (count / limit)
            print(f"{count} messages of {plain.size / count / 1024:.1f} KB from {SENDER.address}")
            print(f"plain smtplib loop  {limit:6.2f} s  {count / limit:6.0f} msg/s  (the limit)")
            print(f"whole send process  {whole:6.2f} s  {count / whole:6.0f} msg/s")
            verdict = "OK" if ratio >= TARGET else "MISSED"
            print(f"ratio {ratio:.2f} (target ≥ {TARGET}) {verdict}")
            print("start-up imports of the command line (cumulative ms):")
            for micros, module in start_up_imports(folder):
                print(f"  {micros / 1000:6.1f}  {module}")
            return 0 if ratio >= TARGET else 1
    finally:
        sink.stop()


if __name__ == "__main__":
    sys.exit(main())
