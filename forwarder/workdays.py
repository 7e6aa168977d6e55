"""The working-day calendar that response deadlines are counted on.

A working day is a local date (in the deployment's zone, Asia/Jakarta by default) that is not a
Saturday or Sunday, not an Indonesian national holiday, not a *cuti bersama* (joint leave) day
unless switched off, and not one of the config's extra holidays (a local day off such as Hari Jadi
Bojonegoro, 20 October). National holidays and cuti bersama come from the ``holidays`` package
(``holidays.country_holidays("ID", categories=("public", "government"))``: the ``government``
category holds the cuti bersama of the yearly joint ministerial decree, SKB 3 Menteri), so no dates
are typed in here; upgrade that package each year to get the new decree.

Working time runs round the clock on working days and stops on the others: a complaint delivered
on Friday 14:00 WIB has used 10 working hours by Saturday, and its 3-working-day deadline is the
following Wednesday 14:00 WIB (Friday 10 h + Monday 24 h + Tuesday 24 h + Wednesday 14 h = 72 h).
A clock started on a day off starts at 00:00 of the next working day.

Default deadlines (``deadlines:`` in the config) are SP4N-LAPOR!'s, the national complaint system
set up under Perpres 76/2013 (Pengelolaan Pengaduan Pelayanan Publik), with its procedure in
Permenpan RB 62/2018 (Pedoman Teknis Pengelolaan Pengaduan Pelayanan Publik secara Nasional),
since replaced by Permenpan RB 5/2025 (Pedoman Sistem Pengaduan Pelayanan Publik Nasional). As
LAPOR! states them to citizens (lapor.go.id FAQ and app description): a report is verified and
dispatched within 3 working days, and the agency then has 5 working days to follow it up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: SP4N-LAPOR!'s figures, in working days (see the module docstring for the source).
SP4N_VERIFY_DAYS = 3
SP4N_FOLLOW_UP_DAYS = 5

DAY = timedelta(days=1)
_DAY_SECONDS = 86_400.0


class WorkCalendar:
    """Working days and working time in one time zone.

    ``zone``: IANA name (``Asia/Jakarta``). ``extra_holidays``: more days off, date -> name.
    ``cuti_bersama``: count the joint leave days as days off (default yes). ``weekend``: ISO
    weekday numbers that are never working days (6 = Saturday, 7 = Sunday).
    Raises ``zoneinfo.ZoneInfoNotFoundError`` for an unknown zone.
    """

    def __init__(
        self,
        zone: str = "Asia/Jakarta",
        *,
        extra_holidays: Mapping[date, str] | Iterable[date] = (),
        cuti_bersama: bool = True,
        weekend: tuple[int, ...] = (6, 7),
    ) -> None:
        self.zone = ZoneInfo(zone)
        try:
            import holidays  # imported here so that a missing package only stops the reports
        except ImportError as exc:
            raise ImportError("the working-day calendar needs the 'holidays' package: "
                              "pip install 'holidays>=0.109'") from exc
        categories = ("public", "government") if cuti_bersama else ("public",)
        self._national = holidays.country_holidays("ID", categories=categories, language="id")
        if isinstance(extra_holidays, Mapping):
            self._extra = dict(extra_holidays)
        else:
            self._extra = {d: "libur daerah" for d in extra_holidays}
        self._weekend = frozenset(weekend)

    @classmethod
    def from_settings(cls, settings: object) -> WorkCalendar:
        """The calendar of a checked config (its ``timezone`` and ``calendar:`` keys)."""
        cal = settings.calendar  # type: ignore[attr-defined]
        return cls(settings.timezone, extra_holidays=cal.extra_holidays,  # type: ignore[attr-defined]
                   cuti_bersama=cal.cuti_bersama)

    # -- days -----------------------------------------------------------------------------

    def holiday_name(self, day: date) -> str | None:
        """The name of the holiday on ``day`` (Indonesian), or None when it is none."""
        return self._extra.get(day) or self._national.get(day)

    def is_working_day(self, day: date) -> bool:
        return day.isoweekday() not in self._weekend and self.holiday_name(day) is None

    def local_date(self, moment: datetime) -> date:
        return self.local(moment).date()

    def local(self, moment: datetime) -> datetime:
        """``moment`` in the calendar's zone; naive datetimes are taken as UTC."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self.zone)

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.zone)

    def working_days_between(self, first: date, last: date) -> list[date]:
        """The working days from ``first`` to ``last``, both included."""
        days, day = [], first
        while day <= last:
            if self.is_working_day(day):
                days.append(day)
            day += DAY
        return days

    # -- time -----------------------------------------------------------------------------

    def working_seconds(self, start: datetime, end: datetime) -> float:
        """Seconds of working time between ``start`` and ``end`` (0 when ``end`` <= ``start``).

        Each working day counts from local 00:00 to the next 00:00; days off count nothing.
        """
        if end <= start:
            return 0.0
        start_l, end_l = self.local(start), self.local(end)
        total = 0.0
        day = start_l.date()
        while day <= end_l.date():
            if self.is_working_day(day):
                lo = max(start_l, self._midnight(day))
                hi = min(end_l, self._midnight(day + DAY))
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += DAY
        return total

    def working_hours(self, start: datetime, end: datetime) -> float:
        """:meth:`working_seconds` in hours."""
        return self.working_seconds(start, end) / 3600.0

    def add_working_time(self, start: datetime, seconds: float) -> datetime:
        """The moment when ``seconds`` of working time have passed since ``start`` (aware, in the
        calendar's zone). Raises ValueError for negative ``seconds``."""
        if seconds < 0:
            raise ValueError("seconds must be >= 0")
        moment = self.local(start)
        left = float(seconds)
        for _ in range(100_000):  # bounded: 270 years of days off would be a broken calendar
            day = moment.date()
            if self.is_working_day(day):
                day_end = self._midnight(day + DAY)
                room = (day_end - moment).total_seconds()
                if left <= room:
                    return moment + timedelta(seconds=left)
                left -= room
                moment = day_end
            else:
                moment = self._midnight(day + DAY)
        raise ValueError("no working days found in the calendar")

    def add_working_days(self, start: datetime, days: float) -> datetime:
        """The deadline ``days`` working days after ``start`` (each day = 24 working hours)."""
        return self.add_working_time(start, days * _DAY_SECONDS)
