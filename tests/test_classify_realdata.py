"""Quality floor on the real Surabaya complaints (../shared/data), protocol of its README, and the
numpy predictions equal to scikit-learn's on its test split.

Skipped when the shared data is absent. The data is read in place, never copied.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from test_classify_format import assert_same_as_scikit_learn, fit_both

from forwarder.classify.evaluate import evaluate

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "surabaya_mediacenter"

TOPIC_MACRO_F1_FLOOR = 0.855
"""DEFAULT_RECIPE scores 0.859 here, the same on every run (fixed folds and seed;
bench/RESULTS-classifier.md); the floor leaves room for floating-point differences between machines
only. Issue 3 asks for 0.88 and its target is 0.90: not reached (see the results file)."""
TOPIC_PRECISION_AT_80_FLOOR = 0.925
"""Precision of the 80 % most confident complaints: 0.927 here (target 0.97, not reached)."""

pytestmark = [
    pytest.mark.realdata,
    pytest.mark.skipif(not (DATA / "complaints.csv").is_file(), reason="../shared/data is absent"),
]


def topic_rows() -> tuple[list[str], list[str]]:
    csv.field_size_limit(10_000_000)
    with open(DATA / "topic_map.csv", newline="", encoding="utf-8") as handle:
        mapping = {r["topik"]: r["topic"] for r in csv.DictReader(handle)}
    with open(DATA / "complaints.csv", newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle)
                if r["is_dup_text"] != "True" and r["topik"] in mapping]
    rows.sort(key=lambda r: r["tanggal_keluhan"])
    return [r["keluhan"] for r in rows], [mapping[r["topik"]] for r in rows]


@pytest.fixture(scope="module")
def time_split():
    """(model, its scikit-learn classifier, test texts, test labels): fitted on the oldest 80 %."""
    texts, labels = topic_rows()
    cut = round(len(texts) * 0.8)
    model, estimator = fit_both(texts[:cut], labels[:cut])
    return model, estimator, texts[cut:], labels[cut:]


def test_topic_quality_floor_on_time_split(time_split):
    model, _, texts, labels = time_split
    tags = model.predict(texts)
    metrics = evaluate(texts, labels, tags)
    assert len(model.labels) == 15
    assert metrics["macro_f1"] >= TOPIC_MACRO_F1_FLOOR, metrics
    assert metrics["coverage"]["0.8"]["precision"] >= TOPIC_PRECISION_AT_80_FLOOR, metrics
    assert all(1 <= len(t.keywords) <= 5 for t in tags if t.topic is not None)


def test_same_tags_as_scikit_learn_on_the_test_split(time_split):
    model, estimator, texts, _ = time_split
    assert_same_as_scikit_learn(model, estimator, texts)
