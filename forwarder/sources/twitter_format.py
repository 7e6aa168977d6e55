"""Turning X API v2 tweet objects into complaints, and fitting replies into X's length limit.

Input shapes are the raw v2 JSON (tweepy ``return_type=dict``): ids are strings, ``created_at`` is
``2024-01-15T10:30:00.000Z``, long posts carry their full text in ``note_tweet.text`` while
``text`` holds only the first part (docs.x.com, integrations.md section C). X HTML-escapes
``&``, ``<`` and ``>`` in post text; it is unescaped here once.
"""

from __future__ import annotations

import html
import re
import unicodedata
from datetime import datetime, timezone
from typing import Any

from forwarder.types import IncomingComplaint

# X ids are "snowflakes": milliseconds since this epoch, shifted left 22 bits (X developer docs,
# "Twitter IDs"); used only when a tweet arrives without created_at.
_SNOWFLAKE_EPOCH_MS = 1288834974657
_LEADING_MENTIONS = re.compile(r"^(?:\s*@\w{1,15})+\s*")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)

MAX_POST_WEIGHT = 280  # X's limit for a post, in weighted characters (twitter-text v3 config)
URL_WEIGHT = 23  # every URL counts as a t.co link of 23 characters (twitter-text v3 config)
# twitter-text v3: code points in these ranges weigh 1, all others 2 (CJK, emoji...).
_LIGHT_RANGES = ((0x0000, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))


def is_retweet(tweet: dict[str, Any]) -> bool:
    """A plain retweet repeats someone else's post: not a new complaint. Replies and quotes are."""
    refs = tweet.get("referenced_tweets") or []
    if any(ref.get("type") == "retweeted" for ref in refs):
        return True
    return str(tweet.get("text", "")).startswith("RT @")


def full_text(tweet: dict[str, Any]) -> str:
    """The whole post text: ``note_tweet.text`` for long posts, else ``text``; HTML-unescaped."""
    note = tweet.get("note_tweet")
    text = note.get("text") if isinstance(note, dict) and note.get("text") else tweet.get("text")
    return html.unescape(str(text or ""))


def complaint_text(text: str) -> str:
    """``text`` without the run of @mentions that addresses the post (``@LAPOR1708 @dinas ...``).

    Mentions inside the sentence stay (the privacy step masks them). A post that is nothing but
    mentions keeps its text as it is, so nothing is turned into an empty complaint.
    """
    body = _LEADING_MENTIONS.sub("", text, count=1).strip()
    return body or text.strip()


def created_at(tweet: dict[str, Any]) -> datetime:
    """The post time as an aware UTC datetime (from ``created_at``, else from the snowflake id)."""
    raw = tweet.get("created_at")
    if raw:
        return datetime.fromisoformat(str(raw).replace("Z", "+00:00")).astimezone(timezone.utc)
    millis = (int(tweet["id"]) >> 22) + _SNOWFLAKE_EPOCH_MS
    return datetime.fromtimestamp(millis / 1000, timezone.utc)


def to_complaint(tweet: dict[str, Any], users: dict[str, dict[str, Any]]) -> IncomingComplaint:
    """One mention as an :class:`IncomingComplaint`.

    ``users`` maps user id -> v2 user object (``includes.users``). ``meta`` holds what replying
    later needs (``tweet_id``, ``author_username``) and the thread (``conversation_id``); these
    never reach an officer group.
    """
    author_id = str(tweet.get("author_id") or "")
    user = users.get(author_id, {})
    refs = [{"type": str(r.get("type")), "id": str(r.get("id"))}
            for r in tweet.get("referenced_tweets") or []]
    kind = "reply" if any(r["type"] == "replied_to" for r in refs) else (
        "quote" if any(r["type"] == "quoted" for r in refs) else "mention")
    meta: dict[str, Any] = {
        "tweet_id": str(tweet["id"]),
        "author_id": author_id,
        "author_username": user.get("username"),
        "conversation_id": str(tweet.get("conversation_id") or tweet["id"]),
        "kind": kind,
        "lang": tweet.get("lang"),
        "long_post": bool(tweet.get("note_tweet")),
    }
    if refs:
        meta["referenced_tweets"] = refs
    return IncomingComplaint(
        external_id=str(tweet["id"]),
        received_at=created_at(tweet),
        reporter=f"x:{author_id or 'unknown'}",
        text=complaint_text(full_text(tweet)),
        channel="x",
        meta=meta,
    )


def _char_weight(char: str) -> int:
    point = ord(char)
    return 1 if any(lo <= point <= hi for lo, hi in _LIGHT_RANGES) else 2


def post_weight(text: str) -> int:
    """The length X counts for ``text`` (twitter-text v3 rules, conservative).

    Text is NFC-normalised; each URL counts as 23; code points outside the light ranges (Latin,
    Indonesian, general punctuation) count 2. Emoji sequences are counted per code point, which
    can only over-count, never under-count.
    """
    text = unicodedata.normalize("NFC", text)
    weight, last = 0, 0
    for match in _URL.finditer(text):
        weight += sum(map(_char_weight, text[last:match.start()])) + URL_WEIGHT
        last = match.end()
    return weight + sum(map(_char_weight, text[last:]))


def fit_post(text: str, limit: int = MAX_POST_WEIGHT) -> str:
    """``text`` (NFC, stripped) cut to at most ``limit`` weighted characters.

    A cut ends at a word boundary when one is in the last fifth, followed by "…". Put what must
    survive (the tracking code) first. A URL is never cut in half: it is dropped whole.
    """
    text = unicodedata.normalize("NFC", text).strip()
    if post_weight(text) <= limit:
        return text
    budget = limit - post_weight("…")  # U+2026 is outside the light ranges: it weighs 2
    spans = [(m.start(), m.end()) for m in _URL.finditer(text)]
    out: list[str] = []
    used, i = 0, 0
    while i < len(text):
        url = next((s for s in spans if s[0] == i), None)
        piece = text[url[0]:url[1]] if url else text[i]
        cost = URL_WEIGHT if url else _char_weight(piece)
        if used + cost > budget:
            break
        out.append(piece)
        used += cost
        i += len(piece)
    cut = "".join(out)
    space = cut.rfind(" ")
    if space >= len(cut) * 4 // 5:
        cut = cut[:space]
    return cut.rstrip() + "…"
