"""Sources under fault in the running daemon: an X outage or rate limit never stalls the SMS line.

The pipeline runs (``Pipeline.run``) with a gammu_smsd source (a Gammu-format inbox) and a
twitter source (the loopback fake X API), delivering to the loopback fake Bot API. X answers
429, then 503, then 401 while SMS complaints keep arriving: each SMS is delivered while X is
down, X's complaints are delivered once X is back, and nothing is stored twice.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

from fakes import daemon
from fakes.telegram_api import FakeTelegram
from fakes.x_api import FakeX
from forwarder.config import load_config
from forwarder.pipeline import Pipeline
from forwarder.sources.gammu_schema import add_inbox_sms, create_smsd_schema


async def _wait_until(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.1)
    return False


def test_x_faults_do_not_stall_sms(tmp_path: Path) -> None:
    smsd_db = tmp_path / "smsd.db"
    create_smsd_schema(smsd_db)
    with FakeTelegram() as tg, FakeX() as x:
        config_path, chats = daemon.write_config(tmp_path, smsd_db=smsd_db, telegram_base_url=tg.base_url,
                                                 token=tg.token, topics=["jalan", "pupuk"], threshold=0.0)
        config = yaml.safe_load(config_path.read_text())
        config["sources"]["x"] = {"type": "twitter", "bearer_token": x.bearer_token,
                                  "api_base_url": x.base_url, "poll_interval_secs": 2}
        config_path.write_text(yaml.safe_dump(config))
        settings = load_config(config_path, env={"TG_TOKEN": tg.token})
        pipeline = Pipeline.build(settings)

        x.add_mention("jalan di desa rusak parah tolong diperbaiki nomor x1")
        x.fail_next(429, count=1, reset_at=int(time.time()) + 2)

        async def scenario() -> None:
            stop = asyncio.Event()
            runner = asyncio.create_task(pipeline.run(stop))
            try:
                # X is rate-limited: SMS still flows
                add_inbox_sms(smsd_db, "+6281200000001", "pupuk urea kosong nomor s1",
                              datetime.now(timezone.utc), timezone="UTC")
                assert await _wait_until(lambda: any("nomor s1" in m.visible for m in tg.messages()))
                # X comes back after the reset: its complaint arrives too
                assert await _wait_until(lambda: any("nomor x1" in m.visible for m in tg.messages()))
                # X fails with 503 and then a revoked token; SMS keeps flowing
                x.fail_next(503, count=1)
                x.fail_next(401, count=1000)
                x.add_mention("pupuk bersubsidi tidak ada di kios nomor x2")

                def x_error() -> str:
                    row = pipeline.store.db.execute(
                        "select last_error from source_state where source = 'x'").fetchone()
                    return (row[0] or "") if row else ""

                assert await _wait_until(lambda: "token" in x_error().lower() or "401" in x_error())
                for n in range(2, 5):
                    add_inbox_sms(smsd_db, f"+628120000000{n}", f"jalan berlubang besar nomor s{n}",
                                  datetime.now(timezone.utc), timezone="UTC")
                assert await _wait_until(
                    lambda: all(any(f"nomor s{n}" in m.visible for m in tg.messages()) for n in range(2, 5)))
                assert not any("nomor x2" in m.visible for m in tg.messages())
            finally:
                stop.set()
                await asyncio.wait_for(runner, 30)

        asyncio.run(scenario())

    db = sqlite3.connect(tmp_path / "forwarder.db")
    texts = [r[0] for r in db.execute("select text from complaints")]
    assert len(texts) == len(set(texts)) == 5  # s1-s4 and x1; x2 waits for a working token
    errors = dict(db.execute("select source, last_error from source_state"))
    assert errors["sms"] is None
    assert errors["x"] and ("401" in errors["x"] or "token" in errors["x"].lower())
    states = dict(db.execute("select channel, state from channel_state"))
    assert states["source:x"] == "down" and states["source:sms"] == "up"
