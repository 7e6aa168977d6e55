"""The daemon (``Pipeline.run``) reads officers' actions and sends followups while it runs, and
stops cleanly; the ``--once`` runs in the other loop tests are its single-pass form."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from fakes.telegram_api import FakeTelegram
from test_loop_kit import JALAN, OFFICER, Kit, tg_fixture  # noqa: F401

from forwarder.sources.gammu_schema import add_inbox_sms


async def until(condition: Callable[[], object], timeout: float = 20.0) -> None:
    """Wait for ``condition()`` to hold (a wait for an outcome, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def test_daemon_handles_actions_and_citizen_replies_while_running(tmp_path: Path,
                                                                       tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg, long_poll_secs=1, poll_interval=0.2)
    add_inbox_sms(kit.smsd_db, "081234567001", "Jalan rusak di Trucuk", kit.clock(), timezone="UTC")
    pipeline = kit.pipeline()
    stop = asyncio.Event()
    daemon = asyncio.create_task(pipeline.run(stop))
    try:
        await until(lambda: tg.messages(JALAN) and kit.outbox_sms())
        code = kit.complaint()["tracking_code"]
        first = kit.first_message(JALAN, code)
        tg.push_callback_query(JALAN, first.message_id, f"a:proses:{kit.complaint()['id']}", user=OFFICER)
        await until(lambda: any("diproses oleh Andi" in e.visible for e in tg.edits(JALAN)))
        assert tg.callback_answers()[-1]["text"].endswith("diproses.")
        tg.push_reply(JALAN, first.message_id, "/selesai Sudah diperbaiki", user=OFFICER)
        await until(lambda: len(kit.outbox_sms()) == 2)
        add_inbox_sms(kit.smsd_db, "081234567001", "belum", kit.clock(), timezone="UTC")
        await until(lambda: any("BELUM" in m.visible for m in tg.messages(JALAN)))
        await until(lambda: len(kit.outbox_sms()) == 3)
    finally:
        stop.set()
        await asyncio.wait_for(daemon, 30)
    assert kit.complaint(code)["status"] == "dibuka_kembali"
    assert len(kit.rows("select id from complaints")) == 1
    kit.check_privacy()
