"""Officers mark spam and duplicates (left out of the report; an admin's unmark of a duplicate is
told, once, in the original's thread), see the topic they set instead of the model's confidence,
and are asked for the done note with a selective ForceReply; all through the fake Bot API and the
Gammu-format inbox/outbox, one ``run --once`` at a time."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path

import telegram
from click.testing import CliRunner
from fakes.telegram_api import FakeTelegram
from test_loop_kit import JALAN, JALAN_DANDER, OFFICER, PUPUK, TRIASE, Kit, tg_fixture  # noqa: F401

from forwarder import casework
from forwarder.cli import main
from forwarder.report import Deadlines, build_report
from forwarder.sources.gammu_schema import add_inbox_sms
from forwarder.store import Destination, Store
from forwarder.workdays import WorkCalendar

STRANGER = {"id": 5550009, "is_bot": False, "first_name": "Orang"}


def sms(kit: Kit, text: str, number: str = "081234567001") -> None:
    add_inbox_sms(kit.smsd_db, number, text, kit.clock(), timezone="UTC")


def report_rows(kit: Kit):
    store = Store.open(kit.settings.database, clock=kit.clock)
    try:
        rep = build_report(store, by="group", since=kit.clock() - timedelta(days=30),
                           until=kit.clock() + timedelta(seconds=1), now=kit.clock(),
                           calendar=WorkCalendar.from_settings(kit.settings), deadlines=Deadlines(3, 5))
    finally:
        store.close()
    return {r.key: r for r in [*rep.rows, rep.total]}, rep.excluded


async def test_spam_and_duplicates_are_closed_and_left_out_of_the_report(tmp_path: Path,
                                                                        tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Jalan rusak parah di depan pasar Kapas, banyak lubang")
    await kit.once()
    original = kit.complaint()
    kit.clock.advance(minutes=10)
    sms(kit, "Jalan depan pasar Kapas berlubang lagi", number="085700000002")
    sms(kit, "jalan jalan yuk promo pulsa murah klik tautan", number="085700000003")
    await kit.once()
    dup, spam = (kit.complaint(r["tracking_code"]) for r in kit.rows("select tracking_code from complaints "
                                                                      "where id > ? order by id", original["id"]))
    code, dup_code, spam_code = original["tracking_code"], dup["tracking_code"], spam["tracking_code"]
    dup_msg, spam_msg = kit.first_message(JALAN, dup_code), kit.first_message(JALAN, spam_code)

    tg.push_reply(JALAN, spam_msg.message_id, "/spam", user=STRANGER | {"id": 5550010})  # in the group: allowed
    tg.push_reply(JALAN, dup_msg.message_id, f"/duplikat {dup_code}", user=OFFICER)  # itself: refused
    tg.push_reply(JALAN, dup_msg.message_id, "/duplikat ZZZZZZ", user=OFFICER)  # unknown code
    tg.push_message(PUPUK, f"/spam {code}", user=STRANGER)  # not a group of the complaint: refused
    await kit.once()
    replies = tg.visible_texts(JALAN)[-3:]
    assert replies[0] == f"Pengaduan {spam_code} ditandai spam; tidak dihitung dalam laporan."
    assert "dirinya sendiri" in replies[1] and "ZZZZZZ tidak ditemukan" in replies[2]
    assert "Maaf" in tg.visible_texts(PUPUK)[-1]
    assert kit.complaint(code)["status"] == "baru"
    assert kit.complaint(spam_code)["status"] == "spam"
    edit = tg.edits(JALAN)[-1]
    assert edit.message_id == spam_msg.message_id and "ditandai spam oleh Orang" in edit.visible
    edited = tg.calls("editMessageText")[-1].params
    assert not edited.get("reply_markup")  # closed: the buttons are gone

    tg.push_reply(JALAN, dup_msg.message_id, f"/duplikat {code.lower()}", user=OFFICER)
    await kit.once()
    assert kit.complaint(dup_code)["status"] == "duplikat"
    assert f"Pengaduan {dup_code} ditandai duplikat dari {code}. Pelapor diberi tahu." in tg.visible_texts(JALAN)
    assert any(e.message_id == dup_msg.message_id and f"duplikat dari {code}" in e.visible for e in tg.edits(JALAN))
    # the original's thread hears of it; the duplicate's reporter is told the code it joined
    first = kit.first_message(JALAN, code)
    note = [m for m in tg.messages(JALAN) if m.reply_to_message_id == first.message_id]
    assert note and f"pengaduan {dup_code} ditandai duplikat" in note[-1].visible
    merged = [r for r in kit.outbox_sms() if r["DestinationNumber"] == "+6285700000002"][-1]["TextDecoded"]
    assert code in merged and f"CEK {code}" in merged
    assert not [r for r in kit.outbox_sms() if r["DestinationNumber"] == "+6285700000003" and "spam" in
                r["TextDecoded"].lower()]  # a spammer hears nothing of it
    (event,) = kit.rows("select data from events where kind = 'duplicate'")
    assert json.loads(event["data"]) == {"of": code, "of_id": original["id"], "group": "pu-jalan", "name": "Andi",
                                         "status_before": "baru"}

    # closed: no more actions; a duplicate of the duplicate leads to the original
    tg.push_callback_query(JALAN, spam_msg.message_id, f"a:terima:{spam['id']}", user=OFFICER)
    sms(kit, "Jalan pasar Kapas rusak, tolong", number="085700000004")
    await kit.once()
    assert "spam" in tg.callback_answers()[-1]["text"] and kit.complaint(spam_code)["status"] == "spam"
    third = kit.complaint()
    tg.push_reply(JALAN, kit.first_message(JALAN, third["tracking_code"]).message_id, f"/duplikat {dup_code}",
                  user=OFFICER)
    sms(kit, f"cek {dup_code}", number="085700000002")
    await kit.once()
    assert f"duplikat dari {code}" in tg.visible_texts(JALAN)[-2] + tg.visible_texts(JALAN)[-1]
    status = [r for r in kit.outbox_sms() if r["DestinationNumber"] == "+6285700000002"][-1]["TextDecoded"]
    assert status == f"Status pengaduan {dup_code}: digabung dengan pengaduan {code}."

    # the original is worked on; the report, on this database, counts it alone
    tg.push_callback_query(JALAN, first.message_id, f"a:terima:{original['id']}", user=OFFICER)
    await kit.once()
    rows, excluded = report_rows(kit)
    assert excluded == {"spam": 1, "duplicate": 2}
    assert (rows["pu-jalan"].assigned, rows["pu-jalan"].acknowledged) == (1, 1)
    assert rows["total"].assigned == 1
    kit.check_privacy("081234567001", "085700000002")

    # the spam mark was a mistake: an admin undoes it; buttons come back, the report counts it
    config = tmp_path / "forwarder.yaml"
    config.write_text(json.dumps(kit.data), encoding="utf-8")  # JSON is YAML
    runner = CliRunner()
    undone = runner.invoke(main, ["unmark", spam_code, "--reason", "bukan spam", "--admin", "Sari",
                                  "--config", str(config)])
    assert undone.exit_code == 0 and f"{spam_code} is baru again" in undone.output, undone.output
    again = runner.invoke(main, ["unmark", spam_code, "--reason", "x", "--admin", "Sari", "--config", str(config)])
    assert again.exit_code != 0 and "tidak ditandai spam atau duplikat" in again.output
    await kit.once()
    edit = tg.edits(JALAN)[-1]
    assert edit.message_id == spam_msg.message_id and "Status: baru" in edit.visible
    assert tg.calls("editMessageText")[-1].params.get("reply_markup")  # the buttons are back
    tg.push_callback_query(JALAN, spam_msg.message_id, f"a:terima:{spam['id']}", user=OFFICER)
    await kit.once()
    assert kit.complaint(spam_code)["status"] == "diterima"
    rows, excluded = report_rows(kit)
    assert excluded == {"duplicate": 2} and rows["total"].assigned == 2
    # marked again after it was accepted, and undone again: back to "diterima", not "baru"
    tg.push_reply(JALAN, spam_msg.message_id, "/spam", user=OFFICER)
    await kit.once()
    assert kit.complaint(spam_code)["status"] == "spam"
    second = runner.invoke(main, ["unmark", spam_code.lower(), "--reason", "salah lagi", "--admin", "Sari",
                                  "--config", str(config)])
    assert second.exit_code == 0 and f"{spam_code} is diterima again" in second.output, second.output
    assert "citizen is told" not in second.output  # a spammer hears nothing
    # the duplicate was not one after all: its citizen, told it was merged, hears it is separate
    split = runner.invoke(main, ["unmark", dup_code, "--reason", "lokasi beda", "--admin", "Sari",
                                 "--config", str(config)])
    assert split.exit_code == 0 and "the citizen is told" in split.output, split.output
    await kit.once()
    told = [r for r in kit.outbox_sms() if r["DestinationNumber"] == "+6285700000002"][-1]["TextDecoded"]
    assert told.startswith(f"Pengaduan {dup_code} ternyata bukan duplikat") and f"CEK {dup_code}" in told


async def test_the_topic_set_by_an_officer_replaces_the_models_confidence(tmp_path: Path,
                                                                         tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Pupuk? bukan, akses ke sawah putus karena jembatan ambrol")  # the model reads "pupuk"
    sms(kit, "Pupuk organik dari dinas belum dibagi ke kelompok tani", number="085700000002")
    await kit.once()
    moved, relabelled = (dict(r) for r in kit.rows("select * from complaints order by id"))
    assert "Keyakinan: 90%" in kit.first_message(PUPUK, moved["tracking_code"]).visible

    tg.push_reply(PUPUK, kit.first_message(PUPUK, moved["tracking_code"]).message_id, "/alihkan jalan",
                  user=OFFICER)
    tg.push_reply(PUPUK, kit.first_message(PUPUK, relabelled["tracking_code"]).message_id, "/topik hama",
                  user=OFFICER)
    await kit.once()
    arrived = kit.first_message(JALAN, moved["tracking_code"])
    assert "Topik: jalan (dialihkan oleh petugas)" in arrived.visible
    assert "Keyakinan" not in arrived.visible
    old = [e.visible for e in tg.edits(PUPUK)]
    assert any("Topik: jalan (dialihkan oleh petugas)" in v and "dialihkan ke pu-jalan" in v for v in old)
    assert any("Topik: hama (dikoreksi oleh petugas)" in v and "Keyakinan" not in v for v in old)
    # triage sees the officer's topic in place of the model's guess
    tg.push_callback_query(PUPUK, kit.first_message(PUPUK, relabelled["tracking_code"]).message_id,
                           f"a:bukan:{relabelled['id']}", user=OFFICER)
    await kit.once()
    triage = kit.first_message(TRIASE, relabelled["tracking_code"]).visible
    assert "Topik petugas: hama (dikoreksi oleh petugas)" in triage and "Perkiraan model" not in triage


async def test_done_button_asks_for_the_note_with_a_selective_force_reply(tmp_path: Path,
                                                                         tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Jalan rusak di depan SD, hp saya 081234567001")
    await kit.once()
    row = kit.complaint()
    code, cid = row["tracking_code"], row["id"]
    first = kit.first_message(JALAN, code)
    tg.push_callback_query(JALAN, first.message_id, f"a:selesai:{cid}", user=OFFICER)
    tg.push_reply(JALAN, first.message_id, "/selesai", user={**OFFICER, "id": 5550002, "username": "budi_pu"})
    await kit.once()
    button_prompt, command_prompt = [m for m in tg.messages(JALAN) if "catatan penyelesaian" in m.visible
                                     and m.reply_markup]
    for prompt in (button_prompt, command_prompt):
        assert prompt.reply_markup == {"force_reply": True, "selective": True,
                                       "input_field_placeholder": "Catatan penyelesaian"}
        assert prompt.parse_mode == "HTML"
    # the button's prompt answers the complaint message and mentions the officer who pressed it
    assert button_prompt.reply_to_message_id == first.message_id
    assert button_prompt.visible.startswith("Andi, balas pesan ini")
    assert {"type": "text_link", "offset": 0, "length": 4, "url": "tg://user?id=5550001"} in button_prompt.entities
    # the command's prompt answers the officer's own command (selective target 2) and @mentions them
    assert command_prompt.visible.startswith("@budi_pu, balas")
    command = next(m for m in tg.state.messages.values() if m.get("text") == "/selesai")
    assert command_prompt.reply_to_message_id == command["message_id"]
    # each prompt was sent once: the answers (without the ForceReply, as Telegram gives them) were read
    assert len(kit.rows("select id from followups where kind = 'done_prompt' and state = 'sent'")) == 2

    tg.push_reply(JALAN, button_prompt.message_id, "Lubang sudah ditambal aspal", user=OFFICER)
    await kit.once()
    assert kit.complaint(code)["status"] == "selesai"
    assert "Lubang sudah ditambal aspal" in kit.outbox_sms()[-1]["TextDecoded"]
    kit.check_privacy("081234567001")


async def test_the_fake_answers_a_force_reply_like_telegram(tg: FakeTelegram) -> None:
    bot = telegram.Bot(tg.token, base_url=tg.bot_base_url)
    async with bot:
        sent = await bot.send_message(JALAN, "tulis catatan", reply_markup=telegram.ForceReply(selective=True))
        keyboard = telegram.InlineKeyboardMarkup([[telegram.InlineKeyboardButton("Terima", callback_data="a")]])
        with_buttons = await bot.send_message(JALAN, "pengaduan", reply_markup=keyboard)
        try:
            await bot.edit_message_text("x", chat_id=JALAN, message_id=sent.message_id,
                                        reply_markup=telegram.ForceReply())  # type: ignore[arg-type]
        except telegram.error.BadRequest as exc:
            refused = str(exc)
        else:
            refused = ""
    assert sent.reply_markup is None and with_buttons.reply_markup == keyboard
    assert tg.messages(JALAN)[0].reply_markup == {"force_reply": True, "selective": True}
    assert "nline keyboard expected" in refused


async def test_the_prompt_goes_as_plain_text_when_the_html_is_refused(tg: FakeTelegram) -> None:
    from forwarder.context import Context
    from forwarder.sinks import telegram as telegram_sink
    from forwarder.sinks.telegram_updates import send_prompt

    sink = telegram_sink.Sink("tg", telegram_sink.Config(type="telegram", token=tg.token, api_base_url=tg.base_url),
                              Context())
    await sink.start()
    try:
        tg.reject_html(JALAN)
        sent = await send_prompt(sink, JALAN, '<a href="tg://user?id=1">Andi &amp; Budi</a>, tulis catatan',
                                 reply_to="999")  # a message that is gone: sent anyway
    finally:
        await sink.close()
    (message,) = tg.messages(JALAN)
    assert str(message.message_id) == sent
    assert (message.parse_mode, message.visible) == (None, "Andi & Budi, tulis catatan")
    assert message.reply_markup["force_reply"] is True and message.reply_to_message_id is None


async def test_unmark_puts_back_exactly_the_status_before_the_mark(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    config = tmp_path / "forwarder.yaml"
    config.write_text(json.dumps(kit.data), encoding="utf-8")
    runner = CliRunner()

    def unmark(code: str) -> str:
        result = runner.invoke(main, ["unmark", code, "--reason", "keliru", "--admin", "Sari", "--config", str(config)])
        assert result.exit_code == 0, result.output
        return kit.complaint(code)["status"]

    # two groups hold it; one says "not ours" (the status stays baru), then the other marks spam
    sms(kit, "Jalan rusak di kec. Dander, lubang besar")
    await kit.once()
    row = kit.complaint()
    code = row["tracking_code"]
    tg.push_callback_query(JALAN_DANDER, kit.first_message(JALAN_DANDER, code).message_id,
                           f"a:bukan:{row['id']}", user=OFFICER)
    await kit.once()
    assert kit.complaint(code)["status"] == "baru"
    tg.push_reply(JALAN, kit.first_message(JALAN, code).message_id, "/spam", user=OFFICER)
    await kit.once()
    assert unmark(code) == "baru"

    # solved and confirmed by the citizen, then marked spam by mistake: solved again, no buttons
    kit.clock.advance(minutes=5)
    db = sqlite3.connect(tmp_path / "forwarder.db")
    with db:
        db.execute("update complaints set status = 'tuntas' where id = ?", (row["id"],))
    db.close()
    tg.push_reply(JALAN, kit.first_message(JALAN, code).message_id, "/spam", user=OFFICER)
    await kit.once()
    assert kit.complaint(code)["status"] == "spam"
    assert unmark(code) == "tuntas"
    await kit.once()
    assert not tg.calls("editMessageText")[-1].params.get("reply_markup")  # closed: still no buttons


def thread_notes(kit: Kit, chat: str, code: str) -> list[str]:
    """What was posted in ``chat`` as a reply to complaint ``code``'s message there."""
    first = kit.first_message(chat, code).message_id
    return [m.visible for m in kit.tg.messages(chat) if m.reply_to_message_id == first]


async def test_unmarking_a_duplicate_tells_the_originals_groups_once(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    config = tmp_path / "forwarder.yaml"
    config.write_text(json.dumps(kit.data), encoding="utf-8")
    runner = CliRunner()
    sms(kit, "Jalan rusak di kec. Dander depan pasar, lubang besar")  # to pu-jalan and pu-jalan-dander
    await kit.once()
    code = kit.complaint()["tracking_code"]
    kit.clock.advance(minutes=10)
    sms(kit, "Jalan Dander depan pasar berlubang. Nama saya Sri Wahyuni", number="085700000002")
    await kit.once()
    dup_code = kit.complaint()["tracking_code"]
    tg.push_reply(JALAN, kit.first_message(JALAN, dup_code).message_id, f"/duplikat {code}", user=OFFICER)
    await kit.once()
    marked = f"Pengaduan {code}: pengaduan {dup_code} ditandai duplikat dari pengaduan ini oleh Andi."
    undone = (f"Pengaduan {code}: pengaduan {dup_code} ternyata bukan duplikat dari pengaduan ini "
              f"(dibatalkan oleh admin Sari); pengaduan {dup_code} ditangani tersendiri.")
    for chat in (JALAN, JALAN_DANDER):
        assert thread_notes(kit, chat, code) == [marked]

    result = runner.invoke(main, ["unmark", dup_code, "--reason", "lokasi beda", "--admin", "Sari",
                                  "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert f"the citizen is told; the groups of {code} are told" in result.output
    # queued with the unmark itself (one transaction), one post per group of the original
    queued = kit.rows("select id, group_name, state from followups where kind = 'unmerged_note' "
                      "order by group_name")
    assert [(r["group_name"], r["state"]) for r in queued] == [("pu-jalan", "pending"),
                                                                ("pu-jalan-dander", "pending")]
    # an unmark run at the same moment (it read the complaint still marked) changes and queues nothing
    store = Store.open(kit.settings.database, clock=kit.clock)
    try:
        stale = dict(store.complaint_by_code(dup_code))
        stale["status"] = "duplikat"
        try:
            with casework.transaction(store) as conn:
                casework.unmark_tx(conn, store, store.now(), stale, "admin:Budi", "Budi", "sama")
        except casework.ActionRefused as exc:
            assert "baru saja diubah" in str(exc)
        else:
            raise AssertionError("a second unmark of the same mark went through")
        mark_id, mark = casework.duplicate_mark(store, stale["id"])
        with casework.transaction(store) as conn:  # and the note of that mark is queued only once
            casework.queue_unmerged_note_tx(conn, store, store.now(), stale, mark_id, mark, "Sari",
                                            Destination("triase", "tg", TRIASE))
    finally:
        store.close()
    assert len(kit.rows("select id from followups where kind = 'unmerged_note'")) == 2
    assert kit.events(stale["id"]).count("unmarked") == 1

    # the daemon dies after taking one of the posts and before Telegram answered: sent after restart
    db = sqlite3.connect(tmp_path / "forwarder.db")
    with db:
        db.execute("update followups set state = 'sending', attempts = 1 where id = ?", (queued[0]["id"],))
    db.close()
    await kit.once()
    again = runner.invoke(main, ["unmark", dup_code, "--reason", "x", "--admin", "Sari", "--config", str(config)])
    assert again.exit_code != 0 and "tidak ditandai spam atau duplikat" in again.output
    await kit.once()
    for chat in (JALAN, JALAN_DANDER):
        assert thread_notes(kit, chat, code) == [marked, undone]  # threaded, once each
    assert not [m for m in tg.messages(JALAN) if "ternyata bukan duplikat" in m.visible
                and m.reply_to_message_id != kit.first_message(JALAN, code).message_id]

    # marked again and undone again: that is news again, told once more
    tg.push_reply(JALAN, kit.first_message(JALAN, dup_code).message_id, f"/duplikat {code}", user=OFFICER)
    await kit.once()
    unmark = runner.invoke(main, ["unmark", dup_code, "--reason", "tetap beda", "--admin", "Sari",
                                  "--config", str(config)])
    assert unmark.exit_code == 0, unmark.output
    await kit.once()
    assert thread_notes(kit, JALAN, code) == [marked, undone, marked, undone]
    kit.check_privacy("085700000002", "Sri Wahyuni", "081234567001")


async def test_the_unmerged_note_keeps_a_since_confidential_complaints_code_out(tmp_path: Path,
                                                                               tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    config = tmp_path / "forwarder.yaml"
    config.write_text(json.dumps(kit.data), encoding="utf-8")
    runner = CliRunner()
    sms(kit, "Pupuk urea di kios Desa Sukorejo kosong")
    await kit.once()
    code = kit.complaint()["tracking_code"]
    sms(kit, "Pupuk urea kosong di kios, pemiliknya menimbun", number="085700000002")
    await kit.once()
    dup_code = kit.complaint()["tracking_code"]
    tg.push_reply(PUPUK, kit.first_message(PUPUK, dup_code).message_id, f"/duplikat {code}", user=OFFICER)
    await kit.once()
    flagged = runner.invoke(main, ["flag", dup_code, "--confidential", "--admin", "Sari", "--config", str(config)])
    assert flagged.exit_code == 0, flagged.output
    undone = runner.invoke(main, ["unmark", dup_code, "--reason", "bukan duplikat", "--admin", "Sari",
                                  "--config", str(config)])
    assert undone.exit_code == 0, undone.output
    await kit.once()
    note = thread_notes(kit, PUPUK, code)[-1]
    assert note == (f"Pengaduan {code}: satu pengaduan yang ditandai duplikat dari pengaduan ini ternyata "
                    "bukan duplikat (dibatalkan oleh admin Sari); pengaduan itu ditangani tersendiri.")
    assert dup_code not in note


async def test_unmark_of_a_confidential_duplicate_held_by_triage_tells_the_confidential_triage(
        tmp_path: Path, tg: FakeTelegram) -> None:
    """Found in review: when no group holds the original any more but its triage group, the note
    went through the old single-fallback path and the unmark died with an AttributeError once a
    confidential triage group was configured."""
    kit = Kit(tmp_path, tg)
    add_inbox_sms(kit.smsd_db, "081234567001", "RAHASIA jalan rusak di desa Sukorejo, kontraktor minta uang",
                  kit.clock(), timezone="UTC")
    await kit.once()
    code = kit.complaint()["tracking_code"]
    kit.clock.advance(minutes=10)
    add_inbox_sms(kit.smsd_db, "085700000002", "RAHASIA jalan rusak Sukorejo, kontraktor minta setoran",
                  kit.clock(), timezone="UTC")
    await kit.once()
    dup = kit.complaint()["tracking_code"]
    tg.push_reply(TRIASE, kit.first_message(TRIASE, dup).message_id, f"/duplikat {code}", user=OFFICER)
    await kit.once()
    assert kit.complaint(dup)["status"] == "duplikat"
    data = json.loads(json.dumps(kit.data))  # the admin adds a confidential triage group afterwards
    data["groups"].append({"name": "triase-rahasia", "sink": "tg", "chat_id": "-1001000000098",
                           "fallback": True, "confidential": True})
    config = tmp_path / "with-confidential-triage.yaml"
    config.write_text(json.dumps(data), encoding="utf-8")
    result = CliRunner().invoke(main, ["unmark", dup, "--reason", "beda kejadian", "--admin", "Sari",
                                       "--config", str(config)])
    assert result.exit_code == 0, (result.output, result.exception)
    notes = kit.rows("select target, group_name from followups where kind = 'unmerged_note'")
    assert [(n["target"], n["group_name"]) for n in notes] == [("-1001000000098", "triase-rahasia")]
