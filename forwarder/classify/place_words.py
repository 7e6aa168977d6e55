"""Word lists of place recognition (:mod:`forwarder.classify.places`): prefixes, ordinary words
that are also place names, and the words around a name that say whether it is where a complaint is.

The lists were chosen by reading the Bojonegoro and Surabaya lists and the Surabaya complaints of
``shared/data``; the figures quoted are measured there (``tests/test_places.py``).
"""

from __future__ import annotations

KEC_PREFIXES = frozenset({"kec", "kecamatan", "kecamatane", "kecamtan", "kcmtn", "kcm", "kecmtn"})
DESA_PREFIXES = frozenset({"ds", "dsa", "desa", "desane", "deso", "kel", "kelurahan", "kelurahane",
                           "kalurahan", "kelrhn", "klurahan"})
REGION_PREFIXES = frozenset({"kab", "kabupaten", "kabupatene", "kota", "kodya", "provinsi", "prov"})

# Ordinary words that are also names of desa/kecamatan in East Java (chosen by reading the
# Bojonegoro and Surabaya lists). Grammar words ("dana desa sudah cair", "nganti sore") count even
# after a full-word prefix only when capitalised, abbreviated (``ds.``) or confirmed by the other
# level; nouns (``kapas`` cotton, ``gajah``) only need a prefix.
FUNCTION_WORDS = frozenset("""
    sudah nganti bareng katur sekaran bakalan kanten sedeng tanggungan woro
""".split())  # noqa: SIM905
COMMON_WORDS = FUNCTION_WORDS | frozenset("""
    kapas kunci bobol jari gajah pojok petak geger temu turi pandan pacul bulu sekar wedi kolong
    pesen pelem kauman kacangan bendo beji mojo soko talun babad deru leran jumput gayam butoh
    betet bakung drajat tlatah mori tebon genteng bulak perak tembok ujung tambak gading putat
    petemon sawahan ploso simo baru jaya indah sari tengah utara selatan timur barat wetan kulon
    lor kidul pasar dukuh kali karang tanjung gunung sawah kebon jati rejo mulyo makmur sejahtera
    merdeka banyu embong airlangga
""".split())  # noqa: SIM905

# a name right after these is a street, road or building named after a place, which may lie in
# another kecamatan (measured on the Surabaya data: such matches agree with the label 62-75 %)
STREET_WORDS = frozenset("""
    jl jln jalan jaln raya gang gg rs rsud rsu universitas univ kampus upn perumahan perum pasar
    stasiun terminal puskesmas makam masjid sd sdn smp smpn sma sman smk smkn taman pondok
    rusunawa rusun tol jembatan bundaran alun pabrik toko hotel kantor polsek koramil
""".split())  # noqa: SIM905

# ... and so is a name followed by one of these ("Ngagel Jaya", "Darmo Permai", "Rungkut Madya")
ESTATE_WORDS = frozenset("""
    jaya indah permai madya tama asri mapan regency residence residen park estate garden city
    village raya square mall plaza
""".split())  # noqa: SIM905

# a single-word name counts alone only after one of these: "pupuk langka di sugihwaras"
LOCATIVES = frozenset("""
    di ke dari daerah wilayah kawasan sekitar sekitaran seputar warga area nang ndek neng ning
    ing teng wonten dusun dsn kampung kp lingkungan
""".split())  # noqa: SIM905

# words after a prefix that are not names ("desa kami", "kelurahan setempat"): no fuzzy match
NOT_NAMES = frozenset("""
    kami saya kita ini itu yang yg setempat tersebut tsb sini sana dan di ke dari untuk tidak sudah
    belum lain sekitar terdekat masing sy kmi mau akan juga sampai tapi dengan dg dgn
""".split())  # noqa: SIM905


# A kecamatan name counts alone after one of these as well: words that say where a thing is
# ("lampu mati di perempatan Sumberrejo", "sampah dekat pasar Padangan", "macet arah Baureno"),
# Indonesian and Javanese (cedhak near, ngarep/ngajeng front, mburi/wingking behind, sandinge
# beside, pinggir edge, lor/kidul/wetan/kulon north/south/east/west, prapatan/pertelon crossroads,
# menyang/tekan to). Only kecamatan names: after these, a desa/kelurahan name in a city is mostly a
# street, a market or a crossing in the neighbouring kelurahan (pasar Keputran filed under Genteng).
PLACE_CUES = frozenset("""
    pasar perempatan prapatan perapatan pertigaan pertelon simpang alun kios
    dekat dkt deket cedhak cedak cerak caket depan dpn ngarep ngarepe ngajeng belakang blkg mburi
    wingking samping sebelah sandinge sebelahe seberang sebrang arah menuju menyang nyang tekan
    pinggir pinggire utara selatan timur barat lor kidul wetan kulon
""".split())  # noqa: SIM905
