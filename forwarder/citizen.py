"""Messages back to citizens, through the channel they used: SMS via Gammu's outbox, replies on X.

What the citizen receives (keys of :data:`TEMPLATES`; each can be replaced in the config under
``citizen.templates``) and when:

==================  ============================================================================
``ack``             on intake, with the tracking code (``citizen.acknowledge``)
``question``        an officer's ``/tanya`` ; the citizen's answer comes back into the group
``answer``          an officer's ``/jawab``
``done_check``      an officer marked it done: "is it really solved? answer SUDAH or BELUM"
``reopened``        after "belum": it went back to the officers
``reopened_by_officer`` an officer took a done complaint back up (``/proses``): it is worked on again
``confirmed``       after "sudah": closed
``merged``          an officer marked it a duplicate (``/duplikat``): the code it was merged into
``unmerged``        an admin undid that mark (``forwarder unmark``): it is handled on its own again
``status``          answer to ``CEK <code>``; ``unknown_code`` when no complaint has that code;
``cek_usage``       answer to a ``CEK`` without a code: how to ask
==================  ============================================================================

Messages never carry an officer's name or number, nor the reporter's: SMS leave from the
Gammu modem's number and X replies from the complaint account. Officers' texts are sent as they
wrote them. Texts are plain GSM 7-bit where possible so that one SMS holds 160 characters
(:func:`forwarder.sms.split_sms`); an officer's text longer than ``citizen.max_sms_parts`` SMS
parts, or than one X post (280 weighted characters), is refused before anything is queued.

Every message is queued in ``followups`` (:mod:`forwarder.followups`) in the transaction of the
action that caused it; an SMS carries ``CreatorID = forwarder-f<row id>`` in Gammu's outbox so
a crash between queueing it there and recording it never sends it twice.

Who can be answered: an SMS reporter with a real number (E.164; not a short code or a sender
name), an X reporter when the X source has reply keys.
"""

from __future__ import annotations

import asyncio
import sqlite3
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from forwarder import followups
from forwarder.casework import complaint_meta, events_of
from forwarder.config import Settings
from forwarder.errors import PermanentError, Problem
from forwarder.sms import queue_sms, split_sms
from forwarder.sources.gammu_db import smsd_connection
from forwarder.store import Store

#: key -> (default text, placeholders it may use). Plain GSM 7-bit text, Indonesian.
TEMPLATES: dict[str, tuple[str, frozenset[str]]] = {
    "ack": (("Pengaduan Anda kami terima dengan kode {code}. Cek status: kirim CEK {code}. "
             "Identitas Anda tidak kami teruskan ke petugas."), frozenset({"code"})),
    "question": ("Pertanyaan petugas ttg pengaduan {code}: {text} (balas pesan ini untuk menjawab)",
                 frozenset({"code", "text"})),
    "answer": ("Jawaban petugas ttg pengaduan {code}: {text}", frozenset({"code", "text"})),
    "done_check": (("Pengaduan {code} dinyatakan selesai: {note}. Apakah masalahnya sudah selesai? "
                    "Balas SUDAH atau BELUM."), frozenset({"code", "note"})),
    "reopened_by_officer": ("Pengaduan {code} dibuka kembali oleh petugas dan sedang diproses lagi. "
                            "Cek status: kirim CEK {code}", frozenset({"code"})),
    "reopened": ("Pengaduan {code} kami buka kembali dan kami teruskan lagi ke petugas. Terima kasih.",
                 frozenset({"code"})),
    "confirmed": ("Terima kasih, pengaduan {code} kami tutup.", frozenset({"code"})),
    "merged": (("Pengaduan {code} sama dengan pengaduan {of} yang sudah kami terima, jadi kami gabungkan. "
                "Cek status: kirim CEK {of}"), frozenset({"code", "of"})),
    "unmerged": (("Pengaduan {code} ternyata bukan duplikat, jadi kami tangani tersendiri. "
                  "Cek status: kirim CEK {code}"), frozenset({"code"})),
    "status": ("Status pengaduan {code}: {status}.", frozenset({"code", "status"})),
    "unknown_code": ("Kode pengaduan {code} tidak ditemukan. Periksa lagi kodenya.", frozenset({"code"})),
    "cek_usage": ("Untuk melihat status pengaduan, kirim CEK lalu kode pengaduan Anda, misalnya: CEK 7K3Q9M",
                  frozenset()),
}

#: what ``CEK`` tells the citizen for each status (no officer, no group)
STATUS_FOR_CITIZEN = {
    "baru": "diterima, menunggu petugas", "diterima": "sudah diterima petugas",
    "diproses": "sedang diproses petugas", "selesai": "selesai, menunggu konfirmasi Anda (balas SUDAH/BELUM)",
    "dibuka_kembali": "dibuka kembali, diteruskan lagi ke petugas", "tuntas": "selesai",
    "dialihkan": "diteruskan ke petugas yang berwenang", "bukan_kewenangan": "sedang diteruskan ke petugas yang berwenang",
    "spam": "ditutup", "duplikat": "digabung dengan pengaduan lain",
}

#: source types whose citizens write and are answered by SMS (the reporter is an E.164 number)
SMS_SOURCE_TYPES = ("gammu_smsd", "android_sms_gateway")

X_POST_LIMIT = 280  # weighted characters of one X post (twitter-text; forwarder.sources.twitter_format)


def check_templates(overrides: Mapping[str, str]) -> None:
    """Raise ValueError when an override names an unknown template or uses an unknown placeholder."""
    for key, text in overrides.items():
        if key not in TEMPLATES:
            raise ValueError(f"unknown template {key!r}; known: {', '.join(sorted(TEMPLATES))}")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"template {key!r} is empty")
        try:
            used = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        except ValueError as exc:
            raise ValueError(f"template {key!r}: {exc} (write {{{{ and }}}} for literal braces)") from None
        unknown = used - TEMPLATES[key][1]
        if unknown:
            raise ValueError(f"template {key!r} uses {', '.join(sorted(unknown))}; "
                             f"it may use {', '.join(sorted(TEMPLATES[key][1]))}")


def render(settings: Settings, key: str, **fields: str) -> str:
    """The text of template ``key`` (the config's override, else the default) with ``fields``."""
    text = settings.citizen.templates.get(key) or TEMPLATES[key][0]
    return text.format(**{name: fields.get(name, "") for name in TEMPLATES[key][1]}).strip()


# -- reaching the reporter -----------------------------------------------------------------------

def reach(settings: Settings, store: Store, row: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """``(channel, via, target)`` to answer the reporter of complaint ``row``, or None.

    SMS: the SMS source the complaint came from (Gammu's outbox, or the SMSGate phone when it
    has ``api_url``) and the reporter's E.164 number. X: the
    twitter source (with reply keys) and the citizen's newest post about it (their latest reply
    in the thread, else the complaint post).
    """
    source = settings.sources.get(row["source"])
    meta = complaint_meta(dict(row))
    kind = getattr(source, "type", None)
    if kind in SMS_SOURCE_TYPES:
        return sms_target(settings, row["source"], str(row["reporter"] or ""), meta)
    if kind == "twitter" and getattr(source, "can_reply", False):
        latest = store.db.execute(
            "select json_extract(meta, '$.tweet_id') from citizen_inbound where complaint_id = ? and "
            "channel = 'x' and kind != 'status_query' order by id desc limit 1", [row["id"]]).fetchone()
        tweet = (latest and latest[0]) or meta.get("tweet_id")
        return (followups.X, row["source"], str(tweet)) if tweet else None
    return None


def sms_target(settings: Settings, source: str, reporter: str,
               meta: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """``(sms, source, number)`` when an SMS from ``reporter`` through ``source`` can be answered:
    an SMS source that can send (an SMSGate phone needs its ``api_url``) and a real number (E.164,
    not a short code or a sender name), else None."""
    cfg = settings.sources.get(source)
    if getattr(cfg, "type", None) not in SMS_SOURCE_TYPES or not getattr(cfg, "can_reply", True):
        return None
    if meta.get("sender_kind", "msisdn") != "msisdn" or not reporter.startswith("+"):
        return None
    return followups.SMS, source, reporter


def too_long(settings: Settings, channel: str, text: str) -> str | None:
    """Why ``text`` cannot be sent on ``channel`` (Indonesian, for the officer), or None."""
    if channel == followups.SMS:
        parts = len(split_sms(text)) if len(text) < 40_000 else 10**6
        if parts > settings.citizen.max_sms_parts:
            return (f"teks terlalu panjang untuk SMS ({parts} bagian, maksimal "
                    f"{settings.citizen.max_sms_parts}); persingkat")
    elif channel == followups.X:
        from forwarder.sources.twitter_format import post_weight

        if post_weight(text) > X_POST_LIMIT:
            return f"teks terlalu panjang untuk X (maksimal {X_POST_LIMIT} karakter); persingkat"
    return None


def queue_tx(conn: sqlite3.Connection, store: Store, settings: Settings, now: str, row: Mapping[str, Any],
             key: str, dedupe: str, *, to: tuple[str, str, str] | None = None, **fields: str) -> str | None:
    """Queue template ``key`` for the reporter of ``row`` (or for ``to``) inside the caller's
    transaction. Returns the channel used, or None when the reporter cannot be reached."""
    where = to or reach(settings, store, row)
    if where is None:
        return None
    channel, via, target = where
    text = render(settings, key, code=row["tracking_code"] if row else fields.get("code", ""), **fields)
    followups.enqueue(conn, now, kind=key, channel=channel, via=via, target=target,
                      complaint_id=row["id"] if row else None, text=text, dedupe=dedupe)
    return channel


def acknowledge(store: Store, settings: Settings, complaint_ids: list[int]) -> int:
    """Queue the intake acknowledgment of new complaints (once each: dedupe ``ack:<id>``)."""
    cfg = settings.citizen
    if not cfg.acknowledge or not complaint_ids:
        return 0
    queued = 0
    now = store.now()
    with store.db.conn as conn:
        for cid in complaint_ids:
            row = store.complaint(cid)
            if cfg.acknowledge_sources is not None and row["source"] not in cfg.acknowledge_sources:
                continue
            if queue_tx(conn, store, settings, now, row, "ack", f"ack:{cid}"):
                queued += 1
    return queued


def acknowledge_missed(store: Store, settings: Settings, since: str) -> int:
    """Acknowledge complaints stored since ``since`` (ISO UTC) that have none queued: the daemon
    stopped between storing them and queueing their acknowledgment."""
    ids = [r[0] for r in store.db.execute(
        "select id from complaints c where stored_at >= ? and not exists "
        "(select 1 from followups f where f.dedupe = 'ack:' || c.id)", [since])]
    return acknowledge(store, settings, ids)


def status_text(row: Mapping[str, Any], store: Store | None = None) -> str:
    """What ``CEK`` says of complaint ``row``'s status; a duplicate names the code it was merged
    into when ``store`` is given."""
    text = STATUS_FOR_CITIZEN.get(row["status"], str(row["status"]))
    if row["status"] == "duplikat" and store is not None:
        marks = events_of(store, row["id"], "duplicate")
        if marks and marks[-1][3].get("of"):
            text = f"digabung dengan pengaduan {marks[-1][3]['of']}"
    return text


def check_sources(settings: Settings) -> tuple[list[Problem], list[str]]:
    """Problems and warnings of ``citizen.acknowledge_sources``: every name must be a configured
    source (problem otherwise: that source's citizens would silently get nothing); a named source
    that cannot answer (an X source without reply keys, a type with no way back) is a warning."""
    problems: list[Problem] = []
    warnings: list[str] = []
    names = settings.citizen.acknowledge_sources
    if names is None:
        return problems, warnings
    for i, name in enumerate(names):
        where = f"citizen.acknowledge_sources[{i}]"
        source = settings.sources.get(name)
        if source is None:
            problems.append(Problem(where, f"no source named {name!r}",
                                    f"configured sources: {', '.join(sorted(settings.sources)) or 'none'}"))
        elif getattr(source, "type", None) == "twitter" and not getattr(source, "can_reply", False):
            warnings.append(f"{where}: X source {name!r} has no reply keys (consumer_key ...): "
                            "its citizens get no acknowledgment")
        elif getattr(source, "type", None) == "android_sms_gateway" and not getattr(source, "can_reply", False):
            warnings.append(f"{where}: SMSGate source {name!r} has no api_url/api_username/api_password: "
                            "its citizens get no acknowledgment")
        elif getattr(source, "type", None) not in (*SMS_SOURCE_TYPES, "twitter"):
            warnings.append(f"{where}: source {name!r} cannot answer citizens: it gets no acknowledgment")
    if names and not settings.citizen.acknowledge:
        warnings.append("citizen.acknowledge_sources is set but citizen.acknowledge is false: "
                        "no acknowledgment is sent")
    return problems, warnings


# -- sending -------------------------------------------------------------------------------------

def creator_id(row_id: int) -> str:
    """Gammu ``CreatorID`` of followup ``row_id``: how a crash is told apart from a lost SMS."""
    return f"forwarder-f{row_id}"


def _smsd(settings: Settings, via: str) -> tuple[Path, str | None]:
    cfg = settings.sources.get(via)
    if cfg is None:
        raise PermanentError(f"source {via!r} is no longer in the config: its citizens cannot be answered",
                             hint="put the source back, or drop these messages")
    if getattr(cfg, "type", None) != "gammu_smsd":
        raise PermanentError(f"source {via!r} is not a gammu_smsd source", hint="check the config")
    return Path(cfg.database), cfg.phone_id


def _smsgate(settings: Settings, sources: Mapping[str, Any] | None,
             row: followups.Followup) -> tuple[Any, str] | None:
    """``(running source or None, message id)`` when ``row`` leaves through an SMSGate phone,
    None when it goes through Gammu."""
    if getattr(settings.sources.get(row.via), "type", None) != "android_sms_gateway":
        return None
    from forwarder.sources.android_sms import smsgate_message_id

    return (sources or {}).get(row.via), smsgate_message_id(row.id, row.target, row.text or "")


async def send_sms(settings: Settings, row: followups.Followup, sources: Mapping[str, Any] | None = None) -> str:
    """Send ``row`` by SMS through the source it names: queued in Gammu's outbox (parts split by
    :func:`queue_sms`; returns the outbox ID) or sent through the SMSGate phone (returns its
    message id). Raises TemporaryError (database locked/missing, phone unreachable),
    PermanentError, ValueError (no number)."""
    phone = _smsgate(settings, sources, row)
    if phone is not None:
        source, message_id = phone
        if source is None:
            raise PermanentError(f"source {row.via!r} is not running", hint="check the config")
        return await source.send_sms(row.target, row.text or "", message_id)
    path, phone_id = _smsd(settings, row.via)
    outbox_id = await asyncio.to_thread(queue_sms, path, row.target, row.text or "", creator_id(row.id),
                                        phone_id=phone_id)
    return str(outbox_id)


async def find_sms(settings: Settings, row: followups.Followup, sources: Mapping[str, Any] | None = None) -> str | None:
    """The Gammu ID of ``row``'s SMS when it is already in the outbox or sentitems (for SMSGate:
    its message id when the phone has it), else None."""
    phone = _smsgate(settings, sources, row)
    if phone is not None:
        source, message_id = phone
        return await source.find_sms(message_id) if source is not None else None
    path, _ = _smsd(settings, row.via)

    def look() -> str | None:
        with smsd_connection(path, busy_timeout=10.0) as conn:
            found = conn.execute(
                "select ID from outbox where CreatorID = ? union select ID from sentitems where CreatorID = ?",
                (creator_id(row.id), creator_id(row.id))).fetchone()
        return str(found[0]) if found else None

    return await asyncio.to_thread(look)


async def send_x(sources: Mapping[str, Any], row: followups.Followup) -> str:
    """Reply on X to post ``row.target``; returns the reply's id (Source.reply raises the rest)."""
    source = sources.get(row.via)
    if source is None or not hasattr(source, "reply"):
        raise PermanentError(f"source {row.via!r} cannot reply on X", hint="check the config")
    return await source.reply(row.target, row.text or "")


def last_done_note(store: Store, complaint_id: int) -> str:
    done = events_of(store, complaint_id, "done")
    return str(done[-1][3].get("note") or "") if done else ""


def fit_field(settings: Settings, channel: str, key: str, name: str, value: str, **fields: str) -> str:
    """``value`` cut (ending in "…") so that template ``key`` with it fits one message on
    ``channel`` (``citizen.max_sms_parts`` SMS parts, or one X post); unchanged when it fits."""
    def fits(candidate: str) -> bool:
        return too_long(settings, channel, render(settings, key, **{**fields, name: candidate})) is None

    if fits(value):
        return value
    low, high = 0, len(value)
    while low < high:  # the longest prefix that still fits
        mid = (low + high + 1) // 2
        if fits(value[:mid].rstrip() + "…"):
            low = mid
        else:
            high = mid - 1
    return value[:low].rstrip() + "…"
