"""A loopback fake of WAHA (devlikeapro/waha), the WhatsApp HTTP gateway, on 127.0.0.1.

Speaks the requests the ``waha`` sink makes (../shared/notes/integrations.md, section E; WAHA
docs "Send messages" and "Sessions"): ``GET /api/sessions/{session}`` -> ``{"name", "status"}``;
``POST /api/sendText`` with ``{"session", "chatId", "text"}`` -> the created message, its ``id``
in the WEBJS engine's shape (``{"fromMe", "remote", "id", "_serialized"}``). ``X-Api-Key`` is
checked (401 without it). A session whose ``status`` is not ``WORKING`` answers sends with 422
``Session status is not as expected``, as WAHA does; ``fail_next(n, status)`` scripts failures.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

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
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._failures += [status] * count

    def texts(self, chat_id: str) -> list[str]:
        with self._lock:
            return [m["text"] for m in self.sent if m["chatId"] == chat_id]

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/sessions/{session}", self._session)
        app.router.add_post("/api/sendText", self._send_text)

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
        ident = f"3EB0{next(self._ids):016X}"
        with self._lock:
            self.sent.append(dict(body, id=ident))
        if self.answer is not None:
            return web.json_response(self.answer)
        return web.json_response({"id": {"fromMe": True, "remote": body["chatId"], "id": ident,
                                         "_serialized": f"true_{body['chatId']}_{ident}"},
                                  "body": body["text"], "fromMe": True, "to": body["chatId"], "ack": 1})
