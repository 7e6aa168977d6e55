"""The Bot API methods of the fake Telegram server (see :mod:`telegram_api` for the server).

:class:`BotApiMethods` is mixed into :class:`telegram_api.FakeTelegram`: it answers each HTTP
request, applies the scripted faults and the flood limits, and records what was sent. Answers
and error texts follow the Bot API reference and what Telegram returns (``Bad Request: ...``,
``Forbidden: ...``, ``Too Many Requests: retry after N``).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
from collections import deque
from typing import Any

from aiohttp import web

from .telegram_api_state import ApiFault as _Fault
from .telegram_api_state import Call, chat_key
from .telegram_api_state import bad_request as _bad
from .telegram_html import ParseError, parse_html, strip_outer_whitespace, utf16_len

MAX_TEXT_LENGTH = 4096  # Bot API sendMessage: 1-4096 characters after entities parsing
_NESTED = ("reply_parameters", "reply_markup", "link_preview_options", "allowed_updates", "entities")


class BotApiMethods:
    """Request handling; expects the attributes :class:`FakeTelegram` sets up."""

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"].lower()
        token = request.match_info["token"]
        params = await _read_params(request)
        with self._changed:
            self.state.calls.append(Call(method, params, time.monotonic()))
            self._changed.notify_all()
        try:
            if not re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token):
                raise _Fault(404, "Not Found")
            if token != self.token or self.state.revoked:
                raise _Fault(401, "Unauthorized")
            handler = getattr(self, f"_m_{method}", None)
            if handler is None:
                raise _Fault(404, "Not Found")
            result = await handler(params)
            body: dict[str, Any] = {"ok": True, "result": result}
            status = 200
        except _Fault as fault:
            body = {"ok": False, "error_code": fault.code, "description": fault.description}
            if fault.parameters:
                body["parameters"] = fault.parameters
            status = fault.code
            if fault.code == 429:
                with self._lock:
                    key = chat_key(params.get("chat_id", ""))
                    self.state.too_many[key] = self.state.too_many.get(key, 0) + 1
        with self._changed:
            self._changed.notify_all()
        return web.json_response(body, status=status)

    def _check_chat(self, params: dict[str, Any]) -> Any:
        raw = params.get("chat_id")
        if raw in (None, ""):
            raise _bad("chat_id is empty")
        key = chat_key(raw)
        if key in self.state.unknown:
            raise _bad("chat not found")
        if key in self.state.migrated:
            raise _bad("group chat was upgraded to a supergroup chat",
                       migrate_to_chat_id=self.state.migrated[key])
        if key in self.state.kicked:
            kind = self.state.chat(key)["type"]
            if kind == "private":
                raise _Fault(403, "Forbidden: bot was blocked by the user")
            raise _Fault(403, f"Forbidden: bot was kicked from the {kind} chat")
        return key

    def _scripted_faults(self, key: Any, parse_mode: str | None) -> float:
        """Apply per-chat scripted faults; returns the answer delay (0 for none)."""
        failure = self.state.failures.get(key)
        if failure and failure[3] > 0:
            failure[3] -= 1
            raise _Fault(failure[0], failure[1], failure[2])
        flood = self.state.floods.get(key)
        if flood and flood[1] > 0:
            flood[1] -= 1
            raise _Fault(429, f"Too Many Requests: retry after {flood[0]}",
                         {"retry_after": flood[0]})
        if parse_mode and parse_mode.lower() == "html" and self.state.parse_faults.get(key, 0) > 0:
            self.state.parse_faults[key] -= 1
            raise _bad("can't parse entities: Unsupported start tag \"\" at byte offset 0")
        slow = self.state.slow.get(key)
        if slow and slow[1] > 0:
            slow[1] -= 1
            return float(slow[0])
        return 0.0

    def _check_limits(self, key: Any) -> None:
        if not self._limits:
            return
        now = self._monotonic()
        chat_q = self._sent_at_chat.setdefault(key, deque())
        while chat_q and now - chat_q[0] >= 60:
            chat_q.popleft()
        while self._sent_at_all and now - self._sent_at_all[0] >= 1:
            self._sent_at_all.popleft()
        waits = []
        if isinstance(key, int) and key < 0 and len(chat_q) >= self._limits["group"]:
            waits.append(chat_q[-int(self._limits["group"])] + 60 - now)
        per_second = self._limits["chat"]
        recent = [t for t in chat_q if now - t < 1]
        if per_second and len(recent) >= per_second:
            waits.append(recent[-int(per_second)] + 1 - now)
        if len(self._sent_at_all) >= self._limits["overall"]:
            waits.append(self._sent_at_all[-int(self._limits["overall"])] + 1 - now)
        if waits:
            retry_after = max(1, math.ceil(max(waits)))
            raise _Fault(429, f"Too Many Requests: retry after {retry_after}",
                         {"retry_after": retry_after})
        chat_q.append(now)
        self._sent_at_all.append(now)

    def _text_checked(self, params: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
        text = params.get("text")
        if text is None or not str(text).strip():
            raise _bad("message text is empty")
        text = str(text)
        parse_mode = params.get("parse_mode") or None
        if parse_mode is None:
            visible, entities = text.strip(), []
        elif parse_mode.lower() == "html":
            try:
                parsed = strip_outer_whitespace(parse_html(text))
            except ParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
            visible, entities = parsed.text, parsed.entities
        elif parse_mode.lower() in ("markdown", "markdownv2"):
            visible, entities = text.strip(), []  # not checked by this fake
        else:
            raise _bad(f"unsupported parse_mode")
        if not visible:
            raise _bad("message text is empty")
        if utf16_len(visible) > MAX_TEXT_LENGTH:
            raise _bad("message is too long")
        return text, visible, entities

    async def _delay(self, seconds: float) -> None:
        if seconds > 0 and self._stopping:
            try:
                await asyncio.wait_for(self._stopping.wait(), seconds)
            except asyncio.TimeoutError:
                pass

    # ------------------------------------------------------------------ methods
    async def _m_getme(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.state.bot_user(full=True)

    async def _m_sendmessage(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._changed:
            key = self._check_chat(params)
            delay = self._scripted_faults(key, params.get("parse_mode"))
            text, visible, entities = self._text_checked(params)
            reply_to = self.state.reply_target(key, params)
            self._check_limits(key)
            message = self.state.record_send(key, params, text, visible, entities, reply_to)
            self._changed.notify_all()
        await self._delay(delay)
        return message

    async def _m_editmessagetext(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._changed:
            key = self._check_chat(params)
            delay = self._scripted_faults(key, params.get("parse_mode"))
            text, visible, entities = self._text_checked(params)
            message = self.state.record_edit(key, params, text, visible, entities)
            self._changed.notify_all()
        await self._delay(delay)
        return message

    async def _m_getupdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = max(1, min(int(params.get("limit") or 100), 100))
        wait = min(float(params.get("timeout") or 0), self.long_poll_cap)
        allowed = params.get("allowed_updates") or None
        self._poll_generation += 1
        generation = self._poll_generation
        assert self._updates_event is not None
        self._updates_event.set()  # wakes an older poll, which then ends with 409
        await asyncio.sleep(0)
        self._updates_event.clear()
        deadline = time.monotonic() + wait
        while True:
            if generation != self._poll_generation:
                raise _Fault(409, "Conflict: terminated by other getUpdates request; make sure "
                                  "that only one bot instance is running")
            with self._lock:
                found = self.state.pending_updates(offset, limit, allowed)
            left = deadline - time.monotonic()
            if found or left <= 0:
                return found
            try:
                await asyncio.wait_for(self._updates_event.wait(), left)
            except asyncio.TimeoutError:
                pass
            self._updates_event.clear()

    async def _m_answercallbackquery(self, params: dict[str, Any]) -> bool:
        with self._lock:
            if str(params.get("callback_query_id")) not in self.state.callback_ids:
                raise _bad("query is too old and response timeout expired or query ID is invalid")
            self.state.callback_answers.append(dict(params))
        return True

    async def _m_getchat(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            key = self._check_chat(params)
            return self.state.chat(key, full=True)

    async def _m_getchatmember(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            key = self._check_chat(params)
            return self.state.member(key, params.get("user_id"))

    async def _m_deletewebhook(self, params: dict[str, Any]) -> bool:
        if str(params.get("drop_pending_updates", "")).lower() == "true":
            with self._lock:
                self.state.updates.clear()
        return True


async def _read_params(request: web.Request) -> dict[str, Any]:
    """Parameters from the query string and the body (form, multipart or JSON), nested ones decoded."""
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            params.update(body if isinstance(body, dict) else {})
        else:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    for key in _NESTED:
        value = params.get(key)
        if isinstance(value, str) and value[:1] in "[{":
            try:
                params[key] = json.loads(value)
            except ValueError:
                raise _bad(f"can't parse {key} JSON object") from None
    return params
