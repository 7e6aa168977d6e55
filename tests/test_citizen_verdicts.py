"""Short "sudah"/"belum" texts outside a waiting done check, and CEK as citizens type it, by SMS
through the Gammu-format inbox, one ``run --once`` at a time (found by a tester): a repeated
"sudah", a changed mind after closing, a verdict on a complaint the officers reopened, "Cek kode
<code>" and "CEK🙏". None of them may become a new complaint; a new problem still does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fakes.telegram_api import FakeTelegram
from test_loop_kit import JALAN, OFFICER, TRIASE, Kit, tg_fixture  # noqa: F401

from forwarder.sources.gammu_schema import add_inbox_sms

REPORTER = "+6281234567001"


def sms(kit: Kit, text: str, number: str = "081234567001") -> None:
    add_inbox_sms(kit.smsd_db, number, text, kit.clock(), timezone="UTC")


def to_reporter(kit: Kit, number: str = REPORTER) -> list[str]:
    return [r["TextDecoded"] for r in kit.outbox_sms() if r["DestinationNumber"] == number]


def kinds(kit: Kit) -> list[str]:
    return [r["kind"] for r in kit.rows("select kind from citizen_inbound order by id")]


def thread(kit: Kit, first: Any) -> list[str]:
    return [m.visible for m in kit.tg.messages(JALAN) if m.reply_to_message_id == first.message_id]


async def done_complaint(kit: Kit) -> tuple[str, Any]:
    """A road complaint the officer marked done (the done check went out): its code and post."""
    sms(kit, "Jalan desa Ngumpakdalem rusak parah, banyak lubang")
    await kit.once()
    code = kit.complaint()["tracking_code"]
    first = kit.first_message(JALAN, code)
    kit.tg.push_reply(JALAN, first.message_id, "/selesai Lubang sudah ditambal", user=OFFICER)
    await kit.once()
    assert kit.complaint(code)["status"] == "selesai"
    return code, first


async def test_cek_with_kode_or_emoji_is_a_status_question(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Pupuk urea langka di kios desa Sukorejo")
    await kit.once()
    code = kit.complaint()["tracking_code"]
    asker = "+6285700000003"
    for text in (f"Cek kode {code}", f"cek no. {code.lower()}", f"CEK NOMOR: {code} 🙏",
                 "CEK🙏", "🙏 cek kode?"):
        sms(kit, text, number=asker)
    await kit.once()
    assert len(kit.rows("select id from complaints")) == 1 and not tg.messages(TRIASE)
    assert kinds(kit) == ["status_query"] * 3 + ["cek_usage"] * 2
    answers = to_reporter(kit, asker)
    assert answers[:3] == [f"Status pengaduan {code}: diterima, menunggu petugas."] * 3
    assert all(a.startswith("Untuk melihat status pengaduan, kirim CEK") for a in answers[3:])
