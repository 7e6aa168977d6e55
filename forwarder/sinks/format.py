"""How a complaint looks in an officer group chat, and how long messages are split.

:func:`render_plain` and :func:`render_html` turn a :class:`~forwarder.types.ComplaintView` into
the group message (Indonesian labels: officers read it). The view has no reporter field, so
nothing here can show the citizen's phone number, NIK or name; the complaint text itself was
masked upstream by :mod:`forwarder.privacy`.

:func:`split_message` cuts a message that is over a platform's length limit into parts, at safe
boundaries, without breaking HTML tags or entities. Telegram's limit is 4096 characters after
entity parsing (``telegram.constants.MessageLimit.MAX_TEXT_LENGTH``, Bot API ``sendMessage``);
we count UTF-16 code units of the *raw* markup, which is never less than what Telegram counts.

The HTML produced uses only tags of Telegram's HTML parse mode (Bot API "Formatting options":
``b i u s a code pre blockquote tg-spoiler``), and escapes ``&``, ``<`` and ``>`` in every piece of
text that comes from outside.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from forwarder.types import ComplaintView

TELEGRAM_MAX_TEXT_LENGTH = 4096
"""Same value as ``telegram.constants.MessageLimit.MAX_TEXT_LENGTH`` (Bot API sendMessage)."""

_MONTHS_ID = ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des")
_CHANNELS = {"sms": "SMS", "x": "X", "twitter": "X", "webhook": "Web"}
_EMPTY_TEXT = "(teks pengaduan kosong)"

# C0/C1 control characters other than tab and newline, and lone surrogates (unencodable in UTF-8)
# ... and the bidirectional overrides/isolates (U+202A-U+202E, U+2066-U+2069), which can make a
# group message read backwards (Unicode TR36 "bidi spoofing"); LRM/RLM marks are kept
_UNSAFE_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (how Telegram measures text and entity offsets)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def escape_html(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` for Telegram's HTML parse mode (quotes need no escaping in text)."""
    return html.escape(text, quote=False)


def clean_text(text: str) -> str:
    """Normalise line ends, drop control characters and lone surrogates, strip outer whitespace."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _UNSAFE_CHARS.sub(lambda m: "" if m.group() < "\ud800" else "\ufffd", text).strip()


def format_received(moment: datetime, zone: str) -> str:
    """``moment`` shown in ``zone`` the Indonesian way: ``29 Nov 2026 21:17 WIB``.

    A naive ``moment`` is taken as UTC (the store keeps UTC). An unknown zone falls back to UTC
    rather than failing: the config loader already rejects unknown zones.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        local = moment.astimezone(ZoneInfo(zone))
    except (ZoneInfoNotFoundError, ValueError):
        local = moment.astimezone(timezone.utc)
    abbreviation = local.tzname() or "UTC"
    return (f"{local.day} {_MONTHS_ID[local.month - 1]} {local.year} "
            f"{local.hour:02d}:{local.minute:02d} {abbreviation}")


def _percent(confidence: float) -> str:
    if not isinstance(confidence, (int, float)) or math.isnan(confidence):
        confidence = 0.0
    return f"{round(min(max(confidence, 0.0), 1.0) * 100)}%"


@dataclass(frozen=True)
class _Field:
    label: str
    value: str
    emphasis: bool = False  # bold value (the topic line)


def _fields(view: ComplaintView) -> tuple[str, list[_Field]]:
    """The title and the labelled lines of a complaint, as plain (unescaped) text."""
    title = f"Pengaduan {clean_text(view.tracking_code)}"
    lines: list[_Field] = []
    topic = clean_text(view.topic) if view.topic else ""
    by_officer = f"{topic} ({clean_text(view.topic_note)})" if topic and view.topic_note else ""
    if view.triage_reason is not None:
        reason = clean_text(view.triage_reason) or "tanpa alasan"
        lines.append(_Field("Topik", f"TRIASE ({reason})", emphasis=True))
        if by_officer:
            lines.append(_Field("Topik petugas", by_officer))
        else:
            guess = f"{topic}, keyakinan {_percent(view.confidence)}" if topic else "tidak ada"
            lines.append(_Field("Perkiraan model", guess))
    elif by_officer:  # the model's confidence was about another topic: leave it out
        lines.append(_Field("Topik", by_officer, emphasis=True))
    else:
        lines.append(_Field("Topik", topic or "tidak diketahui", emphasis=True))
        lines.append(_Field("Keyakinan", _percent(view.confidence)))
    if view.kecamatan:
        place = f"Kec. {clean_text(view.kecamatan)}"
        if view.desa:
            place += f", Desa {clean_text(view.desa)}"
        lines.append(_Field("Lokasi", place))
    channel = _CHANNELS.get(view.channel.lower(), clean_text(view.channel).upper() or "?")
    lines.append(_Field("Sumber", channel))
    lines.append(_Field("Diterima", format_received(view.received_at, view.timezone)))
    keywords = [clean_text(k) for k in view.keywords if clean_text(k)]
    if keywords:
        lines.append(_Field("Kata kunci", ", ".join(keywords)))
    lines.append(_Field("Status", clean_text(view.status) or "baru"))
    if view.note:
        lines.append(_Field("Catatan", clean_text(view.note)))
    return title, lines


def render_plain(view: ComplaintView) -> str:
    """The group message for ``view`` without markup (one string, maybe over the length limit).

    Shape (labels in Indonesian)::

        Pengaduan LPR-7K3Q
        Topik: pupuk
        Keyakinan: 87%
        Lokasi: Kec. Baureno, Desa Pucangarum
        Sumber: SMS
        Diterima: 29 Nov 2026 21:17 WIB
        Kata kunci: pupuk, langka
        Status: baru

        <complaint text>

    When an officer set the topic (``view.topic_note``), the topic line says so
    (``Topik: jalan (dialihkan oleh petugas)``) and the model's confidence is left out.
    """
    title, lines = _fields(view)
    head = "\n".join([title] + [f"{f.label}: {f.value}" for f in lines])
    return f"{head}\n\n{clean_text(view.text) or _EMPTY_TEXT}"


def render_html(view: ComplaintView) -> str:
    """The group message for ``view`` in Telegram HTML: labels in ``<b>``, the tracking code in
    ``<code>`` (one tap copies it), the complaint text escaped inside ``<blockquote>``."""
    title, lines = _fields(view)
    code = escape_html(clean_text(view.tracking_code))
    out = [f"<b>Pengaduan</b> <code>{code}</code>"]
    for f in lines:
        value = escape_html(f.value)
        out.append(f"{f.label}: <b>{value}</b>" if f.emphasis else f"{f.label}: {value}")
    body = escape_html(clean_text(view.text)) or f"<i>{_EMPTY_TEXT}</i>"
    return "\n".join(out) + f"\n\n<blockquote>{body}</blockquote>"


# ---------------------------------------------------------------------------------------------
# splitting

_TOKEN = re.compile(r"<[^<>]*>|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{0,31});|.",
                    re.DOTALL)
_TAG_NAME = re.compile(r"<\s*(/?)\s*([A-Za-z][A-Za-z0-9-]*)")
_JOINERS = {"\u200d", "\u034f"}


@dataclass(frozen=True)
class _Tok:
    raw: str
    cost: int  # UTF-16 code units of raw
    kind: str  # "text" | "open" | "close"
    name: str = ""


def _tokens(text: str, html_mode: bool) -> list[_Tok]:
    if not html_mode:
        return [_Tok(ch, utf16_len(ch), "text") for ch in text]
    toks: list[_Tok] = []
    for m in _TOKEN.finditer(text):
        raw = m.group()
        tag = _TAG_NAME.match(raw) if raw.startswith("<") and len(raw) > 1 else None
        if tag:
            kind = "close" if tag.group(1) else "open"
            toks.append(_Tok(raw, utf16_len(raw), kind, tag.group(2).lower()))
        else:
            toks.append(_Tok(raw, utf16_len(raw), "text"))
    return toks


def _apply(stack: list[_Tok], tok: _Tok) -> None:
    if tok.kind == "open":
        stack.append(tok)
    elif tok.kind == "close":
        for k in range(len(stack) - 1, -1, -1):
            if stack[k].name == tok.name:
                del stack[k:]
                break


def _closing(stack: list[_Tok]) -> str:
    return "".join(f"</{t.name}>" for t in reversed(stack))


def _closing_cost(stack: list[_Tok]) -> int:
    return sum(len(t.name) + 3 for t in stack)


def _is_space(tok: _Tok) -> bool:
    return tok.kind == "text" and tok.raw.isspace()


def _glued(tokens: list[_Tok], at: int) -> bool:
    """True when cutting before ``tokens[at]`` would split a grapheme (emoji ZWJ sequence,
    combining mark, variation selector or skin-tone modifier)."""
    after, before = tokens[at], tokens[at - 1]
    if after.kind != "text" or before.kind != "text":
        return False
    if before.raw in _JOINERS or after.raw in _JOINERS:
        return True
    cp = ord(after.raw[0]) if after.raw else 0
    return (unicodedata.combining(after.raw[0]) != 0 if after.raw else False) or \
        0xFE00 <= cp <= 0xFE0F or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F


def _split(tokens: list[_Tok], budget: int) -> list[str]:
    parts: list[str] = []
    stack: list[_Tok] = []
    i, n = 0, len(tokens)
    while i < n:
        prefix = "".join(t.raw for t in stack)
        local = list(stack)
        cost = utf16_len(prefix)
        if cost + _closing_cost(local) >= budget:
            raise ValueError("the markup is nested too deeply to split within the limit")
        levels: dict[int, int] = {}  # boundary level -> latest token index (cut before it)
        j = i
        while j < n:
            tok = tokens[j]
            if _is_space(tok) and j > i:
                level = 1
                if tok.raw == "\n":
                    level = 3 if (tokens[j - 1].raw == "\n" or (j + 1 < n and tokens[j + 1].raw == "\n")) else 2
                if cost >= budget // 2:
                    levels[level] = j
            after = list(local)
            _apply(after, tok)
            if cost + tok.cost + _closing_cost(after) > budget:
                break
            cost += tok.cost
            local = after
            j += 1
        if j == n:
            cut = n
        elif levels:
            cut = levels[max(levels)]
        else:
            cut = j
            while cut - i > 1 and (_glued(tokens, cut) or tokens[cut - 1].kind == "open") and j - cut < 16:
                cut -= 1
            if cut == i:
                raise ValueError("a single tag is longer than the message limit")
        end = cut
        while end > i and _is_space(tokens[end - 1]):
            end -= 1
        body = tokens[i:end]
        part_stack = list(stack)
        for tok in body:
            _apply(part_stack, tok)
        text = prefix + "".join(t.raw for t in body) + _closing(part_stack)
        if any(t.kind == "text" and not t.raw.isspace() for t in body):
            parts.append(text)  # a part of only tags would be an empty message
        nxt = cut
        while nxt < n and _is_space(tokens[nxt]):
            nxt += 1
        for tok in tokens[end:nxt]:
            _apply(part_stack, tok)
        stack, i = part_stack, nxt
    return parts


def split_message(text: str, limit: int = TELEGRAM_MAX_TEXT_LENGTH, *, html: bool,
                  label: str = "") -> list[str]:
    """Split ``text`` into parts of at most ``limit`` UTF-16 code units each, in order.

    A text that fits is returned as is, in a one-element list; an empty or whitespace-only text
    gives ``[]`` (Telegram refuses empty messages: there is nothing to send). Longer texts are
    cut at the latest paragraph break, else line break, else space in the second half of a part,
    else between two characters (never inside an emoji sequence). With ``html=True`` a cut never
    falls inside a tag or an entity (``&amp;``), and tags open at the cut (``<blockquote>``,
    ``<b>``) are closed at the end of the part and opened again at the start of the next.
    Parts get a ``(2/3)`` line at the end when there are several, ``(Pengaduan 7K3Q9M 2/3)``
    with ``label="Pengaduan 7K3Q9M"``, so that every part says which complaint it belongs to.

    ``limit`` defaults to Telegram's 4096 (``MessageLimit.MAX_TEXT_LENGTH``). Raises ValueError
    when ``limit`` is too small for the markup (below 32, or tags nested deeper than it allows).
    """
    if not text or not text.strip():
        return []
    if utf16_len(text) <= limit:
        return [text]
    if limit < 32:
        raise ValueError(f"limit {limit} is too small to split a message into numbered parts")
    tokens = _tokens(text, html)
    head = f"{escape_html(label) if html else label} " if label else ""
    for digits in (8, 12, 16):  # room for "\n(99/99)", "\n(9999/9999)", ...
        reserve = digits + utf16_len(head)
        if limit - reserve < 16:
            raise ValueError(f"limit {limit} is too small for the part label {label!r}")
        parts = _split(tokens, limit - reserve)
        total = len(parts)
        if utf16_len(f"\n({head}{total}/{total})") <= reserve:
            if total == 1:
                return parts
            return [f"{p}\n({head}{k}/{total})" for k, p in enumerate(parts, 1)]
    raise ValueError("the text needs too many parts")
