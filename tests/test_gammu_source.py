"""The gammu_smsd source against a Gammu-format SQLite inbox (rows written as gammu-smsd 1.42 writes them).

The same behaviour against the real daemon is in tests/test_gammu_daemon.py.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from forwarder.context import Context
from forwarder.errors import PermanentError, TemporaryError
from forwarder.sources.gammu_parts import GAP_MARK
from forwarder.sources.gammu_schema import add_inbox_multipart, add_inbox_sms, create_smsd_schema
from forwarder.sources.gammu_smsd import Config, Source

WIB = timezone(timedelta(hours=7))
SENT = datetime(2026, 1, 15, 10, 30, tzinfo=WIB)  # written to the inbox as naive local (WIB) time
LONG = (
    "Pupuk bersubsidi langka di Desa Sukorejo, Kecamatan Kedungadem. "
    + "A" * 2
    + "😡"
    + " sejak Senin."
)


class Clock:
    """An injectable clock (aware UTC) that tests move forward by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return create_smsd_schema(tmp_path / "smsd.db")


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_source(db: Path, clock: Clock, **options: object) -> Source:
    config = Config.model_validate({"type": "gammu_smsd", "database": str(db), **options})
    return Source("sms", config, Context(clock=clock, timezone="Asia/Jakarta"))


def processed(db: Path) -> dict[int, str]:
    conn = sqlite3.connect(db)
    try:
        return dict(conn.execute("SELECT ID, Processed FROM inbox"))
    finally:
        conn.close()


async def test_single_sms_becomes_a_complaint(db: Path, clock: Clock) -> None:
    add_inbox_sms(
        db, "+62 0812-3456-7890", "Jalan berlubang di Jl. Veteran 😡", SENT, recipient_id="test"
    )
    source = make_source(db, clock)
    polled = await source.poll(None)
    [complaint] = polled.complaints
    assert complaint.external_id == "inbox:1"
    assert complaint.received_at == datetime(2026, 1, 15, 3, 30, tzinfo=UTC)
    assert complaint.reporter == "+6281234567890"
    assert complaint.text == "Jalan berlubang di Jl. Veteran 😡"
    assert complaint.channel == "sms"
    assert complaint.meta["sender"] == "+62 0812-3456-7890"
    assert complaint.meta["sender_kind"] == "msisdn"
    assert complaint.meta["inbox_ids"] == [1]
    assert complaint.meta["recipient_id"] == "test"
    assert complaint.meta["incomplete"] is False
    assert polled.cursor is None and polled.token == (1,)
    assert source.poll_interval == 2.0


async def test_rows_are_processed_only_after_commit(db: Path, clock: Clock) -> None:
    add_inbox_sms(db, "081234567890", "satu", SENT)
    add_inbox_multipart(db, "081234567890", LONG, SENT, reference=0x21)
    source = make_source(db, clock)
    first = await source.poll(None)
    again = await source.poll(None)
    assert [c.external_id for c in first.complaints] == ["inbox:1", "inbox:2,3"]
    assert again.complaints == first.complaints
    assert set(processed(db).values()) == {"false"}
    await source.commit(again)
    assert processed(db) == {1: "true", 2: "true", 3: "true"}
    assert (await source.poll(None)).complaints == []
    # a new source (a restart) sees nothing either
    assert (await make_source(db, clock).poll(None)).complaints == []


async def test_commit_marks_exactly_the_polled_rows(db: Path, clock: Clock) -> None:
    add_inbox_sms(db, "081234567890", "satu", SENT)
    source = make_source(db, clock)
    polled = await source.poll(None)
    add_inbox_sms(db, "081234567890", "dua, datang sesudah poll", SENT)
    await source.commit(polled)
    assert processed(db) == {1: "true", 2: "false"}
    [second] = (await source.poll(None)).complaints
    assert second.text == "dua, datang sesudah poll"


async def test_three_part_sms_with_emoji_across_a_part_boundary(db: Path, clock: Clock) -> None:
    text = "x" * 66 + "😡" + "y" * 80  # the emoji's surrogate pair is cut between part 1 and 2
    ids = add_inbox_multipart(db, "+6281234567890", text, SENT, reference=0xAB, parts=[2, 3, 1])
    [complaint] = (await make_source(db, clock).poll(None)).complaints
    assert complaint.text == text
    assert complaint.external_id == "inbox:" + ",".join(map(str, sorted(ids)))
    assert complaint.meta["parts"] == {
        "total": 3,
        "present": [1, 2, 3],
        "reference": 0xAB,
        "reference_bits": 8,
    }
    assert complaint.meta["udh"] == ["050003AB0301", "050003AB0302", "050003AB0303"]
    assert complaint.meta["incomplete"] is False
    assert "text_damaged" not in complaint.meta


async def test_sixteen_bit_reference(db: Path, clock: Clock) -> None:
    add_inbox_multipart(db, "+6285700000001", LONG, SENT, reference=0xBEEF, bits=16)
    [complaint] = (await make_source(db, clock).poll(None)).complaints
    assert complaint.text == LONG
    assert complaint.meta["parts"]["reference"] == 0xBEEF
    assert complaint.meta["parts"]["reference_bits"] == 16
    assert complaint.meta["udh"][0].startswith("060804BEEF")


async def test_incomplete_set_waits_then_is_stored_and_a_late_part_is_its_own(
    db: Path, clock: Clock
) -> None:
    text = "a" * 67 + "b" * 67 + "c" * 10
    add_inbox_multipart(db, "081234567890", text, SENT, reference=7, parts=[1, 3])
    source = make_source(db, clock, multipart_timeout_secs=600)
    assert (await source.poll(None)).complaints == []
    clock.advance(599)
    assert (await source.poll(None)).complaints == []
    clock.advance(2)
    polled = await source.poll(None)
    [complaint] = polled.complaints
    assert complaint.text == "a" * 67 + GAP_MARK + "c" * 10
    assert complaint.meta["incomplete"] is True
    assert complaint.meta["parts"]["present"] == [1, 3]
    await source.commit(polled)

    add_inbox_multipart(
        db, "081234567890", text, SENT, reference=7, parts=[2], inserted_at=clock.now
    )
    assert (await source.poll(None)).complaints == []
    clock.advance(601)
    [late] = (await source.poll(None)).complaints
    assert late.text == "b" * 67
    assert late.meta["incomplete"] is True and late.meta["parts"]["present"] == [2]
    assert late.external_id == "inbox:3"


async def test_wait_counts_from_when_smsd_inserted_the_parts(db: Path, clock: Clock) -> None:
    # SMSD inserted part 1 of 2 twenty minutes ago; the forwarder (re)starts now
    add_inbox_sms(
        db,
        "081234567890",
        "halo",
        SENT,
        udh="050003090201",
        inserted_at=clock.now - timedelta(minutes=20),
    )
    [complaint] = (await make_source(db, clock, multipart_timeout_secs=660).poll(None)).complaints
    assert complaint.meta["incomplete"] is True and complaint.text == "halo"


async def test_a_set_handed_over_is_handed_over_the_same_until_committed(
    db: Path, clock: Clock
) -> None:
    text = "a" * 67 + "b" * 67 + "c"
    add_inbox_multipart(db, "081234567890", text, SENT, reference=5, parts=[1, 2])
    source = make_source(db, clock, multipart_timeout_secs=60)
    clock.advance(61)
    first = await source.poll(None)
    assert [c.external_id for c in first.complaints] == ["inbox:1,2"]
    # part 3 arrives before the pipeline committed: the stored complaint keeps its id
    add_inbox_multipart(
        db, "081234567890", text, SENT, reference=5, parts=[3], inserted_at=clock.now
    )
    second = await source.poll(None)
    assert [c.external_id for c in second.complaints] == ["inbox:1,2"]
    await source.commit(second)
    clock.advance(61)
    [late] = (await source.poll(None)).complaints
    assert late.external_id == "inbox:3" and late.text == "c"


async def test_batch_limit_does_not_cut_a_set(db: Path, clock: Clock) -> None:
    add_inbox_sms(db, "081234567890", "satu", SENT)
    add_inbox_multipart(db, "081234567890", LONG, SENT, reference=3)
    add_inbox_sms(db, "081234567890", "tiga", SENT)
    source = make_source(db, clock, batch_size=2)
    polled = await source.poll(None)
    assert [c.external_id for c in polled.complaints] == ["inbox:1", "inbox:2,3"]
    assert polled.complaints[1].text == LONG
    await source.commit(polled)
    assert [c.text for c in (await source.poll(None)).complaints] == ["tiga"]


async def test_phone_id_filter_and_time_zone_option(db: Path, clock: Clock) -> None:
    add_inbox_sms(
        db, "081234567890", "modem satu", datetime(2026, 1, 15, 10, 30), recipient_id="modem1"
    )
    add_inbox_sms(
        db, "081234567890", "modem dua", datetime(2026, 1, 15, 10, 30), recipient_id="modem2"
    )
    source = make_source(db, clock, phone_id="modem2", timezone="UTC")
    [complaint] = (await source.poll(None)).complaints
    assert complaint.text == "modem dua"
    assert complaint.received_at == datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "raw",
    [
        "081234567890",
        "6281234567890",
        "+6281234567890",
        "+62 0812-3456-7890",
        "0812 3456 7890",
        "62-812-3456-7890",
    ],
)
async def test_every_sender_form_gives_one_reporter(db: Path, clock: Clock, raw: str) -> None:
    add_inbox_sms(db, raw, "halo", SENT)
    [complaint] = (await make_source(db, clock).poll(None)).complaints
    assert complaint.reporter == "+6281234567890"
    assert complaint.meta["sender"] == raw


@pytest.mark.parametrize(
    ("raw", "kind"), [("3636", "short_code"), ("TELKOMSEL", "alphanumeric"), ("", "unknown")]
)
async def test_short_codes_and_sender_names_are_kept_and_marked(
    db: Path, clock: Clock, raw: str, kind: str
) -> None:
    add_inbox_sms(db, raw, "Sisa kuota Anda 1GB", SENT)
    [complaint] = (await make_source(db, clock).poll(None)).complaints
    assert complaint.reporter == raw
    assert complaint.meta["sender_kind"] == kind
    assert complaint.text == "Sisa kuota Anda 1GB"


# -- damaged rows ----------------------------------------------------------------------------


async def test_empty_text_decoded_uses_the_text_hex(db: Path, clock: Clock) -> None:
    add_inbox_sms(db, "081234567890", "Banjir di Kanor", SENT, text_decoded="")
    add_inbox_sms(
        db, "081234567890", "Halo [€]", SENT, text_decoded="", coding="Default_No_Compression"
    )
    add_inbox_sms(db, "081234567890", "", SENT, text_hex="", text_decoded="")
    complaints = (await make_source(db, clock).poll(None)).complaints
    assert [c.text for c in complaints] == ["Banjir di Kanor", "Halo [€]", ""]
    assert [c.meta["text_from"] for c in complaints] == ["Text", "Text", "none"]


async def test_invalid_utf16_and_hex_are_replaced_not_fatal(db: Path, clock: Clock) -> None:
    add_inbox_sms(
        db, "081234567890", "", SENT, text_decoded="", text_hex="D83D0041"
    )  # lone surrogate
    add_inbox_sms(db, "081234567890", "", SENT, text_decoded="", text_hex="004")  # half a byte
    add_inbox_sms(db, "081234567890", "", SENT, text_decoded="", text_hex="not hex at all")
    complaints = (await make_source(db, clock).poll(None)).complaints
    assert [c.text for c in complaints] == ["\ufffdA", "\ufffd", ""]
    assert all(c.meta["text_damaged"] for c in complaints)


async def test_invalid_utf8_in_text_decoded_and_bad_timestamps(db: Path, clock: Clock) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.execute(
            "INSERT INTO inbox (ReceivingDateTime, Text, SenderNumber, UDH, TextDecoded, RecipientID) "
            "VALUES ('kemarin', '', '081234567890', '', CAST(x'4A616C616EFF' AS TEXT), 'test')"
        )
    conn.close()
    [complaint] = (await make_source(db, clock).poll(None)).complaints
    assert complaint.text == "Jalan\ufffd"
    assert complaint.meta["received_at_from"] == "UpdatedInDB"
    assert abs(complaint.received_at - clock.now) < timedelta(minutes=5)


async def test_eight_bit_row_is_kept_with_its_decoded_text(db: Path, clock: Clock) -> None:
    add_inbox_sms(db, "081234567890", "", SENT, coding="8bit", text_hex="0102FF", text_decoded="")
    [complaint] = (await make_source(db, clock).poll(None)).complaints
    assert complaint.text == "" and complaint.meta["coding"] == "8bit"


# -- the database under fault ------------------------------------------------------------------


async def test_locked_database_is_a_temporary_error_and_loses_nothing(
    db: Path, clock: Clock
) -> None:
    add_inbox_sms(db, "081234567890", "satu", SENT)
    source = make_source(db, clock, busy_timeout_secs=0.2)
    polled = await source.poll(None)
    locker = sqlite3.connect(db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(TemporaryError, match="locked"):
            await source.poll(None)
        with pytest.raises(TemporaryError, match="locked"):
            await source.commit(polled)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert processed(db) == {1: "false"}
    again = await source.poll(None)
    assert again.complaints == polled.complaints
    await source.commit(again)
    assert processed(db) == {1: "true"}


async def test_missing_database_is_temporary_and_not_created(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "later" / "smsd.db"
    source = make_source(path, clock)
    with pytest.raises(TemporaryError, match="does not exist"):
        await source.poll(None)
    assert not path.exists()
    create_smsd_schema(path)
    add_inbox_sms(path, "081234567890", "sudah ada", SENT)
    assert [c.text for c in (await source.poll(None)).complaints] == ["sudah ada"]


async def test_wrong_file_is_a_permanent_error_with_a_hint(tmp_path: Path, clock: Clock) -> None:
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    with pytest.raises(PermanentError) as caught:
        await make_source(empty, clock).poll(None)
    assert "sqlite.sql" in caught.value.hint
    text = tmp_path / "notes.txt"
    text.write_text("bukan database " * 100)
    with pytest.raises(PermanentError, match="not a usable SQLite database"):
        await make_source(text, clock).poll(None)


async def test_commit_of_nothing_does_not_touch_the_database(tmp_path: Path, clock: Clock) -> None:
    from forwarder.types import Polled

    source = make_source(tmp_path / "absent.db", clock)
    await source.commit(Polled(complaints=[], token=()))
    await source.close()


def test_config_rejects_unknown_keys_and_zones() -> None:
    base = {"type": "gammu_smsd", "database": "smsd.db"}
    config = Config.model_validate(base)
    assert (
        config.multipart_timeout_secs > 600
        and config.batch_size == 200
        and config.default_region == "ID"
    )
    for bad in [
        {"databse": "x"},
        {"timezone": "Asia/Bojonegoro"},
        {"poll_interval_secs": 0},
        {"batch_size": 0},
    ]:
        with pytest.raises(ValidationError):
            Config.model_validate({**base, **bad})
