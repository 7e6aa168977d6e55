"""poll -> store -> classify -> route -> deliver: the daemon's main loop.

Each source is polled by its own task on its own interval; a failing or rate-limited source
(an X 429) waits alone while the others go on. What a poll returns is classified, routed and
stored together with the source's new cursor in one transaction, and only then acknowledged at
the source (:meth:`Source.commit`). The :class:`~forwarder.outbox.Dispatcher` delivers what was
stored. Retries and backoff live here and in the dispatcher, never inside an adapter.

The officer/citizen loop (:mod:`forwarder.loop`) hooks in at three points: citizen messages
that answer or ask about a complaint are taken out of a poll before classification, new
complaints get their acknowledgment queued, and the daemon runs the officers' update polling
and the followup sender next to the dispatcher.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import re
from dataclasses import dataclass, field
from typing import Any

from forwarder import errors
from forwarder import sinks as sink_registry
from forwarder import sources as source_registry
from forwarder.config import Settings
from forwarder.context import Context
from forwarder.health import Health, kv
from forwarder.outbox import UNCERTAIN_NOTE, Dispatcher, DrainResult
from forwarder.routing import Triage, route
from forwarder.store import Delivery, Destination, NewComplaint, Store, parse_iso
from forwarder.types import ComplaintView, Polled, Tag

log = logging.getLogger("forwarder")

#: A complaint is confidential when its text asks for it: the word RAHASIA (secret) in any form and
#: spelling seen in SMS ("RAHASIA.", "#rahasia", "dirahasiakan", "R A H A S I A", "R.A.H.A.S.I.A",
#: "rahsia", "RAHASlA", full-width letters, a zero-width space inside), or a request not to be
#: named ("jangan sebut nama saya", "anonim", "tanpa nama"). It then goes only to the groups marked
#: ``confidential: true``. Erring towards confidential is the safe side for the reporter.
CONFIDENTIAL_WORD = "RAHASIA"
_SECRET_SQUEEZED = re.compile(r"raha?si[a4]|rahas[il1]a")
_ANONYMOUS = re.compile(
    r"\b(?:jangan|jgn|ojo|aja)\s+(?:di)?(?:sebut|tulis|cantum|tampil)\w*\s+(?:nama|identitas)"
    r"|\banonim\w*|\btanpa\s+nama\b|\bsembunyikan\s+(?:nama|identitas)",
    re.IGNORECASE,
)


def is_confidential(text: str) -> bool:
    """True when ``text`` asks for confidentiality (see :data:`CONFIDENTIAL_WORD`)."""
    import unicodedata

    if not text:
        return False
    folded = unicodedata.normalize("NFKC", text).casefold()
    squeezed = re.sub(r"[\W_]+", "", folded)  # drops spaces, dots, zero-width characters
    return bool(_SECRET_SQUEEZED.search(squeezed) or _ANONYMOUS.search(folded))


def shown_keywords(keywords: list[str], masked_text: str) -> tuple[str, ...]:
    """The keywords an officer may see: those that are words of the masked text (a keyword of a
    complaint stored before keywords were taken from masked text could be a reporter's name)."""
    words = set(re.findall(r"\w+", masked_text.casefold()))
    return tuple(k for k in keywords if all(w in words for w in re.findall(r"\w+", k.casefold())))

#: How often the daemon logs one summary line (the only log line in steady state), seconds.
SUMMARY_EVERY_SECS = 900.0

#: How often the daemon looks for due reminders, digests and weekly summaries (seconds).
NOTICES_EVERY_SECS = 300.0


def _canonical_places(settings: Settings, gazetteer: Any) -> Settings:
    """Groups' kecamatan names in the official spelling, so routing compares like with like."""
    groups = []
    for group in settings.groups:
        if group.kecamatan:
            names = [gazetteer.canonical_kecamatan(k) or k for k in group.kecamatan]
            group = group.model_copy(update={"kecamatan": names})
        groups.append(group)
    return dataclasses.replace(settings, groups=groups)


def _one_per_chat(destinations: Any) -> list[Destination]:
    """Two groups of the config may share one chat: post a complaint there once."""
    seen: set[tuple[str, str]] = set()
    out = []
    for dest in destinations:
        if (dest.sink, dest.chat_id) not in seen:
            seen.add((dest.sink, dest.chat_id))
            out.append(dest)
    return out


@dataclass
class PollResult:
    source: str
    read: int = 0
    stored: int = 0
    error: str | None = None


@dataclass
class Pipeline:
    """Everything the daemon runs, built from a checked config by :meth:`build`."""

    settings: Settings
    store: Store
    model: Any
    gazetteer: Any
    sources: dict[str, Any]
    sinks: dict[str, Any]
    context: Context
    dry_run: bool = False  # sinks replaced for a look: citizens' messages are printed, not sent
    health: Health = field(init=False)
    dispatcher: Dispatcher = field(init=False)
    stored_since_summary: int = field(init=False, default=0)
    run_lock: Any = field(init=False, default=None)
    loop: Any = field(init=False)

    def __post_init__(self) -> None:
        from forwarder.loop import OfficerLoop, wrap_sinks

        self.sinks = wrap_sinks(self.sinks)
        self.health = Health(self.context.clock, on_change=self.store.set_channel_state)
        self.dispatcher = Dispatcher(
            self.store,
            self.sinks,
            self.settings.sinks,
            view_for=self.view,
            triage=Triage.of(self.settings.groups, self._chat_id),
            health=self.health,
        )
        self.loop = OfficerLoop(self)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        context: Context | None = None,
        sink_override: dict[str, Any] | None = None,
        model: Any = None,
    ) -> Pipeline:
        """Open the store, load the model and the place list, and create the adapters.

        ``sink_override`` replaces sinks by name (``--dry-run`` puts a console sink everywhere).
        Raises ModelError, StoreError, LookupError (unknown kabupaten).
        """
        from forwarder.classify.model import load_model
        from forwarder.classify.places import Gazetteer
        from forwarder.runlock import RunLock

        context = context or Context(timezone=settings.timezone)
        lock = RunLock(settings.database).acquire()  # raises StoreError if another run holds it
        try:
            store = Store.open(settings.database, clock=context.clock)
        except BaseException:
            lock.release()
            raise
        try:
            model = model if model is not None else load_model(settings.model)
            gazetteer = Gazetteer.for_kabupaten(settings.kabupaten)
        except BaseException:
            store.close()
            lock.release()
            raise
        settings = _canonical_places(settings, gazetteer)
        sources = {
            name: source_registry.load(cfg.type).Source(name, cfg, context)
            for name, cfg in settings.sources.items()
        }
        sinks: dict[str, Any] = {}
        for name, cfg in settings.sinks.items():
            if sink_override and name in sink_override:
                sinks[name] = sink_override[name]
            else:
                sinks[name] = sink_registry.load(cfg.type).Sink(name, cfg, context)
        for group in settings.groups:  # the console sink shows group names, not bare chat ids
            labels = getattr(sinks.get(group.sink), "labels", None)
            if isinstance(labels, dict):
                labels[group.chat_id] = group.name
        pipeline = cls(settings, store, model, gazetteer, sources, sinks, context, dry_run=bool(sink_override))
        pipeline.run_lock = lock
        return pipeline

    # -- intake ---------------------------------------------------------------------------

    def _chat_id(self, sink: str, chat_id: str) -> str:
        return self.store.chat_override(sink, chat_id) or chat_id

    def prepare(self, source: str, polled: Polled) -> list[NewComplaint]:
        """Classify, locate and route the complaints of ``polled`` not stored yet."""
        known = self.store.known_external_ids(source, (c.external_id for c in polled.complaints))
        fresh = [c for c in polled.complaints if c.external_id not in known]
        if not fresh:
            return []
        # the model reads a complaint without its place names: "Kecamatan Kedungadem" alone says
        # nothing about a topic (see Gazetteer.without_places)
        tags: list[Tag] = self.model.predict([self.model_text(c.text) for c in fresh])
        items = []
        for incoming, tag in zip(fresh, tags):
            place = self.gazetteer.find(incoming.text) if incoming.text else None
            confidential = is_confidential(incoming.text)
            routing = route(
                self.settings.groups,
                topic=tag.topic,
                confidence=tag.confidence,
                kecamatan=place.kecamatan if place else None,
                threshold=self.settings.confidence_threshold,
                confidential=confidential,
            )
            meta = dict(incoming.meta)
            if confidential:
                meta["confidential"] = True
            items.append(
                NewComplaint(
                    incoming=dataclasses.replace(incoming, meta=meta),
                    tag=tag,
                    place=place,
                    destinations=_one_per_chat(
                        Destination(g.name, g.sink, self._chat_id(g.sink, g.chat_id)) for g in routing.groups
                    ),
                    triage_reason=routing.triage_reason,
                )
            )
        return items

    def model_text(self, text: str) -> str:
        """What the topic model reads of a complaint: masked (a reporter's name must never become
        a keyword shown to officers) and without place names (a bare "Kecamatan Kedungadem" says
        nothing about a topic; see Gazetteer.without_places)."""
        from forwarder.privacy import mask

        return self.gazetteer.without_places(mask(text or ""))

    async def poll_source(self, name: str) -> PollResult:
        """Poll one source once, store what it read, then acknowledge it at the source.

        Raises TemporaryError / PermanentError from the source; the caller decides on retries.
        """
        source = self.sources[name]
        polled = await source.poll(self.store.cursor(name))
        items = self.prepare(name, self.loop.intercept(name, polled))
        new_ids = self.store.ingest(name, items, polled.cursor)
        self.loop.stored(new_ids)
        if not self.dry_run:
            await source.commit(polled)
        elif hasattr(source, "skip"):  # a dry run leaves the source as it was for the real run
            await source.skip(polled)
        if new_ids:
            self.dispatcher.wake.set()
            log.debug(kv(event="stored", source=name, new=len(new_ids), read=len(polled.complaints)))
            self.stored_since_summary += len(new_ids)
        return PollResult(name, read=len(polled.complaints), stored=len(new_ids))

    async def poll_once(self, name: str, *, max_rounds: int = 1000) -> PollResult:
        """Poll one source until it has nothing more to hand over (a backlog larger than one
        batch takes several polls); records the outcome instead of raising platform errors."""
        result = PollResult(name)
        try:
            for _ in range(max_rounds):
                step = await self.poll_source(name)
                result.read += step.read
                result.stored += step.stored
                if step.read == 0 or (self.dry_run and step.stored == 0):
                    break  # a dry run of a source that cannot skip would read one batch forever
        except errors.DeliveryError as exc:
            self.store.record_poll(name, str(exc))
            level = logging.ERROR if isinstance(exc, errors.PermanentError) else logging.WARNING
            self.health.down(f"source:{name}", str(exc), level=level)
            return PollResult(name, error=str(exc))
        self.store.record_poll(name, None)
        self.health.up(f"source:{name}")
        return result

    async def _source_loop(self, name: str, stop: asyncio.Event) -> None:
        source = self.sources[name]
        failures = 0
        while not stop.is_set():
            wait = float(source.poll_interval)
            try:
                await self.poll_source(name)
                self.store.record_poll(name, None)
                self.health.up(f"source:{name}")
                failures = 0
            except errors.TemporaryError as exc:
                failures += 1
                self.store.record_poll(name, str(exc))
                self.health.down(f"source:{name}", str(exc))
                wait = exc.retry_after if exc.retry_after is not None else self._backoff(failures, wait)
            except errors.PermanentError as exc:
                failures += 1
                self.store.record_poll(name, f"{exc} {exc.hint}".strip())
                self.health.down(f"source:{name}", f"{exc} {exc.hint}".strip(), level=logging.ERROR)
                wait = max(wait, 300.0)
            except Exception as exc:  # a bug in one source must not stop the others
                failures += 1
                log.exception(kv(event="source_error", source=name))
                self.store.record_poll(name, f"internal error: {exc!r}")
                wait = self._backoff(failures, wait)
            try:
                await asyncio.wait_for(stop.wait(), timeout=max(0.05, wait))
            except TimeoutError:
                pass

    @staticmethod
    def _backoff(failures: int, base: float) -> float:
        return min(300.0, base * 2 ** min(failures, 10)) * random.uniform(0.8, 1.2)

    # -- views ----------------------------------------------------------------------------

    def view(self, complaint_id: int, delivery: Delivery | None = None) -> ComplaintView:
        """What an officer group sees of a complaint: masked text, never the reporter."""
        import json

        from forwarder.casework import view_for_group
        from forwarder.privacy import mask

        row = self.store.complaint(complaint_id)
        group = next((g for g in self.settings.groups if delivery is not None and g.name == delivery.group_name),
                     None)
        # either triage group shows why the complaint is there
        in_fallback = delivery is not None and delivery.group_name in self.dispatcher.triage.names
        masked = mask(row["text"] or "")
        return view_for_group(ComplaintView(
            complaint_id=row["id"],
            tracking_code=row["tracking_code"],
            text=masked,
            channel=row["channel"] or "",
            received_at=parse_iso(row["received_at"]),
            topic=row["topic"],
            confidence=row["confidence"] or 0.0,
            kecamatan=row["kecamatan"],
            desa=row["desa"],
            keywords=shown_keywords(json.loads(row["keywords"] or "[]"), masked),
            triage_reason=(row["triage_reason"] or "dialihkan ke triase") if in_fallback else None,
            status=row["status"],
            timezone=self.settings.timezone,
            note=UNCERTAIN_NOTE if delivery is not None and delivery.uncertain else None,
        ), self.store, group, self.settings.timezone, groups=self.settings.groups)

    # -- running --------------------------------------------------------------------------

    async def start_sinks(self) -> None:
        for name, sink in self.sinks.items():
            try:
                await sink.start()
                self.health.up(f"sink:{name}")
            except errors.InvalidToken as exc:
                self.dispatcher.disabled_sinks[name] = str(exc)
                self.health.down(f"sink:{name}", f"token refused, sending stopped: {exc}", level=logging.ERROR)
            except errors.DeliveryError as exc:
                # unreachable now: the dispatcher retries per delivery
                self.health.down(f"sink:{name}", str(exc))

    async def reload_model(self) -> bool:
        """Load the model at ``settings.model`` again (after ``forwarder model promote`` or
        ``rollback``: the daemon's SIGHUP). The file is read in a worker thread and the model
        swapped on the event loop, between two complaints; complaints classified afterwards use
        it. On a ModelError the model in use stays and the error is logged. Returns whether it
        changed."""
        from forwarder.classify.model import load_model

        try:
            model = await asyncio.to_thread(load_model, self.settings.model)
        except errors.ModelError as exc:
            log.error(kv(event="model_reload_failed", error=str(exc), note="the previous model stays in use"))
            return False
        previous = getattr(self.model, "version", "?")
        self.model = model
        self.loop.actions.topics |= set(getattr(model, "labels", None) or ())
        log.info(kv(event="model_reloaded", version=getattr(model, "version", "?"), previous=previous))
        return True

    async def start_listeners(self) -> None:
        """Start the sources that receive pushes (``listen()``: SMSGate webhooks). Not in a dry
        run, which only reads what they spooled. A listener that cannot start is reported on
        the source's health and in ``forwarder status``; the other sources go on."""
        if self.dry_run:
            return
        for name, source in self.sources.items():
            listen = getattr(source, "listen", None)
            if listen is None:
                continue
            try:
                await listen()
            except errors.DeliveryError as exc:
                reason = f"{exc} {getattr(exc, 'hint', '')}".strip()
                self.store.record_poll(name, reason)
                self.health.down(f"source:{name}", reason, level=logging.ERROR)

    async def close(self) -> None:
        for thing in [*self.sources.values(), *self.sinks.values()]:
            try:
                await thing.close()
            except Exception:  # closing is best effort
                log.debug("close failed", exc_info=True)
        self.store.close()
        if self.run_lock is not None:
            self.run_lock.release()

    async def _notices_loop(self, stop: asyncio.Event) -> None:
        """Deadline reminders, overdue alerts, digests and weekly summaries, every
        ``NOTICES_EVERY_SECS`` (each notice is sent once; see :mod:`forwarder.reminders`)."""
        from forwarder.reminders import run_notices

        while not stop.is_set():
            try:
                await run_notices(self)
            except Exception:  # a bug here must not stop complaints from flowing
                log.exception(kv(event="notices_error"))
            try:
                await asyncio.wait_for(stop.wait(), timeout=NOTICES_EVERY_SECS)
            except TimeoutError:
                pass

    async def _summary_loop(self, stop: asyncio.Event) -> None:
        """One ``event=summary`` line every ``SUMMARY_EVERY_SECS``: complaints stored, messages
        delivered, the outbox's depth and its oldest open delivery."""
        sent_before = self.dispatcher.sent
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=SUMMARY_EVERY_SECS)
            except TimeoutError:
                pass
            counts = self.store.outbox_counts()
            log.info(kv(event="summary", stored=self.stored_since_summary,
                        delivered=self.dispatcher.sent - sent_before,
                        open=sum(counts.get(k, 0) for k in ("pending", "sending", "failed")),
                        dead=counts.get("dead", 0), oldest_open=self.store.oldest_open() or "-"))
            self.stored_since_summary = 0
            sent_before = self.dispatcher.sent

    async def run(self, stop: asyncio.Event) -> None:
        """Poll and deliver until ``stop`` is set (SIGTERM/SIGINT in the CLI)."""
        recovered = self.store.recover_in_flight()
        if recovered:
            log.warning(kv(event="recovered_in_flight", deliveries=len(recovered),
                           note="these are resent marked as possible repeats"))
        await self.loop.prepare()
        await self.start_sinks()
        await self.start_listeners()
        tasks = [asyncio.create_task(self._source_loop(name, stop)) for name in self.sources]
        tasks.append(asyncio.create_task(self.dispatcher.run(stop)))
        tasks += self.loop.tasks(stop)
        tasks.append(asyncio.create_task(self._notices_loop(stop)))
        tasks.append(asyncio.create_task(self._summary_loop(stop)))
        log.info(kv(event="started", sources=",".join(self.sources) or "none",
                    sinks=",".join(self.sinks), groups=len(self.settings.groups)))
        try:
            await asyncio.gather(*tasks)
        finally:
            await self.close()
        log.info(kv(event="stopped"))

    async def run_once(self, max_wait_secs: float = 60.0) -> tuple[list[PollResult], DrainResult]:
        """Poll every source once, handle the officers' pending updates, deliver everything due
        (complaints, then the followups: acknowledgments, answers, status edits), and return
        what happened. Followups still open are logged; they go out on the next run."""
        recovered = self.store.recover_in_flight()
        if recovered:
            log.warning(kv(event="recovered_in_flight", deliveries=len(recovered)))
        try:
            await self.loop.prepare()
            polls = [await self.poll_once(name) for name in self.sources]
            await self.start_sinks()
            await self.loop.read_updates_once()
            drained = await self.dispatcher.drain(max_wait_secs)
            left = await self.loop.sender.drain(max_wait_secs)
            if left:
                log.warning(kv(event="followups_open", count=left))
        finally:
            await self.close()
        return polls, drained
