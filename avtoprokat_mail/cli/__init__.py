"""The command line: ``avtoprokat-mail`` and ``python -m avtoprokat_mail``.

One module per command group (clients, templates, settings, send, runs), each with the
parser of its commands and their handlers; ``parser.py`` puts them together, ``exits.py``
holds the exit statuses, ``dispatch.py`` runs a command. Nothing here imports the GUI unless the
GUI is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit status (see cli/exits.py)."""
    from avtoprokat_mail.cli.dispatch import run

    return run(argv)
