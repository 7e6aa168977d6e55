"""The topic model: load, predict, save, and check it against the config.

On disk a model is a directory holding:

``model.npz``
    The fitted features and calibrated linear classifier as plain arrays, in this project's own
    format (see :mod:`forwarder.classify.modelfile`): read with numpy alone, with
    ``allow_pickle=False``, so loading a model runs no code from the file and the daemon needs
    neither scikit-learn nor scipy. It is loaded only if its SHA-256 matches the card.
``card.json``
    The model card: ``version``, ``format`` (``"forwarder-linear"``) and ``format_version``,
    ``labels``, ``metrics`` (accuracy, macro-F1, per topic), ``data`` (SHA-256 and row counts of
    the training data), ``libraries`` (versions that trained it, for the record), ``recipe``,
    ``created_at`` and ``model_sha256``.
``training_rows.u64`` (optional)
    Sorted 64-bit hashes (:func:`row_hash`) of the texts the model was fitted on, raw little-endian
    integers: a later comparison leaves these rows out of the held-out data, so a model is never
    judged on complaints it has seen.

A model of an unknown ``format_version`` is refused with a :class:`~forwarder.errors.ModelError`
that says to retrain; one in the earlier skops format (``model.skops``) with one that says how to
convert it (``python -m forwarder.classify.legacy PATH``, :mod:`forwarder.classify.legacy`).

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
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from forwarder.classify.features import Rows, TextFeatures
from forwarder.classify.modelfile import (
    FORMAT,
    FORMAT_VERSION,
    MODEL_FILE,
    Linear,
    read_arrays,
    write_arrays,
)
from forwarder.classify.normalize import STOPWORDS, tokens, warm
from forwarder.errors import ModelError
from forwarder.types import Tag

CARD_FILE = "card.json"
ROWS_FILE = "training_rows.u64"
LEGACY_FILE = "model.skops"
NORMALIZER_VERSION = "2"

RETRAIN_HINT = (
    "retrain it with: forwarder train --data examples/complaints.csv --text-column text "
    "--label-column topic --out {path}{force}"
)
"""How to replace a plain model directory (``force``: `` --force`` when it exists, as ``forwarder
train`` does not overwrite a directory without it); :func:`retrain_hint` gives the one for a model
store."""

STORE_CURRENT = "current"
STORE_VERSIONS = "versions"
MODEL_FILES = (CARD_FILE, MODEL_FILE, ROWS_FILE, LEGACY_FILE)
"""The files of one model directory."""


def is_model_store(path: str | Path) -> bool:
    """Whether ``path`` is a model store (:mod:`forwarder.classify.store`): a directory with a
    ``current`` file or a ``versions/`` folder. This is what decides how :func:`load_model` reads
    it, and what ``forwarder model`` and ``forwarder train --out`` treat as a store."""
    directory = Path(path)
    return (directory / STORE_CURRENT).is_file() or (directory / STORE_VERSIONS).is_dir()


def store_of(path: str | Path) -> Path | None:
    """The model store ``path`` is, or whose ``versions/`` it lies in (``S/versions/<id>``, or
    deeper); None when it is neither."""
    directory = Path(path)
    if is_model_store(directory):
        return directory
    for parent in directory.parents:
        if parent.name == STORE_VERSIONS and is_model_store(parent.parent):
            return parent.parent
    return None


def stray_model_files(store: str | Path) -> list[str]:
    """Names of model files lying directly in the model store ``store`` (``card.json``,
    ``model.npz``, ...), as ``forwarder train --out STORE`` wrote them before it refused a store:
    they are no version of the store and are never loaded (its ``current`` version is)."""
    return [name for name in MODEL_FILES if (Path(store) / name).is_file()]


def retrain_hint(path: str | Path) -> str:
    """How to replace the unusable model at ``path``: for a model store (or a version in one) the
    ``forwarder model`` commands (``forwarder train --out`` refuses a store), otherwise
    :data:`RETRAIN_HINT`."""
    store = store_of(path)
    if store is None:
        return RETRAIN_HINT.format(path=path, force=" --force" if Path(path).exists() else "")
    return (f"put an earlier version back with `forwarder model rollback --store {store}` "
            f"(`forwarder model list --store {store}` lists them), or train a new one with "
            f"`forwarder model train --store {store} --data examples/complaints.csv --text-column "
            f"text --label-column topic` and make it current with `forwarder model promote --store "
            f"{store}`")


def library_versions() -> dict[str, str]:
    """Versions of the libraries that trained a model, as recorded in the card (read from the
    installed packages' metadata, without importing them)."""
    out = {}
    for name in ("scikit-learn", "numpy", "scipy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    out["python"] = platform.python_version()
    return out


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
    topics it can emit, ``card`` its model card (see the module doc). ``features`` and
    ``classifier`` (:class:`~forwarder.classify.modelfile.Linear`) are what ``model.npz`` holds.
    """

    def __init__(
        self,
        features: TextFeatures,
        classifier: Linear,
        card: dict[str, Any],
        training_rows: np.ndarray | None = None,
    ) -> None:
        if classifier.n_features != len(features.idf_):
            raise ValueError(
                f"classifier of {classifier.n_features} features for {len(features.idf_)} features"
            )
        self.features = features
        self.training_rows = training_rows  # row_hash() of the fitted texts, if known
        self.classifier = classifier
        self.card = card
        self.version: str = str(card.get("version", ""))
        self.classes: list[str] = list(classifier.classes)
        self.labels: frozenset[str] = frozenset(self.classes)
        self._weights = classifier.class_weights()
        features.warm()
        warm([t for t in features.word_vocab_ if " " not in t])
        terms = features.word_terms()
        self._term_words = [tuple(w for w in t.split(" ") if w not in STOPWORDS) for t in terms]
        self._is_pair = np.array([" " in t for t in terms], dtype=bool)

    def __repr__(self) -> str:
        return f"TopicModel(version={self.version!r}, labels={len(self.labels)})"

    def predict(self, texts: Sequence[str]) -> list[Tag]:
        """One :class:`~forwarder.types.Tag` per text, in order.

        ``confidence`` is the calibrated probability of the chosen topic. A text with no usable
        words (empty, ``"?"``, emoji or digits only, greetings only) or none the model knows gets
        ``Tag(None, 0.0, version, ())``. Never raises on odd text; non-text items count as empty.
        """
        words = [tokens(t) if isinstance(t, str) else [] for t in texts]
        tags = [Tag(None, 0.0, self.version, ())] * len(words)
        todo = [i for i, w in enumerate(words) if w]
        if not todo:
            return tags
        X = self.features.transform_words([words[i] for i in todo])
        known = np.flatnonzero(X.row_lengths() > 0)
        if len(known) == 0:
            return tags
        if len(known) < X.shape[0]:
            X = X.take(known)
        proba = self.classifier.predict_proba(X)
        best = proba.argmax(axis=1)
        keywords = self._keywords(X, best, [words[todo[i]] for i in known])
        for row, i in enumerate(known):
            tags[todo[i]] = Tag(
                self.classes[best[row]], float(proba[row, best[row]]), self.version, keywords[row]
            )
        return tags

    def _keywords(
        self, X: Rows, best: np.ndarray, words: list[list[str]], most: int = 5
    ) -> list[tuple[str, ...]]:
        """The words that add most to the chosen topic's score, at most ``most``, function words
        (:data:`~forwarder.classify.normalize.STOPWORDS`) left out.

        First the words of the word n-gram features with the largest positive contribution
        (feature value x class weight); when that gives fewer than 3, the text's other words are
        ranked by the summed class weights of their own features (unigram and char n-grams).
        Equal contributions (features seen in exactly the same training texts) are ordered as
        the first version of this model did: word pairs before single words, pairs by column
        descending, single words latest first by their first appearance in the batch.
        """
        n_word = self.features.n_word_features_
        entry_row = np.repeat(np.arange(X.shape[0]), X.row_lengths())
        in_word_block = X.indices < n_word
        rows, cols = entry_row[in_word_block], X.indices[in_word_block]
        contrib = X.data[in_word_block] * self._weights[best[rows], cols]
        positive = contrib > 0  # only these can be chosen: they sort before the others
        rows, cols, contrib = rows[positive], cols[positive], contrib[positive]
        starts = np.zeros(X.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=X.shape[0]), out=starts[1:])
        order = self._ranked(rows, contrib, cols, X.unigram_columns)
        cols_sorted, starts = cols[order].tolist(), starts.tolist()
        term_words = self._term_words
        out: list[tuple[str, ...]] = []
        for r in range(X.shape[0]):
            top = cols_sorted[starts[r] : min(starts[r + 1], starts[r] + 2 * most)]
            chosen = dict.fromkeys(w for col in top for w in term_words[col])
            if len(chosen) < 3:
                chosen.update(dict.fromkeys(self._by_own_features(words[r], best[r], chosen)))
            out.append(tuple(chosen)[:most])
        return out

    def _ranked(
        self, rows: np.ndarray, contrib: np.ndarray, cols: np.ndarray, unigram_columns: np.ndarray
    ) -> np.ndarray:
        """Order of entries by row, then contribution (positive float32) descending, then the
        tie rule of :meth:`_keywords`. One integer sort on ``row, contribution`` (the bits of a
        positive float32 sort like the float), then the rare equal runs by :meth:`_tie_rank`."""
        key = (rows.astype(np.int64) << 31) | (0x7FFFFFFF - contrib.view(np.int32)).astype(np.int64)
        order = np.argsort(key)
        ranked = key[order]
        equal = ranked[1:] == ranked[:-1]
        if equal.any():
            tied = np.zeros(len(key), dtype=bool)
            tied[1:] |= equal
            tied[:-1] |= equal
            where = np.flatnonzero(tied)
            sub = order[where]
            order[where] = sub[np.lexsort((self._tie_rank(cols[sub], unigram_columns), key[sub]))]
        return order

    def _tie_rank(self, cols: np.ndarray, unigram_columns: np.ndarray) -> np.ndarray:
        """Order among equal contributions (see :meth:`_keywords`): pairs ``-(col + 1)``, single
        words ``n - first appearance`` (``n`` distinct words in the batch)."""
        rank = -(cols + 1)
        single = ~self._is_pair[cols]
        if single.any():
            sorter = np.argsort(unigram_columns)
            word = sorter[np.searchsorted(unigram_columns, cols[single], sorter=sorter)]
            rank[single] = len(unigram_columns) - word
        return rank

    def _by_own_features(self, words: list[str], topic: int, taken: dict[str, None]) -> list[str]:
        weights = self._weights[topic]
        scored = []
        for word in dict.fromkeys(words):
            if word in taken or word in STOPWORDS:
                continue
            score = float(weights[self.features.word_columns(word)].sum())
            if score > 0:
                scored.append((score, word))
        return [w for _, w in sorted(scored, reverse=True)][: 3 - len(taken)]


def save_model(model: TopicModel, path: str | Path) -> Path:
    """Write ``model.npz`` and ``card.json`` (and ``training_rows.u64`` when known) into
    directory ``path`` (created if needed).

    The card gets ``format``, ``format_version``, ``model_sha256`` and ``libraries`` filled in.
    Returns the directory.
    """
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / MODEL_FILE
    write_arrays(target, model.features, model.classifier)
    if model.training_rows is not None:
        model.training_rows.astype("<u8").tofile(directory / ROWS_FILE)
    card = dict(model.card)
    card["format"] = FORMAT
    card["format_version"] = FORMAT_VERSION
    card["model_sha256"] = file_sha256(target)
    card.setdefault("libraries", library_versions())
    card.setdefault("normalizer", NORMALIZER_VERSION)
    (directory / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    model.card = card
    return directory


def resolve_model_dir(path: str | Path) -> Path:
    """The model directory ``path`` designates: the current version of a model store
    (:func:`is_model_store`), or ``path`` itself when it is a plain model directory. A store is
    always read through its ``current`` file, as ``forwarder model list`` shows it, even when model
    files lie next to it (:func:`stray_model_files`).

    Raises :class:`ModelError` when there is no model: a store with no current version or whose
    current version is missing, or a path that is neither a model nor a store.
    """
    directory = Path(path)
    if is_model_store(directory):
        pointer = directory / STORE_CURRENT
        version = pointer.read_text().strip() if pointer.is_file() else ""
        if not version:
            raise ModelError(
                f"the model store {directory} has no current version; make one current with "
                f"`forwarder model promote --store {directory} [VERSION]` (`forwarder model list "
                f"--store {directory}` lists them)"
            )
        chosen = directory / STORE_VERSIONS / version
        if not (chosen / CARD_FILE).is_file():
            raise ModelError(
                f"{pointer} names version {version!r} but {chosen} holds no model; "
                f"run `forwarder model rollback --store {directory} <version>` with a listed version"
            )
        return chosen
    if (directory / CARD_FILE).is_file():
        return directory
    if not directory.exists():
        where = directory if directory.is_absolute() else f"{directory} ({directory.resolve()})"
        relative = ("; a relative `model:` path is read from the directory forwarder runs in (systemd: "
                    "WorkingDirectory=), or give an absolute path" if not directory.is_absolute() else "")
        raise ModelError(f"no topic model at {where}{relative}; to start a model store of your own there "
                         f"from the bundled model: cp -r models/default {directory}; or "
                         + RETRAIN_HINT.format(path=directory, force=""))
    if directory.is_file():
        raise ModelError(f"{directory} is a file; a model is a directory ({CARD_FILE}, {MODEL_FILE}) "
                         "as `forwarder train --out DIR` writes, or a model store (current, versions/)")
    raise ModelError(
        f"{directory} holds neither a model ({CARD_FILE}, {MODEL_FILE}) nor a model store "
        f"(current, versions/); " + RETRAIN_HINT.format(path=directory, force=" --force")
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
    its card names a format or ``format_version`` this program does not read (the message says
    to retrain, or to convert a model of the earlier skops format), or when ``model.npz`` differs
    from what its card recorded (modified or replaced after training).
    """
    directory = resolve_model_dir(path)
    card = read_card(directory)
    target = directory / MODEL_FILE
    if "format_version" not in card and (directory / LEGACY_FILE).is_file():
        raise ModelError(
            f"the model at {directory} is in the earlier skops format ({LEGACY_FILE}); convert it "
            f"with `python -m forwarder.classify.legacy {path}` (needs scikit-learn and skops) or "
            + retrain_hint(path)
        )
    if card.get("format", FORMAT) != FORMAT or card.get("format_version") != FORMAT_VERSION:
        raise ModelError(
            f"the model at {directory} is in format {card.get('format')!r} version "
            f"{card.get('format_version')!r}; this program reads {FORMAT!r} version "
            f"{FORMAT_VERSION}: " + retrain_hint(path)
        )
    if not target.is_file():
        raise ModelError(f"{target} is missing; " + retrain_hint(path))
    if card.get("model_sha256") != file_sha256(target):
        raise ModelError(
            f"{target} is not the file its card describes (SHA-256 differs): it was modified or "
            "replaced after training; refusing to load it. " + retrain_hint(path)
        )
    try:
        features, classifier = read_arrays(target)
        return TopicModel(features, classifier, card, _read_rows(directory))
    except ValueError as exc:
        raise ModelError(f"cannot read {target}: {exc}") from exc


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
