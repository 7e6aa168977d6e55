"""Normalisation of complaint text as it is really written, and the features built on it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from forwarder.classify.features import TextFeatures
from forwarder.classify.normalize import normalize, tokens


@pytest.mark.parametrize(
    "raw, expected",
    [
        # SMS abbreviations
        ("jln di Dander rusak, mhn sgr diperbaiki yg bnr", "jalan di dander rusak sgr diperbaiki yang bnr"),
        ("sdh 2 mgg blm ada tindakan krn gk ada dana", "sudah mgg belum ada tindakan karena tidak ada dana"),
        ("tdk ada lampu dgn jln yg gelap", "tidak ada lampu dengan jalan yang gelap"),
        ("ndak ada yg dtg ga ada yg ngurus", "tidak ada yang dtg tidak ada yang ngurus"),
        # East Javanese
        ("dalane rusak pol, banyune ora metu", "jalan rusak pol air tidak keluar"),
        ("lampune mati wes sak sasi, peteng", "lampu mati sudah sak bulan gelap"),
        ("uwuh numpuk nang pinggir kali", "sampah numpuk di pinggir kali"),
        ("tikuse akeh nang sawah, pari entek", "tikus banyak di sawah padi entek"),
        # letter elongation and shouting
        ("RUSAKKKK PARAHHH!!!", "rusak parah"),
        ("tolonggg dong minnn", ""),
        # mentions, hashtags, URLs, e-mail, placeholders, numbers
        ("@LAPOR1708 @pemkab_bjn jalan ambles #JalanRusak", "jalan ambles jalanrusak"),
        ("foto: https://t.co/AbC123 dan www.example.com/x lapor.go.id", "foto dan"),
        ("hub saya warga@mail.com atau <NOMOR_HP>", "hub saya atau"),
        ("RT 05 RW 02 no. 17, 081234567890", "rt rw no"),
        # greetings and sign-offs alone leave nothing
        ("Assalamualaikum wr wb, selamat pagi min", ""),
        ("matur nuwun sanget pak", "sanget"),
        # HTML, entities and fancy tweet letters
        ("<p>Lampu&nbsp;PJU <b>mati</b></p>", "lampu lampu jalan mati"),
        ("𝗷𝗮𝗹𝗮𝗻 𝗿𝘂𝘀𝗮𝗸 café", "jalan rusak cafe"),
        ("sampah😡😡numpuk🙏", "sampah numpuk"),
    ],
)
def test_normalisation_table(raw, expected):
    assert normalize(raw) == expected


@pytest.mark.parametrize("raw", ["", "?", "!!!", "😀😡🙏", "12345", "   ", None, 42, "a b c"])
def test_nothing_usable(raw):
    assert tokens(raw) == []
    assert normalize(raw) == ""


def test_very_long_text_is_cut_not_refused():
    words = tokens("jalan rusak " * 5000)
    assert 0 < len(words) <= 4000


TEXTS = [
    "jalan rusak parah di dander",
    "lampu jalan mati gelap sekali",
    "sampah numpuk bau di pasar",
    "jalan berlubang dan lampu mati",
    "a sampah",
    "pupuk urea langka di kios",
    "wereng menyerang padi di kanor",
]


@pytest.mark.parametrize("sublinear", [True, False])
def test_features_equal_scikit_learn(sublinear):
    """TextFeatures computes what two TfidfVectorizers (word 1-2, char_wb 2-5) compute."""
    ours = TextFeatures(min_df=1, char_min_df=1, sublinear_tf=sublinear).fit(TEXTS)
    common = {"lowercase": False, "sublinear_tf": sublinear}
    word = TfidfVectorizer(token_pattern=r"\S+", ngram_range=(1, 2), **common).fit(TEXTS)
    char = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), **common).fit(TEXTS)
    unseen = ["jalan ambles lampu padam", "sampah", "kata baru semua", ""]
    for batch in (TEXTS, unseen):
        got = ours.transform(batch).toarray()
        want = np.hstack([word.transform(batch).toarray(), char.transform(batch).toarray()])
        assert got.shape == want.shape
        assert np.abs(got - want).max() < 1e-6


def test_features_min_df_and_weight():
    ours = TextFeatures(min_df=2, char_min_df=2, char_weight=0.5).fit(TEXTS)
    assert "jalan" in ours.word_vocab_ and "pupuk" not in ours.word_vocab_
    X = ours.transform(["jalan mati", "pupuk"]).toarray()
    n_word = ours.n_word_features_
    assert np.linalg.norm(X[0, :n_word]) == pytest.approx(1.0, abs=1e-6)
    assert np.linalg.norm(X[0, n_word:]) == pytest.approx(0.5, abs=1e-6)
    assert np.linalg.norm(X[1, :n_word]) == 0.0  # an unknown word has no word feature


def test_features_survive_persistence():
    """to_arrays/from_arrays (what model.npz holds) give the same numbers; no Python objects."""
    ours = TextFeatures(char_ngrams=(3, 4), min_df=2, char_min_df=2, char_weight=0.7).fit(TEXTS)
    ours.transform(TEXTS)  # fills the caches, which are not saved
    arrays = ours.to_arrays()
    assert all(a.dtype != object for a in arrays.values())
    back = TextFeatures.from_arrays(arrays)
    assert (back.char_ngrams, back.char_weight, back.min_df) == ((3, 4), 0.7, 2)
    assert np.array_equal(back.transform(TEXTS).toarray(), ours.transform(TEXTS).toarray())


def test_features_of_an_empty_batch_and_unknown_words():
    ours = TextFeatures().fit(TEXTS)
    for batch in ([], [""], ["zzz qqq"], ["", "jalan", ""]):
        rows = ours.transform(batch)
        assert rows.shape == (len(batch), len(ours.idf_))
        assert rows.toarray().shape == rows.shape
    rows = ours.transform(["", "jalan", ""])
    assert list(rows.row_lengths()[[0, 2]]) == [0, 0] and rows.row_lengths()[1] > 0
