"""The X (Twitter) source: mentions of the complaint account (@LAPOR1708) become complaints.

Uses tweepy 4.17's v2 ``Client`` (synchronous, run in a worker thread with
``asyncio.to_thread`` so it never blocks the event loop or the SMS source):

* the numeric id of ``handle`` is looked up once (``GET /2/users/by/username/:username``) unless
  ``user_id`` is configured, and cached;
* each poll reads ``GET /2/users/:id/mentions`` after the saved cursor (``since_id``), newest
  first, following every ``next_token``; only when all pages are read is the largest id seen
  returned as the new cursor. The pipeline stores it in the same transaction as the complaints,
  so :meth:`Source.commit` has nothing to do. A failure in the middle of paging raises and returns
  nothing: the cursor stays where it was, nothing is skipped, and what is read again is ignored by
  the store (same source and tweet id).
* the very first poll (no cursor yet) takes a single page: the newest ``max_results`` mentions.
  The account's older history is not imported as complaints (the mention timeline reaches back
  only 800 posts anyway, docs.x.com timelines overview); from then on nothing is missed.
* plain retweets and the account's own posts are skipped (their ids still move the cursor);
  replies and quote posts are complaints. Long posts use ``note_tweet.text``.

Errors (:mod:`forwarder.sources.twitter_http`): 429 -> TemporaryError with ``retry_after`` from
``x-rate-limit-reset`` (tweepy's ``wait_on_rate_limit`` is off: tweepy never sleeps); 401 ->
InvalidToken; 403 -> PermanentError; 5xx, timeouts and network errors -> TemporaryError.

Pacing: the mention timeline allows 450 requests per 15 minutes per app (docs.x.com rate-limit
table as transcribed in integrations.md section C/F: one request per 2 s). The default poll every
60 s uses at most 15 polls x 8 pages = 120 of them even when catching up. The limits have changed
before (older tiers allowed 15 per 15 min), so the source also stops itself, without a request,
while the last answer said ``x-rate-limit-remaining: 0`` and the window has not reset.

``api_base_url`` sends tweepy's requests elsewhere (tests use a loopback fake): tweepy hard-codes
``https://api.twitter.com``, so a ``requests`` transport adapter mounted on the client's session
rewrites each URL (:class:`~forwarder.sources.twitter_http.XTransport`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Callable, Literal
from urllib.parse import urlsplit

import requests
import tweepy
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from forwarder.context import Context
from forwarder.errors import MessageRejected, PermanentError, TemporaryError, UncertainDelivery
from forwarder.sources.twitter_format import fit_post, is_retweet, to_complaint
from forwarder.sources.twitter_http import TWEEPY_HOST, XTransport, retry_after, translate
from forwarder.types import IncomingComplaint, Polled

log = logging.getLogger(__name__)

MENTIONS_ENDPOINT = "GET /2/users/:id/mentions"
TWEET_FIELDS = ["created_at", "note_tweet", "referenced_tweets", "conversation_id", "lang",
                "entities", "author_id"]
_OAUTH1_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


class Config(BaseModel):
    """``sources.<name>`` of ``type: twitter``.

    ``bearer_token`` (app-only, ``${X_BEARER_TOKEN}``) reads mentions. The four OAuth 1.0a keys
    (all or none; app permission "Read and write") are needed only to reply to citizens.
    ``poll_interval_secs`` >= 2 (450 requests per 15 min, see the module docstring).
    ``max_results`` is the page size, 5..100 (X's bounds for this endpoint).
    ``api_base_url`` must be https, except on a loopback address (tests).
    ``timeout_secs`` bounds each connect and read (tweepy sets no timeout).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["twitter"]
    handle: str = "LAPOR1708"
    bearer_token: SecretStr
    poll_interval_secs: float = Field(default=60.0, ge=2.0)
    api_base_url: str = TWEEPY_HOST
    max_results: int = Field(default=100, ge=5, le=100)
    user_id: str | None = None
    timeout_secs: float = Field(default=30.0, gt=0)
    consumer_key: SecretStr | None = None
    consumer_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    access_token_secret: SecretStr | None = None

    @field_validator("handle")
    @classmethod
    def _handle(cls, value: str) -> str:
        name = value.strip().removeprefix("@")
        if not re.fullmatch(r"[A-Za-z0-9_]{1,15}", name):
            raise ValueError(f"{value!r} is not an X username (1-15 letters, digits or _)")
        return name

    @field_validator("bearer_token")
    @classmethod
    def _bearer(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("the bearer token is empty (set X_BEARER_TOKEN)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("user_id")
    @classmethod
    def _user_id(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[0-9]{1,20}", value.strip()):
            raise ValueError("user_id is the numeric id of the account, e.g. '1536953950102544384'")
        return value.strip() if value is not None else None

    @field_validator("api_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.query:
            raise ValueError(f"{value!r} is not a base URL like https://api.twitter.com")
        if parts.scheme == "http" and not loopback:
            raise ValueError("plain http would send the token in clear; use https")
        return value.strip().rstrip("/")

    @model_validator(mode="after")
    def _oauth1_all_or_none(self) -> "Config":
        given = [k for k in _OAUTH1_KEYS if getattr(self, k) is not None]
        if given and len(given) != len(_OAUTH1_KEYS):
            missing = ", ".join(k for k in _OAUTH1_KEYS if k not in given)
            raise ValueError(f"replying needs all four OAuth 1.0a keys; missing: {missing}")
        return self

    @property
    def can_reply(self) -> bool:
        return self.consumer_key is not None


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


class Source:
    """Mentions of ``config.handle`` as complaints; see the module docstring.

    ``poll(cursor)`` -> :class:`Polled` (cursor: the largest tweet id seen, as a string);
    ``reply(tweet_id, text)`` -> id of the reply post. Both raise TemporaryError,
    PermanentError (InvalidToken, MessageRejected) or UncertainDelivery (reply only).
    """

    def __init__(self, name: str, config: Config, context: Context) -> None:
        self.name = name
        self.config = config
        self.context = context
        self.poll_interval = float(config.poll_interval_secs)
        self._user_id = config.user_id
        self._reader, self._reader_transport = self._client(bearer_token=_secret(config.bearer_token))
        self._poster: tweepy.Client | None = None
        if config.can_reply:
            self._poster, _ = self._client(**{k: _secret(getattr(config, k)) for k in _OAUTH1_KEYS})
        self._read_lock = asyncio.Lock()
        self._post_lock = asyncio.Lock()

    def _client(self, **credentials: Any) -> tuple[tweepy.Client, XTransport]:
        # return_type=dict: raw v2 JSON (string ids); wait_on_rate_limit=False: never sleep.
        client = tweepy.Client(**credentials, return_type=dict, wait_on_rate_limit=False)
        transport = XTransport(self.config.api_base_url, self.config.timeout_secs)
        client.session.mount(TWEEPY_HOST + "/", transport)
        return client, transport

    async def _call(self, what: str, func: Callable[[], Any], *, posting: bool = False) -> Any:
        """Run ``func`` (blocking tweepy code) in a worker thread; translate its errors."""
        try:
            return await asyncio.to_thread(func)
        except (tweepy.TweepyException, requests.RequestException) as exc:
            raise translate(exc, now=self.context.clock(), what=what, posting=posting) from exc

    # ---- reading ---------------------------------------------------------------------------

    async def poll(self, cursor: str | None) -> Polled:
        """Mentions newer than ``cursor`` (a tweet id); see the module docstring for the rules."""
        if cursor is not None and not re.fullmatch(r"[0-9]{1,20}", cursor):
            raise PermanentError(f"saved X cursor {cursor!r} is not a tweet id",
                                 hint="clear the cursor of this source with the admin CLI")
        async with self._read_lock:
            self._check_window()
            user_id = await self._own_id()
            pages = await self._call(f"reading mentions of @{self.config.handle}",
                                     lambda: self._read_pages(user_id, cursor))
        return self._to_polled(pages, user_id)

    def _check_window(self) -> None:
        """Raise TemporaryError when X's last answer said the mentions window is used up."""
        limit = self._reader_transport.rate_limit(MENTIONS_ENDPOINT)
        now = self.context.clock()
        if limit is not None and limit.remaining <= 0 and limit.reset > now.timestamp():
            raise TemporaryError(
                f"X rate limit for mentions used up ({limit.limit} per window); waiting for reset",
                retry_after=retry_after(limit.reset, now))

    async def _own_id(self) -> str:
        if self._user_id is None:
            handle = self.config.handle
            answer = await self._call(
                f"looking up @{handle}",
                lambda: self._reader.get_user(username=handle, user_fields=["username"]))
            data = answer.get("data") if isinstance(answer, dict) else None
            if not data or not data.get("id"):
                errors = answer.get("errors") if isinstance(answer, dict) else None
                detail = "; ".join(str(e.get("detail") or e) for e in errors or []) or "no data"
                raise PermanentError(f"X has no usable account @{handle}: {detail}",
                                     hint="check 'handle' (or set 'user_id') in the config")
            self._user_id = str(data["id"])
        return self._user_id

    def _read_pages(self, user_id: str, since_id: str | None) -> list[dict[str, Any]]:
        """Blocking: every page after ``since_id`` (one page when there is none)."""
        params: dict[str, Any] = {
            "max_results": self.config.max_results,
            "expansions": ["author_id"],
            "tweet_fields": TWEET_FIELDS,
            "user_fields": ["username"],
        }
        if since_id is not None:
            params["since_id"] = since_id
        pages: list[dict[str, Any]] = []
        tokens: set[str] = set()
        while True:
            page = self._reader.get_users_mentions(user_id, **params)
            pages.append(page)
            token = (page.get("meta") or {}).get("next_token")
            if since_id is None or not token:
                return pages
            if token in tokens:
                raise TemporaryError("X repeated a pagination token; will read again later")
            tokens.add(token)
            params["pagination_token"] = token

    def _to_polled(self, pages: list[dict[str, Any]], user_id: str) -> Polled:
        users: dict[str, dict[str, Any]] = {}
        tweets: dict[int, dict[str, Any]] = {}
        for page in pages:
            for user in (page.get("includes") or {}).get("users") or []:
                users[str(user.get("id"))] = user
            for tweet in page.get("data") or []:
                tweets[int(tweet["id"])] = tweet
        complaints: list[IncomingComplaint] = []
        skipped = 0
        for tweet_id in sorted(tweets):  # oldest first
            tweet = tweets[tweet_id]
            if str(tweet.get("author_id")) == user_id or is_retweet(tweet):
                skipped += 1
                continue
            complaints.append(to_complaint(tweet, users))
        if tweets:
            log.debug("source=%s mentions=%d complaints=%d skipped=%d pages=%d",
                      self.name, len(tweets), len(complaints), skipped, len(pages))
        return Polled(complaints=complaints, cursor=str(max(tweets)) if tweets else None)

    async def commit(self, polled: Polled) -> None:
        """Nothing to acknowledge at X: the cursor is saved by the pipeline with the complaints."""

    # ---- replying --------------------------------------------------------------------------

    async def reply(self, tweet_id: str, text: str) -> str:
        """Reply to the citizen's post ``tweet_id``; returns the new post's id.

        ``text`` is cut to X's 280 weighted characters (:func:`fit_post`: put the tracking code
        first). Needs the OAuth 1.0a keys in the config. Raises MessageRejected (empty text, X
        refused it: duplicate, deleted post), PermanentError (no keys, no write permission),
        InvalidToken, TemporaryError, or UncertainDelivery (sent, no answer: may exist).
        """
        if self._poster is None:
            raise PermanentError(
                "replying on X needs user-context keys",
                hint="set consumer_key, consumer_secret, access_token and access_token_secret "
                     "of the account (app permission 'Read and write') for this source")
        if not re.fullmatch(r"[0-9]{1,20}", str(tweet_id)):
            raise MessageRejected(f"{tweet_id!r} is not a tweet id")
        body = fit_post(text or "")
        if not body:
            raise MessageRejected("the reply text is empty")
        poster = self._poster
        async with self._post_lock:
            answer = await self._call(
                f"replying to post {tweet_id}",
                lambda: poster.create_tweet(text=body, in_reply_to_tweet_id=str(tweet_id),
                                            user_auth=True),
                posting=True)
        data = answer.get("data") if isinstance(answer, dict) else None
        if not data or not data.get("id"):
            raise UncertainDelivery(f"X answered the reply to {tweet_id} without an id: it may exist")
        return str(data["id"])

    async def close(self) -> None:
        """Close the HTTP sessions. A request still running in a worker thread fails cleanly."""
        self._reader.session.close()
        if self._poster is not None:
            self._poster.session.close()
