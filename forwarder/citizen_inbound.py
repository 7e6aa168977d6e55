"""Citizen messages that are not new complaints: ``CEK <code>``, answers, ``belum``/``sudah``.

Every message a source hands over passes :func:`intercept` before it is classified. A citizen
with a new problem must never be swallowed by an old case, so a message is taken as being about
an existing complaint only when nothing says it is a new one. How a message is read (first rule
that applies):

1. ``CEK`` or ``STATUS`` alone (punctuation or emoji around it: "CEK🙏", "cek kode?") is
   answered with how to ask (``CEK <kode>``; kind ``cek_usage``), not taken for a complaint.
   ``CEK <code>`` (also ``STATUS <code>``, any case; "kode", "no" or "nomor" may come before the
   code, punctuation or emoji around it: "Cek kode HCGJCM", "cek no. 7K3Q9M") asks for a status
   when the message is only that plus at most :data:`CEK_EXTRA_WORDS` words and
   :data:`CEK_EXTRA_CHARS` characters: the sender gets the status of that complaint
   (``unknown_code`` when none has it and the code as typed holds a digit or stands alone:
   "cek banjir di desa ..." is a complaint). Anyone holding the code may ask; the answer names
   only the status. A real code followed by a longer text from the complaint's own reporter: the
   status is answered AND the rest is read as a message about that complaint (rule 3); from
   anyone else, or when rule 3 says "new", the whole message is a new complaint.
2. A text with the word RAHASIA in any form (:func:`forwarder.pipeline.is_confidential`) is a
   new complaint: never a reply, never ``belum``/``sudah``, as a reply must not carry a
   confidential report into the ordinary groups of another complaint. The one exception: it
   answers a complaint that is itself confidential (its replies reach only confidential groups,
   and its reporter is the one most likely to repeat "tolong dirahasiakan").
3. The message names one of the sender's own complaints: it quotes its tracking code, or (X) it
   replies in the thread of the complaint post or of one of our replies to it. Then, in order:

   * the classifier (``topic_of``, the daemon's model) gives another topic than the complaint's
     with a confidence at or above ``confidence_threshold`` (for a short text, at most
     :data:`SHORT_TEXT_WORDS` words, at or above :data:`SHORT_TEXT_CONFIDENCE` as well): a new
     complaint (a complaint still without topic, in triage, takes any answer);
   * the complaint was closed as ``spam`` or ``duplikat``, or is ``tuntas`` and idle longer than
     ``citizen.reply_window_days``: the message is stored (kind ``closed``) and the citizen gets
     the complaint's status (at most once per complaint per day); nothing goes to the groups;
   * any other complaint idle (no officer or citizen event) longer than the reply window: a new
     complaint (it names the old code, so the officers can link them);
   * ``belum``/``sudah`` (see 5) after a done reopens/confirms it; on a ``tuntas`` one a
     verdict-only text (see 4) reopens it ("belum": the citizen changed their mind) or is stored
     as kind ``closed`` ("sudah" again: answered as above, nothing to the groups); anything else
     is the citizen's reply, posted in the complaint's thread in the group(s) that hold it.
4. Without a code (SMS; on X a post outside the complaint's thread): the sender's complaints
   waiting for the citizen within the reply window (not spam, not duplicates) are looked at,
   newest first, skipping those of another topic (the classifier test of 3): a
   ``belum``/``sudah`` answers the newest one marked done; any other text answers the newest
   open question (``/tanya`` not yet answered). Then a *verdict-only* text (at most
   :data:`VERDICT_ONLY_WORDS` words, only "sudah"/"belum" words and :data:`VERDICT_FILLER` such
   as "pak", "terima kasih", "masih", no digits: "Sudah", "sudah pak terima kasih", "masih belum
   bu") is hardly ever a new complaint: it is about the sender's complaint with the newest
   activity within the reply window (not spam, not a duplicate, not of another topic) and read as
   in 3: ``selesai`` -> reopen/confirm; ``tuntas`` -> reopen ("belum") or ``closed`` ("sudah");
   open (an officer reopened it with ``proses``, or it was never done) -> the citizen's reply in
   its thread, and the citizen gets the status (at most once per complaint per day). Any other
   text, and a verdict-only one with no complaint active in the window, is a new complaint.
5. ``belum``/``sudah``: the first word is one of :data:`REOPEN_WORDS`/:data:`CONFIRM_WORDS`, or
   the message is short (at most :data:`VERDICT_MAX_WORDS` words) and holds a "belum" word and
   no "sudah" word ("masih belum pak"). A confirmation needs the first word: closing by mistake
   costs more than reopening.
6. Anything else is a new complaint.

Citizen replies of a confidential complaint go only to the confidential group(s) that hold it
(its triage group when none: the confidential triage group when configured). Matched messages
are stored in ``citizen_inbound`` (unique by source and external id, like complaints: a source
handing one over again changes nothing twice) together with their effects (events, status,
queued followups), in one transaction; they never become complaints. ``citizen_inbound.kind``:
status_query, unknown_code, cek_usage, reopen, confirm, reply, closed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from typing import Any

from forwarder import casework, citizen, followups
from forwarder.casework import complaint_meta, events_of
from forwarder.config import Settings
from forwarder.pipeline import is_confidential
from forwarder.routing import Triage
from forwarder.store import Store, iso
from forwarder.types import IncomingComplaint

#: ``topic_of(text) -> (topic or None, confidence in [0, 1])``: the daemon's classifier on one text
TopicOf = Callable[[str], tuple[str | None, float]]

_CODE = r"([0-9A-Za-z]{6})"
#: "CEK", "CEK STATUS" or "STATUS", then maybe "kode"/"no"/"nomor" ("Cek kode HCGJCM",
#: "cek no. 7K3Q9M")
_ASK = r"(?:cek(?:\s+status)?|status)(?:[\W_]*(?:kode|no|nomor|nomer)(?![^\W_]))?"
#: a status question: punctuation, emoji or spaces may stand around and between its words
CEK = re.compile(rf"^[\W_]*{_ASK}[\W_]*{_CODE}(?![0-9A-Za-z])(.*)$", re.IGNORECASE | re.DOTALL)
CODE_TOKEN = re.compile(rf"(?<![0-9A-Za-z]){_CODE}(?![0-9A-Za-z])")
#: "CEK" or "STATUS" alone ("CEK🙏", "cek kode?"): the citizen wants a status but gave no code
#: (answered how to ask)
BARE_CEK = re.compile(rf"[\W_]*{_ASK}[\W_]*", re.IGNORECASE)
REOPEN_WORDS = frozenset({"belum", "blm", "belom", "blum", "durung", "dereng"})  # dereng: Javanese, polite
CONFIRM_WORDS = frozenset({"sudah", "sdh", "udah", "udh", "sampun", "uwis", "wis"})
CEK_EXTRA_WORDS = 4  # "CEK 7K3Q9M ya pak, terima kasih" is still only a status question
CEK_EXTRA_CHARS = 60  # ... and so many characters at most (one 3,000-character "word" is a text)
VERDICT_MAX_WORDS = 12  # "masih belum pak, lubangnya tambah besar" answers a done check
#: words a verdict-only text may hold besides its "sudah"/"belum" (forms of address, thanks,
#: "masih", "selesai"...): "sudah pak terima kasih", "masih belum bu", "belum ada perbaikan"
VERDICT_FILLER = frozenset("""
    pak bu bapak ibu mas mbak kak dik bang gan min admin pakde bude
    ya iya yaa nggih inggih njih ok oke baik siap
    terima kasih makasih trims terimakasih trimakasih matur nuwun suwun
    masih juga kok sih deh dong lho loh kah tenan banget sekali banyak
    selesai beres tuntas ada perbaikan diperbaiki dibenahi ditangani dikerjakan
    """.split())  # noqa: SIM905 (a word list reads better as text)
VERDICT_ONLY_WORDS = 8  # "sudah pak, terima kasih banyak ya bu" and no longer
_WORD = re.compile(r"[^\W\d_]+")
_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff]")  # zero-width characters some phones add
THREAD_TEXT_LIMIT = 2000  # characters of a citizen's text in a group post: even as UTF-16 pairs
# (emoji) it stays under the 4096 units of one Telegram message
QUIET_EVENTS = ("revealed", "status_query", "delivery_dead")  # do not make a complaint "active"
#: A short text must be this sure of another topic to count as a new complaint. Measured with
#: models/default (2026-12) on 40 typical hand-written answers ("Belum pak, lubangnya masih ada
#: di depan balai desa" -> pemerintahan_desa 0.56, "Iya pak benar, tiap hujan tergenang" ->
#: drainase 0.72): at the 0.5 threshold alone 8 of 40 answers read as new complaints, with this
#: bar for texts of at most 12 words none; of the real complaints of the evaluation protocol's
#: test split (shared/data, Surabaya) 66 % are still recognised as new (73 % at 0.5 alone).
SHORT_TEXT_WORDS = 12
SHORT_TEXT_CONFIDENCE = 0.8


@dataclass(frozen=True)
class Match:
    """What a citizen message is about. ``kind``: status_query, unknown_code, reopen, confirm,
    reply, closed. ``text``: the part about the complaint when it is not the whole message
    (after ``CEK <code>``); ``with_status``: answer the complaint's status as well (at most once
    per complaint per day when ``daily_status``, else once per message)."""

    kind: str
    row: dict[str, Any] | None
    code: str
    text: str | None = None
    with_status: bool = False
    daily_status: bool = False


def normalise_code(text: str) -> str:
    """A typed tracking code in the store's alphabet: upper case, O read as 0, I and L as 1
    (Crockford base32 decoding, the alphabet of :func:`forwarder.store.new_tracking_code`)."""
    return text.upper().translate(str.maketrans("OIL", "011"))


def first_word(text: str) -> str:
    m = _WORD.search(text or "")
    return m.group().lower() if m else ""


def verdict(text: str) -> str | None:
    """``"reopen"`` / ``"confirm"`` when ``text`` answers a done check (rule 5), else None."""
    words = [w.lower() for w in _WORD.findall(text or "")]
    if not words:
        return None
    if words[0] in REOPEN_WORDS:
        return "reopen"
    if words[0] in CONFIRM_WORDS:
        return "confirm"
    if len(text.split()) <= VERDICT_MAX_WORDS and REOPEN_WORDS.intersection(words) \
            and not CONFIRM_WORDS.intersection(words):
        return "reopen"
    return None


def verdict_only(text: str) -> str | None:
    """``"reopen"`` / ``"confirm"`` when ``text`` is a short verdict and nothing else (rule 4): at
    most :data:`VERDICT_ONLY_WORDS` words, all of them :data:`REOPEN_WORDS`,
    :data:`CONFIRM_WORDS` or :data:`VERDICT_FILLER`, no digits, and :func:`verdict` reads a
    verdict in it; else None ("belum ada pupuk di kios" names something: None)."""
    if any(c.isdigit() for c in text or ""):
        return None
    words = [w.lower() for w in _WORD.findall(text or "")]
    if not words or len(words) > VERDICT_ONLY_WORDS \
            or not set(words) <= REOPEN_WORDS | CONFIRM_WORDS | VERDICT_FILLER:
        return None
    return verdict(text)


def _own_complaints(store: Store, reporter: str, limit: int = 50) -> list[dict[str, Any]]:
    rows = store.db.execute("select * from complaints where reporter = ? order by id desc limit ?", [reporter, limit])
    cols = [c[0] for c in rows.description]
    return [dict(zip(cols, r)) for r in rows.fetchall()]


def _waiting(store: Store, row: dict[str, Any], since: str) -> tuple[bool, bool]:
    """(done check waiting, open question) for a complaint, counting only events after ``since``."""
    if row["status"] in (casework.SPAM, casework.DUPLICATE):
        return False, False
    evs = events_of(store, row["id"], "done", "question", "citizen_reply")
    done_wait = row["status"] == casework.DONE and any(k == "done" and at >= since for at, _, k, _ in evs)
    question = False
    for at, _, kind, _ in evs:
        if kind == "question":
            question = at >= since
        elif kind == "citizen_reply":
            question = False
    return done_wait, question


def last_activity(store: Store, row: dict[str, Any]) -> str:
    """ISO UTC time of the complaint's newest event by an officer, the citizen or the system
    (not a CEK, an admin's read or a failed delivery); its arrival when there is none."""
    marks = ",".join("?" * len(QUIET_EVENTS))
    found = store.db.execute(f"select max(at) from events where complaint_id = ? and kind not in ({marks})",
                             [row["id"], *QUIET_EVENTS]).fetchone()
    return max(str(found[0] or ""), str(row.get("stored_at") or row.get("received_at") or ""))


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


class _Reader:
    """Reads one message against the sender's complaints (the rules of the module docstring)."""

    def __init__(self, store: Store, settings: Settings, topic_of: TopicOf | None) -> None:
        self.store = store
        self.settings = settings
        self.topic_of = cache(topic_of) if topic_of is not None else None
        self.since = iso(store.clock() - timedelta(days=settings.citizen.reply_window_days))

    def fits(self, row: dict[str, Any], text: str) -> bool:
        """``text`` may be about ``row``: not confidential unless ``row`` is (rule 2), not about
        another topic (rule 3)."""
        if is_confidential(text) and not casework.is_confidential(row):
            return False
        return not self.other_topic(row, text)

    def other_topic(self, row: dict[str, Any], text: str) -> bool:
        """The classifier reads ``text`` as a complaint about another topic than ``row``'s."""
        if self.topic_of is None or not row.get("topic") or not text.strip():
            return False
        topic, confidence = self.topic_of(text)
        bar = self.settings.confidence_threshold
        if len(text.split()) <= SHORT_TEXT_WORDS:
            bar = max(bar, SHORT_TEXT_CONFIDENCE)
        return topic is not None and topic != row["topic"] and confidence >= bar

    def about(self, row: dict[str, Any], text: str) -> str | None:
        """The kind of a message naming complaint ``row`` (rule 3), None for a new complaint."""
        if not self.fits(row, text):
            return None
        if row["status"] in (casework.SPAM, casework.DUPLICATE):
            return "closed"
        if last_activity(self.store, row) < self.since:
            return "closed" if row["status"] == casework.SOLVED else None
        said = verdict(text)
        if said and row["status"] == casework.DONE:
            return said
        if row["status"] == casework.SOLVED:
            said = verdict_only(text)
            if said:  # a changed mind reopens it; a repeated "sudah" is only answered
                return "reopen" if said == "reopen" else "closed"
        return "reply"

    def latest_active(self, own: list[dict[str, Any]], text: str) -> dict[str, Any] | None:
        """The sender's complaint with the newest activity within the reply window that ``text``
        may be about (not spam or a duplicate; :meth:`fits`), or None (rule 4)."""
        found: list[tuple[str, int, dict[str, Any]]] = []
        for row in own:
            if row["status"] in (casework.SPAM, casework.DUPLICATE):
                continue
            active = last_activity(self.store, row)
            if active >= self.since and self.fits(row, text):
                found.append((active, row["id"], row))
        return max(found, key=lambda f: f[:2])[2] if found else None


def _without_codes(text: str, code: str) -> str:
    return CODE_TOKEN.sub(lambda m: " " if normalise_code(m.group(1)) == code else m.group(0), text)


def match(store: Store, settings: Settings, incoming: IncomingComplaint,
          topic_of: TopicOf | None = None) -> Match | None:
    """What a citizen message is about (rules in the module docstring), or None for a new
    complaint. ``topic_of``: the classifier, to tell a new complaint from an answer."""
    text = _INVISIBLE.sub("", incoming.text or "")
    reader = _Reader(store, settings, topic_of)
    if BARE_CEK.fullmatch(text):
        return Match("cek_usage", None, "")
    cek = CEK.match(text)
    if cek:
        typed, rest = cek.group(1), cek.group(2).strip()
        code = normalise_code(typed)
        found = store.complaint_by_code(code)
        short = len(rest.split()) <= CEK_EXTRA_WORDS and len(rest) <= CEK_EXTRA_CHARS
        if found is not None:
            row = dict(found)
            if short:
                return Match("status_query", row, code)
            if row["reporter"] != incoming.reporter or not rest.strip():
                return None  # someone else's long text: a complaint of its own, nothing dropped
            kind = reader.about(row, rest)
            if kind is None:
                return None
            return Match(kind, row, code, text=rest, with_status=kind == "reply")
        if short and (any(c.isdigit() for c in typed) or not rest.strip(" .!?")):
            return Match("unknown_code", None, code)  # "cek sawahe ..." is a complaint, not a code
    own = _own_complaints(store, incoming.reporter)
    if not own:
        return None
    codes = {normalise_code(m.group(1)) for m in CODE_TOKEN.finditer(text)}
    target = next((r for r in own if r["tracking_code"] in codes), None)
    if target is None and incoming.channel == "x":
        target = _thread_match(store, incoming, own)
    if target is not None:
        kind = reader.about(target, _without_codes(text, target["tracking_code"]))
        return Match(kind, target, target["tracking_code"]) if kind else None
    states = [(r, *_waiting(store, r, reader.since)) for r in own]
    said = verdict(text)
    if said:
        done = next((r for r, d, _ in states if d and reader.fits(r, text)), None)
        if done is not None:
            return Match(said, done, done["tracking_code"])
    asked = next((r for r, _, q in states if q and reader.fits(r, text)), None)
    if asked is not None:
        return Match("reply", asked, asked["tracking_code"])
    if verdict_only(text):
        recent = reader.latest_active(own, text)
        kind = reader.about(recent, text) if recent is not None else None
        if recent is not None and kind is not None:
            return Match(kind, recent, recent["tracking_code"], with_status=kind == "reply",
                         daily_status=True)
    return None


def _sender(settings: Settings, source: str, incoming: IncomingComplaint) -> tuple[str, str, str] | None:
    """Where to answer the sender of ``incoming`` itself (a CEK may come from another number)."""
    kind = getattr(settings.sources.get(source), "type", None)
    if kind in citizen.SMS_SOURCE_TYPES:
        return citizen.sms_target(settings, source, incoming.reporter, incoming.meta or {})
    if kind == "twitter" and getattr(settings.sources[source], "can_reply", False) and incoming.meta.get("tweet_id"):
        return followups.X, source, str(incoming.meta["tweet_id"])
    return None


def apply_tx(conn: Any, store: Store, settings: Settings, source: str, incoming: IncomingComplaint,
             found: Match, triage: Triage) -> bool:
    """Store one matched message and its effects; False when it was stored before (a repeat)."""
    from forwarder.privacy import mask

    kind, row, code = found.kind, found.row, found.code
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
    to = _sender(settings, source, incoming)
    if kind in ("status_query", "unknown_code", "closed", "cek_usage"):
        if row is not None:
            if kind == "status_query":
                casework.event_tx(conn, now, row["id"], "citizen", "status_query", {"inbound": inbound_id})
            # about a closed complaint: answered at most once a day, however often it is quoted
            dedupe = key if kind == "status_query" else f"closed:{row['id']}:{now[:10]}"
            if to:
                citizen.queue_tx(conn, store, settings, now, row, "status", dedupe, to=to,
                                 status=citizen.status_text(row, store))
        elif to:
            channel, via, target = to
            text = (citizen.render(settings, "cek_usage") if kind == "cek_usage"
                    else citizen.render(settings, "unknown_code", code=code))
            followups.enqueue(conn, now, kind=kind, channel=channel, via=via, target=target, text=text,
                              dedupe=key)
        return True
    assert row is not None
    shown = mask(found.text if found.text is not None else incoming.text or "").strip() or "(pesan kosong)"
    if len(shown) > THREAD_TEXT_LIMIT:  # one Telegram message holds 4096 characters
        shown = shown[:THREAD_TEXT_LIMIT].rstrip() + "… (terpotong)"
    if kind == "reopen":
        casework.reopen_tx(conn, store, now, row, reason=shown)
        post = (f"Pengaduan {code}: pelapor menyatakan BELUM selesai. Pengaduan dibuka kembali.\n"
                f"{casework.new_round_note(settings, now, acknowledged=False)}\n\n{shown}")
        citizen.queue_tx(conn, store, settings, now, row, "reopened", key)
    elif kind == "confirm":
        casework.confirm_tx(conn, store, now, row)
        post = f"Pengaduan {code}: pelapor mengonfirmasi SUDAH selesai. Pengaduan ditutup.\n\n{shown}"
        citizen.queue_tx(conn, store, settings, now, row, "confirmed", key)
    else:
        casework.event_tx(conn, now, row["id"], "citizen", "citizen_reply", {"text": shown, "inbound": inbound_id})
        post = f"Pengaduan {code}: balasan pelapor\n\n{shown}"
        if found.with_status and to:
            dedupe = f"verdict:{row['id']}:{now[:10]}" if found.daily_status else f"{key}:status"
            citizen.queue_tx(conn, store, settings, now, row, "status", dedupe, to=to,
                             status=citizen.status_text(row, store))
    casework.queue_thread_post_tx(conn, store, now, row["id"], post, "citizen_" + kind, key, triage,
                                  groups=settings.groups)
    return True


def intercept(store: Store, settings: Settings, source: str, complaints: list[IncomingComplaint],
              triage: Triage, topic_of: TopicOf | None = None) -> tuple[list[IncomingComplaint], int]:
    """Take the citizen messages out of ``complaints`` (storing them and their effects); returns
    the rest (new complaints, and repeats of stored complaints for the store to ignore) and how
    many messages were newly handled here. ``triage``: where a reply goes when no group holds its
    complaint; ``topic_of``: the daemon's classifier (rule 3)."""
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
        found = None if incoming.external_id in known else match(store, settings, incoming, topic_of)
        if found is None:
            rest.append(incoming)
            continue
        with casework.transaction(store) as conn:
            if apply_tx(conn, store, settings, source, incoming, found, triage):
                handled += 1
    return rest, handled
