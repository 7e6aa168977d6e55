"""Answering citizens by SMS: splitting a text into SMS parts and queueing it for gammu-smsd.

Figures (3GPP TS 23.040 §9.2.3.24 and §9.2.2.2, TS 23.038 §6.2.1):

* the user data of one SMS is at most 140 octets;
* GSM 7-bit default alphabet: 140 × 8 / 7 = **160** characters in one SMS; a concatenated SMS
  spends 6 octets of it on the UDH (``050003RRTTSS``), leaving 134 octets = **153** septets per
  part (1,072 bits; the remainder is fill);
* a character of the GSM 7-bit *extension* table (``€ [ ] { } \\ ^ ~ |`` and form feed) is sent
  as ESC + character: **2 septets**, and the two are never split between parts;
* any other character forces UCS-2 (UTF-16 code units, 2 octets each): **70** units in one SMS,
  134 / 2 = **67** per part; a character outside the BMP (an emoji) is a surrogate pair, 2 units,
  never split between parts;
* the UDH counts parts in one octet: at most **255** parts.

:func:`queue_sms` writes gammu-smsd ``outbox`` rows the way ``gammu-smsd-inject`` does
(observed with gammu 1.42): part 1 in ``outbox`` with ``MultiPart='TRUE'`` and its UDH,
parts 2..n in ``outbox_multipart`` with ``SequencePosition`` 2..n, all in one transaction so the
daemon never sees half a message. Once sent, ``sentitems`` holds one row per part with the same
``ID`` and ``SequencePosition`` 1..n.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from forwarder.sources.gammu_db import smsd_connection
from forwarder.sources.gammu_parts import build_concat_udh

SINGLE_GSM7 = 160
PART_GSM7 = 153
SINGLE_UCS2 = 70
PART_UCS2 = 67
MAX_PARTS = 255

# GSM 03.38 default alphabet (TS 23.038 §6.2.1), in table order; ESC (0x1B) is left out.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# GSM 03.38 extension table (TS 23.038 §6.2.1.1): each is sent as ESC + char, 2 septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` is in the GSM 7-bit default alphabet or its extension."""
    return all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text)


def _cost_gsm7(char: str) -> int:
    return 2 if char in GSM7_EXTENSION else 1


def _cost_ucs2(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def sms_encoding(text: str) -> str:
    """The Gammu ``Coding`` for ``text``: ``Default_No_Compression`` (GSM-7) or ``Unicode_No_Compression``."""
    return "Default_No_Compression" if is_gsm7(text) else "Unicode_No_Compression"


def split_sms(text: str) -> list[str]:
    """Split ``text`` into the parts of one (possibly concatenated) SMS; ``"".join(parts) == text``.

    GSM-7 text: one part of <= 160 septets, or parts of <= 153 septets (extension characters
    count 2). Otherwise UCS-2: one part of <= 70 UTF-16 units, or parts of <= 67. Parts are cut
    between characters, so no surrogate pair or ESC sequence is split (figures and their
    sources in the module docstring). ``""`` gives ``[""]`` (one empty SMS).

    Raises ValueError when the text needs more than 255 parts (the UDH part counter is one octet).
    """
    if is_gsm7(text):
        cost, single, per_part = _cost_gsm7, SINGLE_GSM7, PART_GSM7
    else:
        cost, single, per_part = _cost_ucs2, SINGLE_UCS2, PART_UCS2
    if sum(cost(c) for c in text) <= single:
        return [text]
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        size = cost(char)
        if used + size > per_part:
            parts.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += size
    parts.append("".join(current))
    if len(parts) > MAX_PARTS:
        raise ValueError(
            f"text needs {len(parts)} SMS parts; a concatenated SMS has at most {MAX_PARTS} "
            f"(3GPP TS 23.040): shorten it ({len(text)} characters)"
        )
    return parts


_DIALLABLE = re.compile(r"\+?\d{3,20}")


def queue_sms(
    smsd_db_path: str | Path,
    number: str,
    text: str,
    creator_id: str = "forwarder",
    *,
    phone_id: str | None = None,
    reference: int | None = None,
) -> int:
    """Queue ``text`` to ``number`` in gammu-smsd's ``outbox``; returns the ``outbox.ID``.

    ``number`` is a diallable number (E.164 like ``+6281234567890``, or a short code);
    ``creator_id`` goes to ``CreatorID``; ``phone_id`` (SMSD PhoneID) goes to ``SenderID`` so
    only that daemon sends it (``None``: any daemon). ``reference`` is the concatenation
    reference 0-255 (default random) used in every part's UDH ``050003RRTTSS``.

    Raises ValueError for an empty text, a number that cannot receive an SMS (a sender name)
    or a text over 255 parts; :class:`~forwarder.errors.TemporaryError` when the database is
    missing or locked; :class:`~forwarder.errors.PermanentError` when it is not an SMSD database.
    """
    destination = re.sub(r"[\s\-.()]", "", number or "")
    if not _DIALLABLE.fullmatch(destination):
        raise ValueError(f"cannot send an SMS to {number!r}: not a phone number or short code")
    if not text:
        raise ValueError("refusing to queue an empty SMS")
    parts = split_sms(text)
    coding = sms_encoding(text)
    multipart = len(parts) > 1
    if reference is None:
        reference = random.randrange(256)
    udh = [
        build_concat_udh(reference, len(parts), i, bits=8) if multipart else ""
        for i in range(1, len(parts) + 1)
    ]

    def hex_of(part: str) -> str:
        return part.encode("utf-16-be").hex().upper()

    with smsd_connection(Path(smsd_db_path), busy_timeout=10.0) as conn:
        conn.execute("BEGIN IMMEDIATE")
        cursor = conn.execute(
            "INSERT INTO outbox (DestinationNumber, Text, TextDecoded, Coding, UDH, Class, MultiPart, "
            "SenderID, CreatorID) VALUES (?, ?, ?, ?, ?, -1, ?, ?, ?)",
            (
                destination,
                hex_of(parts[0]),
                parts[0],
                coding,
                udh[0],
                "TRUE" if multipart else "false",
                phone_id,
                creator_id,
            ),
        )
        outbox_id = int(cursor.lastrowid or 0)
        for position, part in enumerate(parts[1:], start=2):
            conn.execute(
                "INSERT INTO outbox_multipart (ID, SequencePosition, Text, TextDecoded, Coding, UDH, "
                "Class) VALUES (?, ?, ?, ?, ?, ?, -1)",
                (outbox_id, position, hex_of(part), part, coding, udh[position - 1]),
            )
        conn.execute("COMMIT")
    return outbox_id
