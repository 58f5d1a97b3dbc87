"""Remake the screenshots in docs/ from the real windows on demo data.

Run on a display (``xvfb-run -a -s "-screen 0 1366x768x24" python3 docs/screenshots.py``);
needs ImageMagick's ``import``. Each window is captured by its X window id, nothing else.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from avtoprokat_mail.app import create_root
from avtoprokat_mail.credentials import PasswordStore
from avtoprokat_mail.interchange.demo import add_demo_data
from avtoprokat_mail.model import Route
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.sending.lifecycle import PreparedRun, create_run
from avtoprokat_mail.sending.message import Sender
from avtoprokat_mail.sending.outbox import OutboxTransport
from avtoprokat_mail.sending.setup import SendingSetup
from avtoprokat_mail.storage import database_file, open_database
from avtoprokat_mail.storage import templates as template_store
from avtoprokat_mail.ui.clients_window import ClientsWindow
from avtoprokat_mail.ui.import_dialog import ImportPreview
from avtoprokat_mail.ui.progress_window import ProgressWindow

DOCS = Path(__file__).resolve().parent
REJECTING_CSV = (
    "Фамилия;Имя;Организация;E-mail;Мобильный\r\n"
    "Козлов;Андрей Ильич;ООО «Трасса»;kozlov@trassa.ru.example;8 (905) 111-22-33\r\n"
    "Белова;Ольга;;belova@@mail.ru;\r\n"
    "Зуева;Нина;;;12345\r\n"
)


def capture(window, name: str) -> None:
    """Draw ``window`` fully, then save exactly its pixels as docs/NAME.png."""
    for _ in range(5):
        window.update()
        time.sleep(0.1)
    frame = window.winfo_toplevel().wm_frame()
    subprocess.run(["import", "-window", frame, str(DOCS / f"{name}.png")], check=True)
    print(f"docs/{name}.png")


def _capture_run(mailing, conn, folder: Path) -> None:
    """The start summary, then a test run into a folder, slowed by the per-minute limit."""
    mailing.tree.selection_set(mailing.tree.get_children()[-1])
    start = mailing.start()
    capture(start, "start-summary")
    start.destroy()
    plan = mailing.mailer.plan(template_store.get_template(conn, int(mailing.tree.selection()[0])))
    run_id, lock = create_run(conn, plan, Route.outbox(folder / "outbox"))
    sender = Sender("Автопрокат «Север»", "office@avtoprokat-sever.ru")
    setup = SendingSetup(OutboxTransport(folder / "outbox"), sender, per_minute=900)
    prepared = PreparedRun(run_id, setup, lock, database_file(conn))
    window = ProgressWindow(mailing, mailing.mailer, run_id, prepared)
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        window.update()
        time.sleep(0.02)
    capture(window, "progress-window")
    while window.final is None:
        window.update()
        time.sleep(0.05)
    capture(window, "run-report")
    window.destroy()


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    conn = open_database(database_path(folder))
    add_demo_data(conn)
    root = create_root()
    window = ClientsWindow(root, conn, folder, PasswordStore())
    window.pack(fill="both", expand=True)
    capture(root, "clients-window")

    mailing = window.open_mailing()
    mailing.tree.selection_set(mailing.tree.get_children()[-1])  # the e-mail discount offer
    form = mailing.edit_selected()
    capture(form, "template-form")
    form.destroy()
    settings = mailing.settings()
    email = settings.email_tab
    email.preset_var.set("mail.ru")
    email.sender_name_var.set("Автопрокат «Север»")
    email.sender_address_var.set("office@avtoprokat-sever.ru")
    email.user_var.set("office@avtoprokat-sever.ru")
    capture(settings, "settings-email")
    settings.show_tab(settings.sms_tab)
    capture(settings, "settings-sms")
    settings.destroy()
    _capture_run(mailing, conn, folder)
    mailing.reload()
    capture(mailing, "mailing-window")
    mailing.destroy()

    source = folder / "клиенты.csv"
    source.write_bytes(REJECTING_CSV.encode("cp1251"))
    preview = ImportPreview.start(window, conn, source, on_done=window.reload)
    capture(preview, "import-preview")
    root.destroy()


if __name__ == "__main__":
    main()
