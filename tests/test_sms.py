"""Splitting replies into SMS parts (GSM 03.38 / TS 23.040 figures) and queueing them in the outbox."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from forwarder.errors import PermanentError, TemporaryError
from forwarder.sms import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    is_gsm7,
    queue_sms,
    sms_encoding,
    split_sms,
)
from forwarder.sources.gammu_schema import create_smsd_schema

EMOJI = "\U0001f621"  # 😡: outside the BMP, a surrogate pair in UTF-16


def septets(text: str) -> int:
    return sum(2 if c in GSM7_EXTENSION else 1 for c in text)


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_alphabet_tables_have_the_gsm_03_38_sizes() -> None:
    # 128 positions, one of them ESC; the extension table has 10 characters in common use
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize(
    ("text", "lengths"),
    [
        ("", [0]),
        ("a" * 160, [160]),
        ("a" * 161, [153, 8]),
        ("a" * 306, [153, 153]),
        ("a" * 307, [153, 153, 1]),
        ("€" * 80, [80]),  # 160 septets: still one SMS
        ("€" * 81, [76, 5]),  # 162 septets: 2 parts, 76 euro signs = 152 septets per part
        ("Ü" * 160, [160]),  # Ü is in the default alphabet
        ("ç" * 70, [70]),  # ç is not (only Ç): UCS-2
        ("ç" * 71, [67, 4]),
        (EMOJI * 35, [35]),  # 70 units
        (EMOJI * 36, [33, 3]),  # 67 units max per part and a pair is never split: 33 emoji
    ],
)
def test_split_lengths(text: str, lengths: list[int]) -> None:
    parts = split_sms(text)
    assert [len(p) for p in parts] == lengths
    assert "".join(parts) == text


def test_ucs2_limits_count_utf16_units_not_characters() -> None:
    text = "x" * 69 + EMOJI  # 70 characters but 71 UTF-16 units: over one SMS
    parts = split_sms(text)
    assert [units(p) for p in parts] == [67, 4]
    assert "".join(parts) == text


def test_extension_escape_is_never_split() -> None:
    text = "a" * 152 + "€" + "b" * 10  # € would straddle septets 153/154
    parts = split_sms(text)
    assert parts[0] == "a" * 152
    assert parts[1].startswith("€")
    assert all(septets(p) <= 153 for p in parts)


def test_surrogate_pair_is_never_split() -> None:
    text = "y" * 66 + EMOJI + "z" * 10
    parts = split_sms(text)
    assert parts[0] == "y" * 66
    assert parts[1].startswith(EMOJI)
    assert all(units(p) <= 67 for p in parts)


def test_one_emoji_makes_the_whole_text_ucs2() -> None:
    text = "Jalan rusak " * 10 + EMOJI
    assert not is_gsm7(text)
    assert sms_encoding(text) == "Unicode_No_Compression"
    assert all(units(p) <= 67 for p in split_sms(text))
    assert sms_encoding("Laporan [#12] diterima, terima kasih {OK} €5") == "Default_No_Compression"


def test_long_texts_stay_within_limits() -> None:
    for text in ["Pupuk langka di Kedungadem. " * 200, "Pupuk 😡 langka. " * 200]:
        parts = split_sms(text)
        assert "".join(parts) == text
        if is_gsm7(text):
            assert all(septets(p) <= 153 for p in parts)
        else:
            assert all(units(p) <= 67 for p in parts)


def test_more_than_255_parts_is_refused() -> None:
    split_sms("a" * 153 * 255)
    with pytest.raises(ValueError, match="255"):
        split_sms("a" * (153 * 255 + 1))


# -- queue_sms against our Gammu-compatible schema (the real daemon: tests/test_gammu_daemon.py) --


@pytest.fixture
def smsd_db(tmp_path: Path) -> Path:
    return create_smsd_schema(tmp_path / "smsd.db")


def rows(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_queue_single_sms(smsd_db: Path) -> None:
    outbox_id = queue_sms(smsd_db, "+6281234567890", "Laporan #12 diterima. Terima kasih.")
    assert rows(
        smsd_db,
        "SELECT ID, DestinationNumber, TextDecoded, Coding, UDH, MultiPart, CreatorID, "
        "SenderID FROM outbox",
    ) == [
        (
            outbox_id,
            "+6281234567890",
            "Laporan #12 diterima. Terima kasih.",
            "Default_No_Compression",
            "",
            "false",
            "forwarder",
            None,
        )
    ]
    assert rows(smsd_db, "SELECT * FROM outbox_multipart") == []


def test_queue_multipart_sms(smsd_db: Path) -> None:
    text = "Laporan Anda tentang jalan rusak 😡 sudah diteruskan ke Dinas PU. " * 4
    outbox_id = queue_sms(
        smsd_db, "0812-3456-7890", text, "lapor", phone_id="modem1", reference=0xE1
    )
    parts = split_sms(text)
    assert len(parts) > 2
    head = rows(
        smsd_db,
        "SELECT UDH, MultiPart, TextDecoded, Coding, SenderID, CreatorID, "
        "DestinationNumber, Text FROM outbox",
    )
    assert head == [
        (
            f"050003E1{len(parts):02X}01",
            "TRUE",
            parts[0],
            "Unicode_No_Compression",
            "modem1",
            "lapor",
            "081234567890",
            parts[0].encode("utf-16-be").hex().upper(),
        )
    ]
    rest = rows(
        smsd_db,
        "SELECT ID, SequencePosition, UDH, TextDecoded, Coding FROM outbox_multipart "
        "ORDER BY SequencePosition",
    )
    assert rest == [
        (outbox_id, i, f"050003E1{len(parts):02X}{i:02X}", parts[i - 1], "Unicode_No_Compression")
        for i in range(2, len(parts) + 1)
    ]


@pytest.mark.parametrize("number", ["", "TELKOMSEL", "12", "+62 abc"])
def test_queue_refuses_numbers_that_cannot_receive(smsd_db: Path, number: str) -> None:
    with pytest.raises(ValueError):
        queue_sms(smsd_db, number, "halo")
    assert rows(smsd_db, "SELECT COUNT(*) FROM outbox") == [(0,)]


def test_queue_refuses_empty_text(smsd_db: Path) -> None:
    with pytest.raises(ValueError, match="empty"):
        queue_sms(smsd_db, "+6281234567890", "")


def test_queue_into_missing_database_is_temporary(tmp_path: Path) -> None:
    with pytest.raises(TemporaryError, match="does not exist"):
        queue_sms(tmp_path / "nope.db", "+6281234567890", "halo")
    assert not (tmp_path / "nope.db").exists()


def test_queue_into_a_file_without_outbox_is_permanent(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    sqlite3.connect(other).close()
    other.write_bytes(b"")  # an empty file is a valid, empty SQLite database
    with pytest.raises(PermanentError) as caught:
        queue_sms(other, "+6281234567890", "halo")
    assert "sqlite.sql" in caught.value.hint
