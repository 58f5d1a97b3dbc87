"""The command line: ``avtoprokat-mail`` and ``python -m avtoprokat_mail``.

One module per command group (clients, templates, settings, send, runs, mailbox) with the
handlers of its commands; their options are in ``arguments.py``, which ``parser.py`` puts
together without importing any command's module. ``exits.py`` holds the exit statuses,
``dispatch.py`` parses, then imports and runs the one command asked for. Nothing here imports
the GUI unless the GUI is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status (see cli/exits.py)."""
    from avtoprokat_mail.cli.dispatch import run

    return run(argv)
