"""The outbox dispatcher: delivers stored deliveries to the sinks, paced, in order, retried.

Deliveries are grouped into *lanes*, one per (sink, chat). A lane sends its deliveries strictly
in the order they were stored, one at a time; lanes run concurrently, so a slow or paused group
never holds up the others. Before each message the lane waits until the chat's and the sink's
pacing windows allow it (Telegram: 20 messages a minute per group, 1 a second per chat, 30 a
second per bot; see :class:`Pacing`), so that the platform has no reason to answer 429.

What each platform answer leads to (the adapter has already translated it, see
:mod:`forwarder.errors`):

==========================  =========================================================================
``TemporaryError``           lane pauses; with ``retry_after`` for exactly that long (not counted
                             as an attempt), else exponential backoff with jitter; after
                             ``max_attempts`` the delivery is ``dead`` and shown by ``outbox list``
``UncertainDelivery``        as above, and marked ``uncertain``: the resend says it may be a repeat
``ChatMigrated``             the new chat id is stored and used from now on; the admin is told to
                             update the config
``ChatForbidden``            the delivery is ``dead``; the complaint goes to triage (a confidential
                             one to the confidential triage group when there is one:
                             :class:`forwarder.routing.Triage`); the group is not tried again
                             until the daemon restarts (config change) or an admin runs
                             ``forwarder outbox retry``. A triage group's own chat gone: its
                             deliveries wait and are retried slowly, never moved elsewhere
``MessageRejected``          sent again as plain text; if that is refused too, ``dead`` + fallback
``InvalidToken``             the whole sink stops (deliveries stay pending) and says why
==========================  =========================================================================

A crash at any point loses nothing: a delivery is marked ``sending`` before the platform is
called and each part is recorded as soon as the platform returns its id; at restart what was
``sending`` is resent with ``uncertain = 1`` (:meth:`Store.recover_in_flight`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from forwarder import casework, errors
from forwarder.health import Health, kv
from forwarder.routing import Triage
from forwarder.store import Delivery, Store, parse_iso

log = logging.getLogger("forwarder.outbox")

#: Every pacing window is this much longer than the platform's own (1.03: 60 s -> 61.8 s).
#: Requests travel and are queued for a few milliseconds; a sender paced at exactly the limit
#: is sometimes seen above it by the server (measured: 498 answers 429 in 3,000 sends to 30
#: groups at margin 1.0, see bench/RESULTS-delivery.md).
PACING_MARGIN = 1.03

UNCERTAIN_NOTE = "Kirim ulang: pesan sebelumnya mungkin sudah masuk ke grup ini."


class SlidingWindow:
    """At most ``limit`` messages in any ``period`` seconds, as the platform counts them.

    Exact rather than a leaky bucket: a bucket lets a burst through and then keeps dripping,
    which can exceed "20 per minute" within some 60-second window. A message holds a place from
    the moment it is sent (:meth:`acquire`) and is counted from the moment the platform answered
    (:meth:`release`): the platform saw it somewhere in between, so the next message, sent at
    least ``period`` after that answer, can never look too early to it, however the requests
    queue in the HTTP client or on the network.
    """

    def __init__(self, limit: int, period: float) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be >= 1 and period > 0")
        self.limit = limit
        self.period = period
        self._times: deque[float] = deque()
        self.in_flight = 0

    def delay(self, now: float) -> float:
        """Seconds to wait from ``now`` (monotonic) before the next message is allowed."""
        while self._times and now - self._times[0] >= self.period:
            self._times.popleft()
        excess = len(self._times) + self.in_flight - self.limit + 1
        if excess <= 0:
            return 0.0
        if excess > len(self._times):
            return 0.05  # every place is held by a message still in flight: look again soon
        return self.period - (now - self._times[excess - 1])

    def acquire(self) -> None:
        """A message is being sent: hold a place until :meth:`release`."""
        self.in_flight += 1

    def release(self, now: float) -> None:
        """The platform answered (or the send failed) at ``now``: count the message from then."""
        self.in_flight = max(0, self.in_flight - 1)
        self._times.append(now)

    def record(self, now: float) -> None:
        """Count a message sent and answered at ``now`` (acquire and release at once)."""
        self._times.append(now)


@dataclass(frozen=True)
class Pacing:
    """Per-sink pacing. ``None`` means no limit (console sink).

    Telegram defaults (Bots FAQ; ``telegram.constants.FloodLimit``): 20 messages a minute per
    group, 1 a second per chat, 30 a second overall per bot.
    """

    per_chat_per_minute: int | None = None
    per_chat_per_second: float | None = None
    overall_per_second: float | None = None

    @classmethod
    def of(cls, sink_config: Any) -> Pacing:
        return cls(
            getattr(sink_config, "per_chat_per_minute", None),
            getattr(sink_config, "per_chat_per_second", None),
            getattr(sink_config, "overall_per_second", None),
        )


@dataclass
class Lane:
    sink: str
    chat_id: str
    windows: list[SlidingWindow]
    paused_until: float = 0.0  # monotonic
    disabled: str | None = None
    busy: bool = False


class Stopping(Exception):
    """Raised inside a lane waiting for a pacing slot when the daemon is asked to stop."""


@dataclass
class DrainResult:
    """What ``--once`` achieved: counts by outcome and the deliveries still open."""

    sent: int = 0
    open: list[Delivery] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.open


class Dispatcher:
    """Sends open deliveries through ``sinks``; one instance per daemon. ``triage``: where a
    complaint goes when its group cannot be reached."""

    def __init__(
        self,
        store: Store,
        sinks: Mapping[str, Any],
        sink_configs: Mapping[str, Any],
        *,
        view_for: Callable[[int, Delivery], Any],
        triage: Triage,
        health: Health,
        max_attempts: int = 20,
        backoff_cap_secs: float = 600.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.sinks = dict(sinks)
        self.pacing = {name: Pacing.of(cfg) for name, cfg in sink_configs.items()}
        self.view_for = view_for
        self.triage = triage
        self.health = health
        self.max_attempts = max_attempts
        self.backoff_cap = backoff_cap_secs
        self.monotonic = monotonic
        self.lanes: dict[tuple[str, str], Lane] = {}
        self.sink_windows: dict[str, SlidingWindow] = {}
        for name, pacing in self.pacing.items():
            if pacing.overall_per_second:
                self.sink_windows[name] = SlidingWindow(max(1, int(pacing.overall_per_second)),
                                                        PACING_MARGIN)
        self.disabled_sinks: dict[str, str] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.sent = 0
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()  # set on SIGTERM: lanes stop between messages

    # -- lanes ----------------------------------------------------------------------------

    def lane(self, sink: str, chat_id: str) -> Lane:
        key = (sink, chat_id)
        if key not in self.lanes:
            pacing = self.pacing.get(sink, Pacing())
            windows = []
            if pacing.per_chat_per_minute:
                windows.append(SlidingWindow(pacing.per_chat_per_minute, 60.0 * PACING_MARGIN))
            if pacing.per_chat_per_second:
                if pacing.per_chat_per_second >= 1:
                    windows.append(SlidingWindow(int(pacing.per_chat_per_second), PACING_MARGIN))
                else:
                    windows.append(SlidingWindow(1, PACING_MARGIN / pacing.per_chat_per_second))
            self.lanes[key] = Lane(sink, chat_id, windows)
        return self.lanes[key]

    def _windows(self, lane: Lane) -> list[SlidingWindow]:
        windows = list(lane.windows)
        if lane.sink in self.sink_windows:
            windows.append(self.sink_windows[lane.sink])
        return windows

    @contextlib.asynccontextmanager
    async def slot(self, lane: Lane) -> AsyncIterator[None]:
        """Wait until ``lane``'s chat and its sink may take one more message, and hold the place
        while it is sent (``async with dispatcher.slot(lane): await sink.send(...)``).

        Everything that posts to a chat (complaints here, the officer loop's followups) goes
        through this, so together they stay within the platform's limits."""
        windows = self._windows(lane)
        while True:
            now = self.monotonic()
            wait = max([w.delay(now) for w in windows] + [lane.paused_until - now, 0.0])
            if wait <= 0:
                break
            try:  # sleep, but wake up at once when the daemon is asked to stop
                await asyncio.wait_for(self.stopping.wait(), timeout=wait)
            except TimeoutError:
                continue
            raise Stopping
        for w in windows:
            w.acquire()
        try:
            yield
        finally:
            done = self.monotonic()
            for w in windows:
                w.release(done)

    async def wait_for_slot(self, lane: Lane) -> None:
        """Like :meth:`slot` for callers that cannot wrap their send: the place is counted
        from now (the officer loop's followups, a few messages a day)."""
        try:
            async with self.slot(lane):
                pass
        except Stopping:
            return  # the daemon is stopping: let the caller's last message go

    # -- scheduling -----------------------------------------------------------------------

    def schedule(self) -> int:
        """Start a worker for every lane that has a due delivery and is free. Returns how many."""
        now = self.store.clock()
        mono = self.monotonic()
        by_lane: dict[tuple[str, str], list[Delivery]] = {}
        for d in self.store.open_deliveries(limit=5000):
            by_lane.setdefault((d.sink, d.chat_id), []).append(d)
        started = 0
        for key, rows in by_lane.items():
            if key[0] in self.disabled_sinks or key[0] not in self.sinks:
                continue
            lane = self.lane(*key)
            if lane.busy or lane.paused_until > mono:
                continue
            if lane.disabled:
                self._divert(rows, lane.disabled)
                continue
            head = rows[0]
            if head.next_attempt_at and parse_iso(head.next_attempt_at) > now:
                continue
            lane.busy = True
            task = asyncio.create_task(self._run_lane(lane, rows))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            started += 1
        return started

    def next_wakeup(self) -> float:
        """Seconds until something may become due (at most 1 s, so new complaints are seen)."""
        return 1.0

    async def _run_lane(self, lane: Lane, rows: list[Delivery]) -> None:
        try:
            for d in rows:
                if self.stopping.is_set():
                    break
                if d.next_attempt_at and parse_iso(d.next_attempt_at) > self.store.clock():
                    break
                if not await self._deliver(lane, d):
                    break
        except Stopping:
            pass  # left pending: sent by the next run, nothing in flight
        except Exception:  # a bug must not silently kill the lane: log it and keep the daemon up
            log.exception(kv(event="lane_error", sink=lane.sink, chat=lane.chat_id))
            lane.paused_until = self.monotonic() + 30
        finally:
            lane.busy = False
            self.wake.set()

    # -- one delivery ---------------------------------------------------------------------

    async def _deliver(self, lane: Lane, d: Delivery) -> bool:
        """Send ``d``; True if the lane may go on with its next delivery."""
        sink = self.sinks[lane.sink]
        view = self.view_for(d.complaint_id, d)
        plain = False
        start = d.parts_sent  # parts posted by an earlier attempt are not posted again
        while True:
            parts = sink.render_plain(view) if plain else sink.render(view)
            if start >= len(parts):  # every part is already in the chat: nothing to send again
                self.store.mark_complete(d.id)
                return True
            self.store.claim(d.id, len(parts), restart=plain)
            try:
                if not getattr(sink, "started", True):  # unreachable when the daemon started
                    await sink.start()
                for part in parts[start:]:
                    async with self.slot(lane):
                        self.store.sending(d.id)  # only now: a crash while waiting is no repeat
                        message_id = await sink.send(lane.chat_id, part, plain=plain)
                    self.store.part_sent(d.id, message_id)
                    self.sent += 1
                self.health.up(f"chat:{lane.sink}:{lane.chat_id}")
                self.health.up(f"sink:{lane.sink}")
                return True
            except errors.MessageRejected as exc:
                if not plain:
                    plain, start = True, 0
                    log.info(kv(event="resend_plain", delivery=d.id, reason=str(exc)))
                    continue
                self._give_up(d, f"refused by the platform: {exc}", lane)
                return True
            except errors.ChatMigrated as exc:
                self.store.set_chat_override(lane.sink, lane.chat_id, exc.new_chat_id, str(exc))
                self.store.reschedule(d.id, str(exc), self.store.clock(), count_attempt=False)
                log.warning(kv(event="chat_migrated", sink=lane.sink, chat=lane.chat_id,
                               new_chat=exc.new_chat_id, group=d.group_name,
                               action=f"set chat_id: {exc.new_chat_id} for group {d.group_name} in the config"))
                return False
            except errors.ChatForbidden as exc:
                reason = f"{exc} ({exc.hint})" if exc.hint else str(exc)
                if d.group_name in self.triage.names:
                    # a triage group itself is unreachable: keep its complaints, retry slowly (a
                    # confidential one never falls back to the ordinary triage group)
                    self.health.down(f"chat:{lane.sink}:{lane.chat_id}", reason, level=logging.ERROR)
                    lane.paused_until = self.monotonic() + self.backoff_cap
                    self.store.reschedule(d.id, reason, self.store.clock()
                                          + timedelta(seconds=self.backoff_cap), count_attempt=False)
                    return False
                lane.disabled = f"{exc} ({exc.hint})" if exc.hint else str(exc)
                self.health.down(f"chat:{lane.sink}:{lane.chat_id}", lane.disabled, level=logging.ERROR)
                self._give_up(d, lane.disabled, lane)
                return False
            except errors.InvalidToken as exc:
                self.disabled_sinks[lane.sink] = str(exc)
                self.store.reschedule(d.id, str(exc), self.store.clock(), count_attempt=False)
                self.health.down(f"sink:{lane.sink}", f"token refused, sending stopped: {exc}",
                                 level=logging.ERROR)
                return False
            except errors.PermanentError as exc:
                self._give_up(d, f"{exc} {exc.hint}".strip(), lane)
                return True
            except errors.TemporaryError as exc:
                self._retry_later(lane, d, exc)
                return False

    def _retry_later(self, lane: Lane, d: Delivery, exc: errors.TemporaryError) -> None:
        uncertain = isinstance(exc, errors.UncertainDelivery)
        attempts = d.attempts + 1
        if exc.retry_after is not None:
            wait = float(exc.retry_after)
            count = False
        else:
            wait = min(self.backoff_cap, 2.0 ** min(attempts, 20)) * random.uniform(0.8, 1.2)
            count = True
        lane.paused_until = self.monotonic() + wait
        self.health.down(f"chat:{lane.sink}:{lane.chat_id}", str(exc))
        if count and attempts >= self.max_attempts:
            self.store.mark_dead(d.id, f"{attempts} attempts failed; last: {exc}")
            log.error(kv(event="delivery_dead", delivery=d.id, group=d.group_name, error=str(exc)))
            return
        self.store.reschedule(d.id, str(exc), self.store.clock() + timedelta(seconds=wait),
                              uncertain=uncertain, count_attempt=count)

    def _give_up(self, d: Delivery, reason: str, lane: Lane) -> None:
        self.store.mark_dead(d.id, reason)
        log.error(kv(event="delivery_dead", delivery=d.id, group=d.group_name, error=reason))
        self._to_fallback(d, reason)

    def _divert(self, rows: list[Delivery], reason: str) -> None:
        for d in rows:
            self.store.mark_dead(d.id, f"group unreachable: {reason}")
            self._to_fallback(d, reason)

    def _to_fallback(self, d: Delivery, reason: str) -> None:
        """Give the complaint of a dead delivery to its triage group (the confidential one for a
        confidential complaint, when configured)."""
        if d.group_name in self.triage.names:
            return
        dest = self.triage.for_complaint(casework.is_confidential(self.store.complaint(d.complaint_id)))
        if self.store.add_delivery(d.complaint_id, dest, f"{d.group_name}: {reason}"):
            self.wake.set()

    # -- loops ----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; wakes on ``self.wake`` (new complaints) or every second."""
        while not stop.is_set():
            self.wake.clear()
            self.schedule()
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=self.next_wakeup())
            except TimeoutError:
                pass
        self.stopping.set()
        await self.finish()

    async def finish(self) -> None:
        if self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def drain(self, max_wait_secs: float = 60.0) -> DrainResult:
        """Deliver everything that can be delivered now (``--once``).

        Waits for pauses and retries that fall within ``max_wait_secs`` from now; deliveries that
        would wait longer, or whose sink or group is unreachable, are left open and returned.
        """
        deadline = self.monotonic() + max_wait_secs
        while True:
            self.wake.clear()
            self.schedule()
            if self.tasks:
                await asyncio.wait(list(self.tasks), return_when=asyncio.FIRST_COMPLETED)
                continue
            remaining = self._waiting()
            if not remaining:
                break
            soonest = min(remaining)
            if self.monotonic() + soonest > deadline:
                break
            try:
                await asyncio.wait_for(self.wake.wait(), timeout=max(0.05, min(soonest, 1.0)))
            except TimeoutError:
                pass
        return DrainResult(sent=self.sent, open=self.store.open_deliveries())

    def _waiting(self) -> list[float]:
        """Seconds until each open, deliverable lane may go again (empty: nothing to wait for)."""
        now = self.store.clock()
        mono = self.monotonic()
        waits = []
        seen = set()
        for d in self.store.open_deliveries(limit=5000):
            key = (d.sink, d.chat_id)
            if key in seen or d.sink in self.disabled_sinks or d.sink not in self.sinks:
                continue
            seen.add(key)
            lane = self.lane(*key)
            if lane.disabled:
                waits.append(0.0)
                continue
            due = 0.0
            if d.next_attempt_at:
                due = (parse_iso(d.next_attempt_at) - now).total_seconds()
            waits.append(max(0.0, due, lane.paused_until - mono))
        return waits
