"""The model file ``model.npz``: a fitted topic model as plain arrays, read with numpy alone.

The file is a zip of ``.npy`` arrays (:func:`numpy.savez_compressed`) and is read with
``numpy.load(allow_pickle=False)``: it holds numbers and bytes only, never Python objects, so
reading it cannot run code. The format is this project's own; ``card.json`` names it
(``"format": "forwarder-linear"``, ``"format_version": 1``) and :func:`read_arrays` checks the
version stored inside the file as well.

Arrays of format version 1 (``F`` features = word block then char block, ``K`` topics, ``O``
outputs = ``K``, or 1 when ``K == 2``: one score for the second topic, ``R`` calibration folds):

=================  ============  =====================================================================
name               dtype, shape  meaning
=================  ============  =====================================================================
format_version     int64 ()      1
classes            uint8 (n,)    topic names, UTF-8, joined by newlines, in output order (sorted)
word_terms         uint8 (n,)    word 1-2-grams, UTF-8, joined by newlines, in column order
char_terms         uint8 (n,)    ``char_wb`` n-grams (padded with spaces), the same way
idf                float32 (F,)  inverse document frequency of each column
word_max_n         int64 ()      1 or 2
char_ngrams        int64 (2,)    shortest and longest char n-gram
min_df             int64 (2,)    word and char ``min_df`` of fitting (for the record)
sublinear_tf       bool ()       ``1 + ln(tf)`` instead of ``tf``
char_weight        float64 ()    weight of the char block after L2 normalisation
coef               float32 (R, O, F)  weights of the linear classifier (LinearSVC ``coef_``)
intercept          float64 (R, O)     its ``intercept_``
sigmoid_a          float64 (R, O)     Platt calibration of each output: ``p = 1 / (1 + exp(a*s + b))``
sigmoid_b          float64 (R, O)     (scikit-learn's ``_SigmoidCalibration`` ``a_``, ``b_``)
=================  ============  =====================================================================

:class:`Linear` computes from these what scikit-learn's ``CalibratedClassifierCV(LinearSVC(),
method="sigmoid").predict_proba`` computes (``sklearn/calibration.py``, 1.9): per fold the
decision scores, each calibrated by its sigmoid, normalised to sum 1 (two topics: ``1 - p`` and
``p``), probabilities averaged over the folds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from forwarder.classify.features import Rows, TextFeatures

FORMAT = "forwarder-linear"
FORMAT_VERSION = 1
MODEL_FILE = "model.npz"

_CHUNK = 1 << 16  # entries x outputs per step of the scoring (256 kB of float32)


class Linear:
    """A linear one-vs-rest classifier with sigmoid calibration (module doc), numpy only.

    ``classes``: topic of each probability column. ``coef`` float32 ``(R, O, F)``, ``intercept``,
    ``a``, ``b`` float64 ``(R, O)``. Raises ValueError when the shapes do not fit together.
    """

    def __init__(self, classes: list[str], coef: np.ndarray, intercept: np.ndarray,
                 a: np.ndarray, b: np.ndarray) -> None:
        folds, outputs, _ = coef.shape
        if len(classes) < 2 or outputs != (1 if len(classes) == 2 else len(classes)):
            raise ValueError(f"{outputs} outputs for {len(classes)} topics")
        for name, arr in (("intercept", intercept), ("sigmoid_a", a), ("sigmoid_b", b)):
            if arr.shape != (folds, outputs):
                raise ValueError(f"{name} has shape {arr.shape}, expected {(folds, outputs)}")
        self.classes = list(classes)
        self.coef = np.ascontiguousarray(coef, dtype=np.float32)
        self.intercept = intercept.astype(np.float64)
        self.a, self.b = a.astype(np.float64), b.astype(np.float64)
        self._coef_t = [np.ascontiguousarray(c.T) for c in self.coef]  # (F, O) per fold

    @property
    def n_features(self) -> int:
        return self.coef.shape[2]

    def class_weights(self) -> np.ndarray:
        """``(K, F)`` float32 weights, averaged over the folds; two topics: ``[-w, w]``."""
        coef = np.mean(self.coef, axis=0)
        if coef.shape[0] == 1:
            coef = np.vstack([-coef[0], coef[0]])
        return coef.astype(np.float32)

    def decision(self, rows: Rows, fold: int) -> np.ndarray:
        """``(n, O)`` float64 scores of fold ``fold``: ``rows @ coef.T + intercept``, summed in
        float32 like scikit-learn's sparse product, in steps of about :data:`_CHUNK` products
        (small enough to stay in the CPU cache)."""
        n, outputs = rows.shape[0], self.coef.shape[1]
        sums = np.zeros((n, outputs), dtype=np.float32)
        filled = np.flatnonzero(rows.row_lengths())  # rows with entries, their first entry:
        firsts = rows.indptr[filled]
        step = max(1, _CHUNK // outputs)
        # steps: runs of filled rows holding about `step` entries (a longer row alone)
        bounds = np.unique(np.searchsorted(firsts, np.arange(0, len(rows.data), step)))
        # a step start inside the last row gives len(filled): not the start of a run
        bounds = np.append(bounds[bounds < len(filled)], len(filled))
        los = firsts[bounds[:-1]]
        his = rows.indptr[filled[bounds[1:] - 1] + 1]
        weights, indices, data = self._coef_t[fold], rows.indices, rows.data
        buffer = np.empty((int((his - los).max(initial=0)), outputs), dtype=np.float32)
        for first, last, lo, hi in zip(bounds[:-1], bounds[1:], los, his):
            products = np.take(weights, indices[lo:hi], axis=0, out=buffer[: hi - lo])
            products *= data[lo:hi, None]
            sums[filled[first:last]] = np.add.reduceat(products, firsts[first:last] - lo, axis=0)
        return sums.astype(np.float64) + self.intercept[fold]

    def predict_proba(self, rows: Rows) -> np.ndarray:
        """``(n, K)`` float64 calibrated probabilities, each row summing to 1."""
        n, k = rows.shape[0], len(self.classes)
        mean = np.zeros((n, k))
        for fold in range(self.coef.shape[0]):
            scores = self.decision(rows, fold)
            with np.errstate(over="ignore"):
                calibrated = 1.0 / (1.0 + np.exp(self.a[fold] * scores + self.b[fold]))
            if k == 2:
                proba = np.hstack([1.0 - calibrated, calibrated])
            else:
                total = calibrated.sum(axis=1, keepdims=True)
                proba = np.full_like(calibrated, 1.0 / k)
                np.divide(calibrated, total, out=proba, where=total != 0)
            proba[(proba > 1.0) & (proba <= 1.0 + 1e-5)] = 1.0
            mean += proba
        return mean / self.coef.shape[0]


def _text(packed: np.ndarray) -> list[str]:
    if packed.dtype != np.uint8 or packed.ndim != 1:
        raise ValueError("topic names are not UTF-8 bytes")
    return packed.tobytes().decode("utf-8").split("\n")


def write_arrays(path: Path, features: TextFeatures, classifier: Linear) -> None:
    """Write ``model.npz`` at ``path`` (compressed)."""
    arrays: dict[str, Any] = dict(features.to_arrays())
    arrays.update(
        format_version=np.array(FORMAT_VERSION, dtype=np.int64),
        classes=np.frombuffer("\n".join(classifier.classes).encode("utf-8"), dtype=np.uint8),
        coef=classifier.coef,
        intercept=classifier.intercept,
        sigmoid_a=classifier.a,
        sigmoid_b=classifier.b,
    )
    with open(path, "wb") as handle:
        np.savez_compressed(handle, **arrays)


def read_arrays(path: Path) -> tuple[TextFeatures, Linear]:
    """Read ``model.npz``. Raises ValueError (also for a damaged or foreign file: OSError,
    zip and format errors are turned into ValueError) with what is wrong."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files}
    except ValueError:
        raise
    except Exception as exc:  # BadZipFile, EOFError, OSError, ... on a damaged file
        raise ValueError(f"not a readable .npz file ({type(exc).__name__}: {exc})") from exc
    version = arrays.get("format_version")
    if version is None or version.shape != () or int(version) != FORMAT_VERSION:
        raise ValueError(f"format version {None if version is None else version.tolist()} inside "
                         f"the file, this program reads {FORMAT_VERSION}")
    try:
        features = TextFeatures.from_arrays(arrays)
        coef = arrays["coef"]
        if coef.dtype != np.float32 or coef.ndim != 3 or coef.shape[2] != len(features.idf_):
            raise ValueError(f"coef of dtype {coef.dtype}, shape {coef.shape} for "
                             f"{len(features.idf_)} features")
        classifier = Linear(_text(arrays["classes"]), coef, arrays["intercept"],
                            arrays["sigmoid_a"], arrays["sigmoid_b"])
    except KeyError as exc:
        raise ValueError(f"array {exc} is missing") from exc
    except UnicodeDecodeError as exc:
        raise ValueError(f"text that is not UTF-8: {exc}") from exc
    except (TypeError, IndexError) as exc:  # an array of another shape than the format says
        raise ValueError(f"an array of the wrong shape: {exc}") from exc
    return features, classifier
