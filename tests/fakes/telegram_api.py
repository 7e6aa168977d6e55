"""A loopback fake of the Telegram Bot API, with fault injection, for tests and benchmarks.

It speaks the real wire protocol on 127.0.0.1 (random port): ``POST`` (form-encoded as
python-telegram-bot sends it, JSON, or multipart) or ``GET`` to ``/bot<token>/<method>``, answered
with ``{"ok": true, "result": ...}`` holding real-shaped objects, or
``{"ok": false, "error_code": N, "description": "...", "parameters": {...}}`` as Telegram does.

Methods: getMe, sendMessage, editMessageText, getUpdates (long poll, capped at ``long_poll_cap``
seconds; a second concurrent poll ends the first with 409 as Telegram does), answerCallbackQuery,
getChat, getChatMember, deleteWebhook. HTML (``parse_mode=HTML``) is checked like Telegram does
(see :mod:`telegram_html`), and texts over 4096 UTF-16 units after entity parsing are refused.

The server runs in its own thread with its own event loop, so the same object serves async tests
(the client runs in the test's loop) and tests that start the daemon as a subprocess. Every
fault-injection and read method is synchronous and thread-safe::

    with FakeTelegram() as tg:
        tg.flood("-1001", retry_after=3, times=2)
        ...  # Bot(token=tg.token, base_url=f"{tg.base_url}/bot")
        assert tg.texts("-1001") == [...]

Chat ids may be given as ints or strings (``"-1001234567890"``).

Layout: this module (server lifecycle, fault injection, reads, the ``fake_telegram`` fixture,
:func:`assert_no_personal_data`), :mod:`telegram_api_methods` (the Bot API methods),
:mod:`telegram_api_state` (what the fake remembers), :mod:`telegram_html` (HTML parse mode).
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import deque
from typing import Any, Callable, Iterator

import pytest
from aiohttp import web

from .telegram_api_methods import BotApiMethods
from .telegram_api_state import Call, Edit, FakeState, SentMessage, chat_key

__all__ = ["FakeTelegram", "SentMessage", "Edit", "Call", "fake_telegram", "assert_no_personal_data",
           "DEFAULT_TOKEN"]

DEFAULT_TOKEN = "123456789:AAF-fake_token_for_tests_0123456789ab"


class FakeTelegram(BotApiMethods):
    """The fake Bot API server. ``start()``/``stop()`` or use it as a context manager.

    ``token``: the one token the fake accepts (others get 401 Unauthorized, a malformed one 404).
    ``long_poll_cap``: the longest getUpdates waits, whatever ``timeout`` the client asks for.
    ``clock``: Unix time source for message dates (seconds, float); ``monotonic`` drives the
    flood-limit windows of :meth:`enforce_limits`.
    """

    def __init__(self, token: str = DEFAULT_TOKEN, *, long_poll_cap: float = 1.0,
                 bot_username: str = "lapor_test_bot", clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.token = token
        self.long_poll_cap = long_poll_cap
        self.state = FakeState(token, bot_username, clock)
        self._monotonic = monotonic
        self._lock = self.state.lock
        self._changed = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None
        self._updates_event: asyncio.Event | None = None
        self._poll_generation = 0
        self._refuse_timer: threading.Timer | None = None
        self.port = 0
        # flood limits (enforce_limits)
        self._limits: dict[str, float] | None = None
        self._sent_at_chat: dict[Any, deque[float]] = {}
        self._sent_at_all: deque[float] = deque()

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``; requests go to ``{base_url}/bot{token}/{method}``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def bot_base_url(self) -> str:
        """The ``base_url`` to give python-telegram-bot's ``Bot`` (it appends the token)."""
        return f"{self.base_url}/bot"

    def start(self) -> "FakeTelegram":
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._listen(0))
            except BaseException as exc:  # pragma: no cover - reported to the caller
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-telegram", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._refuse_timer:
            self._refuse_timer.cancel()
        if self._loop and self._thread and self._thread.is_alive():
            try:
                self._run(self._shutdown())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> "FakeTelegram":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _listen(self, port: int) -> None:
        self._stopping = self._stopping or asyncio.Event()
        self._updates_event = self._updates_event or asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port, reuse_address=True)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]

    async def _shutdown(self) -> None:
        if self._stopping:
            self._stopping.set()
        if self._runner:
            await self._runner.cleanup()
            self._runner = None

    def _run(self, coro: Any, timeout: float = 10) -> Any:
        assert self._loop is not None, "start() the fake first"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # ------------------------------------------------------------------ faults
    def flood(self, chat_id: int | str, retry_after: int = 3, times: int = 1) -> None:
        """The next ``times`` sendMessage/editMessageText to ``chat_id`` get 429 with ``retry_after``."""
        with self._lock:
            self.state.floods[chat_key(chat_id)] = [retry_after, times]

    def fail(self, chat_id: int | str, code: int = 500, description: str = "Internal Server Error",
             times: int = 1, parameters: dict[str, Any] | None = None) -> None:
        """The next ``times`` sendMessage/editMessageText to ``chat_id`` get this error answer
        (nothing is recorded as sent)."""
        with self._lock:
            self.state.failures[chat_key(chat_id)] = [code, description, parameters, times]

    def kick(self, chat_id: int | str) -> None:
        """The bot was removed from the chat: 403 ``Forbidden: bot was kicked from the ... chat``."""
        with self._lock:
            self.state.kicked.add(chat_key(chat_id))

    def unkick(self, chat_id: int | str) -> None:
        with self._lock:
            self.state.kicked.discard(chat_key(chat_id))

    def forget_chat(self, chat_id: int | str) -> None:
        """Requests for this chat get 400 ``Bad Request: chat not found``."""
        with self._lock:
            self.state.unknown.add(chat_key(chat_id))

    def migrate(self, chat_id: int | str, new_chat_id: int | str) -> None:
        """The group became a supergroup: 400 with ``parameters.migrate_to_chat_id``; the new id works."""
        with self._lock:
            self.state.migrated[chat_key(chat_id)] = int(chat_key(new_chat_id))

    def reject_html(self, chat_id: int | str, times: int = 1) -> None:
        """The next ``times`` HTML messages to the chat get a parse error even when the HTML is fine."""
        with self._lock:
            self.state.parse_faults[chat_key(chat_id)] = times

    def timeout_after_delivery(self, chat_id: int | str, delay: float = 5.0, times: int = 1) -> None:
        """The next ``times`` sends are recorded (delivered) but answered only after ``delay`` s,
        longer than the client's read timeout. A stop() releases the waiting answers."""
        with self._lock:
            self.state.slow[chat_key(chat_id)] = [delay, times]

    def revoke_token(self) -> None:
        """Every request now gets 401 Unauthorized (the token was revoked in @BotFather)."""
        with self._lock:
            self.state.revoked = True

    def restore_token(self) -> None:
        with self._lock:
            self.state.revoked = False

    def refuse_connections(self, seconds: float | None = None) -> None:
        """Stop listening (connections are refused, open ones closed); listen again on the same
        port after ``seconds``, or when :meth:`accept_connections` is called."""
        self._run(self._shutdown_listener())
        if seconds is not None:
            self._refuse_timer = threading.Timer(seconds, self.accept_connections)
            self._refuse_timer.daemon = True
            self._refuse_timer.start()

    def accept_connections(self) -> None:
        if self._runner is None and self._loop and self._loop.is_running():
            self._run(self._listen(self.port))

    async def _shutdown_listener(self) -> None:
        if self._runner:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    def enforce_limits(self, enabled: bool = True, *, per_chat_per_second: float = 1,
                       per_group_per_minute: int = 20, overall_per_second: int = 30) -> None:
        """Answer 429 (with ``retry_after``, rounded up) when sendMessage exceeds Telegram's flood
        limits (Telegram Bots FAQ; PTB ``constants.FloodLimit``): 20 messages a minute in a group
        (negative chat id), 1 a second in one chat, 30 a second overall. Sliding windows; only
        accepted messages count. The real limits are not exact; these are the published ones."""
        with self._lock:
            self._limits = (dict(chat=per_chat_per_second, group=per_group_per_minute,
                                 overall=overall_per_second) if enabled else None)
            self._sent_at_chat.clear()
            self._sent_at_all.clear()

    # ------------------------------------------------------------------ reads
    def messages(self, chat_id: int | str | None = None) -> list[SentMessage]:
        """Messages the bot sent (accepted ones only), in order; of one chat when ``chat_id`` given."""
        with self._lock:
            return [m for m in self.state.sent if chat_id is None or m.chat_id == chat_key(chat_id)]

    def texts(self, chat_id: int | str | None = None) -> list[str]:
        """The raw ``text`` parameter of each accepted message (markup included)."""
        return [m.text for m in self.messages(chat_id)]

    def visible_texts(self, chat_id: int | str | None = None) -> list[str]:
        """What the officers see of each message: markup parsed away."""
        return [m.visible for m in self.messages(chat_id)]

    def edits(self, chat_id: int | str | None = None) -> list[Edit]:
        with self._lock:
            return [e for e in self.state.edits if chat_id is None or e.chat_id == chat_key(chat_id)]

    def calls(self, method: str | None = None) -> list[Call]:
        """Every request that reached the fake (also refused ones), in order."""
        with self._lock:
            return [c for c in self.state.calls if method is None or c.method == method.lower()]

    def count_429(self, chat_id: int | str | None = None) -> int:
        with self._lock:
            if chat_id is None:
                return sum(self.state.too_many.values())
            return self.state.too_many.get(chat_key(chat_id), 0)

    def callback_answers(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.state.callback_answers)

    def wait_for(self, predicate: Callable[["FakeTelegram"], bool], timeout: float = 10.0) -> bool:
        """Block until ``predicate(self)`` is true (re-checked on every request); False on timeout.
        For tests that drive a daemon subprocess; not a timing assertion."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with self._changed:
                self._changed.wait(min(left, 0.1))
        return True

    # ------------------------------------------------------------------ updates
    def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update (``update_id`` is assigned); getUpdates returns it."""
        with self._lock:
            update = self.state.queue_update(update)
        if self._loop and self._updates_event:
            self._loop.call_soon_threadsafe(self._updates_event.set)
        return update

    def push_reply(self, chat_id: int | str, reply_to_message_id: int | str, text: str, *,
                   user: dict[str, Any] | None = None, message_thread_id: int | None = None
                   ) -> dict[str, Any]:
        """An officer replies in ``chat_id`` to the bot's message ``reply_to_message_id``."""
        with self._lock:
            message = self.state.incoming_message(chat_id, text, user, reply_to_message_id,
                                                  message_thread_id)
        return self.push_update({"message": message})

    def push_message(self, chat_id: int | str, text: str, *, user: dict[str, Any] | None = None
                     ) -> dict[str, Any]:
        with self._lock:
            message = self.state.incoming_message(chat_id, text, user, None, None)
        return self.push_update({"message": message})

    def push_callback_query(self, chat_id: int | str, message_id: int | str, data: str, *,
                            user: dict[str, Any] | None = None) -> dict[str, Any]:
        """An officer presses an inline button with ``data`` under the bot's message."""
        with self._lock:
            query = self.state.callback_query(chat_id, message_id, data, user)
        return self.push_update({"callback_query": query})


_PHONE_OR_ID = re.compile(r"(?<![\w+])\+?\d[\d .\-]{7,}\d(?!\w)")
_X_REPORTER = re.compile(r"\bx:\d{3,}\b")


def assert_no_personal_data(text: str) -> None:
    """Fail when ``text`` contains an Indonesian phone number (``+62 8…``, ``62 8…``, ``08…``;
    separators allowed), a 16-digit NIK, or an ``x:<user id>`` reporter id."""
    for m in _PHONE_OR_ID.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        phone = (digits.startswith("628") and 11 <= len(digits) <= 15) or \
                (digits.startswith("08") and 10 <= len(digits) <= 13)
        assert not phone, f"phone number {m.group()!r} in a group message: {text!r}"
        assert len(digits) != 16, f"NIK-like 16-digit number {m.group()!r} in a group message"
    found = _X_REPORTER.search(text)
    assert not found, f"reporter id {found.group()!r} in a group message"


@pytest.fixture
def fake_telegram() -> Iterator[FakeTelegram]:
    """A running :class:`FakeTelegram`; stopped after the test."""
    with FakeTelegram() as tg:
        yield tg
