"""A loopback fake of SMSGate (the Android SMS gateway app, capcom6/android-sms-gateway).

Two halves, both on 127.0.0.1 only:

* :class:`FakeSMSGate`: the gateway's API that ``forwarder`` calls to send replies to citizens:
  ``POST {base}/messages`` (HTTP Basic auth; answers ``202`` with a MessageState, the client's
  own id kept; ``409`` when a message with that id exists, as SMSGate answers) and ``GET
  {base}/messages/{id}`` (``404`` for an unknown id). ``fail_next(n, status)`` makes the next
  ``n`` sends fail with ``status``; ``delay_next`` makes the next accepted send answer late.
* :func:`webhook`: what the phone does on an incoming SMS: a signed ``POST`` of the webhook
  envelope to the daemon's listener (``X-Signature`` = hex HMAC-SHA256 of body + timestamp,
  ``X-Timestamp`` = unix seconds), in the 2026 payload shape or the older one (``phoneNumber``).

Request and envelope shapes: ../shared/notes/integrations.md, section B.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
from datetime import datetime
from typing import Any

import httpx
from aiohttp import web

from fakes.loopback import LoopbackServer

USER, PASSWORD = "forwarder", "rahasia-gateway"
DEVICE = "ffffffffceb0b1db0000018e937c815b"


class FakeSMSGate(LoopbackServer):
    thread_name = "fake-smsgate"

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []
        self._failures: list[int] = []
        self.delay_next = 0.0  # seconds the next accepted send waits before answering
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/3rdparty/v1"

    def fail_next(self, count: int, status: int = 503) -> None:
        with self._lock:
            self._failures += [status] * count

    def texts_to(self, number: str) -> list[str]:
        with self._lock:
            return [m["textMessage"]["text"] for m in self.sent if number in m["phoneNumbers"]]

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/3rdparty/v1/messages", self._send)
        app.router.add_get("/3rdparty/v1/messages/{id}", self._state)

    # -- the API --------------------------------------------------------------------------------
    def _authorised(self, request: web.Request) -> bool:
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        return request.headers.get("Authorization") == expected

    @staticmethod
    def _message_state(message: dict[str, Any]) -> dict[str, Any]:
        return {"id": message["id"], "deviceId": DEVICE, "state": "Pending", "isHashed": False,
                "isEncrypted": False,
                "recipients": [{"phoneNumber": n, "state": "Pending"} for n in message["phoneNumbers"]]}

    async def _send(self, request: web.Request) -> web.Response:
        self.requests.append(("POST", request.path))
        if not self._authorised(request):
            return web.json_response({"message": "Unauthorized"}, status=401)
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure:
            return web.json_response({"message": "failure injected"}, status=failure)
        body = await request.json()
        if not body.get("phoneNumbers") or not (body.get("textMessage") or {}).get("text"):
            return web.json_response({"message": "phoneNumbers and textMessage.text are required"}, status=400)
        message = dict(body, id=body.get("id") or f"gen-{len(self.sent) + 1}")
        with self._lock:
            if any(m["id"] == message["id"] for m in self.sent):  # as SMSGate does (issue #422)
                return web.json_response({"message": "Message with the same ID already exists"}, status=409)
            self.sent.append(message)
            delay, self.delay_next = self.delay_next, 0.0
        if delay:
            await asyncio.sleep(delay)  # taken, but the answer comes late (a slow phone or network)
        return web.json_response(self._message_state(message), status=202)

    async def _state(self, request: web.Request) -> web.Response:
        self.requests.append(("GET", request.path))
        if not self._authorised(request):
            return web.json_response({"message": "Unauthorized"}, status=401)
        with self._lock:
            found = next((m for m in self.sent if m["id"] == request.match_info["id"]), None)
        if found is None:
            return web.json_response({"message": "message not found"}, status=404)
        return web.json_response(self._message_state(found))


def envelope(event_id: str, text: str, sender: str, received_at: datetime, *, old_shape: bool = False,
             event: str = "sms:received") -> dict[str, Any]:
    """An SMSGate webhook envelope; ``old_shape`` sends ``phoneNumber`` instead of ``sender``."""
    payload: dict[str, Any] = {"messageId": hashlib.sha1(text.encode()).hexdigest()[:12], "message": text,
                               "simNumber": 1, "receivedAt": received_at.isoformat(timespec="milliseconds")}
    if old_shape:
        payload["phoneNumber"] = sender
    else:
        payload.update(sender=sender, recipient=None, phoneNumber=sender)
    return {"deviceId": DEVICE, "event": event, "id": event_id, "webhookId": "wh-1", "payload": payload}


async def webhook(url: str, key: str, body: dict[str, Any] | bytes, *, timestamp: float,
                  signature: str | None = None) -> httpx.Response:
    """POST one webhook as the phone does; ``signature`` overrides the correct one."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    stamp = str(int(timestamp))
    sig = signature if signature is not None else hmac.new(key.encode(), raw + stamp.encode(),
                                                           hashlib.sha256).hexdigest()
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(url, content=raw, headers={"Content-Type": "application/json",
                                                             "X-Signature": sig, "X-Timestamp": stamp})
