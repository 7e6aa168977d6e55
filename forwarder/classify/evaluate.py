"""Figures that describe a topic model on held-out complaints.

:func:`evaluate` returns a plain dict (it goes into the model card as ``metrics``):

* ``accuracy``, ``macro_f1``, ``n`` (rows scored);
* ``per_topic``: ``{topic: {precision, recall, f1, support}}``;
* ``coverage``: ``{"0.8": {"threshold", "precision"}, "0.7": ...}``, the precision of the complaints
  that would be routed automatically when the confidence threshold lets that share through
  (the protocol of shared/data/README.md);
* ``short_accuracy``/``n_short``: accuracy on complaints under :data:`SHORT_CHARS` characters.

Texts with no usable words count as wrong (they go to triage). scikit-learn (metrics) and
matplotlib are imported when these functions are called, not with the module.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from forwarder.types import Tag

SHORT_CHARS = 60
COVERAGES = (0.8, 0.7)


def precision_at_coverage(
    correct: np.ndarray, confidence: np.ndarray, coverage: float
) -> tuple[float, float]:
    """(threshold, precision) when the ``coverage`` share with the highest confidence is routed."""
    n = len(correct)
    if n == 0:
        return 0.0, 0.0
    order = np.argsort(-confidence, kind="stable")
    keep = max(1, round(n * coverage))
    return float(confidence[order[keep - 1]]), float(np.mean(correct[order[:keep]]))


def evaluate(texts: Sequence[str], truth: Sequence[str], tags: Sequence[Tag]) -> dict[str, Any]:
    """Figures for predictions ``tags`` of ``texts`` whose true topics are ``truth``."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    predicted = [t.topic if t.topic is not None else "(none)" for t in tags]
    y = list(truth)
    correct = np.array([p == t for p, t in zip(predicted, y)])
    confidence = np.array([t.confidence for t in tags])
    topics = sorted(set(y))
    precision, recall, f1, support = precision_recall_fscore_support(
        y, predicted, labels=topics, zero_division=0
    )
    short = np.array([len(t) < SHORT_CHARS for t in texts])
    out: dict[str, Any] = {
        "n": len(y),
        "accuracy": round(float(accuracy_score(y, predicted)), 4),
        "macro_f1": round(float(np.mean(f1)), 4),
        "per_topic": {
            topic: {
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(s),
            }
            for topic, p, r, f, s in zip(topics, precision, recall, f1, support)
        },
        "coverage": {},
        "n_short": int(short.sum()),
        "short_accuracy": round(float(correct[short].mean()), 4) if short.any() else None,
    }
    for share in COVERAGES:
        threshold, prec = precision_at_coverage(correct, confidence, share)
        out["coverage"][str(share)] = {"threshold": round(threshold, 4), "precision": round(prec, 4)}
    return out


def confusion_png(
    truth: Sequence[str], tags: Sequence[Tag], path: str | Path, title: str = ""
) -> Path:
    """Draw the confusion matrix (rows true topic, columns predicted, row-normalised) to a PNG."""
    import matplotlib
    from sklearn.metrics import confusion_matrix

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    predicted = [t.topic if t.topic is not None else "(none)" for t in tags]
    labels = sorted(set(truth) | set(predicted))
    with warnings.catch_warnings():  # one topic only (a tiny held-out part) is fine here
        warnings.simplefilter("ignore", UserWarning)
        matrix = confusion_matrix(list(truth), predicted, labels=labels).astype(float)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = max(5.0, 0.45 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if matrix[i, j]:
                colour = "white" if share[i, j] > 0.5 else "black"
                ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7, color=colour)
    ax.set_xlabel("predicted topic")
    ax.set_ylabel("true topic")
    ax.set_title(title or "confusion matrix (row-normalised colour, counts)")
    fig.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target
