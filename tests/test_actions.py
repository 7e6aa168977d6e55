"""Officer actions through the fake Bot API: who may act, re-routes and labels, not-ours, topics."""

from __future__ import annotations

import json
from pathlib import Path

from fakes.telegram_api import FakeTelegram
from test_loop_kit import JALAN, JALAN_DANDER, OFFICER, PUPUK, RAHASIA, TRIASE, Kit, tg_fixture  # noqa: F401

from forwarder.actions import HELP, REFUSED, Incoming, parse_command
from forwarder.sources.gammu_schema import add_inbox_sms

BOT = {"id": 999000111, "is_bot": True, "first_name": "Another bot"}
STRANGER = {"id": 5550009, "is_bot": False, "first_name": "Orang"}


def sms(kit: Kit, text: str, number: str = "081234567001") -> None:
    add_inbox_sms(kit.smsd_db, number, text, kit.clock(), timezone="UTC")


def test_parse_command() -> None:
    assert parse_command("/selesai@lapor_test_bot Jalan sudah ditambal", "lapor_test_bot") == \
        ("selesai", "Jalan sudah ditambal")
    assert parse_command("/Alihkan jalan Dander") == ("alihkan", "jalan Dander")
    assert parse_command("/terima@other_bot", "lapor_test_bot") is None
    assert parse_command("/start") == ("?", "start")
    assert parse_command("terima kasih") is None
    assert parse_command("/tanya\nbaris dua") == ("tanya", "baris dua")


async def test_only_members_and_listed_officers_can_act(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg, officers=(7770001,))
    sms(kit, "Jalan berlubang di depan pasar, hp saya 081234567001")
    await kit.once()
    row = kit.complaint()
    code, cid = row["tracking_code"], row["id"]
    first = kit.first_message(JALAN, code)
    before = kit.events(cid)

    tg.push_callback_query(JALAN, first.message_id, f"a:terima:{cid}", user=BOT)  # a bot, in the group
    tg.push_callback_query(JALAN, first.message_id, f"a:terima:{cid + 1}", user=OFFICER)  # not this message's
    tg.push_message(PUPUK, f"/terima {code}", user=STRANGER)  # another group, not a listed officer
    tg.push_reply(PUPUK, 1, "/proses", user=STRANGER)  # a reply to nothing of this complaint
    await kit.once()
    answers = tg.callback_answers()
    assert [a["text"] for a in answers] == [REFUSED, "Tombol tidak dikenal."]
    assert all(a["show_alert"] == "true" for a in answers)
    assert [m.visible for m in tg.messages(PUPUK)][-2:] == [REFUSED, HELP]
    assert kit.events(cid) == before and kit.complaint(code)["status"] == "baru"
    assert tg.edits() == []

    tg.push_message("7770001", f"/terima {code}", user={**STRANGER, "id": 7770001})  # listed: anywhere
    await kit.once()
    assert kit.complaint(code)["status"] == "diterima"
    (ack,) = kit.rows("select actor, data from events where kind = 'acknowledged'")
    assert ack["actor"] == "tg:7770001" and json.loads(ack["data"])["group"] is None
    kit.check_privacy("081234567001")


async def test_reroute_posts_to_the_right_groups_and_records_a_label(tmp_path: Path,
                                                                    tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    text = "Pupuk hilang? Bukan, jembatan dan jalan ke sawah di Dander putus"
    sms(kit, text.replace("jalan", "akses"))  # the keyword model reads "pupuk"
    await kit.once()
    row = kit.complaint()
    code, cid = row["tracking_code"], row["id"]
    assert row["topic"] == "pupuk"
    first = kit.first_message(PUPUK, code)

    tg.push_reply(PUPUK, first.message_id, "/alihkan cuaca", user=OFFICER)
    tg.push_reply(PUPUK, first.message_id, "/alihkan jalan Atlantis", user=OFFICER)
    await kit.once()
    assert "Topik 'cuaca' tidak dikenal" in tg.texts(PUPUK)[-2]
    assert "Kecamatan 'Atlantis' tidak dikenal" in tg.texts(PUPUK)[-1]
    assert kit.rows("select * from labels") == []

    tg.push_reply(PUPUK, first.message_id, "/alihkan jalan Dander", user=OFFICER)
    await kit.once()
    for chat in (JALAN, JALAN_DANDER):
        moved = kit.first_message(chat, code)
        assert "baru (dialihkan dari pertanian-pupuk)" in moved.visible
        assert moved.reply_markup["inline_keyboard"]
    edit = tg.edits(PUPUK)[-1]
    assert "dialihkan ke pu-jalan, pu-jalan-dander" in edit.visible
    (label,) = kit.rows("select * from labels")
    assert (label["complaint_id"], label["topic"], label["labelled_by"]) == (cid, "jalan", "tg:5550001")
    assert label["text"] == kit.complaint(code)["text"]  # the stored text, for training
    moves = [json.loads(r["data"]) for r in kit.rows("select data from events where kind = 'rerouted'")]
    assert {m["to_group"] for m in moves} == {"pu-jalan", "pu-jalan-dander"}
    assert {m["from_group"] for m in moves} == {"pertanian-pupuk"}
    assert kit.complaint(code)["topic"] == "jalan" and kit.complaint(code)["kecamatan"] == "Dander"
    # the group that gave it away can no longer act on it
    tg.push_callback_query(PUPUK, first.message_id, f"a:terima:{cid}", user=OFFICER)
    await kit.once()
    assert "sudah melepas" in tg.callback_answers()[-1]["text"]
    assert kit.complaint(code)["status"] == "dialihkan"


async def test_not_ours_goes_back_to_triage_and_topic_correction(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Pupuk bersubsidi dijual di atas HET di kios Kapas")
    await kit.once()
    row = kit.complaint()
    code, cid = row["tracking_code"], row["id"]
    first = kit.first_message(PUPUK, code)
    tg.push_reply(PUPUK, first.message_id, "/topik hama", user=OFFICER)
    tg.push_callback_query(PUPUK, first.message_id, f"a:bukan:{cid}", user=OFFICER)
    await kit.once()
    assert "Dikembalikan ke triase" in tg.callback_answers()[-1]["text"]
    assert kit.complaint(code)["status"] == "bukan_kewenangan"
    triage = kit.first_message(TRIASE, code)
    assert "bukan kewenangan pertanian-pupuk" in triage.visible
    last = tg.edits(PUPUK)[-1]
    assert "bukan kewenangan grup ini" in last.visible
    assert [r["topic"] for r in kit.rows("select topic from labels")] == ["hama"]
    assert "relabelled" in kit.events(cid) and "not_ours" in kit.events(cid)
    # triage sends it on; no group had it twice
    tg.push_reply(TRIASE, triage.message_id, "/alihkan jalan", user=OFFICER)
    await kit.once()
    assert kit.first_message(JALAN, code)
    assert len(tg.messages(PUPUK)) == 2  # the complaint and the answer to /topik (a button gets a popup)


async def test_confidential_complaint_stays_in_confidential_groups(tmp_path: Path,
                                                                  tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "RAHASIA pupuk subsidi ditimbun oknum di gudang desa, saya takut")
    await kit.once()
    row = kit.complaint()
    first = kit.first_message(RAHASIA, row["tracking_code"])
    assert tg.messages(PUPUK) == []
    tg.push_callback_query(RAHASIA, first.message_id, f"a:proses:{row['id']}", user=OFFICER)
    tg.push_reply(RAHASIA, first.message_id, "/alihkan jalan", user=OFFICER)  # no confidential jalan group
    await kit.once()
    assert kit.complaint(row["tracking_code"])["status"] in ("diproses", "dialihkan")
    # re-routing a confidential complaint only reaches confidential groups or triage
    assert tg.messages(JALAN) == [] and tg.messages(JALAN_DANDER) == []
    assert kit.first_message(TRIASE, row["tracking_code"])


async def test_an_update_handled_before_a_crash_is_not_applied_again(tmp_path: Path,
                                                                    tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Jalan licin dan berlubang")
    await kit.once()
    row = kit.complaint()
    first = kit.first_message(JALAN, row["tracking_code"])
    pipeline = kit.pipeline()
    try:
        inc = Incoming("tg", 424242, JALAN, 5550001, "Andi", False, text="/proses",
                       message_id="77", reply_to=str(first.message_id))
        assert pipeline.loop.actions.handle(inc).applied
        assert pipeline.loop.actions.handle(inc) is None  # redelivered: silent, no second event
    finally:
        pipeline.store.close()
    assert kit.events(row["id"]).count("in_progress") == 1


async def test_sink_buttons_and_replies_on_the_wire(tg: FakeTelegram) -> None:
    import pytest

    from forwarder.context import Context
    from forwarder.errors import MessageRejected
    from forwarder.sinks import telegram

    sink = telegram.Sink("tg", telegram.Config(type="telegram", token=tg.token, api_base_url=tg.base_url),
                         Context())
    await sink.start()
    try:
        first = await sink.send(JALAN, "<b>Pengaduan</b>", buttons=[[("Terima", "a:terima:1")]])
        reply = await sink.send(JALAN, "balasan", plain=True, reply_to=first)
        await sink.edit(JALAN, first, "<b>Pengaduan</b> diterima", buttons=[[("Proses", "a:proses:1")]])
        await sink.edit(JALAN, first, "<b>Pengaduan</b> diterima", buttons=[[("Proses", "a:proses:1")]])
        with pytest.raises(MessageRejected):
            await sink.send(JALAN, "x", buttons=[[("Terlalu", "a" * 65)]])
    finally:
        await sink.close()
    sent = tg.messages(JALAN)
    assert sent[0].reply_markup == {"inline_keyboard": [[{"text": "Terima", "callback_data": "a:terima:1"}]]}
    assert sent[1].reply_to_message_id == int(first) and sent[1].message_id == int(reply)
    edit = tg.calls("editMessageText")[0].params
    assert edit["reply_markup"] == {"inline_keyboard": [[{"text": "Proses", "callback_data": "a:proses:1"}]]}
    assert len(tg.edits(JALAN)) == 1  # the same edit again is "not modified", taken as done
