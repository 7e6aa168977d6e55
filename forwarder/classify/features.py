"""TF-IDF features of normalised complaint text: word n-grams and within-word character n-grams.

:class:`TextFeatures` turns a sequence of normalised texts (words separated by single spaces, as
:func:`forwarder.classify.normalize.normalize` returns) into :class:`Rows`: a batch of sparse
vectors in compressed-row form (numpy arrays only), shape ``(n_texts, n_word_features +
n_char_features)``, float32, the word block and the character block each L2-normalised (so each
weighs the same, like a ``FeatureUnion`` of two ``TfidfVectorizer``). Only numpy is imported: the
daemon classifies without scikit-learn or scipy (``Rows.to_scipy`` converts for training).

The character n-grams are those of ``TfidfVectorizer(analyzer="char_wb")``: each word padded with one
space, n-grams of lengths ``char_ngrams`` inside it. Because they never cross a word boundary, a
text's counts are the sum of its words' counts, so each distinct word of a batch is analysed once
(its columns are cached) and the counts are summed per (text, column) with one sort. This gives the
same numbers as scikit-learn's vectorisers (to float32 precision; checked in
tests/test_classify_normalize.py) at several times their speed, which is what lets a batch be
classified at >= 10,000 texts/s.

IDF is scikit-learn's smoothed form, ``ln((1 + n) / (1 + df)) + 1``; ``sublinear_tf`` uses
``1 + ln(tf)``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

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


@dataclass
class Rows:
    """Sparse feature vectors of a batch, compressed by row: the entries of row ``r`` are
    ``data[indptr[r]:indptr[r+1]]`` (float32) in columns ``indices[...]`` (int64, ascending).

    ``unigram_columns`` (int64, -1 when unknown) gives the unigram column of each distinct word of
    the batch in order of first appearance: the keywords use it to break ties (see
    :meth:`forwarder.classify.model.TopicModel.predict`).
    """

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    n_cols: int
    unigram_columns: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.indptr) - 1, self.n_cols

    def row_lengths(self) -> np.ndarray:
        return np.diff(self.indptr)

    def take(self, rows: np.ndarray) -> Rows:
        """The given rows (int indices, in that order)."""
        starts, lengths = self.indptr[rows], np.diff(self.indptr)[rows]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        where = _ragged(starts, lengths)
        return Rows(self.data[where], self.indices[where], indptr, self.n_cols, self.unigram_columns)

    def toarray(self) -> np.ndarray:
        out = np.zeros(self.shape, dtype=self.data.dtype)
        out[np.repeat(np.arange(self.shape[0]), self.row_lengths()), self.indices] = self.data
        return out

    def to_scipy(self) -> Any:
        """A ``scipy.sparse.csr_matrix`` of the same numbers (for fitting; imports scipy)."""
        import scipy.sparse as sp

        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)


def _ragged(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Positions ``starts[i] .. starts[i] + lengths[i] - 1`` for every i, concatenated."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    begin = np.cumsum(lengths) - lengths
    return np.repeat(starts - begin, lengths) + np.arange(total, dtype=np.int64)


def _count(
    docs: np.ndarray,
    tokens: np.ndarray,
    token_cols: list[np.ndarray],
    n_docs: int,
    n_cols: int,
    more: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Occurrences (``docs[i]`` holds token ``tokens[i]``, a token adding 1 to each of its
    ``token_cols``; ``more``: (docs, columns) adding 1 to one column each) summed per (doc,
    column): ``(indptr, column, count)``, compressed by doc, columns ascending within a doc,
    counts float32."""
    indptr = np.zeros(n_docs + 1, dtype=np.int64)
    sizes = np.fromiter(map(len, token_cols), dtype=np.int64, count=len(token_cols))
    ptr = np.zeros(len(token_cols) + 1, dtype=np.int64)
    np.cumsum(sizes, out=ptr[1:])
    reps = sizes[tokens]
    key = np.repeat(docs * n_cols, reps)
    if len(key):
        key += np.concatenate(token_cols)[_ragged(ptr[tokens], reps)]
    if more is not None:
        key = np.concatenate([key, more[0] * n_cols + more[1]])
    key.sort()  # doc * n_cols + column
    first = np.empty(len(key), dtype=bool)
    first[:1] = True
    np.not_equal(key[1:], key[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, len(key))).astype(np.float32)
    key = key[starts]
    indptr[1:] = np.searchsorted(key, np.arange(1, n_docs + 1) * n_cols)
    key -= np.repeat(np.arange(n_docs) * n_cols, np.diff(indptr))
    return indptr, key, counts


class TextFeatures:
    """Word 1..``word_max_n``-grams (1 or 2) and ``char_wb`` n-grams, TF-IDF weighted (module doc).

    ``min_df``/``char_min_df``: a feature must occur in at least this many training texts.
    ``char_weight`` scales the character block after normalisation (1.0 = equal weight).
    Fitted state: ``word_vocab_``/``char_vocab_`` (term -> column within its block) and ``idf_``
    (float32, word block then char block). :meth:`to_arrays`/:meth:`from_arrays` give and take it
    as plain arrays (the model file, :mod:`forwarder.classify.modelfile`).
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
        self.char_ngrams = tuple(char_ngrams)
        self.min_df = min_df
        self.char_min_df = char_min_df
        self.sublinear_tf = sublinear_tf
        self.char_weight = char_weight
        self._cache: dict[str, np.ndarray] = {}
        self._bigrams: tuple[np.ndarray, np.ndarray] | None = None

    def __repr__(self) -> str:
        return (f"TextFeatures(word_max_n={self.word_max_n}, char_ngrams={self.char_ngrams}, "
                f"features={len(getattr(self, 'idf_', ()))})")

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
        uniq, ids, doc_of = self._words(docs)
        gram_index: dict[str, int] = {}
        token_cols = [
            np.array([gram_index.setdefault(g, len(gram_index)) for g in _char_ngrams(w, low, high)],
                     dtype=np.int64)
            for w in uniq
        ]
        _, cols, _ = _count(doc_of, ids, token_cols, n, len(gram_index))
        char_df = np.bincount(cols, minlength=len(gram_index))
        keep = np.flatnonzero(char_df >= self.char_min_df)
        names = np.empty(len(gram_index), dtype=object)
        for g, i in gram_index.items():
            names[i] = g
        order = keep[np.argsort(names[keep])]
        char_terms = list(names[order])

        word_idf = np.log((1 + n) / (1 + word_df)) + 1
        char_idf = np.log((1 + n) / (1 + char_df[order].astype(np.float64))) + 1
        self._set(word_terms, char_terms, np.concatenate([word_idf, char_idf]).astype(np.float32))
        return self

    def _set(self, word_terms: list[str], char_terms: list[str], idf: np.ndarray) -> None:
        self.word_vocab_ = {t: i for i, t in enumerate(word_terms)}
        self.char_vocab_ = {t: i for i, t in enumerate(char_terms)}
        self.idf_ = idf
        self._cache = {}
        self._bigrams = None

    # ---- transforming ----------------------------------------------------------------------------
    @staticmethod
    def _words(docs: list[list[str]]) -> tuple[list[str], np.ndarray, np.ndarray]:
        """Distinct words (in order of first appearance), each occurrence's word id and text."""
        flat = [w for words in docs for w in words]
        uniq = list(dict.fromkeys(flat))
        index = {w: i for i, w in enumerate(uniq)}
        ids = np.fromiter(map(index.__getitem__, flat), dtype=np.int64, count=len(flat))
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=len(docs))
        return uniq, ids, np.repeat(np.arange(len(docs)), lengths)

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
        if self._bigrams is None:
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

    def transform(self, texts: Sequence[str]) -> Rows:
        """Counts per (text, column) of the batch's distinct words and bigrams (each word's
        columns from :meth:`word_columns`), then TF-IDF and L2 per block."""
        return self.transform_words([t.split() for t in texts])

    def transform_words(self, docs: list[list[str]]) -> Rows:
        """:meth:`transform` of texts given as their lists of words."""
        n_word = len(self.word_vocab_)
        n_total = n_word + len(self.char_vocab_)
        uniq, ids, doc_of = self._words(docs)
        token_cols = [self.word_columns(w) for w in uniq]
        vocab = self.word_vocab_
        uni_col = np.fromiter((vocab.get(w, -1) for w in uniq), dtype=np.int64, count=len(uniq))

        pairs = None
        if self.word_max_n >= 2 and len(ids) > 1:
            # a bigram is known only if both its words are (min_df of a bigram <= of its words)
            tok = uni_col[ids]
            a, b = tok[:-1], tok[1:]
            ok = (a >= 0) & (b >= 0) & (doc_of[:-1] == doc_of[1:])
            keys, bigram_cols = self._bigram_keys()
            if ok.any() and len(keys):
                key = a[ok] * n_word + b[ok]
                pos = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
                hit = keys[pos] == key
                pairs = (doc_of[:-1][ok][hit], bigram_cols[pos[hit]])
        indptr, col, counts = _count(doc_of, ids, token_cols, len(docs), n_total, pairs)
        self._weigh(counts, col, indptr, n_word)
        return Rows(counts, col, indptr, n_total, uni_col)

    def _weigh(self, data: np.ndarray, cols: np.ndarray, indptr: np.ndarray, n_word: int) -> None:
        """TF-IDF in place, then each row's word block and char block scaled to unit L2 norm (the
        char block to ``char_weight``)."""
        if self.sublinear_tf:
            np.log(data, out=data)
            data += 1
        data *= self.idf_[cols]
        n = len(indptr) - 1
        block = np.repeat(np.arange(0, 2 * n, 2), np.diff(indptr))
        block += cols >= n_word  # row * 2 (+1 for the char block)
        norms = np.sqrt(np.bincount(block, weights=data * data, minlength=2 * n))
        norms[norms == 0] = 1.0
        scale = (1.0 / norms).astype(data.dtype)
        scale[1::2] *= self.char_weight
        data *= scale[block]

    # ---- names and persistence -------------------------------------------------------------------
    @property
    def n_word_features_(self) -> int:
        return len(self.word_vocab_)

    def word_terms(self) -> list[str]:
        """Word n-gram of each column of the word block, in column order."""
        return _in_column_order(self.word_vocab_)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The fitted state and settings as plain arrays (no Python objects): the vocabularies
        as UTF-8 bytes, terms in column order separated by newlines."""
        return {
            "word_terms": _pack(_in_column_order(self.word_vocab_)),
            "char_terms": _pack(_in_column_order(self.char_vocab_)),
            "idf": np.asarray(self.idf_, dtype=np.float32),
            "word_max_n": np.array(self.word_max_n, dtype=np.int64),
            "char_ngrams": np.array(self.char_ngrams, dtype=np.int64),
            "min_df": np.array([self.min_df, self.char_min_df], dtype=np.int64),
            "sublinear_tf": np.array(bool(self.sublinear_tf)),
            "char_weight": np.array(self.char_weight, dtype=np.float64),
        }

    @classmethod
    def from_arrays(cls, arrays: Any) -> TextFeatures:
        """The inverse of :meth:`to_arrays`. Raises ValueError (or KeyError) on arrays that do
        not fit together."""
        low, high = (int(v) for v in arrays["char_ngrams"])
        min_df, char_min_df = (int(v) for v in arrays["min_df"])
        features = cls(
            word_max_n=int(arrays["word_max_n"]),
            char_ngrams=(low, high),
            min_df=min_df,
            char_min_df=char_min_df,
            sublinear_tf=bool(arrays["sublinear_tf"]),
            char_weight=float(arrays["char_weight"]),
        )
        if features.word_max_n not in (1, 2) or not 1 <= low <= high:
            raise ValueError("unknown feature settings")
        word_terms, char_terms = _unpack(arrays["word_terms"]), _unpack(arrays["char_terms"])
        idf = np.asarray(arrays["idf"])
        if idf.dtype != np.float32 or idf.shape != (len(word_terms) + len(char_terms),):
            raise ValueError(f"idf of shape {idf.shape} for {len(word_terms) + len(char_terms)} terms")
        features._set(word_terms, char_terms, idf)
        if len(features.word_vocab_) != len(word_terms) or len(features.char_vocab_) != len(char_terms):
            raise ValueError("a vocabulary repeats a term")
        return features


def _in_column_order(vocab: dict[str, int]) -> list[str]:
    terms = [""] * len(vocab)
    for t, i in vocab.items():
        terms[i] = t
    return terms


def _pack(terms: list[str]) -> np.ndarray:
    return np.frombuffer(_SEP.join(terms).encode("utf-8"), dtype=np.uint8)


def _unpack(packed: np.ndarray) -> list[str]:
    if packed.dtype != np.uint8 or packed.ndim != 1:
        raise ValueError("a vocabulary is not UTF-8 bytes")
    text = packed.tobytes().decode("utf-8")
    return text.split(_SEP) if text else []
