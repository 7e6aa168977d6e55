"""Deadline reminders, heads' alerts, heads' daily digests and the weekly summary.

:func:`due_notices` decides, from the store, the config and ``now``, which messages are due and
to which chat; :func:`record` marks one as sent (table ``notices``, one row per kind, subject and
chat, so nothing goes out twice); :func:`run_notices` sends the due ones through the sinks.
Deadlines and the start of the clock are those of :mod:`forwarder.report` (working days on the
:mod:`forwarder.workdays` calendar, from delivery to the owning group).

What goes where (texts in Indonesian: officers and heads read them):

* ``remind_ack`` / ``remind_done`` -> the owning officer group, when a complaint with no
  acknowledgment / not done is within ``deadlines.remind_before_hours`` working hours of its
  deadline and not past it (lead time 0: no reminders); a complaint whose status is done or
  closed (another group that held it marked it done) is neither reminded nor alerted;
* ``overdue_ack`` / ``overdue_done`` -> each heads' group whose ``dinas`` list holds the owning
  group's dinas (an empty list: every dinas), once the deadline has passed;
* ``digest`` -> each head (``heads.people``) once a local day, from ``heads.daily_digest_hour``:
  per group they sit in, what is open, unacknowledged and overdue, and yesterday's counts;
* ``weekly`` -> heads' groups with ``weekly_summary``, once an ISO week, from
  ``heads.weekly_summary_weekday`` at ``heads.weekly_summary_hour``: figures per dinas for
  complaints received in the 7 days before that day.

A reopened complaint (the citizen's "belum", or an officer taking a done complaint back to
in progress) is a new *round* for its group (:mod:`forwarder.report`): its reminders and overdue
alerts count from the reopening, with the same working days as a new complaint's, are marked
"dibuka kembali" and are recorded under their own subject (``<complaint id>#<round>``), so the
first round's notices do not silence them.

Messages carry tracking codes, topics and places, never the complaint text or the reporter.
Only complaints received in the last :data:`LOOKBACK` are looked at, and the rounds of older
complaints reopened in it. Several items for one chat
go out as one message (split at Telegram's 4096-character limit), listing at most
:data:`MAX_LINES_PER_NOTICE` of them and the count of the rest.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from forwarder import errors
from forwarder.report import (
    Assignment,
    Deadlines,
    build_report,
    deadlines_of,
    dinas_map,
    load_assignments,
    round_deadlines,
)
from forwarder.sinks.format import format_received, split_message
from forwarder.store import Store, iso
from forwarder.workdays import WorkCalendar

log = logging.getLogger("forwarder")

LOOKBACK = timedelta(days=60)
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MAX_ITEMS = 30  # tracking codes listed per group in a digest
#: complaints listed in one reminder or alert; a backlog (a gateway's queue imported at go-live)
#: would otherwise post a thousand lines, twenty Telegram messages, into one group at once
MAX_LINES_PER_NOTICE = 40


def notice_text(title: str, lines: list[str], limit: int = MAX_LINES_PER_NOTICE) -> str:
    """``title`` and at most ``limit`` of ``lines``, then how many more there are (all of them
    are still recorded as reminded: the group sees the count, the report lists them)."""
    shown = lines[:limit]
    if len(lines) > limit:
        shown.append(f"... dan {len(lines) - limit} pengaduan lain (daftar lengkap: forwarder report).")
    return "\n".join([title, *shown])


@dataclass(frozen=True)
class Notice:
    """One message to send: ``text`` to ``chat_id`` of ``sink``, covering ``keys`` (kind, subject)."""

    sink: str
    chat_id: str
    text: str
    keys: tuple[tuple[str, str], ...]


def _sent_keys(store: Store) -> set[tuple[str, str, str, str]]:
    return {tuple(r) for r in store.db.execute("select kind, subject, sink, chat_id from notices")}


def _item(a: Assignment, zone: str, deadline: datetime, *, with_group: bool) -> str:
    where = f", Kec. {a.kecamatan}" if a.kecamatan else ""
    group = f" grup {a.group} ({a.dinas})," if with_group else ""
    again = f" (dibuka kembali {format_received(a.start, zone)})" if a.round > 1 and a.start else ""
    return (f"- {a.tracking_code}{again}:{group} {a.topic or 'tanpa topik'}{where}; "
            f"batas {format_received(deadline, zone)}")


def subject_of(a: Assignment) -> str:
    """The ``notices.subject`` of an assignment's reminders and alerts: the complaint id, and
    ``#<round>`` for a round after a reopening (so each round is reminded once)."""
    return str(a.complaint_id) if a.round == 1 else f"{a.complaint_id}#{a.round}"


#: sink types whose groups cannot act on a complaint unless their officers' messages are read
#: (waha: with a ``webhook:`` block, see forwarder.sinks.waha_webhooks)
SEND_ONLY_SINKS = frozenset({"waha"})


def send_only(sink_config: Any) -> bool:
    """Whether a sink's groups cannot act on complaints: a ``waha`` sink without ``webhook``."""
    return getattr(sink_config, "type", None) in SEND_ONLY_SINKS and getattr(sink_config, "webhook", None) is None


def _finished(store: Store, complaint_ids: set[int]) -> set[int]:
    """Those of ``complaint_ids`` whose status now is done or closed (``selesai``, ``tuntas``,
    ``spam``, ``duplikat``)."""
    from forwarder.casework import CLOSED, DONE

    if not complaint_ids:
        return set()
    statuses = sorted(CLOSED | {DONE})
    rows = store.db.execute(
        f"select id from complaints where id in (select value from json_each(?)) "
        f"and status in ({','.join('?' * len(statuses))})",
        [json.dumps(sorted(complaint_ids)), *statuses]).fetchall()
    return {int(r[0]) for r in rows}


def due_notices(store: Store, settings: Any, now: datetime,
                calendar: WorkCalendar | None = None) -> list[Notice]:
    """Every notice due at ``now`` and not yet recorded in ``notices``, one per chat and kind.

    ``settings``: a checked config (:class:`forwarder.config.Settings`). Pure apart from reading
    the store: nothing is marked here (see :func:`record`).
    """
    calendar = calendar or WorkCalendar.from_settings(settings)
    deadlines = deadlines_of(settings)
    zone = settings.timezone
    sent = _sent_keys(store)
    # complaints received in the lookback, and older ones reopened in it (only their new rounds)
    loaded = load_assignments(store, now - LOOKBACK, now + timedelta(seconds=1), dinas_map(settings),
                              as_of=now, reopened_since=now - LOOKBACK)
    loaded.assignments = [a for a in loaded.assignments if a.round > 1 or a.received_at >= now - LOOKBACK]
    groups = {g.name: g for g in settings.groups}
    # groups on a send-only sink (WhatsApp through WAHA without its webhook) cannot acknowledge or
    # resolve anything: no reminders there, no overdue alerts or digest lines about them
    silent = {g.name for g in settings.groups if send_only(settings.sinks.get(g.sink))}
    # a complaint held by two groups and marked done by one is done: the other is not reminded
    finished = _finished(store, {a.complaint_id for a in loaded.assignments if a.done_at is None})
    open_ = [a for a in loaded.assignments if a.measured and a.done_at is None and a.group not in silent
             and a.complaint_id not in finished]
    lead = settings.deadlines.remind_before_hours * 3600.0
    notices: list[Notice] = []

    # (sink, chat, kind) -> (subjects, lines)
    batches: dict[tuple[str, str, str], tuple[list[str], list[str]]] = {}

    def add(sink: str, chat: str, kind: str, subject: str, line: str) -> None:
        if (kind, subject, sink, chat) in sent:
            return
        subjects, lines = batches.setdefault((sink, chat, kind), ([], []))
        if subject not in subjects:
            subjects.append(subject)
            lines.append(line)

    for a in open_:
        assert a.start is not None
        group = groups.get(a.group)
        ack_by, done_by = round_deadlines(calendar, deadlines, a.start)
        checks = [("done", done_by)]
        if a.ack_at is None:
            checks.insert(0, ("ack", ack_by))
        subject = subject_of(a)
        for kind, deadline in checks:
            if now < deadline:
                if group is not None and lead > 0 and calendar.working_seconds(now, deadline) <= lead:
                    add(group.sink, group.chat_id, f"remind_{kind}", subject,
                        _item(a, zone, deadline, with_group=False))
                continue
            for heads in settings.heads.groups:
                if not heads.dinas or a.dinas in heads.dinas:
                    add(heads.sink, heads.chat_id, f"overdue_{kind}", subject,
                        _item(a, zone, deadline, with_group=True))

    titles = {
        "remind_ack": f"Pengingat: pengaduan berikut belum ditanggapi; batas "
                      f"{_days(deadlines.acknowledge_days)} hari kerja sudah dekat.",
        "remind_done": f"Pengingat: pengaduan berikut belum selesai; batas "
                       f"{_days(deadlines.done_days)} hari kerja sudah dekat.",
        "overdue_ack": f"Lewat batas waktu: belum ditanggapi dalam "
                       f"{_days(deadlines.acknowledge_days)} hari kerja.",
        "overdue_done": f"Lewat batas waktu: belum selesai dalam "
                        f"{_days(deadlines.done_days)} hari kerja.",
    }
    for (sink, chat, kind), (subjects, lines) in batches.items():
        notices.append(Notice(sink, chat, notice_text(titles[kind], lines), tuple((kind, s) for s in subjects)))

    notices.extend(_digests(settings, now, calendar, deadlines, open_, loaded.assignments, sent))
    notices.extend(_weekly(store, settings, now, calendar, deadlines, sent))
    return notices


def _days(value: float) -> str:
    return f"{value:g}".replace(".", ",")


def _digests(settings: Any, now: datetime, calendar: WorkCalendar, deadlines: Deadlines,
             open_: list[Assignment], every: list[Assignment],
             sent: set[tuple[str, str, str, str]]) -> list[Notice]:
    heads = settings.heads
    local = calendar.local(now)
    if local.hour < heads.daily_digest_hour or not heads.people:
        return []
    today = local.date()
    yesterday = today - timedelta(days=1)
    out = []
    for person in heads.people:
        subject = today.isoformat()
        if ("digest", subject, person.sink, person.chat_id) in sent:
            continue
        lines = [f"Ringkasan harian {_day(today)} untuk {person.name}"]
        for name in person.groups:
            mine = [a for a in open_ if a.group == name]
            unacked = sum(a.ack_at is None for a in mine)
            late = [a for a in mine if _late(a, now, calendar, deadlines)]
            came = sum(1 for a in every if a.group == name and a.start is not None and a.round == 1
                       and calendar.local_date(a.start) == yesterday)
            closed = sum(1 for a in every if a.group == name and a.done_at is not None
                         and calendar.local_date(a.done_at) == yesterday)
            lines.append(f"Grup {name}: {len(mine)} terbuka ({unacked} belum ditanggapi), "
                         f"{len(late)} lewat batas; kemarin {came} masuk, {closed} selesai.")
            if late:
                codes = ", ".join(a.tracking_code for a in late[:_MAX_ITEMS])
                more = f" dan {len(late) - _MAX_ITEMS} lagi" if len(late) > _MAX_ITEMS else ""
                lines.append(f"  Lewat batas: {codes}{more}")
        out.append(Notice(person.sink, person.chat_id, "\n".join(lines), (("digest", subject),)))
    return out


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")


def _day(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _hours(value: float) -> str:
    return f"{value:.1f}".replace(".", ",")


def _late(a: Assignment, now: datetime, calendar: WorkCalendar, deadlines: Deadlines) -> bool:
    """Past the acknowledgment deadline without one, or past the done deadline (of its round)."""
    assert a.start is not None
    ack_by, done_by = round_deadlines(calendar, deadlines, a.start)
    if a.ack_at is None and now > ack_by:
        return True
    return a.done_at is None and now > done_by


def _weekly_line(r: Any) -> str:
    """``DPU: 12 pengaduan, 9 selesai, 1 lewat batas; tanggapan median 3,5 jam; ...`` (parts with
    no figure are left out)."""
    parts = [f"{r.assigned} pengaduan, {r.done} selesai, {r.overdue} lewat batas"]
    if r.ack_median_h is not None:
        parts.append(f"tanggapan median {_hours(r.ack_median_h)} jam")
    if r.done_median_h is not None:
        parts.append(f"selesai median {_hours(r.done_median_h)} jam")
    if r.done_within_pct is not None:
        parts.append(f"selesai tepat waktu {r.done_within_pct:.0f}%")
    if r.reopened_pct is not None:
        parts.append(f"dibuka ulang {r.reopened_pct:.0f}%")
    if r.reopen_rounds:
        parts.append(f"dibuka kembali {r.reopen_rounds}x: {r.reopen_done} selesai lagi, "
                     f"{r.reopen_overdue} lewat batas baru")
    return f"{r.key}: " + "; ".join(parts)


def _weekly(store: Store, settings: Any, now: datetime, calendar: WorkCalendar,
            deadlines: Deadlines, sent: set[tuple[str, str, str, str]]) -> list[Notice]:
    heads = settings.heads
    targets = [h for h in heads.groups if h.weekly_summary]
    local = calendar.local(now)
    today = local.date()
    weekday = _WEEKDAYS.index(heads.weekly_summary_weekday) + 1
    if not targets:
        return []
    # the latest summary day: today, or earlier (a summary missed while the daemon was down
    # still goes out once, late)
    day = today - timedelta(days=(today.isoweekday() - weekday) % 7)
    if day == today and local.hour < heads.weekly_summary_hour:
        day -= timedelta(days=7)
    year, week, _ = day.isocalendar()
    subject = f"{year}-W{week:02d}"
    targets = [h for h in targets if ("weekly", subject, h.sink, h.chat_id) not in sent]
    if not targets:
        return []
    until = datetime.combine(day, time(0), calendar.zone)
    since = until - timedelta(days=7)
    if store.db.execute("select 1 from complaints where received_at < ? limit 1",
                        [iso(until)]).fetchone() is None:
        return []  # a new database: the forwarder was not running that week, nothing to sum up
    report = build_report(store, by="dinas", since=since, until=until, now=now, calendar=calendar,
                          deadlines=deadlines, dinas_of=dinas_map(settings))
    last = since + timedelta(days=6)
    out = []
    for h in targets:
        rows = [r for r in report.rows if (not h.dinas or r.key in h.dinas) and r.assigned]
        head = (f"Ringkasan mingguan: pengaduan diterima {_day(since.date())} - {_day(last.date())} "
                f"(waktu dalam jam kerja; batas {_days(deadlines.acknowledge_days)} hari kerja "
                f"untuk tanggapan, {_days(deadlines.done_days)} untuk selesai)")
        lines = [head]
        if not rows:
            lines.append("Tidak ada pengaduan.")
        for r in rows:
            lines.append(_weekly_line(r))
        out.append(Notice(h.sink, h.chat_id, "\n".join(lines), (("weekly", subject),)))
    return out


def record(store: Store, notice: Notice, now: datetime, *, error: str | None = None) -> None:
    """Mark every key of ``notice`` as sent (or, with ``error``, as permanently failed)."""
    with store.db.conn:
        for kind, subject in notice.keys:
            store.db.conn.execute(
                "insert into notices(kind, subject, sink, chat_id, state, at, error) "
                "values (?,?,?,?,?,?,?) on conflict(kind, subject, sink, chat_id) do nothing",
                (kind, subject, notice.sink, notice.chat_id, "failed" if error else "sent", iso(now),
                 error[:500] if error else None),
            )


@dataclass
class NoticeRun:
    """What :func:`run_notices` did: notices sent, failed for good, left for the next round."""

    sent: list[Notice] = field(default_factory=list)
    failed: list[tuple[Notice, str]] = field(default_factory=list)
    deferred: list[tuple[Notice, str]] = field(default_factory=list)


async def run_notices(pipeline_like: Any, now: datetime | None = None) -> NoticeRun:
    """Send every due notice and record it.

    ``pipeline_like`` has ``store``, ``settings`` and ``sinks`` (name -> a started sink with
    ``async send(chat_id, text, plain=True)``), like :class:`forwarder.pipeline.Pipeline`.
    ``now`` defaults to the store's clock. A temporary error leaves the notice for the next
    round, and the chat is left alone for the rest of the round (a 429 asks to wait); a
    permanent one is recorded as failed (logged, not retried), except a refused token, which
    leaves every notice of that sink for later; a migrated Telegram group is followed to its new
    id. Never raises for a platform error.
    """
    store: Store = pipeline_like.store
    now = now or store.clock()
    result = NoticeRun()
    paused: dict[tuple[str, str], str] = {}  # chats (and whole sinks) to leave alone this round
    for notice in due_notices(store, pipeline_like.settings, now):
        sink = pipeline_like.sinks.get(notice.sink)
        reason = paused.get((notice.sink, notice.chat_id)) or paused.get((notice.sink, ""))
        if sink is None or reason:
            result.deferred.append((notice, reason or f"no sink {notice.sink!r}"))
            continue
        try:
            await _send(store, sink, notice)
        except errors.TemporaryError as exc:
            result.deferred.append((notice, str(exc)))
            paused[(notice.sink, notice.chat_id)] = str(exc)  # a 429 says: wait, for this chat
            log.warning("notice_deferred kind=%s chat=%s error=%s", notice.keys[0][0], notice.chat_id, exc)
            continue
        except errors.PermanentError as exc:
            reason = f"{exc} {exc.hint}".strip()
            if isinstance(exc, errors.InvalidToken):  # nothing can go through this sink now
                paused[(notice.sink, "")] = reason
                result.deferred.append((notice, reason))
            else:
                record(store, notice, now, error=reason)
                result.failed.append((notice, reason))
            log.error("notice_failed kind=%s chat=%s error=%s", notice.keys[0][0], notice.chat_id, reason)
            continue
        record(store, notice, now)
        result.sent.append(notice)
    return result


async def _send(store: Store, sink: Any, notice: Notice) -> None:
    chat = store.chat_override(notice.sink, notice.chat_id) or notice.chat_id
    for part in split_message(notice.text, html=False):
        try:
            await sink.send(chat, part, plain=True)
        except errors.ChatMigrated as exc:
            store.set_chat_override(notice.sink, chat, exc.new_chat_id, "migrated (notice)")
            chat = exc.new_chat_id
            await sink.send(chat, part, plain=True)


def pending_keys(notices: Iterable[Notice]) -> list[tuple[str, str, str, str]]:
    """The (kind, subject, sink, chat_id) keys of ``notices`` (for listing in the CLI)."""
    return [(k, s, n.sink, n.chat_id) for n in notices for k, s in n.keys]
