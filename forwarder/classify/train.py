"""Train a topic model: the recipe, fitting, and the train-evaluate-(refit) run the CLIs share.

Fitting uses scikit-learn (LinearSVC calibrated with CalibratedClassifierCV); the fitted classifier
is then turned into plain arrays (:func:`to_linear`), which is all a model keeps: predicting needs
numpy only (:mod:`forwarder.classify.modelfile`). This module is imported only by the training
commands.

:data:`DEFAULT_RECIPE` was chosen by measurement on a validation split carved from the training part
of the shared Surabaya data (bench/bench_classifier.py, bench/RESULTS-classifier.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import joblib
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import LinearSVC

from forwarder.classify.data import Labelled, check_counts, split
from forwarder.classify.evaluate import evaluate
from forwarder.classify.features import TextFeatures
from forwarder.classify.model import NORMALIZER_VERSION, TopicModel, row_hash
from forwarder.classify.modelfile import Linear
from forwarder.classify.normalize import normalize

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Recipe:
    """Features and classifier. ``calibration_folds`` is the ``cv`` of CalibratedClassifierCV."""

    word_max_n: int = 2
    char_ngrams: tuple[int, int] = (3, 4)
    min_df: int = 2
    char_min_df: int = 2
    sublinear_tf: bool = True
    char_weight: float = 1.0
    C: float = 0.5
    class_weight: str | None = None
    calibration: str = "sigmoid"
    calibration_folds: int = 3
    ensemble: bool = False
    threads: int = 2
    seed: int = 0

    def features(self) -> TextFeatures:
        return TextFeatures(
            word_max_n=self.word_max_n,
            char_ngrams=tuple(self.char_ngrams),
            min_df=self.min_df,
            char_min_df=self.char_min_df,
            sublinear_tf=self.sublinear_tf,
            char_weight=self.char_weight,
        )

    def classifier(self) -> CalibratedClassifierCV:
        svm = LinearSVC(C=self.C, class_weight=self.class_weight, random_state=self.seed)
        return CalibratedClassifierCV(
            svm,
            method=self.calibration,
            cv=self.calibration_folds,
            ensemble=self.ensemble,
            n_jobs=self.threads,
        )


def fit_classifier(recipe: Recipe, X: Any, y: list[str]) -> CalibratedClassifierCV:
    """Fit the calibrated classifier on ``X`` (a scipy CSR matrix), folds in threads (liblinear
    releases the GIL), then keep the weights as float32: half the size on disk, scores equal to
    ~1e-7."""
    classifier = recipe.classifier()
    with joblib.parallel_backend("threading", n_jobs=recipe.threads):
        classifier.fit(X, y)
    for calibrated in classifier.calibrated_classifiers_:
        calibrated.estimator.coef_ = calibrated.estimator.coef_.astype(np.float32)
    return classifier


def to_linear(classifier: CalibratedClassifierCV) -> Linear:
    """The arrays of a fitted ``CalibratedClassifierCV(LinearSVC(), method="sigmoid")`` (one
    fold, or several with ``ensemble=True``). Raises ValueError for another kind of classifier."""
    coef, intercept, a, b = [], [], [], []
    for calibrated in classifier.calibrated_classifiers_:
        calibrators = calibrated.calibrators
        if getattr(calibrated, "method", "sigmoid") != "sigmoid" or not all(
            hasattr(c, "a_") and hasattr(c, "b_") for c in calibrators
        ):
            raise ValueError("only sigmoid calibration can be stored")
        estimator = calibrated.estimator
        if list(estimator.classes_) != list(classifier.classes_):
            raise ValueError("a fold was fitted on fewer topics than the model has")
        coef.append(np.asarray(estimator.coef_, dtype=np.float32))
        intercept.append(np.asarray(estimator.intercept_, dtype=np.float64))
        a.append([float(c.a_) for c in calibrators])
        b.append([float(c.b_) for c in calibrators])
    return Linear(
        [str(c) for c in classifier.classes_], np.stack(coef), np.stack(intercept),
        np.array(a, dtype=np.float64), np.array(b, dtype=np.float64),
    )


DEFAULT_RECIPE = Recipe()
MIN_ROWS_PER_TOPIC = 5
"""Each topic needs this many rows: a few for each of the 3 calibration folds plus a test row."""


def new_version(now: datetime | None = None, data_sha: str = "") -> str:
    """A model version id: UTC time and the start of the data hash, ``20261129T142233-ab12cd``."""
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S") + (f"-{data_sha[:6]}" if data_sha else "")


def fit_model(
    texts: list[str],
    labels: list[str],
    recipe: Recipe = DEFAULT_RECIPE,
    card: dict[str, Any] | None = None,
) -> TopicModel:
    """Fit features and calibrated classifier on raw ``texts`` with topics ``labels``.

    Texts with no usable words are left out of fitting. ``card`` seeds the model card (it must
    have ``version``; one is made up otherwise).
    """
    normed = [normalize(t) for t in texts]
    keep = [i for i, n in enumerate(normed) if n]
    normed = [normed[i] for i in keep]
    y = [labels[i] for i in keep]
    features = recipe.features().fit(normed)
    classifier = to_linear(fit_classifier(recipe, features.transform(normed).to_scipy(), y))
    card = dict(card or {})
    card.setdefault("version", new_version())
    card.setdefault("labels", sorted(set(y)))
    card["recipe"] = asdict(recipe)
    card["normalizer"] = NORMALIZER_VERSION
    return TopicModel(features, classifier, card, row_hash(texts))


@dataclass
class TrainResult:
    """``model`` is the one to write; ``evaluated`` the one the ``metrics`` describe (fitted on the
    training part only; the same object unless ``refit``)."""

    model: TopicModel
    evaluated: TopicModel
    metrics: dict[str, Any]
    test: Labelled
    test_tags: list
    seconds: float


def train_and_evaluate(
    data: Labelled,
    *,
    test_fraction: float = 0.2,
    by_date: bool = False,
    refit: bool = False,
    recipe: Recipe = DEFAULT_RECIPE,
    sources: list[str] | None = None,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> TrainResult:
    """Split, fit on the training part, evaluate on the held-out part, optionally refit on all.

    The model card gets the metrics, the split, the data hash and row counts. Raises
    :class:`~forwarder.classify.data.TrainingDataError` when a topic has too few rows.
    """
    say = progress or (lambda _msg: None)
    check_counts(data, MIN_ROWS_PER_TOPIC)
    train_idx, test_idx = split(data, test_fraction, by_date)
    train, test = data.subset(train_idx), data.subset(test_idx)
    check_counts(train, recipe.calibration_folds)
    now = now or datetime.now(UTC)
    card: dict[str, Any] = {
        "version": new_version(now, data.sha256),
        "created_at": now.isoformat(timespec="seconds"),
        "data": {
            "sha256": data.sha256,
            "rows": len(data),
            "rows_train": len(train),
            "rows_test": len(test),
            "sources": list(sources or []),
            "notes": list(data.notes),
        },
        "split": {
            "kind": "newest by date" if by_date else "stratified random",
            "test_fraction": test_fraction,
        },
    }
    started = time.perf_counter()
    say(f"fitting on {len(train)} rows")
    model = fit_model(train.texts, train.labels, recipe, card)
    say(f"evaluating on {len(test)} held-out rows")
    tags = model.predict(test.texts)
    metrics = evaluate(test.texts, test.labels, tags)
    model.card["metrics"] = metrics
    evaluated = model
    if refit:
        say(f"refitting on all {len(data)} rows")
        model = fit_model(data.texts, data.labels, recipe, dict(model.card))
        model.card["refit_on_all_rows"] = True
        model.card["labels"] = sorted(set(data.labels))
    return TrainResult(model, evaluated, metrics, test, tags, time.perf_counter() - started)
