"""Telegram sink: posts complaints to officer group chats through the Bot API.

Built on python-telegram-bot 22.x (``telegram.Bot`` over httpx). Requests go to
``{api_base_url}/bot{token}/{method}`` as form-encoded POSTs; ``api_base_url`` points at
``https://api.telegram.org``, a self-hosted Bot API server, or the loopback test fake.

This adapter sends one message per call and never waits or retries: pacing (Telegram's flood
limits, carried in :class:`Config` for the pipeline) and retries belong to the pipeline. PTB's
``AIORateLimiter`` is deliberately not used. Failures are raised as :mod:`forwarder.errors`
(see :mod:`forwarder.sinks.telegram_errors` for the mapping and how a read timeout is told
apart from a connection failure).

YAML::

    sinks:
      tg:
        type: telegram
        token: ${TELEGRAM_BOT_TOKEN}
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal

import telegram
import telegram.error as tg_error
from pydantic import BaseModel, ConfigDict, Field, field_validator
from telegram.constants import MessageLimit, ParseMode
from telegram.request import HTTPXRequest

from forwarder import errors
from forwarder.context import Context
from forwarder.sinks import format as fmt
from forwarder.sinks.telegram_errors import translate
from forwarder.types import ComplaintView

log = logging.getLogger(__name__)

_TOKEN_SHAPE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_CHAT_ID = re.compile(r"^-?\d+$")


class Config(BaseModel):
    """The ``telegram`` sink's settings (unknown keys are refused).

    ``token``: the bot token from @BotFather, ``<bot id digits>:<secret>``; write it as
    ``${TELEGRAM_BOT_TOKEN}`` in the YAML, never literally. ``api_base_url``: where the Bot API
    is (no trailing ``/bot``). Timeouts in seconds: ``connect_timeout`` (TCP/TLS connect),
    ``read_timeout`` (waiting for Telegram's answer; when it expires the message may still have
    arrived), ``write_timeout`` (sending the request).

    Pacing for the pipeline (the adapter itself does not pace), from the Telegram Bots FAQ
    ("My bot is hitting limits, how do I avoid this?") and PTB ``telegram.constants.FloodLimit``:
    ``per_chat_per_minute`` = 20 (``MESSAGES_PER_MINUTE_PER_GROUP``), ``per_chat_per_second`` = 1
    (``MESSAGES_PER_SECOND_PER_CHAT``), ``overall_per_second`` = 30 (``MESSAGES_PER_SECOND``).
    Telegram says the limits are approximate; on excess it answers 429 with ``retry_after``.

    ``poll_updates`` (default true) makes the daemon read officers' button presses and replies
    with getUpdates, waiting ``long_poll_secs`` per request; set it false when another program
    reads this bot's updates (Telegram allows one getUpdates reader per bot, else 409 Conflict).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["telegram"]
    token: str = Field(min_length=1, repr=False)
    api_base_url: str = "https://api.telegram.org"
    connect_timeout: float = Field(default=5.0, gt=0)
    read_timeout: float = Field(default=10.0, gt=0)
    write_timeout: float = Field(default=10.0, gt=0)
    per_chat_per_minute: int = Field(default=20, ge=1)
    per_chat_per_second: float = Field(default=1.0, gt=0)
    overall_per_second: int = Field(default=30, ge=1)
    # officer actions (forwarder.sinks.telegram_updates): read the bot's updates with getUpdates
    # long polling, waiting up to long_poll_secs for each answer (Bot API getUpdates ``timeout``)
    poll_updates: bool = True
    long_poll_secs: float = Field(default=25.0, ge=0, le=50)

    @field_validator("token")
    @classmethod
    def _token_shape(cls, value: str) -> str:
        value = value.strip()
        if value and not _TOKEN_SHAPE.match(value):
            # never echo the value: it may be a real secret with a typo
            raise ValueError(
                "does not look like a bot token: expected '<digits>:<letters, digits, - or _>' "
                "as @BotFather gives it; set it as token: ${TELEGRAM_BOT_TOKEN}")
        return value

    @field_validator("api_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL such as https://api.telegram.org")
        if value.endswith("/bot"):
            raise ValueError("leave out the trailing /bot: it is added with the token")
        return value


#: inline keyboard rows of ``(label, callback data)``
Buttons = Sequence[Sequence[tuple[str, str]]]


def keyboard(buttons: Buttons) -> telegram.InlineKeyboardMarkup:
    """The Bot API InlineKeyboardMarkup for ``buttons``. Raises MessageRejected when a callback
    data is over 64 bytes (InlineKeyboardButton.callback_data: 1-64 bytes)."""
    rows = []
    for row in buttons:
        keys = []
        for label, data in row:
            if not 1 <= len(data.encode("utf-8")) <= 64:
                raise errors.MessageRejected(f"button {label!r}: callback data must be 1-64 bytes")
            keys.append(telegram.InlineKeyboardButton(label, callback_data=data))
        rows.append(keys)
    return telegram.InlineKeyboardMarkup(rows)


def chat_id_param(chat_id: str | int) -> int | str:
    """The chat id PTB expects: an int for numeric ids (``"-1001234567890"``), the ``@username``
    string for public channels. Raises PermanentError for anything else."""
    if isinstance(chat_id, int) and not isinstance(chat_id, bool):
        return chat_id
    text = str(chat_id).strip()
    if _CHAT_ID.match(text):
        return int(text)
    if re.match(r"^@[A-Za-z][A-Za-z0-9_]{3,}$", text):
        return text
    raise errors.PermanentError(
        f"not a Telegram chat id: {chat_id!r}",
        hint="use the numeric id (groups are negative, supergroups start with -100) or @channelname")


class Sink:
    """Sends rendered complaints to Telegram chats. Build as ``Sink(name, config, context)``,
    then ``await start()`` before sending and ``await close()`` at the end."""

    def __init__(self, name: str, config: Config, context: Context | None = None) -> None:
        self.name = name
        self.config = config
        self.context = context or Context()
        self._bot: telegram.Bot | None = None
        self.supports_buttons = True  # send/edit take buttons=, send takes reply_to=
        self.username: str | None = None  # the bot's @username once started

    # -- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Create the PTB ``Bot`` and check the token with getMe.

        Raises InvalidToken (401/404), TemporaryError (Telegram unreachable)."""
        _quiet_httpx_logs()
        cfg = self.config
        request = HTTPXRequest(connection_pool_size=8, connect_timeout=cfg.connect_timeout,
                               read_timeout=cfg.read_timeout, write_timeout=cfg.write_timeout,
                               pool_timeout=cfg.connect_timeout)
        bot = telegram.Bot(cfg.token, base_url=f"{cfg.api_base_url}/bot",
                           base_file_url=f"{cfg.api_base_url}/file/bot", request=request)
        await self.close()  # a second start() (after a failed one) begins afresh
        try:
            async with self._translated(None, sending=False):
                await bot.initialize()  # initialises httpx and calls getMe
        except BaseException:
            await bot.shutdown()  # do not leave the httpx client open when the check fails
            raise
        self._bot = bot
        self.username = bot.username
        log.info("sink=%s telegram bot=@%s ready", self.name, self.username)

    async def close(self) -> None:
        if self._bot is not None:
            bot, self._bot = self._bot, None
            try:
                await bot.shutdown()
            except tg_error.TelegramError as exc:  # closing must not fail the shutdown
                log.debug("sink=%s closing the bot failed: %s", self.name, exc)

    @property
    def started(self) -> bool:
        """True once :meth:`start` succeeded (the dispatcher starts a sink that was unreachable
        when the daemon started before its first send)."""
        return self._bot is not None

    @property
    def bot(self) -> telegram.Bot:
        """The started PTB ``Bot`` (for getUpdates elsewhere); RuntimeError before start()."""
        if self._bot is None:
            raise RuntimeError(f"telegram sink {self.name!r} is not started: await start() first")
        return self._bot

    # -- rendering ---------------------------------------------------------------------------
    def render(self, view: ComplaintView) -> list[str]:
        """The HTML message(s) for ``view``, each at most ``MessageLimit.MAX_TEXT_LENGTH`` (4096)."""
        return fmt.split_message(fmt.render_html(view), MessageLimit.MAX_TEXT_LENGTH, html=True,
                                 label=f"Pengaduan {view.tracking_code}")

    def render_plain(self, view: ComplaintView) -> list[str]:
        """Like :meth:`render` without markup (for a message Telegram refused to parse)."""
        return fmt.split_message(fmt.render_plain(view), MessageLimit.MAX_TEXT_LENGTH, html=False,
                                 label=f"Pengaduan {view.tracking_code}")

    # -- sending -----------------------------------------------------------------------------
    async def send(self, chat_id: str, text: str, *, plain: bool = False, buttons: Buttons | None = None,
                   reply_to: str | None = None) -> str:
        """sendMessage ``text`` (HTML unless ``plain``, link previews off) to ``chat_id``.

        ``buttons``: rows of ``(label, callback data)`` shown as an inline keyboard (callback
        data at most 64 bytes, Bot API InlineKeyboardButton); ``reply_to``: the message id this
        one answers (sent anyway when that message is gone).

        Returns Telegram's message id as a string. Raises TemporaryError (``retry_after`` set on
        429), UncertainDelivery (sent, answer lost), ChatMigrated, ChatForbidden, MessageRejected,
        InvalidToken or PermanentError (see :mod:`forwarder.sinks.telegram_errors`).
        """
        target = chat_id_param(chat_id)
        extra: dict[str, Any] = {}
        if reply_to is not None:
            extra["reply_parameters"] = telegram.ReplyParameters(
                message_id=int(reply_to), allow_sending_without_reply=True)
        if buttons:
            extra["reply_markup"] = keyboard(buttons)
        async with self._translated(chat_id, sending=True):
            message = await self.bot.send_message(
                chat_id=target, text=text, parse_mode=None if plain else ParseMode.HTML,
                link_preview_options=telegram.LinkPreviewOptions(is_disabled=True), **extra)
        return str(message.message_id)

    async def edit(self, chat_id: str, message_id: str, text: str, *, plain: bool = False,
                   buttons: Buttons | None = None) -> None:
        """editMessageText of a message this bot sent (status updates). ``buttons`` as in
        :meth:`send`; without them an inline keyboard the message had is removed (Bot API). An
        edit to the same text and buttons ("message is not modified") counts as done. Raises
        like :meth:`send`, except that a lost answer is a plain TemporaryError (editing twice is
        harmless)."""
        target = chat_id_param(chat_id)
        try:
            async with self._translated(chat_id, sending=False):
                await self.bot.edit_message_text(
                    text=text, chat_id=target, message_id=int(message_id),
                    parse_mode=None if plain else ParseMode.HTML,
                    link_preview_options=telegram.LinkPreviewOptions(is_disabled=True),
                    reply_markup=keyboard(buttons) if buttons else None)
        except errors.PermanentError as exc:
            if "message is not modified" in str(exc).lower():
                return
            raise

    async def check_chat(self, chat_id: str) -> dict[str, Any]:
        """getChat: ``{"id", "type", "title"}`` of a configured group, to check the bot is in it.
        Raises ChatForbidden / ChatMigrated / TemporaryError like :meth:`send`."""
        target = chat_id_param(chat_id)
        async with self._translated(chat_id, sending=False):
            chat = await self.bot.get_chat(target)
        return {"id": str(chat.id), "type": chat.type, "title": chat.title or chat.full_name or ""}

    @asynccontextmanager
    async def _translated(self, chat_id: object, *, sending: bool) -> AsyncIterator[None]:
        try:
            yield
        except tg_error.TelegramError as exc:
            raise translate(exc, chat_id=chat_id, sending=sending,
                            token=self.config.token) from None


def _quiet_httpx_logs() -> None:
    """httpx logs every request URL at INFO, and Bot API URLs contain the token: unless the
    operator configured the ``httpx`` logger, keep it at WARNING."""
    logger = logging.getLogger("httpx")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
