"""Short "sudah"/"belum" texts outside a waiting done check, and CEK as citizens type it, by SMS
through the Gammu-format inbox, one ``run --once`` at a time (found by a tester): a repeated
"sudah", a changed mind after closing, a verdict on a complaint the officers reopened, "Cek kode
<code>" and "CEK🙏". None of them may become a new complaint; a new problem still does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fakes.telegram_api import FakeTelegram
from test_loop_kit import JALAN, OFFICER, TRIASE, Kit, tg_fixture  # noqa: F401

from forwarder.citizen_inbound import verdict_only
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


def test_verdict_only_texts() -> None:
    assert verdict_only("Sudah") == "confirm"
    assert verdict_only("sudah pak terima kasih 🙏") == "confirm"
    assert verdict_only("masih belum bu!!") == "reopen"
    assert verdict_only("belum pak, jalan di depan pasar juga rusak") is None  # names something
    assert verdict_only("Belum ada pupuk urea") is None
    assert verdict_only("belum 3 hari") is None  # digits: a text of its own
    assert verdict_only("terima kasih pak") is None  # no verdict
    assert verdict_only("sudah " + "pak " * 8) is None  # too long


async def test_sudah_again_after_closing_is_answered_not_a_new_complaint(tmp_path: Path,
                                                                          tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    code, first = await done_complaint(kit)
    sms(kit, "Sudah")
    await kit.once()
    assert kit.complaint(code)["status"] == "tuntas"
    posts, sent = len(tg.messages()), len(to_reporter(kit))

    sms(kit, "Sudah")
    sms(kit, "sudah pak, terima kasih 🙏")
    await kit.once()
    assert len(kit.rows("select id from complaints")) == 1  # no new code, nothing in triage
    assert kinds(kit) == ["confirm", "closed", "closed"]
    assert len(tg.messages()) == posts and not tg.messages(TRIASE)
    assert kit.complaint(code)["status"] == "tuntas"
    # the status, once a day however often it is said
    assert to_reporter(kit)[sent:] == [f"Status pengaduan {code}: selesai."]


async def test_belum_after_closing_reopens(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    code, first = await done_complaint(kit)
    sms(kit, "Sudah")
    await kit.once()
    assert kit.complaint(code)["status"] == "tuntas"

    sms(kit, "belum")  # the citizen changed their mind
    await kit.once()
    assert len(kit.rows("select id from complaints")) == 1
    assert kit.complaint(code)["status"] == "dibuka_kembali"
    assert "BELUM" in thread(kit, first)[-1] and "Batas baru" in thread(kit, first)[-1]
    assert "dibuka kembali" in tg.edits(JALAN)[-1].visible
    assert "buka kembali" in to_reporter(kit)[-1]
    assert kinds(kit) == ["confirm", "reopen"]

    # the same with the code quoted
    tg.push_reply(JALAN, first.message_id, "/selesai Sudah diaspal ulang", user=OFFICER)
    await kit.once()
    sms(kit, "sudah, terima kasih")
    await kit.once()
    assert kit.complaint(code)["status"] == "tuntas"
    sms(kit, f"{code} masih belum pak")
    await kit.once()
    assert kit.complaint(code)["status"] == "dibuka_kembali"
    assert len(kit.rows("select id from complaints")) == 1
    assert kinds(kit) == ["confirm", "reopen", "confirm", "reopen"]


async def test_verdict_on_a_complaint_the_officers_reopened_is_a_reply(tmp_path: Path,
                                                                       tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    code, first = await done_complaint(kit)
    tg.push_reply(JALAN, first.message_id, "/proses", user=OFFICER)  # reopened; the citizen not told
    await kit.once()
    assert kit.complaint(code)["status"] == "diproses"
    sent = len(to_reporter(kit))

    sms(kit, "sudah pak terima kasih")
    await kit.once()
    sms(kit, "Belum")
    await kit.once()
    assert len(kit.rows("select id from complaints")) == 1 and not tg.messages(TRIASE)
    assert kinds(kit) == ["reply", "reply"]
    assert kit.complaint(code)["status"] == "diproses"  # the officers decide
    posts = thread(kit, first)
    assert "balasan pelapor" in posts[-2] and "sudah pak terima kasih" in posts[-2]
    assert "balasan pelapor" in posts[-1] and "Belum" in posts[-1]
    # the citizen learns it is open again, once a day
    assert to_reporter(kit)[sent:] == [f"Status pengaduan {code}: sedang diproses petugas."]


async def test_a_new_problem_is_still_a_new_complaint(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg, citizen={"reply_window_days": 14})
    code, first = await done_complaint(kit)
    sms(kit, "Sudah")
    await kit.once()
    # starts with a verdict word but names something: new, whatever its topic
    sms(kit, "Belum ada pupuk urea di kios desa Sukorejo")
    sms(kit, "belum pak, jalan di depan pasar juga rusak")
    await kit.once()
    texts = [r["text"] for r in kit.rows("select text from complaints order by id")]
    assert texts[1:] == ["Belum ada pupuk urea di kios desa Sukorejo",
                         "belum pak, jalan di depan pasar juga rusak"]
    assert kit.complaint(code)["status"] == "tuntas"
    # nothing of the sender's active within the reply window: a bare "belum" is new too
    kit.clock.advance(days=15)
    sms(kit, "belum")
    await kit.once()
    assert kit.complaint()["text"] == "belum"
    assert kit.complaint(code)["status"] == "tuntas"
    assert kinds(kit) == ["confirm"]


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
