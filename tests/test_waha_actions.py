"""Officers acting from WhatsApp groups: WAHA's signed ``message`` webhooks, posted by the loopback
fake of WAHA to the daemon's real listener, become actions; the officer is answered in the group
with a reply to their message; bad signatures, repeats, strangers and the bot's own messages change
nothing; the groups then get reminders."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes.waha import API_KEY, GROUP, TRIAGE, FakeWAHA, message_envelope, post_webhook
from test_loop_daemon import until
from test_loop_kit import KeywordModel

from forwarder.config import parse_config
from forwarder.context import Context
from forwarder.errors import ConfigError
from forwarder.pipeline import Pipeline
from forwarder.sinks.waha_webhooks import key_id, signature
from forwarder.sources.gammu_schema import add_inbox_sms, create_smsd_schema

WHEN = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
KEY = "kunci-hmac-waha-bojonegoro"
OFFICER = "6281234500001@c.us"
STRANGER_GROUP = "120363047777777777@g.us"


@pytest.fixture(name="waha")
def waha_fixture() -> Iterator[FakeWAHA]:
    with FakeWAHA() as fake:
        yield fake


def config(tmp_path: Path, waha: FakeWAHA, *, webhook: bool = True) -> dict[str, Any]:
    sink: dict[str, Any] = {"type": "waha", "api_base_url": waha.base_url, "api_key": API_KEY, "timeout_secs": 3,
                            "per_chat_per_minute": 1000, "per_chat_per_second": 1000, "overall_per_second": 1000}
    if webhook:
        sink["webhook"] = {"hmac_key": "${WAHA_WEBHOOK_HMAC_KEY}", "listen_port": 0}
    return {
        "version": 1, "database": str(tmp_path / "forwarder.db"), "kabupaten": "Bojonegoro",
        "sources": {"sms": {"type": "gammu_smsd", "database": str(tmp_path / "smsd.db"), "timezone": "UTC",
                            "multipart_timeout_secs": 0, "poll_interval_secs": 0.2}},
        "sinks": {"wa": sink},
        "groups": [{"name": "pertanian-pupuk", "sink": "wa", "chat_id": GROUP, "topics": ["pupuk"]},
                   {"name": "triase", "sink": "wa", "chat_id": TRIAGE, "fallback": True}],
        "citizen": {"acknowledge": False},
    }


def rows(tmp_path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(tmp_path / "forwarder.db")
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


class Daemon:
    def __init__(self, tmp_path: Path, pipeline: Pipeline) -> None:
        self.tmp_path = tmp_path
        self.pipeline = pipeline

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.pipeline.loop.listeners['wa'].port}/webhooks/waha"

    def status(self) -> str:
        return rows(self.tmp_path, "select status from complaints")[0][0]

    def forwarded_id(self) -> str:
        """The id the sink stored for the complaint's message in the pupuk group."""
        (ids,) = rows(self.tmp_path, "select message_ids from deliveries where chat_id = ?", GROUP)[0]
        return ids.strip('[]"').split('","')[0]

    def code(self) -> str:
        return rows(self.tmp_path, "select tracking_code from complaints")[0][0]


@asynccontextmanager
async def daemon(tmp_path: Path, waha: FakeWAHA, data: dict[str, Any], *,
                 clock: Any = lambda: WHEN) -> AsyncIterator[Daemon]:
    """The daemon running with one pupuk complaint already posted to the group. ``clock``: the
    daemon's (a test that runs a CLI command beside it gives the real one, which the CLI uses)."""
    create_smsd_schema(tmp_path / "smsd.db")
    add_inbox_sms(tmp_path / "smsd.db", "081234567001", "Pupuk urea langka di kios desa", WHEN, timezone="UTC")
    settings = parse_config(data, env={"WAHA_WEBHOOK_HMAC_KEY": KEY})
    pipeline = Pipeline.build(settings, context=Context(clock=clock), model=KeywordModel())
    stop = asyncio.Event()
    task = asyncio.create_task(pipeline.run(stop))
    try:
        # WAHA has the text a moment before the daemon records its message id: wait for the record
        await until(lambda: waha.texts(GROUP) and "wa" in pipeline.loop.listeners
                    and pipeline.loop.listeners["wa"].port
                    and rows(tmp_path, "select 1 from deliveries where chat_id = ? and state = 'sent'", GROUP))
        yield Daemon(tmp_path, pipeline)
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def terima(event_id: str, quoted: str | None, **kw: Any) -> dict[str, Any]:
    return message_envelope(event_id, kw.pop("chat", GROUP), kw.pop("participant", OFFICER),
                            kw.pop("text", "/terima"), quoted=quoted, timestamp=WHEN.timestamp(), **kw)


def test_the_hmac_is_wahas_documented_sha512() -> None:
    # WAHA docs, "HMAC authentication": this body under my-secret-key
    body = b'{"event":"message","session":"default","engine":"WEBJS"}'
    assert signature("my-secret-key", body).startswith("208f8a55dde9e05519e898b10b89bf0d")
    assert signature("my-secret-key", body).endswith("1631777076153fa89")


def test_message_ids_compare_by_key_id() -> None:
    assert key_id(f"true_{GROUP}_3EB0ABC") == "3EB0ABC"
    assert key_id(f"false_{GROUP}_3EB0ABC_{OFFICER}") == "3EB0ABC"
    assert key_id("3EB0ABC") == "3EB0ABC"


@pytest.mark.parametrize("form", ["bare", "serialized"])
async def test_an_officer_acknowledges_from_whatsapp(tmp_path: Path, waha: FakeWAHA, form: str) -> None:
    async with daemon(tmp_path, waha, config(tmp_path, waha)) as d:
        stored = d.forwarded_id()
        assert stored.startswith(f"true_{GROUP}_")  # what the WEBJS engine's sendText answered
        quoted = key_id(stored) if form == "bare" else stored  # WAHA's replyTo.id is the bare key id
        answer = await waha.push(d.url, KEY, terima("3EB0OFFICER1", quoted))
        assert answer.status_code == 200 and answer.json() == {"applied": True}
        assert d.status() == "diterima"
        await until(lambda: len(waha.replies(GROUP)) == 2)
        text, reply_to = waha.replies(GROUP)[1]
        assert text == f"Pengaduan {d.code()}: diterima."
        assert reply_to == f"false_{GROUP}_3EB0OFFICER1_{OFFICER}"  # a reply to the officer's message
        # the action is recorded as the WhatsApp officer's, with their WhatsApp name
        (actor, data), = rows(tmp_path, "select actor, data from events where kind = 'acknowledged'")
        assert actor == "wa:6281234500001" and "Pak Budi" in data
        # and the report counts the group's acknowledgment
        from forwarder.report import load_assignments
        from forwarder.store import Store

        store = Store.open(tmp_path / "forwarder.db")
        try:
            loaded = load_assignments(store, WHEN - timedelta(days=1), WHEN + timedelta(days=1), as_of=WHEN)
        finally:
            store.close()
        (mine,) = [a for a in loaded.assignments if a.group == "pertanian-pupuk"]
        assert mine.ack_at is not None
        # a done note comes with the command (no ForceReply on WhatsApp)
        await waha.push(d.url, KEY, terima("3EB0OFFICER2", quoted, text="/selesai"))
        await until(lambda: len(waha.replies(GROUP)) == 3)
        assert "/selesai <catatan>" in waha.replies(GROUP)[2][0] and d.status() == "diterima"
        await waha.push(d.url, KEY, terima("3EB0OFFICER3", quoted, text="/selesai kios sudah dikirim pupuk"))
        await until(lambda: d.status() == "selesai")
        # plain talk in the group, even as a reply, stays the officers' own
        talk = await waha.push(d.url, KEY, terima("3EB0OFFICER4", quoted, text="siap, meluncur"))
        assert talk.json() == {"applied": False}
    assert len(waha.replies(GROUP)) == 4 and waha.texts(TRIAGE) == []


async def test_bad_or_missing_hmac_is_refused_and_changes_nothing(tmp_path: Path, waha: FakeWAHA) -> None:
    async with daemon(tmp_path, waha, config(tmp_path, waha)) as d:
        quoted = key_id(d.forwarded_id())
        assert (await waha.push(d.url, None, terima("3EB0A1", quoted))).status_code == 401
        assert (await waha.push(d.url, "kunci-yang-salah-sekali", terima("3EB0A2", quoted))).status_code == 401
        forged = await waha.push(d.url, KEY, terima("3EB0A3", quoted), signature="00" * 64)
        assert forged.status_code == 401
        assert d.status() == "baru"
        assert rows(tmp_path, "select count(*) from telegram_updates")[0][0] == 0
    assert len(waha.replies(GROUP)) == 1  # only the complaint itself


async def test_a_webhook_delivered_twice_is_applied_once(tmp_path: Path, waha: FakeWAHA) -> None:
    async with daemon(tmp_path, waha, config(tmp_path, waha)) as d:
        quoted = key_id(d.forwarded_id())
        proses = terima("3EB0B1", quoted, text="/proses")
        assert (await waha.push(d.url, KEY, proses)).json() == {"applied": True}
        assert (await waha.push(d.url, KEY, proses)).json() == {"applied": False}  # WAHA's retry
        await until(lambda: len(waha.replies(GROUP)) == 2)
        assert d.status() == "diproses"
    assert len(rows(tmp_path, "select id from events where kind = 'in_progress'")) == 1
    assert len(waha.replies(GROUP)) == 2


async def test_strangers_and_the_bots_own_messages_are_ignored(tmp_path: Path, waha: FakeWAHA) -> None:
    async with daemon(tmp_path, waha, config(tmp_path, waha)) as d:
        quoted = key_id(d.forwarded_id())
        code = d.code()
        stranger = await waha.push(d.url, KEY, terima("3EB0C1", quoted, chat=STRANGER_GROUP, text=f"/terima {code}"))
        assert stranger.json() == {"ignored": "not an officer group of this sink"}
        own = await waha.push(d.url, KEY, terima("3EB0C2", quoted, from_me=True))
        assert own.json() == {"ignored": "own message"}
        other_event = await waha.push(d.url, KEY, terima("3EB0C3", quoted, event="message.any"))
        assert other_event.json() == {"ignored": "event message.any"}
        other_session = await waha.push(d.url, KEY, terima("3EB0C4", quoted, session="lain"))
        assert other_session.json() == {"ignored": "another session"}
        media = terima("3EB0C5", quoted)
        media["payload"].update(body="", hasMedia=True)
        assert (await waha.push(d.url, KEY, media)).json() == {"ignored": "no text"}
        old = terima("3EB0C6", quoted)
        old["payload"]["timestamp"] = int((WHEN - timedelta(days=2)).timestamp())
        assert (await waha.push(d.url, KEY, old)).json() == {"ignored": "too old"}
        broken = await post_webhook(d.url, KEY, {"event": "message", "payload": {"body": "/terima"}})
        assert broken.status_code == 400
        assert d.status() == "baru"
    assert len(waha.replies(GROUP)) == 1 and waha.replies(STRANGER_GROUP) == []


async def test_a_tracking_code_works_in_the_group_that_received_it(tmp_path: Path, waha: FakeWAHA) -> None:
    async with daemon(tmp_path, waha, config(tmp_path, waha)) as d:
        answer = await waha.push(d.url, KEY, terima("3EB0D1", None, text=f"/terima {d.code()}"))
        assert answer.json() == {"applied": True} and d.status() == "diterima"
        # the triage group never received it: refused, nothing changes
        refused = await waha.push(d.url, KEY, terima("3EB0D2", None, chat=TRIAGE, text=f"/proses {d.code()}"))
        assert refused.json() == {"applied": False} and d.status() == "diterima"
        await until(lambda: waha.replies(TRIAGE))
        assert waha.replies(TRIAGE)[0][0].startswith("Maaf")


async def test_waha_core_without_hmac_is_checked_by_a_token_in_the_url(tmp_path: Path, waha: FakeWAHA) -> None:
    """WAHA Core does not sign its webhooks: the URL's ?token= stands in for the HMAC."""
    data = config(tmp_path, waha)
    token = "t0ken-acak-dari-openssl-rand-hex"
    data["sinks"]["wa"]["webhook"] = {"url_token": token, "listen_port": 0}
    async with daemon(tmp_path, waha, data) as d:
        quoted = key_id(d.forwarded_id())
        assert (await waha.push(d.url, None, terima("3EB0T1", quoted))).status_code == 401
        assert (await waha.push(d.url + "?token=tebakan-yang-salah-sekali-ya", None,
                                terima("3EB0T2", quoted))).status_code == 401
        assert d.status() == "baru"
        ok = await waha.push(d.url + f"?token={token}", None, terima("3EB0T3", quoted))
        assert ok.json() == {"applied": True} and d.status() == "diterima"
    both = config(tmp_path, waha)
    both["sinks"]["wa"]["webhook"] = {"url_token": token, "hmac_key": KEY}
    for webhook in ({"url_token": token, "hmac_key": KEY}, {}, {"url_token": "pendek"}):
        both["sinks"]["wa"]["webhook"] = webhook
        with pytest.raises(ConfigError, match="sinks.wa.webhook"):
            parse_config(both, env={})


def test_webhook_config_is_checked_with_yaml_paths(tmp_path: Path) -> None:
    data = config(tmp_path, FakeWAHA())
    data["sinks"]["wa"]["webhook"] = {"hmac_key": "pendek", "listen_port": 70000, "extra": 1}
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    paths = sorted(p.path for p in info.value.problems)
    assert paths == ["sinks.wa.webhook.extra", "sinks.wa.webhook.hmac_key", "sinks.wa.webhook.listen_port"]
    data["sinks"]["wa"]["webhook"] = {"hmac_key": "${WAHA_WEBHOOK_HMAC_KEY}"}
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    assert "WAHA_WEBHOOK_HMAC_KEY" in str(info.value)
    parse_config(data, env={}, secrets_optional=True)  # reading commands need no secrets


async def test_with_the_webhook_whatsapp_groups_get_reminders(tmp_path: Path, waha: FakeWAHA) -> None:
    from forwarder.reminders import due_notices
    from forwarder.store import Store

    for webhook, expected in ((False, False), (True, True)):
        data = config(tmp_path / str(webhook), waha, webhook=webhook)
        (tmp_path / str(webhook)).mkdir()
        create_smsd_schema(tmp_path / str(webhook) / "smsd.db")
        add_inbox_sms(tmp_path / str(webhook) / "smsd.db", "081234567001", "pupuk langka", WHEN, timezone="UTC")
        settings = parse_config(data, env={"WAHA_WEBHOOK_HMAC_KEY": KEY})
        pipeline = Pipeline.build(settings, context=Context(clock=lambda: WHEN), model=KeywordModel())
        _, drained = await pipeline.run_once(max_wait_secs=3)
        assert drained.complete
        store = Store.open(settings.database)
        try:
            later = [n for d in (2.5, 6) for n in due_notices(store, settings, WHEN + timedelta(days=d))]
        finally:
            store.close()
        reminders = [n for n in later if n.chat_id == GROUP and n.text.startswith("Pengingat")]
        assert bool(reminders) is expected, (webhook, [n.text for n in later])


def test_the_once_only_window_covers_messages_stamped_ahead(tmp_path: Path) -> None:
    """Found in review: with max_age_secs equal to keep_days, a message stamped a few minutes
    ahead outlived its dedupe record and a replay acted twice."""
    data = config(tmp_path, FakeWAHA())
    data["sinks"]["wa"]["webhook"] = {"hmac_key": KEY, "keep_days": 1, "max_age_secs": 86400}
    with pytest.raises(ConfigError, match="sinks.wa.webhook"):
        parse_config(data, env={})
    data["sinks"]["wa"]["webhook"]["max_age_secs"] = 86400 - 600
    parse_config(data, env={})


async def test_a_message_without_a_timestamp_is_ignored(tmp_path: Path, waha: FakeWAHA) -> None:
    async with daemon(tmp_path, waha, config(tmp_path, waha)) as d:
        undated = terima("3EB0N1", key_id(d.forwarded_id()))
        del undated["payload"]["timestamp"]
        assert (await waha.push(d.url, KEY, undated)).json() == {"ignored": "no timestamp"}
        assert d.status() == "baru"
