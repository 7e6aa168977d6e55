"""Source ``android_sms_gateway``: complaints sent by SMS to an Android phone running SMSGate.

SMSGate (the "SMS Gateway for Android" app, capcom6/android-sms-gateway) pushes every received
SMS to a webhook: an HTTP ``POST`` with a JSON envelope, signed with the key set in the app
(Settings -> Webhooks -> Signing Key). This source listens for those webhooks, writes each one
into a spool (a small SQLite file, ``spool``) and answers ``200`` only after that write
committed; the pipeline then reads the spool like any inbox and marks rows processed after its
own store committed them (:meth:`Source.commit`). Nothing is lost when the daemon is down: the
app retries a webhook that got no ``2xx`` (10 s, 20 s, 40 s ... about two days, SMSGate docs
"Webhooks"), and a webhook sent twice is stored once (the spool and the store both key on the
device id and the event id).

The envelope (SMSGate docs, payload of 2026; ``phoneNumber`` is the older name of ``sender``)::

    {"deviceId": "...", "event": "sms:received", "id": "<event id>", "webhookId": "...",
     "payload": {"messageId": "...", "message": "text", "sender": "+62812...",
                 "phoneNumber": "+62812...", "recipient": null, "simNumber": 1,
                 "receivedAt": "2024-06-22T15:46:11.000+07:00"}}

Answers: ``200`` stored (or a repeat, or an event this source does not take, such as
``system:ping``); ``401`` bad or missing signature, or ``X-Timestamp`` more than
``max_clock_skew_secs`` from the server's clock (SMSGate signs ``raw body + timestamp`` with
HMAC-SHA256, hex, in ``X-Signature``); ``400`` a body that is not such an envelope; ``413``
a body over 1 MiB; ``503`` the spool could not be written (the app retries).

Replies to citizens (tracking code, officers' questions and answers) leave through the same
phone when ``api_url`` is set: ``POST {api_url}/messages`` of SMSGate's API, through its Python
client (PyPI ``android-sms-gateway``), with the followup's id as the message id so that a crash
between sending and recording is resolved by asking ``GET {api_url}/messages/{id}``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from forwarder.context import Context
from forwarder.errors import InvalidToken, PermanentError, TemporaryError
from forwarder.health import kv
from forwarder.phone import classify_sender
from forwarder.types import IncomingComplaint, Polled
from forwarder.webhooks import listen

log = logging.getLogger("forwarder.sources.android_sms")

#: the event this source turns into complaints (SMSGate ``WebhookEvent.SMS_RECEIVED``)
SMS_RECEIVED = "sms:received"
_SPOOL_SCHEMA = """
create table if not exists webhook_inbox (
    id integer primary key,
    source text not null,
    event_key text not null,          -- deviceId:event id, what a repeated webhook shares
    body text not null,               -- the envelope as received (JSON)
    spooled_at text not null,         -- UTC, ISO 8601
    processed integer not null default 0,
    unique (source, event_key)
);
create index if not exists webhook_inbox_open on webhook_inbox(source, processed, id);
"""


class Config(BaseModel):
    """Settings of one ``android_sms_gateway`` source (one phone, or one SMSGate server)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["android_sms_gateway"]
    signing_key: SecretStr = Field(description="the app's webhook signing key")
    listen_host: str = Field(default="127.0.0.1", description="address the webhook listener binds")
    listen_port: int = Field(default=8765, ge=0, le=65535, description="0: any free port (tests)")
    path: str = Field(default="/webhooks/sms", pattern=r"^/[A-Za-z0-9._~/-]*$")
    spool: Path = Field(default=Path("var/android-sms-spool.db"),
                        description="SQLite file holding received webhooks until stored")
    max_clock_skew_secs: float = Field(default=300.0, gt=0)  # SMSGate docs: reject beyond +/- 5 min
    poll_interval_secs: float = Field(default=1.0, gt=0)
    batch_size: int = Field(default=200, ge=1, le=10_000)
    default_region: str = Field(default="ID", min_length=2, max_length=2)
    # replies to citizens through the phone (optional)
    api_url: str | None = Field(default=None, description="SMSGate API, e.g. http://192.168.1.20:8080")
    api_username: str | None = None
    api_password: SecretStr | None = None
    sim_number: int | None = Field(default=None, ge=1, le=3)
    api_timeout_secs: float = Field(default=10.0, gt=0, le=120)

    @field_validator("signing_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value().strip()
        if len(key) < 8:
            raise ValueError("the signing key must have at least 8 characters (set it in the app: "
                             "Settings -> Webhooks -> Signing Key)")
        return SecretStr(key)

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("api_url must start with http:// or https://")
        return value

    @property
    def can_reply(self) -> bool:
        """Whether citizens of this source can be answered (``api_url`` and its login are set)."""
        return bool(self.api_url and self.api_username and self.api_password)


def signature(key: str, body: bytes, timestamp: str) -> str:
    """SMSGate's webhook signature: hex HMAC-SHA256 of ``body + timestamp`` under ``key``."""
    return hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def _received_at(value: Any, fallback: datetime) -> datetime:
    """``receivedAt`` (ISO 8601 with the phone's offset) in UTC; ``fallback`` when unreadable
    or without an offset (a naive time of an unknown zone is not guessed)."""
    try:
        moment = datetime.fromisoformat(str(value).strip())  # 3.11 reads a trailing Z too
        return moment.astimezone(UTC) if moment.tzinfo is not None else fallback
    except (ValueError, OverflowError):  # "0001-01-01T00:00:00+07:00" overflows in UTC
        return fallback


class Source:
    """Receives SMSGate webhooks and hands them over as complaints. See the module docstring."""

    def __init__(self, name: str, config: Config, context: Context) -> None:
        self.name = name
        self.config = config
        self.context = context
        self.poll_interval = config.poll_interval_secs
        self.can_reply = config.can_reply
        self.port: int | None = None  # the bound port once listening
        self._runner: Any = None
        self._lock = asyncio.Lock()
        self._prepared = False
        self._want_listen = False
        self._reported: set[int] = set()  # unreadable spool rows already logged
        self._skipped: set[int] = set()  # spool rows a dry run has looked at (see skip)

    # -- the spool ------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        path = self.config.spool
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=10.0, isolation_level=None)
        try:
            if not self._prepared:
                conn.execute("pragma journal_mode=wal")
                self._prepared = True
            conn.executescript(_SPOOL_SCHEMA)  # cheap; recreates a spool deleted while running
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def _spool(self, event_key: str, body: str) -> bool:
        """Write one envelope; False when it was there already (a webhook sent again)."""
        with closing(self._connect()) as conn:
            cur = conn.execute(
                "insert into webhook_inbox(source, event_key, body, spooled_at) values (?,?,?,?) "
                "on conflict(source, event_key) do nothing",
                (self.name, event_key, body, self.context.clock().astimezone(UTC).isoformat()))
            return bool(cur.rowcount)

    def _read(self) -> list[tuple[int, str, str, str]]:
        with closing(self._connect()) as conn:
            skip = json.dumps(sorted(self._reported | self._skipped))
            return conn.execute(
                "select id, event_key, body, spooled_at from webhook_inbox where source = ? and "
                "processed = 0 and id not in (select value from json_each(?)) order by id limit ?",
                (self.name, skip, self.config.batch_size)).fetchall()

    def _mark(self, ids: list[int]) -> None:
        with closing(self._connect()) as conn:
            conn.execute("begin immediate")
            conn.executemany("update webhook_inbox set processed = 1 where id = ?", [(i,) for i in ids])
            conn.execute("commit")

    # -- listening ------------------------------------------------------------------------------
    async def listen(self) -> None:
        """Start the webhook listener (the daemon calls this once at start; ``run --once`` does
        not listen, it only reads the spool). Raises PermanentError when the address cannot be
        bound (port in use, no permission); :meth:`poll` then tries again whenever the spool is
        empty, raising the same error, so the problem stays visible in ``forwarder status``."""
        self._want_listen = True
        await self._bind()

    async def _bind(self) -> None:
        if self._runner is not None:
            return
        try:  # the spool must be writable before the app is told OK
            await asyncio.to_thread(lambda: self._connect().close())
        except (sqlite3.Error, OSError) as exc:
            raise PermanentError(f"SMSGate spool {self.config.spool} cannot be opened: {exc}",
                                 hint="check the path and its permissions") from exc
        self._runner, self.port = await listen(
            self._handle, host=self.config.listen_host, port=self.config.listen_port, path=self.config.path,
            what="SMSGate webhooks", port_key="listen_port")
        log.info(kv(event="listening", source=self.name,
                    address=f"{self.config.listen_host}:{self.port}{self.config.path}"))

    async def _handle(self, request: Any) -> Any:
        from aiohttp import web

        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": "body too large"}, status=413)
        stamp = request.headers.get("X-Timestamp", "")
        given = request.headers.get("X-Signature", "")
        why = self._refused(body, stamp, given)
        if why:
            log.warning(kv(event="webhook_refused", source=self.name, reason=why))
            return web.json_response({"error": why}, status=401)
        try:
            envelope = json.loads(body.decode("utf-8"))  # UnicodeDecodeError is a ValueError
            if not isinstance(envelope, dict):
                raise ValueError("not an object")
            event = str(envelope.get("event", ""))
            if event != SMS_RECEIVED:
                return web.json_response({"ignored": event})
            payload = envelope.get("payload")
            if not isinstance(payload, dict) or not envelope.get("id"):
                raise ValueError("no payload or id")
        except ValueError as exc:
            log.warning(kv(event="webhook_refused", source=self.name, reason=f"not an SMSGate envelope: {exc}"))
            return web.json_response({"error": f"not an SMSGate webhook envelope: {exc}"}, status=400)
        key = f"{envelope.get('deviceId') or '-'}:{envelope['id']}"
        try:
            async with self._lock:
                new = await asyncio.to_thread(self._spool, key, body.decode("utf-8"))
        except sqlite3.Error as exc:
            log.error(kv(event="webhook_not_spooled", source=self.name, error=str(exc)))
            return web.json_response({"error": "spool not writable, try again"}, status=503)
        return web.json_response({"stored": new})

    def _refused(self, body: bytes, stamp: str, given: str) -> str | None:
        """Why a webhook is refused (401), or None. Checked on the raw bytes before parsing."""
        if not stamp or not given:
            return "missing X-Timestamp or X-Signature"
        try:
            sent = float(stamp)
        except ValueError:
            return "X-Timestamp is not unix seconds"
        if not math.isfinite(sent):
            return "X-Timestamp is not unix seconds"
        skew = abs(self.context.clock().timestamp() - sent)
        if skew > self.config.max_clock_skew_secs:
            return f"X-Timestamp {skew:.0f} s away from this server's clock (check both clocks)"
        expected = signature(self.config.signing_key.get_secret_value(), body, stamp)
        if not hmac.compare_digest(expected.encode(), given.strip().lower().encode("utf-8", "replace")):
            return "bad signature (is the signing key the same in the app and the config?)"
        return None

    # -- the Source contract --------------------------------------------------------------------
    def _complaint(self, event_key: str, body: str, spooled_at: str) -> IncomingComplaint:
        envelope = json.loads(body)
        payload = envelope.get("payload") or {}
        raw_sender = payload.get("sender") or payload.get("phoneNumber")
        sender = classify_sender(raw_sender if isinstance(raw_sender, str) else None,
                                 self.config.default_region)
        text = payload.get("message")
        if isinstance(text, (int, float)) and not isinstance(text, bool):
            text = str(text)
        meta: dict[str, Any] = {"sender_kind": sender.kind, "device_id": envelope.get("deviceId"),
                                "event_id": envelope.get("id")}
        if payload.get("simNumber") is not None:
            meta["sim_number"] = payload.get("simNumber")
        spooled = datetime.fromisoformat(spooled_at)
        return IncomingComplaint(
            external_id=f"smsgate:{event_key}",
            received_at=_received_at(payload.get("receivedAt"), spooled),
            reporter=sender.reporter,
            text=text if isinstance(text, str) else "",
            channel="sms",
            meta=meta,
        )

    async def poll(self, cursor: str | None) -> Polled:
        """Complaints from the spooled webhooks not yet handed over; ``token`` holds their spool
        ids. Raises TemporaryError when the spool cannot be read, PermanentError when the
        listener should run but cannot bind its address."""
        try:
            rows = await asyncio.to_thread(self._read)
        except sqlite3.Error as exc:
            raise TemporaryError(f"SMSGate spool {self.config.spool} unreadable: {exc}") from exc
        if not rows and self._want_listen and self._runner is None:
            await self._bind()  # raises PermanentError while the address stays taken
        complaints, handed = [], []
        for spool_id, key, body, spooled_at in rows:
            try:
                complaints.append(self._complaint(key, body, spooled_at))
                handed.append(spool_id)
            except Exception as exc:  # noqa: BLE001 (any damage to one row must not stop the others)
                # left unprocessed (kept for an admin to read), never marked done: not lost
                if spool_id not in self._reported:
                    self._reported.add(spool_id)
                    log.error(kv(event="spool_row_unreadable", source=self.name, row=spool_id,
                                 spool=str(self.config.spool), error=str(exc), note="left in the spool"))
        return Polled(complaints, cursor, handed)

    async def commit(self, polled: Polled) -> None:
        if polled.token:
            try:
                await asyncio.to_thread(self._mark, list(polled.token))
            except sqlite3.Error as exc:
                raise TemporaryError(f"SMSGate spool {self.config.spool} not writable: {exc}") from exc

    async def skip(self, polled: Polled) -> None:
        """``run --dry-run``: the spool rows of ``polled`` stay unprocessed (the real run reads
        them) but are not read again in this process."""
        self._skipped.update(polled.token or ())

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- replies to citizens ----------------------------------------------------------------------
    @asynccontextmanager
    async def _client(self) -> AsyncIterator[Any]:
        """SMSGate's async API client over httpx, opened for one call."""
        from android_sms_gateway import client
        from android_sms_gateway.ahttp import HttpxAsyncHttpClient

        if not self.can_reply:
            raise PermanentError(f"source {self.name!r} cannot send SMS",
                                 hint="set api_url, api_username and api_password")
        cfg = self.config
        import httpx

        async with httpx.AsyncClient(timeout=cfg.api_timeout_secs) as http:
            yield client.AsyncAPIClient(cfg.api_username, cfg.api_password.get_secret_value(),  # type: ignore[union-attr]
                                        base_url=cfg.api_url or "", http_client=HttpxAsyncHttpClient(http))

    async def send_sms(self, number: str, text: str, message_id: str) -> str:
        """Send ``text`` to E.164 ``number`` through the phone; returns SMSGate's message id
        (``message_id``, which must be unique per message: :func:`smsgate_message_id`).

        The phone is asked for the id first (``GET /messages/{id}``), so a retry after a timeout
        or a crash never sends twice; a 409 on sending (a message with this id exists, issue
        capcom6/android-sms-gateway#422) also counts as sent, unless the phone reports it Failed.
        Raises TemporaryError (unreachable, timeout, 5xx, 429), InvalidToken (401/403),
        PermanentError (400, a message the phone could not send, the rest)."""
        from android_sms_gateway import domain

        message = domain.Message(phone_numbers=[number], text_message=domain.TextMessage(text=text),
                                 id=message_id, sim_number=self.config.sim_number,
                                 with_delivery_report=True)
        async with self._client() as api:
            try:  # asked first: servers before android-sms-gateway/server PR #80 answered 500, not 409
                state = await self._call(api.get_state(message_id))
            except LookupError:
                try:
                    state = await self._call(api.send(message))
                except _AlreadyThere:  # sent meanwhile (a retry racing a late answer)
                    state = await self._call(api.get_state(message_id))
            if _failed(state):
                raise PermanentError(f"the phone could not send SMS {message_id} (state Failed)",
                                     hint="check the phone's SIM, credit and signal")
        return str(getattr(state, "id", None) or message_id)

    async def find_sms(self, message_id: str) -> str | None:
        """SMSGate's id of message ``message_id`` when the phone already has it and has not
        failed it, else None (a crash between sending and recording it)."""
        async with self._client() as api:
            try:
                state = await self._call(api.get_state(message_id))
            except LookupError:
                return None
        return None if _failed(state) else str(state.id)

    async def _call(self, request: Any) -> Any:
        """Await one API call, its errors turned into forwarder's (LookupError for 404,
        :class:`_AlreadyThere` for 409)."""
        import httpx
        from android_sms_gateway import errors as api_errors

        try:
            return await request
        except httpx.TimeoutException as exc:
            raise TemporaryError(f"SMSGate API did not answer in time ({exc.__class__.__name__}); "
                                 "the retry asks the phone before sending again") from exc
        except httpx.TransportError as exc:
            raise TemporaryError(f"SMSGate API unreachable: {exc.__class__.__name__}: {exc}") from exc
        except api_errors.APIError as exc:
            status = getattr(exc, "status_code", None) or 0
            if status == 404:
                raise LookupError(str(exc)) from exc
            if status == 409:
                raise _AlreadyThere(str(exc)) from exc
            if status in (401, 403):
                raise InvalidToken(f"SMSGate API refused the login ({status})",
                                   hint="check api_username/api_password") from exc
            if status == 429 or status >= 500:
                raise TemporaryError(f"SMSGate API answered {status}") from exc
            raise PermanentError(f"SMSGate API answered {status}: {exc}") from exc


class _AlreadyThere(Exception):
    """SMSGate answered 409: a message with this id exists on the phone."""


def _failed(state: Any) -> bool:
    return str(getattr(getattr(state, "state", None), "value", getattr(state, "state", ""))) == "Failed"


def smsgate_message_id(followup_id: int, number: str, text: str) -> str:
    """The id a reply is sent under: ``forwarder-f<followup id>-<8 hex of the number and text>``.
    The same followup always gets the same id (so a resend is recognised), while a followup of
    a recreated database, whose row ids start again at 1, does not collide with old messages."""
    digest = hashlib.sha256(f"{number}\n{text}".encode()).hexdigest()[:8]
    return f"forwarder-f{followup_id}-{digest}"
