"""One way to say a file's size, in the window and on the command line."""

from __future__ import annotations

import pytest

from avtoprokat_mail.sizes import size_text


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 байт"),
        (1, "1 байт"),
        (3, "3 байта"),
        (12, "12 байт"),
        (119, "119 байт"),
        (1023, "1023 байта"),
        (1024, "1 КБ"),
        (1025, "2 КБ"),  # rounded up: never less than it is
        (500 * 1024, "500 КБ"),
        (1024 * 1024, "1,0 МБ"),
        (int(1.5 * 1024 * 1024), "1,5 МБ"),
    ],
)
def test_sizes_read_as_a_person_says_them(size, text):
    assert size_text(size) == text


def test_the_command_line_and_the_start_summary_say_the_same_size(
    db, cli, tmp_path, tk_root, memory_keyring
):
    """A 119-byte price list was «0 КБ» in send's summary and «1 КБ» in the window."""
    from avtoprokat_mail.credentials import PasswordStore
    from avtoprokat_mail.sending.lifecycle import Mailer
    from avtoprokat_mail.storage.settings import set_setting
    from tests.mailing_data import add_clients, add_template, russian_clients

    price = tmp_path / "прайс.txt"
    price.write_bytes(b"x" * 119)
    set_setting(db, "email.host", "smtp.example")
    set_setting(db, "email.sender_address", "office@avtoprokat.example")
    set_setting(db, "email.auth", "0")
    add_clients(db, russian_clients(2))
    template = add_template(db, [price])
    _status, _out, err = cli("send", str(template.id))  # no terminal: the summary only
    assert "приложение: прайс.txt, 119 байт" in err

    from avtoprokat_mail.ui.start_dialog import StartDialog

    dialog = StartDialog(tk_root, Mailer(db, PasswordStore()), template, on_started=print)
    try:
        texts = [child.cget("text") for child in _all_labels(dialog)]
        assert "Приложение: прайс.txt (119 байт)" in texts
    finally:
        dialog.destroy()


def _all_labels(widget):
    for child in widget.winfo_children():
        if child.winfo_class() in ("TLabel", "Label"):
            yield child
        yield from _all_labels(child)
