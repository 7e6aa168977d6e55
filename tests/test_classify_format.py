"""model.npz: predictions equal scikit-learn's, the bundled model equals its skops version, and
models of the earlier skops format are converted (``python -m forwarder.classify.legacy``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from forwarder.classify.data import read_csv, read_label_map
from forwarder.classify.legacy import convert_command
from forwarder.classify.model import (
    CARD_FILE,
    LEGACY_FILE,
    MODEL_FILE,
    ROWS_FILE,
    TopicModel,
    load_model,
    save_model,
)
from forwarder.classify.normalize import STOPWORDS, normalize
from forwarder.classify.train import DEFAULT_RECIPE, Recipe, fit_classifier, to_linear
from forwarder.errors import ModelError

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
SMALL = DATA / "small_complaints.csv"
LABEL_MAP = DATA / "label_map.csv"
LEGACY = DATA / "legacy_model"  # written by the scikit-learn/skops code, small_complaints.csv
EXTRA = [
    "jalan rusak berlubang di Dander", "LAMPU PJU MATI gelap bgt min", "sampah numpuk bau di TPS",
    "jalan gelap lampu mati sampah numpuk", "lampu jalan lampu jalan jalan", "?", "",
    "kata yang tidak dikenal sama sekali", "<b>sampah</b> &amp; bau di <i>pasar</i>", "xqzv wxyq",
]


def fit_both(texts: list[str], labels: list[str], recipe: Recipe = DEFAULT_RECIPE):
    """(TopicModel, the scikit-learn classifier it was made from)."""
    normed = [n for n in map(normalize, texts) if n]
    y = [label for t, label in zip(texts, labels) if normalize(t)]
    features = recipe.features().fit(normed)
    estimator = fit_classifier(recipe, features.transform(normed).to_scipy(), y)
    return TopicModel(features, to_linear(estimator), {"version": "test"}), estimator


def oracle_keywords(model: TopicModel, batch: list[str], row_texts: list[str], topics: list[str],
                    most: int = 5) -> list[tuple[str, ...]]:
    """The keyword rule of TopicModel._keywords written plainly, one text at a time."""
    features = model.features
    terms = features.word_terms()
    first_seen = {w: i for i, w in enumerate(dict.fromkeys(w for t in batch for w in t.split()))}
    out = []
    for text, topic in zip(row_texts, topics):
        weights = model._weights[model.classes.index(topic)]
        rows = features.transform([text])
        ranked = []
        for col, value in zip(rows.indices, rows.data):
            if col >= features.n_word_features_:
                continue
            contrib = np.float32(value) * weights[col]
            if contrib > 0:
                pair = " " in terms[col]
                tie = (0, -col) if pair else (1, -first_seen[terms[col]])
                ranked.append((-contrib, tie, col))
        chosen: dict[str, None] = {}
        for _, _, col in sorted(ranked)[: 2 * most]:
            for word in terms[col].split(" "):
                if word not in STOPWORDS:
                    chosen.setdefault(word)
        if len(chosen) < 3:
            scored = []
            for word in dict.fromkeys(text.split()):
                if word not in chosen and word not in STOPWORDS:
                    score = float(weights[features.word_columns(word)].sum())
                    if score > 0:
                        scored.append((score, word))
            for _, word in sorted(scored, reverse=True)[: 3 - len(chosen)]:
                chosen.setdefault(word)
        out.append(tuple(chosen)[:most])
    return out


def assert_same_as_scikit_learn(model: TopicModel, estimator, texts: list[str]) -> None:
    tags = model.predict(texts)
    normed = [normalize(t) for t in texts]
    batch = [n for n in normed if n]
    rows = model.features.transform(batch)
    known = [i for i, n in enumerate(normed) if n and rows.row_lengths()[batch.index(n)] > 0]
    assert [i for i, t in enumerate(tags) if t.topic is not None] == known
    assert all((t.confidence, t.keywords) == (0.0, ()) for t in tags if t.topic is None)
    proba = estimator.predict_proba(model.features.transform([normed[i] for i in known]).to_scipy())
    want_topics = [str(estimator.classes_[j]) for j in proba.argmax(axis=1)]
    assert [tags[i].topic for i in known] == want_topics
    got = np.array([tags[i].confidence for i in known])
    assert np.abs(got - proba.max(axis=1)).max() < 1e-5  # float32 weights and sums
    want_keywords = oracle_keywords(model, batch, [normed[i] for i in known], want_topics)
    assert [tags[i].keywords for i in known] == want_keywords


@pytest.fixture(scope="module")
def labelled():
    return read_csv(SMALL, "text", "kategori", "tanggal", read_label_map(LABEL_MAP))


def test_same_tags_as_scikit_learn(labelled):
    model, estimator = fit_both(labelled.texts, labelled.labels)
    assert_same_as_scikit_learn(model, estimator, labelled.texts + EXTRA)


def test_same_tags_as_scikit_learn_two_topics_and_fold_ensemble(labelled):
    keep = [i for i, label in enumerate(labelled.labels) if label != "kebersihan"]
    texts, labels = [labelled.texts[i] for i in keep], [labelled.labels[i] for i in keep]
    model, estimator = fit_both(texts, labels)
    assert model.classifier.coef.shape[:2] == (1, 1)  # one score, for the second topic
    assert_same_as_scikit_learn(model, estimator, labelled.texts + EXTRA)
    model, estimator = fit_both(labelled.texts, labelled.labels, Recipe(ensemble=True))
    assert model.classifier.coef.shape[0] == 3
    assert_same_as_scikit_learn(model, estimator, labelled.texts + EXTRA)


def test_saved_and_loaded_model_predicts_the_same(labelled, tmp_path):
    model, _ = fit_both(labelled.texts, labelled.labels)
    back = load_model(save_model(model, tmp_path / "m"))
    texts = labelled.texts + EXTRA
    for a, b in zip(model.predict(texts), back.predict(texts)):
        assert (a.topic, a.confidence, a.keywords) == (b.topic, b.confidence, b.keywords)


def test_bundled_model_gives_the_tags_of_its_skops_version():
    golden = json.loads((DATA / "default_model_tags.json").read_text(encoding="utf-8"))
    model = load_model(ROOT / "models" / "default")
    if model.version != golden["model_version"]:
        pytest.skip("the bundled model was retrained since its skops version")
    import csv

    with open(ROOT / "examples" / "complaints.csv", newline="", encoding="utf-8") as handle:
        texts = [r["text"] for r in csv.DictReader(handle)] + golden["more"]
    tags = model.predict(texts)
    assert [t.topic for t in tags] == [g[0] for g in golden["tags"]]
    assert [list(t.keywords) for t in tags] == [g[2] for g in golden["tags"]]
    assert max(abs(t.confidence - g[1]) for t, g in zip(tags, golden["tags"])) < 1e-6


def test_legacy_model_is_refused_with_a_hint_then_converted(tmp_path):
    target = tmp_path / "legacy"
    shutil.copytree(LEGACY, target)
    with pytest.raises(ModelError, match="earlier skops format.*python -m forwarder.classify.legacy"):
        load_model(target)
    result = CliRunner().invoke(convert_command, [str(target)])
    assert result.exit_code == 0, result.output
    assert f"converted {target}" in result.output
    assert not (target / LEGACY_FILE).exists() and (target / MODEL_FILE).is_file()
    card = json.loads((target / CARD_FILE).read_text())
    assert (card["format_version"], card["version"]) == (1, "20250101T000000-legacy")
    model = load_model(target)
    assert model.training_rows is not None and len(model.training_rows) == 36
    want = json.loads((LEGACY / "predictions.json").read_text())
    tags = model.predict(want["texts"])
    for tag, (topic, confidence, keywords) in zip(tags, want["tags"]):
        assert (tag.topic, list(tag.keywords)) == (topic, keywords)
        assert abs(tag.confidence - confidence) < 1e-6
    result = CliRunner().invoke(convert_command, [str(target)])
    assert "nothing to convert" in result.output


def test_legacy_versions_of_a_store_are_converted(tmp_path):
    store = tmp_path / "store"
    shutil.copytree(LEGACY, store / "versions" / "20250101T000000-legacy")
    (store / "current").write_text("20250101T000000-legacy\n")
    with pytest.raises(ModelError, match="convert"):
        load_model(store)
    result = CliRunner().invoke(convert_command, [str(store)])
    assert result.exit_code == 0, result.output
    assert load_model(store).version == "20250101T000000-legacy"


def test_legacy_file_that_differs_from_its_card_is_not_converted(tmp_path):
    target = tmp_path / "legacy"
    shutil.copytree(LEGACY, target)
    with open(target / LEGACY_FILE, "ab") as handle:
        handle.write(b"\0")
    result = CliRunner().invoke(convert_command, [str(target)])
    assert result.exit_code == 1 and "SHA-256 differs" in result.output
    assert (target / LEGACY_FILE).is_file() and not (target / MODEL_FILE).exists()
    assert (target / ROWS_FILE).is_file()


def test_daemon_side_imports_no_scikit_learn_scipy_or_skops():
    """Loading the bundled model and classifying (what the daemon does) needs numpy only."""
    code = (
        "import sys, forwarder.cli\n"
        "from forwarder.classify.model import load_model\n"
        f"m = load_model({str(ROOT / 'models' / 'default')!r})\n"
        "print(m.predict(['jalan rusak parah'])[0].topic)\n"
        "print(sorted(n for n in ('sklearn', 'scipy', 'skops', 'matplotlib') if n in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["jalan", "[]"]
