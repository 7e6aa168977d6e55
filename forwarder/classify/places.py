"""Recognise the kecamatan and desa/kelurahan named in a complaint, against the Kemendagri list.

The list is ``forwarder/data/wilayah/wilayah.csv.gz`` (built by ``scripts/build_wilayah.py`` from
the npm package idn-area-data 4.0.1, Kepmendagri No. 300.2.2-2138 Tahun 2025; Kabupaten
Bojonegoro, code 35.22, has 28 kecamatan and 430 desa/kelurahan there).

:meth:`Gazetteer.find` reads a complaint as citizens write it (``kec.sumberejo``, ``ds ngumpak
dalem``, ``DESA KALIREJO KEC. DANDER``) and weighs its evidence:

* a prefix (``kec``/``kecamatan``, ``ds``/``desa``, ``kel``/``kelurahan``) followed by a name is
  strong evidence (``kec. Kota Bojonegoro`` is kecamatan Bojonegoro); after a prefix a misspelt name is accepted too (rapidfuzz ``ratio`` of the
  words run together, at least 80, 88 for names of 5 letters, exact for shorter ones, same first
  letter);
* a name without a prefix counts only when it matches exactly and is unlikely to be an ordinary
  word or a street: a name of two or more words, or one word of 5+ letters right after a
  locative (``di``, ``ke``, ``warga``, ``nang``, ``ing``…; a capitalised word at the start of a
  sentence does not count), or a *kecamatan* name right after a word that says where a thing is
  (``pasar``, ``perempatan``, ``pertigaan``, ``alun-alun``, ``dekat``, ``depan``, ``arah``, and
  Javanese ``cedhak``, ``ngarep``, ``prapatan``…: ``place_words.PLACE_CUES``); a kecamatan whose
  name is an everyday word counts alone only capitalised right after a locative (``jalan rusak
  di Kapas``, not ``tanaman kapas``); never a name right
  after ``jl.``/``jalan``/``RSUD``/``stasiun``… or before ``Jaya``/``Indah``/``Permai``… (a street,
  building or estate named after a place; ``jalan raya Dander`` included: in Surabaya a kecamatan
  name after ``raya`` agrees with the label in 26 of 36 complaints, 72 %), never an everyday word
  (``kapas`` cotton, ``sudah``, ``nganti``) nor the name of a kabupaten/kota (``bojonegoro``,
  ``tulungagung``); such names still confirm a desa of that kecamatan;
* a desa named together with its own kecamatan wins over everything else; a desa name found in
  several kecamatan says nothing unless one of them is named too; a desa named alone (and unique)
  gives its kecamatan as well.

A complaint naming no place gives ``None``; routing then sends it to the topic's groups without a
kecamatan filter (see forwarder.routing). The rules favour precision: on the 12,050 distinct
Surabaya complaints of ``shared/data`` (Kota Surabaya's list), ``find`` names a place in 1,901
and agrees with the labelled kecamatan in 92.8 % of them (97 % for a prefix or a desa with its
kecamatan; bare names in a city are often streets). The kecamatan-after-a-cue rule adds 16 of
those 1,901, 13 agreeing (without it: 1,885 at 92.9 %); the capitalised everyday-word
kecamatan after a locative adds 4; after a cue a desa/kelurahan name does not
count alone, as in a city it is mostly a street or a market of the next kelurahan. About 0.2 ms
for a 300-character text.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from forwarder.classify.place_words import (
    COMMON_WORDS,
    DESA_PREFIXES,
    ESTATE_WORDS,
    FUNCTION_WORDS,
    KEC_PREFIXES,
    LOCATIVES,
    PLACE_CUES,
    REGION_PREFIXES,
    STREET_WORDS,
)
from forwarder.classify.place_words import NOT_NAMES as _NOT_NAMES
from forwarder.classify.wilayah import WORD as _WORD
from forwarder.classify.wilayah import bare_regency as _bare
from forwarder.classify.wilayah import fold
from forwarder.classify.wilayah import regencies as _regencies
from forwarder.classify.wilayah import region_words as _region_words
from forwarder.classify.wilayah import rows as _rows
from forwarder.classify.wilayah import words as _key
from forwarder.errors import ForwarderError
from forwarder.types import Place

_TAG = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
# RT/RW numbers of an address: "RT 03", "rw.5", "RT/RW 03/05", "Rt:2 Rw:7"
_ADDRESS = re.compile(r"\b(?:rt|rw)(?:\s*/\s*rw)?\s*[.:]?\s*\d{1,3}(?:\s*/\s*(?:rw\s*[.:]?\s*)?\d{1,3})?\b",
                      re.IGNORECASE)
_MAX_WORDS = 4  # the longest official names have four words


class UnknownPlace(ForwarderError, LookupError):
    """A kabupaten/kota or kecamatan name that is not in the Kemendagri list.

    ``suggestions`` holds the closest official names (possibly empty); the message lists them.
    """

    def __init__(self, message: str, suggestions: list[str] | None = None) -> None:
        self.suggestions = list(suggestions or [])
        if self.suggestions:
            message += f"; did you mean: {', '.join(self.suggestions)}?"
        super().__init__(message)


# -- the gazetteer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    level: str  # "kec" | "desa"
    code: str
    name: str
    kec_code: str


@dataclass
class _Candidate:
    level: str
    entries: list[_Entry]
    start: int  # character offsets in the text, prefix included
    end: int
    strength: float
    pair_only: bool = False
    first_tok: int = 0
    last_tok: int = 0


@dataclass
class Gazetteer:
    """The kecamatan and desa/kelurahan of one kabupaten/kota, indexed for :meth:`find`.

    Build it with :meth:`for_kabupaten` (cached per kabupaten; the index takes a few ms to build).
    """

    kabupaten: str
    code: str
    kecamatan_codes: dict[str, str]  # official kecamatan name -> code (35.22.01)
    desa: dict[str, dict[str, str]]  # kecamatan code -> {desa name: desa code}
    _exact: dict[str, list[_Entry]] = field(default_factory=dict, repr=False)
    _fuzzy: dict[tuple[str, str], list[str]] = field(default_factory=dict, repr=False)
    _kec_name: dict[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def for_kabupaten(cls, name: str) -> Gazetteer:
        """The gazetteer of a kabupaten/kota named as in the config.

        Accepts ``"Bojonegoro"``, ``"Kabupaten Bojonegoro"``, ``"Kab. Bojonegoro"``, ``"Kota
        Surabaya"`` or a code (``"35.22"``), in any case. Raises :class:`UnknownPlace` (a
        LookupError) with the closest official names when the name is unknown, or when a bare name
        is both a kabupaten and a kota (``"Malang"``: say ``"Kabupaten Malang"`` or ``"Kota Malang"``).
        """
        regencies = _regencies()
        text = str(name).strip()
        if text in regencies:
            return _build(text)
        kind, bare = _bare(text)
        hits = [code for code, official in regencies.items()
                if _bare(official)[1] == bare and (not kind or _bare(official)[0] == kind)]
        if len(hits) == 1:
            return _build(hits[0])
        if len(hits) > 1:
            raise UnknownPlace(f"{text!r} is both a kabupaten and a kota",
                               sorted(regencies[c] for c in hits))
        bare_names = {code: _bare(official)[1] for code, official in regencies.items()}
        close = process.extract(bare, bare_names, scorer=fuzz.ratio, limit=3, score_cutoff=70)
        raise UnknownPlace(f"{text!r} is not a kabupaten/kota in the Kemendagri list",
                           [regencies[code] for _, _, code in close])

    @property
    def kecamatan_names(self) -> frozenset[str]:
        """Official names of the kabupaten's kecamatan (Bojonegoro: 28)."""
        return frozenset(self.kecamatan_codes)

    def desa_of(self, kecamatan: str) -> frozenset[str]:
        """Official names of the desa/kelurahan of ``kecamatan`` (a name :meth:`canonical_kecamatan`
        accepts). Raises :class:`UnknownPlace` when it is not a kecamatan of this kabupaten."""
        official = self.canonical_kecamatan(kecamatan)
        if official is None:
            raise UnknownPlace(f"{kecamatan!r} is not a kecamatan of {self.kabupaten}",
                               self.suggest_kecamatan(kecamatan))
        return frozenset(self.desa[self.kecamatan_codes[official]])

    def canonical_kecamatan(self, name: str) -> str | None:
        """The official spelling of a kecamatan name written in a config or a form, else ``None``.

        Case, spaces and a ``kec.``/``kecamatan`` prefix do not matter (``"karangpilang"`` ->
        ``"Karang Pilang"``); a misspelling is accepted when one official name is clearly closest
        (rapidfuzz ratio >= 85: ``"Sumberejo"`` -> ``"Sumberrejo"``). See :meth:`suggest_kecamatan`.
        """
        words = [w for w in _key(str(name)) if w not in KEC_PREFIXES]
        compact = "".join(words)
        if not compact:
            return None
        if compact in self._kec_name:
            return self._kec_name[compact]
        close = process.extract(compact, list(self._kec_name), scorer=fuzz.ratio, limit=2,
                                score_cutoff=85)
        if len(close) == 1 or (len(close) == 2 and close[0][1] - close[1][1] >= 5):
            return self._kec_name[close[0][0]]
        return None

    def suggest_kecamatan(self, name: str, limit: int = 3) -> list[str]:
        """Up to ``limit`` official kecamatan names close to ``name``, best first (for hints)."""
        compact = "".join(w for w in _key(str(name)) if w not in KEC_PREFIXES)
        close = process.extract(compact, list(self._kec_name), scorer=fuzz.ratio, limit=limit,
                                score_cutoff=60)
        return [self._kec_name[match] for match, _, _ in close]

    # -- recognition ----------------------------------------------------------------------------

    def find(self, text: str) -> Place | None:
        """The place a complaint names, or ``None`` (see the module doc for the rules).

        ``Place.code`` is the desa code when a desa was recognised, else the kecamatan code;
        ``Place.matched`` is the text that matched (prefix included), several parts joined by
        `` … ``. Never raises on odd input (empty, emoji, HTML, 10,000 characters).
        """
        return self._locate(text)[0]

    def without_places(self, text: str) -> str:
        """``text`` with the words that only say *where* replaced by spaces (same length): the
        place mentions :meth:`find` weighs as evidence, prefix included (``Kecamatan Kedungadem``,
        ``ds. ngumpakdalem``, ``di Baureno``, ``perempatan Sumberrejo``), a kabupaten/kota after its
        prefix (``Kab. Bojonegoro``) and RT/RW numbers (``RT 03 RW 05``, ``RT/RW 3/5``).

        What the topic model should read: these words are no evidence of a topic, and a text of
        only a place and greetings would otherwise get one (``Kecamatan Kedungadem`` -> jalan
        0.52 with the bundled model). Names that do not count as a place (``dana desa sudah cair``,
        ``jalan raya dander``) are left as they are. Non-text gives ``""``; never raises.
        """
        if not isinstance(text, str):
            return ""
        spans = self._locate(text)[1]
        spans += [m.span() for m in _ADDRESS.finditer(text)]
        if not spans:
            return text
        chars = list(text)
        for start, end in spans:
            chars[start:end] = " " * (end - start)
        return "".join(chars)

    def _locate(self, text: str) -> tuple[Place | None, list[tuple[int, int]]]:
        """(:meth:`find`'s answer, the character spans of the mentions it weighed as evidence)."""
        if not isinstance(text, str) or not text.strip():
            return None, []
        if "<" in text:  # markup is not words: blank it out, keeping offsets
            text = _TAG.sub(lambda m: " " * len(m.group()), text)
        folded = fold(text)
        tokens = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(folded)]
        letters = [c for c in text if c.isalpha()]
        all_caps = bool(letters) and sum(c.isupper() for c in letters) > 0.7 * len(letters)
        candidates = self._candidates(text, tokens, all_caps)
        spans = [(c.start, c.end) for c in candidates if c.strength >= 1 or c.level == "region"]
        places = [c for c in candidates if c.level != "region"]
        return (self._resolve(text, places) if places else None), spans

    def _candidates(self, text: str, tokens: list[tuple[str, int, int]],
                    all_caps: bool) -> list[_Candidate]:
        found: list[_Candidate] = []
        i, n = 0, len(tokens)
        while i < n:
            word = tokens[i][0]
            if word in REGION_PREFIXES:  # "kab. bojonegoro", "kota surabaya": not a kecamatan
                size = next((k for k in range(3, 0, -1) if i + k < n and "".join(
                    t[0] for t in tokens[i + 1:i + k + 1]) in _region_words()), 0)
                if size:
                    found.append(_Candidate("region", [], tokens[i][1], tokens[i + size][2], 0.0))
                i += 1 + max(size, self._longest_exact(tokens, i + 1)[0])
                continue
            level = "kec" if word in KEC_PREFIXES else "desa" if word in DESA_PREFIXES else ""
            if level and i + 1 < n:
                cand = self._after_prefix(text, tokens, i, level, all_caps)
                if cand is None and level == "kec" and i + 2 < n and tokens[i + 1][0] == "kota":
                    # "kec. Kota Bojonegoro": the kecamatan of the regency's town, named as such
                    cand = self._after_prefix(text, tokens, i + 1, level, all_caps)
                if cand is not None:
                    found.append(cand)
                    i = cand.last_tok + 1
                    continue
            if not level:
                cand = self._bare_name(text, tokens, i, all_caps)
                if cand is not None:
                    found.append(cand)
                    i = cand.last_tok + 1
                    continue
            i += 1
        return found

    def _longest_exact(self, tokens, i) -> tuple[int, list[_Entry]]:
        for size in range(min(_MAX_WORDS, len(tokens) - i), 0, -1):
            words = [t[0] for t in tokens[i:i + size]]
            entries = self._exact.get(" ".join(words)) or self._exact.get("".join(words))
            if entries:
                return size, entries
        return 0, []

    def _after_prefix(self, text, tokens, i, level, all_caps) -> _Candidate | None:
        size, entries = self._longest_exact(tokens, i + 1)
        entries = [e for e in entries if e.level == level]
        strength = 3.0
        if not entries:
            size, entries, score = self._fuzzy_after(tokens, i + 1, level)
            if not entries:
                return None
            strength = 2.0 + score / 200
        first, last = tokens[i + 1], tokens[i + size]
        name = "".join(t[0] for t in tokens[i + 1:i + size + 1])
        pair_only = False
        if name in FUNCTION_WORDS or name in _NOT_NAMES:
            # "dana desa sudah cair": an abbreviation or a capital letter says it is a name
            abbreviated = tokens[i][0] in ("ds", "kec", "kel", "dsa", "kcm", "kcmtn", "kecmtn")
            capital = text[first[1]].isupper() and not all_caps
            if not (abbreviated or capital):
                strength, pair_only = 0.5, True
        return _Candidate(level, entries, tokens[i][1], last[2], strength, pair_only, i, i + size)

    def _fuzzy_after(self, tokens, i, level) -> tuple[int, list[_Entry], float]:
        best: tuple[float, int, list[str]] = (0.0, 0, [])
        for size in range(1, min(_MAX_WORDS, len(tokens) - i) + 1):
            words = [t[0] for t in tokens[i:i + size]]
            if words[0] in _NOT_NAMES or any(w.isdigit() for w in words):
                break
            query = "".join(words)
            if len(query) < 5:
                continue
            choices = self._fuzzy.get((level, query[0]), [])
            cutoff = 88 if len(query) == 5 else 80
            scored = process.extract(query, choices, scorer=fuzz.ratio, limit=5,
                                     score_cutoff=cutoff)
            if scored and scored[0][1] > best[0]:
                top = scored[0][1]
                best = (top, size, [m for m, s, _ in scored if s >= top - 0.01])
        score, size, keys = best
        entries = [e for k in keys for e in self._exact[k] if e.level == level]
        return size, entries, score

    def _bare_name(self, text, tokens, i, all_caps) -> _Candidate | None:
        size, entries = self._longest_exact(tokens, i)
        if not entries:
            return None
        words = [t[0] for t in tokens[i:i + size]]
        compact = "".join(words)
        start, end = tokens[i][1], tokens[i + size - 1][2]
        before = tokens[i - 1][0] if i else ""
        after = tokens[i + size][0] if i + size < len(tokens) else ""
        multiword = size > 1 or any(len(_key(e.name)) > 1 for e in entries)
        ordinary = (compact in COMMON_WORDS or compact in _region_words() or compact in _NOT_NAMES
                    or all(w in COMMON_WORDS for w in words))
        cue = before in PLACE_CUES and any(e.level == "kec" for e in entries)
        strength = 0.5
        kec = [e for e in entries if e.level == "kec"]
        if (ordinary and kec and size == 1 and before in LOCATIVES and compact not in FUNCTION_WORDS
                and compact not in _region_words() and text[start].isupper() and not all_caps
                and after not in ESTATE_WORDS):
            # "jalan rusak di Kapas": a kecamatan written with a capital right after "di" is the
            # place even when its name is an everyday word (kapas cotton, sekar, gayam)
            return _Candidate("any", kec, start, end, 1.0, False, i, i)
        if ordinary or (before in STREET_WORDS and not cue) or after in ESTATE_WORDS:
            pass  # "jl. Kenjeran", "RSUD Dr Soetomo": a street or a building, not where it is
        elif multiword:
            strength = 1.5
        elif (before in LOCATIVES or cue) and (len(compact) >= 7 or (len(compact) >= 5 and (
                not text[start].isupper() or all_caps or not _sentence_start(text, start)))):
            strength = 1.0
        return _Candidate("any", entries, start, end, strength, strength < 1, i, i + size - 1)

    def _resolve(self, text: str, candidates: list[_Candidate]) -> Place | None:
        kecs = [(c, e) for c in candidates for e in c.entries if e.level == "kec"]
        desas = [(c, e) for c in candidates for e in c.entries if e.level == "desa"]
        best_pair = None
        for dc, d in desas:
            for kc, k in kecs:
                if kc is dc or d.kec_code != k.code or max(dc.strength, kc.strength) < 1:
                    continue
                score = dc.strength + kc.strength
                if best_pair is None or score > best_pair[0]:
                    best_pair = (score, dc, d, kc)
        if best_pair is not None:
            _, dc, d, kc = best_pair
            parts = sorted([dc, kc], key=lambda c: c.start)
            return Place(self._kec_of(d.kec_code), d.name, d.code,
                         " … ".join(_show(text, c) for c in parts))
        options: list[tuple[float, int, int, Place]] = []
        for cand in candidates:
            if cand.pair_only:
                continue
            kec_codes = {e.code for e in cand.entries if e.level == "kec"}
            if len(kec_codes) == 1:
                code = kec_codes.pop()
                options.append((cand.strength, 1, -cand.start,
                                Place(self._kec_of(code), None, code, _show(text, cand))))
                continue
            desa_here = [e for e in cand.entries if e.level == "desa"]
            if desa_here and len({e.kec_code for e in desa_here}) == 1:
                d = desa_here[0]
                place = (Place(self._kec_of(d.kec_code), d.name, d.code, _show(text, cand))
                         if len(desa_here) == 1 else
                         Place(self._kec_of(d.kec_code), None, d.kec_code,
                               _show(text, cand)))
                options.append((cand.strength, 0, -cand.start, place))
        if not options:
            return None
        return max(options, key=lambda o: o[:3])[3]

    def _kec_of(self, code: str) -> str:
        return self._kec_name[self._kec_compact[code]]

    @functools.cached_property
    def _kec_compact(self) -> dict[str, str]:
        return {code: "".join(_key(name)) for name, code in self.kecamatan_codes.items()}


def _show(text: str, cand: _Candidate) -> str:
    return " ".join(text[cand.start:cand.end].split())


def _sentence_start(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return not before or before[-1] in ".!?\n:;\"'(" or before.endswith("..")


@functools.lru_cache(maxsize=8)
def _build(code: str) -> Gazetteer:
    rows = _rows(code + ".", levels=(2, 3))
    kec_codes = {name: c for c, name in rows if c.count(".") == 2}
    by_code = {c: name for name, c in kec_codes.items()}
    desa: dict[str, dict[str, str]] = {c: {} for c in by_code}
    gaz = Gazetteer(_regencies()[code], code, kec_codes, desa)
    entries: list[_Entry] = [_Entry("kec", c, name, c) for name, c in kec_codes.items()]
    for c, name in rows:
        if c.count(".") == 3:
            parent = c.rpartition(".")[0]
            desa[parent][name] = c
            entries.append(_Entry("desa", c, name, parent))
    for entry in entries:
        words = _key(entry.name)
        for key in {" ".join(words), "".join(words)}:
            gaz._exact.setdefault(key, []).append(entry)
        compact = "".join(words)
        bucket = gaz._fuzzy.setdefault((entry.level, compact[:1]), [])
        if compact not in bucket:
            bucket.append(compact)
    gaz._kec_name.update({"".join(_key(name)): name for name in kec_codes})
    _region_words()  # load now, not during the first find()
    return gaz
