"""Plain data passed between the pipeline's stages.

Times are timezone-aware ``datetime`` objects in UTC. Nothing here carries behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class IncomingComplaint:
    """A complaint as a source read it, before it is stored.

    ``external_id`` is unique per source (a Gammu inbox ID set like ``"41,42,43"``, a tweet id);
    the store ignores a second complaint with the same (source, external_id), so a source may
    hand the same complaint over again after a crash without it being stored twice.

    ``reporter`` identifies the citizen for answering back and never reaches a group chat:
    an E.164 number (``+6281234567890``) for SMS, ``x:<user id>`` for X.
    ``meta`` holds source details needed later (tweet id to reply to, UDH, raw sender form).
    """

    external_id: str
    received_at: datetime
    reporter: str
    text: str
    channel: str  # "sms" | "x" | "webhook" ...
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Polled:
    """What one poll of a source returned.

    ``cursor`` is the source position to save together with the complaints, in the same
    transaction (X ``since_id``); ``None`` keeps the saved cursor. ``token`` is opaque state the
    source needs in :meth:`Source.commit` (the Gammu inbox IDs to mark processed).
    """

    complaints: list[IncomingComplaint]
    cursor: str | None = None
    token: Any = None


@dataclass(frozen=True)
class Place:
    """A kecamatan (and desa/kelurahan when named) recognised in a complaint's text.

    Names are the official Kemendagri spelling; ``code`` is the Kemendagri area code of the
    most specific level found (``35.22.01`` kecamatan, ``35.22.01.2001`` desa) when known.
    """

    kecamatan: str
    desa: str | None = None
    code: str | None = None
    matched: str = ""  # the words in the text that matched


@dataclass(frozen=True)
class Tag:
    """The classifier's verdict on one complaint.

    ``topic`` is ``None`` when the text has no usable words; ``confidence`` is a calibrated
    probability in [0, 1] (0 for unusable text). ``keywords`` are the 3-5 words that drove the
    decision, for the officers to see.
    """

    topic: str | None
    confidence: float
    model_version: str = ""
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class ComplaintView:
    """What an officer group may see of a complaint. It has no reporter field on purpose.

    ``text`` is already masked (phone numbers, NIK, names removed) by :mod:`forwarder.privacy`.
    ``topic`` is ``None`` for triage without a topic. ``received_at`` is UTC; sinks show it in
    the deployment's time zone (``timezone`` key of the config, default Asia/Jakarta).
    """

    complaint_id: int
    tracking_code: str
    text: str
    channel: str
    received_at: datetime
    topic: str | None
    confidence: float
    kecamatan: str | None = None
    desa: str | None = None
    keywords: tuple[str, ...] = ()
    triage_reason: str | None = None  # why it went to the fallback group, if it did
    status: str = "baru"
    timezone: str = "Asia/Jakarta"
    note: str | None = None  # e.g. "mungkin terkirim dua kali" for an uncertain resend
    # set when an officer chose ``topic`` ("dialihkan oleh petugas"): shown instead of the
    # model's confidence, which was about another topic
    topic_note: str | None = None
