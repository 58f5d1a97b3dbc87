"""How the command line prints: tables for people, UTF-8 CSV for scripts, messages on stderr."""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence

from avtoprokat_mail.validation import spreadsheet_safe, strip_controls


def say(text: str) -> None:
    """A message for the person at the terminal (stderr: stdout is for results)."""
    print(text, file=sys.stderr)


def write_rows(
    headers: Sequence[str], rows: list[list], output_format: str, *, titles: Sequence[str]
) -> None:
    """Rows as CSV for scripts (UTF-8, under ``headers``: the names the command-line contract
    fixes) or as a table for people (under ``titles``: the same columns in Russian)."""
    if len(titles) != len(headers):
        raise ValueError(f"{len(headers)} columns, {len(titles)} titles")
    if output_format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows([spreadsheet_safe(cell) for cell in row] for row in rows)
    else:
        print_table(titles, rows)


def print_table(headers: Sequence[str], rows: list[list]) -> None:
    """Plain aligned columns for a terminal."""
    texts = [[strip_controls(str(v)) for v in row] for row in rows]  # no ESC to the terminal
    widths = [max([len(h), *(len(r[i]) for r in texts)]) for i, h in enumerate(headers)]
    for line in [list(headers), *texts]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())
