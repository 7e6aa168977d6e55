"""TF-IDF features of normalised complaint text: word n-grams and within-word character n-grams.

:class:`TextFeatures` is a scikit-learn transformer. Input: a sequence of normalised texts (words
separated by single spaces, as :func:`forwarder.classify.normalize.normalize` returns). Output: a
``scipy.sparse.csr_matrix`` of shape ``(n_texts, n_word_features + n_char_features)``, float64, the
word block and the character block each L2-normalised (so each weighs the same, like a
``FeatureUnion`` of two ``TfidfVectorizer``).

The character n-grams are those of ``TfidfVectorizer(analyzer="char_wb")``: each word padded with one
space, n-grams of lengths ``char_ngrams`` inside it. Because they never cross a word boundary, a
text's counts are the sum of its words' counts, so the counts are computed as a sparse product
``(texts x words) @ (words x n-grams)``, each distinct word analysed once. This gives the same
numbers as scikit-learn's vectorisers at several times their speed (checked in
tests/test_classify_features.py), which is what lets a batch be classified at >= 10,000 texts/s.

IDF is scikit-learn's smoothed form, ``ln((1 + n) / (1 + df)) + 1``; ``sublinear_tf`` uses
``1 + ln(tf)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import normalize as l2_normalize

_SEP = "\n"  # never inside a feature: texts are split on whitespace


def _char_ngrams(word: str, low: int, high: int) -> list[str]:
    padded = f" {word} "
    size = len(padded)
    grams: list[str] = []
    for n in range(low, high + 1):
        if n >= size:  # a short word counts once, as in scikit-learn's _char_wb_ngrams
            grams.append(padded)
            break
        grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams


def _word_ngrams(words: list[str], high: int) -> list[str]:
    grams = list(words)
    for n in range(2, high + 1):
        grams.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
    return grams


class TextFeatures(TransformerMixin, BaseEstimator):
    """Word 1..``word_max_n``-grams and ``char_wb`` n-grams with TF-IDF weights (see module doc).

    ``min_df``/``char_min_df``: a feature must occur in at least this many training texts.
    ``char_weight`` scales the character block after normalisation (1.0 = equal weight).
    Persisted with skops: the vocabularies are stored as one packed string each (fast to load).
    """

    def __init__(
        self,
        word_max_n: int = 2,
        char_ngrams: tuple[int, int] = (2, 5),
        min_df: int = 1,
        char_min_df: int = 1,
        sublinear_tf: bool = True,
        char_weight: float = 1.0,
    ) -> None:
        self.word_max_n = word_max_n
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.char_min_df = char_min_df
        self.sublinear_tf = sublinear_tf
        self.char_weight = char_weight

    # ---- fitting -------------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], y: object = None) -> TextFeatures:
        docs = [t.split() for t in texts]
        n = len(docs)
        df: Counter[str] = Counter()
        for words in docs:
            df.update(set(_word_ngrams(words, self.word_max_n)))
        word_terms = sorted(t for t, c in df.items() if c >= self.min_df)
        word_df = np.array([df[t] for t in word_terms], dtype=np.float64)

        low, high = self.char_ngrams
        uniq, doc_words, _, _ = self._word_matrix(docs)
        gram_index: dict[str, int] = {}
        rows, cols = [], []
        for u, word in enumerate(uniq):
            for g in _char_ngrams(word, low, high):
                rows.append(u)
                cols.append(gram_index.setdefault(g, len(gram_index)))
        grams = sp.csr_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(uniq), len(gram_index))
        )
        counts = (doc_words @ grams).tocsc()
        char_df = np.diff(counts.indptr)
        keep = np.flatnonzero(char_df >= self.char_min_df)
        names = np.empty(len(gram_index), dtype=object)
        for g, i in gram_index.items():
            names[i] = g
        order = keep[np.argsort(names[keep])]
        char_terms = list(names[order])

        self.word_vocab_ = {t: i for i, t in enumerate(word_terms)}
        self.char_vocab_ = {t: i for i, t in enumerate(char_terms)}
        self.word_idf_ = np.log((1 + n) / (1 + word_df)) + 1
        self.char_idf_ = np.log((1 + n) / (1 + char_df[order].astype(np.float64))) + 1
        self._cache: dict[str, np.ndarray] = {}
        self._bigrams = None
        return self

    # ---- transforming ----------------------------------------------------------------------------
    @staticmethod
    def _word_matrix(
        docs: list[list[str]],
    ) -> tuple[list[str], sp.csr_matrix, np.ndarray, np.ndarray]:
        """Distinct words (in order of appearance) and the (texts x words) count matrix."""
        flat = [w for words in docs for w in words]
        uniq = list(dict.fromkeys(flat))
        index = {w: i for i, w in enumerate(uniq)}
        ids = np.fromiter(map(index.__getitem__, flat), dtype=np.int64, count=len(flat))
        indptr = np.zeros(len(docs) + 1, dtype=np.int64)
        np.cumsum([len(words) for words in docs], out=indptr[1:])
        matrix = sp.csr_matrix(
            (np.ones(len(ids)), ids, indptr), shape=(len(docs), len(uniq))
        )
        matrix.sum_duplicates()
        return uniq, matrix, ids, indptr

    def _weigh(self, counts: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
        if self.sublinear_tf:
            np.log(counts.data, out=counts.data)
            counts.data += 1
        counts.data *= idf[counts.indices]
        return l2_normalize(counts, copy=False)

    def _char_indices(self, word: str) -> np.ndarray:
        found = self._cache.get(word)
        if found is None:
            vocab = self.char_vocab_
            low, high = self.char_ngrams
            found = np.array(
                [vocab[g] for g in _char_ngrams(word, low, high) if g in vocab], dtype=np.int32
            )
            if len(self._cache) > 300_000:
                self._cache.clear()
            self._cache[word] = found
        return found

    def _bigram_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """Sorted ``first * n + second`` keys (unigram columns) of the bigram columns, and those columns."""
        if getattr(self, "_bigrams", None) is None:
            vocab = self.word_vocab_
            n = len(vocab)
            keys, cols = [], []
            for term, col in vocab.items():
                if " " in term:
                    first, second = term.split(" ")
                    keys.append(vocab[first] * n + vocab[second])
                    cols.append(col)
            keys_a = np.array(keys, dtype=np.int64)
            order = np.argsort(keys_a)
            self._bigrams = (keys_a[order], np.array(cols, dtype=np.int64)[order])
        return self._bigrams

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        docs = [t.split() for t in texts]
        n_docs = len(docs)
        uniq, doc_words, ids, indptr = self._word_matrix(docs)
        vocab = self.word_vocab_
        n_word = len(vocab)

        # word block: unigrams, and bigrams (word_max_n == 2) looked up by their unigram columns
        uni_col = np.fromiter((vocab.get(w, -1) for w in uniq), dtype=np.int64, count=len(uniq))
        tok_col = uni_col[ids] if len(ids) else np.zeros(0, dtype=np.int64)
        doc_of = np.repeat(np.arange(n_docs), np.diff(indptr))
        rows, cols = [doc_of[tok_col >= 0]], [tok_col[tok_col >= 0]]
        if self.word_max_n >= 2 and len(tok_col) > 1:
            keys, bigram_cols = self._bigram_keys()
            a, b = tok_col[:-1], tok_col[1:]
            ok = (a >= 0) & (b >= 0) & (doc_of[:-1] == doc_of[1:])
            key = a[ok] * n_word + b[ok]
            if len(keys):
                pos = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
                hit = keys[pos] == key
                rows.append(doc_of[:-1][ok][hit])
                cols.append(bigram_cols[pos[hit]])
        row_a, col_a = np.concatenate(rows), np.concatenate(cols)
        word = sp.csr_matrix(
            (np.ones(len(row_a)), (row_a, col_a)), shape=(n_docs, n_word)
        )
        word.sum_duplicates()
        word = self._weigh(word, self.word_idf_)

        # char block: (texts x words) @ (words x char n-grams)
        per_word = [self._char_indices(w) for w in uniq]
        lengths = np.fromiter((len(a) for a in per_word), dtype=np.int64, count=len(per_word))
        gram_ptr = np.concatenate([[0], np.cumsum(lengths)])
        gram_cols = np.concatenate(per_word) if per_word else np.zeros(0, dtype=np.int32)
        grams = sp.csr_matrix(
            (np.ones(len(gram_cols)), gram_cols, gram_ptr),
            shape=(len(uniq), len(self.char_vocab_)),
        )
        char = self._weigh((doc_words @ grams).tocsr(), self.char_idf_)
        if self.char_weight != 1.0:
            char.data *= self.char_weight
        return sp.hstack([word, char], format="csr")

    # ---- names and persistence -------------------------------------------------------------------
    @property
    def n_word_features_(self) -> int:
        return len(self.word_vocab_)

    def word_terms(self) -> list[str]:
        """Word n-gram of each column of the word block, in column order."""
        terms = [""] * len(self.word_vocab_)
        for t, i in self.word_vocab_.items():
            terms[i] = t
        return terms

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_cache", None)
        state.pop("_bigrams", None)
        for key in ("word_vocab_", "char_vocab_"):
            if key in state:
                terms = sorted(state[key], key=state[key].__getitem__)
                state[key] = _SEP.join(terms)
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        for key in ("word_vocab_", "char_vocab_"):
            if isinstance(state.get(key), str):
                packed = state[key]
                state[key] = {t: i for i, t in enumerate(packed.split(_SEP))} if packed else {}
        self.__dict__.update(state)
        self._cache = {}
        self._bigrams = None
