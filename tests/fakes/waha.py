"""A loopback fake of WAHA (devlikeapro/waha), the WhatsApp HTTP gateway, on 127.0.0.1.

Speaks the requests the ``waha`` sink makes (../shared/notes/integrations.md, section E; WAHA
docs "Send messages" and "Sessions"): ``GET /api/sessions/{session}`` -> ``{"name", "status"}``;
``POST /api/sendText`` with ``{"session", "chatId", "text"}`` -> the created message, its ``id``
in the WEBJS engine's shape (``{"fromMe", "remote", "id", "_serialized"}``). ``X-Api-Key`` is
checked (401 without it). A session whose ``status`` is not ``WORKING`` answers sends with 422
``Session status is not as expected``, as WAHA does; ``fail_next(n, status)`` scripts failures.
``reply_to`` (the message to quote) is kept with the sent message; one that is no message this
fake sent or was told of (``seen``) gets 400, as a gone message does.
``DELETE /api/{session}/chats/{chatId}/messages/{messageId}`` (WAHA docs "Delete message"; the id
serialized, ``true_<chat>_<key id>``, ``@`` escaped as ``%40``) deletes a message the fake sent to
that chat for everyone: it leaves :meth:`FakeWAHA.visible` and is listed in ``deleted``; an id it
never sent there gets 404. ``refuse_deletes(n)`` scripts refusals: the next ``n`` deletes get 500
with the error WAHA's WEBJS engine gives when WhatsApp no longer lets a message be revoked.

The other direction, WAHA pushing what the linked number sees: :func:`message_envelope` builds a
``message`` webhook as WAHA's docs and DTOs describe it (``payload.id`` serialized
``false_<group>_<key id>_<participant>``, ``replyTo.id`` the quoted message's *bare* key id) and
:func:`post_webhook` posts it signed the way WAHA signs (``X-Webhook-Hmac``: hex HMAC-SHA512 of
the raw body; ``X-Webhook-Hmac-Algorithm: sha512``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
from typing import Any

import httpx
from aiohttp import web

from fakes.loopback import LoopbackServer

API_KEY = "kunci-waha-uji"
GROUP = "120363041234567890@g.us"
TRIAGE = "120363049999999999@g.us"


class FakeWAHA(LoopbackServer):
    thread_name = "fake-waha"

    def __init__(self) -> None:
        super().__init__()
        self.status = "WORKING"
        self.session = "default"
        self.sent: list[dict[str, Any]] = []
        self._failures: list[int] = []
        self.answer: dict[str, Any] | None = None  # replaces the created message's body (other engines)
        self._ids = itertools.count(1)
        self.seen: set[str] = set()  # key ids of officers' messages (they may be quoted)
        self.deleted: list[tuple[str, str]] = []  # (chatId, messageId as requested) deleted for everyone
        self.delete_requests: list[tuple[str, str]] = []
        self._delete_refusals = 0
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._failures += [status] * count

    def refuse_deletes(self, count: int = 1) -> None:
        with self._lock:
            self._delete_refusals += count

    def visible(self, chat_id: str) -> list[str]:
        """The texts of ``chat_id`` that were not deleted for everyone."""
        with self._lock:
            return [m["text"] for m in self.sent if m["chatId"] == chat_id and not m.get("deleted")]

    def texts(self, chat_id: str) -> list[str]:
        with self._lock:
            return [m["text"] for m in self.sent if m["chatId"] == chat_id]

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/sessions/{session}", self._session)
        app.router.add_post("/api/sendText", self._send_text)
        app.router.add_delete("/api/{session}/chats/{chat}/messages/{message}", self._delete_message)

    def _known(self, message_id: str) -> bool:
        key = message_id.split("_")[2] if message_id.startswith(("true_", "false_")) else message_id
        with self._lock:
            return key in self.seen or any(m["id"] == key for m in self.sent)

    async def push(self, url: str, key: str | None, envelope: dict[str, Any], **kw: Any) -> httpx.Response:
        """Post a webhook to the daemon as WAHA does (:func:`post_webhook`); the message it
        carries becomes one this fake knows (an answer may quote it)."""
        with self._lock:
            self.seen.add(str(envelope["payload"]["id"]).split("_")[2])
        return await post_webhook(url, key, envelope, **kw)

    def replies(self, chat_id: str) -> list[tuple[str, str | None]]:
        """``(text, reply_to)`` of what was sent to ``chat_id``."""
        with self._lock:
            return [(m["text"], m.get("reply_to")) for m in self.sent if m["chatId"] == chat_id]

    @staticmethod
    def _authorised(request: web.Request) -> bool:
        return request.headers.get("X-Api-Key") == API_KEY

    async def _session(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"message": "Unauthorized", "statusCode": 401}, status=401)
        if request.match_info["session"] != self.session:
            return web.json_response({"message": "We didn't find a session with name "
                                                 f"'{request.match_info['session']}'", "statusCode": 404}, status=404)
        return web.json_response({"name": request.match_info["session"], "status": self.status})

    async def _send_text(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"message": "Unauthorized", "statusCode": 401}, status=401)
        body = await request.json()
        if body.get("session") != self.session:
            return web.json_response({"message": f"We didn't find a session with name '{body.get('session')}'",
                                      "statusCode": 404}, status=404)
        if self.status != "WORKING":
            return web.json_response({"error": "Session status is not as expected. Try again later or restart "
                                               "the session", "session": body.get("session"),
                                      "status": self.status, "expected": ["WORKING"]}, status=422)
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure:
            return web.json_response({"message": "failure injected", "statusCode": failure}, status=failure)
        if not str(body.get("chatId", "")).endswith(("@g.us", "@c.us")) or not body.get("text"):
            return web.json_response({"message": "chatId and text are required", "statusCode": 400}, status=400)
        reply_to = body.get("reply_to")
        if reply_to and not self._known(str(reply_to)):
            return web.json_response({"message": "quoted message not found", "statusCode": 400}, status=400)
        ident = f"3EB0{next(self._ids):016X}"
        with self._lock:
            self.sent.append(dict(body, id=ident))
        if self.answer is not None:
            return web.json_response(self.answer)
        return web.json_response({"id": {"fromMe": True, "remote": body["chatId"], "id": ident,
                                         "_serialized": f"true_{body['chatId']}_{ident}"},
                                  "body": body["text"], "fromMe": True, "to": body["chatId"], "ack": 1})


    async def _delete_message(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"message": "Unauthorized", "statusCode": 401}, status=401)
        if request.match_info["session"] != self.session:
            return web.json_response({"message": "We didn't find a session with name "
                                                 f"'{request.match_info['session']}'", "statusCode": 404}, status=404)
        chat, message = request.match_info["chat"], request.match_info["message"]
        with self._lock:
            self.delete_requests.append((chat, message))
            if self._delete_refusals:
                self._delete_refusals -= 1
                return web.json_response({"statusCode": 500, "exception": {
                    "message": "Evaluation failed: Error: Message can not be revoked for everyone"}}, status=500)
            found = [m for m in self.sent if m["chatId"] == chat and message == f"true_{chat}_{m['id']}"
                     and not m.get("deleted")]
            if not found:
                return web.json_response({"message": "Message not found", "statusCode": 404}, status=404)
            found[0]["deleted"] = True
            self.deleted.append((chat, message))
        return web.json_response({})


def message_envelope(event_id: str, chat: str, participant: str, text: str, *, quoted: str | None = None,
                     from_me: bool = False, timestamp: float, session: str = "default",
                     name: str = "Pak Budi", event: str = "message") -> dict[str, Any]:
    """A WAHA ``message`` webhook (WEBJS engine) of ``text`` written by ``participant`` in group
    ``chat``, quoting message ``quoted`` (any id form; sent as given) when set."""
    payload: dict[str, Any] = {
        "id": f"{'true' if from_me else 'false'}_{chat}_{event_id}_{participant}",
        "timestamp": int(timestamp), "from": chat, "fromMe": from_me, "to": "6281100000000@c.us",
        "participant": participant, "body": text, "hasMedia": False, "ack": 1, "vCards": [],
        "_data": {"notifyName": name, "type": "chat"},
    }
    if quoted is not None:
        payload["replyTo"] = {"id": quoted, "participant": "6281100000000@c.us", "body": "Pengaduan ..."}
    return {"event": event, "session": session, "engine": "WEBJS",
            "me": {"id": "6281100000000@c.us", "pushName": "LAPOR Bojonegoro"}, "payload": payload}


def sign(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha512).hexdigest()


async def post_webhook(url: str, key: str | None, envelope: dict[str, Any], *,
                       signature: str | None = None) -> httpx.Response:
    """POST ``envelope`` to ``url`` as WAHA does; ``key`` None sends no HMAC headers,
    ``signature`` overrides the computed one."""
    body = json.dumps(envelope).encode()
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["X-Webhook-Hmac"] = signature or sign(key, body)
        headers["X-Webhook-Hmac-Algorithm"] = "sha512"
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        return await client.post(url, content=body, headers=headers)
