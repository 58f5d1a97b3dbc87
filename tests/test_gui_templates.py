"""The mailing window and the template form, driven as a user drives them, under Xvfb."""

from __future__ import annotations

import os
import stat
import time

import pytest

from avtoprokat_mail.model import Client, Template
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import open_database
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.ui import filedialogs
from avtoprokat_mail.ui.mailing_window import MailingWindow
from avtoprokat_mail.ui.template_form import TemplateForm
from tests.gui_helpers import Session, answer_next_dialog, no_dialog_expected, pump, toplevels_of


@pytest.fixture
def session(tk_root, data_folder, gui_errors):
    conn = open_database(database_path(data_folder))
    client_store.add_client(
        conn,
        Client(
            surname="Петров",
            name="Пётр Ильич",
            position="Инженер",
            organization="АО «Вектор»",
            email="petrov@vektor.ru",
        ),
    )
    client_store.add_client(conn, Client(surname="Иванова", name="Анна Сергеевна",
                                         position="Директор", organization="ООО «Ромашка»",
                                         email="ivanova@romashka.ru", mobile="+79031112233",
                                         marked=True))  # fmt: skip
    conn.close()
    s = Session(tk_root, data_folder)
    s.open()
    yield s
    for kind in (TemplateForm, MailingWindow):
        for window in toplevels_of(tk_root, kind):
            window.destroy()
    s.close()


def open_mailing(session: Session) -> MailingWindow:
    """Menu «Рассылка» → «Сообщения email рассылки…»."""
    session.window.menus["Рассылка"].invoke(0)
    pump(session.root)
    (window,) = toplevels_of(session.root, MailingWindow)
    return window


def new_form(mailing: MailingWindow, *, unsubscribe_line: bool = False) -> TemplateForm:
    """A new template's form; its «Строка об отписке» (on for a new one) as asked."""
    mailing.buttons["Добавить"].invoke()
    pump(mailing)
    (form,) = toplevels_of(mailing, TemplateForm)
    assert form.unsubscribe_var.get() is True  # a new email template offers the way out
    form.unsubscribe_var.set(unsubscribe_line)
    return form


def type_into_body(form: TemplateForm, text: str) -> None:
    form.body_text.focus_force()
    form.body_text.insert("insert", text)
    pump(form)


def listed_subjects(mailing: MailingWindow) -> list[str]:
    return [mailing.tree.item(i, "values")[3] for i in mailing.tree.get_children()]


def test_menu_opens_one_mailing_window(session):
    first = open_mailing(session)
    session.window.menus["Рассылка"].invoke(0)
    pump(session.root)
    assert toplevels_of(session.root, MailingWindow) == [first]
    assert first.title() == "Сообщения email рассылки"
    headings = [first.tree.heading(c, "text") for c in first.tree["columns"]]
    assert headings == ["Дата, время", "Отправлено", "SMS", "Тема", "Примечание"]


def test_placeholder_buttons_insert_at_the_cursor_of_the_last_field(session):
    form = new_form(open_mailing(session))
    form.subject_entry.focus_force()
    form.subject_entry.insert(0, "Скидка для ")
    form.subject_entry.icursor("end")
    pump(form)
    form.insert_buttons["%Наименование%"].invoke()
    assert form.subject_var.get() == "Скидка для %Наименование%"

    type_into_body(form, "Здравствуйте, !")
    form.body_text.mark_set("insert", "1.14")  # between the comma's space and "!"
    form.insert_buttons["%Имя%"].invoke()
    assert form.body() == "Здравствуйте, %Имя%!"
    form.body_text.mark_set("insert", "end-1c")
    form.insert_buttons["%Должность%"].invoke()
    assert form.body() == "Здравствуйте, %Имя%!%Должность%"
    # The subject was not touched by the body's insertions.
    assert form.subject_var.get() == "Скидка для %Наименование%"


def test_paste_inserts_clipboard_text_at_the_cursor(session):
    form = new_form(open_mailing(session))
    type_into_body(form, "Начало. Конец.")
    form.body_text.mark_set("insert", "1.8")
    session.root.clipboard_clear()
    session.root.clipboard_append("Из буфера. ")
    form.paste_button.invoke()
    assert form.body() == "Начало. Из буфера. Конец."
    session.root.clipboard_clear()
    form.paste_button.invoke()
    assert form.message_label.cget("text") == "Буфер обмена пуст или в нём не текст."
    assert form.body() == "Начало. Из буфера. Конец."


def test_create_template_through_the_form_and_reopen(session, tmp_path, monkeypatch):
    price = tmp_path / "Прайс-лист на аренду.pdf"
    price.write_bytes(b"%PDF-1.4 price list")
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8\xff jpeg")
    mailing = open_mailing(session)
    form = new_form(mailing, unsubscribe_line=True)
    assert form.created_entry.get() == "—"
    form.subject_entry.insert(0, "Предложение для %Наименование%")
    type_into_body(form, "Здравствуйте, %Имя%!\nСкидка 20% до конца месяца.")
    for number, path in ((1, price), (2, photo)):
        monkeypatch.setattr(filedialogs, "ask_open_path", lambda *a, p=path, **k: str(p))
        form.pick_buttons[number - 1].invoke()
    assert form.attachment_vars[0].get() == str(price)
    form.note_var.set("Осенняя акция")
    pump(form)
    # The preview shows the first marked client's message.
    preview = form.preview.text.get("1.0", "end-1c")
    assert preview == (
        "Тема: Предложение для ООО «Ромашка»\n\n"
        "Здравствуйте, Анна Сергеевна!\nСкидка 20% до конца месяца.\n\n"
        "Чтобы отписаться, ответьте на это письмо словом «Отписаться»."
    )
    form.save_button.invoke()
    pump(session.root)
    assert not toplevels_of(session.root, TemplateForm)
    assert listed_subjects(mailing) == ["Предложение для %Наименование%"]

    (stored,) = template_store.list_templates(session.conn)
    assert (stored.subject, stored.body, stored.note) == (
        "Предложение для %Наименование%",
        "Здравствуйте, %Имя%!\nСкидка 20% до конца месяца.\n\n"
        "Чтобы отписаться, ответьте на это письмо словом «Отписаться».",
        "Осенняя акция",
    )
    assert (stored.attachment1, stored.attachment2, stored.sms) == (str(price), str(photo), False)

    mailing.destroy()
    mailing = open_mailing(session)
    mailing.buttons["Изменить"].invoke()
    pump(session.root)
    (form,) = toplevels_of(session.root, TemplateForm)
    assert form.subject_var.get() == stored.subject
    assert form.body() == stored.body
    assert form.unsubscribe_var.get() is True  # the line is there
    form.unsubscribe_var.set(False)  # unticked: the line goes
    assert form.collect().body == "Здравствуйте, %Имя%!\nСкидка 20% до конца месяца."
    form.unsubscribe_var.set(True)
    assert [v.get() for v in form.attachment_vars] == [str(price), str(photo)]
    assert form.note_var.get() == "Осенняя акция"
    assert form.sms_var.get() is False
    assert form.created_entry.get() != "—"
    assert form.sent_entry.get() == "—"


def test_email_template_needs_a_subject_and_existing_attachments(session, tmp_path):
    mailing = open_mailing(session)
    form = new_form(mailing)
    type_into_body(form, "Текст")
    form.save_button.invoke()
    assert "Укажите тему" in form.message_label.cget("text")
    form.subject_var.set("Тема")
    form.attachment_vars[0].set(str(tmp_path / "нет такого файла.pdf"))
    form.save_button.invoke()
    assert "нет такого файла.pdf" in form.message_label.cget("text")
    assert template_store.list_templates(session.conn) == []


def test_sms_template_counts_segments_live_and_warns_about_attachments(session, tmp_path):
    mailing = open_mailing(session)
    form = new_form(mailing)
    form.sms_check.invoke()
    type_into_body(form, "я" * 70)
    assert form.counter_label.cget("text").startswith("Символов: 70, SMS: 1")
    type_into_body(form, "я")
    assert form.counter_label.cget("text").startswith("Символов: 71, SMS: 2")
    attachment = tmp_path / "a.pdf"
    attachment.write_bytes(b"x")
    form.attachment_vars[0].set(str(attachment))
    seen: list[str] = []
    answer_next_dialog(session.root, "Да", seen)
    form.save_button.invoke()
    pump(session.root)
    assert "не отправляются по SMS" in seen[0]
    (stored,) = template_store.list_templates(session.conn)
    assert stored.sms and stored.subject == ""
    assert mailing.tree.item(mailing.tree.get_children()[0], "values")[2] == "да"


def test_unknown_placeholder_is_shown_with_its_position(session):
    form = new_form(open_mailing(session))
    type_into_body(form, "Добрый день!\nВаш %Город% ждёт.")
    assert "%Город%" in form.preview.warning_label.cget("text")
    assert "строка 2, позиция 5" in form.preview.warning_label.cget("text")


def test_preview_follows_the_chosen_client(session):
    form = new_form(open_mailing(session))
    form.subject_var.set("Для %Должность%")
    type_into_body(form, "%Имя%")
    labels = list(form.preview.client_box.cget("values"))
    assert labels == ["Иванова Анна Сергеевна — ivanova@romashka.ru"]  # the marked client
    assert form.preview.text.get("1.0", "end-1c") == "Тема: Для Директор\n\nАнна Сергеевна"


def test_view_button_opens_the_file_with_the_system_program(session, tmp_path, monkeypatch):
    log = tmp_path / "opened.txt"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{log}"\n')
    opener.chmod(opener.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    document = tmp_path / "Договор аренды; rm -rf ~.pdf"
    document.write_bytes(b"%PDF")
    form = new_form(open_mailing(session))
    form.attachment_vars[1].set(str(document))
    form.view_buttons[1].invoke()
    deadline = time.monotonic() + 5
    while not log.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert log.read_text().splitlines() == [str(document)]  # one argument, no shell


def test_view_of_a_missing_file_says_so(session, tmp_path):
    form = new_form(open_mailing(session))
    form.attachment_vars[0].set(str(tmp_path / "пропал.pdf"))
    seen: list[str] = []
    answer_next_dialog(session.root, "OK", seen)
    form.view_buttons[0].invoke()
    assert "Файл не найден" in seen[0] and "пропал.pdf" in seen[0]


def test_copy_and_delete(session):
    template_store.add_template(session.conn, Template(subject="Первый", body="Текст"))
    mailing = open_mailing(session)
    mailing.buttons["Копировать"].invoke()
    assert listed_subjects(mailing) == ["Первый", "Первый"]
    copy_id = int(mailing.tree.selection()[0])
    assert template_store.get_template(session.conn, copy_id).sent == ""
    seen: list[str] = []
    answer_next_dialog(session.root, "Нет", seen)
    mailing.buttons["Удалить"].invoke()
    assert "Удалить шаблон «Первый»?" in seen[0]
    assert len(template_store.list_templates(session.conn)) == 2
    answer_next_dialog(session.root, "Да")
    mailing.buttons["Удалить"].invoke()
    assert [t.id for t in template_store.list_templates(session.conn)] != [copy_id]
    assert len(template_store.list_templates(session.conn)) == 1


def test_preview_warns_when_the_client_lacks_a_field(session):
    conn = session.conn
    client_store.set_all_marked(conn, False)
    (petrov,) = [c for c in client_store.list_clients(conn) if c.surname == "Петров"]
    petrov.organization = ""
    petrov.marked = True
    client_store.update_client(conn, petrov)
    form = new_form(open_mailing(session))
    form.subject_var.set("Для %Наименование%")
    type_into_body(form, "%Имя%, %Должность%")
    assert form.preview.text.get("1.0", "end-1c") == "Тема: Для\n\nПётр Ильич, Инженер"
    assert "не заполнено: «Наименование»" in form.preview.warning_label.cget("text")


def test_double_click_on_a_template_opens_it(session):
    template_store.add_template(session.conn, Template(subject="Двойной щелчок", body="Текст"))
    mailing = open_mailing(session)
    item = mailing.tree.get_children()[0]
    mailing.tree.see(item)
    pump(session.root)
    x, y, _w, h = mailing.tree.bbox(item, "subject")
    for _ in range(2):  # two quick clicks: Tk turns the second into <Double-Button-1>
        mailing.tree.event_generate("<ButtonPress-1>", x=x + 5, y=y + h // 2)
        mailing.tree.event_generate("<ButtonRelease-1>", x=x + 5, y=y + h // 2)
    pump(session.root)
    (form,) = toplevels_of(mailing, TemplateForm)
    assert form.subject_var.get() == "Двойной щелчок"


# --- defaults: %Должность|сотрудник% -----------------------------------------------------------
def mark_only_petrov_without_position(session) -> None:
    conn = session.conn
    client_store.set_all_marked(conn, False)
    (petrov,) = [c for c in client_store.list_clients(conn) if c.surname == "Петров"]
    petrov.position = "  "
    petrov.mobile = "+79035556677"
    petrov.marked = True
    client_store.update_client(conn, petrov)


def test_if_empty_entry_makes_the_buttons_insert_a_default(session):
    form = new_form(open_mailing(session))
    type_into_body(form, "Вам, как  компании")
    form.default_entry.focus_force()
    form.default_entry.insert(0, "сотрудник")
    pump(form)
    form.body_text.mark_set("insert", "1.9")  # between the two spaces
    form.insert_buttons["%Должность%"].invoke()
    assert form.body() == "Вам, как %Должность|сотрудник% компании"
    assert form.body_text.index("insert") == "1.30"  # the cursor is after the insertion

    form.default_var.set("")  # empty again: the plain placeholder
    form.insert_buttons["%Имя%"].invoke()
    assert form.body() == "Вам, как %Должность|сотрудник%%Имя% компании"
    assert [b.cget("text") for b in form.insert_buttons.values()] == [
        "%Имя%",
        "%Должность%",
        "%Наименование%",
    ]


def test_if_empty_entry_drops_a_percent_sign_and_says_so(session):
    form = new_form(open_mailing(session))
    form.subject_entry.focus_force()
    pump(form)
    form.default_var.set(" скидка 5% ")
    form.insert_buttons["%Наименование%"].invoke()
    assert form.subject_var.get() == "%Наименование|скидка 5%"
    assert "«%»" in form.message_label.cget("text")
    assert form.preview.warning_label.cget("text") == ""


def test_preview_uses_the_default_for_a_client_without_a_position(session):
    mark_only_petrov_without_position(session)
    form = new_form(open_mailing(session))
    form.subject_var.set("Для %Должность|сотрудника%")
    type_into_body(form, "Вам, как %Должность|сотрудник% компании (%Наименование%), скидка.")
    assert form.preview.text.get("1.0", "end-1c") == (
        "Тема: Для сотрудника\n\nВам, как сотрудник компании (АО «Вектор»), скидка."
    )
    assert form.preview.warning_label.cget("text") == ""  # a default covers the empty field

    type_into_body(form, " %Должность%")  # one use without a default: the field is missing
    assert "не заполнено: «Должность»" in form.preview.warning_label.cget("text")


def test_sms_counter_counts_the_rendered_default(session):
    mark_only_petrov_without_position(session)
    form = new_form(open_mailing(session))
    form.sms_check.invoke()
    type_into_body(form, "%Должность|сотрудник%")
    assert form.preview.text.get("1.0", "end-1c") == "сотрудник"
    assert form.counter_label.cget("text").startswith("Символов: 9, SMS: 1")
    type_into_body(form, "я" * 61)  # 70 in all once rendered, though the text holds 82
    assert form.counter_label.cget("text").startswith("Символов: 70, SMS: 1")


def test_view_says_plainly_when_no_program_can_open_the_file(session, tmp_path, monkeypatch):
    """No xdg-open on this computer (as on a bare Windows, no association): a clear message."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    document = tmp_path / "Прайс.xyz"
    document.write_bytes(b"price")
    form = new_form(open_mailing(session))
    form.attachment_vars[0].set(str(document))
    seen: list[str] = []
    answer_next_dialog(session.root, "OK", seen)
    form.view_buttons[0].invoke()
    assert "нет программы для просмотра файлов «.xyz»" in seen[0]
    assert str(tmp_path) in seen[0]
    assert "Errno" not in seen[0] and "xdg-open" not in seen[0]


def test_cancel_asks_about_unsaved_edits(session):
    mailing = open_mailing(session)
    form = new_form(mailing)
    form.subject_var.set("Скидка для %Наименование%")
    type_into_body(form, "Здравствуйте, %Имя%!")
    seen: list[str] = []
    answer_next_dialog(session.root, "Отмена", seen)
    form.cancel_button.invoke()
    assert seen == ["Сообщение изменено. Сохранить изменения?"]
    assert form.winfo_exists()  # «Отмена» in the question: keep editing
    answer_next_dialog(session.root, "Нет")
    form.cancel_button.invoke()
    pump(session.root)
    assert not toplevels_of(mailing, TemplateForm)
    assert template_store.list_templates(session.conn) == []  # «Нет»: thrown away

    form = new_form(mailing)
    form.subject_var.set("Сохранить при закрытии")
    type_into_body(form, "Текст")
    answer_next_dialog(session.root, "Да")
    form.event_generate("<Escape>")
    pump(session.root)
    assert [t.subject for t in template_store.list_templates(session.conn)] == [
        "Сохранить при закрытии"
    ]


def test_cancel_of_an_untouched_form_closes_without_asking(session):
    template_store.add_template(session.conn, Template(subject="Тема", body="Текст"))
    mailing = open_mailing(session)
    mailing.tree.selection_set(mailing.tree.get_children()[0])
    form = mailing.edit_selected()
    with no_dialog_expected(session.root):
        form.cancel_button.invoke()
    pump(session.root)
    assert not toplevels_of(mailing, TemplateForm)
