"""Officers' button presses and replies from Telegram: getUpdates polling, turned into actions.

One :class:`UpdatePoller` per telegram sink with ``poll_updates: true`` reads the bot's updates
through python-telegram-bot's ``Bot.get_updates`` (long polling, ``long_poll_secs``;
``allowed_updates`` = message, callback_query) on the sink's started ``Bot``. Each update
becomes an :class:`~forwarder.actions.Incoming` for :class:`~forwarder.actions.Actions`; the
officer is then answered (``answerCallbackQuery`` for a button, a reply for a command).

In groups with the bot's privacy mode on (Telegram's default) the bot receives commands and
replies to its own messages, which is all this needs (Telegram bot docs, "Privacy mode").

Offsets: Telegram forgets an update once getUpdates is called with a higher ``offset``. The
first offset after a start is one past the highest update id recorded in ``telegram_updates``
(written in the transaction of each action), so an update redelivered after a crash is seen
again and recognised as handled, and one never handled is not skipped.

Pruning: Telegram keeps an update it has not been asked to forget for at most 24 hours (Bot API
"Getting updates"), so a handled update older than that can never come again. Every
:data:`PRUNE_EVERY_SECS` (and after a ``--once`` drain) the poller deletes the sink's rows older
than ``keep_days`` (default :data:`KEEP_DAYS`), always keeping the newest row, from which the
first offset is read.

:func:`send_prompt` sends the done-note request with a selective ForceReply (PTB's
``ForceReply``): a markup the sink's ``send`` does not offer, since it is needed only here.
"""

from __future__ import annotations

import asyncio
import html
import logging
import random
import re
import sqlite3
from datetime import timedelta
from typing import Any

import telegram
import telegram.error as tg_error
from telegram.constants import ParseMode

from forwarder import errors
from forwarder.actions import PROMPT_PLACEHOLDER, Actions, Incoming, Outcome
from forwarder.health import Health, kv
from forwarder.sinks.telegram_errors import translate
from forwarder.store import Store, iso

log = logging.getLogger("forwarder.telegram_updates")

ALLOWED_UPDATES = ["message", "callback_query"]
CALLBACK_TEXT_LIMIT = 200  # answerCallbackQuery text: 0-200 characters (Bot API)
KEEP_DAYS = 7.0  # handled updates kept this long (Telegram redelivers for 24 hours at most)
PRUNE_EVERY_SECS = 3600.0
_TAG = re.compile(r"<[^>]+>")


async def send_prompt(sink: Any, chat_id: str, text_html: str, *, reply_to: str | None = None) -> str:
    """sendMessage ``text_html`` (Telegram HTML) to ``chat_id`` of a started telegram ``sink``
    with ``ForceReply(selective=True)``, as a reply to ``reply_to`` when given (sent anyway when
    that message is gone). When Telegram refuses the HTML the text goes again as plain text.
    Returns the message id. Raises like the sink's ``send`` (forwarder.errors)."""
    from forwarder.sinks.telegram import chat_id_param

    extra: dict[str, Any] = {}
    if reply_to is not None:
        extra["reply_parameters"] = telegram.ReplyParameters(message_id=int(reply_to),
                                                             allow_sending_without_reply=True)
    markup = telegram.ForceReply(selective=True, input_field_placeholder=PROMPT_PLACEHOLDER)

    async def send(text: str, parse_mode: str | None) -> str:
        try:
            message = await sink.bot.send_message(chat_id=chat_id_param(chat_id), text=text, parse_mode=parse_mode,
                                                  reply_markup=markup, **extra)
        except tg_error.TelegramError as exc:
            raise translate(exc, chat_id=chat_id, sending=True, token=sink.config.token) from None
        return str(message.message_id)

    try:
        return await send(text_html, ParseMode.HTML)
    except errors.MessageRejected:  # the markup refused: the same words without it
        return await send(html.unescape(_TAG.sub("", text_html)), None)


def to_incoming(sink: str, update: Any) -> Incoming | None:
    """The :class:`Incoming` of a PTB ``Update``: a button press or a text message; None otherwise."""
    query = update.callback_query
    if query is not None:
        message = query.message
        user = query.from_user
        return Incoming(sink, update.update_id, str(message.chat.id) if message else "", user.id,
                        user.first_name or "", bool(user.is_bot),
                        message_id=str(message.message_id) if message else None,
                        callback_id=str(query.id), data=query.data or "", user_handle=user.username or "")
    message = update.message
    if message is None or message.text is None:
        return None
    user = message.from_user
    reply = message.reply_to_message
    return Incoming(sink, update.update_id, str(message.chat.id), user.id if user else None,
                    (user.first_name or "") if user else "", bool(user.is_bot) if user else True,
                    text=message.text, message_id=str(message.message_id),
                    reply_to=str(reply.message_id) if reply is not None else None,
                    user_handle=(user.username or "") if user else "")


def prune_when_due(owner: Any) -> int:
    """``owner.prune()`` (handled officer updates of one sink, Telegram or WhatsApp) when
    :data:`PRUNE_EVERY_SECS` passed since the last one or it never ran, by the event loop's time
    kept in ``owner._pruned_at``; a locked database only postpones it. Returns the rows removed."""
    now = asyncio.get_running_loop().time()
    if owner._pruned_at is not None and now - owner._pruned_at < PRUNE_EVERY_SECS:
        return 0
    try:
        removed = owner.prune()
    except sqlite3.Error as exc:
        log.warning(kv(event="updates_prune_failed", sink=owner.name, error=str(exc)))
        return 0
    owner._pruned_at = now
    return removed


class UpdatePoller:
    """Reads and handles the updates of one telegram sink (started before use)."""

    def __init__(self, name: str, sink: Any, actions: Actions, store: Store, *,
                 long_poll_secs: float = 25.0, health: Health | None = None, keep_days: float = KEEP_DAYS) -> None:
        self.name = name
        self.sink = sink
        self.actions = actions
        self.store = store
        self.long_poll_secs = long_poll_secs
        self.health = health
        self.keep_days = max(keep_days, 1.0)  # never under Telegram's 24-hour redelivery window
        self.offset: int | None = None
        self.handled = 0
        self._pruned_at: float | None = None  # event-loop time of the last prune

    def prune(self) -> int:
        """Delete this sink's handled updates older than ``keep_days`` (by the store's clock),
        keeping the newest one; returns how many rows went. Raises sqlite3.Error."""
        cutoff = iso(self.store.clock() - timedelta(days=self.keep_days))
        with self.store.db.conn as conn:
            cur = conn.execute(
                "delete from telegram_updates where sink = ? and at < ? and update_id < "
                "(select max(update_id) from telegram_updates where sink = ?)", (self.name, cutoff, self.name))
        return cur.rowcount

    def prune_due(self) -> int:
        return prune_when_due(self)

    def _first_offset(self) -> int | None:
        row = self.store.db.execute("select max(update_id) from telegram_updates where sink = ?", [self.name]).fetchone()
        return int(row[0]) + 1 if row and row[0] is not None else None

    async def fetch(self, timeout: float) -> tuple[Any, ...]:
        """One getUpdates call. Raises TemporaryError, InvalidToken (forwarder.errors)."""
        if self.offset is None:
            self.offset = self._first_offset()
        try:
            bot = self.sink.bot
        except RuntimeError:  # the sink could not start before: try again now
            await self.sink.start()
            bot = self.sink.bot
        try:
            return await bot.get_updates(offset=self.offset, timeout=int(timeout),
                                         allowed_updates=ALLOWED_UPDATES)
        except tg_error.TelegramError as exc:
            raise translate(exc, token=self.sink.config.token) from None

    async def process(self, updates: tuple[Any, ...]) -> int:
        """Handle ``updates`` in order and answer each officer; returns how many were actions."""
        count = 0
        for update in updates:
            incoming = to_incoming(self.name, update)
            if incoming is not None:
                try:
                    outcome = self.actions.handle(incoming)
                except sqlite3.OperationalError as exc:  # database locked: read this update again
                    raise errors.TemporaryError(f"cannot store an officer action now: {exc}") from exc
                except Exception:  # a bug on one update must not block the ones after it
                    log.exception(kv(event="update_failed", sink=self.name, update=update.update_id))
                    outcome = None
                await self.respond(incoming, outcome)
                count += 1
            self.offset = max(self.offset or 0, update.update_id + 1)
        self.handled += count
        return count

    async def respond(self, incoming: Incoming, outcome: Outcome | None) -> None:
        """answerCallbackQuery for a button (always, so the button stops spinning), a reply to a
        command message. Best effort: the action is already stored, a lost answer is only logged."""
        try:
            if incoming.callback_id is not None:
                text = (outcome.text if outcome else "")[:CALLBACK_TEXT_LIMIT]
                await self.sink.bot.answer_callback_query(incoming.callback_id, text=text or None,
                                                          show_alert=bool(outcome and outcome.alert))
            elif outcome is not None and outcome.text:
                await self.sink.send(incoming.chat_id, outcome.text, plain=True, reply_to=incoming.message_id)
        except (tg_error.TelegramError, errors.DeliveryError) as exc:
            log.warning(kv(event="officer_answer_failed", sink=self.name, chat=incoming.chat_id, error=str(exc)))

    async def drain(self, max_rounds: int = 100) -> int:
        """Handle every pending update without waiting (``forwarder run --once``)."""
        total = 0
        for _ in range(max_rounds):
            updates = await self.fetch(0)
            if not updates:
                break
            total += await self.process(updates)
        # confirm the last batch so Telegram forgets it
        if total and self.offset is not None:
            await self.fetch(0)
        self.prune_due()
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set; platform errors back off (InvalidToken stops polling)."""
        failures = 0
        channel = f"updates:{self.name}"
        while not stop.is_set():
            self.prune_due()
            fetch = asyncio.create_task(self.fetch(self.long_poll_secs))
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({fetch, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if fetch not in done:
                fetch.cancel()
                await asyncio.gather(fetch, return_exceptions=True)
                break
            wait = 0.0
            try:
                await self.process(fetch.result())
                failures = 0
                if self.health:
                    self.health.up(channel)
            except errors.InvalidToken as exc:
                if self.health:
                    self.health.down(channel, f"token refused, reading updates stopped: {exc}", level=logging.ERROR)
                return
            except errors.TemporaryError as exc:
                failures += 1
                if self.health:
                    self.health.down(channel, str(exc))
                wait = exc.retry_after if exc.retry_after is not None else \
                    min(60.0, 2.0 ** min(failures, 6)) * random.uniform(0.8, 1.2)
            except Exception:  # a bug in one update must not stop reading the others
                failures += 1
                log.exception(kv(event="updates_error", sink=self.name))
                wait = min(60.0, 2.0 ** min(failures, 6))
            if wait:
                try:
                    await asyncio.wait_for(stop.wait(), timeout=wait)
                except TimeoutError:
                    pass
