"""Source ``android_sms_gateway``: SMSGate webhooks in (signed, spooled, each stored once), replies
to citizens out through the fake SMSGate API; the daemon listens, ``run --once`` reads the spool."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from fakes.smsgate import PASSWORD, USER, FakeSMSGate, envelope, webhook
from fakes.telegram_api import FakeTelegram
from test_loop_daemon import until
from test_loop_kit import JALAN, PUPUK, TRIASE, Clock, Kit, tg_fixture  # noqa: F401

from forwarder.config import parse_config
from forwarder.context import Context
from forwarder.errors import ConfigError, PermanentError
from forwarder.sources.android_sms import Config, Source

KEY = "kunci-webhook-bojonegoro"
REPORTER = "+6281234567001"
WIB = timezone(timedelta(hours=7))


@pytest.fixture(name="gate")
def gate_fixture() -> Iterator[FakeSMSGate]:
    with FakeSMSGate() as fake:
        yield fake


def source_config(tmp: Path, **extra: object) -> dict[str, object]:
    return {"type": "android_sms_gateway", "signing_key": KEY, "listen_port": 0,
            "spool": str(tmp / "spool.db"), "poll_interval_secs": 0.2, **extra}


@asynccontextmanager
async def listening(tmp_path: Path, clock: Clock) -> AsyncIterator[tuple[Source, str]]:
    """A listening source on a free port and its webhook URL; closed afterwards."""
    source = Source("hp", Config.model_validate(source_config(tmp_path)), Context(clock=clock))
    await source.listen()
    try:
        yield source, f"http://127.0.0.1:{source.port}/webhooks/sms"
    finally:
        await source.close()


def test_config_problems_carry_their_yaml_paths(tmp_path: Path) -> None:
    data = {"version": 1, "database": str(tmp_path / "f.db"),
            "sources": {"hp": {"type": "android_sms_gateway", "signing_key": "abc", "listen_port": 70000,
                               "api_url": "192.168.1.20:8080", "colour": "red"}},
            "sinks": {"out": {"type": "console"}},
            "groups": [{"name": "triase", "sink": "out", "chat_id": "-1", "fallback": True}]}
    with pytest.raises(ConfigError) as caught:
        parse_config(data, env={})
    text = str(caught.value)
    for where in ("sources.hp.signing_key", "sources.hp.listen_port", "sources.hp.api_url", "sources.hp.colour"):
        assert where in text, text
    assert "Signing Key" in text  # says where the key is set on the phone


async def test_webhooks_are_checked_spooled_once_and_handed_over(tmp_path: Path) -> None:
    clock = Clock()
    now = clock().timestamp()
    sent_at = clock().astimezone(WIB)
    async with listening(tmp_path, clock) as (source, url):
        first = envelope("ev-1", "Pupuk urea langka di Kapas 🙏", "081234567001", sent_at)
        assert (await webhook(url, KEY, first, timestamp=now)).json() == {"stored": True}
        # the app retries when it got no 2xx: the repeat is answered 200 and not stored again
        assert (await webhook(url, KEY, first, timestamp=now + 20)).json() == {"stored": False}
        # the older payload shape (phoneNumber only), sender written +62 0812...
        old = envelope("ev-2", "jalan rusak", "+62 0812-3456-7002", sent_at, old_shape=True)
        assert (await webhook(url, KEY, old, timestamp=now)).status_code == 200
        # refused: a wrong key, a stale or future timestamp, no headers
        third = envelope("ev-3", "palsu", "081234567003", sent_at)
        assert (await webhook(url, "kunci-lain-sekali", third, timestamp=now)).status_code == 401
        assert (await webhook(url, KEY, third, timestamp=now - 301)).status_code == 401
        assert (await webhook(url, KEY, third, timestamp=now + 301)).status_code == 401
        assert (await webhook(url, KEY, third, timestamp=now, signature="")).status_code == 401
        # other events are acknowledged and left alone; a signed body that is no envelope is 400
        ping = envelope("ev-4", "", "", sent_at, event="system:ping")
        assert (await webhook(url, KEY, ping, timestamp=now)).json() == {"ignored": "system:ping"}
        assert (await webhook(url, KEY, b"[1, 2]", timestamp=now)).status_code == 400
        assert (await webhook(url, KEY, b"not json", timestamp=now)).status_code == 400
        # an empty SMS is a complaint like any other (stored, routed to triage later)
        empty = envelope("ev-5", "", "081234567005", sent_at)
        assert (await webhook(url, KEY, empty, timestamp=now)).json() == {"stored": True}

    polled = await source.poll(None)
    got = {c.external_id: c for c in polled.complaints}
    assert list(got) == [f"smsgate:ffffffffceb0b1db0000018e937c815b:ev-{i}" for i in (1, 2, 5)]
    pupuk = got["smsgate:ffffffffceb0b1db0000018e937c815b:ev-1"]
    assert pupuk.reporter == REPORTER and pupuk.channel == "sms" and pupuk.text.endswith("🙏")
    assert pupuk.received_at == clock().replace(microsecond=0) and pupuk.received_at.tzinfo == UTC
    assert pupuk.meta["sender_kind"] == "msisdn" and pupuk.meta["sim_number"] == 1
    assert got["smsgate:ffffffffceb0b1db0000018e937c815b:ev-2"].reporter == "+6281234567002"
    # handed over again until committed, then never again
    assert len((await source.poll(None)).complaints) == 3
    # a dry run skips them: not handed over again by this source, still unprocessed in the spool
    await source.skip(polled)
    assert (await source.poll(None)).complaints == []
    fresh = Source("hp", Config.model_validate(source_config(tmp_path)), Context(clock=clock))
    assert len((await fresh.poll(None)).complaints) == 3
    await source.commit(polled)
    assert (await source.poll(None)).complaints == []
    assert (await fresh.poll(None)).complaints == []


async def test_a_taken_port_is_reported_and_tried_again(tmp_path: Path) -> None:
    first = Source("hp", Config.model_validate(source_config(tmp_path)), Context(clock=Clock()))
    await first.listen()
    try:
        taken = Config.model_validate(source_config(tmp_path, listen_port=first.port))
        second = Source("hp2", taken, Context(clock=Clock()))
        with pytest.raises(PermanentError, match="cannot listen"):
            await second.listen()
        with pytest.raises(PermanentError, match="cannot listen"):  # poll keeps saying so
            await second.poll(None)
    finally:
        await first.close()
    await second.poll(None)  # the port is free again: the listener starts
    assert second.port == first.port
    await second.close()


def android_kit(tmp_path: Path, tg: FakeTelegram, gate: FakeSMSGate) -> Kit:
    kit = Kit(tmp_path, tg)
    kit.data["sources"]["hp"] = source_config(tmp_path, api_url=gate.base_url, api_username=USER,
                                              api_password=PASSWORD)
    kit.settings = parse_config(kit.data, env={})
    return kit


async def test_daemon_takes_webhooks_and_answers_through_the_phone(tmp_path: Path, tg: FakeTelegram,
                                                                   gate: FakeSMSGate) -> None:
    kit = android_kit(tmp_path, tg, gate)
    pipeline = kit.pipeline()
    stop = asyncio.Event()
    daemon = asyncio.create_task(pipeline.run(stop))
    now = kit.clock().timestamp()
    text = "Pupuk subsidi tidak ada di kios desa, nama saya Budi Santoso NIK 3522011203870004 hp 081234567001"
    complaint = envelope("ev-10", text, "081234567001", kit.clock().astimezone(WIB))
    try:
        await until(lambda: pipeline.sources["hp"].port)
        url = f"http://127.0.0.1:{pipeline.sources['hp'].port}/webhooks/sms"
        assert (await webhook(url, KEY, complaint, timestamp=now)).status_code == 200
        await until(lambda: tg.messages(PUPUK) and gate.texts_to(REPORTER))
        code = kit.complaint()["tracking_code"]
        (ack,) = gate.texts_to(REPORTER)
        assert code in ack
        assert gate.sent[0]["id"].startswith("forwarder-f")
        # the phone sends the same webhook again: nothing new reaches the group or the citizen
        assert (await webhook(url, KEY, complaint, timestamp=now + 30)).json() == {"stored": False}
        # the citizen asks for the status by SMS: answered through the phone
        ask = envelope("ev-11", f"CEK {code}", "081234567001", kit.clock().astimezone(WIB))
        assert (await webhook(url, KEY, ask, timestamp=now)).status_code == 200
        await until(lambda: len(gate.texts_to(REPORTER)) == 2)
        assert "Status pengaduan" in gate.texts_to(REPORTER)[-1]
    finally:
        stop.set()
        await asyncio.wait_for(daemon, 30)
    assert len(kit.rows("select id from complaints")) == 1
    assert len([m for m in tg.messages(PUPUK) if f"Pengaduan {code}" in m.visible]) == 1
    assert not tg.messages(TRIASE) and not tg.messages(JALAN)
    assert kit.complaint(code)["source"] == "hp" and kit.complaint(code)["reporter"] == REPORTER
    kit.check_privacy("Budi Santoso", "3522011203870004")


async def test_replies_survive_gateway_errors_and_a_crash_without_repeats(tmp_path: Path, tg: FakeTelegram,
                                                                         gate: FakeSMSGate) -> None:
    kit = android_kit(tmp_path, tg, gate)
    receiver = Source("hp", Config.model_validate(kit.data["sources"]["hp"]), Context(clock=kit.clock))
    await receiver.listen()  # the daemon was down: what the phone sent waits in the spool
    try:
        url = f"http://127.0.0.1:{receiver.port}/webhooks/sms"
        sent = envelope("ev-20", "Jalan poros desa berlubang", "081234567001", kit.clock().astimezone(WIB))
        assert (await webhook(url, KEY, sent, timestamp=kit.clock().timestamp())).status_code == 200
    finally:
        await receiver.close()

    gate.fail_next(1, 503)  # the gateway is briefly down: the acknowledgment waits and is retried
    await kit.pipeline().run_once(max_wait_secs=5)
    assert tg.messages(JALAN) and gate.texts_to(REPORTER) == []
    conn = sqlite3.connect(tmp_path / "forwarder.db")
    state, error = conn.execute("select state, last_error from followups where kind = 'ack'").fetchone()
    assert state != "sent" and "503" in error
    # the failing way back to citizens is visible: channel health, status and the outbox list
    assert conn.execute("select state from channel_state where channel = 'citizen:sms:hp'").fetchone()[0] == "down"
    conn.close()
    from click.testing import CliRunner

    from forwarder.cli import main

    config = tmp_path / "forwarder.yaml"
    config.write_text(json.dumps(kit.data), encoding="utf-8")  # JSON is YAML
    shown = CliRunner().invoke(main, ["status", "--config", str(config)])
    assert shown.exit_code == 0 and "messages to citizens" in shown.output and "503" in shown.output, shown.output
    listed = CliRunner().invoke(main, ["outbox", "list", "--config", str(config)])
    assert "to citizens, not sent yet" in listed.output and "ack" in listed.output, listed.output

    kit.clock.advance(minutes=5)
    await kit.once()
    (ack,) = gate.texts_to(REPORTER)
    assert kit.rows("select state from channel_state where channel = 'citizen:sms:hp'")[0]["state"] == "up"
    # a crash right after the phone took it, before it was recorded: found again, not resent
    conn = sqlite3.connect(tmp_path / "forwarder.db")
    with conn:
        conn.execute("update followups set state = 'sending' where kind = 'ack'")
    conn.close()
    await kit.once()
    assert gate.texts_to(REPORTER) == [ack]
    assert ("GET", f"/3rdparty/v1/messages/{gate.sent[0]['id']}") in gate.requests
    assert len(kit.rows("select id from complaints")) == 1


def test_without_api_the_citizen_is_not_answered_and_check_config_says_so(tmp_path: Path) -> None:
    from forwarder.citizen import check_sources

    data = {"version": 1, "database": str(tmp_path / "f.db"),
            "sources": {"hp": source_config(tmp_path)}, "sinks": {"out": {"type": "console"}},
            "groups": [{"name": "triase", "sink": "out", "chat_id": "-1", "fallback": True}],
            "citizen": {"acknowledge_sources": ["hp"]}}
    settings = parse_config(data, env={})
    problems, warnings = check_sources(settings)
    assert not problems
    assert any("api_url" in w for w in warnings), warnings
    assert json.loads(json.dumps(data))  # the config above is plain data


async def test_a_reply_answered_too_late_is_sent_once(tmp_path: Path, tg: FakeTelegram, gate: FakeSMSGate) -> None:
    kit = android_kit(tmp_path, tg, gate)
    kit.data["sources"]["hp"]["api_timeout_secs"] = 0.5
    kit.settings = parse_config(kit.data, env={})
    receiver = Source("hp", Config.model_validate(kit.data["sources"]["hp"]), Context(clock=kit.clock))
    await receiver.listen()
    try:
        url = f"http://127.0.0.1:{receiver.port}/webhooks/sms"
        sent = envelope("ev-30", "Pupuk subsidi langka", "081234567001", kit.clock().astimezone(WIB))
        assert (await webhook(url, KEY, sent, timestamp=kit.clock().timestamp())).status_code == 200
    finally:
        await receiver.close()
    gate.delay_next = 2.0  # the phone takes the SMS but answers after the client gave up
    await kit.pipeline().run_once(max_wait_secs=3)
    assert len(gate.texts_to(REPORTER)) == 1
    kit.clock.advance(minutes=5)
    await kit.once()  # the retry sends the same id: 409, so it counts as sent, not sent again
    assert len(gate.texts_to(REPORTER)) == 1
    conn = sqlite3.connect(tmp_path / "forwarder.db")
    assert conn.execute("select state from followups where kind = 'ack'").fetchone()[0] == "sent"
    conn.close()


async def test_odd_webhooks_are_refused_or_kept_and_never_block_the_rest(tmp_path: Path) -> None:
    clock = Clock()
    now = clock().timestamp()
    wib = clock().astimezone(WIB)
    async with listening(tmp_path, clock) as (source, url):
        config = source.config
        # anyone can send a header that is not ASCII, or a timestamp that is not a number
        odd = envelope("x2", "a", "0812", wib)
        raw = json.dumps(odd).encode()
        async with httpx.AsyncClient() as client:
            latin = await client.post(url, content=raw, headers={"X-Signature": ("ä" * 64).encode("latin-1"),
                                                                 "X-Timestamp": str(int(now))})
            sig = hmac.new(KEY.encode(), raw + b"nan", hashlib.sha256).hexdigest()
            bad_time = await client.post(url, content=raw, headers={"X-Signature": sig, "X-Timestamp": "nan"})
        assert latin.status_code == 401 and bad_time.status_code == 401
        # a body in UTF-16 is refused on receipt, not stored as mojibake
        assert (await webhook(url, KEY, json.dumps(odd).encode("utf-16"), timestamp=now)).status_code == 400
        # the spool deleted while the daemon runs is made again
        for suffix in ("", "-wal", "-shm"):
            Path(f"{config.spool}{suffix}").unlink(missing_ok=True)
        later = envelope("x5", "lampu jalan mati", "081234567001", wib)
        assert (await webhook(url, KEY, later, timestamp=now)).json() == {"stored": True}
    polled = await source.poll(None)
    assert [c.text for c in polled.complaints] == ["lampu jalan mati"]
    # a damaged spool row is left in the spool for an admin, and does not hold up the others
    conn = sqlite3.connect(config.spool)
    with conn:
        conn.execute("insert into webhook_inbox(source, event_key, body, spooled_at) values "
                     "('hp', 'd:1', '{not json', '2026-11-30T02:00:00+00:00')")
    await source.commit(polled)
    again = await source.poll(None)
    assert again.complaints == [] and again.token == []
    await source.commit(again)
    assert conn.execute("select processed from webhook_inbox where event_key = 'd:1'").fetchone()[0] == 0
    conn.close()


async def test_a_year_one_time_and_a_numeric_message_are_read(tmp_path: Path) -> None:
    clock = Clock()
    async with listening(tmp_path, clock) as (source, url):
        year_one = envelope("y1", "jalan rusak", "081234567001", clock().astimezone(WIB))
        year_one["payload"]["receivedAt"] = "0001-01-01T00:00:00.000+07:00"
        assert (await webhook(url, KEY, year_one, timestamp=clock().timestamp())).status_code == 200
        number = envelope("y2", "x", "081234567001", clock().astimezone(WIB))
        number["payload"]["message"] = 12345
        assert (await webhook(url, KEY, number, timestamp=clock().timestamp())).status_code == 200
    polled = await source.poll(None)
    assert [c.text for c in polled.complaints] == ["jalan rusak", "12345"]
    assert polled.complaints[0].received_at.year == clock().year  # the spool time, not year 1
