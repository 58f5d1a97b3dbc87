"""How values look to a Russian user."""

from __future__ import annotations

from datetime import datetime


def format_time(iso: str) -> str:
    """'2026-11-26T18:05:00' → '26.11.2026 18:05'; '' stays ''."""
    if not iso:
        return ""
    try:
        return datetime.fromisoformat(iso).strftime("%d.%m.%Y %H:%M")
    except ValueError:
        return iso
