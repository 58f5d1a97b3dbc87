"""Sending speed: the engine against plain smtplib and mailmerge; the Tk loop during a long run.

Run under a display (Xvfb on a server): ``xvfb-run -a python3 bench/send_throughput.py``.
Every path sends the same clients (Cyrillic names, unique addresses) the same template (the
three placeholders, one ~20 KB attachment with a Cyrillic file name) to one local SMTP sink:
aiosmtpd on 127.0.0.1, plain SMTP, no TLS, no AUTH, whose handler accepts and counts. The sink
runs in a process of its own, as a real server would, so it does not compete with the
measured code for this process's GIL.

- engine: ``plan_run`` → ``start_run`` → ``Campaign(...).run()`` with ``SmtpTransport``:
  render, build, journal every step in the database, send, report progress; timed from the
  start of ``run()`` to its end (opening the database and connecting included);
- plain smtplib, the physical limit of the same run: the same messages, built and flattened
  beforehand by the same ``build_email``, sent with ``SMTP.sendmail`` over one connection;
- send_message (for information): the same pre-built messages handed to ``SMTP.send_message``,
  the engine's own call, which flattens each message itself: what flattening costs;
- mailmerge: the awdeorio/mailmerge CLI, if installed, as a subprocess (one SMTP connection
  per message, which is how it works);
- Tk: a run of ``--gui-messages`` messages through ``--gui-connections`` connections (4 by
  default) along the GUI path (the worker thread, a queue, the Tk thread draining it every
  50 ms: the program's ProgressWindow) while a 10 ms ``after`` ticker measures the longest gap
  of the Tk loop; at the end the window's own counters must say exactly what the journal says.

Figures are the best of ``--repeat`` runs. Exit 1 when a target is missed or a check fails.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.metadata
import importlib.util
import multiprocessing
import os
import queue
import random
import re
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from avtoprokat_mail.model import (
    Channel,
    Client,
    Delivery,
    EmailSettings,
    Route,
    Security,
    Template,
)
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.sending.campaign import Campaign, Progress, RunPlan, plan_run
from avtoprokat_mail.sending.lifecycle import start_run
from avtoprokat_mail.sending.message import Sender, build_email, load_attachments
from avtoprokat_mail.sending.smtp import SmtpTransport
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import open_database
from avtoprokat_mail.storage import templates as template_store

HOST = "127.0.0.1"
TARGET_ENGINE_VS_PLAIN = 0.80  # the engine at least 80 % of the speed of the plain loop
TARGET_ENGINE_VS_MAILMERGE = 2.0  # and at least twice as fast as mailmerge
TARGET_TK_PAUSE = 0.050  # the Tk loop never stalls longer than 50 ms during a run
TICK = 0.010  # the ticker's period
DRAIN = 50  # ms: how often the progress window drains the queue (docs/architecture.md)
IDLE_SECONDS = 2.0  # the Tk loop's own gaps, measured with nothing sent

SENDER = Sender("Автопрокат «Колесо»", "office@avtoprokat-koleso.ru")
ATTACHMENT_NAME = "Прайс-лист на аренду.pdf"
ATTACHMENT_BYTES = 20 * 1024
SUBJECT = "%Имя%, специальное предложение для «%Наименование%»"
BODY = """Здравствуйте, %Имя%!

Автопрокат «Колесо» благодарит вас за сотрудничество. Для компании «%Наименование%» мы
подготовили особые условия на весенний сезон: скидка 15% на аренду автомобилей бизнес-класса
при бронировании от трёх суток, бесплатная подача машины к офису и зимняя резина в подарок.

Как %Должность%, вы можете оформить корпоративный договор с отсрочкой платежа до 30 дней.
Прайс-лист на аренду приложен к письму.

Ждём вашего звонка: +7 (495) 123-45-67.

С уважением,
отдел по работе с корпоративными клиентами
Автопрокат «Колесо»
"""
# 24 × 16 × 12 names: nearly every client's display name differs, as in a real directory
# fmt: off
SURNAMES = [
    "Иванов", "Петров", "Сидоров", "Смирнов", "Кузнецов", "Попов", "Волков", "Лебедев", "Козлов",
    "Новиков", "Морозов", "Соколов", "Павлов", "Семёнов", "Голубев", "Виноградов", "Богданов",
    "Воробьёв", "Фёдоров", "Михайлов", "Беляев", "Тарасов", "Белов", "Комаров"
]
FIRST_NAMES = [
    "Иван", "Сергей", "Олег", "Дмитрий", "Павел", "Андрей", "Алексей", "Михаил", "Николай", "Юрий",
    "Артём", "Евгений", "Анна", "Мария", "Елена", "Ольга"
]
PATRONYMICS = [
    "Петрович", "Ильич", "Андреевич", "Юрьевич", "Олегович", "Сергеевич", "Иванович", "Михайлович",
    "Николаевич", "Алексеевич", "Дмитриевич", "Евгеньевич"
]
# fmt: on
POSITIONS = ["Директор", "Главный бухгалтер", "Менеджер по закупкам", "Начальник гаража"]
ORGS = [f"ООО «Компания {i}»" for i in range(400)]
DOMAINS = ["mail.ru", "yandex.ru", "bk.ru", "gmail.com"]


# --- the sink: aiosmtpd in a process of its own ----------------------------------------------
def _sink_process(pipe, ready) -> None:
    """Serve SMTP on a free port of 127.0.0.1; answer (messages, bytes) on the pipe."""
    from aiosmtpd.controller import Controller

    class Counter:
        messages = 0
        size = 0

        async def handle_DATA(self, server, session, envelope) -> str:
            self.messages += 1
            self.size += len(envelope.content)
            return "250 OK"

    handler = Counter()
    for _attempt in range(3):  # a free port may be taken between probing and binding
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            port = probe.getsockname()[1]
        # server_hostname spares aiosmtpd a reverse DNS lookup at every connection
        controller = Controller(
            handler, hostname=HOST, port=port, server_hostname="sink.test", ready_timeout=5.0
        )
        try:
            controller.start()
        except OSError:
            controller.stop(no_assert=True)
            continue
        break
    else:
        ready.send(0)
        return
    ready.send(port)
    with contextlib.suppress(EOFError):  # EOF: the bench process is gone
        while pipe.recv() != "stop":
            pipe.send((handler.messages, handler.size))
    controller.stop()


class Sink:
    """The sink process: ``counts()`` is (messages, bytes) received so far."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")  # nothing of this process (Tk) inherited
        self._pipe, child_pipe = context.Pipe()
        ready, child_ready = context.Pipe()
        self._process = context.Process(
            target=_sink_process, args=(child_pipe, child_ready), daemon=True
        )
        self._process.start()
        if not ready.poll(30):
            raise RuntimeError("the SMTP sink did not start")
        self.port = ready.recv()
        if not self.port:
            raise RuntimeError("no free port for the SMTP sink")

    def counts(self) -> tuple[int, int]:
        self._pipe.send("counts")
        return self._pipe.recv()

    def stop(self) -> None:
        self._pipe.send("stop")
        self._process.join(10)


# --- the data --------------------------------------------------------------------------------
def make_clients(count: int, seed: int) -> list[Client]:
    rng = random.Random(seed)
    return [
        Client(
            surname=rng.choice(SURNAMES),
            name=f"{rng.choice(FIRST_NAMES)} {rng.choice(PATRONYMICS)}",
            position=rng.choice(POSITIONS),
            organization=rng.choice(ORGS),
            email=f"client{i:05d}@{rng.choice(DOMAINS)}",
            marked=True,
        )
        for i in range(count)
    ]


@dataclass
class Setup:
    """A data folder with its database, clients, template and a planned run."""

    folder: Path
    database: Path
    template: Template
    plan: RunPlan

    def new_run(self) -> int:
        conn = open_database(self.database)
        try:
            return start_run(conn, self.plan, Route.direct(Channel.EMAIL))
        finally:
            conn.close()


def prepare(folder: Path, count: int, attachment: Path) -> Setup:
    folder.mkdir(parents=True)
    database = database_path(folder)
    conn = open_database(database)
    try:
        clients = make_clients(count, seed=count)
        client_store.add_clients(conn, clients)
        template = Template(subject=SUBJECT, body=BODY, attachment1=str(attachment))
        template_store.add_template(conn, template)
        plan = plan_run(conn, template, again=True)  # each repeat mails everyone anew
        if not plan.can_start or len(plan.recipients) != count:
            raise RuntimeError(f"the run cannot start: {plan.problems} {plan.skip_reasons}")
    finally:
        conn.close()
    return Setup(folder, database, template, plan)


def settings(port: int) -> EmailSettings:
    return EmailSettings(
        host=HOST, port=port, security=Security.NONE,
        sender_address=SENDER.address, sender_name=SENDER.name,
    )  # fmt: skip


def make_attachment(folder: Path) -> Path:
    """The ~20 KB attachment with a Cyrillic name, the same bytes in every run."""
    attachment = folder / ATTACHMENT_NAME
    attachment.write_bytes(random.Random(20).randbytes(ATTACHMENT_BYTES))
    return attachment


# --- the measured paths ----------------------------------------------------------------------
@dataclass
class Result:
    name: str
    messages: int
    seconds: float
    size: int  # bytes received by the sink
    note: str = ""

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def line(self) -> str:
        kb = self.size / self.messages / 1024
        return (
            f"{self.name:<13} {self.messages} msgs {self.seconds:5.2f} s {self.rate:5.0f} msg/s"
            f"   ({self.note}; {kb:.1f} KB a message at the sink)"
        )


class Failed(Exception):
    """A check failed: the figures would mean nothing."""


def counted(sink: Sink, name: str, expected: int, func: Callable[[], object]) -> tuple[float, int]:
    """(seconds, bytes) of ``func()``, checking the sink received ``expected`` messages."""
    before, before_size = sink.counts()
    start = time.perf_counter()
    func()
    seconds = time.perf_counter() - start
    after, after_size = sink.counts()
    if after - before != expected:
        raise Failed(f"{name}: the sink received {after - before} messages, not {expected}")
    return seconds, after_size - before_size


def best(results: list[Result]) -> Result:
    return min(results, key=lambda r: r.seconds)


def measure_engine(setup: Setup, sink: Sink, repeat: int) -> Result:
    count, results = len(setup.plan.recipients), []
    for _ in range(repeat):
        run_id = setup.new_run()
        campaign = Campaign(
            setup.database, run_id, SmtpTransport(settings(sink.port), None), sender=SENDER
        )
        final: list[Progress] = []
        seconds, size = counted(
            sink, "engine", count, lambda c=campaign, f=final: f.append(c.run())
        )
        if final[0].sent != count:
            raise Failed(f"engine: {final[0].sent} sent of {count}: {final[0].reason}")
        results.append(Result("engine", count, seconds, size, "render, build, journal, send"))
    return best(results)


def prebuilt(setup: Setup) -> list[tuple[Delivery, object]]:
    attachments = load_attachments(setup.template)
    return [
        (d, build_email(setup.template, d.client(), SENDER, attachments))
        for d in setup.plan.recipients
    ]


def measure_plain(setup: Setup, sink: Sink, repeat: int) -> tuple[Result, Result]:
    """(sendmail of pre-flattened messages: the limit, send_message of pre-built messages)."""
    count = len(setup.plan.recipients)
    messages = prebuilt(setup)
    flat = [(d.recipient, m.as_bytes()) for d, m in messages]

    def send_bytes() -> None:
        with smtplib.SMTP(HOST, sink.port, "localhost") as smtp:
            for recipient, data in flat:
                smtp.sendmail(SENDER.address, [recipient], data)

    def send_messages() -> None:
        with smtplib.SMTP(HOST, sink.port, "localhost") as smtp:
            for delivery, message in messages:
                smtp.send_message(message, SENDER.address, [delivery.recipient])

    plain, objects = [], []
    for _ in range(repeat):
        seconds, size = counted(sink, "plain smtplib", count, send_bytes)
        plain.append(Result("plain smtplib", count, seconds, size,
                            "sendmail of pre-flattened messages, one connection"))  # fmt: skip
        seconds, size = counted(sink, "send_message", count, send_messages)
        objects.append(Result("send_message", count, seconds, size,
                              "pre-built EmailMessages, flattened by smtplib"))  # fmt: skip
    return best(plain), best(objects)


def mailmerge_command() -> list[str] | None:
    if importlib.util.find_spec("mailmerge") is not None:
        # its console script's entry point; "-m mailmerge" fails (main runs before the
        # functions it calls are defined)
        return [sys.executable, "-c", "from mailmerge.__main__ import main; main()"]
    program = shutil.which("mailmerge")
    return [program] if program else None


def mailmerge_version(command: list[str]) -> str:
    try:
        return importlib.metadata.version("mailmerge")
    except importlib.metadata.PackageNotFoundError:
        out = subprocess.run([*command, "--version"], capture_output=True, text=True).stdout
        return out.strip().rpartition(" ")[2] or "?"


def jinja(text: str) -> str:
    """A template of this program as a mailmerge (Jinja2) template."""
    fields = {"Имя": "name", "Должность": "position", "Наименование": "organization"}
    return re.sub("%(" + "|".join(fields) + ")%", lambda m: f"{{{{{fields[m[1]]}}}}}", text)


def measure_mailmerge(
    setup: Setup, sink: Sink, folder: Path, attachment: Path, repeat: int
) -> Result | None:
    """The best of ``repeat`` runs, or None when mailmerge is not installed."""
    command = mailmerge_command()
    if command is None:
        return None
    folder.mkdir()
    shutil.copy(attachment, folder / attachment.name)
    (folder / "mailmerge_template.txt").write_text(
        f'TO: "{{{{surname}}}} {{{{name}}}}" <{{{{email}}}}>\n'
        f'FROM: "{SENDER.name}" <{SENDER.address}>\n'
        f"SUBJECT: {jinja(SUBJECT)}\n"
        f"ATTACHMENT: {attachment.name}\n\n{jinja(BODY)}",
        encoding="utf-8",
    )
    with (folder / "mailmerge_database.csv").open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f, quoting=csv.QUOTE_ALL)
        out.writerow(["email", "surname", "name", "position", "organization"])
        for d in setup.plan.recipients:
            out.writerow([d.recipient, d.surname, d.name, d.position_title, d.organization])
    (folder / "mailmerge_server.conf").write_text(
        f"[smtp_server]\nhost = {HOST}\nport = {sink.port}\nsecurity = Never\nratelimit = 0\n"
    )
    version = mailmerge_version(command)
    args = [*command, "--no-dry-run", "--no-limit", "--output-format", "text"]

    def run() -> None:
        done = subprocess.run(
            args, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        if done.returncode:
            raise Failed(f"mailmerge exited with {done.returncode}: {done.stderr.strip()}")

    start = time.perf_counter()
    subprocess.run([*command, "--version"], cwd=folder, capture_output=True, check=True)
    note = (
        f"mailmerge {version} CLI, a connection per message, its start-up alone "
        f"{time.perf_counter() - start:.2f} s"
    )
    count, results = len(setup.plan.recipients), []
    for _ in range(repeat):
        seconds, size = counted(sink, "mailmerge", count, run)
        results.append(Result("mailmerge", count, seconds, size, note))
    return best(results)


# --- the Tk loop during a long run -----------------------------------------------------------
class Ticker:
    """An ``after(10, tick)`` loop noting (time, gap since the previous tick) at every tick."""

    def __init__(self, root) -> None:
        self.root, self.gaps, self._last, self._pending = root, [], 0.0, None

    def start(self) -> None:
        self.gaps, self._last = [], time.perf_counter()
        self._pending = self.root.after(int(TICK * 1000), self._tick)

    def stop(self) -> list[tuple[float, float]]:
        if self._pending is not None:
            self.root.after_cancel(self._pending)
            self._pending = None
        return self.gaps

    def _tick(self) -> None:
        now = time.perf_counter()
        self.gaps.append((now, now - self._last))
        self._last = now
        self._pending = self.root.after(int(TICK * 1000), self._tick)


@dataclass
class GuiRun:
    """What the Tk thread saw of a run."""

    final: Progress | None = None
    error: BaseException | None = None
    ended: float = 0.0  # when the final progress reached the Tk thread
    report_end: float = 0.0  # when the window had filled its per-recipient report
    opened: float = 0.0  # when the window was built and the worker started
    shown: str = ""  # the window's «Отправлено» counter once the run has ended
    connections: int = 1


def drive_progress_window(root, setup: Setup, run_id: int, port: int, gui: GuiRun) -> str:
    """Open the program's own progress window on the run; it starts its worker itself."""
    from avtoprokat_mail.credentials import PasswordStore
    from avtoprokat_mail.sending.lifecycle import Mailer, PreparedRun
    from avtoprokat_mail.sending.runlock import run_lock
    from avtoprokat_mail.sending.setup import SendingSetup
    from avtoprokat_mail.ui.progress_window import ProgressWindow

    class Window(ProgressWindow):
        def _failed(self, error: BaseException) -> None:
            # instead of a modal error dialog that nobody would close
            gui.error = error
            root.quit()

    def finished(final: Progress) -> None:
        gui.final, gui.report_end = final, time.perf_counter()
        gui.shown = window.labels["sent"].cget("text")
        root.after(5 * int(TICK * 1000), root.quit)  # the ticker notes the report's pause

    conn = open_database(setup.database)
    lock = run_lock(setup.database.parent, run_id)
    lock.acquire()
    config = settings(port)
    sending = SendingSetup(
        SmtpTransport(config, None), SENDER, 0, connections=gui.connections,
    )  # fmt: skip
    prepared = PreparedRun(run_id, sending, lock, setup.database)
    mailer = Mailer(conn, PasswordStore())
    window = Window(root, mailer, run_id, prepared, on_finished=finished)
    show_report = window.report.show

    def timed_report(state) -> None:
        gui.ended = time.perf_counter()
        show_report(state)

    window.report.show = timed_report
    gui.opened = time.perf_counter()
    root.mainloop()
    window.worker.join()
    window.destroy()
    conn.close()
    return "the program's ProgressWindow (ui/progress_window.py)"


def drive_imitation(root, setup: Setup, run_id: int, port: int, gui: GuiRun) -> str:
    """What the progress window does (docs/architecture.md, «Threads»): the worker puts Progress
    events on a queue; every 50 ms the Tk thread takes them all and shows the newest in a
    ttk.Label and a ttk.Progressbar."""
    import ttkbootstrap as ttk

    events: queue.Queue[Progress] = queue.Queue()
    window = ttk.Toplevel(title="Рассылка", transient=root)
    label = ttk.Label(window, text="Подготовка…", width=60, justify="left")
    label.pack(padx=12, pady=(12, 6), fill="x")
    bar = ttk.Progressbar(window, length=400, maximum=1)
    bar.pack(padx=12, pady=(0, 12), fill="x")
    campaign = Campaign(
        setup.database, run_id, SmtpTransport(settings(port), None), sender=SENDER,
        on_progress=events.put,
    )  # fmt: skip

    def work() -> None:
        try:
            campaign.run()
        except BaseException as error:
            gui.error = error
            root.after(0, root.quit)

    def drain() -> None:
        newest = None
        with contextlib.suppress(queue.Empty):
            while True:
                newest = events.get_nowait()
        if newest is not None:
            left = f"{newest.seconds_left:.0f} с" if newest.seconds_left is not None else "—"
            label.configure(
                text=f"Отправлено {newest.sent} из {newest.total}, ошибок {newest.failed}\n"
                f"Сейчас: {newest.current}\n"
                f"Скорость {newest.per_minute:.0f} в минуту, осталось {left}"
            )
            bar.configure(maximum=max(newest.total, 1), value=newest.done)
            if newest.ended:
                gui.final, gui.ended = newest, time.perf_counter()
                gui.report_end = gui.ended
                root.after(5 * int(TICK * 1000), root.quit)
                return
        root.after(DRAIN, drain)

    worker = threading.Thread(target=work, name="campaign")
    worker.start()
    root.after(DRAIN, drain)
    gui.opened = time.perf_counter()
    root.mainloop()
    worker.join()
    window.destroy()
    return (
        "an imitation of the progress window (ui/progress_window.py not found): a queue "
        "drained by after(50), the newest Progress shown in a ttk.Label and a ttk.Progressbar"
    )


def measure_tk(setup: Setup, sink: Sink, connections: int) -> tuple[float, list[str]]:
    """(longest gap of the Tk loop during the run, lines to print)."""
    from avtoprokat_mail.app import create_root

    count = len(setup.plan.recipients)
    root = create_root()
    root.update()
    ticker = Ticker(root)
    ticker.start()  # the baseline: the loop's own gaps with nothing sent
    root.after(int(IDLE_SECONDS * 1000), root.quit)
    root.mainloop()
    idle = [gap for _, gap in ticker.stop()]

    run_id = setup.new_run()
    real = importlib.util.find_spec("avtoprokat_mail.ui.progress_window") is not None
    drive = drive_progress_window if real else drive_imitation
    gui = GuiRun(connections=connections)
    before = sink.counts()[0]
    ticker.start()
    start = time.perf_counter()
    driver = drive(root, setup, run_id, sink.port, gui)
    ticks = ticker.stop()
    root.destroy()
    if gui.error is not None:
        raise Failed(f"GUI run: {gui.error!r}")
    received = sink.counts()[0] - before
    if received != count or gui.final is None or gui.final.sent != count:
        raise Failed(f"GUI run: the sink received {received} of {count}")
    if real and gui.shown != f"{count} из {count}":
        raise Failed(f"GUI run: the window says «{gui.shown}» sent, not «{count} из {count}»")
    seconds = gui.ended - start
    # The tick pending while the window was being built comes first: its gap is the opening.
    opening = ticks[0][1] if ticks and ticks[0][0] - ticks[0][1] < gui.opened else 0.0
    gaps = [gap for end, gap in ticks if end - gap >= gui.opened and end <= gui.ended]
    longest = max(gaps)
    lines = [
        f"GUI run       {count} msgs {seconds:5.2f} s {count / seconds:5.0f} msg/s"
        f"   (Campaign on its worker thread, {connections} SMTP connection(s) to the sink; "
        f"progress shown by {driver}; the window's counter at the end: «{gui.shown}»)",
        f"Tk loop longest pause during {count:,} messages: {longest * 1000:.0f} ms "
        f"(target ≤ {TARGET_TK_PAUSE * 1000:.0f} ms)   {verdict(longest <= TARGET_TK_PAUSE)}",
        f"{'':14}(gaps between {TICK * 1000:.0f} ms ticks: median "
        f"{statistics.median(gaps) * 1000:.1f} ms, {sum(g > TARGET_TK_PAUSE for g in gaps)} of "
        f"{len(gaps)} over {TARGET_TK_PAUSE * 1000:.0f} ms; idle baseline of the same run: "
        f"longest {max(idle) * 1000:.0f} ms)",
        f"{'':14}(not counted above: opening the window and starting the worker "
        f"{(gui.opened - start) * 1000:.0f} ms, a pause of {opening * 1000:.0f} ms)",
    ]
    if gui.report_end > gui.ended:
        after = [gap for end, gap in ticks if end > gui.ended]
        lines.append(
            f"{'':14}(not counted above: after the run, the window fills its report of "
            f"{count:,} recipients in {(gui.report_end - gui.ended) * 1000:.0f} ms, a pause of "
            f"{max(after) * 1000:.0f} ms)"
        )
    return longest, lines


# --- main ------------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--gui-messages", type=int, default=10_000)
    parser.add_argument("--gui-connections", type=int, default=4)
    parser.add_argument("--skip-gui", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each path; best counts")
    args = parser.parse_args()
    # A hang (a server that stops answering, a dialog nobody closes) must not stall a CI job.
    budget = 60 + 0.02 * (4 * args.clients * args.repeat + args.gui_messages)
    watchdog = threading.Timer(budget, _give_up, (budget,))
    watchdog.daemon = True
    watchdog.start()
    sink = Sink()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            return measure(args, sink, Path(tmp))
    except Failed as error:
        print(f"CHECK FAILED: {error}")
        return 1
    finally:
        watchdog.cancel()
        sink.stop()


def _give_up(budget: float) -> None:
    print(f"CHECK FAILED: no result after {budget:.0f} s; giving up", flush=True)
    os._exit(1)


def measure(args: argparse.Namespace, sink: Sink, tmp: Path) -> int:
    attachment = make_attachment(tmp)
    setup = prepare(tmp / "engine", args.clients, attachment)
    load = f"   load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    print(
        f"clients: {args.clients:,}   attachment «{ATTACHMENT_NAME}» {ATTACHMENT_BYTES:,} bytes   "
        f"sink: aiosmtpd {HOST}:{sink.port} in its own process   best of {args.repeat}   "
        f"{os.cpu_count()} cores{load}"
    )
    warm_up(sink)
    engine = measure_engine(setup, sink, args.repeat)
    plain, objects = measure_plain(setup, sink, args.repeat)
    merged = measure_mailmerge(setup, sink, tmp / "mailmerge", attachment, args.repeat)
    for result in (engine, plain, objects):
        print(result.line())
    print("mailmerge: not installed, skipped" if merged is None else merged.line())
    results: list[bool] = []
    ratio = engine.rate / plain.rate
    results.append(ratio >= TARGET_ENGINE_VS_PLAIN)
    print(f"ratio engine/plain {ratio:.2f} (target ≥ {TARGET_ENGINE_VS_PLAIN:.2f})   "
          f"{verdict(results[-1])}")  # fmt: skip
    print(f"ratio engine/send_message {engine.rate / objects.rate:.2f} (for information: the "
          "engine's cost besides flattening)")  # fmt: skip
    if merged is not None:
        ratio = engine.rate / merged.rate
        results.append(ratio >= TARGET_ENGINE_VS_MAILMERGE)
        print(f"ratio engine/mailmerge {ratio:.1f} (target ≥ {TARGET_ENGINE_VS_MAILMERGE:.1f})   "
              f"{verdict(results[-1])}")  # fmt: skip
    if args.skip_gui:
        print("Tk loop: skipped (--skip-gui)")
    else:
        gui = prepare(tmp / "gui", args.gui_messages, attachment)
        longest, lines = measure_tk(gui, sink, args.gui_connections)
        results.append(longest <= TARGET_TK_PAUSE)
        print("\n".join(lines))
    return 0 if all(results) else 1


def warm_up(sink: Sink) -> None:
    """One short session first, so no measured path pays for the first connection."""
    with smtplib.SMTP(HOST, sink.port, "localhost") as smtp:
        for _ in range(20):
            smtp.sendmail(SENDER.address, ["warm@up.test"], b"Subject: x\r\n\r\nx\r\n")


if __name__ == "__main__":
    sys.exit(main())
