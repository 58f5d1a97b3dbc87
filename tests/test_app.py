"""The program as a whole: one copy at a time, errors that reach the log and the user."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from avtoprokat_mail.app import error_reporter
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.system.instance import RAISE_REQUEST
from avtoprokat_mail.system.logsetup import configure_logging, log_path
from tests.gui_helpers import answer_next_dialog

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _start(folder: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "avtoprokat_mail", "--data-dir", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=PROJECT_ROOT,
    )  # fmt: skip


def _wait_for_log(folder: Path, text: str, seconds: float = 30) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        log = log_path(folder)
        if log.exists() and text in (content := log.read_text(encoding="utf-8")):
            return content
        time.sleep(0.1)
    raise AssertionError(f"«{text}» never appeared in the log")


def test_a_second_start_brings_the_first_window_forward(tmp_path):
    first = _start(tmp_path)
    try:
        _wait_for_log(tmp_path, "main window shown")
        second = _start(tmp_path)
        _out, err = second.communicate(timeout=60)
        assert second.returncode == 0
        assert "уже открыт" in err
        _wait_for_log(tmp_path, "second start: window brought forward")
        assert not (tmp_path / "locks" / RAISE_REQUEST).exists()  # the request was consumed
        assert first.poll() is None  # the first copy is still running
    finally:
        first.kill()
        first.communicate(timeout=30)
    # With the first copy gone (killed, as after a crash), the program starts again.
    third = _start(tmp_path)
    try:
        _wait_for_log(tmp_path, "main window shown", seconds=30)
        assert third.poll() is None
    finally:
        third.kill()
        third.communicate(timeout=30)


def test_an_error_in_a_button_handler_reaches_the_log_and_a_dialog(tk_root, data_folder):
    import ttkbootstrap as ttk

    log = configure_logging(data_folder)
    previous = tk_root.report_callback_exception
    tk_root.report_callback_exception = error_reporter(
        tk_root, database_path(data_folder), log_path(data_folder)
    )

    def broken() -> None:
        raise ZeroDivisionError("деление на ноль в обработчике")

    button = ttk.Button(tk_root, text="Сломано", command=broken)
    seen: list[str] = []
    try:
        answer_next_dialog(tk_root, "OK", seen)
        button.invoke()  # Tk runs the command and hands the exception to the reporter
    finally:
        tk_root.report_callback_exception = previous
        button.destroy()
    assert "Непредвиденная ошибка: деление на ноль в обработчике" in seen[0]
    assert str(log) in seen[0]
    content = log.read_text(encoding="utf-8")
    assert "Traceback" in content and "ZeroDivisionError" in content
    assert "деление на ноль в обработчике" in content


def test_the_icon_is_offered_at_every_size_a_scaled_display_asks_for(tk_root):
    """16/20/24 px for the title bar and 32/40/48 px for the taskbar at 100/125/150 %."""
    from PIL import Image

    from avtoprokat_mail.app import ICON_ICO

    sizes = [(image.width(), image.height()) for image in tk_root.icon_images]
    assert sizes == [(n, n) for n in (16, 20, 24, 32, 40, 48, 64, 256)]
    with Image.open(ICON_ICO) as ico:
        assert {(n, n) for n in (16, 20, 24, 32, 40, 48)} <= set(ico.info["sizes"])
