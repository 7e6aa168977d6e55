"""The outbox dispatcher against the loopback fake Telegram Bot API: order, pacing, faults."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from fakes.telegram_api import FakeTelegram, assert_no_personal_data, fake_telegram  # noqa: F401
from forwarder.context import Context
from forwarder.health import Health
from forwarder.outbox import Dispatcher, SlidingWindow
from forwarder.routing import Triage
from forwarder.sinks import telegram
from forwarder.store import DEAD, SENT, Destination, NewComplaint, Store, parse_iso
from forwarder.types import ComplaintView, IncomingComplaint, Tag

T0 = datetime(2026, 11, 29, 7, 0, tzinfo=timezone.utc)
A, B, TRIAGE, SECRET_TRIAGE = "-1001000000001", "-1001000000002", "-1001000000099", "-1001000000098"


def make_store(tmp_path: Path, n: int, chats=(A,), confidential: frozenset[int] = frozenset()) -> Store:
    """``n`` complaints for ``chats``; those numbered in ``confidential`` are confidential."""
    store = Store.open(tmp_path / "f.db")
    items = [
        NewComplaint(
            IncomingComplaint(f"inbox:{i}", T0, "+6281234567890", f"pengaduan nomor {i} <b>&", "sms",
                              meta={"confidential": True} if i in confidential else {}),
            Tag("pupuk", 0.9, "v1", ("pupuk",)),
            None,
            [Destination(f"g{chat}", "tg", chat) for chat in chats],
        )
        for i in range(n)
    ]
    store.ingest("sms", items, None)
    return store


def view_for(store: Store):
    def view(complaint_id: int, delivery) -> ComplaintView:
        row = store.complaint(complaint_id)
        return ComplaintView(
            complaint_id=row["id"], tracking_code=row["tracking_code"], text=row["text"],
            channel=row["channel"], received_at=parse_iso(row["received_at"]), topic=row["topic"],
            confidence=row["confidence"], keywords=tuple(json.loads(row["keywords"])),
            note="mungkin dua kali" if delivery.uncertain else None,
        )
    return view


def dispatcher(store: Store, tg: FakeTelegram, triage: Triage | None = None,
               **pacing) -> tuple[Dispatcher, telegram.Sink]:
    cfg = telegram.Config(type="telegram", token=tg.token, api_base_url=tg.base_url,
                          read_timeout=pacing.pop("read_timeout", 2.0),
                          per_chat_per_minute=pacing.get("per_chat_per_minute", 1000),
                          per_chat_per_second=pacing.get("per_chat_per_second", 1000),
                          overall_per_second=pacing.get("overall_per_second", 1000))
    sink = telegram.Sink("tg", cfg, Context())
    d = Dispatcher(store, {"tg": sink}, {"tg": cfg}, view_for=view_for(store),
                   triage=triage or Triage(Destination("triase", "tg", TRIAGE)), health=Health(store.clock),
                   backoff_cap_secs=0.2)
    return d, sink


def codes_in(texts: list[str]) -> list[int]:
    return [int(t.split("pengaduan nomor ")[1].split()[0]) for t in texts if "pengaduan nomor" in t]


async def test_delivers_each_once_in_order(tmp_path: Path, fake_telegram: FakeTelegram) -> None:
    store = make_store(tmp_path, 6, chats=(A, B))
    d, sink = dispatcher(store, fake_telegram)
    await sink.start()
    result = await d.drain(10)
    await sink.close()
    assert result.complete and result.sent == 12
    for chat in (A, B):
        texts = fake_telegram.texts(chat)
        assert codes_in(texts) == list(range(6))
        for text in texts:
            assert_no_personal_data(text)
            assert "&lt;b&gt;&amp;" in text  # complaint text is escaped HTML
    assert {dl.state for dl in store.deliveries()} == {SENT}


async def test_429_pauses_only_that_chat(tmp_path: Path, fake_telegram: FakeTelegram) -> None:
    store = make_store(tmp_path, 3, chats=(A, B))
    fake_telegram.flood(A, retry_after=1, times=1)
    d, sink = dispatcher(store, fake_telegram)
    await sink.start()
    result = await d.drain(10)
    await sink.close()
    assert result.complete
    assert codes_in(fake_telegram.texts(A)) == [0, 1, 2]
    assert codes_in(fake_telegram.texts(B)) == [0, 1, 2]
    assert fake_telegram.count_429(A) == 1
    # the 429 is not counted as a failed attempt
    assert max(dl.attempts for dl in store.deliveries()) == 1


async def test_kicked_group_goes_to_triage(tmp_path: Path, fake_telegram: FakeTelegram) -> None:
    store = make_store(tmp_path, 3, chats=(A,))
    fake_telegram.kick(A)
    d, sink = dispatcher(store, fake_telegram)
    await sink.start()
    result = await d.drain(10)
    await sink.close()
    assert result.complete
    assert fake_telegram.texts(A) == []
    assert codes_in(fake_telegram.texts(TRIAGE)) == [0, 1, 2]
    dead = store.deliveries("state = ?", [DEAD])
    assert len(dead) == 3 and all("kick" in dl.last_error.lower() or "forbidden" in dl.last_error.lower()
                                  or "unreachable" in dl.last_error.lower() for dl in dead)
    # only one request reached the kicked chat: the others were diverted without trying
    assert len([c for c in fake_telegram.calls("sendMessage") if str(c.params.get("chat_id")) == A]) == 1


async def test_a_kicked_groups_confidential_complaints_go_to_the_confidential_triage(
        tmp_path: Path, fake_telegram: FakeTelegram) -> None:
    store = make_store(tmp_path, 4, chats=(A,), confidential=frozenset({1, 3}))
    fake_telegram.kick(A)
    both = Triage(Destination("triase", "tg", TRIAGE), Destination("triase-rahasia", "tg", SECRET_TRIAGE))
    d, sink = dispatcher(store, fake_telegram, triage=both)
    await sink.start()
    result = await d.drain(10)
    await sink.close()
    assert result.complete
    assert codes_in(fake_telegram.texts(SECRET_TRIAGE)) == [1, 3]
    assert codes_in(fake_telegram.texts(TRIAGE)) == [0, 2]  # the ordinary triage never gets 1 or 3


async def test_an_unreachable_confidential_triage_keeps_its_complaints(tmp_path: Path,
                                                                     fake_telegram: FakeTelegram) -> None:
    store = make_store(tmp_path, 2, chats=(A,), confidential=frozenset({0, 1}))
    fake_telegram.kick(A)
    fake_telegram.kick(SECRET_TRIAGE)
    both = Triage(Destination("triase", "tg", TRIAGE), Destination("triase-rahasia", "tg", SECRET_TRIAGE))
    d, sink = dispatcher(store, fake_telegram, triage=both)
    await sink.start()
    result = await d.drain(1)
    await sink.close()
    # waiting for the confidential triage group to be reachable again, not moved anywhere else
    assert {dl.group_name for dl in result.open} == {"triase-rahasia"}
    assert fake_telegram.messages(TRIAGE) == []
    assert store.deliveries("group_name = ?", ["triase"]) == []


async def test_migrated_group_is_followed(tmp_path: Path, fake_telegram: FakeTelegram) -> None:
    store = make_store(tmp_path, 2, chats=("-123",))
    fake_telegram.migrate("-123", "-1009999")
    d, sink = dispatcher(store, fake_telegram)
    await sink.start()
    result = await d.drain(10)
    await sink.close()
    assert result.complete
    assert codes_in(fake_telegram.texts("-1009999")) == [0, 1]
    assert store.chat_override("tg", "-123") == "-1009999"


async def test_parse_error_resends_plain(tmp_path: Path, fake_telegram: FakeTelegram) -> None:
    store = make_store(tmp_path, 1)
    fake_telegram.reject_html(A, times=1)
    d, sink = dispatcher(store, fake_telegram)
    await sink.start()
    assert (await d.drain(10)).complete
    await sink.close()
    (msg,) = fake_telegram.messages(A)
    assert msg.parse_mode in (None, "")
    assert "<b>&" in msg.text


async def test_revoked_token_stops_the_sink_and_keeps_everything(tmp_path: Path,
                                                                 fake_telegram: FakeTelegram) -> None:
    store = make_store(tmp_path, 2)
    d, sink = dispatcher(store, fake_telegram)
    await sink.start()
    fake_telegram.revoke_token()
    result = await d.drain(3)
    await sink.close()
    assert not result.complete and len(result.open) == 2
    assert "tg" in d.disabled_sinks
    assert all(dl.state != DEAD for dl in store.deliveries())


async def test_read_timeout_is_uncertain_and_resent_with_a_note(tmp_path: Path,
                                                                fake_telegram: FakeTelegram) -> None:
    store = make_store(tmp_path, 1)
    fake_telegram.timeout_after_delivery(A, delay=3.0, times=1)
    d, sink = dispatcher(store, fake_telegram, read_timeout=0.5)
    await sink.start()
    result = await d.drain(15)
    await sink.close()
    assert result.complete
    texts = fake_telegram.texts(A)
    assert len(texts) == 2 and "mungkin dua kali" in texts[1]
    (dl,) = store.deliveries()
    assert dl.uncertain and dl.state == SENT


async def test_connection_refused_then_back_delivers_in_order(tmp_path: Path,
                                                              fake_telegram: FakeTelegram) -> None:
    store = make_store(tmp_path, 4)
    d, sink = dispatcher(store, fake_telegram)
    await sink.start()
    fake_telegram.refuse_connections(seconds=1.0)
    result = await d.drain(20)
    await sink.close()
    assert result.complete
    assert codes_in(fake_telegram.texts(A)) == [0, 1, 2, 3]


def test_sliding_window_counts_from_the_answer_and_holds_places_in_flight() -> None:
    w = SlidingWindow(2, 1.0)
    w.acquire()
    w.acquire()
    assert w.delay(0.0) > 0  # both places held by messages in flight
    w.release(0.5)
    w.release(0.6)
    assert w.delay(1.4) == pytest.approx(0.1)  # counted from the answers, not the sends
    assert w.delay(1.6) == 0.0


def test_sliding_window_never_exceeds_its_limit() -> None:
    w = SlidingWindow(20, 60.0)
    now, sent = 0.0, []
    while now < 300:
        wait = w.delay(now)
        if wait <= 0:
            w.record(now)
            sent.append(now)
            now += 0.5
        else:
            now += wait
    for t in sent:
        assert sum(1 for s in sent if t <= s < t + 60) <= 20
    assert len(sent) >= 20 * 5
