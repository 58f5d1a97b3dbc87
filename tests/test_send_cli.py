"""``send``, ``send --resume``, ``runs list`` and ``runs show`` (docs/cli.md), against real servers.

The exit statuses and the last line are checked in-process; the crash test runs the real
program in a subprocess, kills it with SIGKILL in the middle of a run (three times), and
resumes it until it finishes: every client gets the message once, never twice.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from avtoprokat_mail.model import Channel, Client, DeliveryStatus, Route, Security
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.sending.campaign import plan_run
from avtoprokat_mail.sending.lifecycle import start_run
from avtoprokat_mail.sending.runlock import run_lock
from avtoprokat_mail.storage import open_database
from avtoprokat_mail.storage import runs as run_store
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.storage.settings import save_email_settings
from tests.mailing_data import (
    CONTRACT_NAME,
    PHOTO_NAME,
    add_clients,
    add_template,
    address,
    expected_body,
    expected_subject,
    parse_file,
    per_recipient,
    russian_clients,
    write_attachments,
)
from tests.smtp_servers import PASSWORD, FaultyHandler, SmtpServer, TestCA

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RUNS_HEADER = "id,template_id,started,finished,status,sent,failed,skipped,test"
SHOW_HEADER = "client_id,recipient,status,time,reply,mailbox"
UNCERTAIN_REPLY = "программа прервалась во время отправки: письмо могло уйти"
StartServer = Callable[[FaultyHandler], SmtpServer]


# --- helpers ------------------------------------------------------------------------------------
def set_up_office(db: sqlite3.Connection, count: int, server: SmtpServer | None) -> int:
    """``count`` marked clients and one opted out, a template, the server in the settings."""
    add_clients(db, russian_clients(count))
    add_clients(db, [Client("Отказов", "Олег", email=address(900), marked=True, opt_out=True)])
    if server is not None:
        save_email_settings(db, server.settings(Security.STARTTLS, auth=True))
    return add_template(db).id


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def last_line(text: str) -> str:
    return text.rstrip("\n").rsplit("\n", 1)[-1]


@pytest.fixture
def smtp_password(monkeypatch: pytest.MonkeyPatch, memory_keyring, trust_test_ca) -> None:
    """The in-process CLI takes the password from the environment and trusts the test CA."""
    monkeypatch.setenv("AVTOPROKAT_MAIL_PASSWORD", PASSWORD)


def runs_list(cli) -> list[dict[str, str]]:
    status, out, err = cli("runs", "list", "--format", "csv")
    assert status == 0, err
    rows = csv_rows(out)
    assert ",".join(rows[0]) == RUNS_HEADER
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


# --- exit statuses and the last line (in-process) ---------------------------------------------
@pytest.mark.usefixtures("smtp_password")
def test_clean_finish_exits_0(cli, db: sqlite3.Connection, faulty_server: StartServer) -> None:
    handler = FaultyHandler()
    template_id = set_up_office(db, 5, faulty_server(handler))

    status, out, err = cli("send", str(template_id), "--yes")

    assert status == 0, err
    assert last_line(out) == "sent 5, failed 0, skipped 1, uncertain 0"
    assert "Получателей: 5, пропущено: 1" in err
    assert "пропущено (1): отказ от рассылки" in err
    assert per_recipient(handler.envelopes) == {address(n): 1 for n in range(1, 6)}
    (run,) = runs_list(cli)
    assert (run["id"], run["template_id"], run["status"]) == ("1", str(template_id), "finished")
    assert (run["sent"], run["failed"], run["skipped"]) == ("5", "0", "1")
    assert template_store.get_template(db, template_id).sent == run["finished"] != ""


@pytest.mark.usefixtures("smtp_password")
def test_a_refused_recipient_exits_1(
    cli, db: sqlite3.Connection, faulty_server: StartServer
) -> None:
    reply = f"550 5.1.1 <{address(2)}>: Recipient address rejected: User unknown"
    handler = FaultyHandler(refuse={address(2): reply})
    template_id = set_up_office(db, 5, faulty_server(handler))

    status, out, err = cli("send", str(template_id), "--yes")

    assert status == 1, err
    assert last_line(out) == "sent 4, failed 1, skipped 1, uncertain 0"
    status, out, _ = cli("runs", "show", "1", "--format", "csv")
    assert status == 0
    rows = csv_rows(out)
    assert ",".join(rows[0]) == SHOW_HEADER
    outcome = {row[1]: (row[2], row[4]) for row in rows[1:]}
    assert outcome[address(2)] == ("failed", reply)
    assert outcome[address(900)] == ("skipped", "отказ от рассылки")
    assert [outcome[address(n)][0] for n in (1, 3, 4, 5)] == ["sent"] * 4
    assert runs_list(cli)[0]["status"] == "finished"


@pytest.mark.usefixtures("smtp_password")
def test_unknown_template_exits_2(cli, db: sqlite3.Connection, faulty_server: StartServer) -> None:
    set_up_office(db, 2, faulty_server(FaultyHandler()))

    status, out, err = cli("send", "99", "--yes")

    assert status == 2
    assert out == ""
    assert "нет шаблона с номером 99" in err
    assert runs_list(cli) == []


@pytest.mark.usefixtures("smtp_password")
def test_no_mail_settings_exits_2(cli, db: sqlite3.Connection) -> None:
    template_id = set_up_office(db, 2, None)

    status, out, err = cli("send", str(template_id), "--yes")

    assert status == 2
    assert out == ""
    assert "Почта не настроена" in err
    assert "Traceback" not in err
    assert runs_list(cli) == []


@pytest.mark.usefixtures("memory_keyring", "trust_test_ca")
def test_wrong_password_stops_exits_2_and_resumes(
    cli, db: sqlite3.Connection, faulty_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    handler = FaultyHandler()
    template_id = set_up_office(db, 5, faulty_server(handler))
    monkeypatch.setenv("AVTOPROKAT_MAIL_PASSWORD", "неверный-пароль")

    status, out, err = cli("send", str(template_id), "--yes")

    assert status == 2
    assert last_line(out) == "sent 0, failed 0, skipped 1, uncertain 0"
    assert "не принял логин «office@avtoprokat.ru» или пароль" in err
    assert "send --resume 1" in err
    assert "неверный-пароль" not in err
    assert handler.envelopes == []
    (run,) = runs_list(cli)
    assert (run["status"], run["sent"], run["failed"]) == ("stopped", "0", "0")

    monkeypatch.setenv("AVTOPROKAT_MAIL_PASSWORD", PASSWORD)
    status, out, err = cli("send", "--resume", "1", "--yes")

    assert status == 0, err
    assert last_line(out) == "sent 5, failed 0, skipped 1, uncertain 0"
    assert per_recipient(handler.envelopes) == {address(n): 1 for n in range(1, 6)}
    assert runs_list(cli)[0]["status"] == "finished"

    status, out, err = cli("send", "--resume", "1", "--yes")  # nothing left to send
    assert status == 2
    assert "уже завершена" in err
    assert len(handler.envelopes) == 5


@pytest.mark.usefixtures("smtp_password")
def test_resuming_a_run_being_sent_elsewhere_exits_2(
    cli, db: sqlite3.Connection, data_folder: Path, faulty_server: StartServer
) -> None:
    handler = FaultyHandler()
    template = template_store.get_template(db, set_up_office(db, 3, faulty_server(handler)))
    run_id = start_run(db, plan_run(db, template), Route.direct(Channel.EMAIL))
    lock = run_lock(data_folder, run_id)  # as another window or process sending it would
    assert lock.acquire()
    try:
        assert runs_list(cli)[0]["status"] == "running"
        status, _, err = cli("send", "--resume", str(run_id), "--yes")
    finally:
        lock.release()

    assert status == 2
    assert f"рассылка № {run_id} сейчас идёт" in err.casefold()
    assert handler.envelopes == []
    assert runs_list(cli)[0]["status"] == "interrupted"


@pytest.mark.usefixtures("smtp_password")
def test_unknown_run_exits_2(cli) -> None:
    status, _, err = cli("send", "--resume", "7", "--yes")
    assert status == 2
    assert "нет рассылки с номером 7" in err.casefold()
    status, _, err = cli("runs", "show", "7")
    assert status == 2
    assert "нет рассылки с номером 7" in err.casefold()


@pytest.mark.usefixtures("memory_keyring")
def test_outbox_writes_one_eml_per_recipient(cli, db: sqlite3.Connection, tmp_path: Path) -> None:
    files = write_attachments(tmp_path / "files")
    clients = add_clients(db, russian_clients(12))
    add_clients(db, [Client("Безадреса", "Борис", mobile="+79031112233", marked=True)])
    template = add_template(
        db, [tmp_path / "files" / CONTRACT_NAME, tmp_path / "files" / PHOTO_NAME]
    )
    outbox = tmp_path / "исходящие"

    status, out, err = cli("send", str(template.id), "--outbox", str(outbox), "--yes")

    assert status == 0, err
    assert last_line(out) == "sent 12, failed 0, skipped 1, uncertain 0"
    written = sorted(outbox.iterdir())
    assert [path.name for path in written] == [f"{n:06d}_{address(n)}.eml" for n in range(1, 13)]
    for client, path in zip(clients, written, strict=True):
        message = parse_file(path)
        assert message["To"].addresses[0].addr_spec == client.email
        assert message["Subject"].replace(" ", "") == expected_subject(client).replace(" ", "")
        body = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert body == expected_body(client)
        attached = {p.get_filename(): p.get_content() for p in message.iter_attachments()}
        assert attached == files
    (run,) = runs_list(cli)
    assert (run["status"], run["sent"], run["skipped"]) == ("finished", "12", "1")


# --- a real process, killed mid-run -----------------------------------------------------------
def _environment(test_ca: TestCA) -> dict[str, str]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        "SSL_CERT_FILE": str(test_ca.pem_path),
        "AVTOPROKAT_MAIL_PASSWORD": PASSWORD,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    for name in ("SSL_CERT_DIR", "AVTOPROKAT_MAIL_HOME"):
        environment.pop(name, None)
    return environment


def _command(folder: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "avtoprokat_mail", "--data-dir", str(folder), *args]


def _run(folder: Path, environment: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        _command(folder, *args),
        env=environment,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )


def _listed_run(folder: Path, environment: dict[str, str]) -> dict[str, str]:
    """The one run of ``runs list --format csv``, by column name."""
    listed = _run(folder, environment, "runs", "list", "--format", "csv")
    assert listed.returncode == 0, listed.stderr
    header, *rows = csv_rows(listed.stdout)
    assert ",".join(header) == RUNS_HEADER
    (run,) = rows
    return dict(zip(header, run, strict=True))


def _kill_when(
    folder: Path, environment: dict[str, str], handler: FaultyHandler, received: int, *args: str
) -> None:
    """Start ``args`` and SIGKILL the process once the server has ``received`` messages."""
    process = subprocess.Popen(
        _command(folder, *args),
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    try:
        while handler.count < received and process.poll() is None:
            assert time.monotonic() < deadline, "the run did not get that far"
            time.sleep(0.002)
    finally:
        process.kill()
        _, err = process.communicate(timeout=10)
    # killed (SIGKILL on POSIX, TerminateProcess on Windows), not ended by itself
    assert process.returncode not in (0, 1, 2), err.decode("utf-8", "replace")


def test_killed_three_times_and_resumed_nobody_gets_it_twice(
    data_folder: Path, db: sqlite3.Connection, faulty_server: StartServer, test_ca: TestCA
) -> None:
    handler = FaultyHandler(delay=0.015)  # each message is recorded, then answered 15 ms later
    template_id = set_up_office(db, 200, faulty_server(handler))
    everyone = {address(n) for n in range(1, 201)}
    environment = _environment(test_ca)

    commands = [("send", str(template_id), "--yes")] + [("send", "--resume", "1", "--yes")] * 2
    for received, command in zip((20, 70, 150), commands, strict=True):
        _kill_when(data_folder, environment, handler, received, *command)
        run = _listed_run(data_folder, environment)
        assert (run["id"], run["status"]) == ("1", "interrupted")
        counts = run_store.status_counts(db, 1)
        sent = counts[DeliveryStatus.SENT]
        assert run["sent"] == str(sent)
        assert counts[DeliveryStatus.SENDING] <= 1  # the message in flight, now uncertain
        assert received - 3 <= sent < 200  # up to one message in flight at each kill

    finished = _run(data_folder, environment, "send", "--resume", "1", "--yes")

    counts = run_store.status_counts(db, 1)
    uncertain = counts[DeliveryStatus.UNCERTAIN]
    assert uncertain <= 3  # at most the message in flight at each kill
    assert counts == {DeliveryStatus.SENT: 200 - uncertain, DeliveryStatus.SKIPPED: 1} | (
        {DeliveryStatus.UNCERTAIN: uncertain} if uncertain else {}
    )
    assert finished.returncode == (1 if uncertain else 0), finished.stderr
    assert (
        last_line(finished.stdout)
        == f"sent {200 - uncertain}, failed 0, skipped 1, uncertain {uncertain}"
    )

    # The server: nobody twice; nobody missing but, perhaps, the uncertain ones.
    got = per_recipient(handler.envelopes)
    assert max(got.values()) == 1, {a: n for a, n in got.items() if n > 1}
    assert set(got) <= everyone
    shown = _run(data_folder, environment, "runs", "show", "1", "--format", "csv")
    assert shown.returncode == 0, shown.stderr
    rows = csv_rows(shown.stdout)
    assert ",".join(rows[0]) == SHOW_HEADER
    assert len(rows) == 202
    by_status: dict[str, set[str]] = {}
    for row in rows[1:]:
        by_status.setdefault(row[2], set()).add(row[1])
        if row[2] == "uncertain":
            assert row[4] == UNCERTAIN_REPLY
    assert by_status["sent"] <= set(got)
    assert by_status["sent"] | by_status.get("uncertain", set()) == everyone
    assert everyone - set(got) <= by_status.get("uncertain", set())
    assert by_status["skipped"] == {address(900)}

    run = _listed_run(data_folder, environment)
    assert (run["status"], run["sent"], run["failed"], run["skipped"]) == (
        "finished", str(200 - uncertain), "0", "1"
    )  # fmt: skip


@pytest.mark.skipif(sys.platform == "win32", reason="Ctrl+C is a console event on Windows")
def test_ctrl_c_cancels_between_messages(
    data_folder: Path, db: sqlite3.Connection, faulty_server: StartServer, test_ca: TestCA
) -> None:
    handler = FaultyHandler(delay=0.02)
    template_id = set_up_office(db, 60, faulty_server(handler))
    environment = _environment(test_ca)
    process = subprocess.Popen(
        _command(data_folder, "send", str(template_id), "--yes"),
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
    )
    try:
        deadline = time.monotonic() + 30
        while handler.count < 10 and process.poll() is None:
            assert time.monotonic() < deadline, "the run did not get that far"
            time.sleep(0.002)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        process.kill()

    assert process.returncode == 2, err
    counts = run_store.status_counts(db, 1)
    sent = counts[DeliveryStatus.SENT]
    assert 10 <= sent < 60
    assert sent == handler.count  # the message in flight was finished, then the run ended
    assert counts == {
        DeliveryStatus.SENT: sent, DeliveryStatus.PENDING: 60 - sent, DeliveryStatus.SKIPPED: 1
    }  # fmt: skip
    assert last_line(out) == f"sent {sent}, failed 0, skipped 1, uncertain 0"
    assert "Отмена" in err
    assert "send --resume 1" in err
    assert "Traceback" not in err
    assert _listed_run(data_folder, environment)["status"] == "cancelled"

    resumed = _run(data_folder, environment, "send", "--resume", "1", "--yes")
    assert resumed.returncode == 0, resumed.stderr
    assert last_line(resumed.stdout) == "sent 60, failed 0, skipped 1, uncertain 0"
    assert per_recipient(handler.envelopes) == {address(n): 1 for n in range(1, 61)}


def test_subprocess_asks_for_yes_without_a_terminal(
    data_folder: Path, db: sqlite3.Connection, faulty_server: StartServer, test_ca: TestCA
) -> None:
    handler = FaultyHandler()
    template_id = set_up_office(db, 2, faulty_server(handler))

    result = subprocess.run(
        _command(data_folder, "send", str(template_id)),
        env=_environment(test_ca),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )

    assert result.returncode == 2
    assert "--yes" in result.stderr
    assert handler.envelopes == []
    assert run_store.list_runs(db) == []


def test_subprocess_exit_2_without_settings(data_folder: Path, test_ca: TestCA) -> None:
    conn = open_database(database_path(data_folder))
    try:
        template_id = set_up_office(conn, 2, None)
    finally:
        conn.close()

    result = _run(data_folder, _environment(test_ca), "send", str(template_id), "--yes")

    assert result.returncode == 2
    assert "Почта не настроена" in result.stderr
    assert "Traceback" not in result.stderr
