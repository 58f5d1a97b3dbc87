"""Understanding SMTP refusals: real-looking replies of Yandex, mail.ru, Gmail and the common
servers, as smtplib hands them over (code, text), sorted into what the engine must do."""

from __future__ import annotations

import dataclasses
import re

import pytest

from avtoprokat_mail.sending.replies import (
    KNOWN_TEXTS,
    STAGES,
    Reply,
    ReplyKind,
    classify,
)

K = ReplyKind
P = pytest.param

# Gmail's multi-line replies, as smtplib joins them: the "550-" of every line is gone, the
# enhanced code stays at the start of each line, lines are joined with "\n".
GMAIL_DAILY_LIMIT = (
    "5.4.5 Daily user sending limit exceeded. For more information on Gmail\n"
    "5.4.5 sending limits go to\n"
    "5.4.5  https://support.google.com/a/answer/166852 d2-20020a05600c3a0200b003f7 - gsmtp"
)
GMAIL_NO_SUCH_USER = (
    "5.1.1 The email account that you tried to reach does not exist. Please try\n"
    "5.1.1 double-checking the recipient's email address for typos or\n"
    "5.1.1 unnecessary spaces. For more information, go to\n"
    "5.1.1  https://support.google.com/mail/?p=NoSuchUser a1-20020a17090a00c100b0025 - gsmtp"
)
GMAIL_OVER_QUOTA = (
    "4.2.2 The email account that you tried to reach is over quota. Please direct\n"
    "4.2.2 the recipient to\n"
    "4.2.2  https://support.google.com/mail/?p=OverQuotaTemp b9-20020a0564020c09 - gsmtp"
)
GMAIL_TOO_BIG = (
    "5.2.3 Your message exceeded Google's message size limits. Please visit\n"
    "5.2.3  https://support.google.com/mail/?p=MaxSizeError to view our size\n"
    "5.2.3 guidelines. h4-20020a170906 - gsmtp"
)
GMAIL_UNSOLICITED = (
    "5.7.1 [203.0.113.5      12] Our system has detected that this message is\n"
    "5.7.1 likely unsolicited mail. To reduce the amount of spam sent to Gmail,\n"
    "5.7.1 this message has been blocked. For more information, go to\n"
    "5.7.1  https://support.google.com/mail/?p=UnsolicitedMessageError k7si - gsmtp"
)
GMAIL_IP_REPUTATION = (
    "4.7.0 [203.0.113.5      15] Our system has detected an unusual rate of\n"
    "4.7.0 unsolicited mail originating from your IP address. To protect our\n"
    "4.7.0 users from spam, mail sent from your IP address has been temporarily\n"
    "4.7.0 rate limited. Please visit\n"
    "4.7.0  https://support.google.com/mail/?p=UnsolicitedRateLimitError to\n"
    "4.7.0 review our Bulk Email Senders Guidelines. c4si - gsmtp"
)
GMAIL_DKIM_RATE = (
    "4.7.28 Gmail has detected an unusual rate of mail originating from your DKIM\n"
    "4.7.28 domain [avtoprokat.ru      30]. To protect our users from spam, mail\n"
    "4.7.28 sent from your DKIM domain has been temporarily rate limited. For more\n"
    "4.7.28 information, go to https://support.google.com/mail/?p=UnsolicitedRateLimitError\n"
    "4.7.28 to review our Bulk Email Senders Guidelines. z3si - gsmtp"
)
GMAIL_RECEIVING_TOO_FAST = (
    "4.2.1 The user you are trying to contact is receiving mail at a rate that\n"
    "4.2.1 prevents additional messages from being delivered. Please resend your\n"
    "4.2.1 message at a later time. If the user is able to receive mail at that\n"
    "4.2.1 time, your message will be delivered. For more information, go to\n"
    "4.2.1  https://support.google.com/mail/?p=ReceivingRate q4si - gsmtp"
)
GMAIL_DMARC = (
    "5.7.26 This mail is unauthenticated, which poses a security risk to the\n"
    "5.7.26 sender and Gmail users, and has been blocked. The sender must\n"
    "5.7.26 authenticate with at least one of SPF or DKIM. For this message,\n"
    "5.7.26 DKIM checks did not pass and SPF check for [avtoprokat.ru] did not\n"
    "5.7.26 pass with ip: [203.0.113.5]. To best protect our users from spam, the\n"
    "5.7.26 message has been blocked. Please visit\n"
    "5.7.26  https://support.google.com/mail/answer/81126#authentication w2si - gsmtp"
)
GMAIL_CONTENT_BLOCKED = (
    "5.7.0 This message was blocked because its content presents a potential\n"
    "5.7.0 security issue. Please visit\n"
    "5.7.0  https://support.google.com/mail/?p=BlockedMessage to review our\n"
    "5.7.0 message content and attachment content guidelines. t5si - gsmtp"
)
GMAIL_BAD_CREDENTIALS = (
    "5.7.8 Username and Password not accepted. For more information, go to\n"
    "5.7.8  https://support.google.com/mail/?p=BadCredentials m1sm2041 - gsmtp"
)
GMAIL_AUTH_REQUIRED = (
    "5.7.0 Authentication Required. For more information, go to\n"
    "5.7.0  https://support.google.com/mail/?p=WantAuthError e9sm1113 - gsmtp"
)
MAILRU_SPAM = (
    "spam message rejected. Please visit https://help.mail.ru/notspam-support/id?c="
    "Ym9keSB0ZXh0IGhhc2g or report details to abuse@corp.mail.ru. Error code: 9F2C1A0B."
)

SAMPLES = [
    # --- The recipient's address: fail this recipient.
    P(550, "5.1.1 <petrov@romashka.ru>: Recipient address rejected: User unknown in virtual "
      "mailbox table", "rcpt", K.RECIPIENT, False, id="postfix-user-unknown"),
    P(550, GMAIL_NO_SUCH_USER, "rcpt", K.RECIPIENT, False, id="gmail-no-such-user-multiline"),
    P(550, "Unrouteable address", "rcpt", K.RECIPIENT, False, id="exim-unrouteable"),
    P(550, "Message was not accepted -- invalid mailbox.  Local mailbox ivanov@mail.ru is "
      "unavailable: user not found", "rcpt", K.RECIPIENT, False, id="mailru-user-not-found"),
    P(550, "Message was not accepted -- invalid mailbox.  Local mailbox ivanov@mail.ru is "
      "unavailable: account is disabled", "data", K.RECIPIENT, False, id="mailru-disabled"),
    P(550, "5.7.1 No such user!", "rcpt", K.RECIPIENT, False, id="yandex-no-such-user"),
    P(550, "5.7.1 Policy rejection on the target address", "rcpt", K.RECIPIENT, False,
      id="yandex-recipient-blocked"),
    P(550, "5.2.1 The email account that you tried to reach is disabled. p5si - gsmtp", "rcpt",
      K.RECIPIENT, False, id="gmail-account-disabled"),
    P(550, "No Such User Here", "rcpt", K.RECIPIENT, False, id="cpanel-no-such-user"),
    P(550, "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
      "rcpt", K.RECIPIENT, False, id="exchange-recipient-not-found"),
    P(550, "Нет такого пользователя: petrov@romashka.ru".encode(), "data", K.RECIPIENT, False,
      id="russian-bytes-no-such-user"),
    P(550, "Requested action not taken: mailbox unavailable", "rcpt", K.RECIPIENT, False,
      id="bare-550-at-rcpt"),
    P(553, "5.1.3 Bad recipient address syntax", "rcpt", K.RECIPIENT, False,
      id="bad-recipient-syntax"),
    P(550, "  User   unknown\tin  local recipient table ", "rcpt", K.RECIPIENT, False,
      id="odd-spacing-no-enhanced"),
    # --- The recipient's mailbox is full: fail (5xx) or retry later (4xx).
    P(552, "5.2.2 <petrov@romashka.ru>: Recipient address rejected: Mailbox is full", "rcpt",
      K.MAILBOX_FULL, False, id="postfix-mailbox-full"),
    P(452, GMAIL_OVER_QUOTA, "rcpt", K.MAILBOX_FULL, True, id="gmail-over-quota-multiline"),
    P(552, "5.2.2 Mailbox size limit exceeded", "rcpt", K.MAILBOX_FULL, False,
      id="yandex-mailbox-size"),
    P(552, "Quota exceeded (mailbox for user is full)", "data", K.MAILBOX_FULL, False,
      id="dovecot-no-enhanced"),
    P(552, "User quota exceeded", "rcpt", K.MAILBOX_FULL, False, id="mailru-user-quota"),
    P(452, "Ящик получателя переполнен", "rcpt", K.MAILBOX_FULL, True, id="russian-full"),
    # --- The message is too big: stop the run.
    P(552, "5.3.4 Message size exceeds fixed limit", "data", K.SIZE, False, id="postfix-size"),
    P(552, GMAIL_TOO_BIG, "data", K.SIZE, False, id="gmail-size-multiline"),
    P(552, "Message size exceeds maximum permitted", "data", K.SIZE, False, id="exim-size"),
    P(552, "5.3.4 Error: message file too big;", "data", K.SIZE, False, id="yandex-size"),
    P(552, "Requested mail action aborted: exceeded storage allocation", "mail", K.SIZE, False,
      id="size-extension-at-mail-from"),
    P(552, "sorry, that message size exceeds my databytes limit (#5.3.4)", "data", K.SIZE,
      False, id="qmail-size"),
    P(552, "Письмо слишком большое".encode(), "data", K.SIZE, False, id="russian-size"),
    # --- The sender address is refused: stop the run.
    P(553, "5.7.1 Sender address rejected: not owned by auth user.", "mail", K.SENDER, False,
      id="yandex-not-owned"),
    P(550, "not local sender over smtp", "mail", K.SENDER, False, id="mailru-not-local"),
    P(553, "5.1.8 <office@avtoprokat>: Sender address rejected: Domain not found", "rcpt",
      K.SENDER, False, id="postfix-sender-domain"),
    P(501, "5.1.7 Bad address mailbox syntax.", "mail", K.SENDER, False, id="yandex-syntax"),
    P(550, "5.1.0 <office@avtoprokat.ru>: Sender address rejected: User unknown in local "
      "recipient table", "rcpt", K.SENDER, False, id="postfix-unlisted-sender"),
    P(550, "Verification failed for <office@avtoprokat.ru>\nUnrouteable address\n"
      "Sender verify failed", "rcpt", K.SENDER, False, id="exim-sender-verify"),
    P(553, "Requested action not taken: mailbox name not allowed", "mail", K.SENDER, False,
      id="bare-553-at-mail-from"),
    P(554, "5.2.252 SendAsDenied; office@avtoprokat.ru not allowed to send as "
      "boss@avtoprokat.ru; STOREDRV.Submission.Exception:SendAsDeniedException", "data",
      K.SENDER, False, id="exchange-send-as"),
    # --- The sender's mailbox is over its daily limit: wait a day.
    P(550, GMAIL_DAILY_LIMIT, "data", K.SENDING_QUOTA, False,
      id="gmail-daily-limit-multiline"),
    P(550, b"5.4.5 Daily user sending quota exceeded. s124sm6149838wme.29 - gsmtp", "data",
      K.SENDING_QUOTA, False, id="gmail-daily-quota-bytes"),
    P(550, "5.4.5 Daily user sending quota exceeded", "rcpt", K.SENDING_QUOTA, False,
      id="yandex-daily-quota"),
    P(550, "Ratelimit exceeded for mailbox office@mail.ru. Try again later.", "data",
      K.SENDING_QUOTA, False, id="mailru-mailbox-ratelimit"),
    P(550, "Превышен лимит отправки писем, попробуйте завтра".encode(), "data",
      K.SENDING_QUOTA, False, id="russian-bytes-limit"),
    P(554, "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to "
      "process message due to a permanent exception with message Cannot submit message.",
      "data", K.SENDING_QUOTA, False, id="exchange-submission-quota"),
    P(454, "Throttling failure: Daily message quota exceeded.", "data", K.SENDING_QUOTA, True,
      id="ses-daily-quota"),
    P(451, "4.7.1 Quota exceeded", "rcpt", K.SENDING_QUOTA, True, id="relay-policy-quota"),
    P(452, "4.5.3 Daily recipient quota exceeded", "rcpt", K.SENDING_QUOTA, True,
      id="relay-daily-recipients"),
    P(421, "4.7.0 Daily message limit reached, try again tomorrow", "data", K.SENDING_QUOTA,
      True, id="relay-daily-421"),
    P(550, "5.7.1 <DATA>: Data command rejected: only 10 messages per day", "data",
      K.SENDING_QUOTA, False, id="hosting-messages-per-day"),
    # --- Spam or reputation: pause the run.
    P(554, "5.7.1 [2] Message rejected under suspicion of SPAM; https://ya.cc/1IrBc "
      "1677141592-abCdEfGh1-a1b2c3d4", "data", K.SPAM, False, id="yandex-spam"),
    P(550, MAILRU_SPAM, "data", K.SPAM, False, id="mailru-spam"),
    P(550, GMAIL_UNSOLICITED, "data", K.SPAM, False, id="gmail-unsolicited-multiline"),
    P(421, GMAIL_IP_REPUTATION, "data", K.SPAM, True, id="gmail-ip-reputation-421"),
    P(554, "5.7.1 Service unavailable; Client host [203.0.113.5] blocked using "
      "zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.5", "connect", K.SPAM,
      False, id="spamhaus"),
    P(554, "5.7.1 Blocked by spam statistics", "data", K.SPAM, False, id="yandex-statistics"),
    P(550, "5.7.28 Our system has detected an unusual rate of unsolicited mail originating "
      "from your IP address. Mail sent from your IP address has been blocked.", "data", K.SPAM,
      False, id="gmail-5728-blocked"),
    P(550, "Сообщение отклонено как спам", "data", K.SPAM, False, id="russian-spam"),
    # --- Too much, too fast: slow down and retry.
    P(421, "4.7.0 Try again later, closing connection. (EHLO) a1-20020a - gsmtp", "connect",
      K.RATE, True, id="gmail-try-again-later"),
    P(451, "4.7.1 Please try again later", "data", K.RATE, True, id="relay-try-again"),
    P(452, "4.5.3 Too many recipients", "rcpt", K.RATE, True, id="too-many-recipients"),
    P(450, GMAIL_RECEIVING_TOO_FAST, "rcpt", K.RATE, True, id="gmail-receiving-rate"),
    P(421, GMAIL_DKIM_RATE, "data", K.RATE, True, id="gmail-4728-unusual-rate"),
    P(451, "Ratelimit exceeded. Please try again later", "rcpt", K.RATE, True,
      id="mailru-ratelimit"),
    P(421, "4.7.0 smtp.yandex.ru Error: too many connections from 203.0.113.5", "connect",
      K.RATE, True, id="yandex-too-many-connections"),
    P(451, "4.5.1 The recipient <ivanov@yandex.ru> has exceeded their message rate limit. "
      "Try again later.", "rcpt", K.RATE, True, id="yandex-recipient-rate"),
    P(451, '4.7.1 Ratelimit "user" exceeded', "data", K.RATE, True, id="rspamd-ratelimit"),
    P(454, "4.7.0 Too many login attempts, please try again later. m1sm20 - gsmtp", "auth",
      K.RATE, True, id="gmail-login-attempts"),
    P(550, "Domain avtoprokat.ru has exceeded the max emails per hour (150/150 (100%)) "
      "allowed.  Message discarded.", "data", K.RATE, False, id="cpanel-per-hour"),
    P(550, "Requested action not taken: mailbox unavailable\nFailure sending mail. "
      "Try again later", "rcpt", K.RATE, False, id="gmx-try-again-later"),
    P(454, "Throttling failure: Maximum sending rate exceeded.", "data", K.RATE, True,
      id="ses-sending-rate"),
    P(451, "Слишком много писем, повторите попытку позже".encode(), "data", K.RATE, True,
      id="russian-bytes-rate"),
    # --- Other policy refusals: stop the run with the reason.
    P(550, "5.7.1 Relaying denied", "rcpt", K.POLICY, False, id="relaying-denied"),
    P(554, "5.7.1 <client@romashka.ru>: Relay access denied", "rcpt", K.POLICY, False,
      id="postfix-relay"),
    P(454, "4.7.1 <client@romashka.ru>: Relay access denied", "rcpt", K.POLICY, True,
      id="postfix-relay-454"),
    P(530, "5.7.0 Must issue a STARTTLS command first. a1-20020a - gsmtp", "mail", K.POLICY,
      False, id="gmail-starttls"),
    P(530, GMAIL_AUTH_REQUIRED, "mail", K.POLICY, False, id="gmail-auth-required"),
    P(550, GMAIL_DMARC, "data", K.POLICY, False, id="gmail-5726-unauthenticated"),
    P(550, "5.7.23 The message was rejected because of Sender Policy Framework violation",
      "data", K.POLICY, False, id="spf"),
    P(535, GMAIL_BAD_CREDENTIALS, "auth", K.POLICY, False, id="gmail-bad-credentials"),
    P(535, "5.7.0 NEOBHODIM parol prilozheniya https://help.mail.ru/mail/security/protection/"
      "external / Application password is REQUIRED", "auth", K.POLICY, False,
      id="mailru-app-password"),
    P(550, "message sending for this account is disabled", "mail", K.POLICY, False,
      id="mailru-sending-disabled"),
    P(550, "Administrative prohibition", "rcpt", K.POLICY, False, id="exim-prohibition"),
    P(553, "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", "rcpt",
      K.POLICY, False, id="qmail-rcpthosts"),
    P(552, GMAIL_CONTENT_BLOCKED, "data", K.POLICY, False, id="gmail-content-blocked"),
    # --- Anything else temporary: retry later.
    P(451, "4.7.1 Sorry, the service is currently unavailable. Please come back later.",
      "data", K.TEMPORARY, True, id="yandex-unavailable"),
    P(451, "4.7.1 Service unavailable - try again later", "data", K.TEMPORARY, True,
      id="yandex-temp-error"),
    P(451, "4.3.0 Mail server temporarily rejected message. p8si - gsmtp", "data", K.TEMPORARY,
      True, id="gmail-temporarily-rejected"),
    P(450, "4.2.0 <client@romashka.ru>: Recipient address rejected: Greylisted, see "
      "http://postgrey.schweikert.ch/help/romashka.ru.html", "rcpt", K.TEMPORARY, True,
      id="postgrey"),
    P(452, "4.3.1 Insufficient system storage", "mail", K.TEMPORARY, True, id="server-disk"),
    P(421, "Service not available, closing transmission channel", "connect", K.TEMPORARY,
      True, id="bare-421"),
    P(451, "Temporary local problem - please try later", "data", K.TEMPORARY, True,
      id="exim-local-problem"),
    P(450, "4.7.1 No such user!", "rcpt", K.TEMPORARY, True, id="yandex-unknown-temporary"),
    P(450, "4.1.8 <office@avtoprokat.ru>: Sender address rejected: Domain not found", "rcpt",
      K.TEMPORARY, True, id="sender-domain-dns-temporary"),
    # --- Anything else permanent: fail this recipient.
    P(554, "Transaction failed", "data", K.OTHER, False, id="bare-554"),
    P(500, "5.5.1 Unrecognized command", "data", K.OTHER, False, id="protocol-error"),
    P(550, "Requested action not taken: mailbox unavailable", "data", K.OTHER, False,
      id="bare-550-after-data"),
    P(550, "Письмо отклонено".encode("cp1251"), "data", K.OTHER, False,
      id="not-utf8-bytes"),
]  # fmt: skip


@pytest.mark.parametrize(("code", "text", "stage", "kind", "temporary"), SAMPLES)
def test_classify(code, text, stage, kind, temporary):
    reply = classify(code, text, stage=stage)
    assert reply.kind is kind
    assert reply.temporary is temporary
    assert reply.code == code


def test_the_samples_cover_every_kind_and_stage():
    assert len(SAMPLES) >= 40
    assert {sample.values[3] for sample in SAMPLES} == set(ReplyKind)
    assert {sample.values[2] for sample in SAMPLES} == set(STAGES)


@pytest.mark.parametrize(("code", "text", "stage", "kind", "temporary"), SAMPLES)
def test_explain_is_russian_and_ends_with_the_servers_words(code, text, stage, kind, temporary):
    explanation = classify(code, text, stage=stage).explain()
    assert re.match(r"[А-ЯЁ]", explanation), explanation
    assert len(re.findall(r"[а-яё]", explanation)) > 30
    head, _, words = explanation.partition(" (Сервер ответил: ")
    assert head and head.endswith("."), explanation
    assert words.startswith(f"{code}"), explanation
    assert explanation.endswith(")")
    assert len(explanation) <= 400


def test_the_enhanced_code_is_found_and_the_multiline_text_folded():
    reply = classify(550, GMAIL_DAILY_LIMIT.encode())
    assert reply.enhanced == "5.4.5"
    assert reply.text == (
        "5.4.5 Daily user sending limit exceeded. For more information on Gmail sending limits "
        "go to https://support.google.com/a/answer/166852 d2-20020a05600c3a0200b003f7 - gsmtp"
    )


def test_text_without_an_enhanced_code():
    reply = classify(550, "  User   unknown\tin  local recipient table ", stage="rcpt")
    assert reply.enhanced == ""
    assert reply.text == "User unknown in local recipient table"


def test_a_whole_reply_passed_as_the_text_loses_its_code():
    reply = classify(550, "550-5.1.1 No such user\r\n550 5.1.1 here", stage="rcpt")
    assert (reply.enhanced, reply.text, reply.kind) == (
        "5.1.1",
        "5.1.1 No such user here",
        K.RECIPIENT,
    )


def test_an_ip_address_is_not_an_enhanced_code():
    reply = classify(554, "5.7.1.2 is not a code", stage="data")
    assert reply.enhanced == ""


def test_qmail_puts_the_enhanced_code_last():
    reply = classify(553, "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)")
    assert reply.enhanced == "5.7.1"


def test_bytes_are_decoded_as_utf8_with_replacement():
    assert classify(550, "5.1.1 Нет такого ящика".encode()).text == "5.1.1 Нет такого ящика"
    garbled = classify(550, "Письмо отклонено".encode("cp1251"))
    assert "\ufffd" in garbled.text


@pytest.mark.parametrize(
    ("code", "text", "stage", "kind"),
    [
        # The same words, "quota", are the recipient's storage or the sender's daily limit.
        (552, "5.2.2 Quota exceeded", "rcpt", K.MAILBOX_FULL),
        (452, "4.2.2 Quota exceeded", "data", K.MAILBOX_FULL),
        (550, "5.4.5 Quota exceeded", "data", K.SENDING_QUOTA),
        (451, "4.7.1 Quota exceeded", "data", K.SENDING_QUOTA),
        (452, "4.5.3 Quota exceeded", "rcpt", K.SENDING_QUOTA),
        (552, "Quota exceeded", "rcpt", K.MAILBOX_FULL),
        (550, "Quota exceeded", "data", K.MAILBOX_FULL),
        (550, "Quota exceeded", "mail", K.SENDING_QUOTA),
        (552, "5.2.2 The email account that you tried to reach is over quota", "rcpt",
         K.MAILBOX_FULL),
        (550, "5.4.5 Daily user sending quota exceeded", "rcpt", K.SENDING_QUOTA),
        (550, "Daily user sending quota exceeded.", "rcpt", K.SENDING_QUOTA),
    ],
)  # fmt: skip
def test_the_recipients_quota_is_not_the_senders(code, text, stage, kind):
    assert classify(code, text, stage=stage).kind is kind


@pytest.mark.parametrize(
    ("code", "text", "stage", "kind"),
    [
        (552, "Requested mail action aborted: exceeded storage allocation", "mail", K.SIZE),
        (552, "Requested mail action aborted: exceeded storage allocation", "rcpt",
         K.MAILBOX_FULL),
        (552, "Requested mail action aborted: exceeded storage allocation", "data", K.SIZE),
        (550, "Requested action not taken: mailbox unavailable", "mail", K.SENDER),
        (550, "Requested action not taken: mailbox unavailable", "rcpt", K.RECIPIENT),
        (550, "Requested action not taken: mailbox unavailable", "data", K.OTHER),
        (550, "5.1.1 User unknown", "mail", K.SENDER),
        (553, "Requested action not taken: mailbox name not allowed", "rcpt", K.RECIPIENT),
        (554, "No SMTP service here", "connect", K.POLICY),
        (535, "Authentication failed", "auth", K.POLICY),
        (421, "Service not available", "connect", K.TEMPORARY),
    ],
)  # fmt: skip
def test_the_stage_changes_what_a_bare_code_means(code, text, stage, kind):
    assert classify(code, text, stage=stage).kind is kind


def test_the_default_stage_is_data():
    assert classify(552, "Requested mail action aborted: exceeded storage allocation").kind is (
        K.SIZE
    )


def test_an_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="stage"):
        classify(550, "5.1.1 User unknown", stage="rcpt_to")


def test_explanations_as_the_report_shows_them():
    assert classify(550, "5.4.5 Daily user sending quota exceeded").explain() == (
        "Почтовый ящик отправителя исчерпал дневной лимит отправки: сервер не примет писем "
        "примерно сутки. (Сервер ответил: 550 5.4.5 Daily user sending quota exceeded.)"
    )
    assert classify(552, "5.3.4 Message size exceeds fixed limit").explain() == (
        "Письмо слишком большое для сервера: уменьшите или уберите приложения. "
        "(Сервер ответил: 552 5.3.4 Message size exceeds fixed limit.)"
    )
    spam = classify(554, "5.7.1 [2] Message rejected under suspicion of SPAM; https://ya.cc/1IrBc")
    assert spam.explain() == (
        "Сервер отклонил письмо как спам. Продолжать опасно: ящик могут заблокировать. "
        "Проверьте текст и ссылки письма, добавьте отписку, уменьшите скорость; продолжите "
        "рассылку позже. (Сервер ответил: 554 5.7.1 [2] Message rejected under suspicion of "
        "SPAM; https://ya.cc/1IrBc.)"
    )


def test_every_kind_has_its_own_explanation():
    heads = {}
    for code, text, stage, kind, _ in (sample.values for sample in SAMPLES):
        reply = classify(code, text, stage=stage)
        if kind is not K.POLICY:
            heads.setdefault(kind, set()).add(reply.explain().partition(" (Сервер")[0])
    # One sentence per kind (a full mailbox says "later" when the refusal is temporary).
    assert {kind: len(texts) for kind, texts in heads.items()} == {
        kind: 2 if kind is K.MAILBOX_FULL else 1 for kind in ReplyKind if kind is not K.POLICY
    }
    assert len({next(iter(texts)) for texts in heads.values()}) == len(heads)


@pytest.mark.parametrize(
    ("code", "text", "stage", "advice"),
    [
        (530, "5.7.0 Must issue a STARTTLS command first.", "mail", "STARTTLS (порт 587)"),
        (530, GMAIL_AUTH_REQUIRED, "mail", "«Требуется аутентификация SMTP»"),
        (554, "5.7.1 <client@romashka.ru>: Relay access denied", "rcpt",
         "«Требуется аутентификация SMTP»"),
        (550, GMAIL_DMARC, "data", "SPF и DKIM"),
        (535, GMAIL_BAD_CREDENTIALS, "auth", "пароль для внешнего приложения"),
        (534, "5.7.9 Application-specific password required.", "auth",
         "пароль для внешнего приложения"),
        (550, "message sending for this account is disabled", "mail", "через браузер"),
        (550, "Administrative prohibition", "rcpt", "по своим правилам"),
    ],
)  # fmt: skip
def test_a_policy_refusal_says_what_to_fix(code, text, stage, advice):
    reply = classify(code, text, stage=stage)
    assert reply.kind is K.POLICY
    assert advice in reply.explain()


def test_a_long_server_text_is_cut_with_an_ellipsis():
    text = "5.7.1 " + " ".join(["Message rejected under suspicion of SPAM"] * 40)
    explanation = classify(554, text).explain()
    assert len(explanation) <= 400
    assert explanation.endswith("…)")
    assert "(Сервер ответил: 554 5.7.1 Message rejected" in explanation
    one_word = classify(550, "5.1.1 " + "x" * 1000, stage="rcpt").explain()
    assert len(one_word) <= 400
    assert one_word.endswith("x…)")


def test_a_short_text_keeps_its_own_punctuation():
    assert classify(550, "5.1.1 No such user!", stage="rcpt").explain().endswith("No such user!)")
    assert classify(550, "", stage="rcpt").explain().endswith("(Сервер ответил: 550.)")


def test_the_reply_is_a_frozen_value():
    reply = classify(550, "5.1.1 User unknown", stage="rcpt")
    assert reply == Reply(550, "5.1.1", "5.1.1 User unknown", K.RECIPIENT)
    with pytest.raises(dataclasses.FrozenInstanceError):
        reply.kind = K.OTHER  # type: ignore[misc]


def test_the_known_texts_are_a_table_of_patterns():
    assert isinstance(KNOWN_TEXTS, tuple)
    for pattern, kind in KNOWN_TEXTS:
        assert isinstance(pattern, str)
        assert kind is None or isinstance(kind, ReplyKind)
        re.compile(pattern)
