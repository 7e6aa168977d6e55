"""TF-IDF features of normalised complaint text: word n-grams and within-word character n-grams.

:class:`TextFeatures` is a scikit-learn transformer. Input: a sequence of normalised texts (words
separated by single spaces, as :func:`forwarder.classify.normalize.normalize` returns). Output: a
``scipy.sparse.csr_matrix`` of shape ``(n_texts, n_word_features + n_char_features)``, float32, the
word block and the character block each L2-normalised (so each weighs the same, like a
``FeatureUnion`` of two ``TfidfVectorizer``).

The character n-grams are those of ``TfidfVectorizer(analyzer="char_wb")``: each word padded with one
space, n-grams of lengths ``char_ngrams`` inside it. Because they never cross a word boundary, a
text's counts are the sum of its words' counts, so the counts are computed as a sparse product
``(texts x words) @ (words x n-grams)``, each distinct word analysed once. This gives the same
numbers as scikit-learn's vectorisers (to float32 precision) at several times their speed (checked in
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
    """Word 1..``word_max_n``-grams (1 or 2) and ``char_wb`` n-grams, TF-IDF weighted (module doc).

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
        if self.word_max_n not in (1, 2):
            raise ValueError("word_max_n must be 1 or 2")
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
        self._idf = None
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

    def word_columns(self, word: str) -> np.ndarray:
        """Columns a word adds to: its unigram column (if known) and its char n-gram columns."""
        found = self._cache.get(word)
        if found is None:
            vocab = self.char_vocab_
            offset = len(self.word_vocab_)
            low, high = self.char_ngrams
            cols = [vocab[g] + offset for g in _char_ngrams(word, low, high) if g in vocab]
            unigram = self.word_vocab_.get(word)
            if unigram is not None:
                cols.append(unigram)
            found = np.array(cols, dtype=np.int64)
            if len(self._cache) > 300_000:
                self._cache.clear()
            self._cache[word] = found
        return found

    def warm(self) -> None:
        """Compute the columns of every vocabulary word now (at load) rather than on first use."""
        for term in self.word_vocab_:
            if " " not in term:
                self.word_columns(term)

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
        """Counts as one product ``(texts x tokens) @ (tokens x features)``, where the tokens are
        the batch's distinct words and bigrams; then TF-IDF and L2 per block."""
        docs = [t.split() for t in texts]
        n_docs = len(docs)
        n_word = len(self.word_vocab_)
        n_total = n_word + len(self.char_vocab_)
        flat = [w for words in docs for w in words]
        uniq = list(dict.fromkeys(flat))
        index = {w: i for i, w in enumerate(uniq)}
        ids = np.fromiter(map(index.__getitem__, flat), dtype=np.int64, count=len(flat))
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=n_docs)
        doc_of = np.repeat(np.arange(n_docs), lengths)
        rows_m = [self.word_columns(w) for w in uniq]

        token_docs, token_ids = [doc_of], [ids]
        if self.word_max_n >= 2 and len(ids) > 1:
            # a bigram is known only if both its words are (min_df of a bigram <= of its words)
            vocab = self.word_vocab_
            uni_col = np.fromiter((vocab.get(w, -1) for w in uniq), dtype=np.int64, count=len(uniq))
            tok = uni_col[ids]
            a, b = tok[:-1], tok[1:]
            ok = (a >= 0) & (b >= 0) & (doc_of[:-1] == doc_of[1:])
            keys, bigram_cols = self._bigram_keys()
            if ok.any() and len(keys):
                key = a[ok] * n_word + b[ok]
                pos = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
                hit = keys[pos] == key
                found = bigram_cols[pos[hit]]
                distinct, inverse = np.unique(found, return_inverse=True)
                token_docs.append(doc_of[:-1][ok][hit])
                token_ids.append(len(uniq) + inverse)
                rows_m += list(distinct.reshape(-1, 1))
        row_len = np.fromiter(map(len, rows_m), dtype=np.int64, count=len(rows_m))
        m_ptr = np.zeros(len(rows_m) + 1, dtype=np.int64)
        np.cumsum(row_len, out=m_ptr[1:])
        m_cols = np.concatenate(rows_m) if rows_m else np.zeros(0, dtype=np.int64)
        tokens_by_feature = sp.csr_matrix(
            (np.ones(len(m_cols), dtype=np.float32), m_cols, m_ptr), shape=(len(rows_m), n_total)
        )
        d_rows, d_cols = np.concatenate(token_docs), np.concatenate(token_ids)
        docs_by_token = sp.csr_matrix(
            (np.ones(len(d_rows), dtype=np.float32), (d_rows, d_cols)),
            shape=(n_docs, len(rows_m)),
        )
        counts = (docs_by_token @ tokens_by_feature).tocsr()
        return self._weigh(counts, n_word)

    def _weigh(self, counts: sp.csr_matrix, n_word: int) -> sp.csr_matrix:
        """TF-IDF, then each row's word block and char block scaled to unit L2 norm (the char
        block to ``char_weight``)."""
        data, cols = counts.data, counts.indices
        if self.sublinear_tf:
            np.log(data, out=data)
            data += 1
        data *= self._idf_all()[cols]
        n = counts.shape[0]
        block = np.repeat(np.arange(0, 2 * n, 2), np.diff(counts.indptr))
        block += cols >= n_word  # row * 2 (+1 for the char block)
        norms = np.sqrt(np.bincount(block, weights=data * data, minlength=2 * n))
        norms[norms == 0] = 1.0
        scale = (1.0 / norms).astype(data.dtype)
        scale[1::2] *= self.char_weight
        data *= scale[block]
        return counts

    def _idf_all(self) -> np.ndarray:
        if getattr(self, "_idf", None) is None:
            self._idf = np.concatenate([self.word_idf_, self.char_idf_]).astype(np.float32)
        return self._idf

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
        state.pop("_idf", None)
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
        self._idf = None
