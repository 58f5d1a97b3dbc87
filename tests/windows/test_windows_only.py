"""What only Windows does, run on Windows: here, by a real Windows CPython under Wine.

``packaging/windows-under-wine.sh`` runs this file with the Windows Python it builds the .exe
with (``python -m pytest tests/windows --noconftest``); elsewhere it is skipped. It drives the
Windows paths of the program that no Linux test reaches: ``os.startfile`` behind «Просмотр»,
Tk's native file dialogs, the DPI awareness the window declares, and data folders under a
Cyrillic user name. Nothing is mocked: the registry, the shell and the dialogs are Windows'
(Wine's) own.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

if sys.platform != "win32":
    pytest.skip("Windows only (packaging/windows-under-wine.sh runs it)", allow_module_level=True)

import contextlib
import winreg
from ctypes import wintypes

CYRILLIC = "Пользователь Тест"
user32 = ctypes.WinDLL("user32", use_last_error=True)


@pytest.fixture
def cyrillic_folder(tmp_path: Path) -> Path:
    folder = tmp_path / CYRILLIC / "Документы"
    folder.mkdir(parents=True)
    return folder


# --- «Просмотр»: the file goes to the program Windows associates with it ------------------------
@pytest.fixture
def registered_viewer(tmp_path: Path):
    """A file type whose "open" verb runs a Python that writes the path it got to a marker."""
    extension, progid = ".avtoprokattest", "AvtoprokatTest.Viewer"
    marker = tmp_path / "opened.txt"
    viewer = tmp_path / "viewer.py"
    viewer.write_text(
        "import sys, pathlib\n"
        f"pathlib.Path({str(marker)!r}).write_text(sys.argv[1], encoding='utf-8')\n",
        encoding="utf-8",
    )
    command = f'"{sys.executable}" "{viewer}" "%1"'
    # HKEY_CLASSES_ROOT, as an installer registers a program (Wine reads associations there).
    classes = winreg.HKEY_CLASSES_ROOT
    with winreg.CreateKey(classes, extension) as key:
        winreg.SetValueEx(key, "", 0, winreg.REG_SZ, progid)
    with winreg.CreateKey(classes, rf"{progid}\shell\open\command") as key:
        winreg.SetValueEx(key, "", 0, winreg.REG_SZ, command)
    yield extension, marker
    for sub in (rf"{progid}\shell\open\command", rf"{progid}\shell\open", rf"{progid}\shell",
                progid, extension):  # fmt: skip
        with contextlib.suppress(OSError):
            winreg.DeleteKey(classes, sub)


def _wait_for(predicate, seconds: float = 60.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_viewing_an_attachment_starts_the_associated_program(registered_viewer, cyrillic_folder):
    from avtoprokat_mail.ui.desktop import open_with_default_app

    extension, marker = registered_viewer
    attachment = cyrillic_folder / f"Прайс-лист{extension}"
    attachment.write_text("цены", encoding="utf-8")
    open_with_default_app(attachment)  # returns at once: the program runs on its own
    assert _wait_for(marker.exists), "the associated program was not started"
    assert Path(marker.read_text("utf-8")) == attachment


def test_viewing_a_file_nothing_opens_is_a_clear_russian_error(cyrillic_folder):
    from avtoprokat_mail.ui.desktop import OpenFileError, open_with_default_app

    orphan = cyrillic_folder / "файл.zzqxnoprogram"
    orphan.write_text("x", encoding="utf-8")
    with pytest.raises(OpenFileError) as raised:
        open_with_default_app(orphan)
    assert "нет программы для просмотра файлов «.zzqxnoprogram»" in str(raised.value)
    assert "Errno" not in str(raised.value) and "WinError" not in str(raised.value)


# --- Tk's native file dialogs ---------------------------------------------------------------
def _type_into_dialog(title: str, text: str, done: threading.Event) -> None:
    """Wait for the dialog titled ``title``, type ``text`` (Unicode keystrokes) and Enter."""
    found = _wait_for(lambda: user32.FindWindowW(None, title) != 0, 30.0)
    if not found:
        done.set()
        return
    hwnd = user32.FindWindowW(None, title)
    user32.SetForegroundWindow(hwnd)
    time.sleep(1.0)  # the dialog puts the focus on its file name box once it is shown
    for char in text:
        _send_unicode(char)
    _send_key(0x0D)  # VK_RETURN
    done.set()


class _KeyInput(ctypes.Structure):
    _fields_ = [("wVk", wintypes.WORD), ("wScan", wintypes.WORD), ("dwFlags", wintypes.DWORD),
                ("time", wintypes.DWORD), ("dwExtraInfo", ctypes.c_size_t)]  # fmt: skip


class _Input(ctypes.Structure):
    class _Union(ctypes.Union):
        _fields_ = [("ki", _KeyInput), ("padding", ctypes.c_byte * 32)]

    _anonymous_ = ("u",)
    _fields_ = [("type", wintypes.DWORD), ("u", _Union)]


def _send(vk: int, scan: int, flags: int) -> None:
    event = _Input(type=1)  # INPUT_KEYBOARD
    event.ki = _KeyInput(vk, scan, flags, 0, 0)
    user32.SendInput(1, ctypes.byref(event), ctypes.sizeof(_Input))


def _send_unicode(char: str) -> None:
    KEYEVENTF_UNICODE, KEYEVENTF_KEYUP = 0x0004, 0x0002
    _send(0, ord(char), KEYEVENTF_UNICODE)
    _send(0, ord(char), KEYEVENTF_UNICODE | KEYEVENTF_KEYUP)
    time.sleep(0.02)


def _send_key(vk: int) -> None:
    _send(vk, 0, 0)
    _send(vk, 0, 0x0002)


@pytest.fixture
def tk_root():
    from avtoprokat_mail.app import create_root

    root = create_root()
    root.update()
    yield root
    root.destroy()


@pytest.mark.parametrize("kind", ["open", "save"])
def test_the_native_file_dialogs_return_a_cyrillic_path(tk_root, cyrillic_folder, kind):
    from avtoprokat_mail.ui import filedialogs

    target = cyrillic_folder / "клиенты.csv"
    if kind == "open":
        target.write_text("Фамилия;Email\n", encoding="utf-8")
    title = "Выбор файла для теста" if kind == "open" else "Сохранение файла для теста"
    done = threading.Event()
    typist = threading.Thread(
        target=_type_into_dialog, args=(title, str(target), done), daemon=True
    )
    typist.start()
    ask = filedialogs.ask_open_path if kind == "open" else filedialogs.ask_save_path
    chosen = ask(tk_root, title=title, initialdir=str(cyrillic_folder))
    typist.join(10)
    assert Path(chosen) == target


# --- DPI ------------------------------------------------------------------------------------
_DPI_PROBE = """
import ctypes
from avtoprokat_mail.app import create_root
root = create_root()
aware = ctypes.windll.user32.IsProcessDPIAware()
print(aware, root.tk.call("tk", "scaling"), root.winfo_fpixels("1i"))
root.destroy()
"""


@pytest.fixture
def screen_at_150_percent():
    """Windows' «Масштаб 150 %» (144 dots per inch) for the programs started meanwhile."""
    path = r"Control Panel\Desktop"
    with winreg.CreateKey(winreg.HKEY_CURRENT_USER, path) as key:
        try:
            before = winreg.QueryValueEx(key, "LogPixels")
        except OSError:
            before = None
        winreg.SetValueEx(key, "LogPixels", 0, winreg.REG_DWORD, 144)
    yield
    with winreg.CreateKey(winreg.HKEY_CURRENT_USER, path) as key:
        if before is None:
            winreg.DeleteValue(key, "LogPixels")
        else:
            winreg.SetValueEx(key, "LogPixels", 0, before[1], before[0])


def _probe_dpi() -> tuple[int, float, float]:
    result = subprocess.run(
        [sys.executable, "-c", _DPI_PROBE], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    aware, scaling, inch = result.stdout.split()
    return int(aware), float(scaling), float(inch)


def test_the_window_declares_dpi_awareness_and_tk_follows_the_scale(screen_at_150_percent):
    aware, scaling, inch = _probe_dpi()
    assert aware == 1  # Windows does not blur the window by stretching its bitmap
    assert inch == pytest.approx(144, abs=2)  # an inch is 144 pixels: fonts grow by half
    assert scaling == pytest.approx(2.0, abs=0.05)


# --- a data folder under a Cyrillic user name -----------------------------------------------
def test_the_program_keeps_its_data_and_log_under_a_cyrillic_profile(cyrillic_folder):
    folder = cyrillic_folder / "AppData" / "Roaming" / "avtoprokat_mail"
    command = [sys.executable, "-m", "avtoprokat_mail", "--data-dir", str(folder)]
    window = subprocess.run([*command, "--smoke"], capture_output=True, timeout=120)
    assert window.returncode == 0, window.stderr.decode("utf-8", "replace")
    demo = subprocess.run([*command, "demo"], capture_output=True, timeout=120)
    assert demo.returncode == 0, demo.stderr.decode("utf-8", "replace")
    listed = subprocess.run([*command, "clients", "list"], capture_output=True, timeout=120)
    assert listed.returncode == 0 and "Иванов" in listed.stdout.decode("utf-8")
    assert (folder / "avtoprokat_mail.sqlite3").is_file()
    assert (folder / "avtoprokat_mail.log").is_file()
