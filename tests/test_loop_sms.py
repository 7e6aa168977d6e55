"""The loop by SMS, through the Gammu-format inbox/outbox and the fake Bot API, one ``run --once``
at a time: intake acknowledgment, buttons, Terima, /selesai, "belum" reopens, "sudah" closes, CEK."""

from __future__ import annotations

from pathlib import Path

from fakes.telegram_api import FakeTelegram
from test_loop_kit import JALAN, OFFICER, Kit, tg_fixture  # noqa: F401

from forwarder.sources.gammu_schema import add_inbox_sms

REPORTER = "+6281234567001"
TEXT = ("Jalan desa Ngumpakdalem rusak parah, banyak lubang. Nama saya Budi Santoso, "
        "NIK 3522011203870004, hp 081234567001")


def sms(kit: Kit, text: str, number: str = "081234567001") -> None:
    add_inbox_sms(kit.smsd_db, number, text, kit.clock(), timezone="UTC")


async def test_sms_complaint_to_done_belum_and_sudah(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, TEXT)
    await kit.once()

    row = kit.complaint()
    code, cid = row["tracking_code"], row["id"]
    first = kit.first_message(JALAN, code)
    # the forwarded message carries the action buttons, and no personal data
    keys = [b["callback_data"] for r in first.reply_markup["inline_keyboard"] for b in r]
    assert keys == [f"a:terima:{cid}", f"a:proses:{cid}", f"a:selesai:{cid}", f"a:bukan:{cid}"]
    # the citizen got the acknowledgment with the tracking code, to the number they used
    (ack,) = kit.outbox_sms()
    assert ack["DestinationNumber"] == REPORTER and code in ack["TextDecoded"]
    assert ack["CreatorID"].startswith("forwarder-f")

    tg.push_callback_query(JALAN, first.message_id, f"a:terima:{cid}", user=OFFICER)
    await kit.once()
    assert kit.complaint(code)["status"] == "diterima"
    (answer,) = tg.callback_answers()
    assert "diterima" in answer["text"]
    assert "diterima oleh Andi" in tg.edits(JALAN)[-1].visible

    tg.push_reply(JALAN, first.message_id, "/selesai Lubang sudah ditambal aspal", user=OFFICER)
    await kit.once()
    assert kit.complaint(code)["status"] == "selesai"
    done_check = kit.outbox_sms()[-1]
    assert "Lubang sudah ditambal aspal" in done_check["TextDecoded"] and "BELUM" in done_check["TextDecoded"]
    assert "selesai oleh Andi" in tg.edits(JALAN)[-1].visible

    # the citizen says "belum": not a new complaint; reopened; the group hears it in the thread
    sms(kit, "Belum pak, lubangnya masih ada di depan balai desa")
    await kit.once()
    assert len(kit.rows("select id from complaints")) == 1
    assert kit.complaint(code)["status"] == "dibuka_kembali"
    thread = [m for m in tg.messages(JALAN) if m.reply_to_message_id == first.message_id]
    assert thread and "BELUM" in thread[-1].visible and "balai desa" in thread[-1].visible
    assert "dibuka kembali" in tg.edits(JALAN)[-1].visible
    assert "buka kembali" in kit.outbox_sms()[-1]["TextDecoded"]
    (inbound,) = kit.rows("select * from citizen_inbound")
    assert inbound["kind"] == "reopen" and inbound["complaint_id"] == cid

    tg.push_reply(JALAN, first.message_id, "/selesai Sudah diaspal ulang", user=OFFICER)
    await kit.once()
    sms(kit, "sudah, terima kasih")
    await kit.once()
    assert kit.complaint(code)["status"] == "tuntas"
    final = tg.edits(JALAN)[-1]
    assert "tuntas" in final.visible
    assert len(kit.rows("select id from complaints")) == 1
    assert kit.events(cid).count("done") == 2
    assert {"acknowledged", "reopened", "confirmed_solved"} <= set(kit.events(cid))
    kit.check_privacy("Budi Santoso", "3522011203870004")
    # every citizen message went to the reporter's number, and only once
    texts = [r["TextDecoded"] for r in kit.outbox_sms()]
    assert len(texts) == len(set(texts)) == 5  # ack, done check, reopened, done check, closed
    assert {r["DestinationNumber"] for r in kit.outbox_sms()} == {REPORTER}


async def test_cek_returns_the_status_and_is_no_complaint(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Pupuk urea langka di kios desa Sukorejo")
    await kit.once()
    code = kit.complaint()["tracking_code"]
    sms(kit, f"cek {code.lower()}", number="+6285700000003")  # anyone holding the code may ask
    sms(kit, "CEK 9ZZZZ9", number="+6285700000003")
    sms(kit, "Cek sawahe kebanjiran, jalan desa putus", number="+6285700000004")  # a complaint
    sms(kit, "CEK", number="+6285700000003")  # no code: told how to ask, no complaint in triage
    await kit.once()
    complaints = kit.rows("select text from complaints order by id")
    assert [c["text"][:14] for c in complaints] == ["Pupuk urea lan", "Cek sawahe keb"]
    kinds = [r["kind"] for r in kit.rows("select kind from citizen_inbound order by id")]
    assert kinds == ["status_query", "unknown_code", "cek_usage"]
    to_asker = [r["TextDecoded"] for r in kit.outbox_sms() if r["DestinationNumber"] == "+6285700000003"]
    assert to_asker[0] == f"Status pengaduan {code}: diterima, menunggu petugas."
    assert "9ZZZZ9" in to_asker[1] and "tidak ditemukan" in to_asker[1]
    assert to_asker[2].startswith("Untuk melihat status pengaduan, kirim CEK")
    # the status answer names no group and no officer
    assert "pertanian" not in to_asker[0]
    # handed over again (a crash before Gammu's rows were marked processed): nothing twice
    conn = __import__("sqlite3").connect(kit.smsd_db)
    with conn:
        conn.execute("update inbox set Processed = 'false'")
    conn.close()
    await kit.once()
    assert len(kit.rows("select id from citizen_inbound")) == 3
    assert len(kit.rows("select id from complaints")) == 2
    assert len(kit.outbox_sms()) == 5  # two acknowledgments, three answers


async def test_question_and_the_citizens_answer_come_back_to_the_thread(tmp_path: Path,
                                                                       tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Jalan rusak di dekat sekolah, motor sering jatuh")
    await kit.once()
    code = kit.complaint()["tracking_code"]
    first = kit.first_message(JALAN, code)
    tg.push_reply(JALAN, first.message_id, "/tanya Di desa mana tepatnya, dan dekat sekolah apa?", user=OFFICER)
    await kit.once()
    question = kit.outbox_sms()[-1]["TextDecoded"]
    assert question.startswith(f"Pertanyaan petugas ttg pengaduan {code}: Di desa mana")
    assert "Andi" not in question  # the officer stays anonymous to the citizen
    assert "lewat SMS" in tg.texts(JALAN)[-1]  # the officer is told it went out

    sms(kit, "Desa Sukorejo, depan SDN 2. Hubungi saya di 081234567001")
    await kit.once()
    assert len(kit.rows("select id from complaints")) == 1
    reply = tg.messages(JALAN)[-1]
    assert reply.reply_to_message_id == first.message_id
    assert "balasan pelapor" in reply.visible and "SDN 2" in reply.visible
    assert "citizen_reply" in kit.events(kit.complaint()["id"])
    kit.check_privacy("081234567001")
    # a later text with no open question is a new complaint again
    sms(kit, "Lampu jalan mati di desa Sukorejo")
    await kit.once()
    assert len(kit.rows("select id from complaints")) == 2
