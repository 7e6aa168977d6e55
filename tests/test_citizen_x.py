"""The loop on X, against the loopback fake X API v2 and the fake Bot API: the citizen is answered
with replies in their thread, and their replies come back into the group's thread."""

from __future__ import annotations

from pathlib import Path

from fakes.telegram_api import FakeTelegram
from fakes.x_api import FakeX
from test_loop_kit import JALAN, OFFICER, Kit, tg_fixture, x_fixture  # noqa: F401


async def test_x_ack_question_reply_and_answer(tmp_path: Path, tg: FakeTelegram, x: FakeX) -> None:
    kit = Kit(tmp_path, tg, x=x)
    tweet = x.add_mention("Jalan ke pasar Dander rusak parah, tolong diperbaiki", author="warga_dander")
    await kit.once()
    row = kit.complaint()
    code = row["tracking_code"]
    (ack,) = x.posted
    assert ack["in_reply_to_tweet_id"] == tweet and code in ack["text"]

    first = kit.first_message(JALAN, code)
    tg.push_reply(JALAN, first.message_id, "/tanya Di desa mana, dekat apa?", user=OFFICER)
    await kit.once()
    question = x.posted[-1]
    assert question["in_reply_to_tweet_id"] == tweet and "Di desa mana" in question["text"]
    assert "Andi" not in question["text"]

    answer = x.add_mention("Desa Ngumpakdalem, dekat balai desa", author="warga_dander", kind="reply",
                           in_reply_to=question["id"])
    other = x.add_mention("Jalan di Kapas juga rusak", author="warga_lain", kind="reply",
                          in_reply_to=question["id"])  # someone else in the thread: a new complaint
    await kit.once()
    complaints = kit.rows("select reporter, text from complaints order by id")
    assert len(complaints) == 2 and "Kapas" in complaints[1]["text"]
    (inbound,) = kit.rows("select * from citizen_inbound")
    assert inbound["kind"] == "reply" and inbound["complaint_id"] == row["id"]
    thread = tg.messages(JALAN)[-1] if "balasan pelapor" in tg.messages(JALAN)[-1].visible else \
        next(m for m in tg.messages(JALAN) if "balasan pelapor" in m.visible)
    assert thread.reply_to_message_id == first.message_id and "balai desa" in thread.visible

    tg.push_reply(JALAN, first.message_id, "/jawab Terima kasih, tim menuju lokasi besok", user=OFFICER)
    await kit.once()
    assert x.posted[-1]["in_reply_to_tweet_id"] == answer  # answered in the citizen's newest post
    assert other  # (its acknowledgment went to its own post)
    assert any(p["in_reply_to_tweet_id"] == other for p in x.posted)
    kit.check_privacy("warga_dander", "warga_lain")


async def test_uncertain_x_reply_is_not_posted_twice(tmp_path: Path, tg: FakeTelegram,
                                                      x: FakeX) -> None:
    kit = Kit(tmp_path, tg, x=x)
    x.add_mention("Pupuk langka di Balen", author="petani_balen")
    await kit.once()
    assert len(x.posted) == 1
    # the daemon died after X took the reply but before it was recorded
    conn = kit.db()
    with conn:
        conn.execute("update followups set state = 'sending', ref = null where channel = 'x'")
    conn.close()
    await kit.once()
    assert len(x.posted) == 1
    (row,) = kit.rows("select state, uncertain from followups where channel = 'x'")
    assert (row["state"], row["uncertain"]) == ("sent", 1)
