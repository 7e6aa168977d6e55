"""Handled Telegram updates (``telegram_updates``) are pruned on the poller's schedule, keeping the
newest one so that the next getUpdates offset stays right."""

from __future__ import annotations

from pathlib import Path

from fakes.telegram_api import FakeTelegram
from test_loop_kit import JALAN, OFFICER, Kit, tg_fixture  # noqa: F401

from forwarder.actions import Incoming, Outcome
from forwarder.sources.gammu_schema import add_inbox_sms


def handled(kit: Kit) -> list[int]:
    return [r["update_id"] for r in kit.rows("select update_id from telegram_updates order by update_id")]


async def test_old_handled_updates_are_pruned_and_the_offset_kept(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    add_inbox_sms(kit.smsd_db, "081234567001", "Jalan rusak di depan pasar", kit.clock(), timezone="UTC")
    await kit.once()
    row = kit.complaint()
    first = kit.first_message(JALAN, row["tracking_code"])
    old = [tg.push_reply(JALAN, first.message_id, "/bantuan", user=OFFICER)["update_id"] for _ in range(3)]
    await kit.once()
    assert handled(kit) == old

    kit.clock.advance(days=6)  # within the week: kept
    await kit.once()
    assert handled(kit) == old

    kit.clock.advance(days=2)
    await kit.once()  # nothing new: the newest old row stays, it gives the next offset
    assert handled(kit) == old[-1:]

    newer = tg.push_callback_query(JALAN, first.message_id, f"a:terima:{row['id']}", user=OFFICER)["update_id"]
    await kit.once()
    assert handled(kit) == [newer]  # the last old one went once a newer one was recorded
    assert kit.complaint(row["tracking_code"])["status"] == "diterima"
    # the kept row still makes a redelivered update a no-op
    pipeline = kit.pipeline()
    try:
        again = Incoming("tg", newer, JALAN, OFFICER["id"], "Andi", False, message_id=str(first.message_id),
                         callback_id="1", data=f"a:proses:{row['id']}")
        assert pipeline.loop.actions.handle(again) == Outcome("")
    finally:
        pipeline.store.close()
    assert kit.complaint(row["tracking_code"])["status"] == "diterima"
