"""Sender numbers: every Indonesian written form of one number gives one E.164 reporter."""

from __future__ import annotations

import pytest

from forwarder.phone import InvalidNumber, classify_sender, normalise_msisdn

SAME_NUMBER = [
    "081234567890",
    "6281234567890",
    "+6281234567890",
    "+62 0812-3456-7890",
    "+620812 3456 7890",
    "0812-3456-7890",
    "0812 3456 7890",
    "0812.3456.7890",
    "(0812) 3456 7890",
    "62 812 3456 7890",
    "+62-812-3456-7890",
    "006281234567890",
    " 081234567890 ",
    "0812\u00a03456\u00a07890",
]


@pytest.mark.parametrize("raw", SAME_NUMBER)
def test_indonesian_forms_normalise_to_one_e164(raw: str) -> None:
    assert normalise_msisdn(raw) == "+6281234567890"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("62812345678", "+62812345678"),  # 10-digit mobile written without +: not area code 0628
        ("0857 0000 0001", "+6285700000001"),
        ("0353 881234", "+62353881234"),  # Bojonegoro fixed line (area code 0353)
        ("+60 12-345 6789", "+60123456789"),  # a migrant worker's Malaysian number
        ("+1 202 555 0100", "+12025550100"),
    ],
)
def test_other_numbers(raw: str, expected: str) -> None:
    assert normalise_msisdn(raw) == expected


@pytest.mark.parametrize(
    "raw", ["", "   ", "TELKOMSEL", "3636", "+", "0", "*123#", "0812-ABCD", "++62812"]
)
def test_not_a_number_raises_value_error(raw: str) -> None:
    with pytest.raises(InvalidNumber):
        normalise_msisdn(raw)
    assert issubclass(InvalidNumber, ValueError)


@pytest.mark.parametrize(
    ("raw", "reporter", "kind"),
    [
        ("+62 0812-3456-7890", "+6281234567890", "msisdn"),
        ("62812-3456-7890", "+6281234567890", "msisdn"),
        ("3636", "3636", "short_code"),
        ("1708", "1708", "short_code"),
        (" 888 ", "888", "short_code"),
        ("*123#", "*123#", "short_code"),
        ("TELKOMSEL", "TELKOMSEL", "alphanumeric"),
        ("Info-BPBD", "Info-BPBD", "alphanumeric"),
        ("BANK BRI", "BANK BRI", "alphanumeric"),
        ("", "", "unknown"),
        ("+999 1234 5678 9012 3456", "+999 1234 5678 9012 3456", "unknown"),
        ("\x00\x01", "\x00\x01", "unknown"),
    ],
)
def test_classify_sender_keeps_and_marks_non_numbers(raw: str, reporter: str, kind: str) -> None:
    sender = classify_sender(raw)
    assert (sender.reporter, sender.kind, sender.raw) == (reporter, kind, raw)


def test_classify_sender_never_raises_on_odd_input() -> None:
    for raw in [None, "😀", "0" * 200, "+" * 30, "٠٨١٢٣٤٥٦٧٨٩٠", "\u202e0812"]:
        sender = classify_sender(raw)  # type: ignore[arg-type]
        assert sender.kind in {"msisdn", "short_code", "alphanumeric", "unknown"}
