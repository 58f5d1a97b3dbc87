"""SMTP PIPELINING across messages (RFC 2920 §3.1): ``SmtpTransport.send_batch`` writes each
message's content together with the next one's MAIL, RCPT and DATA, so n messages take n + 1
round trips, and every message keeps its own exact outcome.

The server (tests/smtp_servers.py, PipeliningServer) records what each of its reads held
(``packets``: the commands, and "." where a message ended), so the tests see the writes; a
script refuses, stalls or hangs up at one chosen transaction. Outcomes are compared with what
``SmtpTransport.send`` says for the same reply.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from avtoprokat_mail.model import Client, Delivery, Template
from avtoprokat_mail.sending.message import Sender, build_email
from avtoprokat_mail.sending.smtp import (
    MAYBE_DELIVERED,
    NOT_SENT,
    PIPELINED_BATCH,
    SmtpTransport,
)
from avtoprokat_mail.sending.transport import DeliveryError
from tests.smtp_servers import USER, PipeliningServer, SmtpScript

Start = Callable[..., PipeliningServer]
Outcome = tuple[object, ...]

ENVELOPE = ["MAIL", "RCPT", "DATA"]


def payload(number: int) -> bytes:
    """A message of its own for each recipient: dot-stuffed lines, Cyrillic 8-bit text."""
    return (
        f"From: {USER}\r\nTo: client{number}@example.ru\r\nSubject: message {number}\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
        f".a line that starts with a dot, message {number}\r\n.\r\n"
        f"Здравствуйте, клиент номер {number}!\r\n"
    ).encode()


def items(*numbers: int) -> list[tuple[Delivery, object]]:
    return [(Delivery(n, f"client{n}@example.ru"), payload(n)) for n in numbers]


def outcome(result: str | DeliveryError, port: int) -> Outcome:
    """What the engine sees of one message: the reply and the flags of a refusal."""
    if isinstance(result, str):
        return ("sent", result)
    return (
        "refused",
        result.reply.replace(f":{port}", ":PORT"),
        result.temporary,
        result.fatal,
        result.connection,
        result.uncertain,
        result.quota,
        result.mailbox,
    )


def kind(result: str | DeliveryError) -> str:
    if isinstance(result, str):
        return "sent"
    if result.uncertain:
        return "uncertain"
    if result.fatal:
        return "fatal"
    if result.connection:
        return "connection"
    return "retry" if result.temporary else "failed"


def batch(
    start: Start, script: SmtpScript, count: int = 4, *, pipelining: bool = True, timeout: int = 5
) -> tuple[PipeliningServer, SmtpTransport, list[str | DeliveryError]]:
    """Open a transport to a fresh server and hand it messages 1..``count`` in one batch."""
    server = start(script, pipelining=pipelining)
    transport = SmtpTransport(server.settings(timeout=timeout), None)
    transport.open()
    return server, transport, transport.send_batch(items(*range(1, count + 1)))


def alone(start: Start, script: SmtpScript) -> Outcome:
    """What ``send`` says for the scripted reply (the script moved to the first message)."""
    server = start(script, pipelining=True)
    transport = SmtpTransport(server.settings(), None)
    try:
        result: str | DeliveryError = transport.send(*items(2)[0])
    except DeliveryError as error:
        result = error
    finally:
        transport.close()
    return outcome(result, server.port)


def packets(server: PipeliningServer, connection: int = 0) -> list[list[str]]:
    """Each read of the server after EHLO: the verbs, and "." where a message ended."""
    reads = server.connections[connection].packets[1:]
    return [[c if c == "." else c.split(" ")[0].upper() for c in read] for read in reads if read]


def test_four_messages_arrive_byte_exact_in_five_round_trips(pipelining_server: Start) -> None:
    server, transport, results = batch(pipelining_server, SmtpScript())
    transport.close()

    assert results == ["250 2.0.0 Ok: queued as 1"] * 4
    assert [(m.rcpt_tos, m.content) for m in server.messages] == [
        ([f"client{n}@example.ru"], payload(n)) for n in range(1, 5)
    ]
    assert [m.mail_options for m in server.messages] == [
        [f"size={len(payload(n))}"] for n in range(1, 5)
    ]
    # One write a round trip: message k's end and message k + 1's envelope arrive together.
    assert packets(server) == [ENVELOPE, *[[".", *ENVELOPE]] * 3, ["."], ["QUIT"]]
    assert len(server.connections) == 1


def test_the_batch_size_follows_the_connection(pipelining_server: Start) -> None:
    """No connection yet: one message (it connects); then PIPELINED_BATCH; without
    PIPELINING always 1."""
    server = pipelining_server(SmtpScript())
    transport = SmtpTransport(server.settings(), None)
    assert transport.batch_size == 1
    transport.send(*items(1)[0])
    assert transport.batch_size == PIPELINED_BATCH == 4
    transport.close()
    assert transport.batch_size == 1

    plain = pipelining_server(SmtpScript(), pipelining=False)
    other = SmtpTransport(plain.settings(), None)
    other.open()
    assert other.batch_size == 1
    other.close()


def test_a_refused_recipient_in_the_middle_fails_alone(pipelining_server: Start) -> None:
    script = SmtpScript(rcpt="550 5.1.1 No such user here", transaction=2)
    server, transport, results = batch(pipelining_server, script)
    after = transport.send_batch(items(5, 6))
    transport.close()

    assert [kind(r) for r in results] == ["sent", "failed", "sent", "sent"]
    assert outcome(results[1], server.port) == alone(
        pipelining_server, SmtpScript(rcpt="550 5.1.1 No such user here")
    )
    assert [m.rcpt_tos[0] for m in server.messages] == [
        f"client{n}@example.ru" for n in (1, 3, 4, 5, 6)
    ]
    # Its DATA, sent ahead, was refused; the RSET goes with message 3's envelope.
    assert packets(server)[:4] == [
        ENVELOPE,
        [".", *ENVELOPE],
        ["RSET", *ENVELOPE],
        [".", *ENVELOPE],
    ]
    assert after == ["250 2.0.0 Ok: queued as 1"] * 2 and len(server.connections) == 1


def test_a_temporary_final_reply_is_that_message_s_alone(pipelining_server: Start) -> None:
    refusal = "452 4.3.1 Insufficient system storage"
    server, transport, results = batch(pipelining_server, SmtpScript(final=refusal, transaction=2))
    transport.close()

    assert [kind(r) for r in results] == ["sent", "retry", "sent", "sent"]
    assert outcome(results[1], server.port) == alone(pipelining_server, SmtpScript(final=refusal))
    assert outcome(results[1], server.port)[1] == refusal
    assert [m.rcpt_tos[0] for m in server.messages] == [f"client{n}@example.ru" for n in (1, 3, 4)]
    assert packets(server)[:5] == [ENVELOPE, *[[".", *ENVELOPE]] * 3, ["."]]


def test_too_many_mid_batch_ends_the_batch_and_slows_down(pipelining_server: Start) -> None:
    """«Too many, slow down» for message 2: it is retried; message 3, whose envelope was
    already out, goes through; message 4 is left for later; the transport takes one message
    at a time while the pause lasts, the engine waiting ``ready_in`` between them."""
    refusal = "450 4.7.0 Too many messages, slow down"
    server, transport, results = batch(pipelining_server, SmtpScript(final=refusal, transaction=2))

    assert outcome(results[1], server.port) == alone(pipelining_server, SmtpScript(final=refusal))
    assert [kind(r) for r in results] == ["sent", "retry", "sent", "connection"]
    assert str(results[3]).startswith(NOT_SENT) and not results[3].uncertain  # type: ignore[union-attr]
    assert [m.rcpt_tos[0] for m in server.messages] == [f"client{n}@example.ru" for n in (1, 3)]
    assert transport.pause > 0 and transport.ready_in() > 0 and transport.batch_size == 1
    transport.close()


def test_a_refused_sender_stops_the_batch_and_the_rest_are_refused_alike(
    pipelining_server: Start,
) -> None:
    """The sender is refused at message 2: fatal for the mailbox, as ``send`` says; 3 and 4
    never went out and carry the same reason (the engine moves them to another mailbox or
    stops the run with them pending)."""
    refusal = "553 5.7.1 Sender address rejected: not owned by user"
    server, transport, results = batch(pipelining_server, SmtpScript(mail=refusal, transaction=2))
    transport.close()

    assert [kind(r) for r in results] == ["sent", "fatal", "fatal", "fatal"]
    assert outcome(results[1], server.port) == alone(pipelining_server, SmtpScript(mail=refusal))
    assert all(r.mailbox and not r.uncertain for r in results[1:])  # type: ignore[union-attr]
    assert len(server.messages) == 1
    # RCPT and DATA sent ahead are refused and read, then RSET: 3 and 4 never went out.
    assert packets(server) == [ENVELOPE, [".", *ENVELOPE], ["RSET"], ["QUIT"]]


def test_a_temporary_mail_refusal_leaves_the_rest_to_be_sent_again(
    pipelining_server: Start,
) -> None:
    refusal = "451 4.3.0 Try again later"
    server, transport, results = batch(pipelining_server, SmtpScript(mail=refusal, transaction=2))
    again = transport.send_batch(items(2, 3, 4))
    transport.close()

    assert outcome(results[1], server.port) == alone(pipelining_server, SmtpScript(mail=refusal))
    assert [kind(r) for r in results] == ["sent", "retry", "connection", "connection"]
    for rest in results[2:]:
        assert isinstance(rest, DeliveryError)
        assert rest.temporary and not rest.uncertain and rest.reply.startswith(NOT_SENT)
    assert again == ["250 2.0.0 Ok: queued as 1"] * 3
    assert [m.rcpt_tos[0] for m in server.messages] == [
        f"client{n}@example.ru" for n in (1, 2, 3, 4)
    ]
    assert len(server.connections) == 1


def test_a_connection_dropped_after_message_two_s_content(pipelining_server: Start) -> None:
    """Message 2 went out whole, the server hung up before answering: 2 may have arrived
    (uncertain); 3's envelope went with it but no content, 4 nothing: both to be sent again.
    Message 1 keeps its success."""
    script = SmtpScript(stall="final", hang_up=True, transaction=2)
    server, transport, results = batch(pipelining_server, script)

    assert [kind(r) for r in results] == ["sent", "uncertain", "connection", "connection"]
    uncertain = results[1]
    assert isinstance(uncertain, DeliveryError) and uncertain.reply.startswith(MAYBE_DELIVERED)
    for rest in results[2:]:
        assert isinstance(rest, DeliveryError)
        assert rest.temporary and not rest.uncertain and rest.reply.startswith(NOT_SENT)
        assert MAYBE_DELIVERED not in rest.reply
    assert packets(server) == [ENVELOPE, [".", *ENVELOPE], [".", *ENVELOPE]]
    assert [m.rcpt_tos[0] for m in server.messages] == ["client1@example.ru"]

    # The next handover connects again: 3 and 4 arrive, once each.
    assert transport.batch_size == 1
    assert transport.send_batch(items(3, 4)) == ["250 2.0.0 Ok: queued as 1"] * 2
    transport.close()
    assert [m.rcpt_tos[0] for m in server.messages] == [f"client{n}@example.ru" for n in (1, 3, 4)]
    assert len(server.connections) == 2


def test_a_silent_server_after_message_three_s_content_is_a_timeout(
    pipelining_server: Start,
) -> None:
    script = SmtpScript(stall="final", transaction=3)
    server, transport, results = batch(pipelining_server, script, timeout=1)
    transport.close()

    assert [kind(r) for r in results] == ["sent", "sent", "uncertain", "connection"]
    assert "не ответил за 1 с" in str(results[2])
    assert len(server.messages) == 2


def test_a_data_accepted_after_a_refused_recipient_closes_the_connection(
    pipelining_server: Start,
) -> None:
    """A server answering 354 to the DATA sent after a refused RCPT waits for a message no
    RSET can end: the connection is closed, the refused message fails alone, the rest were
    never sent (to be sent again, not uncertain), and the next handover connects again."""
    script = SmtpScript(rcpt="550 5.1.1 No such user here", careless_data=True, transaction=2)
    server, transport, results = batch(pipelining_server, script)

    assert [kind(r) for r in results] == ["sent", "failed", "connection", "connection"]
    assert all(not r.uncertain for r in results[1:])  # type: ignore[union-attr]
    assert packets(server) == [ENVELOPE, [".", *ENVELOPE]]  # no content after that 354
    assert transport.send_batch(items(3, 4)) == ["250 2.0.0 Ok: queued as 1"] * 2
    transport.close()
    assert len(server.connections) == 2 and len(server.messages) == 3


def test_without_pipelining_the_batch_goes_one_message_at_a_time(
    pipelining_server: Start,
) -> None:
    server, transport, results = batch(pipelining_server, SmtpScript(), pipelining=False)
    transport.close()

    assert results == ["250 2.0.0 Ok: queued as 1"] * 4
    assert [m.content for m in server.messages] == [payload(n) for n in range(1, 5)]
    assert all(len(read) <= 1 for read in packets(server))


def test_email_messages_go_as_send_message_would_send_them(pipelining_server: Start) -> None:
    """An EmailMessage (a Cyrillic address: SMTPUTF8) among bytes: the same options and
    bytes as ``send`` (smtplib's send_message) gives."""
    client = Client(surname="Иванов", name="Иван", email="иван@почта.рф")
    template = Template(subject="Скидка для {Имя}", body="Здравствуйте, {Имя}!\n.точка")
    message = build_email(template, client, Sender("Офис", USER))
    mixed = [items(1)[0], (Delivery(2, client.email), message), items(3)[0]]
    servers = []
    for batched in (False, True):
        server = pipelining_server(SmtpScript())
        transport = SmtpTransport(server.settings(), None)
        transport.open()
        if batched:
            results = transport.send_batch(mixed)
        else:
            results = [transport.send(*item) for item in mixed]
        transport.close()
        assert results == ["250 2.0.0 Ok: queued as 1"] * 3
        servers.append(server)
    one_by_one, pipelined = servers
    assert pipelined.messages == one_by_one.messages
    assert pipelined.messages[1].mail_options[1:] == ["SMTPUTF8", "BODY=8BITMIME"]
    assert packets(pipelined)[:4] == [ENVELOPE, *[[".", *ENVELOPE]] * 2, ["."]]


# --- the whole engine ---------------------------------------------------------------------------
def _engine_run(db, server: PipeliningServer, count: int):
    from avtoprokat_mail.model import Channel, Route
    from avtoprokat_mail.sending.campaign import Campaign, plan_run
    from avtoprokat_mail.sending.lifecycle import start_run
    from avtoprokat_mail.storage import database_file
    from tests.mailing_data import add_clients, add_template, russian_clients

    clients = add_clients(db, russian_clients(count))
    run_id = start_run(db, plan_run(db, add_template(db)), Route.direct(Channel.EMAIL))
    transport = SmtpTransport(server.settings(timeout=2), None)
    final = Campaign(database_file(db), run_id, transport, retry_delays=(0.01, 0.01)).run()
    return final, clients, run_id


def _journal(db, run_id: int) -> dict[str, object]:
    from avtoprokat_mail.storage import runs as run_store

    return {d.recipient: d.status for d in run_store.deliveries(db, run_id)}


def test_a_run_of_ten_through_a_pipelining_server_sends_each_once(
    db, pipelining_server: Start
) -> None:
    from avtoprokat_mail.model import DeliveryStatus, RunStatus

    server = pipelining_server(SmtpScript())
    final, clients, run_id = _engine_run(db, server, 10)

    assert (final.status, final.sent) == (RunStatus.FINISHED, 10)
    assert sorted(m.rcpt_tos[0] for m in server.messages) == sorted(c.email for c in clients)
    assert set(_journal(db, run_id).values()) == {DeliveryStatus.SENT}
    assert len(server.connections) == 1
    # Batches of four: 10 messages in 3 batches, 13 round trips instead of 20.
    reads = packets(server)
    assert reads.count([".", *ENVELOPE]) == 7 and reads.count(["."]) == 3
    assert len(reads) == 10 + 3 + 1  # and QUIT


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (SmtpScript(stall="final", hang_up=True, transaction=2), "uncertain"),
        (SmtpScript(rcpt="550 5.1.1 No such user here", transaction=3), "failed"),
    ],
    ids=["dropped-after-content", "refused-recipient"],
)
def test_a_run_with_a_failure_mid_batch_loses_and_repeats_nobody(
    db, pipelining_server: Start, script: SmtpScript, expected: str
) -> None:
    """One message goes wrong inside a batch: it alone is uncertain (or failed); every other
    client is journaled SENT and received exactly once, those left unsent sent again."""
    from avtoprokat_mail.model import DeliveryStatus, RunStatus

    server = pipelining_server(script)
    final, _clients, run_id = _engine_run(db, server, 10)

    journal = _journal(db, run_id)
    odd = DeliveryStatus.UNCERTAIN if expected == "uncertain" else DeliveryStatus.FAILED
    assert sorted(journal.values(), key=str) == sorted([odd] + [DeliveryStatus.SENT] * 9, key=str)
    assert final.status is RunStatus.FINISHED and final.sent == 9
    received = [m.rcpt_tos[0] for m in server.messages]
    sent = [address for address, status in journal.items() if status is DeliveryStatus.SENT]
    assert sorted(received) == sorted(sent)  # each once
