"""Telegram's HTML parse mode, as the loopback fake Bot API checks it.

Written from the Bot API "Formatting options" section (supported tags, the four named entities,
numeric entities, 4096 characters after entity parsing) and the error texts Telegram returns
(``Bad Request: can't parse entities: Unsupported start tag "foo" at byte offset 0``,
``... Can't find end tag corresponding to start tag "b"``, ``... Unmatched end tag at byte
offset N, expected "</b>", found "</i>"``). Independent of ``forwarder.sinks.format`` on purpose:
the fake must catch the project's mistakes, not share them.

One deliberate difference: Telegram (tdlib) lets a bare ``&`` that starts no entity, and a bare
``>``, through as text; this parser refuses both (the docs say to escape them), so a missing
``html.escape`` is caught in tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# tag -> entity type (Bot API MessageEntity.type)
TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "a": "text_link", "code": "code", "pre": "pre", "span": "spoiler", "tg-spoiler": "spoiler",
    "tg-emoji": "custom_emoji", "blockquote": "blockquote",
}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]+);")
_NAME = re.compile(r"[A-Za-z0-9-]*")
_ATTR = re.compile(r"\s*([A-Za-z-]+)\s*(?:=\s*(\"[^\"]*\"|'[^']*'|[^\s>\"']+))?")


class ParseError(ValueError):
    """The text is not valid Telegram HTML; ``str()`` is Telegram's description after the prefix."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass
class Parsed:
    text: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def _byte_offset(source: str, index: int) -> int:
    return len(source[:index].encode("utf-8", "surrogatepass"))


def _decode_entity(source: str, i: int) -> tuple[str, int] | None:
    m = _ENTITY.match(source, i)
    if not m:
        return None
    body = m.group(1)
    if body.startswith("#"):
        code = int(body[2:], 16) if body[1:2] in ("x", "X") else int(body[1:])
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        return chr(code), m.end()
    if body in NAMED_ENTITIES:
        return NAMED_ENTITIES[body], m.end()
    return None


def parse_html(source: str) -> Parsed:
    """Parse ``source`` like Telegram's HTML parse mode; raises ParseError with Telegram's wording."""
    out: list[str] = []
    out_len = 0  # UTF-16 units written so far
    stack: list[tuple[str, int, dict[str, str]]] = []  # (tag, start offset, attributes)
    entities: list[dict[str, Any]] = []
    i, n = 0, len(source)
    while i < n:
        ch = source[i]
        if ch == "&":
            decoded = _decode_entity(source, i)
            if decoded is None:
                raise ParseError(f'Unsupported bare "&" at byte offset {_byte_offset(source, i)} '
                                 "(escape it as &amp;)")
            out.append(decoded[0])
            out_len += utf16_len(decoded[0])
            i = decoded[1]
            continue
        if ch == ">":
            raise ParseError(f'Unexpected ">" at byte offset {_byte_offset(source, i)}')
        if ch != "<":
            out.append(ch)
            out_len += utf16_len(ch)
            i += 1
            continue
        start = i
        end = source.find(">", i)
        if end < 0:
            raise ParseError(f"Unclosed start tag at byte offset {_byte_offset(source, start)}")
        if source.startswith("</", i):
            name = source[i + 2:end].strip().lower()
            if not stack:
                raise ParseError(f"Unexpected end tag at byte offset {_byte_offset(source, start)}")
            open_name, offset, attrs = stack.pop()
            if name != open_name:
                raise ParseError(f"Unmatched end tag at byte offset {_byte_offset(source, start)}, "
                                 f'expected "</{open_name}>", found "</{name}>"')
            length = out_len - offset
            if length > 0:
                entity: dict[str, Any] = {"type": TAGS[open_name], "offset": offset, "length": length}
                if open_name == "a":
                    entity["url"] = attrs.get("href", "")
                if open_name == "pre" and attrs.get("language"):
                    entity["language"] = attrs["language"]
                if open_name == "blockquote" and "expandable" in attrs:
                    entity["type"] = "expandable_blockquote"
                if open_name == "tg-emoji":
                    entity["custom_emoji_id"] = attrs.get("emoji-id", "")
                entities.append(entity)
            i = end + 1
            continue
        m = _NAME.match(source, i + 1)
        name = m.group().lower()
        if name not in TAGS:
            raise ParseError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(source, start)}')
        attrs: dict[str, str] = {}
        rest = source[m.end():end]
        pos = 0
        while pos < len(rest) and rest[pos:].strip():
            am = _ATTR.match(rest, pos)
            if not am or am.end() == pos:
                raise ParseError(f"Unclosed start tag at byte offset {_byte_offset(source, start)}")
            value = am.group(2) or ""
            attrs[am.group(1).lower()] = value.strip("\"'")
            pos = am.end()
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset '
                             f"{_byte_offset(source, start)}")
        stack.append((name, out_len, attrs))
        i = end + 1
    if stack:
        raise ParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return Parsed("".join(out), entities)


def strip_outer_whitespace(parsed: Parsed) -> Parsed:
    """Telegram trims leading and trailing whitespace of a message; shift entities to match."""
    lead = len(parsed.text) - len(parsed.text.lstrip())
    text = parsed.text.strip()
    shift = utf16_len(parsed.text[:lead])
    total = utf16_len(text)
    entities = []
    for e in parsed.entities:
        start = max(e["offset"] - shift, 0)
        end = min(e["offset"] - shift + e["length"], total)
        if end > start:
            entities.append({**e, "offset": start, "length": end - start})
    return Parsed(text, entities)
