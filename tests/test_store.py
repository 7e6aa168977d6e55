"""The store: idempotent intake in one transaction, the outbox's state changes, recovery."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from forwarder.errors import StoreError
from forwarder.store import (DEAD, FAILED, PENDING, SENDING, SENT, Destination, NewComplaint, Store,
                             TRACKING_ALPHABET)
from forwarder.types import IncomingComplaint, Place, Tag

T0 = datetime(2026, 11, 29, 7, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def item(external_id: str, text: str = "pupuk kosong", groups=("pupuk",)) -> NewComplaint:
    return NewComplaint(
        incoming=IncomingComplaint(external_id, T0, "+6281234567890", text, "sms", {"inbox_ids": [1]}),
        tag=Tag("pupuk", 0.9, "v1", ("pupuk", "kosong")),
        place=Place("Dander", "Ngumpakdalem"),
        destinations=[Destination(g, "out", f"-{i + 1}") for i, g in enumerate(groups)],
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "var" / "f.db", clock=Clock())


def test_ingest_is_idempotent_and_saves_cursor_with_complaints(store: Store) -> None:
    ids = store.ingest("sms", [item("inbox:1"), item("inbox:2", groups=("pupuk", "triase"))], "c1")
    assert len(ids) == 2
    again = store.ingest("sms", [item("inbox:1"), item("inbox:3")], "c2")
    assert len(again) == 1
    assert store.cursor("sms") == "c2"
    assert store.db["complaints"].count == 3
    assert store.db["deliveries"].count == 4
    assert store.known_external_ids("sms", ["inbox:1", "inbox:9"]) == {"inbox:1"}
    # the same external id from another source is another complaint
    assert store.ingest("x", [item("inbox:1")], None)
    row = store.complaint(ids[0])
    assert row["kecamatan"] == "Dander" and row["topic"] == "pupuk" and row["status"] == "baru"
    assert len(row["tracking_code"]) == 6 and set(row["tracking_code"]) <= set(TRACKING_ALPHABET)
    assert store.complaint_by_code(row["tracking_code"].lower())["id"] == ids[0]


def test_wal_and_migrations(store: Store, tmp_path: Path) -> None:
    assert store.db.journal_mode == "wal"
    store.close()
    again = Store.open(tmp_path / "var" / "f.db")  # migrating twice is a no-op
    assert {"complaints", "deliveries", "source_state", "events", "labels"} <= set(again.db.table_names())


def test_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        Store.open(junk)


def test_delivery_lifecycle_and_crash_recovery(store: Store) -> None:
    store.ingest("sms", [item("inbox:1")], None)
    (d,) = store.open_deliveries()
    assert d.state == PENDING
    store.claim(d.id, parts_total=2)
    assert store.delivery(d.id).state == PENDING  # waiting for a pacing slot is not in flight
    assert store.recover_in_flight() == []
    store.sending(d.id)
    store.part_sent(d.id, "101")
    d = store.delivery(d.id)
    assert d.state == PENDING and d.parts_sent == 1 and not d.uncertain
    store.sending(d.id)
    # the daemon dies here, part 2 in flight; at restart it is resent, marked uncertain
    assert store.recover_in_flight() == [d.id]
    d = store.delivery(d.id)
    assert d.state == PENDING and d.uncertain and d.parts_sent == 1
    store.claim(d.id, parts_total=2)
    store.sending(d.id)
    store.part_sent(d.id, "102")
    d = store.delivery(d.id)
    assert d.state == SENT and d.message_ids == ["101", "102"]
    kinds = [r["kind"] for r in store.db["events"].rows]
    assert kinds == ["received", "routed", "delivered"]


def test_reschedule_dead_requeue_drop(store: Store) -> None:
    store.ingest("sms", [item("inbox:1", groups=("a", "b"))], None)
    a, b = store.open_deliveries()
    store.claim(a.id, 1)
    store.reschedule(a.id, "boom", T0 + timedelta(seconds=30))
    assert store.delivery(a.id).state == FAILED and store.delivery(a.id).attempts == 1
    store.claim(a.id, 1)
    store.reschedule(a.id, "429", T0, count_attempt=False)
    assert store.delivery(a.id).attempts == 1
    store.mark_dead(a.id, "gone")
    assert store.delivery(a.id).state == DEAD
    assert [d.id for d in store.open_deliveries()] == [b.id]
    assert store.requeue([a.id]) == 1 and store.delivery(a.id).state == PENDING
    assert store.drop([a.id], "duplicate") == 1 and store.delivery(a.id).state == DEAD
    assert store.add_delivery(a.complaint_id, Destination("triase", "out", "-9"), "test")
    assert not store.add_delivery(a.complaint_id, Destination("triase", "out", "-9"), "test")


def test_chat_override_moves_open_deliveries(store: Store) -> None:
    store.ingest("sms", [item("inbox:1"), item("inbox:2")], None)
    first, second = store.open_deliveries()
    store.claim(first.id, 1)
    store.sending(first.id)
    store.part_sent(first.id, "1")
    store.set_chat_override("out", "-1", "-1001", "migrated")
    assert store.chat_override("out", "-1") == "-1001"
    assert store.delivery(first.id).chat_id == "-1"  # sent stays as it was
    assert store.delivery(second.id).chat_id == "-1001"


def test_busy_database_waits_instead_of_failing(tmp_path: Path) -> None:
    path = tmp_path / "f.db"
    store = Store.open(path)
    other = sqlite3.connect(path)
    other.execute("begin immediate")
    other.execute("insert into source_state(source) values ('other')")
    other.commit()  # released at once: the writer below must succeed
    assert store.ingest("sms", [item("inbox:1")], "c")
