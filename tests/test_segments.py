"""SMS length: GSM-7 160 / 153 septets, UCS-2 70 / 67 UTF-16 units."""

from __future__ import annotations

import pytest

from avtoprokat_mail.sending.sms.segments import SmsLength, sms_length


@pytest.mark.parametrize(
    ("length", "segments"), [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)]
)
def test_cyrillic_boundaries(length: int, segments: int) -> None:
    result = sms_length("я" * length)
    assert (result.units, result.segments, result.unicode) == (length, segments, True)


@pytest.mark.parametrize(
    ("length", "segments"), [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)]
)
def test_latin_gsm_boundaries(length: int, segments: int) -> None:
    result = sms_length("a" * length)
    assert (result.units, result.segments, result.unicode) == (length, segments, False)


@pytest.mark.parametrize(
    ("text", "units", "segments"),
    [
        ("€" * 80, 160, 1),
        ("€" * 81, 162, 2),
        ("{" + "a" * 159, 161, 2),
        ("{" + "a" * 158, 160, 1),
        ("^{}\\[~]|€", 18, 1),
    ],
)
def test_extension_characters_take_two_septets(text: str, units: int, segments: int) -> None:
    result = sms_length(text)
    assert (result.characters, result.units, result.segments) == (len(text), units, segments)
    assert result.unicode is False


def test_one_cyrillic_letter_makes_the_whole_text_unicode() -> None:
    result = sms_length("a" * 69 + "я")
    assert (result.units, result.segments, result.unicode) == (70, 1, True)
    assert sms_length("a" * 70 + "я").segments == 2


def test_emoji_counts_two_utf16_units() -> None:
    assert sms_length("😀") == SmsLength(characters=1, units=2, segments=1, unicode=True)
    assert sms_length("я" * 69 + "😀").segments == 2


def test_gsm_basic_letters_with_accents_stay_gsm() -> None:
    assert sms_length("Ça va? Müller, £5 @ 10:00").unicode is False


def test_empty_text_has_no_segments() -> None:
    assert sms_length("") == SmsLength(characters=0, units=0, segments=0, unicode=False)


def test_per_segment_follows_the_alphabet_and_parts() -> None:
    assert sms_length("я" * 70).per_segment == 70
    assert sms_length("я" * 71).per_segment == 67
    assert sms_length("a" * 160).per_segment == 160
    assert sms_length("a" * 161).per_segment == 153


def test_describe_is_russian_with_the_counts() -> None:
    assert sms_length("я" * 71).describe() == (
        "Символов: 71, SMS: 2 (кириллица/Unicode, 70 в одной SMS, 67 в части)"
    )
    assert sms_length("€" * 81).describe() == (
        "Символов: 81, SMS: 2 (латиница GSM, 160 в одной SMS, 153 в части)"
    )
