"""HTTP plumbing of the X source: the transport mounted on tweepy's session, and error translation.

tweepy 4.17 hard-codes its host (``BaseClient.request`` uses ``host = "https://api.twitter.com"``,
integrations.md section C), has no timeout and no base-URL option. :class:`XTransport` is a
``requests`` transport adapter mounted on the tweepy ``Client.session`` for that host; it

* rewrites scheme, host and path prefix to ``api_base_url`` when that differs (how tests reach the
  loopback fake; OAuth 1.0a signatures still cover the ``https://api.twitter.com`` URL tweepy
  signed, so a user-context server at another address must verify against that URL);
* applies a timeout (tweepy passes none, so a stalled connection would hang a worker thread);
* never routes loopback addresses through an environment proxy;
* records the ``x-rate-limit-*`` headers of every answer per endpoint (:class:`RateLimit`), so the
  source can stop before a request it knows would be refused.

tweepy logs every request's headers at DEBUG level, bearer token included; a filter on the
``tweepy.client`` logger hides the ``Authorization`` value before any handler sees it.

:func:`translate` maps tweepy/requests exceptions to :mod:`forwarder.errors` at the boundary.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import tweepy
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from forwarder.errors import (
    DeliveryError,
    InvalidToken,
    MessageRejected,
    PermanentError,
    TemporaryError,
    UncertainDelivery,
)

TWEEPY_HOST = "https://api.twitter.com"
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


_AUTH_VALUE = re.compile(r"('Authorization': ')[^']*(')")


class _HideCredentials(logging.Filter):
    """Replace the Authorization header value in tweepy's debug records with ``<hidden>``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "Authorization" in message:
            record.msg, record.args = _AUTH_VALUE.sub(r"\1<hidden>\2", message), ()
        return True


logging.getLogger("tweepy.client").addFilter(_HideCredentials())


@dataclass(frozen=True)
class RateLimit:
    """The last ``x-rate-limit-*`` headers seen for one endpoint. ``reset`` is unix seconds."""

    limit: int
    remaining: int
    reset: int


def endpoint_key(method: str, path: str) -> str:
    """``GET /2/users/123/mentions`` -> ``"GET /2/users/:id/mentions"`` (X limits are per endpoint)."""
    path = re.sub(r"/by/username/[^/]+", "/by/username/:username", path)
    return f"{method.upper()} {re.sub(r'(?<!^)/[0-9]+(?=/|$)', '/:id', path)}"


class XTransport(HTTPAdapter):
    """A ``requests`` adapter for tweepy's session; see the module docstring.

    ``base_url``: where requests really go (``https://api.twitter.com`` in production).
    ``timeout``: seconds for connect and for each read.
    """

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(max_retries=0)  # retries belong to the pipeline
        parts = urlsplit(base_url.rstrip("/"))
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path
        self.rewrites = base_url.rstrip("/") != TWEEPY_HOST
        self.timeout = timeout
        self._lock = threading.Lock()
        self._limits: dict[str, RateLimit] = {}

    def rate_limit(self, key: str) -> RateLimit | None:
        with self._lock:
            return self._limits.get(key)

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        path = urlsplit(request.url or "").path
        if self.rewrites:
            parts = urlsplit(request.url or "")
            request.url = urlunsplit((self._scheme, self._netloc, self._prefix + parts.path,
                                      parts.query, parts.fragment))
            if urlsplit(request.url).hostname in _LOOPBACK:
                proxies = {}
        response = super().send(request, stream=stream, timeout=timeout or self.timeout,
                                verify=verify, cert=cert, proxies=proxies)
        self._record(endpoint_key(request.method or "GET", path), response)
        return response

    def _record(self, key: str, response: requests.Response) -> None:
        headers = response.headers
        try:
            limit = RateLimit(int(headers["x-rate-limit-limit"]),
                              int(headers["x-rate-limit-remaining"]),
                              int(headers["x-rate-limit-reset"]))
        except (KeyError, ValueError):
            return
        with self._lock:
            self._limits[key] = limit


def _detail(exc: tweepy.HTTPException) -> str:
    """The most useful words of an X error answer (v2 problem ``detail`` or ``errors[].message``)."""
    parts = list(exc.api_messages)
    try:
        body = exc.response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        parts += [str(body[k]) for k in ("detail", "reason") if body.get(k)]
    seen: list[str] = []
    for part in parts:
        if part not in seen:
            seen.append(part)
    return "; ".join(seen) or f"{exc.response.status_code} {exc.response.reason}"


def retry_after(reset: int | None, now: datetime) -> float | None:
    """Seconds from ``now`` until the unix time ``reset`` (x-rate-limit-reset), at least 1 s."""
    if reset is None:
        return None
    return max(1.0, reset - now.timestamp())


def _never_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before the request went out (refused, DNS, connect timeout)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def translate(exc: BaseException, *, now: datetime, what: str, posting: bool = False) -> DeliveryError:
    """Map an exception of tweepy/requests to the project's error tree.

    ``what`` names the call for the message ("reading mentions of @LAPOR1708"); ``posting`` is
    True for ``POST /2/tweets``, where a lost answer means the reply may exist
    (UncertainDelivery) and a 400/403 about the text means MessageRejected.

    * 429 -> TemporaryError(retry_after = x-rate-limit-reset - now, >= 1 s)
    * 401 -> InvalidToken; 403 -> PermanentError (or MessageRejected for a duplicate reply)
    * 400 -> PermanentError (MessageRejected when posting); other 4xx -> PermanentError
    * 5xx, connection errors, timeouts, non-JSON answers -> TemporaryError / UncertainDelivery
    """
    if isinstance(exc, tweepy.TooManyRequests):
        wait = retry_after(exc.reset_time, now)
        return TemporaryError(f"X rate limit reached while {what} (429)", retry_after=wait)
    if isinstance(exc, tweepy.Unauthorized):
        if posting:
            return InvalidToken(
                f"X refused the OAuth 1.0a keys while {what} (401): {_detail(exc)}",
                hint="check consumer_key/consumer_secret/access_token/access_token_secret; "
                     "regenerate the access token and secret in the X developer portal")
        return InvalidToken(
            f"X refused the bearer token while {what} (401): {_detail(exc)}",
            hint="check X_BEARER_TOKEN: copy the app's bearer token from the X developer portal "
                 "(Keys and tokens), or regenerate it if it was revoked")
    if isinstance(exc, tweepy.Forbidden):
        detail = _detail(exc)
        if posting and "duplicate" in detail.lower():
            return MessageRejected(f"X refused the reply while {what} (403): {detail}",
                                   hint="X refuses a post identical to an earlier one; vary the text")
        if posting:
            return PermanentError(
                f"X forbade {what} (403): {detail}",
                hint="the app needs 'Read and write' permission; after changing it regenerate the "
                     "access token and secret, which keep the permission they were made with")
        return PermanentError(
            f"X forbade {what} (403): {detail}",
            hint="the bearer token's app must belong to a Project with an access level (plan) that "
                 "includes reading mentions; check the app in the X developer portal")
    if isinstance(exc, tweepy.BadRequest):
        if posting:
            return MessageRejected(f"X refused the reply while {what} (400): {_detail(exc)}")
        return PermanentError(f"X refused the request while {what} (400): {_detail(exc)}",
                              hint="check handle/user_id in the config; a saved cursor that X "
                                   "refuses can be cleared with the admin CLI")
    if isinstance(exc, tweepy.TwitterServerError):
        return TemporaryError(f"X server error while {what} ({exc.response.status_code})")
    if isinstance(exc, tweepy.HTTPException):
        return PermanentError(f"X answered {exc.response.status_code} while {what}: {_detail(exc)}")
    if isinstance(exc, requests.ConnectionError):  # includes ConnectTimeout
        if posting and not _never_sent(exc):
            return UncertainDelivery(f"connection to X lost while {what}: the reply may exist")
        return TemporaryError(f"cannot reach X while {what}: {exc.__class__.__name__}")
    if isinstance(exc, requests.Timeout):  # ReadTimeout: the request went out
        if posting:
            return UncertainDelivery(f"no answer from X while {what}: the reply may exist")
        return TemporaryError(f"no answer from X while {what} (timeout)")
    if isinstance(exc, requests.JSONDecodeError):  # a 2xx whose body is not JSON
        if posting:
            return UncertainDelivery(f"X's answer while {what} was not JSON: the reply may exist")
        return TemporaryError(f"X's answer while {what} was not JSON")
    if isinstance(exc, requests.RequestException):
        return TemporaryError(f"request to X failed while {what}: {exc.__class__.__name__}")
    raise TypeError(f"not an X/HTTP error: {exc!r}") from exc
