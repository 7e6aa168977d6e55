"""The working-day calendar: weekends, Indonesian holidays, cuti bersama, local days off."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from forwarder.config import parse_config
from forwarder.workdays import WorkCalendar

WIB = ZoneInfo("Asia/Jakarta")


def wib(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=WIB)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar("Asia/Jakarta", extra_holidays={date(2026, 10, 20): "Hari Jadi Bojonegoro"})


@pytest.mark.parametrize(("day", "working", "name"), [
    ("2026-08-14", True, None),                           # Friday
    ("2026-08-15", False, None),                          # Saturday
    ("2026-08-16", False, None),                          # Sunday
    ("2026-08-17", False, "Hari Kemerdekaan Republik Indonesia"),
    ("2026-08-25", False, "Maulid Nabi Muhammad"),
    ("2026-03-20", False, "Cuti Bersama Hari Raya Idul Fitri"),  # joint leave (government category)
    ("2026-12-24", False, "Cuti Bersama Hari Raya Natal"),
    ("2026-10-20", False, "Hari Jadi Bojonegoro"),          # from the config
    ("2026-10-21", True, None),
])
def test_days_off(cal: WorkCalendar, day: str, working: bool, name: str | None) -> None:
    d = date.fromisoformat(day)
    assert cal.is_working_day(d) is working
    assert cal.holiday_name(d) == name


def test_cuti_bersama_can_be_switched_off() -> None:
    plain = WorkCalendar(cuti_bersama=False)
    assert plain.is_working_day(date(2026, 12, 24))
    assert not plain.is_working_day(date(2026, 12, 25))  # Natal itself stays a holiday


def test_working_hours_skip_weekend_and_holiday(cal: WorkCalendar) -> None:
    # Fri 14:00 -> Tue 10:00 across Sat, Sun and Mon 17 Aug: 10 h + 10 h
    assert cal.working_hours(wib("2026-08-14T14:00"), wib("2026-08-18T10:00")) == 20
    assert cal.working_hours(wib("2026-08-15T09:00"), wib("2026-08-17T23:00")) == 0
    assert cal.working_hours(wib("2026-08-18T10:00"), wib("2026-08-14T14:00")) == 0
    # UTC input is read in WIB: 2026-08-16 20:00 UTC is Mon 17 Aug 03:00 WIB, a holiday
    assert cal.working_hours(datetime(2026, 8, 16, 20, tzinfo=UTC), wib("2026-08-18T01:00")) == 1


def test_deadline_in_working_days(cal: WorkCalendar) -> None:
    # Fri 14:00 + 3 working days: Fri 10 h, Tue 24 h, Wed 24 h, Thu 14 h
    assert cal.add_working_days(wib("2026-08-14T14:00"), 3) == wib("2026-08-20T14:00")
    # a clock started on a day off starts at 00:00 of the next working day
    assert cal.add_working_days(wib("2026-08-25T10:00"), 3) == wib("2026-08-29T00:00")
    assert cal.add_working_days(wib("2026-08-25T10:00"), 0) == wib("2026-08-26T00:00")
    # over the Idul Fitri holidays and cuti bersama (18-24 Mar 2026)
    assert cal.add_working_days(wib("2026-03-17T12:00"), 1) == wib("2026-03-25T12:00")
    # round trip
    start = wib("2026-12-23T16:30")
    assert cal.working_hours(start, cal.add_working_days(start, 5)) == pytest.approx(120)


def test_negative_time_is_refused(cal: WorkCalendar) -> None:
    with pytest.raises(ValueError):
        cal.add_working_time(wib("2026-08-14T14:00"), -1)


def test_calendar_from_config() -> None:
    settings = parse_config({
        "version": 1,
        "sinks": {"out": {"type": "console"}},
        "groups": [{"name": "t", "sink": "out", "chat_id": "-1", "fallback": True}],
        "calendar": {"cuti_bersama": False, "extra_holidays": [date(2026, 10, 20)]},
        "deadlines": {"acknowledge_days": 2, "done_days": 10},
    }, env={})
    cal = WorkCalendar.from_settings(settings)
    assert cal.holiday_name(date(2026, 10, 20)) == "libur daerah"
    assert cal.is_working_day(date(2026, 12, 24))
    assert settings.deadlines.acknowledge_days == 2 and settings.deadlines.done_days == 10
