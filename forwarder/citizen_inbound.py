"""Citizen messages that are not new complaints: ``CEK <code>``, answers, ``belum``/``sudah``.

Every message a source hands over passes :func:`intercept` before it is classified. How a
message is matched (first rule that applies):

1. ``CEK <code>`` (also ``STATUS <code>``, any case, ``:`` or ``#`` allowed) asks for a status:
   the sender gets the status of that complaint (``unknown_code`` when none has it). Anyone
   holding the code may ask; the answer names only the status.
2. The message is about one of the sender's own complaints when it quotes its tracking code, or
   (X) replies in the thread of the complaint post or of one of our replies to it. Then:
   ``belum ...`` after a done reopens it, ``sudah ...`` after a done confirms it, anything else
   is the citizen's reply, posted in the complaint's thread in the group.
3. Without a code (SMS): the sender's complaints waiting for the citizen within
   ``citizen.reply_window_days`` (default 14) are looked at, newest first: ``belum``/``sudah``
   answers the newest one marked done; any other text answers the newest open question
   (``/tanya`` not yet answered). A text that is neither, while only a done check waits, is a
   new complaint: a citizen with a new problem must not be swallowed by an old case.
4. Anything else is a new complaint.

Matched messages are stored in ``citizen_inbound`` (unique by source and external id, like
complaints: a source handing one over again changes nothing twice) together with their effects
(events, status, queued followups), in one transaction; they never become complaints.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from forwarder import casework, citizen, followups
from forwarder.casework import complaint_meta, events_of
from forwarder.config import Settings
from forwarder.store import Destination, Store, iso
from forwarder.types import IncomingComplaint

_CODE = r"([0-9A-Za-z]{6})"
CEK = re.compile(rf"^\s*(?:cek(?:\s+status)?|status)\s*[:#.\-]?\s*{_CODE}(?![0-9A-Za-z])(.*)$",
                 re.IGNORECASE | re.DOTALL)
CODE_TOKEN = re.compile(rf"(?<![0-9A-Za-z]){_CODE}(?![0-9A-Za-z])")
REOPEN_WORDS = frozenset({"belum", "blm", "belom", "blum", "durung"})
CONFIRM_WORDS = frozenset({"sudah", "sdh", "udah", "udh", "sampun", "uwis", "wis"})
_FIRST_WORD = re.compile(r"[^\W\d_]+")
THREAD_TEXT_LIMIT = 2000  # characters of a citizen's text in a group post: even as UTF-16 pairs
# (emoji) it stays under the 4096 units of one Telegram message


def normalise_code(text: str) -> str:
    """A typed tracking code in the store's alphabet: upper case, O read as 0, I and L as 1
    (Crockford base32 decoding, the alphabet of :func:`forwarder.store.new_tracking_code`)."""
    return text.upper().translate(str.maketrans("OIL", "011"))


def first_word(text: str) -> str:
    m = _FIRST_WORD.search(text or "")
    return m.group().lower() if m else ""


def _own_complaints(store: Store, reporter: str, limit: int = 50) -> list[dict[str, Any]]:
    rows = store.db.execute("select * from complaints where reporter = ? order by id desc limit ?", [reporter, limit])
    cols = [c[0] for c in rows.description]
    return [dict(zip(cols, r)) for r in rows.fetchall()]


def _waiting(store: Store, row: dict[str, Any], since: str) -> tuple[bool, bool]:
    """(done check waiting, open question) for a complaint, counting only events after ``since``."""
    evs = events_of(store, row["id"], "done", "question", "citizen_reply")
    done_wait = row["status"] == casework.DONE and any(k == "done" and at >= since for at, _, k, _ in evs)
    question = False
    for at, _, kind, _ in evs:
        if kind == "question":
            question = at >= since
        elif kind == "citizen_reply":
            question = False
    return done_wait, question


def _thread_match(store: Store, incoming: IncomingComplaint, own: list[dict[str, Any]]) -> dict[str, Any] | None:
    meta = incoming.meta or {}
    conversation = str(meta.get("conversation_id") or "")
    replied = {str(r.get("id")) for r in meta.get("referenced_tweets") or [] if r.get("type") == "replied_to"}
    for row in own:
        if conversation and str(complaint_meta(row).get("conversation_id") or "") == conversation:
            return row
        if replied:
            marks = ",".join("?" * len(replied))
            hit = store.db.execute(f"select 1 from followups where complaint_id = ? and channel = ? and ref in ({marks})",
                                   [row["id"], followups.X, *replied]).fetchone()
            if hit:
                return row
    return None


def match(store: Store, settings: Settings, incoming: IncomingComplaint) -> tuple[str, dict[str, Any] | None, str] | None:
    """``(kind, complaint row or None, code)`` for a citizen message, or None for a new complaint.
    ``kind``: status_query, unknown_code, reopen, confirm, reply (rules in the module docstring)."""
    text = incoming.text or ""
    cek = CEK.match(text)
    if cek:
        code = normalise_code(cek.group(1))
        row = store.complaint_by_code(code)
        if row:
            return "status_query", dict(row), code
        if any(c.isdigit() for c in code) or not cek.group(2).strip(" .!?"):
            return "unknown_code", None, code  # "cek sawahe ..." is a complaint, not a code
    codes = {normalise_code(m.group(1)) for m in CODE_TOKEN.finditer(text)}
    own = _own_complaints(store, incoming.reporter)
    if not own:
        return None
    word = first_word(text)
    target = next((r for r in own if r["tracking_code"] in codes), None)
    if target is None and incoming.channel == "x":
        target = _thread_match(store, incoming, own)
    if target is not None:
        if target["status"] == casework.DONE and word in REOPEN_WORDS:
            return "reopen", target, target["tracking_code"]
        if target["status"] == casework.DONE and word in CONFIRM_WORDS:
            return "confirm", target, target["tracking_code"]
        return "reply", target, target["tracking_code"]
    since = iso(store.clock() - timedelta(days=settings.citizen.reply_window_days))
    states = [(r, *_waiting(store, r, since)) for r in own]
    if word in REOPEN_WORDS | CONFIRM_WORDS:
        done = next((r for r, d, _ in states if d), None)
        if done is not None:
            return ("reopen" if word in REOPEN_WORDS else "confirm"), done, done["tracking_code"]
    asked = next((r for r, _, q in states if q), None)
    if asked is not None:
        return "reply", asked, asked["tracking_code"]
    return None


def _sender(settings: Settings, source: str, incoming: IncomingComplaint) -> tuple[str, str, str] | None:
    """Where to answer the sender of ``incoming`` itself (a CEK may come from another number)."""
    kind = getattr(settings.sources.get(source), "type", None)
    if kind == "gammu_smsd" and incoming.reporter.startswith("+") and \
            (incoming.meta or {}).get("sender_kind", "msisdn") == "msisdn":
        return followups.SMS, source, incoming.reporter
    if kind == "twitter" and getattr(settings.sources[source], "can_reply", False) and incoming.meta.get("tweet_id"):
        return followups.X, source, str(incoming.meta["tweet_id"])
    return None


def apply_tx(conn: Any, store: Store, settings: Settings, source: str, incoming: IncomingComplaint,
             found: tuple[str, dict[str, Any] | None, str], fallback: Destination) -> bool:
    """Store one matched message and its effects; False when it was stored before (a repeat)."""
    from forwarder.privacy import mask

    kind, row, code = found
    now = store.now()
    cur = conn.execute(
        "insert into citizen_inbound(source, external_id, channel, reporter, received_at, stored_at, text, "
        "meta, kind, complaint_id) values (?,?,?,?,?,?,?,?,?,?) on conflict(source, external_id) do nothing",
        (source, incoming.external_id, incoming.channel, incoming.reporter, iso(incoming.received_at), now,
         incoming.text, json.dumps(incoming.meta, ensure_ascii=False, default=str), kind,
         row["id"] if row else None))
    if not cur.rowcount:
        return False
    inbound_id = cur.lastrowid
    key = f"in:{inbound_id}"
    if kind in ("status_query", "unknown_code"):
        to = _sender(settings, source, incoming)
        if row is not None:
            casework.event_tx(conn, now, row["id"], "citizen", "status_query", {"inbound": inbound_id})
            if to:
                citizen.queue_tx(conn, store, settings, now, row, "status", key, to=to, status=citizen.status_text(row, store))
        elif to:
            channel, via, target = to
            followups.enqueue(conn, now, kind="unknown_code", channel=channel, via=via, target=target,
                              text=citizen.render(settings, "unknown_code", code=code), dedupe=key)
        return True
    assert row is not None
    shown = mask(incoming.text or "").strip() or "(pesan kosong)"
    if len(shown) > THREAD_TEXT_LIMIT:  # one Telegram message holds 4096 characters
        shown = shown[:THREAD_TEXT_LIMIT].rstrip() + "… (terpotong)"
    if kind == "reopen":
        casework.reopen_tx(conn, store, now, row, reason=shown)
        post = f"Pengaduan {code}: pelapor menyatakan BELUM selesai. Pengaduan dibuka kembali.\n\n{shown}"
        citizen.queue_tx(conn, store, settings, now, row, "reopened", key)
    elif kind == "confirm":
        casework.confirm_tx(conn, store, now, row)
        post = f"Pengaduan {code}: pelapor mengonfirmasi SUDAH selesai. Pengaduan ditutup.\n\n{shown}"
        citizen.queue_tx(conn, store, settings, now, row, "confirmed", key)
    else:
        casework.event_tx(conn, now, row["id"], "citizen", "citizen_reply", {"text": shown, "inbound": inbound_id})
        post = f"Pengaduan {code}: balasan pelapor\n\n{shown}"
    casework.queue_thread_post_tx(conn, store, now, row["id"], post, "citizen_" + kind, key, fallback)
    return True


def intercept(store: Store, settings: Settings, source: str, complaints: list[IncomingComplaint],
              fallback: Destination) -> tuple[list[IncomingComplaint], int]:
    """Take the citizen messages out of ``complaints`` (storing them and their effects); returns
    the rest (new complaints, and repeats of stored complaints for the store to ignore) and how
    many messages were newly handled here."""
    known = store.known_external_ids(source, (c.external_id for c in complaints))
    ids = [c.external_id for c in complaints if c.external_id not in known]
    seen: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        seen.update(r[0] for r in store.db.execute(
            f"select external_id from citizen_inbound where source = ? and external_id in ({','.join('?' * len(chunk))})",
            [source, *chunk]))
    rest: list[IncomingComplaint] = []
    handled = 0
    for incoming in complaints:
        if incoming.external_id in seen:
            continue  # handed over again after a crash: already handled
        found = None if incoming.external_id in known else match(store, settings, incoming)
        if found is None:
            rest.append(incoming)
            continue
        with casework.transaction(store) as conn:
            if apply_tx(conn, store, settings, source, incoming, found, fallback):
                handled += 1
    return rest, handled
