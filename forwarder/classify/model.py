"""The topic model: load, predict, save, and check it against the config.

On disk a model is a directory holding two files:

``model.skops``
    ``{"features": TextFeatures, "classifier": <calibrated linear classifier>}`` written with
    ``skops.io.dump``. It is loaded only after every type in it is found in :data:`TRUSTED_TYPES`
    (``skops.io.get_untrusted_types``) and its SHA-256 matches the card: never a bare pickle.
``card.json``
    The model card: ``version``, ``labels``, ``metrics`` (accuracy, macro-F1, per topic), ``data``
    (SHA-256 and row counts of the training data), ``libraries`` (scikit-learn, numpy, scipy, skops,
    Python versions), ``recipe``, ``created_at`` and ``model_sha256``.

``training_rows.u64`` (optional)
    Sorted 64-bit hashes (:func:`row_hash`) of the texts the model was fitted on, raw little-endian
    integers: a later comparison leaves these rows out of the held-out data, so a model is never
    judged on complaints it has seen.

``load_model`` also accepts a *model store* (the directory the ``forwarder model`` commands manage,
see :mod:`forwarder.classify.store`): a directory with a ``current`` file naming one of its
``versions/<id>/`` model directories.

Text goes through :func:`forwarder.classify.normalize.normalize` before the features; that step is
code, not data, so a model does not carry it (the card records ``normalizer`` for the record).
"""

from __future__ import annotations

import hashlib
import json
import platform
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import scipy.sparse as sp
import sklearn
import skops
import skops.io as sio

from forwarder.classify.features import TextFeatures
from forwarder.classify.normalize import STOPWORDS, normalize, warm
from forwarder.errors import ModelError
from forwarder.types import Tag

MODEL_FILE = "model.skops"
CARD_FILE = "card.json"
ROWS_FILE = "training_rows.u64"
NORMALIZER_VERSION = "2"

TRUSTED_TYPES: list[str] = [
    "forwarder.classify.features.TextFeatures",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
]
"""Types a model file may hold beyond what skops trusts itself (scikit-learn estimators, numpy
and scipy arrays, builtins). Anything else makes :func:`load_model` refuse the file."""

RETRAIN_HINT = (
    "retrain it with: forwarder train --data examples/complaints.csv --text-column text "
    "--label-column topic --out {path}"
)


def library_versions() -> dict[str, str]:
    """Versions of the libraries a model file depends on, as recorded in the card."""
    return {
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "skops": skops.__version__,
        "python": platform.python_version(),
    }


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def row_hash(texts: Sequence[str]) -> np.ndarray:
    """Sorted distinct 64-bit BLAKE2b hashes of texts (stripped, lower case), uint64."""
    values = [
        int.from_bytes(hashlib.blake2b(t.strip().lower().encode(), digest_size=8).digest(), "little")
        for t in texts
    ]
    return np.unique(np.array(values, dtype=np.uint64))


class TopicModel:
    """A fitted topic classifier.

    ``version`` identifies the model (shown to officers and stored with each tag), ``labels`` the
    topics it can emit, ``card`` its model card (see the module doc).
    """

    def __init__(
        self,
        features: TextFeatures,
        classifier: Any,
        card: dict[str, Any],
        training_rows: np.ndarray | None = None,
    ) -> None:
        self.features = features
        self.training_rows = training_rows  # row_hash() of the fitted texts, if known
        self.classifier = classifier
        self.card = card
        self.version: str = str(card.get("version", ""))
        self.classes: list[str] = [str(c) for c in classifier.classes_]
        self.labels: frozenset[str] = frozenset(self.classes)
        self._weights = _class_weights(classifier).astype(np.float32)
        features.warm()
        warm([t for t in features.word_vocab_ if " " not in t])
        self._term_words = [
            tuple(w for w in term.split(" ") if w not in STOPWORDS) for term in features.word_terms()
        ]

    def __repr__(self) -> str:
        return f"TopicModel(version={self.version!r}, labels={len(self.labels)})"

    def predict(self, texts: Sequence[str]) -> list[Tag]:
        """One :class:`~forwarder.types.Tag` per text, in order.

        ``confidence`` is the calibrated probability of the chosen topic. A text with no usable
        words (empty, ``"?"``, emoji or digits only, greetings only) or none the model knows gets
        ``Tag(None, 0.0, version, ())``. Never raises on odd text; non-text items count as empty.
        """
        normed = [normalize(t) if isinstance(t, str) else "" for t in texts]
        tags = [Tag(None, 0.0, self.version, ())] * len(normed)
        todo = [i for i, n in enumerate(normed) if n]
        if not todo:
            return tags
        X = self.features.transform([normed[i] for i in todo])
        known = np.flatnonzero(np.diff(X.indptr) > 0)
        if len(known) == 0:
            return tags
        X = X[known]
        proba = self.classifier.predict_proba(X)
        best = proba.argmax(axis=1)
        keywords = self._keywords(X, best, [normed[todo[i]] for i in known])
        for row, i in enumerate(known):
            tags[todo[i]] = Tag(
                self.classes[best[row]], float(proba[row, best[row]]), self.version, keywords[row]
            )
        return tags

    def _keywords(
        self, X: sp.csr_matrix, best: np.ndarray, normed: list[str], most: int = 5
    ) -> list[tuple[str, ...]]:
        """The words that add most to the chosen topic's score, at most ``most``, function words
        (:data:`~forwarder.classify.normalize.STOPWORDS`) left out.

        First the words of the word n-gram features with the largest positive contribution
        (feature value x class weight); when that gives fewer than 3, the text's other words are
        ranked by the summed class weights of their own features (unigram and char n-grams).
        """
        n_word = self.features.n_word_features_
        words = X[:, :n_word].tocsr()
        rows = np.repeat(np.arange(words.shape[0]), np.diff(words.indptr))
        contrib = words.data * self._weights[best[rows], words.indices]
        order = np.lexsort((-contrib, rows))
        cols_sorted, positive = words.indices[order], contrib[order] > 0
        term_words = self._term_words
        out: list[tuple[str, ...]] = []
        starts = words.indptr
        for r in range(words.shape[0]):
            start, end = starts[r], min(starts[r + 1], starts[r] + 2 * most)
            top = cols_sorted[start:end][positive[start:end]]
            chosen = dict.fromkeys(w for col in top for w in term_words[col])
            if len(chosen) < 3:
                chosen.update(dict.fromkeys(self._by_own_features(normed[r], best[r], chosen)))
            out.append(tuple(chosen)[:most])
        return out

    def _by_own_features(self, text: str, topic: int, taken: dict[str, None]) -> list[str]:
        weights = self._weights[topic]
        scored = []
        for word in dict.fromkeys(text.split()):
            if word in taken or word in STOPWORDS:
                continue
            score = float(weights[self.features.word_columns(word)].sum())
            if score > 0:
                scored.append((score, word))
        return [w for _, w in sorted(scored, reverse=True)][: 3 - len(taken)]


def _class_weights(classifier: Any) -> np.ndarray:
    """(n_classes, n_features) weights of a linear classifier, averaged over calibration folds."""
    if hasattr(classifier, "calibrated_classifiers_"):
        coefs = [np.asarray(c.estimator.coef_) for c in classifier.calibrated_classifiers_]
        coef = np.mean(coefs, axis=0)
    else:
        coef = np.asarray(classifier.coef_)
    if coef.shape[0] == 1:  # binary: one row scores the second class
        coef = np.vstack([-coef[0], coef[0]])
    return coef


def save_model(model: TopicModel, path: str | Path) -> Path:
    """Write ``model.skops`` and ``card.json`` into directory ``path`` (created if needed).

    The card gets ``model_sha256`` and ``libraries`` filled in. Returns the directory.
    """
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / MODEL_FILE
    sio.dump(
        {"features": model.features, "classifier": model.classifier},
        target,
        compression=zipfile.ZIP_DEFLATED,
        compresslevel=6,
    )
    if model.training_rows is not None:
        model.training_rows.astype("<u8").tofile(directory / ROWS_FILE)
    card = dict(model.card)
    card["model_sha256"] = file_sha256(target)
    card["libraries"] = library_versions()
    card.setdefault("normalizer", NORMALIZER_VERSION)
    (directory / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    model.card = card
    return directory


def resolve_model_dir(path: str | Path) -> Path:
    """The model directory ``path`` designates: itself, or the current version of a model store.

    Raises :class:`ModelError` when neither exists.
    """
    directory = Path(path)
    if (directory / CARD_FILE).is_file():
        return directory
    pointer = directory / "current"
    if pointer.is_file():
        version = pointer.read_text().strip()
        chosen = directory / "versions" / version
        if not (chosen / CARD_FILE).is_file():
            raise ModelError(
                f"{pointer} names version {version!r} but {chosen} holds no model; "
                f"run `forwarder model rollback --store {directory} <version>` with a listed version"
            )
        return chosen
    if not directory.exists():
        raise ModelError(f"no topic model at {directory}; " + RETRAIN_HINT.format(path=directory))
    raise ModelError(
        f"{directory} holds neither a model ({CARD_FILE}, {MODEL_FILE}) nor a model store "
        f"(current, versions/); " + RETRAIN_HINT.format(path=directory)
    )


def read_card(directory: Path) -> dict[str, Any]:
    try:
        card = json.loads((directory / CARD_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"cannot read the model card {directory / CARD_FILE}: {exc}") from exc
    if not isinstance(card, dict) or "version" not in card:
        raise ModelError(f"{directory / CARD_FILE} is not a model card (no 'version')")
    return card


def load_model(path: str | Path) -> TopicModel:
    """Load the model at ``path`` (a model directory or a model store; see the module doc).

    Raises :class:`~forwarder.errors.ModelError` when the model is missing or unreadable, when
    ``model.skops`` differs from what its card recorded (modified afterwards) or holds a type
    outside :data:`TRUSTED_TYPES`, or when it was made with another scikit-learn minor version
    (its internals may differ: retraining is the only safe fix, and the message says how).
    """
    directory = resolve_model_dir(path)
    card = read_card(directory)
    made_with = str(card.get("libraries", {}).get("scikit-learn", "unknown"))
    if _minor(made_with) != _minor(sklearn.__version__):
        raise ModelError(
            f"the model at {directory} was trained with scikit-learn {made_with}, this install has "
            f"{sklearn.__version__}; a model is only used with the version that made it: "
            + RETRAIN_HINT.format(path=path)
        )
    target = directory / MODEL_FILE
    if not target.is_file():
        raise ModelError(f"{target} is missing; " + RETRAIN_HINT.format(path=path))
    if card.get("model_sha256") != file_sha256(target):
        raise ModelError(
            f"{target} is not the file its card describes (SHA-256 differs): it was modified or "
            "replaced after training; refusing to load it. " + RETRAIN_HINT.format(path=path)
        )
    try:
        untrusted = sio.get_untrusted_types(file=target)
    except Exception as exc:  # skops raises several kinds on a damaged archive
        raise ModelError(f"cannot read {target}: {exc}") from exc
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise ModelError(f"{target} holds types this program does not trust: {', '.join(unknown)}")
    try:
        payload = sio.load(target, trusted=TRUSTED_TYPES)
    except Exception as exc:
        raise ModelError(f"cannot load {target}: {exc}") from exc
    if not (isinstance(payload, dict) and isinstance(payload.get("features"), TextFeatures)):
        raise ModelError(f"{target} is not a forwarder topic model")
    try:
        return TopicModel(payload["features"], payload["classifier"], card, _read_rows(directory))
    except (AttributeError, KeyError, ValueError) as exc:
        raise ModelError(f"{target} is not a usable forwarder topic model: {exc}") from exc


def _read_rows(directory: Path) -> np.ndarray | None:
    path = directory / ROWS_FILE
    if not path.is_file() or path.stat().st_size % 8:
        return None
    return np.fromfile(path, dtype="<u8").astype(np.uint64)


def check_topics(model: TopicModel, config_topics: set[str], fallback: bool) -> list[str]:
    """Warnings about the fit between a model's topics and the config's groups.

    * a topic the model can emit that no group takes, when there is no fallback (triage) group to
      catch it (``fallback=False``);
    * a topic named in the config that the model never emits: its groups get nothing.

    Returns one sentence per problem, sorted; ``[]`` when they match.
    """
    warnings = []
    if not fallback:
        for topic in sorted(model.labels - set(config_topics)):
            warnings.append(
                f"model {model.version} emits topic {topic!r} but no group takes it and there is "
                "no fallback group: those complaints would not be delivered"
            )
    for topic in sorted(set(config_topics) - model.labels):
        warnings.append(
            f"topic {topic!r} is in the config but model {model.version} never emits it: "
            "its groups will receive nothing"
        )
    return warnings
