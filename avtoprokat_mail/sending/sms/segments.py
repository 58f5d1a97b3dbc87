"""How many SMS parts a text takes: GSM-7 (160 / 153) or UCS-2 (70 / 67).

A text is sent in the GSM 03.38 default alphabet when every character is in it (the
extension-table characters ``^{}\\[~]|€`` take two septets each); anything else, any Cyrillic
letter included, makes the whole text UCS-2, counted in UTF-16 code units (an emoji is two).
A text longer than one part is split into parts of 153 septets or 67 units, the rest of each
part holding the concatenation header.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SmsLength:
    """The size of one SMS text as the network counts it."""

    characters: int  # as the user sees them
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int  # parts the text is sent in (0 for an empty text)
    unicode: bool  # True when the text goes as UCS-2

    @property
    def per_segment(self) -> int:
        """Units per part at this length: the single-part limit or the multipart one."""
        if self.unicode:
            return UCS2_SINGLE if self.segments <= 1 else UCS2_PART
        return GSM7_SINGLE if self.segments <= 1 else GSM7_PART

    def describe(self) -> str:
        """A Russian line for the template form and the CLI preview."""
        alphabet = (
            "кириллица/Unicode, 70 в одной SMS, 67 в части"
            if self.unicode
            else ("латиница GSM, 160 в одной SMS, 153 в части")
        )
        return f"Символов: {self.characters}, SMS: {self.segments} ({alphabet})"


def sms_length(text: str) -> SmsLength:
    """Count the characters, units and parts of ``text``."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        single, part, unicode = GSM7_SINGLE, GSM7_PART, False
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, part, unicode = UCS2_SINGLE, UCS2_PART, True
    if units == 0:
        segments = 0
    elif units <= single:
        segments = 1
    else:
        segments = -(-units // part)
    return SmsLength(characters=len(text), units=units, segments=segments, unicode=unicode)
