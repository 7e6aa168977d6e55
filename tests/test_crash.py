"""Crash safety: the daemon is killed with SIGKILL 20 times during a burst and restarted.

Real gammu-smsd in, the real daemon process, the fake Bot API out. Afterwards every complaint is
stored once and delivered to each of its groups at least once; a group received a complaint
twice only when the store recorded that delivery as ``uncertain`` (in flight at a crash).
"""

from __future__ import annotations

import random
import re
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path

import pytest

from fakes import daemon
from fakes.gammu import GammuSmsd, gammu_missing
from fakes.telegram_api import FakeTelegram

pytestmark = pytest.mark.skipif(bool(gammu_missing()), reason=gammu_missing() or "gammu ok")

CODE = re.compile(r"Pengaduan ([0-9A-Z]{6})")
TEXTS = [
    "pupuk urea bersubsidi kosong di kios desa nomor {n}",
    "sawah diserang hama wereng dan tikus, laporan nomor {n}",
    "jalan desa rusak berlubang parah, laporan nomor {n}",
    "saluran irigasi jebol air tidak sampai sawah, laporan nomor {n}",
    "ktp elektronik belum jadi sudah lama, laporan nomor {n}",
]


def test_twenty_kills_lose_nothing_and_repeat_only_uncertain(tmp_path: Path) -> None:
    rng = random.Random(20261129)
    smsd_dir = tmp_path / "smsd"
    smsd_dir.mkdir()
    log = tmp_path / "daemon.log"
    sent_sms = 0
    with FakeTelegram() as tg, GammuSmsd(smsd_dir) as smsd:
        config, chats = daemon.write_config(
            tmp_path, smsd_db=smsd.db_path, telegram_base_url=tg.base_url, token=tg.token,
            topics=["pupuk", "hama", "jalan", "irigasi", "adminduk"], threshold=0.0,
            pacing={"per_chat_per_minute": 1000, "per_chat_per_second": 8, "overall_per_second": 30},
        )

        def burst(count: int) -> None:
            nonlocal sent_sms
            for _ in range(count):
                smsd.deliver(f"+6281200{sent_sms:06d}", TEXTS[sent_sms % len(TEXTS)].format(n=sent_sms))
                sent_sms += 1

        burst(40)
        kills = 0
        for _ in range(20):
            process = daemon.start(config, tg.token, log)
            time.sleep(rng.uniform(1.0, 3.5))
            burst(rng.randint(0, 4))
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            kills += 1
        smsd.wait_inbox(sent_sms, timeout=60)
        final = daemon.run(config, tg.token, "--once", timeout=300)
        assert final.returncode == 0, final.stdout + final.stderr[-4000:]
        messages = tg.messages()

    assert kills == 20
    db = sqlite3.connect(tmp_path / "forwarder.db")
    db.row_factory = sqlite3.Row
    complaints = db.execute("select id, text, tracking_code from complaints").fetchall()
    # nothing lost, nothing stored twice
    assert sorted(c["text"] for c in complaints) == sorted(
        TEXTS[n % len(TEXTS)].format(n=n) for n in range(sent_sms))
    received = Counter()
    for m in messages:
        match = CODE.search(m.visible)
        if match:
            received[(str(m.chat_id), match.group(1))] += 1
    deliveries = db.execute(
        "select d.chat_id, d.state, d.uncertain, c.tracking_code from deliveries d "
        "join complaints c on c.id = d.complaint_id").fetchall()
    assert deliveries and {d["state"] for d in deliveries} == {"sent"}
    repeats = 0
    for d in deliveries:
        count = received[(d["chat_id"], d["tracking_code"])]
        assert count >= 1, f"lost: {dict(d)}"
        if count > 1:
            repeats += 1
            assert d["uncertain"] == 1, f"repeated without being marked uncertain: {dict(d)}"
    assert sum(received.values()) == len(deliveries) + sum(
        received[(d["chat_id"], d["tracking_code"])] - 1 for d in deliveries)
    print(f"{sent_sms} SMS, {kills} kills, {len(deliveries)} deliveries, {repeats} repeated (all uncertain), "
          f"{sum(1 for d in deliveries if d['uncertain'])} marked uncertain")


def test_sigterm_stops_the_daemon_cleanly(tmp_path: Path) -> None:
    smsd_dir = tmp_path / "smsd"
    smsd_dir.mkdir()
    log = tmp_path / "daemon.log"
    with FakeTelegram() as tg, GammuSmsd(smsd_dir) as smsd:
        config, chats = daemon.write_config(tmp_path, smsd_db=smsd.db_path, telegram_base_url=tg.base_url,
                                            token=tg.token, topics=["jalan"], threshold=0.0)
        smsd.deliver("+6281200000001", "jalan desa rusak berlubang parah")
        process = daemon.start(config, tg.token, log)
        assert tg.wait_for(lambda fake: len(fake.messages()) >= 1, timeout=60), log.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    text = log.read_text()
    assert "event=started" in text and "event=stopped" in text
    assert "Traceback" not in text
