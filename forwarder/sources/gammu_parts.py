"""Concatenated SMS in the Gammu SMSD inbox: UDH headers, grouping parts, decoding their text.

Pure functions, no database. Facts they rest on (gammu-smsd 1.42, observed; see
``shared/notes/integrations.md`` section A):

* each part of a concatenated SMS is its own ``inbox`` row with its own ``UDH`` (hex);
* ``Text`` is the part's text as UTF-16BE hex, also for ``Default_No_Compression`` (GSM-7) rows;
  ``TextDecoded`` is UTF-8, and for a complete set gammu 1.42 puts the *whole* text in part 1 and
  leaves the others empty (not promised across versions, so we rebuild the text from ``Text``);
* a surrogate pair (an emoji) can straddle two parts, so the parts' bytes are joined in order
  and decoded once.

The concatenation information element is defined by 3GPP TS 23.040 §9.2.3.24.1 (IEI 0x00,
8-bit reference) and §9.2.3.24.8 (IEI 0x08, 16-bit reference): ``050003RRTTSS`` and
``060804RRRRTTSS`` (UDH length, IEI, IE length, reference, total parts, this part's number).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Put between the text of parts that are not adjacent because parts in between never arrived.
GAP_MARK = " […] "


@dataclass(frozen=True)
class Concat:
    """The concatenation header of one part: ``seq`` of ``total`` in set ``reference``."""

    reference: int
    total: int
    seq: int
    bits: int  # 8 or 16: size of the reference


def parse_concat_udh(udh_hex: str | None) -> Concat | None:
    """The concatenation IE of a UDH given as hex, or ``None`` when there is none or it is invalid.

    Other information elements (port addressing, ...) are skipped. A header that is cut short,
    not hex, or numbers a part outside ``1..total`` gives ``None``: the row is then handled as a
    single SMS rather than waiting for parts that cannot exist.
    """
    if not udh_hex:
        return None
    try:
        data = bytes.fromhex(udh_hex.strip())
    except ValueError:
        return None
    if len(data) < 2 or data[0] + 1 > len(data):
        return None
    pos, end = 1, data[0] + 1
    while pos + 2 <= end:
        iei, length = data[pos], data[pos + 1]
        body = data[pos + 2 : pos + 2 + length]
        if len(body) < length:
            return None
        if iei == 0x00 and length == 3:
            found = Concat(body[0], body[1], body[2], 8)
        elif iei == 0x08 and length == 4:
            found = Concat(int.from_bytes(body[0:2], "big"), body[2], body[3], 16)
        else:
            pos += 2 + length
            continue
        return found if 1 <= found.seq <= found.total else None
    return None


def build_concat_udh(reference: int, total: int, seq: int, *, bits: int = 8) -> str:
    """The UDH hex for part ``seq`` of ``total``: ``050003RRTTSS`` (bits=8) or ``060804RRRRTTSS``.

    Raises ValueError when a value does not fit its field (reference 0-255 or 0-65535,
    total 1-255, seq 1-total).
    """
    if bits not in (8, 16):
        raise ValueError("bits must be 8 or 16")
    if not 0 <= reference < (1 << bits):
        raise ValueError(f"reference {reference} does not fit {bits} bits")
    if not 1 <= total <= 255 or not 1 <= seq <= total:
        raise ValueError(f"part {seq} of {total} is not a valid concatenation header")
    if bits == 8:
        return f"050003{reference:02X}{total:02X}{seq:02X}"
    return f"060804{reference:04X}{total:02X}{seq:02X}"


@dataclass(frozen=True)
class InboxRow:
    """The columns of one Gammu ``inbox`` row (schema v17) that the source reads."""

    id: int
    sender: str
    receiving: str  # ReceivingDateTime, naive, in the daemon's local time
    updated: str  # UpdatedInDB, naive UTC (schema default datetime('now'))
    text_hex: str  # Text: UTF-16BE hex (raw bytes hex for 8bit)
    text_decoded: str  # TextDecoded: UTF-8
    coding: str
    udh: str
    recipient: str  # RecipientID = the SMSD PhoneID
    sms_class: int
    smsc: str
    concat: Concat | None = field(default=None, compare=False)


def hex_bytes(text_hex: str | None) -> tuple[bytes, bool]:
    """``Text`` hex -> bytes, and whether the hex was damaged (odd length, non-hex characters).

    Damaged hex keeps what can be read: a trailing half byte is dropped; text that is not hex
    at all gives ``b""``.
    """
    cleaned = "".join((text_hex or "").split())
    damaged = False
    if len(cleaned) % 2:
        cleaned, damaged = cleaned[:-1], True
    try:
        return bytes.fromhex(cleaned), damaged
    except ValueError:
        return b"", True


def decode_utf16be(data: bytes) -> tuple[str, bool]:
    """UTF-16BE bytes -> text, and whether anything had to be replaced by U+FFFD.

    A lone surrogate (half an emoji whose other half is in a missing part) or an odd trailing
    byte becomes U+FFFD instead of raising.
    """
    try:
        return data.decode("utf-16-be"), False
    except UnicodeDecodeError:
        return data.decode("utf-16-be", errors="replace"), True


def _part_bytes(row: InboxRow) -> tuple[bytes, bool]:
    """The UTF-16BE bytes of one part: its ``Text`` hex, or its ``TextDecoded`` when Text is empty."""
    data, damaged = hex_bytes(row.text_hex)
    if not data and row.text_decoded:
        return row.text_decoded.encode("utf-16-be", errors="surrogatepass"), damaged
    return data, damaged


def single_text(row: InboxRow) -> tuple[str, str, bool]:
    """Text of a one-row SMS: ``(text, where it came from, decoding damaged)``.

    ``TextDecoded`` wins; when it is empty the ``Text`` hex is decoded as UTF-16BE, which holds
    for Default (GSM-7) rows too. For ``8bit`` rows ``Text`` is binary data, not text, so only
    ``TextDecoded`` is used. Both empty: an empty text (still a complaint, never dropped).
    """
    if row.text_decoded:
        return row.text_decoded, "TextDecoded", False
    if row.coding == "8bit":
        return "", "none", False
    data, damaged = hex_bytes(row.text_hex)
    if not data:
        return "", "none", damaged
    text, replaced = decode_utf16be(data)
    return text, "Text", damaged or replaced


def joined_text(parts: list[InboxRow]) -> tuple[str, bool]:
    """Text of a concatenated SMS from its parts in ``seq`` order: ``(text, decoding damaged)``.

    Runs of consecutive parts are joined as bytes and decoded once, so a surrogate pair split
    across two parts comes out whole; where parts are missing the runs are joined with
    :data:`GAP_MARK`.
    """
    runs: list[bytearray] = []
    damaged = False
    previous: int | None = None
    for row in parts:
        seq = row.concat.seq if row.concat else 0
        if previous is None or seq != previous + 1:
            runs.append(bytearray())
        data, bad = _part_bytes(row)
        runs[-1] += data
        damaged = damaged or bad
        previous = seq
    texts = []
    for run in runs:
        text, replaced = decode_utf16be(bytes(run))
        texts.append(text)
        damaged = damaged or replaced
    return GAP_MARK.join(texts), damaged


GroupKey = tuple[str, str, int, int, int]  # sender, recipient, bits, reference, total


@dataclass
class PartSet:
    """Rows that make one SMS: a single row, or the parts of one concatenated SMS in seq order.

    ``kept`` is set for a set handed over before (and not yet committed): it must be handed
    over again as it is, whatever arrived since.
    """

    rows: list[InboxRow]
    key: GroupKey | None = None  # None for a single SMS
    kept: bool = False

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(sorted(r.id for r in self.rows))

    @property
    def complete(self) -> bool:
        return self.key is None or len(self.rows) == self.key[4]


def group_key(row: InboxRow) -> GroupKey | None:
    """The set a part belongs to: (sender, recipient phone, reference bits, reference, total)."""
    c = row.concat
    return None if c is None else (row.sender, row.recipient, c.bits, c.reference, c.total)


def group_rows(
    rows: list[InboxRow], keep: dict[int, tuple[int, ...]] | None = None
) -> list[PartSet]:
    """Group inbox rows into SMS, in the order of their first row ID.

    Parts are grouped by (sender, recipient phone, reference size, reference, total) and
    ordered by their part number. When a sender reuses a reference (it wraps at 256) two parts
    with the same number cannot be in one set: the later row starts a new set.

    ``keep`` maps row IDs to the ID set they were already handed over in (not yet committed):
    those rows are grouped exactly as before, so a re-poll yields the same external IDs.
    """
    keep = keep or {}
    sets: list[PartSet] = []
    kept: dict[tuple[int, ...], PartSet] = {}
    open_sets: dict[GroupKey, list[PartSet]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        key = group_key(row)
        if row.id in keep:
            earlier = kept.get(keep[row.id])
            if earlier is None:
                earlier = kept[keep[row.id]] = PartSet([], key, kept=True)
                sets.append(earlier)
            earlier.rows.append(row)
            continue
        if key is None:
            sets.append(PartSet([row]))
            continue
        seq = row.concat.seq if row.concat else 0
        candidates = open_sets.setdefault(key, [])
        target = next(
            (s for s in candidates if all(r.concat and r.concat.seq != seq for r in s.rows)), None
        )
        if target is None:
            target = PartSet([], key)
            candidates.append(target)
            sets.append(target)
        target.rows.append(row)
    for part_set in sets:
        part_set.rows.sort(key=lambda r: (r.concat.seq if r.concat else 0, r.id))
    return sets
