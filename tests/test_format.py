"""Group message rendering and splitting (forwarder.sinks.format).

HTML output is checked with the fake Bot API's own Telegram HTML parser (tests/fakes/telegram_html.py),
which is written independently of the code under test.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timezone

import pytest
from telegram.constants import MessageLimit

from fakes.telegram_api import assert_no_personal_data
from fakes.telegram_html import parse_html
from forwarder.sinks.format import (
    TELEGRAM_MAX_TEXT_LENGTH,
    escape_html,
    format_received,
    render_html,
    render_plain,
    split_message,
    utf16_len,
)
from forwarder.types import ComplaintView

VIEW = ComplaintView(
    complaint_id=7,
    tracking_code="LPR-7K3Q",
    text="Pupuk subsidi langka di desa kami, harga <Rp 150.000> & naik terus",
    channel="sms",
    received_at=datetime(2026, 11, 29, 14, 17, tzinfo=timezone.utc),
    topic="pupuk",
    confidence=0.873,
    kecamatan="Baureno",
    desa="Pucangarum",
    keywords=("pupuk", "subsidi", "langka"),
)

WORDS = " ".join(f"kata{i}" for i in range(2000))  # ~14,000 characters with spaces
PARAGRAPHS = "\n\n".join(("jalan rusak berlubang " * 40).strip() for _ in range(12))
FAMILY = "\U0001F468\u200d\U0001F469\u200d\U0001F467"  # one grapheme of 8 UTF-16 units
SPECIALS = "<b> & </i> _ * `x` &amp; <<>> && " * 400


def test_max_length_matches_ptb():
    assert TELEGRAM_MAX_TEXT_LENGTH == MessageLimit.MAX_TEXT_LENGTH == 4096


def test_plain_message_shows_every_field():
    text = render_plain(VIEW)
    assert text.splitlines()[:8] == [
        "Pengaduan LPR-7K3Q",
        "Topik: pupuk",
        "Keyakinan: 87%",
        "Lokasi: Kec. Baureno, Desa Pucangarum",
        "Sumber: SMS",
        "Diterima: 29 Nov 2026 21:17 WIB",
        "Kata kunci: pupuk, subsidi, langka",
        "Status: baru",
    ]
    assert text.endswith("\n\n" + VIEW.text)


def test_html_escapes_and_matches_plain_once_parsed():
    html = render_html(VIEW)
    assert "&lt;Rp 150.000&gt; &amp; naik" in html
    assert "<blockquote>" in html and "<code>LPR-7K3Q</code>" in html
    parsed = parse_html(html)  # raises on anything Telegram would refuse
    assert parsed.text == render_plain(VIEW)
    assert {e["type"] for e in parsed.entities} == {"bold", "code", "blockquote"}


@pytest.mark.parametrize(
    "changes, expected_lines, absent",
    [
        (dict(triage_reason="keyakinan rendah", confidence=0.42),
         ["Topik: TRIASE (keyakinan rendah)", "Perkiraan model: pupuk, keyakinan 42%"], ["Keyakinan:"]),
        (dict(triage_reason="teks tidak terbaca", topic=None, confidence=0.0),
         ["Topik: TRIASE (teks tidak terbaca)", "Perkiraan model: tidak ada"], []),
        (dict(kecamatan=None, desa=None), [], ["Lokasi:"]),
        (dict(desa=None), ["Lokasi: Kec. Baureno"], ["Desa"]),
        (dict(keywords=()), [], ["Kata kunci"]),
        (dict(channel="x"), ["Sumber: X"], []),
        (dict(status="ditangani", note="mungkin terkirim dua kali"),
         ["Status: ditangani", "Catatan: mungkin terkirim dua kali"], []),
        (dict(timezone="Asia/Makassar"), ["Diterima: 29 Nov 2026 22:17 WITA"], []),
        (dict(received_at=datetime(2026, 8, 1, 23, 5, tzinfo=timezone.utc)),
         ["Diterima: 2 Agu 2026 06:05 WIB"], []),
        (dict(confidence=1.7), ["Keyakinan: 100%"], []),
        (dict(confidence=float("nan")), ["Keyakinan: 0%"], []),
    ],
)
def test_fields_by_case(changes, expected_lines, absent):
    view = dataclasses.replace(VIEW, **changes)
    for text in (render_plain(view), parse_html(render_html(view)).text):
        lines = text.splitlines()
        for line in expected_lines:
            assert line in lines
        for word in absent:
            assert word not in "\n".join(lines[:-1])


@pytest.mark.parametrize(
    "body, shown",
    [
        ("", "(teks pengaduan kosong)"),
        ("   \n\t ", "(teks pengaduan kosong)"),
        ("😀😀😀", "😀😀😀"),
        ("a\x00b\x07c\r\nd", "abc\nd"),
        ("x\ud800y", "x\ufffdy"),
        ("<script>alert(1)</script> & &amp;", "<script>alert(1)</script> & &amp;"),
    ],
)
def test_awkward_complaint_texts(body, shown):
    view = dataclasses.replace(VIEW, text=body)
    assert render_plain(view).endswith("\n\n" + shown)
    assert parse_html(render_html(view)).text.endswith("\n\n" + shown)
    render_html(view).encode("utf-8")  # no lone surrogates left


def test_markup_in_labels_is_escaped():
    view = dataclasses.replace(VIEW, topic="<b>x</b>", keywords=("a&b",), note="<i>", tracking_code="<x>")
    parsed = parse_html(render_html(view))
    assert "Topik: <b>x</b>" in parsed.text and "Kata kunci: a&b" in parsed.text


def test_naive_time_is_utc_and_unknown_zone_falls_back():
    naive = datetime(2026, 11, 29, 14, 17)
    assert format_received(naive, "Asia/Jakarta") == "29 Nov 2026 21:17 WIB"
    assert format_received(naive, "Nowhere/Land") == "29 Nov 2026 14:17 UTC"


def test_no_reporter_in_any_rendering():
    view = dataclasses.replace(VIEW, text="lapor dari desa, nomor sudah disamarkan [nomor]")
    for text in (render_plain(view), render_html(view)):
        assert_no_personal_data(text)


# -------------------------------------------------------------------------------- splitting

def _content(part: str, html: bool) -> str:
    part = re.sub(r"\n\(\d+/\d+\)$", "", part)
    return parse_html(part).text if html else part


def _squash(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize(
    "name, text, html, limit",
    [
        ("10k words plain", WORDS, False, 4096),
        ("10k words html", f"<b>Judul</b>\n\n<blockquote>{WORDS}</blockquote>", True, 4096),
        ("10k no spaces", "x" * 10_000, False, 4096),
        ("paragraphs html", f"<blockquote>{escape_html(PARAGRAPHS)}</blockquote>", True, 4096),
        ("emoji only", "😀" * 5000, False, 4096),
        ("zwj emoji", FAMILY * 1500, False, 4096),
        ("zwj emoji in quote", f"<blockquote>{FAMILY * 1500}</blockquote>", True, 4096),
        ("specials plain", SPECIALS, False, 4096),
        ("specials html", f"<blockquote>{escape_html(SPECIALS)}</blockquote>", True, 4096),
        ("entities only", "<b>" + "&amp;" * 3000 + "</b>", True, 4096),
        ("nested tags small limit", "<b>tebal <i>miring " + "kata " * 60 + "</i> akhir</b>", True, 64),
        ("link", '<a href="https://lapor.example/x">' + "tautan " * 30 + "</a>", True, 80),
    ],
)
def test_split_table(name, text, html, limit):
    parts = split_message(text, limit, html=html)
    assert len(parts) >= 2, name
    for k, part in enumerate(parts, 1):
        assert utf16_len(part) <= limit, (name, k)
        assert part.endswith(f"({k}/{len(parts)})")
        if html:
            parse_html(part)  # every part is valid Telegram HTML on its own
    original = parse_html(text).text if html else text
    joined = "".join(_content(p, html) for p in parts)
    assert _squash(joined) == _squash(original), name
    if "zwj" in name:
        for part in parts:
            assert _content(part, html).replace(FAMILY, "") == ""  # no family emoji cut in half


@pytest.mark.parametrize("text, expected", [("", []), ("  \n ", []), ("pendek", ["pendek"]),
                                            ("x" * 4096, ["x" * 4096])])
def test_split_short_or_empty(text, expected):
    assert split_message(text, html=False) == expected
    assert split_message(text, html=True) == expected


def test_split_prefers_paragraphs_and_keeps_tags_open():
    text = "<blockquote>" + "\n\n".join(["satu " * 10, "dua " * 10, "tiga " * 10]) + "</blockquote>"
    parts = split_message(text, 140, html=True)
    assert parts[0].startswith("<blockquote>satu") and "</blockquote>\n(1/" in parts[0]
    assert parts[1].startswith("<blockquote>dua") or parts[1].startswith("<blockquote>tiga")


def test_split_counts_utf16_units():
    parts = split_message("😀" * 100, 64, html=False)
    assert all(utf16_len(p) <= 64 for p in parts)
    assert "".join(re.sub(r"\n\(\d+/\d+\)$", "", p) for p in parts) == "😀" * 100


def test_split_limit_too_small_is_a_clear_error():
    with pytest.raises(ValueError, match="too small"):
        split_message("x" * 100, 10, html=False)


def test_rendered_long_complaint_fits_telegram():
    view = dataclasses.replace(VIEW, text=("Jalan <rusak> & berlubang. " * 400).strip())
    parts = split_message(render_html(view), html=True)
    assert len(parts) >= 3
    assert parse_html(re.sub(r"\n\(\d+/\d+\)$", "", parts[0])).text.startswith("Pengaduan LPR-7K3Q")
    for part in parts:
        assert utf16_len(parse_html(part).text) <= 4096


def test_every_part_of_a_long_complaint_names_it() -> None:
    from forwarder.sinks.format import split_message

    parts = split_message("jalan rusak " * 900, 4096, html=True, label="Pengaduan 7K3Q9M")
    assert len(parts) >= 3
    for k, part in enumerate(parts, 1):
        assert part.endswith(f"(Pengaduan 7K3Q9M {k}/{len(parts)})") and len(part) <= 4096


def test_bidi_overrides_are_dropped() -> None:
    from forwarder.sinks.format import clean_text

    assert clean_text("\u202ekasur\u202c jalan \u2067x\u2069 \u200fok") == "kasur jalan x \u200fok"
