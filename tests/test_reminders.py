"""Deadline reminders, heads' alerts, daily digests and the weekly summary, on the report fixture,
sent through the loopback fake Telegram Bot API; each goes out once."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from click.testing import CliRunner
from fakes.telegram_api import FakeTelegram, assert_no_personal_data, fake_telegram  # noqa: F401
from test_report import CONFIG, fill_store, fixture_now, wib

from forwarder.cli import main
from forwarder.config import Settings, parse_config
from forwarder.context import Context
from forwarder.reminders import MAX_LINES_PER_NOTICE, due_notices, notice_text, pending_keys, record, run_notices
from forwarder.sinks import telegram
from forwarder.store import Store

NOW = fixture_now()  # Wed 26 Aug 2026 12:00 WIB


@pytest.fixture
def settings() -> Settings:
    return parse_config(CONFIG, env={})


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "f.db")
    ids = fill_store(s)
    s.ids = ids  # type: ignore[attr-defined]
    yield s
    s.close()


def keys(notices) -> set[tuple[str, str, str, str]]:
    return set(pending_keys(notices))


def test_what_is_due_and_to_whom(store: Store, settings: Settings) -> None:
    ids = store.ids  # type: ignore[attr-defined]
    due = due_notices(store, settings, NOW)
    assert keys(due) == {
        # C11: no acknowledgment, its deadline Wed 26 Aug 15:00 is 3 working hours away
        ("remind_ack", str(ids["C11"]), "tg", "-1002"),
        # C12: acknowledged, done deadline Wed 26 Aug 14:00 is 2 working hours away
        ("remind_done", str(ids["C12"]), "tg", "-1001"),
        # C3 (pupuk, Dinas Pertanian) passed its done deadline on Thu 20 Aug 09:00: only the
        # heads' group of every dinas hears of it, not the DPU heads
        ("overdue_done", str(ids["C3"]), "tg", "-1005"),
        # C2 (pupuk) was done, then reopened by the citizen on Wed 12 Aug 09:00: its second round
        # was due to be acknowledged by Tue 18 Aug 09:00 and done by Thu 20 Aug 09:00; nobody acted
        ("overdue_ack", f"{ids['C2']}#2", "tg", "-1005"),
        ("overdue_done", f"{ids['C2']}#2", "tg", "-1005"),
        ("digest", "2026-08-26", "tg", "5001"),
        ("weekly", "2026-W35", "tg", "-1005"),
        ("weekly", "2026-W35", "tg", "-1006"),
    }
    text = {n.chat_id + n.keys[0][0]: n.text for n in due}
    assert "T00010" in text["-1002remind_ack"] and "belum ditanggapi" in text["-1002remind_ack"]
    assert "26 Agu 2026 15:00 WIB" in text["-1002remind_ack"]
    assert "T00011" in text["-1001remind_done"] and "26 Agu 2026 14:00 WIB" in text["-1001remind_done"]
    assert "T00002: grup pupuk (Dinas Pertanian)" in text["-1005overdue_done"]
    reopened = ("T00001 (dibuka kembali 12 Agu 2026 09:00 WIB): grup pupuk (Dinas Pertanian), pupuk, "
                "Kec. Baureno")
    assert f"{reopened}; batas 18 Agu 2026 09:00 WIB" in text["-1005overdue_ack"]
    assert f"{reopened}; batas 20 Agu 2026 09:00 WIB" in text["-1005overdue_done"]
    digest = text["5001digest"]
    assert "Kadis PU" in digest
    # C8 and C12 open in jalan-dander (C8 unacknowledged, delivered yesterday); C11 in jalan-kota
    assert "Grup jalan-dander: 2 terbuka (1 belum ditanggapi), 0 lewat batas; kemarin 1 masuk, 0 selesai." in digest
    assert "Grup jalan-kota: 1 terbuka (1 belum ditanggapi), 0 lewat batas; kemarin 0 masuk, 0 selesai." in digest
    weekly_dpu = text["-1006weekly"]
    # received 19-25 Aug: C8 and C11 (DPU); the DPU heads see only DPU
    assert "19 Agu 2026 - 25 Agu 2026" in weekly_dpu
    assert "DPU: 2 pengaduan, 0 selesai, 0 lewat batas" in weekly_dpu
    assert "Dinas Pertanian" not in weekly_dpu
    for n in due:
        assert "isi" not in n.text.split()  # never the complaint text
        assert_no_personal_data(n.text)


def test_nothing_twice_and_overdue_later(store: Store, settings: Settings) -> None:
    ids = store.ids  # type: ignore[attr-defined]
    for notice in due_notices(store, settings, NOW):
        record(store, notice, NOW)
    assert due_notices(store, settings, NOW) == []
    # 16:00 the same day: C11 missed its acknowledgment deadline, C12 its done deadline; both DPU
    later = wib("2026-08-26T16:00")
    assert keys(due_notices(store, settings, later)) == {
        ("overdue_ack", str(ids["C11"]), "tg", "-1005"), ("overdue_ack", str(ids["C11"]), "tg", "-1006"),
        ("overdue_done", str(ids["C12"]), "tg", "-1005"), ("overdue_done", str(ids["C12"]), "tg", "-1006"),
    }
    # next morning before 07:00 no digest; at 07:00 the new day's digest
    assert not any(k[0] == "digest" for k in keys(due_notices(store, settings, wib("2026-08-27T06:59"))))
    assert ("digest", "2026-08-27", "tg", "5001") in keys(due_notices(store, settings, wib("2026-08-27T07:00")))


def test_weekly_summary_timing(store: Store, settings: Settings) -> None:
    def weekly(at: str) -> set[str]:
        return {k[1] for k in keys(due_notices(store, settings, wib(at))) if k[0] == "weekly"}

    assert weekly("2026-08-26T07:59") == {"2026-W34"}  # before Wednesday 08:00: last week's is still due
    assert weekly("2026-08-26T08:00") == {"2026-W35"}
    assert weekly("2026-08-30T20:00") == {"2026-W35"}  # missed on Wednesday: sent late, once


def test_no_heads_no_lead_time_no_notices(store: Store) -> None:
    bare = parse_config({**CONFIG, "heads": {}, "deadlines": {"remind_before_hours": 0}}, env={})
    assert due_notices(store, bare, NOW) == []


async def test_run_notices_through_telegram(store: Store, settings: Settings,
                                            fake_telegram: FakeTelegram) -> None:  # noqa: F811
    cfg = telegram.Config(type="telegram", token=fake_telegram.token, api_base_url=fake_telegram.base_url)
    sink = telegram.Sink("tg", cfg, Context())
    await sink.start()
    pipeline = SimpleNamespace(store=store, settings=settings, sinks={"tg": sink})
    fake_telegram.kick("-1006")                   # the DPU heads removed the bot
    fake_telegram.flood("-1005", retry_after=1)   # one 429 for the heads' group of every dinas
    try:
        first = await run_notices(pipeline, NOW)
        assert {n.chat_id for n in first.sent} == {"-1001", "-1002", "5001"}
        assert {n.chat_id for n, _ in first.failed} == {"-1006"}
        assert {n.chat_id for n, _ in first.deferred} == {"-1005"}
        second = await run_notices(pipeline, NOW)
        assert {n.chat_id for n in second.sent} == {"-1005"}  # the deferred ones, now
        assert not second.failed and not second.deferred
        assert (await run_notices(pipeline, NOW)).sent == []
    finally:
        await sink.close()
    assert len(fake_telegram.texts("-1002")) == 1 and "T00010" in fake_telegram.texts("-1002")[0]
    assert len(fake_telegram.texts("-1005")) == 3  # overdue acknowledgments, overdue done, weekly
    assert len(fake_telegram.texts("5001")) == 1
    assert fake_telegram.texts("-1006") == []
    failed = store.db.execute("select kind, error from notices where state = 'failed'").fetchall()
    assert failed and all("kicked" in (e or "").lower() or "forbidden" in (e or "").lower()
                          for _, e in failed)


def test_notices_cli_dry_run(tmp_path: Path) -> None:
    db = tmp_path / "f.db"
    s = Store.open(db)
    fill_store(s)
    s.close()
    config = tmp_path / "groups.yaml"
    config.write_text(yaml.safe_dump({**CONFIG, "database": str(db)}), encoding="utf-8")
    result = CliRunner().invoke(main, ["notices", "--config", str(config), "--once", "--dry-run",
                                       "--as-of", "2026-08-26T12:00"])
    assert result.exit_code == 0, result.output
    assert "7 notice(s) due" in result.output and "Ringkasan harian" in result.output
    assert "── grup " in result.output  # headed by the chat's name in the config, not its id
    # the console sink prints them and they are marked sent
    sent = CliRunner().invoke(main, ["notices", "--config", str(config), "--once",
                                     "--as-of", "2026-08-26T12:00"])
    assert sent.exit_code == 0, sent.output
    assert "7 notice(s) sent, 0 refused, 0 left for later" in sent.output
    again = CliRunner().invoke(main, ["notices", "--config", str(config), "--once", "--dry-run",
                                      "--as-of", "2026-08-26T12:00"])
    assert "0 notice(s) due" in again.output


def test_heads_config_problems_have_paths() -> None:
    from forwarder.errors import ConfigError

    def problems(heads: dict) -> set[str]:
        bad = {**CONFIG, "sinks": {"tg": {"type": "telegram", "token": "123:abc"}}, "heads": heads}
        with pytest.raises(ConfigError) as info:
            parse_config(bad, env={})
        return {p.path for p in info.value.problems}

    assert problems({"weekly_summary_weekday": "senin", "daily_digest_hour": 24}) == {
        "heads.weekly_summary_weekday", "heads.daily_digest_hour"}
    got = problems({
        "groups": [{"name": "pimpinan", "sink": "tg", "chat_id": 1005, "dinas": ["PU"]},
                   {"name": "x", "sink": "wa", "chat_id": "-1"}],
        "people": [{"name": "Kadis", "sink": "tg", "chat_id": 5001, "groups": ["jalan", "pupuk"]}],
    })
    # a heads' group id must be a group's (negative); a head's private chat id is positive
    assert got == {"heads.groups[0].chat_id", "heads.groups[0].dinas[0]", "heads.groups[1].sink",
                   "heads.people[0].groups[0]"}


def test_a_backlog_is_counted_not_listed_line_by_line() -> None:
    """A trial imported 3,249 waiting SMS: one reminder listed 1,111 complaints (twenty Telegram
    messages in one group)."""
    lines = [f"T{i:05d}: jalan" for i in range(1111)]
    text = notice_text("Pengingat:", lines)
    assert text.count("\n") == MAX_LINES_PER_NOTICE + 1 and len(text) < 4096
    assert text.endswith(f"dan {1111 - MAX_LINES_PER_NOTICE} pengaduan lain (daftar lengkap: forwarder report).")
    assert notice_text("Pengingat:", lines[:3]) == "Pengingat:\nT00000: jalan\nT00001: jalan\nT00002: jalan"


def test_a_complaint_another_group_finished_is_not_reminded(store: Store, settings: Settings) -> None:
    """A complaint posted to two groups and marked done by one is done: the other group's part
    stays open in the report, but its officers are not reminded of it (nor the heads alerted)."""
    ids = store.ids  # type: ignore[attr-defined]
    assert ("remind_ack", str(ids["C11"]), "tg", "-1002") in keys(due_notices(store, settings, NOW))
    with store.db.conn:
        store.db.conn.execute("update complaints set status = 'selesai' where id = ?", [ids["C11"]])
    due = keys(due_notices(store, settings, NOW))
    assert not any(subject == str(ids["C11"]) for _, subject, _, _ in due), due


def test_no_weekly_summary_for_a_week_before_the_first_complaint(tmp_path: Path, settings: Settings) -> None:
    """A trial: every new database posted "Ringkasan mingguan ... Tidak ada pengaduan" to the heads
    at its first start, for a week the forwarder was not running."""
    empty = Store.open(tmp_path / "new.db")
    try:
        assert not [n for n in due_notices(empty, settings, NOW) if n.keys[0][0] == "weekly"]
    finally:
        empty.close()
