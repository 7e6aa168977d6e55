"""Translate python-telegram-bot (22.x) exceptions into :mod:`forwarder.errors`.

How PTB reports failures (read from ``telegram/request/_baserequest.py`` and
``_httpxrequest.py`` of PTB 22.8, and observed against the loopback fake):

* An answer with ``parameters.retry_after`` raises ``RetryAfter`` (its ``retry_after`` is an
  ``int`` in 22.x, a ``timedelta`` when ``PTB_TIMEDELTA=1``); ``parameters.migrate_to_chat_id``
  raises ``ChatMigrated``; otherwise 400 -> ``BadRequest``, 403 -> ``Forbidden``, 401/404 ->
  ``InvalidToken``, 409 -> ``Conflict``, any other status (5xx) -> ``NetworkError`` *without* a
  ``__cause__``.
* Transport failures keep the httpx exception as ``__cause__``: every ``httpx.TimeoutException``
  becomes ``TimedOut`` (a ``NetworkError``) — ``ConnectTimeout``, ``PoolTimeout``, ``WriteTimeout``
  and ``ReadTimeout`` alike — and every other ``httpx.HTTPError`` becomes ``NetworkError``
  (connection refused: ``httpx.ConnectError``; dropped connection: ``httpx.ReadError`` or
  ``httpx.RemoteProtocolError``).

So whether a message may have arrived is read from the cause: a connect/pool failure or a write
failure means Telegram never had the whole request (plain :class:`TemporaryError`); a read
timeout, a read error, a dropped connection, an unknown cause or a 5xx answer to a *send* mean
the request went out and no usable answer came (:class:`UncertainDelivery`: the message may be
in the chat). The cost of the conservative side is a resend marked as a possible duplicate.
"""

from __future__ import annotations

import warnings
from datetime import timedelta

import httpx
import telegram.error as tg_error
from telegram.warnings import PTBDeprecationWarning

from forwarder import errors

HINT_REJOIN = "add the bot to the group again (allowed to send messages), then run `forwarder outbox retry`"
HINT_CHAT_NOT_FOUND = ("check chat_id in config/groups.yaml (supergroups start with -100); the bot "
                       "must be a member of the group: add it, then run `forwarder outbox retry`")
HINT_TOKEN = ("check TELEGRAM_BOT_TOKEN; if the token was revoked, get a new one from @BotFather "
              "(/token) and restart the forwarder")

# transport failures after which Telegram cannot have received the whole request
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.WriteError,
             httpx.WriteTimeout, httpx.UnsupportedProtocol, httpx.ProxyError, httpx.LocalProtocolError)


def retry_after_seconds(exc: tg_error.RetryAfter) -> float:
    """``RetryAfter.retry_after`` in seconds, whether PTB gives an int or a timedelta."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def _transport_cause(exc: BaseException) -> BaseException | None:
    cause = exc.__cause__
    while cause is not None and not isinstance(cause, httpx.HTTPError):
        cause = cause.__cause__
    return cause


def translate(exc: tg_error.TelegramError, *, chat_id: object = None, sending: bool = False,
              token: str = "") -> errors.DeliveryError:
    """The :mod:`forwarder.errors` exception for a PTB exception ``exc``.

    ``chat_id`` names the chat in messages, ``sending`` says the call posts something (so a lost
    answer is an :class:`UncertainDelivery`), ``token`` is scrubbed from every message.
    """
    where = f" in chat {chat_id}" if chat_id is not None else ""
    text = str(exc).replace(token, "<token>") if token else str(exc)
    low = text.lower()
    if isinstance(exc, tg_error.RetryAfter):
        seconds = retry_after_seconds(exc)
        return errors.TemporaryError(f"Telegram flood control{where}: retry in {seconds:g} s",
                                     retry_after=seconds)
    if isinstance(exc, tg_error.ChatMigrated):
        return errors.ChatMigrated(f"chat {chat_id} became a supergroup with id {exc.new_chat_id}",
                                   str(exc.new_chat_id))
    if isinstance(exc, tg_error.InvalidToken):
        return errors.InvalidToken(f"Telegram refused the bot token ({text})", hint=HINT_TOKEN)
    if isinstance(exc, tg_error.Forbidden):
        return errors.ChatForbidden(f"the bot may not post{where}: {text}", hint=HINT_REJOIN)
    if isinstance(exc, tg_error.BadRequest):
        if "can't parse entities" in low:
            return errors.MessageRejected(f"Telegram refused the HTML markup{where}: {text}",
                                          hint="send the plain-text form of the message")
        if "message is too long" in low or "text is empty" in low:
            return errors.MessageRejected(f"Telegram refused the message{where}: {text}",
                                          hint="render it again (split into parts of at most 4096)")
        if "chat not found" in low:
            return errors.ChatForbidden(f"Telegram does not know chat {chat_id}: {text}",
                                        hint=HINT_CHAT_NOT_FOUND)
        return errors.PermanentError(f"Telegram refused the request{where}: {text}",
                                     hint="see Telegram's answer; this request will not succeed as is")
    if isinstance(exc, tg_error.Conflict):
        return errors.TemporaryError(f"Telegram conflict: {text} (another bot instance is polling?)")
    if isinstance(exc, tg_error.NetworkError):  # includes TimedOut
        cause = _transport_cause(exc)
        detail = (f"{type(cause).__name__}: {cause}".rstrip(": ") if cause else text)
        if isinstance(cause, _NOT_SENT):
            return errors.TemporaryError(f"cannot reach Telegram ({detail})")
        if sending:
            return errors.UncertainDelivery(
                f"no answer from Telegram after sending{where} ({detail}); the message may have arrived")
        return errors.TemporaryError(f"no usable answer from Telegram ({detail})")
    if sending:  # e.g. an unreadable 200 answer: it was probably sent
        return errors.UncertainDelivery(f"unexpected answer from Telegram{where}: {text}")
    return errors.TemporaryError(f"unexpected answer from Telegram: {text}")
