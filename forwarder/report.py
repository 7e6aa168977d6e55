"""Response-time figures: how fast each officer group, dinas, kecamatan and topic answers.

Everything is read from the store: ``complaints`` (received time, topic, kecamatan), ``events``
(the kinds documented in :mod:`forwarder.migrations`) and ``deliveries`` (when a group got it).

Definitions
-----------
**Assignment.** The unit measured is a complaint in the hands of one officer group. The groups
of the ``routed`` event each get one; a ``rerouted`` event starts one for its ``to_group`` (or
``group``) and, when it names a ``from_group``, ends that group's assignment as *moved*. So time
after a re-route is charged to the group that now owns the complaint, and none of it to the
group before. A complaint sent to two groups counts once in each.

**Start.** When the complaint reached the owning group: its first ``delivered`` event for that
group after the assignment began, else the delivery's ``sent_at``. An assignment that never
reached its group (delivery dead or still pending) is *undelivered* and not measured.

**First acknowledgment** is the group's first ``acknowledged``, ``in_progress`` or ``done``;
**done** its first ``done``. An action event without a ``group`` is charged to the only current
owner (ignored when there are several).

**Left out.** Complaints marked ``spam`` or ``duplicate`` (and not unmarked since); assignments a
group marked ``not_ours`` (a complaint whose only owners said not-ours is thus left out entirely, unless a
re-route gives it to another group, which is then charged from its own start).

**Deadlines** are counted on the working-day calendar (:mod:`forwarder.workdays`) from the start:
``acknowledge_days`` (default 3) for the first acknowledgment, ``done_days`` (default 5) for
done. *Within deadline* means the event came at or before the deadline. The share counts only
assignments that are decided at ``now``: the event happened, or the deadline passed without it
(a miss); those still open and not yet due are left out of the share.

**Reopen rate**: done assignments that were reopened after their done (see *Rounds*), over all
done assignments. Durations are *working hours* (days off count nothing), medians and 90th
percentiles (``statistics.quantiles(..., n=10, method="inclusive")``); shares are percentages.

**Rounds.** A done assignment that is reopened ends its *round* as it stood (done, counted with
its own times and deadlines, marked reopened) and the group starts a new round, of the same
group, with its clock started at the reopening: a new acknowledgment deadline
(``acknowledge_days``) and done deadline (``done_days``) counted in working days from then, as
for a complaint just delivered. What reopens a done assignment: the citizen's "belum" (event
``reopened``: every owning group whose assignment is done), or an officer of that group moving
it from done back to in progress (``in_progress`` after its ``done``; that action is the new
round's acknowledgment). A round's first acknowledgment and done are the group's first
acknowledgment and done after the round began. A re-route away from a group whose assignment
is done leaves that done as it was (the work was done; only a later round can be *moved*).

The main figures (``assigned`` ... ``overdue``) count first rounds only, so a reopening never
changes them except the reopen rate; the later rounds are counted apart in the ``reopen_*``
figures (rounds, time to acknowledge and to done again, shares within their own deadlines,
still open, overdue).

**Period.** A report covers the complaints received in ``[since, until)``.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from forwarder.store import Store, iso, parse_iso
from forwarder.workdays import WorkCalendar

BY_CHOICES = ("dinas", "group", "kecamatan", "topic")
NO_DINAS = "(tanpa dinas)"
UNKNOWN = "(tidak diketahui)"
ACK_KINDS = ("acknowledged", "in_progress", "done")


@dataclass
class Assignment:
    """One complaint in one group's hands. Times are aware UTC datetimes (None: did not happen)."""

    complaint_id: int
    tracking_code: str
    group: str
    received_at: datetime
    began_at: datetime
    topic: str | None
    kecamatan: str | None
    desa: str | None
    dinas: str = NO_DINAS
    start: datetime | None = None
    ack_at: datetime | None = None
    done_at: datetime | None = None
    reopened: bool = False
    ended: str | None = None  # "moved", "not_ours", "undelivered"
    ended_at: datetime | None = None
    round: int = 1  # 1: the group's first time on it; 2, 3...: after each reopening (``start``: then)

    @property
    def measured(self) -> bool:
        return self.start is not None and self.ended not in ("not_ours", "moved", "undelivered")

    def key(self, by: str) -> str:
        value = {"dinas": self.dinas, "group": self.group, "kecamatan": self.kecamatan,
                 "topic": self.topic}[by]
        return value or UNKNOWN


@dataclass
class Deadlines:
    """Working days to the first acknowledgment and to done (see :mod:`forwarder.workdays`)."""

    acknowledge_days: float = 3
    done_days: float = 5


def deadlines_of(settings: Any) -> Deadlines:
    """The :class:`Deadlines` of a checked config (its ``deadlines:`` key)."""
    d = settings.deadlines
    return Deadlines(acknowledge_days=d.acknowledge_days, done_days=d.done_days)


def dinas_map(settings: Any) -> dict[str, str | None]:
    """Officer group name -> its dinas (None when the config gives none)."""
    return {g.name: g.dinas for g in settings.groups}


@dataclass
class Loaded:
    """What :func:`load_assignments` read: assignments and what was left out, by reason."""

    assignments: list[Assignment]
    excluded: dict[str, int] = field(default_factory=dict)


def _json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def load_assignments(
    store: Store, since: datetime, until: datetime, dinas_of: dict[str, str | None] | None = None,
    *, as_of: datetime | None = None, reopened_since: datetime | None = None,
) -> Loaded:
    """The assignments of complaints received in ``[since, until)`` (aware datetimes).

    ``dinas_of`` maps a group name to its dinas (from the config); groups missing from it get
    ``(tanpa dinas)``. With ``as_of``, events and deliveries after it are ignored (things as they
    stood then). With ``reopened_since``, complaints received before ``since`` that were reopened
    (event ``reopened``, or ``in_progress`` marked ``reopened``) at or after it are read too
    (their earlier rounds included: callers pick the rounds they want). See the module docstring
    for the rules.
    """
    cutoff = iso(as_of) if as_of is not None else None
    dinas_of = dinas_of or {}
    sql = ("select id, tracking_code, received_at, topic, kecamatan, desa from complaints "
           "where received_at >= ? and received_at < ?")
    args = [iso(since), iso(until)]
    if reopened_since is not None:
        sql += (" or (received_at < ? and id in (select complaint_id from events where at >= ? and "
                "(kind = 'reopened' or (kind = 'in_progress' and json_extract(data, '$.reopened')))))")
        args += [iso(since), iso(reopened_since)]
    complaints = store.db.execute(sql + " order by received_at, id", args).fetchall()
    events: dict[int, list[tuple[str, str, dict[str, Any]]]] = {}
    sent: dict[tuple[int, str], str | None] = {}
    ids = [c[0] for c in complaints]
    for chunk_start in range(0, len(ids), 500):
        chunk = ids[chunk_start:chunk_start + 500]
        marks = ",".join("?" for _ in chunk)
        for cid, at, kind, data in store.db.execute(
            f"select complaint_id, at, kind, data from events where complaint_id in ({marks}) "
            "order by complaint_id, at, id", chunk,
        ):
            if cutoff is None or at <= cutoff:
                events.setdefault(cid, []).append((at, kind, _json(data)))
        for cid, group, state, sent_at in store.db.execute(
            f"select complaint_id, group_name, state, sent_at from deliveries "
            f"where complaint_id in ({marks})", chunk,
        ):
            later = cutoff is not None and sent_at is not None and sent_at > cutoff
            sent[(cid, group)] = sent_at if state == "sent" and not later else None
    out = Loaded([])
    for cid, code, received, topic, kecamatan, desa in complaints:
        evs = events.get(cid, [])
        closing = [k for _, k, _ in evs if k in ("spam", "duplicate", "unmarked")]
        if closing and closing[-1] != "unmarked":  # an admin's `forwarder unmark` counts it again
            reason = closing[-1]
            out.excluded[reason] = out.excluded.get(reason, 0) + 1
            continue
        base = {"complaint_id": cid, "tracking_code": code, "received_at": parse_iso(received),
                    "topic": topic, "kecamatan": kecamatan, "desa": desa}
        for a in _walk(evs, base, sent):
            a.dinas = dinas_of.get(a.group) or NO_DINAS
            out.assignments.append(a)
            if a.ended in ("not_ours", "moved", "undelivered"):
                out.excluded[a.ended] = out.excluded.get(a.ended, 0) + 1
    return out


def _walk(evs: list[tuple[str, str, dict[str, Any]]], base: dict[str, Any],
          sent: dict[tuple[int, str], str | None]) -> list[Assignment]:
    """Replay one complaint's events into its assignments."""
    done_list: list[Assignment] = []
    current: dict[str, Assignment] = {}

    def begin(group: str | None, at: datetime, topic: Any = None, kecamatan: Any = None) -> None:
        if not group or group in current:
            return
        fields = dict(base, group=str(group), began_at=at)
        if topic:
            fields["topic"] = topic
        if kecamatan:
            fields["kecamatan"] = kecamatan
        current[str(group)] = Assignment(**fields)

    def end(group: str | None, how: str, at: datetime) -> None:
        a = current.pop(str(group), None) if group else None
        if a is not None:
            if not (how == "moved" and a.done_at is not None):  # a move never unmakes a done
                a.ended, a.ended_at = how, at
            done_list.append(a)

    def reopen(group: str, at: datetime) -> None:
        """End the group's done round as it stood and start its next one at ``at``."""
        a = current.get(group)
        if a is None or a.done_at is None:
            return
        a.reopened = True
        done_list.append(a)
        current[group] = Assignment(**dict(base, group=a.group, began_at=at, topic=a.topic,
                                           kecamatan=a.kecamatan), start=at, round=a.round + 1)

    for at_text, kind, data in evs:
        at = parse_iso(at_text)
        group = data.get("group")
        if kind == "routed":
            for g in data.get("groups") or []:
                begin(g, at)
        elif kind == "rerouted":
            end(data.get("from_group"), "moved", at)
            begin(data.get("to_group") or group, at, data.get("topic"), data.get("kecamatan"))
        elif kind == "delivered":
            if group not in current and not any(a.group == group for a in done_list):
                begin(group, at)  # a delivery without a routed event (older data)
            a = current.get(group)
            if a is not None and a.start is None:
                a.start = at
        elif kind == "delivery_dead":
            a = current.get(group)
            if a is not None and a.start is None:
                end(group, "undelivered", at)
        elif kind in ACK_KINDS or kind == "not_ours":
            if group is None and len(current) == 1:
                group = next(iter(current))
            a = current.get(group)
            if a is None:
                continue
            if a.start is None:  # acted on, so it arrived: the delivery's time, else now
                a.start = _sent_at(sent, a) or at
            if kind == "not_ours":
                end(group, "not_ours", at)
                continue
            if kind == "in_progress" and a.done_at is not None:  # the group took it back up
                reopen(a.group, at)
                a = current[a.group]
            a.ack_at = a.ack_at or at
            if kind == "done" and a.done_at is None:
                a.done_at = at
        elif kind == "reopened":
            for name in list(current):
                reopen(name, at)
    for a in current.values():
        if a.start is None:
            a.start = _sent_at(sent, a)
            if a.start is None:
                a.ended = "undelivered"
        done_list.append(a)
    return done_list


def _sent_at(sent: dict[tuple[int, str], str | None], a: Assignment) -> datetime | None:
    text = sent.get((a.complaint_id, a.group))
    return max(parse_iso(text), a.began_at) if text else None


# -- figures ------------------------------------------------------------------------------


@dataclass
class Row:
    """Figures of one dinas/group/kecamatan/topic. Hours are working hours; shares in percent."""

    key: str
    assigned: int = 0
    acknowledged: int = 0
    ack_median_h: float | None = None
    ack_p90_h: float | None = None
    done: int = 0
    done_median_h: float | None = None
    done_p90_h: float | None = None
    ack_within_pct: float | None = None
    done_within_pct: float | None = None
    reopened_pct: float | None = None
    open: int = 0
    overdue: int = 0
    moved: int = 0
    reopen_rounds: int = 0
    reopen_ack_median_h: float | None = None
    reopen_ack_within_pct: float | None = None
    reopen_done: int = 0
    reopen_done_median_h: float | None = None
    reopen_done_within_pct: float | None = None
    reopen_open: int = 0
    reopen_overdue: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Report:
    by: str
    since: datetime
    until: datetime
    now: datetime
    rows: list[Row]
    total: Row
    excluded: dict[str, int]
    deadlines: Deadlines


def median_p90(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Median and 90th percentile (inclusive linear interpolation); (None, None) when empty."""
    if not values:
        return None, None
    if len(values) == 1:
        return values[0], values[0]
    return statistics.median(values), statistics.quantiles(values, n=10, method="inclusive")[8]


def _pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def round_deadlines(calendar: WorkCalendar, deadlines: Deadlines,
                    start: datetime) -> tuple[datetime, datetime]:
    """``(acknowledge by, done by)`` of a round whose clock started at ``start`` (aware datetimes,
    in the calendar's zone): ``deadlines`` counted in working days from ``start``."""
    return (calendar.add_working_days(start, deadlines.acknowledge_days),
            calendar.add_working_days(start, deadlines.done_days))


def figures(key: str, assignments: Iterable[Assignment], calendar: WorkCalendar,
            deadlines: Deadlines, now: datetime) -> Row:
    """The :class:`Row` of ``assignments`` (measured or not: unmeasured ones count as moved):
    first rounds in the main figures, later rounds in the ``reopen_*`` ones."""
    items = list(assignments)
    row = _round_figures(Row(key), [a for a in items if a.round == 1], calendar, deadlines, now)
    again = _round_figures(Row(key), [a for a in items if a.round > 1], calendar, deadlines, now)
    row.reopen_rounds, row.reopen_done = again.assigned, again.done
    row.reopen_ack_median_h, row.reopen_ack_within_pct = again.ack_median_h, again.ack_within_pct
    row.reopen_done_median_h, row.reopen_done_within_pct = again.done_median_h, again.done_within_pct
    row.reopen_open, row.reopen_overdue = again.open, again.overdue
    return row


def _round_figures(row: Row, assignments: list[Assignment], calendar: WorkCalendar,
                   deadlines: Deadlines, now: datetime) -> Row:
    ack_h: list[float] = []
    done_h: list[float] = []
    ack_decided = ack_in = done_decided = done_in = reopened = 0
    for a in assignments:
        if not a.measured:
            row.moved += a.ended in ("moved", "not_ours")
            continue
        assert a.start is not None
        row.assigned += 1
        ack_dl, done_dl = round_deadlines(calendar, deadlines, a.start)
        if a.ack_at is not None:
            row.acknowledged += 1
            ack_h.append(calendar.working_hours(a.start, a.ack_at))
            ack_decided += 1
            ack_in += a.ack_at <= ack_dl
        elif now > ack_dl:
            ack_decided += 1
        if a.done_at is not None:
            row.done += 1
            done_h.append(calendar.working_hours(a.start, a.done_at))
            done_decided += 1
            done_in += a.done_at <= done_dl
            reopened += a.reopened
        else:
            row.open += 1
            if now > done_dl:
                done_decided += 1
                row.overdue += 1
    row.ack_median_h, row.ack_p90_h = median_p90(ack_h)
    row.done_median_h, row.done_p90_h = median_p90(done_h)
    row.ack_within_pct = _pct(ack_in, ack_decided)
    row.done_within_pct = _pct(done_in, done_decided)
    row.reopened_pct = _pct(reopened, row.done)
    return row


def build_report(store: Store, *, by: str, since: datetime, until: datetime, now: datetime,
                 calendar: WorkCalendar, deadlines: Deadlines,
                 dinas_of: dict[str, str | None] | None = None) -> Report:
    """Figures per ``by`` value (one of :data:`BY_CHOICES`) for complaints received in
    ``[since, until)``, as they stood at ``now`` (later events are ignored). Rows are sorted by
    name. Raises ValueError for an
    unknown ``by``."""
    if by not in BY_CHOICES:
        raise ValueError(f"unknown grouping {by!r}: one of {', '.join(BY_CHOICES)}")
    loaded = load_assignments(store, since, until, dinas_of, as_of=now)
    groups: dict[str, list[Assignment]] = {}
    for a in loaded.assignments:
        groups.setdefault(a.key(by), []).append(a)
    rows = [figures(k, v, calendar, deadlines, now) for k, v in sorted(groups.items())]
    total = figures("total", loaded.assignments, calendar, deadlines, now)
    return Report(by, since, until, now, rows, total, loaded.excluded, deadlines)


_SPAN = re.compile(r"^\s*(\d+)\s*([hdw])\s*$", re.IGNORECASE)


def parse_since(text: str, now: datetime, calendar: WorkCalendar) -> datetime:
    """``30d`` / ``2w`` / ``12h`` before ``now``, or a local date ``2026-10-01`` (from its 00:00
    in the calendar's zone). Raises ValueError with the accepted forms otherwise."""
    match = _SPAN.match(text)
    if match:
        amount, unit = int(match.group(1)), match.group(2).lower()
        return now - timedelta(**{{"h": "hours", "d": "days", "w": "weeks"}[unit]: amount})
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"cannot read {text!r}: use 30d, 2w, 12h or a date like 2026-10-01") from None
    return datetime.combine(day, time(0), calendar.zone)
