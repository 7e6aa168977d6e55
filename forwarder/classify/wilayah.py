"""The packaged Kemendagri area list, read for :mod:`forwarder.classify.places`.

``forwarder/data/wilayah/wilayah.csv.gz`` has one ``code,name`` row per provinsi (``35``),
kabupaten/kota (``35.22``), kecamatan (``35.22.01``) and desa/kelurahan (``35.22.01.2001``) of
the whole country: 38 / 514 / 7,285 / 83,762 rows from the npm package idn-area-data 4.0.1
(Kepmendagri No. 300.2.2-2138 Tahun 2025, data under ODbL 1.0; see the README there and
``scripts/build_wilayah.py``). The file is read once per process, on first use (about 0.1 s).
"""

from __future__ import annotations

import csv
import functools
import gzip
import re
import unicodedata
from collections.abc import Iterator
from importlib import resources

WORD = re.compile(r"[a-z0-9]+")
_DATA = ("data", "wilayah", "wilayah.csv.gz")


def fold(text: str) -> str:
    """Lower-case ``text`` with accents removed and every non-alphanumeric character a space.

    The result has exactly ``len(text)`` characters, so offsets stay those of ``text``.
    """
    out = []
    for ch in text:
        if ch.isascii():
            out.append(ch.lower() if ch.isalnum() else " ")
        else:
            base = unicodedata.normalize("NFKD", ch)[:1].lower()
            out.append(base if base.isascii() and base.isalnum() else " ")
    return "".join(out)


def words(name: str) -> tuple[str, ...]:
    """The folded words of a name: ``"Dr. Soetomo"`` -> ``("dr", "soetomo")``."""
    return tuple(WORD.findall(fold(name)))


# -- the packaged list --------------------------------------------------------------------------


def _lines(prefix: str) -> Iterator[str]:
    """Lines of the packaged list whose code starts with ``prefix``, read as a stream.

    Not cached: the whole country is about 90,000 lines, and a daemon needs only its own
    kabupaten plus the kabupaten/provinsi names (memory target of the delivery benchmark).
    """
    with resources.files("forwarder").joinpath(*_DATA).open("rb") as raw, \
            gzip.open(raw, "rt", encoding="utf-8") as text:
        next(text, None)  # header
        for line in text:
            if line.startswith(prefix):
                yield line.rstrip("\n")


def rows(prefix: str = "", levels: tuple[int, ...] = (0, 1, 2, 3)) -> list[tuple[str, str]]:
    """``(code, name)`` rows whose code starts with ``prefix``, at the given levels (the number of
    dots in the code: 0 provinsi, 1 kabupaten/kota, 2 kecamatan, 3 desa/kelurahan)."""
    return [(code, name) for code, name in csv.reader(_lines(prefix)) if code.count(".") in levels]


@functools.lru_cache(maxsize=1)
def regencies() -> dict[str, str]:
    """Code -> official name of every kabupaten/kota: ``35.22`` -> ``Kabupaten Bojonegoro``."""
    return dict(rows(levels=(1,)))


def bare_regency(name: str) -> tuple[str, str]:
    """(kind, compact name) of a kabupaten/kota written with or without its prefix."""
    parts = [w for w in words(name) if w not in ("administrasi", "adm")]
    kind = ""
    if parts and parts[0] in ("kabupaten", "kab"):
        kind, parts = "kabupaten", parts[1:]
    elif parts and parts[0] in ("kota", "kodya"):
        kind, parts = "kota", parts[1:]
    return kind, "".join(parts)


@functools.lru_cache(maxsize=1)
def region_words() -> frozenset[str]:
    """Compact names of every kabupaten/kota and provinsi: never a kecamatan/desa on their own."""
    names = {bare_regency(n)[1] for n in regencies().values()}
    names |= {"".join(words(n)) for _, n in rows(levels=(0,))}
    return frozenset(names)
