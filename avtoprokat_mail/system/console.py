"""The command line's output streams, the same on every Windows whatever its code page.

Python writes to a pipe or a file in the ANSI code page of the Windows it runs on: cp1251 on
a Russian Windows, cp1252 on an English one, where the first Russian letter of a message is
a UnicodeEncodeError. On a console it writes through the console's own Unicode API and
needs nothing. So:

- a stream that is no console (a pipe, a file: the Task Scheduler, ``> out.txt``, a script)
  writes UTF-8, on every system, unless PYTHONIOENCODING says otherwise;
- a console is left to Python, with ``errors="replace"`` so that no character can fail;
- a stream that does not exist (the windowed .exe started without redirection) becomes the
  null device: the command still works and reports by its exit status and the log.

The console twin ``avtoprokat-mail-cli.exe`` (built from the same spec) is what a person runs
in ``cmd``: a windowed program cannot make ``cmd`` wait for it or print under its prompt.
"""

from __future__ import annotations

import io
import os
import sys


def prepare_streams() -> None:
    """Make stdin, stdout and stderr usable for the command line (see the module's doc)."""
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115
    if os.environ.get("PYTHONIOENCODING"):
        return  # the user chose: Python has applied it
    for stream in (sys.stdout, sys.stderr):
        _settle(stream)


def _settle(stream: object) -> None:
    if not isinstance(stream, io.TextIOWrapper):
        return  # replaced by a test's capture or by the caller: not ours to change
    try:
        console = stream.isatty()
    except (OSError, ValueError):
        console = False
    if console:
        stream.reconfigure(errors="replace")
    else:
        stream.reconfigure(encoding="utf-8", errors="replace")


def read_secret() -> str:
    """A password or key given on standard input: typed without echo on a console, else the
    first line of a pipe or file.

    Piped bytes are UTF-8 when they are valid UTF-8 (what PowerShell 7, Python and the Task
    Scheduler's scripts send), else in the stream's own code page (cmd's ``echo`` on a
    Russian Windows): Python alone would read them in the ANSI code page, and a password
    piped as UTF-8 would be stored as «РџР°СЂРѕР»СЊ».
    """
    stream = sys.stdin
    try:
        console = stream.isatty()
    except (AttributeError, OSError, ValueError):
        console = False
    if console:
        import getpass

        return getpass.getpass("Пароль: ")
    raw = getattr(stream, "buffer", None)
    if raw is None:  # a text stream without bytes underneath (a test's StringIO)
        return stream.readline().rstrip("\r\n")
    line = raw.readline()
    if line.startswith(b"\xef\xbb\xbf"):
        line = line[3:]
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        text = line.decode(stream.encoding or "utf-8", errors="replace")
    return text.rstrip("\r\n")
