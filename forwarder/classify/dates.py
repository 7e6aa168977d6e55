"""Read the dates of labelled complaints (``--date-column``) as admins' exports write them.

:func:`parse_date` accepts, in this order:

* ISO 8601 as :meth:`datetime.fromisoformat` reads it (Python 3.11): ``2026-03-04``,
  ``2026-03-04 10:30``, ``2026-03-04T10:30:15``, ``2026-03-04T10:30:15+07:00``, ``...Z``;
  and year first with slashes, ``2026/03/04``;
* day first, as Indonesian forms and spreadsheets write dates: ``04/03/2026``, ``4-3-2026``,
  ``04.03.2026`` (4 March 2026), optionally followed by a time ``HH:MM`` or ``HH:MM:SS`` (``:`` or
  ``.`` between the parts, as in ``10.30``), after a space, a ``T`` or a comma;
* a day, an Indonesian month name and a year: ``4 Maret 2026``, ``04 Mar 2026 10:30``
  (``Januari``/``Jan`` ... ``Desember``/``Des``, also ``Agt``/``Ags``, ``Okt``, ``Nop``).

A day-first date is never read month first: ``12/25/2026`` is refused, not taken as 25 December.
Two-digit years and words (``kemarin``, ``-``) are refused. A time with an offset is converted to
UTC and the offset dropped, so dates sort as one timeline; times without an offset are taken as
they are (the export's local time).

:func:`iso_date` gives the normal form the training data keeps (``2026-03-04T10:30:00``), whose text
order is the time order.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

MONTHS = {
    "januari": 1, "jan": 1, "februari": 2, "feb": 2, "pebruari": 2, "maret": 3, "mar": 3,
    "april": 4, "apr": 4, "mei": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7, "agustus": 8,
    "agu": 8, "agt": 8, "ags": 8, "aug": 8, "september": 9, "sep": 9, "sept": 9, "oktober": 10,
    "okt": 10, "oct": 10, "november": 11, "nov": 11, "nop": 11, "desember": 12, "des": 12,
    "dec": 12,
}
"""Indonesian month names and their usual abbreviations (and the English ones that differ)."""

_TIME = r"(?:(?:\s*,\s*|\s+|T)(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?)?"
_DAY_FIRST = re.compile(r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})" + _TIME)
_YEAR_SLASH = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})" + _TIME)
_MONTH_NAME = re.compile(r"(\d{1,2})\s+([A-Za-z]+)\.?\s+(\d{4})" + _TIME)

FORMATS_HELP = (
    "ISO 8601 (2026-03-04, 2026-03-04 10:30, 2026-03-04T10:30:00+07:00) or day first "
    "(04/03/2026, 04-03-2026, 04.03.2026, optionally with HH:MM[:SS]; 4 Maret 2026)"
)
"""The accepted forms, for error messages."""


def _build(year: str, month: int | str, day: str, hour: str | None, minute: str | None,
           second: str | None) -> datetime | None:
    try:
        return datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                        int(second or 0))
    except ValueError:  # 31.02.2026, month 13, hour 25
        return None


def parse_date(text: str) -> datetime | None:
    """The date and time ``text`` writes (module doc for the forms), naive; ``None`` when it is
    not one of those forms or not a real date. Never raises."""
    value = str(text or "").strip()
    if not value or len(value) > 40:
        return None
    if re.match(r"\d{4}-", value):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        return parsed
    if match := _DAY_FIRST.fullmatch(value):
        day, _, month, year, *clock = match.groups()
        return _build(year, month, day, *clock)
    if match := _YEAR_SLASH.fullmatch(value):
        year, month, day, *clock = match.groups()
        return _build(year, month, day, *clock)
    if match := _MONTH_NAME.fullmatch(value):
        day, name, year, *clock = match.groups()
        month = MONTHS.get(name.lower())
        return _build(year, month, day, *clock) if month else None
    return None


def iso_date(text: str) -> str | None:
    """``parse_date(text)`` as ``YYYY-MM-DDTHH:MM:SS`` (text order = time order), or ``None``."""
    parsed = parse_date(text)
    return parsed.isoformat(timespec="seconds") if parsed else None
