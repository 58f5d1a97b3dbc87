"""Work off the Tk thread: a worker thread runs it, the Tk thread gets what it produced.

The worker never touches a widget. It puts its events, then its result or its exception, on a
``queue.Queue`` that the Tk thread drains with ``after()`` and hands to the callbacks. (A worker
must not call ``event_generate`` either: that blocks while the Tk thread waits for the worker.)

    task = run_in_background(window, lambda: check(settings), on_done=show, disable=(button,))

The buttons in ``disable`` are disabled while the work runs and get their state back however it
ends: with a result, with an exception, cancelled, or with the window destroyed. After
:meth:`BackgroundTask.cancel`, or once the widget is destroyed, nothing more is delivered.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import tkinter as tk
from collections.abc import Callable, Iterable
from typing import Any

INTERVAL_MS = 50

_EVENT, _DONE, _ERROR = "event", "done", "error"


def report_exception(widget: tk.Misc, error: BaseException) -> None:
    """Hand ``error`` to the application's error reporting (the log and a Russian dialog).

    That is the root's ``report_callback_exception``, which avtoprokat_mail/app.py sets to
    ``error_reporter``: Tk calls the same handler when a button handler raises.
    """
    widget._root().report_callback_exception(type(error), error, error.__traceback__)


class BackgroundTask:
    """One piece of work on a worker thread, and its delivery to callbacks on the Tk thread.

    ``on_event`` gets what the worker passes to :meth:`emit` (only the newest of each batch
    with ``newest_only``), then ``on_done`` gets the work's return value, or ``on_error`` the
    exception it raised (by default: :func:`report_exception`). The disabled widgets get their
    state back before ``on_done`` or ``on_error`` is called.

    Build it first and :meth:`start` it when the worker needs :meth:`emit` before it starts
    (to hand it to an engine as its progress callback); else :func:`run_in_background`.
    """

    def __init__(
        self,
        widget: tk.Misc,
        *,
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
        on_event: Callable[[Any], None] | None = None,
        newest_only: bool = False,
        disable: Iterable[tk.Misc] = (),
        interval_ms: int = INTERVAL_MS,
    ) -> None:
        self.widget = widget
        self.on_done = on_done
        self.on_error = on_error or (lambda error: report_exception(widget, error))
        self.on_event = on_event
        self.newest_only = newest_only
        self.disable = tuple(disable)
        self.interval_ms = interval_ms
        self.thread: threading.Thread | None = None
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._states: list[tuple[tk.Misc, str]] = []
        self._after_id: str | None = None
        self._finished = False
        self._events_broken = False

    @property
    def running(self) -> bool:
        """Started, and neither delivered, cancelled nor dropped with its widget."""
        return self.thread is not None and not self._finished

    # --- the worker's side -------------------------------------------------------------------
    def emit(self, event: Any) -> None:
        """Pass ``event`` to ``on_event`` on the Tk thread; safe on any thread."""
        self._queue.put((_EVENT, event))

    def _work(self, work: Callable[[], Any]) -> None:
        try:
            result = work()
        except BaseException as error:  # delivered on the Tk thread, never lost
            self._queue.put((_ERROR, error))
        else:
            self._queue.put((_DONE, result))

    # --- the Tk thread's side ----------------------------------------------------------------
    def start(self, work: Callable[[], Any], *, name: str = "background") -> threading.Thread:
        """Disable the widgets, run ``work()`` on a new daemon thread and start polling."""
        if self.thread is not None:
            raise RuntimeError("a BackgroundTask runs once")
        for widget in self.disable:
            self._states.append((widget, str(widget.cget("state")) or "normal"))
            widget.configure(state="disabled")
        self.thread = threading.Thread(target=self._work, args=(work,), name=name, daemon=True)
        try:
            self.thread.start()
        except BaseException:
            self._finish()
            raise
        self._schedule()
        return self.thread

    def cancel(self) -> None:
        """Drop whatever the work still delivers and give the widgets their state back.

        The worker thread is not stopped (Python cannot stop one): what it returns is ignored.
        """
        if self._after_id is not None:
            with contextlib.suppress(tk.TclError):  # the application is closing
                self.widget._root().after_cancel(self._after_id)
            self._after_id = None
        self._finish()

    def _schedule(self) -> None:
        # On the root, not on the widget: a widget's destroy() deletes the Tcl commands of its
        # pending after() calls, and Tcl then reports "invalid command name" when one is due.
        self._after_id = self.widget._root().after(self.interval_ms, self._poll)

    def _poll(self) -> None:
        self._after_id = None
        if self._finished:
            return
        if not self._widget_exists():
            self._finish()
            return
        items: list[tuple[str, Any]] = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        events = [value for kind, value in items if kind == _EVENT]
        if self.newest_only:
            events = events[-1:]
        for event in events:
            self._deliver_event(event)
        outcome = next(((kind, value) for kind, value in items if kind != _EVENT), None)
        if outcome is None:
            if not self._finished:  # an event's callback may have cancelled the task
                self._schedule()
            return
        if self._finished:
            return
        self._finish()
        kind, value = outcome
        if kind == _DONE:
            self.on_done(value)
        else:
            self.on_error(value)

    def _deliver_event(self, event: Any) -> None:
        if self.on_event is None or self._events_broken or self._finished:
            return
        try:
            self.on_event(event)
        except Exception as error:
            # Reported once; the later events are dropped (a broken display would otherwise
            # report the same error every few milliseconds), the outcome is still delivered.
            self._events_broken = True
            report_exception(self.widget, error)

    def _widget_exists(self) -> bool:
        try:
            return bool(self.widget.winfo_exists())
        except tk.TclError:
            return False

    def _finish(self) -> None:
        """Stop delivering and give every disabled widget that still exists its state back."""
        self._finished = True
        states, self._states = self._states, []
        for widget, state in states:
            try:
                if widget.winfo_exists():
                    widget.configure(state=state)
            except tk.TclError:
                pass  # destroyed with its window meanwhile


def run_in_background(
    widget: tk.Misc,
    work: Callable[..., Any],
    *,
    on_done: Callable[[Any], None],
    on_error: Callable[[BaseException], None] | None = None,
    on_event: Callable[[Any], None] | None = None,
    newest_only: bool = False,
    disable: Iterable[tk.Misc] = (),
    interval_ms: int = INTERVAL_MS,
    name: str = "background",
) -> BackgroundTask:
    """Run ``work`` off the Tk thread; its outcome reaches the callbacks on the Tk thread.

    ``work()`` takes no argument, or, with ``on_event``, one: the function to emit events with.
    See :class:`BackgroundTask` for what is delivered when.
    """
    task = BackgroundTask(
        widget, on_done=on_done, on_error=on_error, on_event=on_event, newest_only=newest_only,
        disable=disable, interval_ms=interval_ms,
    )  # fmt: skip
    task.start((lambda: work(task.emit)) if on_event is not None else work, name=name)
    return task
