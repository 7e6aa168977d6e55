"""Phone numbers of SMS senders: one E.164 form per citizen, whatever form the network gave.

Gammu SMSD stores ``inbox.SenderNumber`` exactly as the phone reported it (observed with gammu-smsd
1.42: ``0812…`` stays ``0812…``), and Indonesian numbers reach us as ``0812…``, ``62812…``,
``+62812…``, ``+62 0812…``, ``0062812…``, with spaces, dots, dashes or brackets. The same citizen
must get the same reporter, so :func:`normalise_msisdn` turns each into E.164 (``+62812…``) with
the ``phonenumbers`` library (Google libphonenumber metadata).

Operator short codes (``3636``, ``1708``) and alphanumeric sender names (``TELKOMSEL``) are not
phone numbers; :func:`classify_sender` keeps them as they are and says what they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers

SenderKind = Literal["msisdn", "short_code", "alphanumeric", "unknown"]

# Short codes are at most 6 digits; Indonesian operator and service codes are 3-5 digits
# (3636, 1708, 888). A subscriber number is at least 7 national digits (ITU-T E.164 practice).
SHORT_CODE_MAX_DIGITS = 6

_LETTER = re.compile(r"[^\W\d_]")
_SEPARATORS = re.compile(r"[\s.\-()/\u00a0]")


class InvalidNumber(ValueError):
    """The text is not a phone number that can be written in E.164."""


@dataclass(frozen=True)
class Sender:
    """Who sent an SMS.

    ``reporter`` is the E.164 number for ``kind == "msisdn"`` and the sender text as received
    (trimmed) for the other kinds; ``raw`` is exactly what the network gave.
    """

    reporter: str
    kind: SenderKind
    raw: str


def normalise_msisdn(raw: str, region: str = "ID") -> str:
    """``raw`` in any usual written form -> E.164 text, e.g. ``"0812-3456-7890"`` -> ``"+6281234567890"``.

    ``region`` (ISO 3166 alpha-2) is where numbers without a country code are dialled from.
    Digits that start with the region's country code but not with its trunk prefix 0
    (``6281…``) are read as international, which is how Indonesian numbers are written without
    the ``+``; ``00`` before a country code is read as the international prefix.
    A number libphonenumber knows as valid wins; a merely *possible* one (right length, maybe
    a prefix newer than the metadata) is accepted when no valid reading exists.

    Raises :class:`InvalidNumber` (a ``ValueError``) for text that is no phone number: letters,
    short codes, too few or too many digits.
    """
    text = (raw or "").strip()
    if not text or _LETTER.search(text):
        raise InvalidNumber(f"not a phone number: {raw!r}")
    compact = _SEPARATORS.sub("", text)
    if not re.fullmatch(r"\+?\d+", compact):
        raise InvalidNumber(f"not a phone number: {raw!r}")
    region = region.upper()
    country_code = str(phonenumbers.country_code_for_region(region))
    candidates: list[tuple[str, str | None]] = []
    if compact.startswith("+"):
        candidates.append((compact, None))
    elif compact.startswith("00"):
        candidates.append(("+" + compact[2:], None))
        candidates.append((compact, region))
    else:
        if country_code != "0" and compact.startswith(country_code):
            candidates.append(("+" + compact, None))
        candidates.append((compact, region))

    possible: list[str] = []
    for number, hint in candidates:
        try:
            parsed = phonenumbers.parse(number, hint)
        except phonenumbers.NumberParseException:
            continue
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(parsed):
            return e164
        if phonenumbers.is_possible_number(parsed):
            possible.append(e164)
    if possible:
        return possible[0]
    raise InvalidNumber(f"not a phone number: {raw!r}")


def classify_sender(raw: str | None, region: str = "ID") -> Sender:
    """Tell a subscriber number from a short code or a sender name; never raises.

    * letters anywhere (``TELKOMSEL``, ``Info-BPBD``) -> ``alphanumeric``, kept as given;
    * at most :data:`SHORT_CODE_MAX_DIGITS` digits and no ``+`` (``3636``, ``*123#``) -> ``short_code``;
    * anything :func:`normalise_msisdn` accepts -> ``msisdn`` with the E.164 form;
    * the rest (empty, too long, unparseable) -> ``unknown``, kept as given.
    """
    raw_text = raw if isinstance(raw, str) else ("" if raw is None else str(raw))
    shown = raw_text.strip()
    if not shown:
        return Sender("", "unknown", raw_text)
    if _LETTER.search(shown):
        return Sender(shown, "alphanumeric", raw_text)
    digits = re.sub(r"\D", "", shown)
    if digits and len(digits) <= SHORT_CODE_MAX_DIGITS and not shown.startswith("+"):
        return Sender(shown, "short_code", raw_text)
    try:
        return Sender(normalise_msisdn(shown, region), "msisdn", raw_text)
    except InvalidNumber:
        return Sender(shown, "unknown", raw_text)
