"""SMTP PIPELINING (RFC 2920): MAIL FROM, RCPT TO and DATA go out in one write when the server
offers it, and every reply means what it meant before.

Each scenario runs twice against the same kind of server, once offering PIPELINING and once
not (the old path, smtplib's sendmail), and the outcomes must be equal: the journaled reply,
and whether the message failed, is to be retried, stops the run or may have arrived. The
server (tests/smtp_servers.py, PipeliningServer) records which commands came in each read.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from avtoprokat_mail.model import Client, Delivery, Template
from avtoprokat_mail.sending.message import Sender, build_email
from avtoprokat_mail.sending.smtp import MAYBE_DELIVERED, SmtpTransport
from avtoprokat_mail.sending.transport import DeliveryError
from tests.smtp_servers import USER, PipeliningServer, SmtpScript

RECIPIENT = "client@example.ru"
# Lines that start with a dot (stuffed on the wire; a lone "." among them) and Cyrillic text in
# 8 bits; it ends with CRLF, as EmailFactory's messages do.
PAYLOAD = (
    b"From: office@avtoprokat.ru\r\nTo: client@example.ru\r\nSubject: test\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n\r\n"
    b".a line that starts with a dot\r\n..and two dots\r\n"
    + "Здравствуйте, Иван Петрович!\r\n".encode()
    + b".\r\n"
)

Start = Callable[..., PipeliningServer]

Outcome = tuple[object, ...]


def _outcome(transport: SmtpTransport, payload: object, port: int, recipient: str) -> Outcome:
    """What the engine sees of one send: the reply and the flags of a refusal."""
    try:
        reply = transport.send(Delivery(1, recipient), payload)
    except DeliveryError as error:
        return (
            "refused",
            error.reply.replace(f":{port}", ":PORT"),  # each server has its own port
            error.temporary,
            error.fatal,
            error.connection,
            error.uncertain,
            error.quota,
            error.mailbox,
        )
    return ("sent", reply)


def _run(
    start: Start,
    script: SmtpScript,
    *,
    pipelining: bool,
    payload: object = PAYLOAD,
    recipient: str = RECIPIENT,
) -> tuple[PipeliningServer, Outcome, Outcome]:
    """Send ``payload`` twice over one transport: the scripted answer, then the next message
    (which must find the session in order, or connect again)."""
    server = start(script, pipelining=pipelining)
    timeout = 1 if script.stall else 5
    transport = SmtpTransport(server.settings(timeout=timeout), None)
    try:
        first = _outcome(transport, payload, server.port, recipient)
        second = _outcome(transport, payload, server.port, recipient)
    finally:
        transport.close()
    return server, first, second


def _kind(outcome: Outcome) -> str:
    if outcome[0] == "sent":
        return "sent"
    _, _reply, temporary, fatal, connection, uncertain, _quota, _mailbox = outcome
    if uncertain:
        return "uncertain"
    if connection:
        return "connection"
    if fatal:
        return "fatal"
    return "retry" if temporary else "failed"


def _verbs(server: PipeliningServer, connection: int = 0) -> list[str]:
    return [c.split(" ")[0].upper() for c in server.connections[connection].commands]


SCENARIOS = {
    "accepted": (SmtpScript(), "sent"),
    "mail-552-size": (SmtpScript(mail="552 5.3.4 Message size exceeds fixed limit"), "fatal"),
    "mail-553-sender": (
        SmtpScript(mail="553 5.7.1 Sender address rejected: not owned by user"),
        "fatal",
    ),
    "mail-451": (SmtpScript(mail="451 4.3.0 Try again later"), "retry"),
    "mail-421": (SmtpScript(mail="421 4.3.2 Service shutting down"), "connection"),
    "rcpt-550-no-user": (SmtpScript(rcpt="550 5.1.1 No such user here"), "failed"),
    "rcpt-452-mailbox-full": (SmtpScript(rcpt="452 4.2.2 Mailbox full"), "retry"),
    "rcpt-421": (SmtpScript(rcpt="421 4.3.2 Service shutting down"), "connection"),
    "data-451": (SmtpScript(data="451 4.3.0 Try again later"), "retry"),
    "data-554": (SmtpScript(data="554 5.6.0 Transaction failed"), "failed"),
    "final-550-spam": (SmtpScript(final="550 5.7.1 Message rejected as spam"), "fatal"),
    "final-452": (SmtpScript(final="452 4.3.1 Insufficient system storage"), "retry"),
    "final-421": (SmtpScript(final="421 4.3.2 Service shutting down"), "connection"),
    "stall-at-mail": (SmtpScript(stall="mail"), "connection"),
    "stall-at-rcpt": (SmtpScript(stall="rcpt"), "connection"),
    "stall-at-data": (SmtpScript(stall="data"), "connection"),
    "stall-after-the-message": (SmtpScript(stall="final"), "uncertain"),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_each_reply_means_the_same_with_and_without_pipelining(
    name: str, pipelining_server: Start
) -> None:
    """The same server reply gives the same outcome and journaled text either way; the next
    message goes through in both, and the pipelined one sent its commands in one write."""
    script, expected = SCENARIOS[name]
    old, old_first, old_second = _run(pipelining_server, script, pipelining=False)
    new, new_first, new_second = _run(pipelining_server, script, pipelining=True)

    assert _kind(old_first) == expected
    assert new_first == old_first
    assert new_second == old_second
    if "stall" not in name and "421" not in name:
        # After any refusal the transaction is ended (an RSET even after a refused DATA
        # command, which smtplib leaves open): the next message goes through.
        assert new_second[0] == "sent", name
    assert [m.content for m in new.messages] == [m.content for m in old.messages]
    grouped = [[c.split(" ")[0].upper() for c in r] for r in new.connections[0].reads]
    assert ["MAIL", "RCPT", "DATA"] in grouped
    assert all(len(read) <= 1 for read in old.connections[0].reads)


def test_pipelined_commands_arrive_in_one_read_and_the_message_byte_exact(
    pipelining_server: Start,
) -> None:
    server, first, _second = _run(pipelining_server, SmtpScript(), pipelining=True)

    assert first == ("sent", "250 2.0.0 Ok: queued as 1")
    reads = [read for read in server.connections[0].reads if read]
    size = f"size={len(PAYLOAD)}"
    assert [f"mail FROM:<{USER}> {size}", f"rcpt TO:<{RECIPIENT}>", "data"] in reads
    assert len(server.connections) == 1 and len(server.messages) == 2
    received = server.messages[0]
    assert (received.mail_from, received.rcpt_tos) == (USER, [RECIPIENT])
    assert received.content == PAYLOAD


def test_after_a_refused_sender_the_data_refusal_is_read_then_rset(
    pipelining_server: Start,
) -> None:
    """MAIL refused, RCPT and DATA already sent: the server refuses those too (503, 554); the
    client reads them, sends RSET, reports the MAIL refusal and sends the next message on the
    same connection."""
    script = SmtpScript(mail="451 4.3.0 Try again later")
    server, first, second = _run(pipelining_server, script, pipelining=True)

    assert first[:3] == ("refused", "451 4.3.0 Try again later", True)
    assert second[0] == "sent"
    assert len(server.connections) == 1
    assert _verbs(server) == [
        *["EHLO", "MAIL", "RCPT", "DATA", "RSET"],
        *["MAIL", "RCPT", "DATA", "QUIT"],
    ]


def test_after_a_refused_recipient_the_client_rsets_and_goes_on(
    pipelining_server: Start,
) -> None:
    script = SmtpScript(rcpt="550 5.1.1 No such user here")
    server, first, second = _run(pipelining_server, script, pipelining=True)

    assert first[:4] == ("refused", "550 5.1.1 No such user here", False, False)
    assert second[0] == "sent" and len(server.connections) == 1
    assert _verbs(server)[:5] == ["EHLO", "MAIL", "RCPT", "DATA", "RSET"]


def test_a_server_silent_mid_group_is_a_timeout_not_a_hang(pipelining_server: Start) -> None:
    """The MAIL reply comes, the RCPT reply never does: the reply's deadline ends the wait,
    the message is to be retried (it was never sent) and the next one connects again."""
    server, first, second = _run(pipelining_server, SmtpScript(stall="rcpt"), pipelining=True)

    assert _kind(first) == "connection" and first[2] is True
    assert "не ответил за 1 с" in str(first[1]) and MAYBE_DELIVERED not in str(first[1])
    assert second[0] == "sent" and len(server.connections) == 2


def test_a_lost_answer_to_a_whole_message_is_uncertain(pipelining_server: Start) -> None:
    _server, first, _second = _run(pipelining_server, SmtpScript(stall="final"), pipelining=True)

    assert _kind(first) == "uncertain" and str(first[1]).startswith(MAYBE_DELIVERED)


def test_smtputf8_message_has_the_same_options_and_bytes_either_way(
    pipelining_server: Start,
) -> None:
    """A Cyrillic mailbox name needs SMTPUTF8: send_message's options (SIZE, SMTPUTF8,
    BODY=8BITMIME) and its bytes are kept on the pipelined path."""
    client = Client(surname="Иванов", name="Иван", email="иван@почта.рф")
    template = Template(subject="Скидка для {Имя}", body="Здравствуйте, {Имя}!\n.точка")
    message = build_email(template, client, Sender("Офис", USER))
    runs = [
        _run(pipelining_server, SmtpScript(), pipelining=p, payload=message, recipient=client.email)
        for p in (False, True)
    ]
    (old, old_first, _), (new, new_first, _) = runs

    assert old_first == new_first == ("sent", "250 2.0.0 Ok: queued as 1")
    assert new.messages == old.messages
    options = new.messages[0].mail_options
    assert options[1:] == ["SMTPUTF8", "BODY=8BITMIME"] and options[0].startswith("size=")
    grouped = [[c.split(" ")[0].upper() for c in r] for r in new.connections[0].reads]
    assert ["MAIL", "RCPT", "DATA"] in grouped


def test_a_run_through_a_pipelining_server_sends_everyone_in_one_write_each(
    db, pipelining_server: Start
) -> None:
    """The engine's own run: every client's message arrives, each one's MAIL, RCPT and DATA
    in one read, over one connection."""
    from avtoprokat_mail.model import Channel, Route, RunStatus
    from avtoprokat_mail.sending.campaign import Campaign, plan_run
    from avtoprokat_mail.sending.lifecycle import start_run
    from avtoprokat_mail.storage import database_file
    from tests.mailing_data import add_clients, add_template, russian_clients

    clients = add_clients(db, russian_clients(4))
    server = pipelining_server(SmtpScript())
    run_id = start_run(db, plan_run(db, add_template(db)), Route.direct(Channel.EMAIL))
    transport = SmtpTransport(server.settings(), None)

    final = Campaign(database_file(db), run_id, transport, retry_delays=(0.01,)).run()

    assert (final.status, final.sent) == (RunStatus.FINISHED, 4)
    assert sorted(m.rcpt_tos[0] for m in server.messages) == sorted(c.email for c in clients)
    assert len(server.connections) == 1
    grouped = [[c.split(" ")[0].upper() for c in r] for r in server.connections[0].reads]
    assert grouped.count(["MAIL", "RCPT", "DATA"]) == 4
