"""Mask the personal data a citizen typed into a complaint before officers see it.

``mask(text)`` replaces each piece of personal data with an Indonesian placeholder:

========  =========================================================================================
``[NIK]``    NIK (and other 15-17 digit identity numbers), written whole or grouped: ``3522 0112 3456
             0001``, ``3522.0112.3456.0001``; ``[NO KK]`` when "KK"/"kartu keluarga" comes just before
``[NO HP]``  phone numbers in every Indonesian form: ``0812…``, ``+62 812…``, ``62-812…``, ``(0353)
             881234``, with spaces, dashes or dots
``[EMAIL]``  e-mail addresses
``[NO REK]`` bank account numbers after their cue (``rek BCA 1234567890``, ``no. rekening: …``)
``[AKUN]``   ``@accounts`` inside the text (X user names; the source drops the leading ones;
             Instagram/TikTok names with dots), and the account in ``x.com/NAME/status/…``,
             ``twitter.com/NAME``, ``instagram.com/NAME``, ``facebook.com/NAME`` addresses
``[PLAT]``   vehicle plates: ``S 1234 AB``, ``L1234XY`` (1-2 letter area code of the Korlantas list,
             1-4 digits, 1-3 letters)
``[NAMA]``   names introduced as names: ``nama saya …``, ``atas nama …``, ``a.n. …``, ``an. …``,
             ``saya bernama …``, ``dengan saya …``, ``pelapor:``/``pengadu:``/``pengirim:``,
             ``an Nama`` (atas nama, without its dot; not ``An`` or an acronym: ``an PDAM``),
             ``dari:``, form fields (``Nama Siswa : …``, not ``Nama Sekolah : …``), ``nama`` before
             a capitalised name (``dengan nama Siti Aisyah``; not ``balik nama PBB``),
             ``saya Bapak/Ibu/Pak/Bu/Sdr …``; a plain ``saya`` before 2-4 capitalised words in a
             text not in Title Case throughout (``saya Budi Santoso, warga …``), or before one
             when the introduction goes on (``saya Dhani ingin …``, ``saya Nina, …``); and
             signatures (``Hormat saya, Sri Wahyuni``, ``… Terima kasih. Salam, Fahmi``,
             ``Terima kasih, Edward``); 1-4
             name words, stopping at words that are not names (``dari``, ``warga``, ``RT``,
             numbers, punctuation); forms of address and kin words stay (``atas nama ibu
             [NAMA]``)
========  =========================================================================================

Left alone on purpose: tracking codes (``7K3Q9M``), dates and times, RT/RW and house numbers,
amounts (``8,5jt``, ``Rp 1.500.000``), place names, and names nobody introduced (the mayor
greeted as "Pak Eri"): officers need those to act.

Measured on the 12,530 Surabaya complaints in ``shared/data`` (2026-11-29): the one-word
introductions, signatures, ``an`` without its dot, ``pelapor:``/``dari:``-style cues, form fields
(``Nama Siswa : ...``), ``nama`` before a capitalised name and account addresses added that day
change 221 rows (209 gain a name mask, 5 an account, 4 lose a wrong one such as "a/n [NAMA] RW"
for "a/n Pengurus RW", 3 a mask ends before "Tempat lahir"); read one by one, 3 of the new names are not names ("Salam Penegak
Disiplin", a slogan; "saya Inggris mau ..." may be one; "perbedaan nama M dengan Moch"). Not masked, because nothing but
a list of names could tell them from other words: names in texts written all in capitals or all
in lower case after a plain "saya" ("SAYA BUDI SANTOSO WARGA ...": of 111 such lower-case
phrases in the data, 3 are names).

Choice of tools (measured on the same complaints):

* phone numbers: the ``phonenumbers`` library (Google libphonenumber metadata, region ID, kept
  up to date since 2011, Apache-2.0), whose ``PhoneNumberMatcher`` finds numbers in free text in
  all the written forms above; we keep only its matches that start like an Indonesian number
  (``0``/``62``/``+``) and have 9-15 digits, and add a pattern for mobile numbers it rejects as
  impossible (``0812 3456 7890 12``: typed one digit too many).
* the rest: a few regular expressions here. ``lokal-id`` 0.7.2 (MIT, PyPI) is the one package
  with Indonesian PII rules (its ``Samaran``); it is a young beta, and on the Surabaya complaints
  its name rule alone fired on 3,116 spans, 708 rows without any name cue ("Melakukan Keluhan",
  "Indomaret", the mayor's name), and its address/health rules mask what officers must read
  ("demam berdarah", "Jl. Bendul Merisi no 3"). Microsoft Presidio has no Indonesian recognisers
  and needs spaCy models. Neither fits a text that officers must still be able to act on.

:func:`mask` never raises on text (empty, emoji, HTML, 10,000+ characters); a non-string raises
``TypeError``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers

PLACEHOLDERS = {"NIK": "[NIK]", "KK": "[NO KK]", "HP": "[NO HP]", "EMAIL": "[EMAIL]",
                "AKUN": "[AKUN]", "PLAT": "[PLAT]", "NAMA": "[NAMA]", "REK": "[NO REK]"}
# when two findings overlap, the earlier kind in this order wins
_PRIORITY = ("EMAIL", "REK", "NIK", "KK", "HP", "AKUN", "PLAT", "NAMA")


@dataclass(frozen=True, order=True)
class Span:
    """One piece of personal data: ``text[start:end]`` is of ``kind`` (a key of PLACEHOLDERS)."""

    start: int
    end: int
    kind: str

    @property
    def placeholder(self) -> str:
        return PLACEHOLDERS[self.kind]


# -- numbers ------------------------------------------------------------------------------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63})*"
                    r"\.[A-Za-z]{2,24}")
# X handles are 1-15 of [A-Za-z0-9_]; Instagram and TikTok allow up to 30 and inner dots
_ACCOUNT = re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_]|\.(?=[A-Za-z0-9_])){0,29}(?![\w@])")
# the account in a profile or post address: "x.com/budi_s/status/1", "instagram.com/budi.s";
# TikTok addresses name accounts with "@", which _ACCOUNT finds; the paths listed are not accounts,
# nor are other hosts' paths ("pic.twitter.com/AbC1" is a photo)
_PROFILE_URL = re.compile(
    r"(?<![\w.\-])(?:(?:www|m|mobile)\.)?(?:x|twitter|instagram|facebook|fb|threads)\.(?:com|net)/(?!(?:reels?|p|tv|stories|status|i"
    r"|intent|share|sharer|hashtag|explore|search|home|watch|groups|events|pages|photos?|videos?"
    r"|story\.php|permalink\.php|profile\.php|login|[a-z]+\.php)(?![\w.]))"
    r"([A-Za-z0-9_](?:[A-Za-z0-9_]|\.(?=[A-Za-z0-9_])){0,49})", re.IGNORECASE)
# 15-17 digits, whole or in groups of 2-6 joined by one space, dot or dash
_ID_NUMBER = re.compile(r"(?<![\d.,])(?<![\d][ .\-])(?:\d{15,17}|\d{2,6}(?:[ .\-]\d{2,6}){1,7})"
                        r"(?![ .\-]?\d)")
# a bank account number after its cue: "rek BCA 1234567890", "no. rekening: 0123-01-000123-50-1"
_ACCOUNT_NUMBER = re.compile(r"\b(?:rek(?:ening)?|norek|no\.?\s*rek(?:ening)?)\b\.?\s*(?:bank\s+)?"
                             r"(?:[A-Za-z]{2,10}\s*)?[:.]?\s*(?P<number>\d(?:[ .\-]?\d){7,24})(?!\d)",
                             re.IGNORECASE)
_AMOUNT = re.compile(r"\d{1,3}(?:[.,]\d{3})+")
_KK_CUE = re.compile(r"(?:\bkk|kartu\s+keluarga)\W{0,3}(?:no\.?|nomor|nmr)?\W{0,3}$", re.IGNORECASE)
_INSIDE_CODE = re.compile(r"(?:\w|\w[\-/.,'’])$")
_SERVICE_NUMBER = re.compile(r"\(?(?!62)\d{2}[ .\-/)]")
_MOBILE = re.compile(r"(?<![\d+])(?:\+?62|0)[ .\-]?8\d(?:[ .\-]?\d){6,12}(?![ .\-]?\d)")


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _id_numbers(text: str) -> list[Span]:
    spans = []
    for m in _ID_NUMBER.finditer(text):
        value = m.group()
        if not 15 <= len(_digits(value)) <= 17 or value.startswith("0"):
            continue  # NIK starts with a province code (11-96); 0… is a phone number
        if any(_AMOUNT.fullmatch(part) for part in value.split()):
            continue  # "15.000.000 20.000.000" is money
        kind = "KK" if _KK_CUE.search(text[max(0, m.start() - 25):m.start()]) else "NIK"
        spans.append(Span(m.start(), m.end(), kind))
    return spans


def _phones(text: str) -> list[Span]:
    spans = []
    matcher = phonenumbers.PhoneNumberMatcher(text, "ID", leniency=phonenumbers.Leniency.POSSIBLE)
    for match in matcher:
        digits = _digits(match.raw_string)
        if not 9 <= len(digits) <= 15:
            continue
        if not (match.raw_string.lstrip("(").startswith(("0", "+")) or digits.startswith("62")):
            continue  # "Rp 1.500.000", "2023-0042": not written like a phone number
        if _INSIDE_CODE.search(text[max(0, match.start - 2):match.start]):
            continue  # "DNS000050485", "3578-KM-02032023-0129", "2'500'000": part of a code
        if _SERVICE_NUMBER.match(match.raw_string):
            continue  # PBB service numbers "03.01.2023.02.0028": no area code has 2 digits
        spans.append(Span(match.start, match.end, "HP"))
    spans += [Span(m.start(), m.end(), "HP") for m in _MOBILE.finditer(text)]
    return spans


# -- plates ---------------------------------------------------------------------------------------

# area codes of Indonesian number plates (TNKB), Korlantas Polri
_AREA_CODES = """A AA AB AD AE AG B BA BB BD BE BG BH BK BL BM BN BP D DA DB DC DD DE DG DH DK DL DM
    DN DR DS DT DW E EA EB ED F G H K KB KH KT KU L M N P PA PB R S T W Z""".split()
_PLATE = re.compile(r"(?<![\w/.\-])(" + "|".join(sorted(_AREA_CODES, key=len, reverse=True))
                    + r")( ?)(\d{1,4})( ?)([A-Z]{1,3})(?![\w\-/])", re.IGNORECASE)
_VEHICLE_CUE = re.compile(r"(?:plat|pelat|nopol|no\.?\s*pol|nomor\s+polisi|tnkb|kendaraan|motor|"
                          r"mobil|truk|truck|bus|bis|angkot|pick\s?up|sedan|avanza|xenia|"
                          r"kijang|honda|yamaha|suzuki|toyota|mitsubishi|daihatsu)\b", re.IGNORECASE)
_NOT_SUFFIX = frozenset({"RT", "RW", "NO", "GG", "JL", "KM", "RP", "KG", "JT", "RB", "RBU", "JAM",
                         "THN", "BLN", "HR", "CM", "MM", "ML", "LT", "PM", "AM", "WIB", "TH", "AN",
                         "DAN", "DI", "KE", "YG", "SD", "SMP", "SMA", "MI", "MTS", "MA"})
_NOT_BEFORE = re.compile(r"(?:blok|no|nomor|nmr|kav|kavling|gg|gang|rumah|lantai|lt|kamar|kode|"
                         r"tiket|ruang|rt|rw)\W{0,2}$", re.IGNORECASE)
# tracking codes are 6 characters of this alphabet (forwarder.store.TRACKING_ALPHABET)
_TRACKING = re.compile(r"[0-9ABCDEFGHJKMNPQRSTVWXYZ]{6}")


def _plates(text: str) -> list[Span]:
    spans = []
    for m in _PLATE.finditer(text):
        _area, gap1, digits, gap2, letters = m.groups()
        value = m.group()
        if letters.upper() in _NOT_SUFFIX:
            continue
        before = text[max(0, m.start() - 40):m.start()]
        vehicle = bool(_VEHICLE_CUE.search(before))
        if not vehicle and _NOT_BEFORE.search(before):
            continue
        upper = value.upper() == value
        if not vehicle:
            if not upper or len(digits) == 1:
                continue  # "dr 2019 phk", "BB 5 B": a plate in lower case needs "motor", "plat"...
            if not gap1 and not gap2 and _TRACKING.fullmatch(value.upper()):
                continue  # could be a tracking code
        spans.append(Span(m.start(), m.end(), "PLAT"))
    return spans


# -- names ----------------------------------------------------------------------------------------

_STRONG_CUE = re.compile(
    r"(?:\bnama(?:\s+(?:saya|sy|lengkap))?\s*\([^()\n]{0,60}\)\s*:"
    r"|\b(?:nama\s+(?:saya|sy|sya|kami|lengkap)|atas\s+nama|(?:saya|sy)\s+bernama|bernama"
    r"|dengan\s+(?:saya|sy)|perkenalkan\s*,?\s*(?:saya|sy)|kulo\s+nami|nami\s+kulo)(?!\w)"
    r"|\bnama\s*:|\b(?:pelapor|pengadu|pengirim|dari)\s*:|\ba\s*[./]\s*n\b\.?|(?<![\w.'’])an\.)\s*[:,]?\s*",
    re.IGNORECASE)
_WEAK_CUE = re.compile(r"\b(?:saya|sy|kulo)\s+(?=(?:bapak|bpk|ibu|pak|bu|sdr|sdri|saudara|saudari"
                       r"|mas|mbak|mbk|mba)\b)", re.IGNORECASE)
# "an" without its dot ("KIA an Nadin Zivanna", "PKH an Mira"): atas nama; not "An" ("masjid An
# Nur", an Arabic article) nor "kelalai an petugas" (a word broken by a space)
_AN_CUE = re.compile(r"(?<![\w.'’\"])(?:an|AN)\s+(?=[A-Z])")
# a form's field: "Nama Siswa : Fany", "Nama Orang Tua : Nuryanti" (not "Nama Sekolah : SMP ...")
_FORM_FIELD = re.compile(r"\b(?i:nama)\s+(?P<label>[^\W\d_]+(?:\s+[^\W\d_]+)?)\s*:\s*")
_NOT_PERSON_FIELD = frozenset("""
    sekolah instansi jalan desa kelurahan kecamatan perusahaan pt cv bank toko usaha program file
    akun lembaga rs puskesmas kantor dinas aplikasi produk barang kegiatan paket obat restoran
    warung depot kios pasar tempat gedung masjid musholla kampung perumahan
""".split())
# "nama" before a capitalised word: "nama Slamet", "bahwa nama Siti Aisyah"
_NAME_BEFORE = re.compile(r"(?<![\w])(?i:nama)\s+(?=[A-Z])")
_ACRONYM = re.compile(r"[A-Z]{2,4}")
_NAME_WORD = re.compile(r"(?:[^\W\d_]\.(?=[^\W\d_]))?[^\W\d_](?:[^\W\d_]|['’\-](?=[^\W\d_]))*\.?")
# kept visible before a name: "atas nama ibu [NAMA]", "a.n. anak saya [NAMA]"
_ADDRESS = frozenset("""
    bapak bpk bp ibu pak bu sdr sdri saudara saudari mas mbak mbk mba kak dik adik h hj haji hajjah
    dr ir drs dra alm almarhum almarhumah tn ny nn nona nyonya tuan
    anak suami istri isteri keponakan cucu adik kakak ayah mertua menantu ortu orang tua saya sy
    kami kulo ku mama papa bunda abah umi ank kakek nenek mbah eyang om tante paman bibi si sang adek
""".split())
# words that end a name (lower-cased); numbers and punctuation end it too
_STOP = frozenset("""
    dari dr di yang yg mau ingin pengen arep badhe warga tinggal rt rw alamat beralamat dengan dgn
    dan atau untuk utk sebagai selaku ketua mohon minta ingin akan sudah sdh belum blm tidak tdk
    gak ga ini itu kok mengeluh melaporkan lapor menyampaikan mengadu seorang salah rumah tangga
    hamil janda duda lansia pensiunan guru petani pedagang mahasiswa mahasiswi siswa siswi pelajar
    driver ojek karyawan pegawai asn pns buruh nelayan pemilik no nomor nmr nik kk hp wa telp
    telepon email umur usia tahun thn kelas sejak pada ke kepada jl jln jalan gang gg desa ds kec
    kecamatan kel kelurahan kab kabupaten kota dusun dsn blok perum sing teko saking ingkang nyuwun
    njaluk asli juga jg sekarang skrg kemarin tadi bisa tolong mengajukan minta pemohon pelapor
    selamat pagi siang sore malam terima kasih adalah ialah merupakan punya mempunyai tersebut tsb
    belom masih msh sdg sedang telah tlh ada ingin mohon saat waktu ketika yth kpd bersama beserta
    serta alamatnya status nya pun lah kah ya iya yaitu yakni ko masuk keluar muncul hilang ganti
    salah keliru beda berbeda sama rmh tgl aja saja cuma hanya kenapa knp mengapa apa apakah tapi
    tetapi namun sy sya tp tpi dia ia beliau mereka kita anda kamu lain nama kepala keluarga
    bagian blum status setatus dapat karena krn hp wa sebelumnya pemerintah mbaknya wajib hampir
    tiap pengurus tempat tanggal lahir ttl
""".split())
# abbreviated first names and particles, whose case says nothing: "moh. Dahlan", "al Hadid"
_ABBREVIATED = frozenset("m moh muh mhd moch much mochd abd st al el bin binti".split())
# lower-case words with these verb prefixes are verbs, not names ("nama saya terblokir")
_VERB = re.compile(r"(?:ter|di|me|mem|men|meng|ber|ke|per)[a-z]{4,}")
_MAX_NAME_WORDS = 4


def _style(word: str) -> str:
    letters = [c for c in word if c.isalpha()]
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return "upper"
    return "title" if letters and letters[0].isupper() else "lower"


def _name_after(text: str, pos: int, weak: bool, lowercase_text: bool) -> Span | None:
    """The name that starts at ``pos`` (after a cue), or ``None``."""
    start = end = None
    style = ""
    count = 0
    i = pos
    while count < _MAX_NAME_WORDS:
        gap = re.match(r"[ \t]*", text[i:]).end()  # type: ignore[union-attr]
        m = _NAME_WORD.match(text, i + gap)
        if m is None:
            break
        word = m.group()
        bare = word.rstrip(".").lower()
        if start is None and bare in _ADDRESS:
            i = m.end()
            continue  # a form of address or kin word before the name stays visible
        if bare in _STOP or bare in _ADDRESS:
            break
        word_style = _style(word)
        if bare in _ABBREVIATED:
            start = m.start() if start is None else start
            end, i = m.end(), m.end()
            if text[i:i + 1] not in (" ", "\t"):
                break
            continue  # its case says nothing; the next word sets the style
        if start is None or not style:
            if weak and word_style == "lower" and not lowercase_text:
                return None  # "saya ibu hamil": after a weak cue a name is capitalised
            if word_style == "lower" and _VERB.fullmatch(bare):
                return None  # "nama saya terblokir"
            style = word_style
            start = m.start() if start is None else start
        elif (style == "lower") != (word_style == "lower") or (
                style == "upper" and word_style == "title") or (
                word_style == "lower" and _VERB.fullmatch(bare)):
            break  # "atas nama Eko Sugiantoro mengeluh", "a.n. FAHDA FIKRY Kok", "… dicoret"
        end = m.end()
        count += 1
        i = m.end()
        if word.endswith(".") and len(bare) > 1:
            end -= 1
            break  # a full stop after a word ends the sentence
        if text[i:i + 1] not in (" ", "\t"):
            break  # a comma, bracket, slash or line end ends the name
    if start is None or end is None or end <= start:
        return None
    return Span(start, end, "NAMA")


_BARE_CUE = re.compile(r"\b(?i:saya|sy|aku)(?:\s*,)?\s+(?=[A-Z])")
_WORD = re.compile(r"[^\W\d_]+")
# "kampung saya Candi Lontar", "tagihan saya Bulan April": "saya" owns a place or a thing there
_PLACE_BEFORE = re.compile(r"\b(?:di)?(?:kampung|kampungnya|tempat(?:\s+tinggal)?|rumah|wilayah|daerah|lingkungan|"
                           r"kawasan|desa|dusun|kelurahan|kecamatan|gang|jalan|jl|perumahan|domisili|"
                           r"tagihan|rekening|pembayaran)\s+$", re.IGNORECASE)
_NOT_FIRST_NAME = frozenset("""
    ber bulan cek kos kost januari februari maret april mei juni juli agustus september oktober
    november desember senin selasa rabu kamis jumat sabtu minggu sangat kembali baru
    terima hormati harap harapkan rasa rasakan lihat alami sampaikan tanyakan laporkan ajukan
    kirim tunggu bayar urus cari kira pikir dengar baca tulis bilang kasih minta juga hanya cuma
""".split())
# "yang saya Hormati", "bisa saya Terima": "saya" is the doer of a verb there, no name follows
_AGENT_BEFORE = re.compile(r"\b(?:yang|yg|bisa|bs|dapat|dpt|akan|sudah|sdh|telah|tlh|pernah|harus"
                           r"|perlu|sempat|tidak|tdk|belum|blm)\s+$", re.IGNORECASE)
# after a one-word name, a self-introduction goes on like this: "saya Dhani ingin ...", "saya Nina, ..."
_INTRO_GOES_ON = re.compile(r"\s*,|\s+(?:\+?62|0)8\d|\s*(?:dari|dr|warga|tinggal|asal|mau|ingin|pengen|selaku"
                            r"|sebagai|yang|yg)\b", re.IGNORECASE)


def _bare_name(text: str, cue: int, pos: int) -> Span | None:
    """A name right after a plain "saya" (the cue at ``cue``, the name from ``pos``): capitalised
    words in a text that is not written in Title Case or capitals throughout ("saya Budi Santoso,
    warga ..."), so that "saya Sangat Kecewa" in a Title-Case text or "SAYA MOHON" stay as they
    are; one word only when the introduction goes on after it ("saya Dhani ingin ...", "saya Nina,
    ..."); not after a place or a bill that "saya" owns ("kampung saya Candi Lontar Kulon",
    "tagihan saya Bulan April"), nor where "saya" does a verb ("yang saya Hormati"). Measured on
    the Surabaya complaints: see the module docstring."""
    span = _name_after(text, pos, True, False)
    if span is None:
        return None
    words = text[span.start:span.end].split()
    if any(_style(w) != "title" for w in words):
        return None
    if (len(words) == 1 or "," in text[cue:pos]) and not _INTRO_GOES_ON.match(text, span.end):
        return None  # "Saya, Budi Santoso, warga ...": after "saya," the introduction goes on too
    before = text[max(0, cue - 40):cue]
    if words[0].lower().rstrip(".") in _NOT_FIRST_NAME or _PLACE_BEFORE.search(before) or (
            _AGENT_BEFORE.search(before)):
        return None
    if any(_VERB.fullmatch(w.lower()) or w.lower().endswith("nya") for w in words):
        return None  # "KK saya Dipersulit Oleh ...", "saya Zafril Yamani Kerjanya ..."
    return span


# a signature: "... Terima kasih. Hormat saya, Sri Wahyuni", "Salam, Fahmi" ("Dengan hormat"
# and "tanpa mengurangi rasa hormat" open or go on with a sentence instead)
_SIGN_OFF = re.compile(r"(?<!\w)(?<!rasa )(?<!dengan )(?<!segala )(?:(?:salam\s+)?hormat\s+(?:saya|sy|kami)"
                       r"|wassalam|salam|(?P<thanks>terima\s*kasih|makasih|matur\s*(?:nuwun|suwun)|maturnuwun)"
                       r"(?=\s*,))(?!\w)\s*[,:]?\s*(?:ttd\b\.?\s*)?", re.IGNORECASE)
# "Salam sejahtera", "Wassalam Wr. Wb.", "Hormat kami, Sekretaris RT 05": no name follows
_NOT_SIGNATURE = frozenset("""
    sejahtera hangat sehat kenal damai hormat takzim sukses semangat satu perubahan merdeka
    pancasila kompak selalu jiwa wr wb sekretaris bendahara wakil pengurus koordinator lurah camat
    admin panitia tim pengelola direktur humas kabid kasi staf tuhan salam matursembah semoga
    bupati walikota wali gubernur kades sebelumnya atas banyak wass wassalam wasalam
""".split())
_ONLY_SIGNS_AFTER = re.compile(r"[\W_]*$")


def _signature(text: str, m: re.Match[str], lowercase_text: bool) -> Span | None:
    """The name after a sign-off cue ``m``. "Hormat saya/kami" signs wherever it stands; a plain
    "salam" only in the second half of the text (at the start, "Salam, Pak Eri" greets someone),
    and without a comma after it only before a name that ends the text ("Terima kasih. Salam
    Eko", not "tanpa salam senyum serta ..."); "terima kasih," not before a form of address
    ("Terima kasih, Pak Camat": thanking someone)."""
    cue = m.group().lower()
    plain_salam = "hormat" not in cue and not m.group("thanks")
    if plain_salam and m.start() * 2 < len(text):
        return None
    first = _WORD.match(text, m.end())
    if first is not None and first.group().lower() in _NOT_SIGNATURE:
        return None
    if m.group("thanks") and first is not None and first.group().lower() in _ADDRESS:
        return None  # "Terima kasih, Pak Camat": thanking someone, not signing
    span = _name_after(text, m.end(), True, lowercase_text)
    if span is None:
        return None
    if plain_salam and "," not in cue and not _ONLY_SIGNS_AFTER.fullmatch(text, span.end):
        return None
    return span


def _name_before(text: str, m: re.Match[str], lowercase_text: bool) -> Span | None:
    """The name after "nama" and a capitalised word (``m``): not a form field (read by
    _FORM_FIELD), not "balik nama" (a transfer of title: "balik nama PBB"), not an acronym or a
    place ("nama DLH", "Nama Restoran"), and not in a text written in Title Case throughout."""
    if _FORM_FIELD.match(text, m.start()) or re.search(r"\bbalik\s+$", text[max(0, m.start() - 12):m.start()],
                                                        re.IGNORECASE):
        return None
    first = _WORD.match(text, m.end())
    if first is None or _ACRONYM.fullmatch(first.group()) or first.group().lower() in _NOT_PERSON_FIELD:
        return None
    span = _name_after(text, m.end(), True, lowercase_text)
    if span is None or _ACRONYM.fullmatch(text[span.start:span.end]):
        return None
    share = _title_share(text, span)
    if share is not None and share >= 0.5:
        return None  # "Saya Tidak Tahu Nama Tukang Sapu Nya": Title Case says nothing
    return span


def _title_share(text: str, span: Span) -> float | None:
    """The share of the words of ``text`` outside ``span`` (acronyms such as NIK or RT aside) in
    Title Case, None when there are none: at 0.5 or more a capital letter says nothing of a name."""
    others = [w for w in _WORD.findall(text[:span.start] + " " + text[span.end:]) if _style(w) != "upper"]
    return sum(_style(w) == "title" for w in others) / len(others) if others else None


def _form_field(text: str, m: re.Match[str], lowercase_text: bool) -> Span | None:
    """The name in a form field ``m`` ("Nama Siswa : Fany"), not in a field of a place or an
    office ("Nama Sekolah : SMP ...")."""
    if set(m.group("label").lower().split()) & _NOT_PERSON_FIELD:
        return None
    return _name_after(text, m.end(), False, lowercase_text)


def _atas_nama(text: str, m: re.Match[str], lowercase_text: bool) -> Span | None:
    """The name after "an" without its dot (``m``); not an acronym: "meter an PDAM", "an SMA
    Kawung" name an office, not a person."""
    first = _WORD.match(text, m.end())
    if first is not None and _ACRONYM.fullmatch(first.group()):
        return None
    return _name_after(text, m.end(), True, lowercase_text)


def _names(text: str) -> list[Span]:
    lowercase_text = not any(c.isupper() for c in text)
    # each cue with how the name after it is read (None: no name there)
    readers: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Span | None]], ...] = (
        (_STRONG_CUE, lambda m: _name_after(text, m.end(), False, lowercase_text)),
        (_WEAK_CUE, lambda m: _name_after(text, m.end(), True, lowercase_text)),
        (_SIGN_OFF, lambda m: _signature(text, m, lowercase_text)),
        (_FORM_FIELD, lambda m: _form_field(text, m, lowercase_text)),
        (_NAME_BEFORE, lambda m: _name_before(text, m, lowercase_text)),
        (_AN_CUE, lambda m: _atas_nama(text, m, lowercase_text)),
    )
    spans = [span for cue, read in readers for m in cue.finditer(text) if (span := read(m)) is not None]
    for m in _BARE_CUE.finditer(text):
        span = _bare_name(text, m.start(), m.end())
        if span is None:
            continue
        share = _title_share(text, span)
        if share is not None and share < 0.5:  # other words there, not Title Case throughout
            spans.append(span)
    return spans


# -- public API -----------------------------------------------------------------------------------


def find_personal_data(text: str) -> list[Span]:
    """Every piece of personal data in ``text``, in order, without overlaps.

    Where findings overlap, the kind earlier in ``EMAIL, NIK, KK, HP, AKUN, PLAT, NAMA`` wins.
    Raises ``TypeError`` when ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, not {type(text).__name__}")
    if not text:
        return []
    found = [Span(m.start(), m.end(), "EMAIL") for m in _EMAIL.finditer(text)]
    found += [Span(m.start("number"), m.end("number"), "REK") for m in _ACCOUNT_NUMBER.finditer(text)]
    found += _id_numbers(text) + _phones(text)
    found += [Span(m.start(), m.end(), "AKUN") for m in _ACCOUNT.finditer(text)]
    found += [Span(m.start(1), m.end(1), "AKUN") for m in _PROFILE_URL.finditer(text)]
    found += _plates(text) + _names(text)
    found.sort(key=lambda s: (_PRIORITY.index(s.kind), s.start, -s.end))
    kept: list[Span] = []
    for span in found:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept)


def mask(text: str) -> str:
    """``text`` with each piece of personal data replaced by its placeholder (``[NO HP]``).

    Raises ``TypeError`` when ``text`` is not a string; any string, however odd, is masked.
    """
    spans = find_personal_data(text)
    if not spans:
        return text
    parts = []
    last = 0
    for span in spans:
        parts.append(text[last:span.start])
        parts.append(span.placeholder)
        last = span.end
    parts.append(text[last:])
    return "".join(parts)
