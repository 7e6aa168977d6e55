"""A reopened complaint starts a new round: new deadlines counted in working days from the
reopening (told to the group), its own reminders and heads' alerts, and its own figures in the
report, the first round's left as they were. Through the fake Bot API and the Gammu-format
inbox, on the test's clock (Monday 30 Nov 2026 09:00 WIB; no day off before Christmas)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fakes.telegram_api import FakeTelegram
from test_loop_kit import JALAN, OFFICER, PUPUK, Kit, tg_fixture  # noqa: F401

from forwarder.config import parse_config
from forwarder.reminders import due_notices, pending_keys, record
from forwarder.report import Deadlines, Row, build_report
from forwarder.sources.gammu_schema import add_inbox_sms
from forwarder.store import Store
from forwarder.workdays import WorkCalendar

WIB = ZoneInfo("Asia/Jakarta")
HEADS = "-1001000000050"
NUMBER = "081234567001"


def wib(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=WIB)


def sms(kit: Kit, text: str) -> None:
    add_inbox_sms(kit.smsd_db, NUMBER, text, kit.clock(), timezone="UTC")


def with_heads(kit: Kit, weekly: bool) -> Any:
    """The kit's config with a heads' group for every dinas (overdue alerts go there; its weekly
    summary on Mondays 08:00 only when ``weekly``)."""
    heads = {"name": "pimpinan", "sink": "tg", "chat_id": HEADS, "weekly_summary": weekly}
    return parse_config({**kit.data, "heads": {"groups": [heads]}}, env={})


def notices_at(kit: Kit, at: datetime, *, mark: bool = False,
               weekly: bool = False) -> dict[tuple[str, str, str], str]:
    """(kind, subject, chat) -> text of every notice due at ``at``; ``mark``: record them sent."""
    settings = with_heads(kit, weekly)
    store = Store.open(kit.settings.database, clock=kit.clock)
    try:
        due = due_notices(store, settings, at)
        if mark:
            for notice in due:
                record(store, notice, at)
    finally:
        store.close()
    return {(kind, subject, chat): n.text for n in due for kind, subject, _, chat in pending_keys([n])}


def report_row(kit: Kit, group: str = "pu-jalan") -> Row:
    store = Store.open(kit.settings.database, clock=kit.clock)
    try:
        rep = build_report(store, by="group", since=kit.clock() - timedelta(days=120),
                           until=kit.clock() + timedelta(seconds=1), now=kit.clock(),
                           calendar=WorkCalendar.from_settings(kit.settings), deadlines=Deadlines(3, 5))
    finally:
        store.close()
    return {r.key: r for r in rep.rows}[group]


def first_round(row: Row) -> dict[str, Any]:
    names = ("assigned", "acknowledged", "ack_median_h", "done", "done_median_h", "ack_within_pct",
             "done_within_pct", "open", "overdue", "moved")
    return {n: getattr(row, n) for n in names}


async def taken_and_done(kit: Kit, tg: FakeTelegram) -> tuple[str, int, int]:
    """An SMS about a road; taken after 2 h, done on Tuesday 09:00. Returns code, id, message id."""
    sms(kit, "Jalan rusak parah di depan pasar, motor sering jatuh")
    await kit.once()
    row = kit.complaint()
    code, cid = row["tracking_code"], row["id"]
    first = kit.first_message(JALAN, code).message_id
    kit.clock.advance(hours=2)
    tg.push_callback_query(JALAN, first, f"a:terima:{cid}", user=OFFICER)
    await kit.once()
    kit.clock.advance(hours=22)
    tg.push_reply(JALAN, first, "/selesai Lubang sudah ditambal", user=OFFICER)
    await kit.once()
    assert kit.complaint(code)["status"] == "selesai"
    return code, cid, first


async def test_belum_starts_a_new_round_with_its_own_deadlines_alerts_and_figures(
        tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    code, cid, first = await taken_and_done(kit, tg)
    done_round = first_round(report_row(kit))
    assert done_round["ack_median_h"] == 2.0 and done_round["done_median_h"] == 24.0
    assert notices_at(kit, wib("2026-12-03T13:00")) == {}  # done: nothing to remind

    # Tuesday 12:00 the citizen says "belum": the group is told the new deadlines, counted in
    # working days from now (3 to acknowledge: Friday 12:00; 5 to done: over the weekend, Tuesday)
    kit.clock.advance(hours=3)
    sms(kit, "Belum pak, lubang dekat masjid masih ada")
    await kit.once()
    assert kit.complaint(code)["status"] == "dibuka_kembali"
    post = next(m.visible for m in tg.messages(JALAN)
                if m.reply_to_message_id == first and "BELUM" in m.visible)
    assert ("Batas baru (hari kerja sejak dibuka kembali): ditanggapi paling lambat 4 Des 2026 12:00 WIB, "
            "selesai paling lambat 8 Des 2026 12:00 WIB.") in post

    # the first round's figures are as they were; the new round is counted apart
    row = report_row(kit)
    assert first_round(row) == done_round and row.reopened_pct == 100.0
    assert (row.reopen_rounds, row.reopen_open, row.reopen_overdue, row.reopen_done) == (1, 1, 0, 0)

    # Thursday 13:00: 23 working hours before the new acknowledgment deadline: the group is
    # reminded, under the round's own subject (the first round's notices never silence it)
    due = notices_at(kit, wib("2026-12-03T13:00"), mark=True)
    assert set(due) == {("remind_ack", f"{cid}#2", JALAN)}
    assert f"- {code} (dibuka kembali 1 Des 2026 12:00 WIB): jalan; batas 4 Des 2026 12:00 WIB" in \
        due["remind_ack", f"{cid}#2", JALAN]
    assert notices_at(kit, wib("2026-12-03T14:00")) == {}  # once
    # Friday 12:30: the new acknowledgment deadline passed: the heads hear of it, once
    due = notices_at(kit, wib("2026-12-04T12:30"), mark=True)
    assert set(due) == {("overdue_ack", f"{cid}#2", HEADS)}
    assert "grup pu-jalan" in due["overdue_ack", f"{cid}#2", HEADS] and "batas 4 Des 2026 12:00 WIB" in \
        due["overdue_ack", f"{cid}#2", HEADS]
    assert notices_at(kit, wib("2026-12-04T13:00")) == {}

    # Friday 15:00 the officer takes it up again (late), Monday 15:00 reminded for done, and it is
    # done on Tuesday 10:00, within its new done deadline
    kit.clock.now = wib("2026-12-04T15:00")
    tg.push_callback_query(JALAN, first, f"a:proses:{cid}", user=OFFICER)
    await kit.once()
    assert set(notices_at(kit, wib("2026-12-07T15:00"), mark=True)) == {("remind_done", f"{cid}#2", JALAN)}
    weekly = notices_at(kit, wib("2026-12-07T15:00"), weekly=True)["weekly", "2026-W50", HEADS]
    assert "(tanpa dinas): 1 pengaduan, 1 selesai, 0 lewat batas" in weekly
    assert "dibuka kembali 1x: 0 selesai lagi, 0 lewat batas baru" in weekly
    kit.clock.now = wib("2026-12-08T10:00")
    tg.push_reply(JALAN, first, "/selesai Ditambal ulang", user=OFFICER)
    await kit.once()
    row = report_row(kit)
    assert first_round(row) == done_round
    assert (row.reopen_rounds, row.reopen_done, row.reopen_open, row.reopen_overdue) == (1, 1, 0, 0)
    assert row.reopen_ack_median_h == 75.0  # Tue 12:00 -> Fri 15:00, working hours
    assert row.reopen_ack_within_pct == 0.0 and row.reopen_done_within_pct == 100.0
    assert row.reopen_done_median_h == 118.0  # Tue 12:00 -> Tue 10:00 (the weekend skipped)
    assert notices_at(kit, wib("2026-12-09T12:00")) == {}  # done again: nothing due

    # reopened a second time: a third round, with deadlines from this reopening
    kit.clock.advance(hours=1)
    sms(kit, "belum")
    await kit.once()
    due = notices_at(kit, wib("2026-12-10T12:00"))  # 23 working hours before Fri 11 Dec 11:00
    assert set(due) == {("remind_ack", f"{cid}#3", JALAN)}
    assert "(dibuka kembali 8 Des 2026 11:00 WIB)" in due["remind_ack", f"{cid}#3", JALAN]
    assert report_row(kit).reopen_rounds == 2
    kit.check_privacy(NUMBER)


async def test_an_officer_taking_a_done_complaint_back_up_starts_a_round_acknowledged(
        tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    code, cid, first = await taken_and_done(kit, tg)  # done Tuesday 1 Dec 09:00
    kit.clock.advance(hours=1)
    tg.push_reply(JALAN, first, "/proses", user=OFFICER)
    await kit.once()
    assert kit.complaint(code)["status"] == "diproses"
    assert (f"Pengaduan {code} dibuka kembali: diproses. Batas selesai baru (hari kerja sejak dibuka "
            "kembali): selesai paling lambat 8 Des 2026 10:00 WIB.") in tg.visible_texts(JALAN)
    (event,) = kit.rows("select data from events where kind = 'in_progress'")
    assert json.loads(event["data"])["reopened"] is True
    # the citizen, asked "SUDAH/BELUM?" at the done, hears it is worked on again (once)
    told = [r["TextDecoded"] for r in kit.outbox_sms() if "dibuka kembali oleh petugas" in r["TextDecoded"]]
    assert told == [f"Pengaduan {code} dibuka kembali oleh petugas dan sedang diproses lagi. Cek status: kirim CEK {code}"]
    # acknowledged by that very action: only the done deadline is reminded, then alerted
    assert set(notices_at(kit, wib("2026-12-07T11:00"))) == {("remind_done", f"{cid}#2", JALAN)}
    assert set(notices_at(kit, wib("2026-12-08T11:00"))) == {("overdue_done", f"{cid}#2", HEADS)}
    row = report_row(kit)
    assert (row.done, row.done_median_h, row.reopened_pct) == (1, 24.0, 100.0)
    assert (row.reopen_rounds, row.reopen_ack_median_h, row.reopen_open) == (1, 0.0, 1)


async def test_a_complaint_older_than_the_reminders_lookback_is_still_reminded_once_reopened(
        tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Jalan ke desa putus, jembatan ambrol")
    await kit.once()
    row = kit.complaint()
    code, cid = row["tracking_code"], row["id"]
    first = kit.first_message(JALAN, code).message_id
    kit.clock.now = wib("2027-02-08T09:00")  # 70 days later (a long job)
    tg.push_reply(JALAN, first, "/selesai Jembatan darurat dipasang", user=OFFICER)
    await kit.once()
    kit.clock.advance(hours=1)
    sms(kit, "Belum, jembatannya goyang")
    await kit.once()
    assert kit.complaint(code)["status"] == "dibuka_kembali"
    # the new round's acknowledgment deadline is Thu 11 Feb 10:00
    due = notices_at(kit, wib("2027-02-10T12:00"))
    assert set(due) == {("remind_ack", f"{cid}#2", JALAN)}
    assert "batas 11 Feb 2027 10:00 WIB" in due["remind_ack", f"{cid}#2", JALAN]


async def test_a_reroute_after_done_leaves_the_done_counted(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Pupuk? bukan, akses ke sawah putus karena jembatan ambrol")  # the model reads "pupuk"
    await kit.once()
    code = kit.complaint()["tracking_code"]
    first = kit.first_message(PUPUK, code).message_id
    kit.clock.advance(hours=4)
    tg.push_reply(PUPUK, first, "/selesai Sudah dicek, ini urusan jalan", user=OFFICER)
    await kit.once()
    kit.clock.advance(hours=1)
    tg.push_reply(PUPUK, first, "/alihkan jalan", user=OFFICER)
    await kit.once()
    assert kit.complaint(code)["status"] == "dialihkan"
    pupuk = report_row(kit, "pertanian-pupuk")
    assert (pupuk.assigned, pupuk.done, pupuk.done_median_h, pupuk.moved, pupuk.open) == (1, 1, 4.0, 0, 0)
    jalan = report_row(kit, "pu-jalan")
    assert (jalan.assigned, jalan.done, jalan.open) == (1, 0, 1)  # its own clock, from its delivery
