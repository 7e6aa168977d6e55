"""UDH headers, part grouping and UTF-16 decoding of Gammu inbox rows (no database)."""

from __future__ import annotations

import pytest

from forwarder.sources.gammu_parts import (
    GAP_MARK,
    Concat,
    InboxRow,
    build_concat_udh,
    decode_utf16be,
    group_rows,
    hex_bytes,
    joined_text,
    parse_concat_udh,
    single_text,
)


@pytest.mark.parametrize(
    ("udh", "expected"),
    [
        ("050003AB0201", Concat(0xAB, 2, 1, 8)),
        ("050003ab0202", Concat(0xAB, 2, 2, 8)),
        ("060804ABCD0302", Concat(0xABCD, 3, 2, 16)),
        # port addressing IE (05, 4 bytes) before the concatenation IE
        ("0B05040B8423F00003F30201", Concat(0xF3, 2, 1, 8)),
        ("", None),
        (None, None),
        ("0504", None),  # cut short
        ("050003AB02", None),  # concatenation IE cut short
        ("050003AB0203", None),  # part 3 of 2
        ("050003AB0000", None),  # part 0 of 0
        ("zz", None),
        ("06050415811581", None),  # port addressing only
    ],
)
def test_parse_concat_udh(udh: str | None, expected: Concat | None) -> None:
    assert parse_concat_udh(udh) == expected


def test_build_concat_udh_round_trips() -> None:
    assert build_concat_udh(0xAB, 3, 1) == "050003AB0301"
    assert build_concat_udh(0xABCD, 3, 3, bits=16) == "060804ABCD0303"
    for bits, ref in [(8, 0), (8, 255), (16, 0), (16, 65535)]:
        assert parse_concat_udh(build_concat_udh(ref, 9, 4, bits=bits)) == Concat(ref, 9, 4, bits)
    for args in [(256, 2, 1), (1, 0, 1), (1, 2, 3), (1, 256, 1)]:
        with pytest.raises(ValueError):
            build_concat_udh(*args)


def test_hex_and_utf16_decoding_never_raise() -> None:
    assert hex_bytes("0041 0042") == (b"\x00A\x00B", False)
    assert hex_bytes("00410") == (b"\x00A", True)
    assert hex_bytes("not hex") == (b"", True)
    assert decode_utf16be("😀".encode("utf-16-be")) == ("😀", False)
    assert decode_utf16be(b"\xd8\x3d\x00A") == ("\ufffdA", True)  # lone high surrogate
    assert decode_utf16be(b"\x00A\x00") == ("A\ufffd", True)  # odd byte
    assert decode_utf16be("\ufffd".encode("utf-16-be")) == ("\ufffd", False)  # a real U+FFFD


def row(
    id_: int,
    text: str = "",
    *,
    udh: str = "",
    decoded: str | None = None,
    hex_text: str | None = None,
    sender: str = "+6281234567890",
    coding: str = "Unicode_No_Compression",
) -> InboxRow:
    return InboxRow(
        id=id_,
        sender=sender,
        receiving="2026-01-15 10:30:00",
        updated="2026-01-15 03:30:00",
        text_hex=text.encode("utf-16-be", "surrogatepass").hex() if hex_text is None else hex_text,
        text_decoded=text if decoded is None else decoded,
        coding=coding,
        udh=udh,
        recipient="test",
        sms_class=-1,
        smsc="",
        concat=parse_concat_udh(udh),
    )


def test_single_text_sources() -> None:
    assert single_text(row(1, "halo")) == ("halo", "TextDecoded", False)
    assert single_text(row(1, "halo", decoded="")) == ("halo", "Text", False)
    assert single_text(row(1, decoded="", hex_text="")) == ("", "none", False)
    assert single_text(row(1, decoded="", hex_text="D83D0041")) == ("\ufffdA", "Text", True)
    # Default (GSM-7) rows carry UTF-16BE hex in Text as well
    assert single_text(row(1, "Halo €", decoded="", coding="Default_No_Compression")) == (
        "Halo €",
        "Text",
        False,
    )
    assert single_text(row(1, decoded="", hex_text="0102FF", coding="8bit")) == ("", "none", False)


def test_emoji_straddling_two_parts_is_decoded_whole() -> None:
    data = ("A" * 66 + "😡" + "B").encode("utf-16-be")
    first, second = data[:134], data[134:]
    parts = [
        row(2, udh="050003AB0202", decoded="", hex_text=second.hex()),
        row(1, udh="050003AB0201", decoded="ignored", hex_text=first.hex()),
    ]
    [part_set] = group_rows(parts)
    assert part_set.complete and part_set.ids == (1, 2)
    assert joined_text(part_set.rows) == ("A" * 66 + "😡B", False)


def test_missing_middle_part_is_marked_and_the_lone_surrogate_replaced() -> None:
    data = ("x" * 66 + "😡" + "y" * 67 + "z").encode("utf-16-be")
    chunks = [data[i : i + 134] for i in range(0, len(data), 134)]
    present = [
        row(1, udh="050003100301", decoded="", hex_text=chunks[0].hex()),
        row(3, udh="050003100303", decoded="", hex_text=chunks[2].hex()),
    ]
    [part_set] = group_rows(present)
    assert not part_set.complete
    text, damaged = joined_text(part_set.rows)
    assert text == "x" * 66 + "\ufffd" + GAP_MARK + "yz"
    assert damaged


def test_part_without_text_hex_falls_back_to_text_decoded() -> None:
    parts = [
        row(1, udh="050003050201", decoded="satu ", hex_text=""),
        row(2, "dua", udh="050003050202"),
    ]
    [part_set] = group_rows(parts)
    assert joined_text(part_set.rows) == ("satu dua", False)


def test_grouping_keys_and_reused_reference() -> None:
    rows = [
        row(1, "a", udh="050003070201"),
        row(2, "b", udh="050003070201", sender="+6285700000001"),  # other sender, same ref
        row(3, "c", udh="050003070202"),
        row(4, "single"),
        row(5, "d", udh="050003070201"),  # the sender reused reference 7 for a new message
        row(6, "e", udh="050003070202"),
        row(7, "f", udh="06080400070202"),  # 16-bit reference 7 is another key
    ]
    sets = group_rows(rows)
    assert [s.ids for s in sets] == [(1, 3), (2,), (4,), (5, 6), (7,)]
    assert [s.complete for s in sets] == [True, False, True, True, False]


def test_kept_sets_are_grouped_as_handed_over() -> None:
    rows = [
        row(1, "a", udh="050003070301"),
        row(2, "b", udh="050003070302"),
        row(3, "c", udh="050003070303"),
    ]
    # (1, 2) was handed over as an incomplete set; part 3 arrived later: it stays apart
    sets = group_rows(rows, keep={1: (1, 2), 2: (1, 2)})
    assert [(s.ids, s.kept, s.complete) for s in sets] == [
        ((1, 2), True, False),
        ((3,), False, False),
    ]
