"""Bad input is stored and routed, never dropped, never a crash (issue 4's table).

Each row goes into a Gammu SMSD-format inbox the way gammu-smsd writes it, through the real
pipeline (``forwarder run --once`` in-process) to the loopback fake Bot API.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from fakes import daemon
from fakes.telegram_api import FakeTelegram, assert_no_personal_data
from forwarder.cli import main
from forwarder.config import load_config
from forwarder.pipeline import Pipeline
from forwarder.sources.gammu_schema import add_inbox_sms, create_smsd_schema

WHEN = datetime(2026, 11, 29, 3, 0, tzinfo=timezone.utc)

BAD = [
    ("+6281200000001", "", {}),
    ("+6281200000002", "🙏😡🙏😡", {}),
    ("+6281200000003", "jalan rusak " * 900, {}),  # 10,800 characters
    ("+6281200000004", "<script>alert(1)</script> <b>jalan</b> & lampu <i>mati</i> _x_ *y* [z](u)", {}),
    ("+6281200000005", "'; DROP TABLE complaints; -- jalan rusak", {}),
    ("+6281200000006", "\u202eكسر الطريق\u202c jalan \u200frusak", {}),
    ("+6281200000007", "x", {"text_hex": "D83D0041", "text_decoded": ""}),  # lone surrogate in Text
    ("3636", "Sisa kuota 1GB", {}),
    ("TELKOMSEL", "Promo paket", {}),
    ("", "pengirim kosong", {}),
    ("+6281200000011", "?", {}),
    ("+6281200000012", "1234567890", {}),
]


@pytest.fixture
def tg() -> FakeTelegram:
    with FakeTelegram() as fake:
        yield fake


def test_bad_input_is_stored_and_routed(tmp_path: Path, tg: FakeTelegram) -> None:
    smsd_db = tmp_path / "smsd.db"
    create_smsd_schema(smsd_db)
    for number, text, extra in BAD:
        add_inbox_sms(smsd_db, number, text, WHEN, timezone="UTC", **extra)
    config, chats = daemon.write_config(tmp_path, smsd_db=smsd_db, telegram_base_url=tg.base_url,
                                        token=tg.token, topics=["jalan", "penerangan_jalan"])
    settings = load_config(config, env={"TG_TOKEN": tg.token})
    pipeline = Pipeline.build(settings)
    polls, drained = asyncio.run(pipeline.run_once())
    assert polls[0].error is None and polls[0].stored == len(BAD)
    assert drained.complete, drained.open
    db = sqlite3.connect(tmp_path / "forwarder.db")
    assert db.execute("select count(*) from complaints").fetchone()[0] == len(BAD)
    assert db.execute("select count(*) from deliveries where state != 'sent'").fetchone()[0] == 0
    texts = {row[0] for row in db.execute("select text from complaints")}
    assert "'; DROP TABLE complaints; -- jalan rusak" in texts
    for message in tg.messages():
        assert_no_personal_data(message.visible)
    # the 10,800-character complaint arrived whole, in order, split under Telegram's limit
    long_parts = [m for m in tg.messages() if "jalan rusak jalan rusak" in m.visible]
    assert len(long_parts) >= 3 and all(len(m.visible) <= 4096 for m in long_parts)
    assert sum(m.visible.count("rusak") for m in long_parts) >= 900  # nothing cut away
    # HTML-laden text is shown as text, not markup
    html_msg = next(m for m in tg.messages() if "alert(1)" in m.visible)
    assert "<script>" in html_msg.visible and "<b>jalan</b>" in html_msg.visible
    # texts with no usable words go to triage
    triage = "\n".join(m.visible for m in tg.messages(chats["triase"]))
    assert "🙏😡🙏😡" in triage


def test_status_and_outbox_commands(tmp_path: Path, tg: FakeTelegram) -> None:
    smsd_db = tmp_path / "smsd.db"
    create_smsd_schema(smsd_db)
    add_inbox_sms(smsd_db, "+6281200000001", "jalan rusak berlubang di desa", WHEN, timezone="UTC")
    add_inbox_sms(smsd_db, "+6281200000002", "lampu jalan mati", WHEN, timezone="UTC")
    config, chats = daemon.write_config(tmp_path, smsd_db=smsd_db, telegram_base_url=tg.base_url,
                                        token=tg.token, topics=["jalan", "penerangan_jalan"], threshold=0.0)
    for chat in chats.values():
        tg.kick(chat)
    tg.unkick(chats["triase"])
    runner = CliRunner()
    env = {"TG_TOKEN": tg.token}
    # before the daemon ever ran, reading commands say so and create nothing
    for command in (["status"], ["outbox", "list"], ["report"]):
        early = runner.invoke(main, [*command, "--config", str(config)], env=env)
        assert early.exit_code != 0 and "no forwarder database at" in early.output, (command, early.output)
    assert not (tmp_path / "forwarder.db").exists()
    result = runner.invoke(main, ["run", "--config", str(config), "--once"], env=env)
    assert result.exit_code == 0, result.output  # the kicked groups' complaints reached triage
    listed = runner.invoke(main, ["outbox", "list", "--config", str(config)], env=env)
    assert listed.exit_code == 0 and "dead" in listed.output
    status = runner.invoke(main, ["status", "--config", str(config)], env=env)
    assert status.exit_code == 0 and "sms" in status.output and "tg" in status.output
    assert "chat:tg:" in status.output and "down" in status.output  # the kicked groups
    for chat in chats.values():
        tg.unkick(chat)
    retried = runner.invoke(main, ["outbox", "retry", "--all-dead", "--config", str(config)], env=env)
    assert retried.exit_code == 0 and "2 delivery(ies) queued again" in retried.output
    # reading commands work without the daemon's secrets in the admin's shell
    bare = runner.invoke(main, ["status", "--config", str(config)], env={"TG_TOKEN": ""})
    assert bare.exit_code == 0 and "sms" in bare.output, bare.output
    nothing = runner.invoke(main, ["outbox", "retry", "--all-dead", "--config", str(config)], env=env)
    assert nothing.exit_code == 0 and "0 delivery(ies) queued again" in nothing.output
    unknown = runner.invoke(main, ["outbox", "retry", "99999", "--config", str(config)], env=env)
    assert unknown.exit_code == 1 and "no delivery 99999" in unknown.output
    again = runner.invoke(main, ["run", "--config", str(config), "--once"], env=env)
    assert again.exit_code == 0, again.output
    db = sqlite3.connect(tmp_path / "forwarder.db")
    assert db.execute("select count(*) from deliveries where state = 'sent'").fetchone()[0] == 4
    dropped = runner.invoke(main, ["outbox", "drop", "1", "--reason", "test", "--config", str(config)], env=env)
    assert dropped.exit_code == 1 and "0 delivery(ies) dropped" in dropped.output  # sent ones stay sent
    assert "delivery 1 was sent" in dropped.output
    unknown = runner.invoke(main, ["outbox", "drop", "99999", "--reason", "x", "--config", str(config)], env=env)
    assert unknown.exit_code == 1 and "no delivery 99999" in unknown.output
