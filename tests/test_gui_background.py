"""ui/background.py with real Tk: what a worker produces reaches the Tk thread, and only there."""

from __future__ import annotations

import threading
import time

import pytest
import ttkbootstrap as ttk

from avtoprokat_mail.ui.background import BackgroundTask, run_in_background
from tests.gui_helpers import pump


def wait_for(condition, root, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        pump(root, 0.02)
    assert condition(), "timed out"


@pytest.fixture
def frame(tk_root, gui_errors):
    frame = ttk.Frame(tk_root)
    frame.pack()
    yield frame
    if frame.winfo_exists():
        frame.destroy()


@pytest.fixture
def tcl_errors(tk_root):
    """Errors Tcl reports in the background (such as "invalid command name" of an after())."""
    errors: list[str] = []
    previous = tk_root.tk.eval("interp bgerror {}")
    tk_root.tk.createcommand("record_bgerror", lambda message, _options: errors.append(message))
    tk_root.tk.eval("interp bgerror {} record_bgerror")
    yield errors
    tk_root.tk.call("interp", "bgerror", "", previous)
    tk_root.tk.deletecommand("record_bgerror")


def test_the_result_reaches_on_done_on_the_tk_thread_and_the_button_is_enabled_again(frame):
    button = ttk.Button(frame, text="Проверить")
    gate = threading.Event()
    seen: dict[str, object] = {}

    def work() -> int:
        seen["worker"] = threading.current_thread()
        gate.wait(10)
        return 42

    def done(result: int) -> None:
        seen["result"], seen["thread"] = result, threading.current_thread()

    task = run_in_background(frame, work, on_done=done, disable=(button,))
    pump(frame, 0.1)
    assert str(button.cget("state")) == "disabled" and task.running
    gate.set()
    wait_for(lambda: "result" in seen, frame)
    assert seen["result"] == 42
    assert seen["thread"] is threading.main_thread()
    assert seen["worker"] is not threading.main_thread()
    assert str(button.cget("state")) == "normal" and not task.running


def test_an_exception_reaches_on_error_and_the_buttons_are_enabled_again(frame):
    first, second = ttk.Button(frame, text="Раз"), ttk.Button(frame, text="Два")
    errors: list[tuple[BaseException, threading.Thread]] = []

    def work() -> None:
        raise RuntimeError("сломалось")

    run_in_background(
        frame, work, on_done=lambda _r: pytest.fail("no result expected"),
        on_error=lambda e: errors.append((e, threading.current_thread())),
        disable=(first, second),
    )  # fmt: skip
    wait_for(lambda: errors, frame)
    ((error, thread),) = errors
    assert isinstance(error, RuntimeError) and str(error) == "сломалось"
    assert thread is threading.main_thread()
    assert str(first.cget("state")) == "normal" and str(second.cget("state")) == "normal"


def test_without_on_error_the_exception_goes_to_the_applications_error_reporting(frame, gui_errors):
    button = ttk.Button(frame, text="Проверить")

    def work() -> None:
        raise RuntimeError("непредвиденное")

    run_in_background(frame, work, on_done=lambda _r: None, disable=(button,))
    wait_for(lambda: gui_errors, frame)
    (error,) = gui_errors  # what the root's report_callback_exception received
    assert isinstance(error, RuntimeError) and str(error) == "непредвиденное"
    assert str(button.cget("state")) == "normal"
    gui_errors.clear()


def test_a_button_disabled_before_stays_disabled(frame):
    button = ttk.Button(frame, text="Старт", state="disabled")
    done: list[object] = []
    run_in_background(frame, lambda: None, on_done=done.append, disable=(button,))
    wait_for(lambda: done, frame)
    assert str(button.cget("state")) == "disabled"


def test_cancel_drops_a_late_result_and_enables_the_button_at_once(frame, tcl_errors):
    button = ttk.Button(frame, text="Проверить")
    gate = threading.Event()
    delivered: list[object] = []
    task = run_in_background(
        frame, lambda: gate.wait(10), on_done=delivered.append, on_error=delivered.append,
        disable=(button,),
    )  # fmt: skip
    pump(frame, 0.1)
    task.cancel()
    assert str(button.cget("state")) == "normal" and not task.running
    gate.set()
    task.thread.join(10)
    pump(frame, 0.3)
    assert delivered == [] and tcl_errors == []


def test_a_destroyed_widget_gets_nothing_and_tcl_reports_no_error(tk_root, gui_errors, tcl_errors):
    window = ttk.Toplevel(tk_root)
    outside = ttk.Button(tk_root, text="Снаружи")
    gate = threading.Event()
    delivered: list[object] = []
    task = run_in_background(
        window, lambda: gate.wait(10), on_done=delivered.append, on_error=delivered.append,
        on_event=None, disable=(ttk.Button(window, text="Внутри"), outside),
    )  # fmt: skip
    pump(tk_root, 0.1)
    window.destroy()
    gate.set()
    task.thread.join(10)
    pump(tk_root, 0.3)
    assert delivered == [] and tcl_errors == [] and not task.running
    assert str(outside.cget("state")) == "normal"  # a button outside the window gets it back
    outside.destroy()


def test_streamed_events_newest_only_then_the_result(frame):
    emitted, gate = threading.Event(), threading.Event()
    shown: list[tuple[int, threading.Thread]] = []
    done: list[str] = []

    def work(emit) -> str:
        for number in (1, 2, 3):
            emit(number)
        emitted.set()
        gate.wait(10)
        emit(4)
        emit(5)
        return "готово"

    run_in_background(
        frame, work, on_done=done.append,
        on_event=lambda n: shown.append((n, threading.current_thread())), newest_only=True,
    )  # fmt: skip
    assert emitted.wait(10)  # all three queued before Tk polls once
    wait_for(lambda: shown, frame)
    assert [n for n, _ in shown] == [3]
    gate.set()
    wait_for(lambda: done, frame)
    assert [n for n, _ in shown] == [3, 5] and done == ["готово"]
    assert {thread for _, thread in shown} == {threading.main_thread()}


def test_streamed_events_all_in_order(frame):
    shown: list[int] = []
    done: list[object] = []

    def work(emit) -> None:
        for number in range(20):
            emit(number)

    run_in_background(frame, work, on_done=done.append, on_event=shown.append)
    wait_for(lambda: done, frame)
    assert shown == list(range(20))


def test_an_engine_gets_emit_before_the_worker_starts(frame):
    shown: list[str] = []
    done: list[str] = []
    task = BackgroundTask(frame, on_done=done.append, on_event=shown.append, newest_only=True)
    report = task.emit  # what an engine is built with, before its thread exists

    def run() -> str:
        report("идёт")
        return "конец"

    thread = task.start(run, name="engine")
    assert thread is task.thread and thread.name == "engine"
    wait_for(lambda: done, frame)
    assert shown == ["идёт"] and done == ["конец"]


def test_a_failing_event_callback_is_reported_once_and_the_result_still_arrives(frame, gui_errors):
    emitted, gate = threading.Event(), threading.Event()
    done: list[str] = []

    def work(emit) -> str:
        emit(1)
        emitted.set()
        gate.wait(10)
        emit(2)
        return "конец"

    def show(_event) -> None:
        raise ValueError("не показать")

    run_in_background(frame, work, on_done=done.append, on_event=show)
    emitted.wait(10)
    wait_for(lambda: gui_errors, frame)
    gate.set()
    wait_for(lambda: done, frame)
    assert [type(e) for e in gui_errors] == [ValueError]
    gui_errors.clear()
