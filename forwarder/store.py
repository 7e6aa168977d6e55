"""The forwarder database: complaints, the outbox of deliveries, source cursors, events.

One SQLite file through sqlite-utils, in WAL mode with a busy timeout so that the daemon and an
admin's CLI can use it at the same time. The schema is in :mod:`forwarder.migrations`.

Every method that changes several rows does it in one transaction: a complaint, its deliveries
and the source's new cursor are committed together (:meth:`Store.ingest`), so a crash leaves
either all of them or none.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from forwarder.context import utcnow
from forwarder.errors import StoreError
from forwarder.migrations import migrations
from forwarder.types import IncomingComplaint, Place, Tag

#: Crockford base32 without I, L, O, U: no letters that read as digits when typed into an SMS.
TRACKING_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TRACKING_LENGTH = 6

BUSY_TIMEOUT_MS = 10_000


def iso(moment: datetime) -> str:
    """``moment`` as sortable ISO 8601 text in UTC; naive datetimes are refused."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pass an aware datetime (UTC)")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)


def new_tracking_code() -> str:
    """A random 6-character tracking code, e.g. ``7K3Q9M`` (32**6, about 10**9 codes)."""
    return "".join(secrets.choice(TRACKING_ALPHABET) for _ in range(TRACKING_LENGTH))


@dataclass(frozen=True)
class Destination:
    """One officer group a complaint is delivered to."""

    group_name: str
    sink: str
    chat_id: str


@dataclass(frozen=True)
class NewComplaint:
    """A complaint ready to store: what the source read, the classifier's tag, the place, routes."""

    incoming: IncomingComplaint
    tag: Tag
    place: Place | None
    destinations: Sequence[Destination]
    triage_reason: str | None = None


@dataclass(frozen=True)
class Delivery:
    id: int
    complaint_id: int
    group_name: str
    sink: str
    chat_id: str
    state: str
    attempts: int
    parts_total: int | None
    parts_sent: int
    message_ids: list[str]
    uncertain: bool
    last_error: str | None
    next_attempt_at: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Delivery:
        return cls(
            id=row["id"],
            complaint_id=row["complaint_id"],
            group_name=row["group_name"],
            sink=row["sink"],
            chat_id=row["chat_id"],
            state=row["state"],
            attempts=row["attempts"] or 0,
            parts_total=row["parts_total"],
            parts_sent=row["parts_sent"] or 0,
            message_ids=json.loads(row["message_ids"] or "[]"),
            uncertain=bool(row["uncertain"]),
            last_error=row["last_error"],
            next_attempt_at=row["next_attempt_at"],
        )


#: Delivery states. ``sending`` is only ever seen after a crash mid-send (see recover_in_flight).
PENDING, SENDING, SENT, FAILED, DEAD = "pending", "sending", "sent", "failed", "dead"
OPEN_STATES = (PENDING, SENDING, FAILED)


class Store:
    """The forwarder database. ``clock`` returns aware UTC datetimes (injected in tests)."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self.clock = clock

    @classmethod
    def open(cls, path: str | Path, clock: Callable[[], datetime] = utcnow) -> Store:
        """Open (creating it and its folder if needed) and migrate the database at ``path``.

        Raises StoreError when the file cannot be opened or is not a forwarder database.
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000)
            db = Database(conn)
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA foreign_keys = ON")
            db.enable_wal()
            db.execute("PRAGMA synchronous = NORMAL")
            migrations.apply(db)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the forwarder database {path}: {exc}") from exc
        return cls(db, clock)

    def close(self) -> None:
        self.db.close()

    def now(self) -> str:
        return iso(self.clock())

    # -- intake ---------------------------------------------------------------------------

    def known_external_ids(self, source: str, external_ids: Iterable[str]) -> set[str]:
        """Which of ``external_ids`` are already stored for ``source``."""
        ids = list(external_ids)
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" for _ in chunk)
            found.update(
                row[0]
                for row in self.db.execute(
                    f"select external_id from complaints where source = ? and external_id in ({marks})",
                    [source, *chunk],
                ).fetchall()
            )
        return found

    def ingest(self, source: str, items: Sequence[NewComplaint], cursor: str | None) -> list[int]:
        """Store complaints, their deliveries and the source cursor in ONE transaction.

        Complaints already stored for (source, external_id) are skipped, so a source may hand the
        same complaint over again after a crash. Returns the ids of newly stored complaints.
        """
        now = self.now()
        new_ids: list[int] = []
        conn = self.db.conn
        with conn:
            for item in items:
                complaint_id = self._insert_complaint(source, item, now)
                if complaint_id is None:
                    continue
                new_ids.append(complaint_id)
                self._event(complaint_id, now, "system", "received", {"source": source})
                for dest in item.destinations:
                    self._insert_delivery(complaint_id, dest, now)
                self._event(
                    complaint_id,
                    now,
                    "system",
                    "routed",
                    {
                        "groups": [d.group_name for d in item.destinations],
                        "topic": item.tag.topic,
                        "confidence": item.tag.confidence,
                        "triage_reason": item.triage_reason,
                    },
                )
            if cursor is not None:
                conn.execute(
                    "insert into source_state(source, cursor, updated_at) values (?, ?, ?) "
                    "on conflict(source) do update set cursor = excluded.cursor, "
                    "updated_at = excluded.updated_at",
                    (source, cursor, now),
                )
        return new_ids

    def _insert_complaint(self, source: str, item: NewComplaint, now: str) -> int | None:
        inc, tag, place = item.incoming, item.tag, item.place
        for _ in range(20):
            try:
                cur = self.db.conn.execute(
                    "insert into complaints(source, external_id, channel, received_at, stored_at, "
                    "reporter, text, meta, topic, confidence, model_version, keywords, kecamatan, "
                    "desa, tracking_code, status, triage_reason) "
                    "values (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                    "on conflict(source, external_id) do nothing",
                    (
                        source,
                        inc.external_id,
                        inc.channel,
                        iso(inc.received_at),
                        now,
                        inc.reporter,
                        inc.text,
                        json.dumps(inc.meta, ensure_ascii=False, default=str),
                        tag.topic,
                        float(tag.confidence),
                        tag.model_version,
                        json.dumps(list(tag.keywords), ensure_ascii=False),
                        place.kecamatan if place else None,
                        place.desa if place else None,
                        new_tracking_code(),
                        "baru",
                        item.triage_reason,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                if "tracking_code" in str(exc):
                    continue  # a code collision: draw another one
                raise
            return cur.lastrowid if cur.rowcount else None
        raise StoreError("could not draw a free tracking code after 20 tries")

    def _insert_delivery(self, complaint_id: int, dest: Destination, now: str) -> None:
        self.db.conn.execute(
            "insert into deliveries(complaint_id, group_name, sink, chat_id, state, attempts, "
            "next_attempt_at, parts_sent, message_ids, uncertain, created_at, updated_at) "
            "values (?,?,?,?,?,0,?,0,'[]',0,?,?) on conflict(complaint_id, group_name) do nothing",
            (complaint_id, dest.group_name, dest.sink, dest.chat_id, PENDING, now, now, now),
        )

    def _event(self, complaint_id: int, at: str, actor: str, kind: str, data: dict[str, Any]) -> None:
        self.db.conn.execute(
            "insert into events(complaint_id, at, actor, kind, data) values (?,?,?,?,?)",
            (complaint_id, at, actor, kind, json.dumps(data, ensure_ascii=False, default=str)),
        )

    def add_event(self, complaint_id: int, actor: str, kind: str, data: dict[str, Any]) -> None:
        with self.db.conn:
            self._event(complaint_id, self.now(), actor, kind, data)

    # -- source state ---------------------------------------------------------------------

    def cursor(self, source: str) -> str | None:
        row = self.db.execute("select cursor from source_state where source = ?", [source]).fetchone()
        return row[0] if row else None

    def record_poll(self, source: str, error: str | None) -> None:
        """Remember when ``source`` was last polled and its last error (None when it went well)."""
        now = self.now()
        with self.db.conn:
            if error is None:
                self.db.conn.execute(
                    "insert into source_state(source, last_poll_at, last_ok_at, updated_at) "
                    "values (?,?,?,?) on conflict(source) do update set "
                    "last_poll_at = excluded.last_poll_at, last_ok_at = excluded.last_ok_at, "
                    "last_error = null, updated_at = excluded.updated_at",
                    (source, now, now, now),
                )
            else:
                self.db.conn.execute(
                    "insert into source_state(source, last_poll_at, last_error, last_error_at, "
                    "updated_at) values (?,?,?,?,?) on conflict(source) do update set "
                    "last_poll_at = excluded.last_poll_at, last_error = excluded.last_error, "
                    "last_error_at = excluded.last_error_at, updated_at = excluded.updated_at",
                    (source, now, error, now, now),
                )

    # -- complaints -----------------------------------------------------------------------

    def complaint(self, complaint_id: int) -> dict[str, Any]:
        return self.db["complaints"].get(complaint_id)

    def complaint_by_code(self, tracking_code: str) -> dict[str, Any] | None:
        rows = list(
            self.db["complaints"].rows_where("tracking_code = ?", [tracking_code.strip().upper()])
        )
        return rows[0] if rows else None

    # -- outbox ---------------------------------------------------------------------------

    def recover_in_flight(self) -> list[int]:
        """After a restart: deliveries left in ``sending`` were in flight at the crash.

        They go back to ``pending`` with ``uncertain = 1`` (the part may or may not have reached
        the chat; its resend carries a note saying so). Returns their ids.
        """
        now = self.now()
        rows = [r[0] for r in self.db.execute("select id from deliveries where state = ?", [SENDING])]
        with self.db.conn:
            for delivery_id in rows:
                self.db.conn.execute(
                    "update deliveries set state = ?, uncertain = 1, next_attempt_at = ?, "
                    "updated_at = ?, last_error = 'in flight when the daemon stopped' where id = ?",
                    (PENDING, now, now, delivery_id),
                )
        return rows

    def open_deliveries(self, limit: int = 1000) -> list[Delivery]:
        """Deliveries not yet sent and not dead, oldest first (the order officers should see)."""
        rows = self.db.execute(
            "select * from deliveries where state in (?, ?, ?) order by id limit ?",
            [PENDING, SENDING, FAILED, limit],
        )
        cols = [c[0] for c in rows.description]
        return [Delivery.from_row(dict(zip(cols, r))) for r in rows.fetchall()]

    def delivery(self, delivery_id: int) -> Delivery:
        return Delivery.from_row(self.db["deliveries"].get(delivery_id))

    def deliveries(self, where: str = "1=1", params: Sequence[Any] = ()) -> list[Delivery]:
        return [Delivery.from_row(r) for r in self.db["deliveries"].rows_where(where, list(params), order_by="id")]

    def claim(self, delivery_id: int, parts_total: int, *, restart: bool = False) -> None:
        """Start an attempt at a delivery of ``parts_total`` parts (counted in ``attempts``).

        ``restart`` starts the parts over (a resend in another form, e.g. plain text after the
        platform refused the markup); the ids of parts already posted are kept."""
        now = self.now()
        with self.db.conn:
            self.db.conn.execute(
                "update deliveries set attempts = attempts + 1, parts_total = ?, updated_at = ?, "
                "parts_sent = case when ? then 0 else parts_sent end where id = ?",
                (parts_total, now, restart, delivery_id),
            )

    def sending(self, delivery_id: int) -> None:
        """Mark a delivery ``sending``: a part is going to the platform right now.

        A delivery found in this state after a restart was in flight at the crash
        (:meth:`recover_in_flight`)."""
        with self.db.conn:
            self.db.conn.execute(
                "update deliveries set state = ?, updated_at = ? where id = ?",
                (SENDING, self.now(), delivery_id),
            )

    def part_sent(self, delivery_id: int, message_id: str) -> None:
        """Record that one more part reached the chat, with the platform's message id."""
        now = self.now()
        with self.db.conn:
            row = self.db.execute(
                "select message_ids, parts_sent, parts_total from deliveries where id = ?", [delivery_id]
            ).fetchone()
            ids = json.loads(row[0] or "[]") + [str(message_id)]
            sent = (row[1] or 0) + 1
            done = row[2] is not None and sent >= row[2]
            self.db.conn.execute(
                "update deliveries set message_ids = ?, parts_sent = ?, state = ?, updated_at = ?, "
                "sent_at = case when ? then ? else sent_at end, last_error = case when ? then null "
                "else last_error end where id = ?",
                (json.dumps(ids), sent, SENT if done else PENDING, now, done, now, done, delivery_id),
            )
            if done:
                cid = self.db.execute(
                    "select complaint_id, group_name from deliveries where id = ?", [delivery_id]
                ).fetchone()
                self._event(cid[0], now, "system", "delivered", {"group": cid[1], "message_ids": ids})

    def mark_complete(self, delivery_id: int) -> None:
        """Mark a delivery ``sent`` whose parts were all recorded already (a crash between the
        last part and the state change)."""
        now = self.now()
        with self.db.conn:
            self.db.conn.execute(
                "update deliveries set state = ?, updated_at = ?, sent_at = coalesce(sent_at, ?), "
                "last_error = null where id = ?",
                (SENT, now, now, delivery_id),
            )

    def reschedule(
        self, delivery_id: int, error: str, next_attempt: datetime, *, uncertain: bool = False,
        count_attempt: bool = True,
    ) -> None:
        """Put a delivery back in the queue (``failed``) until ``next_attempt``."""
        now = self.now()
        with self.db.conn:
            self.db.conn.execute(
                "update deliveries set state = ?, last_error = ?, next_attempt_at = ?, updated_at = ?, "
                "uncertain = max(uncertain, ?), attempts = attempts - ? where id = ?",
                (FAILED, error[:1000], iso(next_attempt), now, int(uncertain), 0 if count_attempt else 1,
                 delivery_id),
            )

    def mark_dead(self, delivery_id: int, error: str) -> None:
        """Give up on a delivery; it stays visible to ``forwarder outbox list``."""
        now = self.now()
        with self.db.conn:
            self.db.conn.execute(
                "update deliveries set state = ?, last_error = ?, updated_at = ? where id = ?",
                (DEAD, error[:1000], now, delivery_id),
            )
            cid = self.db.execute("select complaint_id, group_name from deliveries where id = ?",
                                  [delivery_id]).fetchone()
            self._event(cid[0], now, "system", "delivery_dead", {"group": cid[1], "error": error[:300]})

    def add_delivery(self, complaint_id: int, dest: Destination, reason: str) -> bool:
        """Add a delivery to one more group (e.g. the fallback when a group refused). True if new."""
        now = self.now()
        with self.db.conn:
            cur = self.db.conn.execute(
                "insert into deliveries(complaint_id, group_name, sink, chat_id, state, attempts, "
                "next_attempt_at, parts_sent, message_ids, uncertain, created_at, updated_at) "
                "values (?,?,?,?,?,0,?,0,'[]',0,?,?) on conflict(complaint_id, group_name) do nothing",
                (complaint_id, dest.group_name, dest.sink, dest.chat_id, PENDING, now, now, now),
            )
            if cur.rowcount:
                self._event(complaint_id, now, "system", "rerouted", {"group": dest.group_name, "reason": reason})
        return bool(cur.rowcount)

    def requeue(self, delivery_ids: Iterable[int]) -> int:
        """Admin retry: put dead or failed deliveries back to pending, due now. Returns the count."""
        now = self.now()
        count = 0
        with self.db.conn:
            for delivery_id in delivery_ids:
                cur = self.db.conn.execute(
                    "update deliveries set state = ?, next_attempt_at = ?, attempts = 0, updated_at = ? "
                    "where id = ? and state in (?, ?)",
                    (PENDING, now, now, delivery_id, DEAD, FAILED),
                )
                count += cur.rowcount
        return count

    def drop(self, delivery_ids: Iterable[int], reason: str) -> int:
        """Admin drop: mark deliveries dead on purpose (recorded as an event). Returns the count."""
        count = 0
        for delivery_id in delivery_ids:
            row = self.db.execute("select state from deliveries where id = ?", [delivery_id]).fetchone()
            if row and row[0] != SENT:
                self.mark_dead(delivery_id, f"dropped by admin: {reason}")
                count += 1
        return count

    # -- chat id overrides (migrated Telegram groups) ------------------------------------

    def chat_override(self, sink: str, chat_id: str) -> str | None:
        row = self.db.execute(
            "select new_chat_id from chat_overrides where sink = ? and chat_id = ?", [sink, chat_id]
        ).fetchone()
        return row[0] if row else None

    def set_chat_override(self, sink: str, chat_id: str, new_chat_id: str, reason: str) -> None:
        now = self.now()
        with self.db.conn:
            self.db.conn.execute(
                "insert into chat_overrides(sink, chat_id, new_chat_id, reason, at) values (?,?,?,?,?) "
                "on conflict(sink, chat_id) do update set new_chat_id = excluded.new_chat_id, "
                "reason = excluded.reason, at = excluded.at",
                (sink, chat_id, new_chat_id, reason, now),
            )
            self.db.conn.execute(
                "update deliveries set chat_id = ? where sink = ? and chat_id = ? and state != ?",
                (new_chat_id, sink, chat_id, SENT),
            )

    # -- summaries ------------------------------------------------------------------------

    def set_channel_state(self, channel: str, state: str, reason: str) -> None:
        """Record a channel's health transition (``up``/``down``) for ``forwarder status``."""
        now = self.now()
        with self.db.conn:
            self.db.conn.execute(
                "insert into channel_state(channel, state, reason, since, failures, updated_at) "
                "values (?,?,?,?,0,?) on conflict(channel) do update set state = excluded.state, "
                "reason = excluded.reason, since = excluded.since, updated_at = excluded.updated_at",
                (channel, state, reason[:500], now, now),
            )

    def channel_states(self) -> list[dict[str, Any]]:
        return list(self.db["channel_state"].rows_where(order_by="channel"))

    def outbox_counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("select state, count(*) from deliveries group by state")}

    def oldest_open(self) -> str | None:
        row = self.db.execute(
            "select min(created_at) from deliveries where state in (?, ?, ?)", [PENDING, SENDING, FAILED]
        ).fetchone()
        return row[0] if row else None

    def sources_state(self) -> Iterator[dict[str, Any]]:
        yield from self.db["source_state"].rows
