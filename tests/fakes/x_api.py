"""A loopback fake of the X API v2 (the part the X source uses), speaking the real wire format.

Served on ``127.0.0.1`` at a random port by a stdlib ``ThreadingHTTPServer`` in a background
thread. Shapes follow docs.x.com as transcribed in ``shared/notes/integrations.md`` section C:

* ``GET /2/users/by/username/:username`` -> ``{"data": {"id", "name", "username"}}``; an unknown
  name answers 200 with an ``errors`` list and no ``data`` (as X does).
* ``GET /2/users/:id/mentions`` (``since_id``, ``until_id``, ``pagination_token``,
  ``max_results`` 5..100, ``expansions``, ``tweet.fields``, ``user.fields``): newest first, string
  ids, ``edit_history_tweet_ids``, ``includes.users``, ``meta`` with ``result_count``,
  ``newest_id``, ``oldest_id`` and ``next_token`` only when more pages exist; **no** ``data`` key
  when nothing matches. Text is HTML-escaped (``&amp; &lt; &gt;``) as X does.
* ``POST /2/tweets`` (OAuth 1.0a user context only; the HMAC-SHA1 signature is checked against
  ``https://api.twitter.com`` URLs, which is what tweepy signs) -> ``201 {"data": {"id", "text",
  "edit_history_tweet_ids"}}``; recorded in :attr:`FakeX.posted`.

Reads need ``Authorization: Bearer <token>``; otherwise 401 in the v2 problem shape. Every
answer carries ``x-rate-limit-limit/-remaining/-reset`` (reset = absolute unix seconds) from a
per-endpoint 15-minute window; an exhausted window answers 429 like X does.

Fault injection from the test thread: :meth:`FakeX.fail_next` (any status; 429 gets the rate
limit headers and the real 429 body), :meth:`FakeX.pause_next` (hold an answer until an event).

Usage::

    with FakeX() as x:
        x.add_mention("jalan rusak di Dander", author="warga1")
        cfg = Config(type="twitter", bearer_token=x.bearer_token, api_base_url=x.base_url)

or the ``fake_x`` pytest fixture below (import it into a test module or conftest).
"""

from __future__ import annotations

import html
import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import SimpleNamespace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from oauthlib.oauth1.rfc5849 import signature as oauth_signature

SIGNED_HOST = "https://api.twitter.com"  # tweepy signs OAuth 1.0a requests for this host
WINDOW_SECS = 15 * 60
# Per-app 15-minute limits as transcribed from docs.x.com (integrations.md section C/F); the fake
# only needs plausible values, tests override them through ``FakeX(limits=...)``.
DEFAULT_LIMITS = {"mentions": 450, "user_by_username": 300, "create_tweet": 100}
_TWEET_FIELDS_DEFAULT = ("id", "text", "edit_history_tweet_ids")
_MENTION = re.compile(r"(?<![\w@])@(\w{1,15})")


def problem(status: int, title: str, detail: str, type_: str = "about:blank") -> dict[str, Any]:
    """The v2 error body (RFC 7807 'problem' shape) X sends for HTTP-level errors."""
    return {"title": title, "detail": detail, "type": type_, "status": status}


PROBLEMS = {
    400: problem(400, "Invalid Request", "One or more parameters to your request was invalid.",
                 "https://api.twitter.com/2/problems/invalid-request"),
    401: problem(401, "Unauthorized", "Unauthorized"),
    403: {"client_id": "12345678", "title": "Client Forbidden",
          "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys "
                    "and tokens from a Twitter developer App that is attached to a Project.",
          "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
          "reason": "client-not-enrolled", "required_enrollment": "Appropriate Level of API Access",
          "type": "https://api.twitter.com/2/problems/client-forbidden"},
    429: problem(429, "Too Many Requests", "Too Many Requests"),
    500: problem(500, "Internal Server Error", "Internal Server Error"),
    503: problem(503, "Service Unavailable", "Service Unavailable"),
}


@dataclass
class Fault:
    status: int
    reset_at: int | None = None
    body: dict[str, Any] | None = None
    path_contains: str | None = None
    after: int = 0  # matching requests to let through first


@dataclass
class Recorded:
    """One request as the fake saw it (query values are the raw strings)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any = None


@dataclass
class _Window:
    limit: int
    used: int = 0
    reset_at: int = 0


@dataclass
class _Tweet:
    id: int
    author_id: str
    text: str
    created_at: datetime
    conversation_id: int
    lang: str = "in"
    note_text: str | None = None
    referenced: list[dict[str, str]] = field(default_factory=list)
    mentions_of: set[str] = field(default_factory=set)  # user ids mentioned


class FakeX:
    """The fake server and its state. Thread-safe; all helpers may be called from tests.

    ``clock`` returns unix seconds (default ``time.time``) and drives the rate-limit windows and
    the ``x-rate-limit-reset`` headers.
    """

    def __init__(
        self,
        *,
        bearer_token: str = "test-bearer-token",
        handle: str = "LAPOR1708",
        handle_id: str = "1536953950102544384",
        consumer_key: str = "test-consumer-key",
        consumer_secret: str = "test-consumer-secret",
        access_token: str = "1536953950102544384-testaccesstoken",
        access_token_secret: str = "test-access-secret",
        limits: dict[str, int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bearer_token = bearer_token
        self.handle, self.handle_id = handle, handle_id
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.access_token, self.access_token_secret = access_token, access_token_secret
        self.clock = clock
        self.requests: list[Recorded] = []
        self.posted: list[dict[str, Any]] = []
        self.released: list[bool] = []  # per paused request: released by its event (not timeout)
        self._lock = threading.Lock()
        self._users: dict[str, dict[str, str]] = {}  # id -> user object
        self._tweets: dict[int, _Tweet] = {}
        self._ids = itertools.count(1_880_000_000_000_000_000, 1_000_003)  # > 2**53, like X
        self._user_ids = itertools.count(1_400_000_000_000_000_001, 7)
        self._tokens: dict[str, tuple[str, int | None, int]] = {}  # next_token -> (user, since, below)
        self._faults: list[Fault] = []
        self._pauses: list[threading.Event] = []
        self._pause_timeout = 10.0
        self._windows = {k: _Window(v) for k, v in {**DEFAULT_LIMITS, **(limits or {})}.items()}
        self.add_user(handle, user_id=handle_id, name="LAPOR! Bojonegoro")
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> "FakeX":
        fake = self

        class Handler(_Handler):
            owner = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        name="fake-x", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            for event in self._pauses:
                event.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeX":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "FakeX is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ---- test helpers ----------------------------------------------------------------------

    def add_user(self, username: str, *, user_id: str | None = None, name: str | None = None) -> str:
        """Register a user (idempotent by username); returns its id."""
        with self._lock:
            for user in self._users.values():
                if user["username"].lower() == username.lower():
                    return user["id"]
            uid = user_id or str(next(self._user_ids))
            self._users[uid] = {"id": uid, "name": name or username.title(), "username": username}
            return uid

    def add_mention(
        self,
        text: str,
        *,
        author: str = "warga_bojonegoro",
        kind: str = "mention",
        note_text: str | None = None,
        created_at: datetime | None = None,
        in_reply_to: str | None = None,
        quoted: str | None = None,
        lang: str = "in",
    ) -> str:
        """Post a tweet that mentions the handle; returns its id (string).

        ``kind``: ``"mention"`` (text gets ``@handle`` in front unless it has it), ``"reply"``
        (a reply to ``in_reply_to`` or to a new tweet of the handle), ``"quote"`` (quotes
        ``quoted`` or a new tweet), ``"retweet"`` (text becomes ``RT @author_of_original: ...``).
        ``note_text`` makes it a long post: ``text`` is then the first 280 characters + "…" and
        the full text is in ``note_tweet.text``. ``author`` equal to the handle makes an own tweet.
        """
        author_id = self.add_user(author)
        body = note_text if note_text is not None else text
        referenced: list[dict[str, str]] = []
        conversation: int | None = None
        if kind == "reply":
            target = in_reply_to or self.add_tweet(self.handle, "Terima kasih atas laporannya.")
            referenced.append({"type": "replied_to", "id": target})
            conversation = self._tweets[int(target)].conversation_id
            body = f"@{self._author_name(target)} {body}"
        elif kind == "quote":
            target = quoted or self.add_tweet(self.handle, "Info layanan pengaduan LAPOR!")
            referenced.append({"type": "quoted", "id": target})
            if f"@{self.handle}".lower() not in body.lower():
                body = f"@{self.handle} {body}"
        elif kind == "retweet":
            original = self.add_mention(text, author="warga_asli")
            referenced.append({"type": "retweeted", "id": original})
            body = f"RT @warga_asli: {self._tweets[int(original)].text}"
        elif kind == "mention":
            if f"@{self.handle}".lower() not in body.lower():
                body = f"@{self.handle} {body}"
        else:
            raise ValueError(f"unknown kind {kind!r}")
        short = body if note_text is None else body[:280] + "…"
        return self._store(author_id, short, created_at, conversation, referenced, lang,
                           note_text=body if note_text is not None else None, mention_handle=True)

    def add_tweet(self, author: str, text: str, *, created_at: datetime | None = None) -> str:
        """A tweet that does not mention the handle (e.g. one of the handle's own posts)."""
        return self._store(self.add_user(author), text, created_at, None, [], "in", None, False)

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        reset_at: int | None = None,
        body: dict[str, Any] | None = None,
        path_contains: str | None = None,
        after: int = 0,
    ) -> None:
        """Answer the next ``count`` requests (matching ``path_contains`` if given) with ``status``.

        ``after`` lets that many matching requests through first (e.g. fail the third page).
        429 answers carry ``x-rate-limit-remaining: 0`` and ``x-rate-limit-reset: reset_at``
        (default: the end of the current window) and the real 429 body.
        """
        with self._lock:
            self._faults.extend(Fault(status, reset_at, body, path_contains, after)
                                for _ in range(count))

    def pause_next(self, release: threading.Event, timeout: float = 10.0) -> None:
        """Hold the next request's answer until ``release`` is set (or ``timeout`` passes)."""
        with self._lock:
            self._pauses.append(release)
        self._pause_timeout = timeout

    def paths(self, method: str = "GET") -> list[str]:
        return [r.path for r in self.requests if r.method == method]

    # ---- internals -------------------------------------------------------------------------

    def _author_name(self, tweet_id: str) -> str:
        return self._users[self._tweets[int(tweet_id)].author_id]["username"]

    def _store(self, author_id, text, created_at, conversation, referenced, lang, note_text,
               mention_handle) -> str:
        with self._lock:
            tid = next(self._ids)
            mentioned = {uid for uid, u in self._users.items()
                         for m in _MENTION.findall(note_text or text)
                         if u["username"].lower() == m.lower()}
            if mention_handle:
                mentioned.add(self.handle_id)
            self._tweets[tid] = _Tweet(
                id=tid, author_id=author_id, text=text,
                created_at=created_at or datetime.fromtimestamp(self.clock(), timezone.utc),
                conversation_id=conversation or tid, lang=lang, note_text=note_text,
                referenced=referenced, mentions_of=mentioned)
            return str(tid)

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            matching = [f for f in self._faults if f.path_contains is None or f.path_contains in path]
            if not matching:
                return None
            if matching[0].after > 0:
                for fault in matching:  # the whole batch waits for the same requests
                    fault.after -= 1
                return None
            self._faults.remove(matching[0])
            return matching[0]

    def _take_pause(self) -> threading.Event | None:
        with self._lock:
            return self._pauses.pop(0) if self._pauses else None

    def _count(self, key: str) -> tuple[dict[str, str], bool]:
        """Use one request of ``key``'s window; returns (headers, allowed)."""
        now = int(self.clock())
        with self._lock:
            window = self._windows[key]
            if now >= window.reset_at:
                window.used, window.reset_at = 0, now + WINDOW_SECS
            allowed = window.used < window.limit
            if allowed:
                window.used += 1
            headers = {"x-rate-limit-limit": str(window.limit),
                       "x-rate-limit-remaining": str(window.limit - window.used),
                       "x-rate-limit-reset": str(window.reset_at)}
            return headers, allowed

    def _render(self, tweet: _Tweet, fields: set[str], expansions: set[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"id": str(tweet.id), "text": html.escape(tweet.text, quote=False),
                               "edit_history_tweet_ids": [str(tweet.id)]}
        if "author_id" in fields or "author_id" in expansions:
            out["author_id"] = tweet.author_id
        if "created_at" in fields:
            out["created_at"] = tweet.created_at.astimezone(timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%S.") + f"{tweet.created_at.microsecond // 1000:03d}Z"
        if "conversation_id" in fields:
            out["conversation_id"] = str(tweet.conversation_id)
        if "lang" in fields:
            out["lang"] = tweet.lang
        if "referenced_tweets" in fields and tweet.referenced:
            out["referenced_tweets"] = [dict(r) for r in tweet.referenced]
        if "note_tweet" in fields and tweet.note_text is not None:
            out["note_tweet"] = {"text": html.escape(tweet.note_text, quote=False)}
        if "entities" in fields:
            mentions = [{"start": m.start(), "end": m.end(), "username": m.group(1)}
                        for m in _MENTION.finditer(tweet.text)]
            if mentions:
                out["entities"] = {"mentions": mentions}
        return out

    def mentions_page(self, user_id: str, q: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The JSON answer of GET /2/users/:id/mentions for query ``q``."""
        try:
            max_results = int(q.get("max_results", "10"))
        except ValueError:
            max_results = -1
        if not 5 <= max_results <= 100:
            return 400, {"errors": [{"parameters": {"max_results": [q.get("max_results")]},
                                     "message": "The `max_results` query parameter value "
                                                f"[{q.get('max_results')}] is not between 5 and 100"}],
                         "title": "Invalid Request",
                         "detail": "One or more parameters to your request was invalid.",
                         "type": "https://api.twitter.com/2/problems/invalid-request"}
        since = int(q["since_id"]) if q.get("since_id") else None
        below = int(q["until_id"]) if q.get("until_id") else None
        token = q.get("pagination_token")
        with self._lock:
            if token:
                if token not in self._tokens:
                    return 400, PROBLEMS[400]
                _, since, below = self._tokens[token]
            if user_id not in self._users:
                return 200, {"errors": [{"value": user_id, "detail": f"Could not find user with id: [{user_id}].",
                                         "title": "Not Found Error", "resource_type": "user",
                                         "parameter": "id", "resource_id": user_id,
                                         "type": "https://api.twitter.com/2/problems/resource-not-found"}]}
            matching = sorted((t for t in self._tweets.values()
                               if user_id in t.mentions_of
                               and (since is None or t.id > since)
                               and (below is None or t.id < below)),
                              key=lambda t: t.id, reverse=True)
            page, rest = matching[:max_results], matching[max_results:]
            if not page:
                return 200, {"meta": {"result_count": 0}}
            fields = set(filter(None, q.get("tweet.fields", "").split(",")))
            expansions = set(filter(None, q.get("expansions", "").split(",")))
            body: dict[str, Any] = {"data": [self._render(t, fields, expansions) for t in page]}
            if "author_id" in expansions:
                users = {t.author_id for t in page}
                body["includes"] = {"users": [dict(self._users[u]) for u in sorted(users)]}
            meta: dict[str, Any] = {"result_count": len(page), "newest_id": str(page[0].id),
                                    "oldest_id": str(page[-1].id)}
            if rest:
                next_token = secrets.token_hex(16)
                self._tokens[next_token] = (user_id, since, page[-1].id)
                meta["next_token"] = next_token
            body["meta"] = meta
            return 200, body

    def user_by_username(self, username: str) -> dict[str, Any]:
        with self._lock:
            for user in self._users.values():
                if user["username"].lower() == username.lower():
                    return {"data": dict(user)}
        return {"errors": [{"value": username, "detail": f"Could not find user with username: [{username}].",
                            "title": "Not Found Error", "resource_type": "user", "parameter": "username",
                            "resource_id": username,
                            "type": "https://api.twitter.com/2/problems/resource-not-found"}]}

    def check_oauth1(self, method: str, path: str, header: str) -> bool:
        """Verify an OAuth 1.0a HMAC-SHA1 ``Authorization`` header for ``SIGNED_HOST + path``."""
        if not header.startswith("OAuth "):
            return False
        try:  # decoded (key, value) pairs of the header, realm left out
            pairs = oauth_signature.collect_parameters(headers={"Authorization": header},
                                                       exclude_oauth_signature=False)
        except ValueError:
            return False
        params = dict(pairs)
        if params.get("oauth_consumer_key") != self.consumer_key or \
                params.get("oauth_token") != self.access_token or \
                params.get("oauth_signature_method") != "HMAC-SHA1":
            return False
        given = params.get("oauth_signature", "")
        signed = [(k, v) for k, v in pairs if k != "oauth_signature"]
        base = oauth_signature.signature_base_string(
            method, oauth_signature.base_string_uri(SIGNED_HOST + path),
            oauth_signature.normalize_parameters(signed))
        keys = SimpleNamespace(client_secret=self.consumer_secret,
                               resource_owner_secret=self.access_token_secret)
        expected = oauth_signature.sign_hmac_sha1_with_client(base, keys)
        return secrets.compare_digest(given, expected)

    def create_tweet(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        text = body.get("text") or ""
        if not text.strip() or len(text) > 280:
            return 400, PROBLEMS[400]
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        with self._lock:
            if reply_to is not None and int(reply_to) not in self._tweets:
                return 400, {"errors": [{"message": "Your Tweet is in reply to a Tweet that has been deleted "
                                                    "or is not visible to you.", "parameters": {}}],
                             "title": "Invalid Request",
                             "detail": "One or more parameters to your request was invalid.",
                             "type": "https://api.twitter.com/2/problems/invalid-request"}
            if any(p["text"] == text for p in self.posted):
                return 403, problem(403, "Forbidden",
                                    "You are not allowed to create a Tweet with duplicate content.")
        tid = self._store(self.handle_id, text, None,
                          self._tweets[int(reply_to)].conversation_id if reply_to else None,
                          [{"type": "replied_to", "id": str(reply_to)}] if reply_to else [],
                          "in", None, False)
        with self._lock:
            self.posted.append({"id": tid, "text": text, "in_reply_to_tweet_id": reply_to})
        return 201, {"data": {"id": tid, "text": text, "edit_history_tweet_ids": [tid]}}


class _Handler(BaseHTTPRequestHandler):
    owner: FakeX
    server_version = "fake-x/1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        x = self.owner
        parts = urlsplit(self.path)
        path = parts.path
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
        with x._lock:
            x.requests.append(Recorded(method, path, query, dict(self.headers.items()), body))
        pause = x._take_pause()
        if pause is not None:
            released = pause.wait(x._pause_timeout)
            with x._lock:
                x.released.append(released)
        key = self._endpoint(method, path)
        if key is None:
            return self._send(404, problem(404, "Not Found Error", f"No route for {method} {path}"))
        auth = self.headers.get("Authorization", "")
        if key == "create_tweet":
            if auth.startswith("Bearer "):
                return self._send(403, problem(
                    403, "Unsupported Authentication",
                    "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
                    "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                    "https://api.twitter.com/2/problems/unsupported-authentication"))
            if not x.check_oauth1(method, path, auth):
                return self._send(401, PROBLEMS[401])
        elif auth != f"Bearer {x.bearer_token}":
            return self._send(401, PROBLEMS[401])
        headers, allowed = x._count(key)
        fault = x._take_fault(path)
        if fault is not None:
            if fault.status == 429:
                headers["x-rate-limit-remaining"] = "0"
                if fault.reset_at is not None:
                    headers["x-rate-limit-reset"] = str(fault.reset_at)
            return self._send(fault.status, fault.body or PROBLEMS.get(fault.status)
                              or problem(fault.status, "Error", "Injected error"), headers)
        if not allowed:
            return self._send(429, PROBLEMS[429], headers)
        if key == "user_by_username":
            return self._send(200, x.user_by_username(path.rsplit("/", 1)[1]), headers)
        if key == "mentions":
            status, answer = x.mentions_page(path.split("/")[3], query)
            return self._send(status, answer, headers)
        status, answer = x.create_tweet(body if isinstance(body, dict) else {})
        return self._send(status, answer, headers)

    @staticmethod
    def _endpoint(method: str, path: str) -> str | None:
        if method == "GET" and re.fullmatch(r"/2/users/by/username/\w{1,15}", path):
            return "user_by_username"
        if method == "GET" and re.fullmatch(r"/2/users/\d+/mentions", path):
            return "mentions"
        if method == "POST" and path == "/2/tweets":
            return "create_tweet"
        return None

    def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        ctype = "application/problem+json" if status >= 400 and "title" in payload else "application/json"
        self.send_header("Content-Type", f"{ctype}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def fake_x() -> Iterator[FakeX]:
    """A started :class:`FakeX` on 127.0.0.1, stopped after the test."""
    with FakeX() as x:
        yield x
