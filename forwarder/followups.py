"""The durable queue of the officer/citizen loop (table ``followups``) and its sender.

A followup is one message the loop must get out: to a citizen (``channel`` ``sms`` through
Gammu's outbox, ``x`` as a reply post) or into an officer group (``chat``: a post in a
complaint's thread; ``edit``: the forwarded message edited to show its status; ``delete``: one
part of the forwarded message deleted for everyone, on a sink that cannot edit, when the complaint
was flagged confidential: ``reply_to`` is that part's id). Rows are written
in the same transaction as the action or citizen message that caused them, so nothing is
lost; a unique ``dedupe`` key keeps the same message from being queued twice.

Sending (:class:`Sender`) follows the outbox's rules (:mod:`forwarder.outbox`): a row is marked
``sending`` before the platform is called and ``sent`` with the platform's id (``ref``) after.
Rows of one lane (channel, via, target) go out in order; a failing lane waits alone.

==========================  =================================================================
``TemporaryError``           retried: after ``retry_after`` when the platform gave one (not
                             counted), else backoff with jitter; ``dead`` after ``max_attempts``
``UncertainDelivery``        as above, marked ``uncertain`` (chat posts and X replies are resent;
                             X refuses a duplicate text, which then counts as sent)
``ChatMigrated``             the new chat id is stored (``chat_overrides``) and used
``InvalidToken``             the sink is skipped until restart; rows stay pending
other ``PermanentError``     ``dead``, with the reason in ``last_error``
==========================  =================================================================

A crash between ``sending`` and ``sent`` is resolved at start by :meth:`Sender.recover`: an SMS
is looked up in Gammu's outbox and sentitems by its ``CreatorID`` (``forwarder-f<row id>``), so
it is neither lost nor queued twice; other channels are resent marked uncertain.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from forwarder import errors
from forwarder.health import kv
from forwarder.store import Store, iso, parse_iso

log = logging.getLogger("forwarder.followups")

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
SMS, X, CHAT, EDIT, DELETE = "sms", "x", "chat", "edit", "delete"
#: ``followups.kind`` of a ``delete`` row: the text of a complaint flagged confidential
CONFIDENTIAL_DELETE = "confidential_delete"
CITIZEN_CHANNELS = (SMS, X)
#: ``followups.buttons``: what goes with a chat post. NONE: plain text. FORCE_REPLY: the text
#: is Telegram HTML (it mentions the officer asked) and goes with a selective ForceReply, so that
#: the officer's client opens the reply field (used for the done note).
MARKUP_NONE = 0
FORCE_REPLY = 1


@dataclass(frozen=True)
class Followup:
    """One row of ``followups``. ``target``: phone number (sms), tweet id replied to (x), chat id
    (chat, edit). ``reply_to``: message replied to (chat) or edited (edit), when known at queueing."""

    id: int
    complaint_id: int | None
    kind: str
    channel: str
    via: str
    target: str
    reply_to: str | None
    group_name: str | None
    text: str | None
    buttons: int
    state: str
    attempts: int
    uncertain: bool
    ref: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Followup:
        return cls(row["id"], row["complaint_id"], row["kind"], row["channel"], row["via"],
                   row["target"], row["reply_to"], row["group_name"], row["text"],
                   int(row["buttons"] or 0), row["state"], row["attempts"] or 0,
                   bool(row["uncertain"]), row["ref"])


def enqueue(conn: sqlite3.Connection, now: str, *, kind: str, channel: str, via: str, target: str,
            complaint_id: int | None = None, text: str | None = None, reply_to: str | None = None,
            group_name: str | None = None, buttons: int = MARKUP_NONE, dedupe: str | None = None
            ) -> int | None:
    """Queue one followup inside the caller's transaction; returns its id, or None when a row
    with the same ``dedupe`` key exists (or, for an ``edit``, one for the same message is still
    pending: it renders the newest status when it goes out)."""
    if channel == EDIT:
        row = conn.execute(
            "select id from followups where channel = ? and via = ? and complaint_id = ? and "
            "group_name = ? and state = ?", (EDIT, via, complaint_id, group_name, PENDING)).fetchone()
        if row:
            return None
    cur = conn.execute(
        "insert into followups(complaint_id, kind, channel, via, target, reply_to, group_name, text, "
        "buttons, state, attempts, next_attempt_at, uncertain, dedupe, created_at, updated_at) "
        "values (?,?,?,?,?,?,?,?,?,?,0,?,0,?,?,?) on conflict(dedupe) do nothing",
        (complaint_id, kind, channel, via, str(target), reply_to, group_name, text, int(buttons),
         PENDING, now, dedupe, now, now))
    return cur.lastrowid if cur.rowcount else None


Handler = Callable[[Followup], Awaitable[str | None]]


class Sender:
    """Sends due followups through ``handlers`` (channel -> coroutine returning the platform id).

    ``pace(channel, via, target)`` is awaited before each call (Telegram flood limits, shared
    with the dispatcher); ``recover_sms(row)`` says whether Gammu already holds an SMS row.
    """

    def __init__(self, store: Store, handlers: Mapping[str, Handler], *,
                 pace: Callable[[str, str, str], Awaitable[None]] | None = None,
                 recover_sms: Callable[[Followup], Awaitable[str | None]] | None = None,
                 max_attempts: int = 20, backoff_cap_secs: float = 600.0, health: Any = None) -> None:
        self.store = store
        self.handlers = dict(handlers)
        self.pace = pace
        self.recover_sms = recover_sms
        self.max_attempts = max_attempts
        self.backoff_cap = backoff_cap_secs
        self.disabled: dict[str, str] = {}  # via -> reason (token refused)
        self.sent = 0
        self.wake = asyncio.Event()
        # the pipeline's Health: a failing way to citizens (``citizen:sms:<source>``) logs
        # event=channel_down once and shows in ``forwarder status``; group posts are the dispatcher's
        self.health = health

    # -- rows ---------------------------------------------------------------------------------
    def open_rows(self, limit: int = 2000) -> list[Followup]:
        rows = self.store.db.execute(
            "select * from followups where state in (?, ?) order by id limit ?", [PENDING, SENDING, limit])
        cols = [c[0] for c in rows.description]
        return [Followup.from_row(dict(zip(cols, r))) for r in rows.fetchall()]

    def _update(self, row_id: int, **fields: Any) -> None:
        fields["updated_at"] = self.store.now()
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.store.db.conn:
            self.store.db.conn.execute(f"update followups set {sets} where id = ?", [*fields.values(), row_id])

    def _claim(self, row: Followup) -> bool:
        """Mark ``row`` sending, unless another process changed its state since it was read."""
        with self.store.db.conn:
            cur = self.store.db.conn.execute(
                "update followups set state = ?, attempts = ?, updated_at = ? where id = ? and state = ?",
                (SENDING, row.attempts + 1, self.store.now(), row.id, row.state))
        return bool(cur.rowcount)

    def _next_at(self, row_id: int) -> datetime | None:
        row = self.store.db.execute("select next_attempt_at from followups where id = ?", [row_id]).fetchone()
        return parse_iso(row[0]) if row and row[0] else None

    async def recover(self) -> int:
        """Resolve rows left in ``sending`` by a crash (see the module docstring). Returns how many."""
        rows = [r for r in self.open_rows() if r.state == SENDING]
        for row in rows:
            ref = None
            if row.channel == SMS and self.recover_sms is not None:
                try:
                    ref = await self.recover_sms(row)
                except errors.DeliveryError as exc:  # Gammu unreachable: decide later
                    log.warning(kv(event="followup_recover_later", id=row.id, error=str(exc)))
                    continue
            if ref is not None:
                self._update(row.id, state=SENT, ref=ref, sent_at=self.store.now(), last_error=None)
            else:
                self._update(row.id, state=PENDING, uncertain=int(row.channel != SMS),
                             last_error="in flight when the daemon stopped")
        return len(rows)

    # -- one pass -----------------------------------------------------------------------------
    def due(self) -> list[Followup]:
        """Open rows that may go now: the first open row of each lane, when it is due."""
        now = self.store.clock()
        blocked: set[tuple[str, str, str]] = set()
        out = []
        for row in self.open_rows():
            lane = (row.channel, row.via, row.target)
            if lane in blocked:
                continue
            blocked.add(lane)
            if row.via in self.disabled or row.channel not in self.handlers:
                continue
            due = self._next_at(row.id)
            if due is None or due <= now:
                out.append(row)
        return out

    async def send_due(self) -> int:
        """Send every due row once (lanes in turn). Returns how many were attempted."""
        rows = self.due()
        for row in rows:
            await self._send(row)
        return len(rows)

    async def _send(self, row: Followup) -> None:
        handler = self.handlers[row.channel]
        try:
            if self.pace is not None and row.channel in (CHAT, EDIT, DELETE):
                await self.pace(row.channel, row.via, row.target)
            if not self._claim(row):
                return  # dropped meanwhile (e.g. ``forwarder flag --confidential``): not sent
            ref = await handler(row)
        except errors.ChatMigrated as exc:
            self.store.set_chat_override(row.via, row.target, exc.new_chat_id, str(exc))
            with self.store.db.conn:
                self.store.db.conn.execute(
                    "update followups set target = ? where via = ? and target = ? and state in (?, ?)",
                    (exc.new_chat_id, row.via, row.target, PENDING, SENDING))
            self._update(row.id, state=PENDING, attempts=row.attempts, last_error=str(exc))
        except errors.InvalidToken as exc:
            self.disabled[row.via] = str(exc)
            self._update(row.id, state=PENDING, attempts=row.attempts, last_error=str(exc))
            log.error(kv(event="followup_sink_stopped", via=row.via, error=str(exc)))
            self._report(row, f"login refused, sending stopped until restart: {exc}", level=logging.ERROR)
        except errors.MessageRejected as exc:
            if row.channel == X and row.uncertain and "duplicate" in str(exc).lower():
                self._done(row, None)  # the uncertain first try did reach X
            else:
                self._dead(row, str(exc))
        except errors.PermanentError as exc:
            self._dead(row, f"{exc} {exc.hint}".strip())
        except errors.TemporaryError as exc:
            self._retry(row, exc)
        except ValueError as exc:  # a number that cannot receive an SMS, a text over 255 parts
            self._dead(row, str(exc))
        except Exception as exc:  # a bug or an unreadable answer: the send may have happened
            log.exception(kv(event="followup_error", id=row.id, channel=row.channel))
            self._retry(row, errors.UncertainDelivery(f"unexpected failure: {exc!r}"))
        else:
            self._done(row, ref)

    def _report(self, row: Followup, failure: str | None, level: int = logging.WARNING) -> None:
        """Tell the health of ``row``'s way to citizens (``citizen:<channel>:<source>``) that it
        worked (``failure`` None) or failed; group posts and edits are the dispatcher's."""
        if self.health is None or row.channel not in (SMS, X):
            return
        channel = f"citizen:{row.channel}:{row.via}"
        if failure is None:
            self.health.up(channel)
        else:
            self.health.down(channel, failure, level=level)

    def _done(self, row: Followup, ref: str | None) -> None:
        self._update(row.id, state=SENT, ref=ref, sent_at=self.store.now(), last_error=None)
        self.sent += 1
        self._report(row, None)
        if row.channel == DELETE:
            log.info(kv(event="text_removed", complaint=self._code(row), group=row.group_name, via=row.via))

    def _dead(self, row: Followup, reason: str) -> None:
        self._update(row.id, state=DEAD, last_error=reason[:1000])
        log.error(kv(event="followup_dead", id=row.id, kind=row.kind, channel=row.channel, error=reason))
        if row.channel == DELETE:  # the text stays readable there: someone must delete it by hand
            code = self._code(row)
            log.error(kv(event="text_not_removed", complaint=code, group=row.group_name, via=row.via,
                         error=reason, action=f"delete the message of pengaduan {code} by hand in group "
                                              f"{row.group_name}: the platform did not delete it"))

    def _code(self, row: Followup) -> str:
        found = self.store.db.execute("select tracking_code from complaints where id = ?",
                                      [row.complaint_id]).fetchone()
        return str(found[0]) if found else "-"

    def _retry(self, row: Followup, exc: errors.TemporaryError) -> None:
        attempts = row.attempts + 1
        if exc.retry_after is not None:
            wait, attempts = float(exc.retry_after), row.attempts  # not counted as an attempt
        else:
            wait = min(self.backoff_cap, 2.0 ** min(attempts, 20)) * random.uniform(0.8, 1.2)
        if attempts >= self.max_attempts:
            self._dead(row, f"{attempts} attempts failed; last: {exc}")
            return
        uncertain = row.uncertain or isinstance(exc, errors.UncertainDelivery)
        self._report(row, str(exc)[:300])
        self._update(row.id, state=PENDING, attempts=attempts, uncertain=int(uncertain),
                     last_error=str(exc)[:1000],
                     next_attempt_at=iso(self.store.clock() + timedelta(seconds=wait)))

    # -- loops --------------------------------------------------------------------------------
    def waits(self) -> list[float]:
        """Seconds until each open lane's head is due (empty: nothing left to send)."""
        now = self.store.clock()
        out, seen = [], set()
        for row in self.open_rows():
            lane = (row.channel, row.via, row.target)
            if lane in seen or row.via in self.disabled or row.channel not in self.handlers:
                continue
            seen.add(lane)
            due = self._next_at(row.id)
            out.append(max(0.0, (due - now).total_seconds()) if due else 0.0)
        return out

    async def drain(self, max_wait_secs: float = 60.0) -> int:
        """Send what can be sent within ``max_wait_secs`` (``--once``); returns rows still open."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait_secs
        while True:
            if await self.send_due():
                continue
            waits = self.waits()
            if not waits or loop.time() + min(waits) > deadline:
                return len(waits)
            await asyncio.sleep(max(0.05, min(min(waits), 1.0)))

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set; wakes on ``self.wake`` or every second."""
        while not stop.is_set():
            self.wake.clear()
            try:
                await self.send_due()
            except Exception:  # a bug must not stop the daemon: log it and go on
                log.exception(kv(event="followup_sender_error"))
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=1.0)
            except TimeoutError:
                pass
