"""Officers acting from WhatsApp groups: WAHA's ``message`` webhooks, turned into actions.

A ``waha`` sink with a ``webhook:`` block gets one :class:`WebhookListener` in the daemon (not in
``--dry-run``; ``run --once`` does not listen, WAHA pushes). WAHA posts every message the linked
number sees to the session's webhook URL; an officer's reply to a forwarded complaint
(``/terima``, ``/selesai <catatan>`` ...) becomes an :class:`~forwarder.actions.Incoming` for
:class:`~forwarder.actions.Actions`, exactly as on Telegram, and the outcome is answered in the
group as a reply to the officer's message (plain text, queued as a followup so it is paced with the
sink's WhatsApp limits and survives a restart).

What WAHA sends (devlikeapro/waha, docs/site/content/en/docs/how-to/webhooks/index.md, "Webhook
payload", "message", "HMAC authentication"; src/structures/webhooks.dto.ts ``WAHAWebhook``;
src/structures/responses.dto.ts ``WAMessage``; src/structures/message.dto.ts ``ReplyToMessage``;
src/structures/properties.dto.ts)::

    POST <url>   X-Webhook-Hmac: <hex>   X-Webhook-Hmac-Algorithm: sha512
    {"event": "message", "session": "default", "engine": "WEBJS", "me": {...},
     "payload": {"id": "false_120363...@g.us_3EB0..._62812...@c.us", "timestamp": 1667561485,
                 "from": "120363...@g.us", "fromMe": false, "participant": "62812...@c.us",
                 "body": "/terima", "hasMedia": false,
                 "replyTo": {"id": "3EB0...", "participant": "62899...@c.us", "body": "Pengaduan ..."},
                 "_data": {...}}}

* ``X-Webhook-Hmac`` is the HMAC of the raw body under the session webhook's ``hmac.key``, with
  the algorithm named in ``X-Webhook-Hmac-Algorithm``, ``sha512`` (hex; the docs' example, body
  ``{"event":"message","session":"default","engine":"WEBJS"}`` under ``my-secret-key``, gives
  ``208f8a55...53fa89``, checked in the tests). The headers are only sent when the key is set,
  so a webhook without them is refused: nothing unsigned is acted on. WAHA's docs show HMAC
  among the Plus webhook features; for WAHA Core the sink takes ``url_token`` instead, a random
  token the webhook URL carries (``.../webhooks/waha?token=...``), compared in constant time.
* ``event`` ``message`` is an incoming message (``message.any`` also carries the number's own
  messages and is not taken); ``payload.from`` is the chat (a group JID ``...@g.us``),
  ``payload.participant`` the member who wrote in a group (``author`` in older payloads),
  ``fromMe`` true for the linked number's own messages (ignored: they are the bot's).
* ``payload.id`` is the *serialized* id ``<fromMe>_<chat>_<key id>[_<participant>]``
  (``MessageIdProperty``: ``false_11111111111@c.us_AAAAAAAAAAAAAAAAAAAA``), while
  ``payload.replyTo.id``, the quoted message, is the *bare* key id (``MessageIdOnlyProperty``:
  ``AAAAAAAAAAAAAAAAAAAA``). The id the sink stored for a forwarded complaint is whatever
  ``sendText`` answered: WEBJS ``id._serialized`` (``true_<chat>_<key id>...``), other engines
  the bare ``key.id``. :func:`stored_message_id` therefore compares key ids
  (:func:`key_id`) and hands :class:`~forwarder.actions.Actions` the id as stored. Older WEBJS
  payloads without ``replyTo`` carry the quoted key id in ``_data.quotedStanzaID``.
* WAHA retries a webhook that got no 2xx (Plus: 15 times, 2 s apart, "Retries"); the envelope
  carries no timestamp header of its own, so repeats are recognised by the message id.

Answers: ``200`` acted on, or ignored (another event or session, the number's own message, a chat
that is no group of this sink, no text, no ``payload.timestamp``, older than ``max_age_secs``,
stamped more than :data:`~forwarder.sinks.waha.MAX_AHEAD_SECS` (10 minutes) ahead of the
server's clock, or a message handled before); ``401`` missing or wrong ``X-Webhook-Hmac`` (or
``?token=``), or an algorithm other than sha512; ``400`` a
body that is not such an envelope; ``413`` over 1 MiB; ``503`` the database could not take the
action now (WAHA retries).

Once only: each message's id becomes the ``update_id`` of the ``telegram_updates`` table that
:meth:`Actions.handle` consults and writes in the action's own transaction (the first 56 bits of
the SHA-256 of ``<session>:<payload.id>``), so a webhook delivered twice is applied once. Rows
older than ``keep_days`` are pruned; a message older than ``max_age_secs`` (which plus those 10
minutes may not exceed ``keep_days``) is never acted on, so a replayed old body cannot act twice. That window relies on
the message's age: one whose ``payload.timestamp`` lies more than 10 minutes in the future (a
forged or broken stamp; WhatsApp's and the server's clocks agree within seconds with NTP) is
ignored with reason ``from the future``, as its dedupe record could be pruned before it looks
old enough to be refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from forwarder import errors, followups
from forwarder.actions import Actions, Incoming, Outcome
from forwarder.health import Health, kv
from forwarder.sinks.waha import MAX_AHEAD_SECS
from forwarder.webhooks import listen
from forwarder.sinks.telegram_updates import PRUNE_EVERY_SECS, prune_when_due
from forwarder.store import Store, iso

log = logging.getLogger("forwarder.waha_webhooks")

MESSAGE = "message"
HMAC_HEADER = "X-Webhook-Hmac"
ALGORITHM_HEADER = "X-Webhook-Hmac-Algorithm"
ALGORITHM = "sha512"
BIND_RETRY_SECS = 60.0
#: a message stamped further ahead of this server's clock is ignored ("from the future")
_SERIALIZED = re.compile(r"(?:true|false)_[^_]+_([^_]+)(?:_.*)?")


def signature(key: str, body: bytes) -> str:
    """WAHA's ``X-Webhook-Hmac``: hex HMAC-SHA512 of the raw ``body`` under ``key``."""
    return hmac.new(key.encode("utf-8"), body, hashlib.sha512).hexdigest()


def key_id(message_id: str) -> str:
    """The key id of a WhatsApp message id: ``3EB0AB`` for ``true_1203...@g.us_3EB0AB`` or
    ``false_1203...@g.us_3EB0AB_62812...@c.us``; a bare id is returned as it is."""
    m = _SERIALIZED.fullmatch(message_id.strip())
    return m.group(1) if m else message_id.strip()


def update_id(session: str, message_id: str) -> int:
    """A stable positive 56-bit number for a WhatsApp message (the dedupe key of Actions)."""
    return int.from_bytes(hashlib.sha256(f"{session}:{message_id}".encode()).digest()[:7], "big")


def stored_message_id(store: Store, sink: str, chat_id: str, quoted: str) -> str | None:
    """The id, as stored, of this sink's message in ``chat_id`` whose key id is that of
    ``quoted`` (bare or serialized): a forwarded complaint's part (``deliveries.message_ids``)
    or a post in its thread (``followups.ref``); None when the bot sent no such message."""
    key = key_id(quoted)
    if not key:
        return None
    like = "%\\_" + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = store.db.execute(
        "select j.value from deliveries d, json_each(d.message_ids) j where d.sink = ? and d.chat_id = ? "
        "and (j.value = ? or j.value like ? escape '\\' or j.value like ? escape '\\')",
        [sink, chat_id, key, like, like + "\\_%"]).fetchall()
    rows += store.db.execute(
        "select ref from followups where channel = ? and via = ? and target = ? and ref is not null "
        "and (ref = ? or ref like ? escape '\\' or ref like ? escape '\\')",
        [followups.CHAT, sink, chat_id, key, like, like + "\\_%"]).fetchall()
    return next((str(r[0]) for r in rows if key_id(str(r[0])) == key), None)


def _sender_number(jid: Any) -> int | None:
    """``62812...`` of ``62812...@c.us`` (or ``...:12@s.whatsapp.net``, ``...@lid``), else None."""
    user = str(jid or "").partition("@")[0].partition(":")[0]
    return int(user) if user.isdigit() and 0 < len(user) <= 18 else None


def _timestamp(value: Any) -> datetime | None:
    """``payload.timestamp`` (unix seconds; milliseconds accepted) in UTC, None when absent."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    seconds = value / 1000 if value > 1e11 else value
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def quoted_id(payload: dict[str, Any]) -> str | None:
    """The quoted message's id: ``replyTo.id``, or ``_data.quotedStanzaID`` (older WEBJS)."""
    reply = payload.get("replyTo")
    if isinstance(reply, dict) and reply.get("id"):
        return str(reply["id"])
    data = payload.get("_data")
    if isinstance(data, dict) and data.get("quotedStanzaID"):
        return str(data["quotedStanzaID"])
    return None


class WebhookListener:
    """Receives WAHA's webhooks for one ``waha`` sink (see the module docstring).

    ``chats()`` returns the JIDs of the officer groups on this sink (read at each webhook, so
    chat id overrides apply); ``wake()`` is called after an action or a queued reply."""

    def __init__(self, name: str, config: Any, actions: Actions, store: Store, *, chats: Any,
                 wake: Any = lambda: None, health: Health | None = None) -> None:
        self.name = name
        self.config = config  # the sink's Config (session, webhook)
        self.webhook = config.webhook
        self.actions = actions
        self.store = store
        self.chats = chats
        self.wake = wake
        self.health = health
        self.port: int | None = None
        self.handled = 0
        self._runner: Any = None
        self._lock = asyncio.Lock()
        self._pruned_at: float | None = None

    @property
    def channel(self) -> str:
        return f"webhook:{self.name}"

    # -- listening ------------------------------------------------------------------------------
    async def start(self) -> None:
        """Bind the listener. Raises PermanentError when the address cannot be bound."""
        if self._runner is not None:
            return
        self._runner, self.port = await listen(
            self._handle, host=self.webhook.listen_host, port=self.webhook.listen_port, path=self.webhook.path,
            what="WAHA webhooks", port_key="webhook.listen_port")
        log.info(kv(event="listening", sink=self.name,
                    address=f"{self.webhook.listen_host}:{self.port}{self.webhook.path}"))

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def run(self, stop: asyncio.Event) -> None:
        """Listen until ``stop`` is set; an address that cannot be bound is reported on the
        sink's health and tried again every :data:`BIND_RETRY_SECS`. Prunes old dedupe rows."""
        try:
            while not stop.is_set():
                if self._runner is None:
                    try:
                        await self.start()
                        if self.health:
                            self.health.up(self.channel)
                    except errors.PermanentError as exc:
                        if self.health:
                            self.health.down(self.channel, f"{exc} {exc.hint or ''}".strip(), level=logging.ERROR)
                self.prune_due()
                wait = BIND_RETRY_SECS if self._runner is None else PRUNE_EVERY_SECS
                try:
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                except TimeoutError:
                    pass
        finally:
            await self.close()

    def prune(self) -> int:
        """Delete this sink's handled message ids older than ``keep_days``; returns how many."""
        cutoff = iso(self.store.clock() - timedelta(days=self.webhook.keep_days))
        with self.store.db.conn as conn:
            cur = conn.execute("delete from telegram_updates where sink = ? and at < ?", (self.name, cutoff))
        return cur.rowcount

    def prune_due(self) -> int:
        return prune_when_due(self)

    # -- one webhook ----------------------------------------------------------------------------
    def refused(self, body: bytes, given: str, algorithm: str, token: str = "") -> str | None:
        """Why a webhook is refused (401), or None. Checked on the raw bytes before parsing:
        the HMAC with ``hmac_key``, or with ``url_token`` the ``?token=`` of the URL."""
        if self.webhook.hmac_key is None:
            expected = self.webhook.url_token.get_secret_value() if self.webhook.url_token else ""
            if not token:
                return "missing ?token= in the webhook URL (webhook.url_token)"
            if not expected or not hmac.compare_digest(expected.encode(), token.encode("utf-8", "replace")):
                return "wrong ?token= (is the webhook URL in WAHA the one with webhook.url_token here?)"
            return None
        if not given:
            return f"missing {HMAC_HEADER} (set hmac.key in the session's webhook config)"
        if algorithm and algorithm.strip().lower() != ALGORITHM:
            return f"{ALGORITHM_HEADER} {algorithm[:20]!r} is not {ALGORITHM}"
        expected = signature(self.webhook.hmac_key.get_secret_value(), body)
        if not hmac.compare_digest(expected.encode(), given.strip().lower().encode("utf-8", "replace")):
            return "bad HMAC (is hmac.key in WAHA the same as webhook.hmac_key here?)"
        return None

    def incoming(self, envelope: dict[str, Any]) -> tuple[Incoming | None, str]:
        """The :class:`Incoming` of a checked envelope, or None and why it is ignored."""
        event = str(envelope.get("event", ""))
        if event != MESSAGE:
            return None, f"event {event[:40]}"
        if str(envelope.get("session", "")) != self.config.session:
            return None, "another session"
        payload = envelope["payload"]
        if payload.get("fromMe") is True:
            return None, "own message"
        chat = str(payload.get("from") or "")
        if chat not in self.chats():
            return None, "not an officer group of this sink"
        text = payload.get("body")
        if not isinstance(text, str) or not text.strip():
            return None, "no text"
        sent = _timestamp(payload.get("timestamp"))
        if sent is None:
            return None, "no timestamp"  # WAHA always sends one; without it the age is unknown
        if (self.store.clock() - sent).total_seconds() > self.webhook.max_age_secs:
            return None, "too old"
        if (sent - self.store.clock()).total_seconds() > MAX_AHEAD_SECS:
            return None, "from the future"  # its age, on which the once-only window relies, is unknown
        sender = payload.get("participant") or payload.get("author")
        quoted = quoted_id(payload)
        reply_to = None
        if quoted:
            reply_to = stored_message_id(self.store, self.name, chat, quoted) or quoted
        data = payload.get("_data") if isinstance(payload.get("_data"), dict) else {}
        name = str(payload.get("notifyName") or data.get("notifyName") or data.get("pushName") or "")
        return Incoming(self.name, update_id(self.config.session, str(payload["id"])), chat,
                        _sender_number(sender), name.strip()[:64], False, text=text,
                        message_id=str(payload["id"]), reply_to=reply_to, platform="wa"), ""

    def act(self, inc: Incoming) -> Outcome | None:
        """Apply ``inc`` and queue the answer in the group (a reply to the officer's message), in
        the transaction that applies and records it. Raises sqlite3.Error when the database
        cannot take it now (nothing applied: WAHA's retry applies it)."""
        def queue(conn: Any, outcome: Outcome) -> None:
            followups.enqueue(conn, self.store.now(), kind="officer_answer", channel=followups.CHAT,
                              via=self.name, target=inc.chat_id, reply_to=inc.message_id, text=outcome.text,
                              dedupe=f"wa:{self.name}:{inc.update_id}")

        outcome = self.actions.handle(inc, answer=queue)
        if outcome is not None and outcome.text:
            self.wake()
        return outcome

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": "body too large"}, status=413)
        why = self.refused(body, request.headers.get(HMAC_HEADER, ""), request.headers.get(ALGORITHM_HEADER, ""),
                           request.query.get("token", ""))
        if why:
            log.warning(kv(event="webhook_refused", sink=self.name, reason=why))
            return web.json_response({"error": why}, status=401)
        try:
            envelope = json.loads(body.decode("utf-8"))
            if not isinstance(envelope, dict):
                raise ValueError("not an object")
            if envelope.get("event") == MESSAGE and (not isinstance(envelope.get("payload"), dict)
                                                     or not envelope["payload"].get("id")):
                raise ValueError("a message without payload.id")
        except ValueError as exc:
            log.warning(kv(event="webhook_refused", sink=self.name, reason=f"not a WAHA envelope: {exc}"))
            return web.json_response({"error": f"not a WAHA webhook envelope: {exc}"}, status=400)
        inc, why = self.incoming(envelope)
        if inc is None:
            return web.json_response({"ignored": why})
        try:
            async with self._lock:
                outcome = self.act(inc)
        except sqlite3.Error as exc:
            log.error(kv(event="officer_action_not_stored", sink=self.name, error=str(exc)))
            return web.json_response({"error": "cannot store the action now, try again"}, status=503)
        self.handled += 1
        return web.json_response({"applied": bool(outcome and outcome.applied)})
