"""The officer/citizen loop wired into the daemon (issue 5): what :class:`~forwarder.pipeline.Pipeline`
calls around intake and delivery.

* before a poll is classified: citizen messages that are no complaints are taken out
  (:func:`forwarder.citizen_inbound.intercept`, asking the model through :meth:`OfficerLoop.topic_of`
  whether a would-be answer is a new complaint about another topic);
* after new complaints are stored: their acknowledgments are queued (:func:`forwarder.citizen.acknowledge`);
* while running: one :class:`~forwarder.sinks.telegram_updates.UpdatePoller` per telegram sink
  and one :class:`~forwarder.sinks.waha_webhooks.WebhookListener` per waha sink with a
  ``webhook:`` block read officers' actions, and a :class:`~forwarder.followups.Sender` sends the queued
  followups (SMS into Gammu's outbox, X replies, posts, status edits and deletions in the groups), paced
  with the dispatcher's per-chat windows so the two never exceed Telegram's flood limits together.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from forwarder import citizen, citizen_inbound, errors, followups
from forwarder.actions import Actions, ButtonSink
from forwarder.health import kv
from forwarder.routing import Triage
from forwarder.store import DEAD, SENT, Delivery, iso
from forwarder.types import Polled

if TYPE_CHECKING:
    from forwarder.pipeline import Pipeline

#: what a later part of a forwarded complaint shows once its text is hidden (flagged confidential)
HIDDEN_PART = "(lanjutan pengaduan ini dirahasiakan)"
log = logging.getLogger("forwarder.loop")

#: after a restart, complaints stored this long ago or less get a missed acknowledgment
ACK_CATCH_UP = timedelta(days=1)


def wrap_sinks(sinks: dict[str, Any]) -> dict[str, Any]:
    """Sinks that take buttons get them on the first part of each forwarded complaint."""
    return {name: ButtonSink(s) if getattr(s, "supports_buttons", False) and not isinstance(s, ButtonSink) else s
            for name, s in sinks.items()}


class OfficerLoop:
    """Everything of the loop one daemon needs; built by the pipeline after its dispatcher."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline
        settings = pipeline.settings
        self.triage = Triage.of(settings.groups)
        topics = {t for g in settings.groups for t in g.topics}
        topics |= set(getattr(pipeline.model, "labels", None) or ())
        self.actions = Actions(pipeline.store, settings, triage=self.triage, topics=topics,
                               gazetteer=pipeline.gazetteer, wake=self.wake,
                               bot_usernames={})
        to_citizen = {followups.SMS: lambda row: citizen.send_sms(settings, row, pipeline.sources),
                      followups.X: lambda row: citizen.send_x(pipeline.sources, row)}
        if pipeline.dry_run:
            to_citizen = dict.fromkeys(to_citizen, self._print)
        self.sender = followups.Sender(
            pipeline.store,
            {**to_citizen, followups.CHAT: self._post, followups.EDIT: self._edit,
             followups.DELETE: self._delete},
            pace=self._pace, recover_sms=lambda row: citizen.find_sms(settings, row, pipeline.sources),
            health=pipeline.health)
        self.pollers: dict[str, Any] = {}
        self.listeners: dict[str, Any] = {}  # WAHA webhook listeners (forwarder.sinks.waha_webhooks)

    def wake(self) -> None:
        self.p.dispatcher.wake.set()
        self.sender.wake.set()

    # -- intake ---------------------------------------------------------------------------------
    def intercept(self, source: str, polled: Polled) -> Polled:
        """``polled`` without the citizen messages that answer or ask about a complaint."""
        triage = Triage.of(self.p.settings.groups,
                           lambda sink, chat: self.p.store.chat_override(sink, chat) or chat)
        rest, handled = citizen_inbound.intercept(self.p.store, self.p.settings, source, polled.complaints,
                                                  triage, topic_of=self.topic_of)
        if handled:
            log.info(kv(event="citizen_messages", source=source, handled=handled))
            self.wake()
        return Polled(rest, polled.cursor, polled.token) if len(rest) != len(polled.complaints) else polled

    def topic_of(self, text: str) -> tuple[str | None, float]:
        """The daemon's model on one citizen text, read as a complaint is (without its place
        names): how :mod:`forwarder.citizen_inbound` tells a new complaint from an answer."""
        tag = self.p.model.predict([self.p.gazetteer.without_places(text)])[0]
        return tag.topic, tag.confidence

    def stored(self, new_ids: list[int]) -> None:
        if citizen.acknowledge(self.p.store, self.p.settings, new_ids):
            self.sender.wake.set()

    # -- starting -------------------------------------------------------------------------------
    async def prepare(self) -> None:
        """At start: settle followups in flight at a crash, catch up missed acknowledgments."""
        recovered = await self.sender.recover()
        if recovered:
            log.warning(kv(event="recovered_followups", count=recovered))
        since = iso(self.p.store.clock() - ACK_CATCH_UP)
        citizen.acknowledge_missed(self.p.store, self.p.settings, since)

    def _pollers(self) -> dict[str, Any]:
        from forwarder.sinks.telegram_updates import UpdatePoller

        if self.p.dry_run:  # a dry run must not take officers' updates away from the daemon
            return self.pollers
        for name, cfg in self.p.settings.sinks.items():
            sink = self.p.sinks.get(name)
            if name in self.pollers or getattr(cfg, "type", None) != "telegram" or not getattr(cfg, "poll_updates", False):
                continue
            if name in self.p.dispatcher.disabled_sinks or sink is None:
                continue
            self.actions.bot_usernames[name] = getattr(sink, "username", None) or ""
            self.pollers[name] = UpdatePoller(name, sink, self.actions, self.p.store,
                                              long_poll_secs=cfg.long_poll_secs, health=self.p.health)
        return self.pollers

    def _listeners(self) -> dict[str, Any]:
        """One WAHA webhook listener per ``waha`` sink with a ``webhook:`` block (not in a dry
        run: it must not act on officers' messages with a copy of the database)."""
        from forwarder.sinks.waha_webhooks import WebhookListener

        if self.p.dry_run:
            return self.listeners
        for name, cfg in self.p.settings.sinks.items():
            if name in self.listeners or getattr(cfg, "type", None) != "waha" or getattr(cfg, "webhook", None) is None:
                continue

            def chats(sink: str = name) -> set[str]:
                return {self.p.store.chat_override(sink, g.chat_id) or g.chat_id
                        for g in self.p.settings.groups if g.sink == sink}

            self.listeners[name] = WebhookListener(name, cfg, self.actions, self.p.store, chats=chats,
                                                   wake=self.wake, health=self.p.health)
        return self.listeners

    def tasks(self, stop: asyncio.Event) -> list[asyncio.Task[None]]:
        """The loop's tasks for the daemon (after the sinks were started)."""
        out = [asyncio.create_task(self.sender.run(stop))]
        out += [asyncio.create_task(p.run(stop)) for p in self._pollers().values()]
        out += [asyncio.create_task(w.run(stop)) for w in self._listeners().values()]
        return out

    async def read_updates_once(self) -> int:
        """``--once``: handle every pending officer update of every telegram sink."""
        total = 0
        for name, poller in self._pollers().items():
            try:
                total += await poller.drain()
            except errors.DeliveryError as exc:
                log.warning(kv(event="updates_unavailable", sink=name, error=str(exc)))
        return total

    # -- sending --------------------------------------------------------------------------------
    async def _pace(self, channel: str, via: str, target: str) -> None:
        dispatcher = self.p.dispatcher
        await dispatcher.wait_for_slot(dispatcher.lane(via, target))

    async def _print(self, row: followups.Followup) -> str:
        """``--dry-run``: show a message to a citizen instead of sending it (no number shown)."""
        code = self.p.store.complaint(row.complaint_id)["tracking_code"] if row.complaint_id else "-"
        print(f"── ke pelapor lewat {row.channel.upper()} (pengaduan {code}) {'─' * 30}\n{row.text}\n",
              flush=True)
        return "dry-run"

    def _delivery(self, row: followups.Followup) -> Delivery | None:
        found = self.p.store.deliveries("complaint_id = ? and group_name = ?", [row.complaint_id, row.group_name])
        return found[0] if found else None

    async def _post(self, row: followups.Followup) -> str:
        """A post in a complaint's thread: a reply to its forwarded message in that chat."""
        sink = self.p.sinks.get(row.via)
        if sink is None:
            raise errors.PermanentError(f"no sink named {row.via!r}", hint="check the config")
        reply_to = row.reply_to
        if reply_to is None and row.complaint_id is not None:
            delivery = self._delivery(row)
            if delivery is not None and delivery.state == SENT and delivery.message_ids:
                reply_to = delivery.message_ids[0]
            elif delivery is not None and delivery.state != DEAD:
                raise errors.TemporaryError("the complaint's message is not in the group yet", retry_after=2.0)
        chat = self.p.store.chat_override(row.via, row.target) or row.target
        if row.buttons == followups.FORCE_REPLY:  # the text is HTML (it mentions an officer)
            if getattr(self.p.settings.sinks.get(row.via), "type", None) == "telegram" and not self.p.dry_run:
                from forwarder.sinks.telegram_updates import send_prompt

                return await send_prompt(sink, chat, row.text or "", reply_to=reply_to)
            if getattr(sink, "supports_buttons", False):
                return await sink.send(chat, row.text or "", reply_to=reply_to)
            return await sink.send(chat, row.text or "")
        if getattr(sink, "supports_buttons", False) or getattr(sink, "supports_reply_to", False):
            return await sink.send(chat, row.text or "", plain=True, reply_to=reply_to)
        return await sink.send(chat, row.text or "", plain=True)

    async def _edit(self, row: followups.Followup) -> None:
        """Show the complaint's current status in a group's forwarded message (its first part).
        When the message now renders in fewer parts than were posted (its text hidden after
        ``forwarder flag --confidential``), the parts beyond are edited to :data:`HIDDEN_PART`,
        so a long complaint's later parts do not keep its text."""
        sink = self.p.sinks.get(row.via)
        delivery = self._delivery(row)
        if sink is None or not hasattr(sink, "edit") or delivery is None or delivery.state != SENT \
                or not delivery.message_ids:
            return  # an unsent delivery shows the current status when it goes out
        view = self.p.view(delivery.complaint_id, delivery)
        chat = self.p.store.chat_override(row.via, delivery.chat_id) or delivery.chat_id
        message_id = row.reply_to or delivery.message_ids[0]
        for plain in (False, True):
            parts = sink.render_plain(view) if plain else sink.render(view)
            if not parts:
                return
            extra = {"buttons": getattr(parts[0], "buttons", None)} if getattr(sink, "supports_buttons", False) else {}
            try:
                await sink.edit(chat, message_id, str(parts[0]), plain=plain, **extra)
            except errors.MessageRejected:
                if plain:
                    raise
                continue
            if message_id == delivery.message_ids[0]:
                for later in delivery.message_ids[len(parts):]:
                    await sink.edit(chat, later, HIDDEN_PART, plain=True)
            return
        return

    async def _delete(self, row: followups.Followup) -> str:
        """Delete one part (``row.reply_to``) of a forwarded complaint for everyone in a group of a
        sink that cannot edit (``forwarder flag --confidential``). Raises the sink's errors; a
        sink without ``delete`` or a row without the message id is a PermanentError (the row goes
        ``dead`` and the log says to delete it by hand)."""
        if not row.reply_to:
            raise errors.PermanentError("no message id to delete")
        if self.p.dry_run:
            print(f"── hapus pesan {row.reply_to} di grup {row.group_name} (dry run) {'─' * 20}\n", flush=True)
            return "dry-run"
        sink = self.p.sinks.get(row.via)
        if sink is None or not hasattr(sink, "delete"):
            raise errors.PermanentError(f"sink {row.via!r} cannot delete messages")
        chat = self.p.store.chat_override(row.via, row.target) or row.target
        await sink.delete(chat, row.reply_to)
        return row.reply_to
