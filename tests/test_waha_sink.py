"""Sink ``waha``: complaints into WhatsApp groups through a loopback fake of WAHA, once each,
with personal data masked; a WhatsApp account that is not linked yet holds them back until it is;
a refused API key stops the sink; the config checks WhatsApp chat ids."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fakes.telegram_api import assert_no_personal_data
from fakes.waha import API_KEY, GROUP, TRIAGE, FakeWAHA
from test_loop_kit import KeywordModel

from forwarder.config import parse_config
from forwarder.context import Context
from forwarder.errors import ConfigError
from forwarder.pipeline import Pipeline
from forwarder.sources.gammu_schema import add_inbox_sms, create_smsd_schema

WHEN = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


@pytest.fixture(name="waha")
def waha_fixture() -> Iterator[FakeWAHA]:
    with FakeWAHA() as fake:
        yield fake


def config(tmp_path: Path, waha: FakeWAHA, **sink: Any) -> dict[str, Any]:
    return {
        "version": 1, "database": str(tmp_path / "forwarder.db"), "kabupaten": "Bojonegoro",
        "sources": {"sms": {"type": "gammu_smsd", "database": str(tmp_path / "smsd.db"), "timezone": "UTC",
                            "multipart_timeout_secs": 0}},
        "sinks": {"wa": {"type": "waha", "api_base_url": waha.base_url, "api_key": API_KEY, "timeout_secs": 3,
                         "per_chat_per_minute": 1000, "per_chat_per_second": 1000, "overall_per_second": 1000,
                         **sink}},
        "groups": [{"name": "pertanian-pupuk", "sink": "wa", "chat_id": GROUP, "topics": ["pupuk"]},
                   {"name": "triase", "sink": "wa", "chat_id": TRIAGE, "fallback": True}],
        "citizen": {"acknowledge": False},
    }


def one_sms(tmp_path: Path, text: str = "pupuk langka") -> None:
    """A Gammu-format inbox with one SMS, for the config's ``sms`` source."""
    create_smsd_schema(tmp_path / "smsd.db")
    add_inbox_sms(tmp_path / "smsd.db", "081234567001", text, WHEN, timezone="UTC")


async def run_once(data: dict[str, Any]) -> Any:
    settings = parse_config(data, env={})
    pipeline = Pipeline.build(settings, context=Context(clock=lambda: WHEN), model=KeywordModel())
    return await pipeline.run_once(max_wait_secs=3)


async def test_complaints_reach_whatsapp_groups_once_and_masked(tmp_path: Path, waha: FakeWAHA) -> None:
    create_smsd_schema(tmp_path / "smsd.db")
    add_inbox_sms(tmp_path / "smsd.db", "081234567001",
                  "Pupuk urea langka di kios desa. Nama saya Budi Santoso, hp 081234567001", WHEN, timezone="UTC")
    add_inbox_sms(tmp_path / "smsd.db", "081234567002", "🙏🙏", WHEN, timezone="UTC")
    data = config(tmp_path, waha)
    _, drained = await run_once(data)
    assert drained.complete
    (pupuk,) = waha.texts(GROUP)
    assert pupuk.startswith("Pengaduan ") and "Topik: pupuk" in pupuk and "Pupuk urea langka" in pupuk
    assert "<" not in pupuk  # plain text: WhatsApp shows no HTML
    assert_no_personal_data(pupuk)
    assert "Budi Santoso" not in pupuk and "081234567001" not in pupuk
    (triage,) = waha.texts(TRIAGE)
    assert "🙏🙏" in triage
    # the platform's message id is kept (the WEBJS engine's serialized id)
    conn = sqlite3.connect(tmp_path / "forwarder.db")
    ids = [r[0] for r in conn.execute("select message_ids from deliveries order by id")]
    assert all(f"true_{GROUP}_" in i or f"true_{TRIAGE}_" in i for i in ids), ids
    conn.close()
    # nothing twice
    _, again = await run_once(data)
    assert again.complete and len(waha.sent) == 2


async def test_an_unlinked_account_holds_complaints_back_until_it_is_linked(tmp_path: Path,
                                                                           waha: FakeWAHA) -> None:
    one_sms(tmp_path)
    waha.status = "SCAN_QR_CODE"
    data = config(tmp_path, waha)
    _, drained = await run_once(data)
    assert not drained.complete and waha.sent == []
    conn = sqlite3.connect(tmp_path / "forwarder.db")
    state, error = conn.execute("select state, last_error from deliveries").fetchone()
    assert state in ("pending", "failed") and "scan the QR code" in error
    reason = conn.execute("select reason from channel_state where channel = 'sink:wa'").fetchone()[0]
    assert "SCAN_QR_CODE" in reason
    waha.status = "WORKING"
    conn.execute("update deliveries set next_attempt_at = null")
    conn.commit()
    conn.close()
    _, drained = await run_once(data)
    assert drained.complete and len(waha.texts(GROUP)) == 1


async def test_a_refused_key_stops_the_sink_and_nothing_is_dropped(tmp_path: Path, waha: FakeWAHA) -> None:
    one_sms(tmp_path)
    _, drained = await run_once(config(tmp_path, waha, api_key="kunci-salah"))
    assert not drained.complete and waha.sent == []
    conn = sqlite3.connect(tmp_path / "forwarder.db")
    assert conn.execute("select state from deliveries").fetchone()[0] != "dead"
    conn.close()
    _, drained = await run_once(config(tmp_path, waha))  # the key fixed: delivered
    assert drained.complete and len(waha.texts(GROUP)) == 1


def test_whatsapp_chat_ids_are_checked(tmp_path: Path) -> None:
    waha = FakeWAHA()  # not started: only its address is used
    data = config(tmp_path, waha)
    data["groups"][0]["chat_id"] = "-1001234567890"  # a Telegram id in a WhatsApp group
    data["groups"][1]["chat_id"] = "120363049999999999@g.us"
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    assert [p.path for p in info.value.problems] == ["groups[0].chat_id"]
    assert "@g.us" in str(info.value)


async def test_any_answer_shape_counts_as_sent_once(tmp_path: Path, waha: FakeWAHA) -> None:
    one_sms(tmp_path)
    waha.answer = {"key": "3EB0ABC", "status": "PENDING"}  # another engine's body: the id as a string
    _, drained = await run_once(config(tmp_path, waha))
    assert drained.complete and len(waha.sent) == 1
    conn = sqlite3.connect(tmp_path / "forwarder.db")
    assert conn.execute("select state, message_ids from deliveries").fetchone() == ("sent", '["3EB0ABC"]')
    conn.close()


async def test_a_misspelt_session_holds_complaints_back(tmp_path: Path, waha: FakeWAHA) -> None:
    one_sms(tmp_path)
    _, drained = await run_once(config(tmp_path, waha, session="defualt"))
    assert not drained.complete and waha.sent == []
    conn = sqlite3.connect(tmp_path / "forwarder.db")
    assert {r[0] for r in conn.execute("select state from deliveries")} <= {"pending", "failed"}
    conn.close()


async def test_whatsapp_groups_get_no_reminders_they_cannot_act_on(tmp_path: Path, waha: FakeWAHA) -> None:
    from datetime import timedelta

    from forwarder.reminders import due_notices
    from forwarder.store import Store

    one_sms(tmp_path)
    data = config(tmp_path, waha)
    data["heads"] = {"groups": [{"name": "pimpinan", "sink": "wa", "chat_id": "120363040000000001@g.us"}]}
    _, drained = await run_once(data)
    assert drained.complete
    settings = parse_config(data, env={})
    store = Store.open(settings.database)
    try:
        later = [due_notices(store, settings, WHEN + timedelta(days=d)) for d in (2.5, 6, 10)]
    finally:
        store.close()
    assert [n for notices in later for n in notices if n.text.startswith(("Pengingat", "Lewat batas"))] == []


def test_heads_private_chats_on_whatsapp_are_checked(tmp_path: Path) -> None:
    data = config(tmp_path, FakeWAHA())
    data["heads"] = {"people": [{"name": "Kepala Dinas", "sink": "wa", "chat_id": "6281234567890",
                                 "groups": ["pertanian-pupuk"]}]}
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    assert [p.path for p in info.value.problems] == ["heads.people[0].chat_id"]
    data["heads"]["people"][0]["chat_id"] = "6281234567890@c.us"
    parse_config(data, env={})
