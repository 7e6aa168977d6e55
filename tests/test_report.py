"""Response-time figures on a fixture with known timestamps (weekend, holidays, re-route, reopen,
not-ours, duplicate, spam, undelivered): every figure is checked against a hand count."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from forwarder.config import Settings, parse_config
from forwarder.report import Deadlines, Row, build_report, load_assignments, median_p90, parse_since
from forwarder.store import Store, iso
from forwarder.workdays import WorkCalendar

WIB = ZoneInfo("Asia/Jakarta")
FIXTURE = Path(__file__).parent / "data" / "report_fixture.yaml"
GROUP_CHATS = {"jalan-dander": "-1001", "jalan-kota": "-1002", "pupuk": "-1003", "triase": "-1009"}

CONFIG: dict[str, Any] = {
    "version": 1,
    "sinks": {"tg": {"type": "console"}},
    "groups": [
        {"name": "jalan-dander", "sink": "tg", "chat_id": "-1001", "topics": ["jalan"],
         "kecamatan": ["Dander"], "dinas": "DPU"},
        {"name": "jalan-kota", "sink": "tg", "chat_id": "-1002", "topics": ["jalan"], "dinas": "DPU"},
        {"name": "pupuk", "sink": "tg", "chat_id": "-1003", "topics": ["pupuk"],
         "dinas": "Dinas Pertanian"},
        {"name": "triase", "sink": "tg", "chat_id": "-1009", "fallback": True},
    ],
    "heads": {
        "groups": [
            {"name": "pimpinan", "sink": "tg", "chat_id": "-1005"},
            {"name": "kepala-dpu", "sink": "tg", "chat_id": "-1006", "dinas": ["DPU"]},
        ],
        "people": [{"name": "Kadis PU", "sink": "tg", "chat_id": "5001",
                    "groups": ["jalan-dander", "jalan-kota"]}],
        "daily_digest_hour": 7,
        "weekly_summary_weekday": "wednesday",
        "weekly_summary_hour": 8,
    },
}


def wib(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=WIB)


def fixture_now() -> datetime:
    return wib(yaml.safe_load(FIXTURE.read_text())["now"])


def fill_store(store: Store, fixture: Path = FIXTURE) -> dict[str, int]:
    """Insert the fixture's complaints, deliveries and events; returns key -> complaint id."""
    data = yaml.safe_load(fixture.read_text(encoding="utf-8"))
    ids: dict[str, int] = {}
    conn = store.db.conn
    with conn:
        for n, c in enumerate(data["complaints"]):
            received = iso(wib(c["received"]))
            cur = conn.execute(
                "insert into complaints(source, external_id, channel, received_at, stored_at, reporter, "
                "text, meta, topic, confidence, kecamatan, tracking_code, status) "
                "values ('sms', ?, 'sms', ?, ?, '+6281234567890', 'isi', '{}', ?, 0.9, ?, ?, 'baru')",
                (c["key"], received, received, c["topic"], c["kecamatan"], f"T{n:05d}"),
            )
            cid = ids[c["key"]] = cur.lastrowid
            events = [[c["received"], "received", {"source": "sms"}], *c["events"]]
            deliveries: dict[str, tuple[str, str | None]] = {}
            for at, kind, payload in events:
                conn.execute("insert into events(complaint_id, at, actor, kind, data) values (?,?,?,?,?)",
                             (cid, iso(wib(at)), "system", kind, json.dumps(payload)))
                if kind == "routed":
                    for g in payload["groups"]:
                        deliveries.setdefault(g, ("pending", None))
                elif kind == "rerouted":
                    deliveries.setdefault(payload["to_group"], ("pending", None))
                elif kind == "delivered":
                    deliveries[payload["group"]] = ("sent", iso(wib(at)))
                elif kind == "delivery_dead":
                    deliveries[payload["group"]] = ("dead", None)
            for group, (state, sent_at) in deliveries.items():
                conn.execute(
                    "insert into deliveries(complaint_id, group_name, sink, chat_id, state, created_at, "
                    "sent_at) values (?,?,?,?,?,?,?)",
                    (cid, group, "tg", GROUP_CHATS[group], state, received, sent_at))
    return ids


@pytest.fixture
def settings() -> Settings:
    return parse_config(CONFIG, env={})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "f.db")
    fill_store(s)
    yield s
    s.close()


def report(store: Store, settings: Settings, by: str):
    return build_report(store, by=by, since=wib("2026-08-01T00:00"), until=fixture_now(),
                        now=fixture_now(), calendar=WorkCalendar.from_settings(settings),
                        deadlines=Deadlines(3, 5), dinas_of={g.name: g.dinas for g in settings.groups})


def rows(rep) -> dict[str, Row]:
    return {r.key: r for r in [*rep.rows, rep.total]}


def check(row: Row, **expected: Any) -> None:
    for name, value in expected.items():
        got = getattr(row, name)
        if isinstance(value, float):
            assert got == pytest.approx(value), f"{row.key}.{name}"
        else:
            assert got == value, f"{row.key}.{name}"


def test_by_group(store: Store, settings: Settings) -> None:
    r = rows(report(store, settings, "group"))
    assert set(r) == {"jalan-dander", "jalan-kota", "pupuk", "triase", "total"}
    # C1 20 h (weekend and 17 Aug skipped), C10 96 h, C12 1 h; done C1 48 h, C10 168 h
    check(r["jalan-dander"], assigned=4, acknowledged=3, ack_median_h=20.0, ack_p90_h=80.8, done=2,
          done_median_h=108.0, done_p90_h=156.0, ack_within_pct=200 / 3, done_within_pct=50.0,
          reopened_pct=0.0, open=2, overdue=0, moved=1)
    # C4 charged from its delivery to jalan-kota at 15:00, not from 10:00 in triage; C11 undecided
    check(r["jalan-kota"], assigned=2, acknowledged=1, ack_median_h=18.0, ack_p90_h=18.0, done=1,
          done_median_h=48.0, done_within_pct=100.0, ack_within_pct=100.0, open=1, overdue=0, moved=0)
    # C2 4 h / 24 h then reopened; C3 acknowledged exactly at its deadline (72 h), overdue for done
    check(r["pupuk"], assigned=2, acknowledged=2, ack_median_h=38.0, ack_p90_h=65.2, done=1,
          done_median_h=24.0, ack_within_pct=100.0, done_within_pct=50.0, reopened_pct=100.0,
          open=1, overdue=1, moved=0)
    # ... C2's second round, from the reopening on Wed 12 Aug 09:00, is counted apart: nobody
    # acted, so it missed both of its own deadlines (Tue 18 Aug 09:00, Thu 20 Aug 09:00)
    check(r["pupuk"], reopen_rounds=1, reopen_ack_median_h=None, reopen_ack_within_pct=0.0, reopen_done=0,
          reopen_done_median_h=None, reopen_done_within_pct=0.0, reopen_open=1, reopen_overdue=1)
    check(r["jalan-dander"], reopen_rounds=0, reopen_ack_within_pct=None, reopen_open=0)
    check(r["triase"], assigned=0, acknowledged=0, ack_median_h=None, ack_within_pct=None,
          reopened_pct=None, moved=1)
    check(r["total"], assigned=8, acknowledged=6, ack_median_h=19.0, ack_p90_h=84.0, done=4,
          done_median_h=48.0, done_p90_h=132.0, ack_within_pct=500 / 6, done_within_pct=60.0,
          reopened_pct=25.0, open=4, overdue=1, moved=2)
    check(r["total"], reopen_rounds=1, reopen_open=1, reopen_overdue=1)


def test_by_dinas_and_left_out(store: Store, settings: Settings) -> None:
    rep = report(store, settings, "dinas")
    r = rows(rep)
    assert set(r) == {"DPU", "Dinas Pertanian", "(tanpa dinas)", "total"}
    check(r["DPU"], assigned=6, acknowledged=4, ack_median_h=19.0, ack_p90_h=73.2, done=3,
          done_median_h=48.0, done_p90_h=144.0, ack_within_pct=75.0, done_within_pct=200 / 3,
          open=3, overdue=0, moved=1)
    check(r["Dinas Pertanian"], assigned=2, done=1, done_within_pct=50.0, reopened_pct=100.0)
    assert rep.excluded == {"spam": 1, "duplicate": 1, "not_ours": 1, "moved": 1, "undelivered": 1}


def test_by_topic_and_kecamatan_follow_the_reroute(store: Store, settings: Settings) -> None:
    r = rows(report(store, settings, "kecamatan"))
    # C4 had no kecamatan; the officer's re-route named Bojonegoro; C11 too
    check(r["Bojonegoro"], assigned=2, acknowledged=1, done=1)
    check(r["Dander"], assigned=4, moved=1)
    check(r["(tidak diketahui)"], assigned=0, moved=1)  # C4 in triage, before the re-route
    assert set(r) == {"Bojonegoro", "Dander", "Baureno", "Kedungadem", "(tidak diketahui)", "total"}
    t = rows(report(store, settings, "topic"))
    assert set(t) == {"jalan", "pupuk", "total"}  # C7 (no topic) is spam: left out
    check(t["jalan"], assigned=6, moved=2, open=3)
    check(t["pupuk"], assigned=2, moved=0, overdue=1)


def test_period_and_judgement_time(store: Store, settings: Settings) -> None:
    cal = WorkCalendar.from_settings(settings)
    # only complaints received from 18 Aug on: C8, C11, C12; judged on 31 Aug: C8 missed its
    # acknowledgment deadline (Sat 29 00:00) but its done deadline is Wed 2 Sep 00:00; C12 is late
    rep = build_report(store, by="group", since=wib("2026-08-18T00:00"), until=wib("2026-09-01T00:00"),
                       now=wib("2026-08-31T12:00"), calendar=cal, deadlines=Deadlines(3, 5),
                       dinas_of={})
    r = rows(rep)
    check(r["jalan-dander"], assigned=2, ack_within_pct=50.0, done_within_pct=0.0, overdue=1)
    check(r["jalan-kota"], assigned=1, ack_within_pct=0.0, overdue=1)
    assert rep.excluded == {}
    # a looser deadline turns C10 into an on-time acknowledgment (96 h <= 5 days)
    loose = rows(report_with(store, cal, Deadlines(5, 10)))
    check(loose["jalan-dander"], ack_within_pct=100.0, done_within_pct=100.0)


def report_with(store: Store, cal: WorkCalendar, deadlines: Deadlines):
    return build_report(store, by="group", since=wib("2026-08-01T00:00"), until=fixture_now(),
                        now=fixture_now(), calendar=cal, deadlines=deadlines, dinas_of={})


def test_assignments_record_the_reroute(store: Store) -> None:
    loaded = load_assignments(store, wib("2026-08-13T00:00"), wib("2026-08-14T00:00"))
    triage, kota = sorted(loaded.assignments, key=lambda a: a.group, reverse=True)
    assert (triage.group, triage.ended, triage.measured) == ("triase", "moved", False)
    assert (kota.group, kota.start, kota.topic, kota.kecamatan) == (
        "jalan-kota", wib("2026-08-13T15:00"), "jalan", "Bojonegoro")


def test_median_p90_and_since() -> None:
    assert median_p90([]) == (None, None)
    assert median_p90([5.0]) == (5.0, 5.0)
    assert median_p90([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0]) == (6.0, 10.0)
    cal = WorkCalendar()
    now = wib("2026-08-26T12:00")
    assert parse_since("30d", now, cal) == wib("2026-07-27T12:00")
    assert parse_since("2w", now, cal) == wib("2026-08-12T12:00")
    assert parse_since("12h", now, cal) == wib("2026-08-26T00:00")
    assert parse_since("2026-08-01", now, cal) == wib("2026-08-01T00:00")
    for bad in ("", "30", "yesterday", "2026-13-01", "-3d"):
        with pytest.raises(ValueError, match="30d"):
            parse_since(bad, now, cal)


def test_as_of_ignores_later_events(store: Store, settings: Settings) -> None:
    at = wib("2026-08-14T12:00")
    rep = build_report(store, by="group", since=wib("2026-08-01T00:00"), until=at, now=at,
                       calendar=WorkCalendar.from_settings(settings), deadlines=Deadlines(3, 5),
                       dinas_of={})
    r = rows(rep)
    # C4 was acknowledged at 09:00 but done only on 18 Aug; C3's acknowledgment came on 18 Aug
    check(r["jalan-kota"], assigned=1, acknowledged=1, done=0, open=1)
    check(r["pupuk"], assigned=2, acknowledged=1, done=1, open=1, overdue=0, reopened_pct=100.0)
