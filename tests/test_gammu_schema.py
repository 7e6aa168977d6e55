"""Our Gammu-compatible SMSD schema and inbox writer match what gammu-smsd 1.42 uses and writes."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakes.gammu import find_schema, schema_sql

from forwarder.sources.gammu_schema import (
    SCHEMA_VERSION,
    add_inbox_multipart,
    add_inbox_sms,
    create_smsd_schema,
)


def describe(path: Path) -> dict[str, object]:
    """Every table's columns (name, type, not null, default, pk) plus index and trigger names."""
    conn = sqlite3.connect(path)
    try:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        shape: dict[str, object] = {
            t: conn.execute(f"PRAGMA table_info({t})").fetchall() for t in tables
        }
        shape["objects"] = sorted(
            conn.execute(
                "SELECT type, name, tbl_name FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL"
            )
        )
        shape["version"] = conn.execute("SELECT Version FROM gammu").fetchall()
        return shape
    finally:
        conn.close()


@pytest.mark.skipif(find_schema() is None, reason="gammu-smsd's sqlite.sql is not installed")
def test_schema_matches_gammus_own(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.db"
    conn = sqlite3.connect(theirs)
    conn.executescript(schema_sql())
    conn.close()
    ours = create_smsd_schema(tmp_path / "ours.db")
    assert describe(ours) == describe(theirs)


def test_schema_version_and_no_overwrite(tmp_path: Path) -> None:
    path = create_smsd_schema(tmp_path / "sub" / "smsd.db")
    assert describe(path)["version"] == [(SCHEMA_VERSION,)]
    with pytest.raises(FileExistsError):
        create_smsd_schema(path)


def inbox(path: Path) -> list[dict[str, object]]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM inbox ORDER BY ID")]
    finally:
        conn.close()


def test_add_inbox_sms_writes_like_smsd(tmp_path: Path) -> None:
    db = create_smsd_schema(tmp_path / "smsd.db")
    when = datetime(2026, 1, 15, 3, 30, tzinfo=UTC)
    assert add_inbox_sms(db, "+6281234567890", "Halo 😀", when, recipient_id="test") == 1
    [row] = inbox(db)
    assert row["ReceivingDateTime"] == "2026-01-15 10:30:00"  # Asia/Jakarta, naive
    assert row["Text"] == "00480061006C006F0020D83DDE00"
    assert row["TextDecoded"] == "Halo 😀"
    assert (row["Processed"], row["UDH"], row["Class"], row["RecipientID"]) == (
        "false",
        "",
        -1,
        "test",
    )
    # a naive time is written as given
    add_inbox_sms(db, "081234567890", "x", datetime(2026, 1, 15, 8, 0), timezone="UTC")
    assert inbox(db)[1]["ReceivingDateTime"] == "2026-01-15 08:00:00"


def test_add_inbox_multipart_complete_and_incomplete(tmp_path: Path) -> None:
    db = create_smsd_schema(tmp_path / "smsd.db")
    text = "a" * 67 + "b" * 67 + "c"
    when = datetime(2026, 1, 15, 3, 30, tzinfo=UTC)
    assert add_inbox_multipart(db, "081234567890", text, when, reference=0x10) == [1, 2, 3]
    rows = inbox(db)
    assert [r["UDH"] for r in rows] == ["050003100301", "050003100302", "050003100303"]
    # gammu-smsd 1.42: the whole text in part 1's TextDecoded when every part arrived
    assert [r["TextDecoded"] for r in rows] == [text, "", ""]
    assert bytes.fromhex("".join(r["Text"] for r in rows)).decode("utf-16-be") == text
    add_inbox_multipart(db, "081234567890", text, when, reference=0x11, bits=16, parts=[3, 1])
    rows = inbox(db)[3:]
    assert [r["UDH"] for r in rows] == ["06080400110303", "06080400110301"]
    assert [r["TextDecoded"] for r in rows] == ["c", "a" * 67]
