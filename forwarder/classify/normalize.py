"""Normalise complaint text as citizens really write it, before features are taken.

``normalize(text) -> str`` returns lower-case words separated by single spaces (possibly ``""``);
``tokens(text) -> list[str]`` the same words as a list. What it does, in order:

1. Unicode NFKC (turns the "bold" and "italic" letters of tweets into plain letters), HTML entities
   decoded and tags removed; at most :data:`MAX_CHARS` characters are read (a 10,000-character text
   is cut, never refused).
2. URLs, e-mail addresses, ``@mentions`` (``@LAPOR1708`` says nothing about the topic) and the
   redaction placeholders of the shared data (``<NOMOR_HP>``) are dropped; ``#hashtags`` keep their
   word (``#jalanrusak`` -> ``jalanrusak``).
3. Digits are dropped (``rt 05`` and phone numbers carry no topic; measured in
   bench/RESULTS-classifier.md), letters repeated three times or more collapse to one
   (``rusakkkk`` -> ``rusak``).
4. Each word goes through :data:`SLANG`: SMS/tweet abbreviations and East-Javanese words to the
   standard Indonesian word (``jln`` -> ``jalan``, ``gk`` -> ``tidak``, ``dalan`` -> ``jalan``,
   ``banyu`` -> ``air``); an entry may expand to several words (``pju``).
5. Greetings, sign-offs and forms of address (:data:`FILLER`: ``assalamualaikum``, ``min``,
   ``matur nuwun``) are dropped, so "selamat pagi min" alone leaves no usable word.

The lexicons are written for this project from everyday SMS/tweet usage in East Java; the choice of
steps was measured on the shared Surabaya data (bench/bench_classifier.py), keeping what helped.
"""

from __future__ import annotations

import html
import re
import unicodedata

MAX_CHARS = 4000
"""Characters of a complaint that are read; the rest is ignored (SMS complaints are < 1,000)."""

_TAG = re.compile(r"<[^<>]{0,200}>")
_URL = re.compile(r"(?:https?://|www\.)\S+")
_DOMAIN = re.compile(r"[\w.-]*\.(?:com|id|co|net|org|ly)\b\S*")
_TLD = re.compile(r"\.(?:com|id|co|net|org|ly)")  # cheap test before _DOMAIN
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_LETTERS_ONLY = bytes(c if 97 <= c <= 122 else 32 for c in range(256))
_EMAIL = re.compile(r"\S+@\S+\.\S+")
_MENTION = re.compile(r"@\w+")
_ELONGATED = re.compile(r"([a-z])\1{2,}")

SLANG: dict[str, str] = {
    # SMS / tweet abbreviations
    "yg": "yang", "ygn": "yang", "sdh": "sudah", "sudh": "sudah", "udh": "sudah", "udah": "sudah",
    "dah": "sudah", "blm": "belum", "blum": "belum", "lom": "belum", "mhn": "mohon", "mohn": "mohon",
    "jln": "jalan", "jl": "jalan", "jaln": "jalan", "jlan": "jalan", "gk": "tidak", "ga": "tidak",
    "gak": "tidak", "gag": "tidak", "nggak": "tidak", "ngga": "tidak", "enggak": "tidak",
    "ndak": "tidak", "tdk": "tidak", "tak": "tidak", "g": "tidak", "krn": "karena",
    "karna": "karena", "krna": "karena", "dgn": "dengan", "dg": "dengan", "dngn": "dengan",
    "utk": "untuk", "untk": "untuk", "tlg": "tolong", "tlong": "tolong", "sy": "saya", "sya": "saya",
    "aq": "saya", "aku": "saya", "gw": "saya", "gue": "saya", "kmi": "kami",
    "bpk": "bapak", "bp": "bapak", "dr": "dari", "dri": "dari", "sm": "sama", "jg": "juga",
    "bgt": "sekali", "banget": "sekali", "skrg": "sekarang", "skg": "sekarang", "tp": "tapi",
    "tpi": "tapi", "lg": "lagi", "dlm": "dalam", "spt": "seperti", "kyk": "seperti",
    "kayak": "seperti", "org": "orang", "kl": "kalau", "klo": "kalau", "kalo": "kalau",
    "gmn": "bagaimana", "gimana": "bagaimana", "knp": "kenapa", "trs": "terus", "bnyk": "banyak",
    "byk": "banyak", "dpt": "dapat", "bs": "bisa", "bsa": "bisa", "hrs": "harus", "msh": "masih",
    "masi": "masih", "kpd": "kepada", "pd": "pada", "tsb": "tersebut", "thn": "tahun",
    "bln": "bulan", "hr": "hari", "sklh": "sekolah", "skolah": "sekolah", "rmh": "rumah",
    "kel": "kelurahan", "kec": "kecamatan", "ds": "desa", "kab": "kabupaten", "kades": "kepala desa",
    "pjs": "pejabat", "pju": "lampu jalan", "lpju": "lampu jalan",
    "lmp": "lampu", "sampahnya": "sampah", "bsm": "bantuan", "bansos": "bantuan sosial",
    "blt": "bantuan tunai", "pkh": "bantuan keluarga", "ektp": "ktp",
    "akte": "akta", "dispenduk": "dukcapil", "dispendukcapil": "dukcapil", "puskes": "puskesmas",
    "rs": "rumah sakit", "rsud": "rumah sakit", "dishub": "perhubungan", "ortu": "orang tua",
    "umk": "upah", "gaji": "upah", "bbrp": "beberapa",
    "sj": "saja", "aja": "saja", "ae": "saja", "tok": "saja", "emg": "memang", "emang": "memang",
    "bkn": "bukan", "sblm": "sebelum", "stlh": "setelah", "pdhl": "padahal", "sampe": "sampai",
    "smpe": "sampai", "lbh": "lebih", "kurg": "kurang",
    "krg": "kurang", "trims": "terima kasih", "makasih": "terima kasih", "mksh": "terima kasih",
    "tq": "terima kasih", "thx": "terima kasih", "mks": "terima kasih",
    # East Javanese words (ngoko and krama) common in complaints
    "dalan": "jalan", "ndalan": "jalan", "dalane": "jalan", "banyu": "air", "banyune": "air",
    "wong": "orang", "uwong": "orang", "mboten": "tidak", "ora": "tidak",
    "sampun": "sudah", "wis": "sudah", "wes": "sudah", "uwis": "sudah", "dereng": "belum",
    "durung": "belum", "kalen": "selokan", "got": "selokan", "peteng": "gelap",
    "akeh": "banyak", "nang": "di", "neng": "di", "ning": "di", "teng": "di", "karo": "dengan",
    "sing": "yang", "ingkang": "yang", "iki": "ini", "niki": "ini", "iku": "itu", "kuwi": "itu",
    "niku": "itu", "ono": "ada", "onok": "ada", "enek": "ada", "wonten": "ada", "larang": "mahal",
    "tandur": "tanam", "pari": "padi", "bocah": "anak", "lare": "anak", "lara": "sakit",
    "gering": "sakit", "omah": "rumah", "griya": "rumah", "sekolahan": "sekolah", "gawe": "buat",
    "ndamel": "buat", "ndang": "segera", "cepet": "cepat", "ketok": "terlihat", "mlebu": "masuk",
    "metu": "keluar", "tekan": "sampai", "suwi": "lama", "suwe": "lama", "dino": "hari",
    "sasi": "bulan", "piye": "bagaimana", "pripun": "bagaimana", "opo": "apa", "nopo": "apa",
    "rusake": "rusak", "bolong": "berlubang", "growong": "berlubang", "jeglongan": "lubang",
    "mampet": "tersumbat", "buntu": "tersumbat", "kebanjiran": "banjir", "mbanjiri": "banjir",
    "uwuh": "sampah", "rereged": "sampah", "lampune": "lampu", "dalanan": "jalan",
    "kesuwen": "terlalu lama", "kuwalik": "terbalik", "nyuwun": "mohon", "njaluk": "minta",
    "tulung": "tolong", "tulungen": "tolong", "tulungono": "tolong", "kulo": "saya",
    "kula": "saya", "awakdewe": "kami", "wargi": "warga", "deso": "desa", "sawahe": "sawah",
    "tikuse": "tikus", "pupuke": "pupuk", "rabuk": "pupuk", "obate": "obat", "pakane": "pakan",
}
"""Word -> standard Indonesian word(s). Keys are lower case, letters only (as tokens are)."""

FILLER: frozenset[str] = frozenset(
    """
    assalamualaikum assalamu alaikum assalamualaikom asslmkm aslm aslmkm ass wr wb warahmatullahi
    wabarakatuh salam selamat pagi siang sore malam met min mimin admin minn lapor om mas mbak
    mba kak gan sob lur dulur sedulur rek cak ning bapak ibu pak bu bpk yth kepada hormat
    terima kasih matur nuwun suwun sembah nuwun mator sakalangkong wassalam wassalamualaikum
    mohon tolong please pls plis monggo mangga nggih njih ya iya yah nya dong deh kok sih lho
    loh toh lah kah pun tah ah eh oh hehe haha wkwk wkwkwk mohonn
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
"""Greetings, sign-offs, forms of address and particles: no evidence of a topic."""


def _special_words() -> dict[str, tuple[str, ...]]:
    """Every word that is not kept as it is -> what it becomes (``()`` for filler)."""
    special: dict[str, tuple[str, ...]] = {w: () for w in FILLER}
    for word, standard in SLANG.items():
        special[word] = tuple(p for p in standard.split() if p not in FILLER and len(p) > 1)
    return special


_SPECIAL = _special_words()


_cache: dict[bytes, tuple[str, ...]] = {}


def _word(raw: bytes) -> tuple[str, ...]:
    """What one lower-case ASCII word becomes: elongation collapsed, slang mapped, filler dropped."""
    word = _ELONGATED.sub(r"\1", raw.decode("ascii"))
    replaced = _SPECIAL.get(word)
    if replaced is None:
        replaced = (word,) if len(word) > 1 else ()
    if len(_cache) > 200_000:
        _cache.clear()
    _cache[raw] = replaced
    return replaced


def warm(words: list[str]) -> None:
    """Fill the word cache with ``words`` (a model's vocabulary), so first texts are fast too."""
    for word in words:
        if word.isascii() and word.encode() not in _cache:
            _word(word.encode())


def _ascii(text: str) -> str:
    """NFKC (tweet "bold" letters -> plain), accents stripped, other non-ASCII -> space."""
    text = unicodedata.normalize("NFKC", text)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
        text = _NON_ASCII.sub(" ", text)
    return text


def tokens(text: str) -> list[str]:
    """The usable words of a complaint (see the module doc), in order; ``[]`` if there are none.

    Never raises on odd input: ``None`` and non-text values give ``[]``.
    """
    if not isinstance(text, str) or not text:
        return []
    text = text[:MAX_CHARS]
    if "&" in text:
        text = html.unescape(text)
    if not text.isascii():
        text = _ascii(text)
    if "<" in text:
        text = _TAG.sub(" ", text)
    text = text.lower()
    if "@" in text:
        text = _EMAIL.sub(" ", text)
        text = _MENTION.sub(" ", text)
    if "http" in text or "www." in text:
        text = _URL.sub(" ", text)
    if _TLD.search(text):
        text = _DOMAIN.sub(" ", text)
    get = _cache.get
    words: list[str] = []
    for raw in text.encode("ascii").translate(_LETTERS_ONLY).split():
        found = get(raw)
        words += found if found is not None else _word(raw)
    return words


def normalize(text: str) -> str:
    """``tokens(text)`` joined by single spaces; ``""`` when the text has no usable words."""
    return " ".join(tokens(text))


STOPWORDS: frozenset[str] = frozenset(
    """
    di ke dari yang dan atau tidak bukan ini itu ada sudah belum sangat sekali untuk dengan karena
    pada saya kami kita kamu anda dia mereka juga sama lagi akan bisa dapat jadi tapi tetapi namun
    agar supaya sehingga oleh dalam atas bawah para sebagai seperti masih harus mau ingin minta
    kalau jika apa bagaimana kenapa mengapa kapan siapa mana sini sana situ saja hanya pun
    sejak sampai hingga terus lebih kurang banyak sedikit semua setiap tiap beberapa telah
    sedang baru lama hari bulan tahun jam kali adalah yaitu tersebut nya mohon tolong segera
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
"""Common function words: kept as features (they carry some signal in n-grams) but never shown to
officers as a complaint's keywords."""
