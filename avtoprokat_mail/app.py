"""Composition root: open the database, build the one ttkbootstrap App, show "Клиенты".

Once the window is up, :func:`offer_unfinished_runs` offers to finish interrupted runs.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
import tkinter
from datetime import datetime
from pathlib import Path

import ttkbootstrap as ttk

from avtoprokat_mail import APP_NAME
from avtoprokat_mail.credentials import PasswordStore
from avtoprokat_mail.model import RunStatus
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.storage import DatabaseError, describe_error, open_database
from avtoprokat_mail.system.instance import SingleInstance
from avtoprokat_mail.system.logsetup import configure_logging, log_path
from avtoprokat_mail.ui.clients_window import MAIN_WINDOW_SIZE, ClientsWindow
from avtoprokat_mail.ui.dialogs import ask_yes_no, show_error
from avtoprokat_mail.ui.formatting import format_time

THEME = "bootstrap-light"
ASSETS = Path(__file__).resolve().parent / "assets"
ICON = ASSETS / "icon.png"
ICON_ICO = ASSETS / "icon.ico"  # every size Windows asks for at 100 %, 125 % and 150 %
# Title bar and taskbar icon sizes at 100 %, 125 % and 150 % (16, 20, 24; 32, 40, 48) and more.
ICON_SIZES = (16, 20, 24, 32, 40, 48, 64, 256)
logger = logging.getLogger(__name__)


def _watch_for_second_start(root: ttk.App, instance: SingleInstance) -> None:
    """Bring the window forward when the program is started again."""
    if instance.raise_requested():
        root.deiconify()
        root.lift()
        root.focus_force()
        root.attributes("-topmost", True)
        root.after(200, lambda: root.attributes("-topmost", False))
        logger.info("second start: window brought forward")
    root.after(1000, _watch_for_second_start, root, instance)


def _keep_tk_cleanup_on_the_tk_thread() -> None:
    """Make tkinter's finalizers do nothing when the garbage collector runs on a worker thread.

    A closed window's Tk variables and images often end up in reference cycles; the collector
    may free them on whatever thread happens to allocate, such as the mailing worker. Their
    ``__del__`` then calls into Tcl from that thread, which raises when the Tk thread is not in
    its main loop and can block when it waits. Off the Tk thread they are left to Tcl, which
    frees them with the interpreter: a few bytes, against a hung window.
    """
    for cls in (tkinter.Variable, tkinter.Image):
        original = cls.__dict__["__del__"]
        if getattr(original, "tk_thread_only", False):
            continue

        def on_tk_thread_only(self, _original=original) -> None:
            if threading.current_thread() is threading.main_thread():
                _original(self)

        on_tk_thread_only.tk_thread_only = True
        cls.__del__ = on_tk_thread_only


def create_root(database: Path | None = None) -> ttk.App:
    """The application's single Tk root (ttkbootstrap allows only one)."""
    _keep_tk_cleanup_on_the_tk_thread()
    root = ttk.App(
        title=f"Клиенты — {APP_NAME}",
        theme=THEME,
        size=MAIN_WINDOW_SIZE,
        minsize=(900, 500),
        iconphoto=None,
    )
    set_window_icon(root)
    log = log_path(database.parent) if database else None
    root.report_callback_exception = error_reporter(root, database, log)
    return root


def set_window_icon(root: tkinter.Tk) -> list[tkinter.PhotoImage]:
    """The program's icon, drawn crisp at any display scaling.

    Windows takes the size it needs for the title bar and taskbar from the .ico (it holds
    each size); the other systems get the picture at each size to choose from. A single
    256-pixel picture would be shrunk by the system and come out blurred at 125 %.
    """
    if sys.platform == "win32" and ICON_ICO.exists():
        root.iconbitmap(default=str(ICON_ICO))
    if not ICON.exists():
        return []
    from PIL import Image, ImageTk

    with Image.open(ICON) as picture:
        images = [
            ImageTk.PhotoImage(picture.resize((size, size), Image.Resampling.LANCZOS), master=root)
            for size in ICON_SIZES
        ]
    root.iconphoto(True, *images)
    root.icon_images = images  # a Tk image lives only while Python holds it
    return images


def error_reporter(root: ttk.App, database: Path | None, log: Path | None):
    """Tk's handler for an exception in a button handler or any other callback.

    It goes to the log with its traceback and to the user in a Russian dialog naming the log,
    instead of vanishing (a windowed .exe has no console to print it on).
    """

    def report(kind, value, tb) -> None:
        logger.error("Ошибка в обработчике окна", exc_info=(kind, value, tb))
        if isinstance(value, DatabaseError):
            message = str(value)
        elif isinstance(value, sqlite3.Error):
            message = describe_error(value, database or Path("?"))
        else:
            message = f"Непредвиденная ошибка: {value}"
        if log is not None:
            message += f"\n\nПодробности записаны в журнал:\n{log}"
        show_error(root, "Ошибка", message)

    return report


def offer_unfinished_runs(window: ClientsWindow) -> list[int]:
    """On start: offer to continue each run the program was stopped in the middle of.

    Returns the ids of the runs the user chose to continue.
    """
    continued = []
    for state in window.mailer.interrupted_runs():
        if not state.pending:
            continue
        run = state.run
        what = f"Рассылка № {run.id} «{run.template().title(40)}» от {format_time(run.started)}"
        if state.status is RunStatus.WAITING:
            when = datetime.fromtimestamp(run.resume_at).strftime("%d.%m.%Y %H:%M")
            text = (
                f"{what} ждёт дневного лимита почтового ящика: отправлено {state.sent}, "
                f"осталось {state.pending}; продолжит {when}. Окно рассылки дождётся этого "
                "времени само."
            )
        else:
            text = f"{what} была прервана: отправлено {state.sent}, осталось {state.pending}."
        if state.uncertain:
            text += (
                f"\nУ {state.uncertain} получателей исход неизвестен (письмо могло уйти): "
                "им повторно не отправляется; их можно повторить из отчёта."
            )
        question = text + "\n\nПродолжить её сейчас?"
        if ask_yes_no(window, "Незавершённая рассылка", question) and (
            window.open_mailing().continue_run(run.id) is not None
        ):
            continued.append(run.id)
    return continued


def run(folder: Path, *, demo: bool = False, smoke: bool = False) -> int:
    """Open the GUI on the data in ``folder``; returns the process exit status."""
    configure_logging(folder)
    instance = SingleInstance(folder)
    if not instance.take():
        instance.ask_first_to_show()
        logger.info("second start: the running copy is asked to show its window")
        print(f"{APP_NAME} уже открыт: его окно выведено на передний план.", file=sys.stderr)
        return 0
    try:
        return _run(folder, demo=demo, smoke=smoke, instance=instance)
    finally:
        instance.release()


def _run(folder: Path, *, demo: bool, smoke: bool, instance: SingleInstance) -> int:
    started = time.perf_counter()
    root = create_root(database_path(folder))
    try:
        conn = open_database(database_path(folder))
    except DatabaseError as error:
        if not smoke:
            root.withdraw()
            show_error(root, APP_NAME, str(error))
        root.destroy()
        print(f"Ошибка: {error}", file=sys.stderr)
        return 2
    try:
        if demo:
            from avtoprokat_mail.interchange.demo import add_demo_data

            add_demo_data(conn)
        window = ClientsWindow(root, conn, folder, PasswordStore())  # the one store of the GUI
        window.pack(fill="both", expand=True)
        root.update()
        logger.info("main window shown in %.2f s", time.perf_counter() - started)
        if smoke:
            print(f"smoke: main window in {time.perf_counter() - started:.2f} s")
            root.destroy()
            return 0
        root.after(300, offer_unfinished_runs, window)
        _watch_for_second_start(root, instance)
        root.mainloop()
    finally:
        conn.close()
    return 0
