"""The gammu_smsd source and queue_sms against the real gammu-smsd (dummy phone, SQLite backend)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.gammu import GammuSmsd, gammu_smsd_fixture, requires_gammu  # noqa: F401  (fixture gammu_smsd)

from forwarder.context import Context
from forwarder.errors import TemporaryError
from forwarder.sms import queue_sms, split_sms
from forwarder.sources.gammu_smsd import Config, Source

pytestmark = [requires_gammu, pytest.mark.gammu]

SENT = datetime(2026, 1, 15, 3, 30, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def source_for(smsd: GammuSmsd, clock: Clock | None = None, **options: object) -> Source:
    config = Config.model_validate(
        {
            "type": "gammu_smsd",
            "database": str(smsd.db_path),
            "timezone": "UTC",
            "phone_id": smsd.phone_id,
            **options,
        }
    )
    return Source("sms", config, Context(clock=clock or Clock(), timezone="Asia/Jakarta"))


async def test_single_and_three_part_sms_with_emoji_across_parts(gammu_smsd: GammuSmsd) -> None:
    long_text = (
        "Pupuk urea langka di Kedungadem, " + "x" * 33 + "😡" + " sudah seminggu " + "y" * 70
    )
    gammu_smsd.deliver("+6281234567890", "Jalan berlubang di Jl. Veteran 😡", SENT)
    delivery = gammu_smsd.deliver("0857-0000-0001", long_text, SENT)
    assert delivery.total == 3
    # the emoji's surrogate pair is cut between part 1 and part 2
    assert delivery.parts[0][-2:] == "😡".encode("utf-16-be")[:2]
    rows = gammu_smsd.wait_inbox(4)
    assert [r["UDH"] for r in rows[1:]] == [
        f"050003{delivery.reference:02X}03{i:02X}" for i in (1, 2, 3)
    ]

    source = source_for(gammu_smsd)
    first = await source.poll(None)
    single, joined = first.complaints
    assert (single.text, single.reporter, single.external_id) == (
        "Jalan berlubang di Jl. Veteran 😡",
        "+6281234567890",
        "inbox:1",
    )
    assert single.received_at == SENT
    assert (joined.text, joined.reporter, joined.external_id) == (
        long_text,
        "+6285700000001",
        "inbox:2,3,4",
    )
    assert joined.meta["parts"]["present"] == [1, 2, 3] and joined.meta["incomplete"] is False

    # not committed: the same complaints again, and SMSD's rows are still unprocessed
    assert (await source.poll(None)).complaints == first.complaints
    assert {r["Processed"] for r in gammu_smsd.inbox()} == {"false"}
    await source.commit(first)
    assert {r["Processed"] for r in gammu_smsd.inbox()} == {"true"}
    assert (await source.poll(None)).complaints == []


async def test_sixteen_bit_reference_out_of_order_and_default_coding(gammu_smsd: GammuSmsd) -> None:
    text = "Serangan wereng di sawah Desa Ngraho, mohon penyuluh datang. " * 3
    delivery = gammu_smsd.deliver(
        "6281234567890", text, SENT, ref_bits=16, reference=0xBEEF, parts=[3, 1, 2]
    )
    gammu_smsd.deliver("081234567890", "Halo {Dinas} [PU] €", SENT, coding="Default_No_Compression")
    rows = gammu_smsd.wait_inbox(delivery.total + 1)
    assert {r["UDH"][:10] for r in rows if r["UDH"]} == {"060804BEEF"}
    complaints = (await source_for(gammu_smsd).poll(None)).complaints
    by_text = {c.text: c for c in complaints}
    assert set(by_text) == {text, "Halo {Dinas} [PU] €"}
    assert by_text[text].meta["parts"]["reference_bits"] == 16
    assert {c.reporter for c in complaints} == {"+6281234567890"}


async def test_incomplete_set_after_timeout_then_late_part(tmp_path: Path) -> None:
    text = "a" * 67 + "b" * 67 + "c" * 5
    clock = Clock()
    with GammuSmsd(tmp_path, multipart_timeout=1) as smsd:
        delivery = smsd.deliver("081234567890", text, SENT, parts=[1, 3])
        smsd.wait_inbox(2)  # SMSD gave up waiting for part 2 and inserted what it had
        assert "Incomplete multipart message" in smsd.log()
        source = source_for(smsd, clock, multipart_timeout_secs=30)
        assert (await source.poll(None)).complaints == []
        clock.now += timedelta(seconds=31)
        polled = await source.poll(None)
        [partial] = polled.complaints
        assert partial.meta["incomplete"] is True and partial.meta["parts"]["present"] == [1, 3]
        assert partial.text.startswith("a" * 67) and partial.text.endswith("c" * 5)
        await source.commit(polled)

        smsd.deliver("081234567890", text, SENT, reference=delivery.reference, parts=[2])
        smsd.wait_inbox(3)
        clock.now = datetime.now(UTC)
        assert (await source.poll(None)).complaints == []
        clock.now += timedelta(seconds=31)
        [late] = (await source.poll(None)).complaints
        assert late.text == "b" * 67 and late.external_id == "inbox:3"


async def test_every_sender_form_reaches_one_reporter(gammu_smsd: GammuSmsd) -> None:
    forms = [
        "081234567890",
        "6281234567890",
        "+6281234567890",
        "+62 0812-3456-7890",
        "0812 3456 7890",
    ]
    for i, form in enumerate(forms):
        gammu_smsd.deliver(form, f"laporan {i}", SENT)
    gammu_smsd.deliver("3636", "Paket internet Anda aktif", SENT)
    gammu_smsd.deliver("TELKOMSEL", "Sisa pulsa Rp5.000", SENT)
    rows = gammu_smsd.wait_inbox(len(forms) + 2)
    assert [r["SenderNumber"] for r in rows[: len(forms)]] == forms  # SMSD keeps the raw form
    complaints = (await source_for(gammu_smsd).poll(None)).complaints
    assert {c.reporter for c in complaints[: len(forms)]} == {"+6281234567890"}
    assert [(c.reporter, c.meta["sender_kind"]) for c in complaints[len(forms) :]] == [
        ("3636", "short_code"),
        ("TELKOMSEL", "alphanumeric"),
    ]


async def test_database_locked_while_smsd_runs(gammu_smsd: GammuSmsd) -> None:
    source = source_for(gammu_smsd, busy_timeout_secs=0.2)
    locker = sqlite3.connect(gammu_smsd.db_path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        gammu_smsd.deliver("081234567890", "Banjir di Kanor", SENT)
        with pytest.raises(TemporaryError, match="locked"):
            await source.poll(None)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    gammu_smsd.wait_inbox(1)  # SMSD retried its insert after the lock went away
    [complaint] = (await source.poll(None)).complaints
    assert complaint.text == "Banjir di Kanor"


@pytest.mark.parametrize(
    "text",
    [
        "Laporan #17 diterima. Terima kasih.",
        "Laporan Anda {jalan rusak} [Baureno] sudah diteruskan ke Dinas PU €. " * 4,
        "Laporan 😡 Anda sudah diteruskan ke Dinas Pertanian, mohon ditunggu. " * 3,
    ],
)
def test_queue_sms_is_sent_by_the_daemon_in_parts(gammu_smsd: GammuSmsd, text: str) -> None:
    parts = split_sms(text)
    outbox_id = queue_sms(gammu_smsd.db_path, "+6281234567890", text, phone_id=gammu_smsd.phone_id)
    sent = gammu_smsd.wait_sent(len(parts))
    assert [(r["ID"], r["SequencePosition"]) for r in sent] == [
        (outbox_id, i) for i in range(1, len(parts) + 1)
    ]
    assert {r["Status"] for r in sent} == {"SendingOKNoReport"}
    assert "".join(r["TextDecoded"] for r in sent) == text
    if len(parts) > 1:
        assert [r["UDH"][-4:] for r in sent] == [
            f"{len(parts):02X}{i:02X}" for i in range(1, len(parts) + 1)
        ]
    gammu_smsd.wait_outbox_empty()  # SMSD deletes the outbox row after the last sentitems part
