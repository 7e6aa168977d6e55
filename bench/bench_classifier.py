"""Benchmark the topic classifier against the plain recipe, side by side, on the shared data.

Protocol (shared/data/README.md): Surabaya Media Center complaints, ``is_dup_text`` rows dropped,
sorted by ``tanggal_keluhan``, oldest 80 % train / newest 20 % test. Task ``topic``: labels from
``topic_map.csv`` (15 topics; unmapped rows left out). Task ``instansi``: every ``Kelurahan …`` /
``Kecamatan …`` office merged into one class, classes with under 30 rows dropped (24 classes).

Plain recipe: stock scikit-learn, raw text, FeatureUnion(TfidfVectorizer word 1-2-grams,
TfidfVectorizer char_wb 2-5-grams), LinearSVC C=0.5, CalibratedClassifierCV(cv=3).
Ours: forwarder.classify (normalisation, TextFeatures, DEFAULT_RECIPE), predicting from model.npz
with numpy alone.

Speed columns: a batch of all test texts (first pass, then again: a running daemon's steady
state), and one text per call over the first 300 (what the daemon does with a quiet inbox).

Usage::

    python bench/bench_classifier.py                 # both tasks, writes bench/RESULTS-classifier.md
    python bench/bench_classifier.py --validate      # choices: newest 20 % of the TRAIN part as validation
    python bench/bench_classifier.py --no-write
    python bench/bench_classifier.py --retrain week  # + ours retrained every week over the test part

``--retrain week|month`` adds a row that is *not* the protocol's figure: the test part is classified
in calendar weeks (months), each by a model fitted on every row dated before it, as a deployment
that runs ``forwarder model train`` that often on the officers' labels would be. Only quality
columns are filled in that row.

The data is read from ../shared/data relative to the repository and never copied.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.svm import LinearSVC

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "surabaya_mediacenter"
sys.path.insert(0, str(ROOT))

from forwarder.classify.evaluate import evaluate
from forwarder.classify.model import load_model, save_model
from forwarder.classify.train import DEFAULT_RECIPE, Recipe, fit_model
from forwarder.types import Tag

csv.field_size_limit(10_000_000)


def load_task(task: str) -> tuple[list[str], list[str], list[str]]:
    """(texts, labels, dates) of a task, duplicates dropped, sorted by date (stable)."""
    with open(DATA / "complaints.csv", newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["is_dup_text"] != "True"]
    if task == "topic":
        with open(DATA / "topic_map.csv", newline="", encoding="utf-8") as handle:
            mapping = {r["topik"]: r["topic"] for r in csv.DictReader(handle)}
        rows = [dict(r, label=mapping[r["topik"]]) for r in rows if r["topik"] in mapping]
    else:
        def merged(name: str) -> str:
            return "Kelurahan/Kecamatan" if name.startswith(("Kelurahan", "Kecamatan")) else name

        counts = Counter(merged(r["instansi"]) for r in rows)
        rows = [dict(r, label=merged(r["instansi"])) for r in rows]
        rows = [r for r in rows if counts[r["label"]] >= 30]
    rows.sort(key=lambda r: r["tanggal_keluhan"])
    return [r["keluhan"] for r in rows], [r["label"] for r in rows], [r["tanggal_keluhan"] for r in rows]


def time_split(n: int, fraction: float = 0.2) -> tuple[slice, slice]:
    cut = round(n * (1 - fraction))
    return slice(0, cut), slice(cut, n)


class Plain:
    """The reference recipe of shared/data/README.md, stock scikit-learn on raw text."""

    name = "plain recipe"

    def fit(self, texts: list[str], labels: list[str]) -> Plain:
        union = FeatureUnion([
            ("word", TfidfVectorizer(ngram_range=(1, 2))),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5))),
        ])
        clf = CalibratedClassifierCV(LinearSVC(C=0.5), cv=3)
        self.pipe = make_pipeline(union, clf).fit(texts, labels)
        return self

    def predict(self, texts: list[str]) -> list[Tag]:
        proba = self.pipe.predict_proba(texts)
        classes = self.pipe.classes_
        best = proba.argmax(axis=1)
        return [Tag(str(classes[b]), float(proba[i, b])) for i, b in enumerate(best)]

    def size_bytes(self) -> int:
        import skops.io as sio

        return len(sio.dumps(self.pipe))


class Ours:
    name = "forwarder"

    def __init__(self, recipe: Recipe = DEFAULT_RECIPE) -> None:
        self.recipe = recipe

    def fit(self, texts: list[str], labels: list[str]) -> Ours:
        self.model = fit_model(texts, labels, self.recipe)
        return self

    def predict(self, texts: list[str]) -> list[Tag]:
        return self.model.predict(texts)

    def size_bytes(self) -> int:
        with tempfile.TemporaryDirectory() as tmp:
            save_model(self.model, tmp)
            size = sum(p.stat().st_size for p in Path(tmp).iterdir())
            started = time.perf_counter()
            load_model(tmp)
            self.load_seconds = time.perf_counter() - started
        return size


def run(system, train_x, train_y, test_x, test_y) -> dict:
    started = time.perf_counter()
    system.fit(train_x, train_y)
    train_s = time.perf_counter() - started
    system.predict(test_x[:200])  # warm-up
    started = time.perf_counter()
    tags = system.predict(test_x)  # first pass: words not seen before are analysed on the way
    rate = len(test_x) / (time.perf_counter() - started)
    steady = 0.0
    for _ in range(3):  # the same texts again: a running daemon's steady state
        started = time.perf_counter()
        system.predict(test_x)
        steady = max(steady, len(test_x) / (time.perf_counter() - started))
    started = time.perf_counter()
    for text in test_x[:300]:  # one complaint per call
        system.predict([text])
    single = min(300, len(test_x)) / (time.perf_counter() - started)
    out = evaluate(test_x, test_y, tags)
    out.update(train_s=train_s, rate=rate, steady=steady, single=single, size=system.size_bytes())
    out["load_s"] = getattr(system, "load_seconds", None)
    return out


def period_of(date: str, every: str) -> str:
    """Calendar month ``2023-03`` or week (its Monday, ``2023-03-06``) of an ISO date text."""
    if every == "month":
        return date[:7]
    day = datetime.fromisoformat(date[:10])
    return (day - timedelta(days=day.weekday())).strftime("%Y-%m-%d")


def rolling(texts: list[str], labels: list[str], dates: list[str], first_test: int, every: str) -> dict:
    """Quality when the test rows (``first_test`` onwards, sorted by date) are classified period
    by period, each by ``DEFAULT_RECIPE`` fitted on every row dated before the period."""
    tags, truth, seen, refits = [], [], [], 0
    keys = [period_of(d, every) for d in dates]
    for period in sorted(set(keys[first_test:])):
        past = [i for i, k in enumerate(keys) if k < period]
        now = [i for i in range(first_test, len(texts)) if keys[i] == period]
        model = fit_model([texts[i] for i in past], [labels[i] for i in past])
        refits += 1
        tags += model.predict([texts[i] for i in now])
        truth += [labels[i] for i in now]
        seen += [texts[i] for i in now]
    out = evaluate(seen, truth, tags)
    out["refits"] = refits
    return out


def quality_row(name: str, m: dict) -> str:
    return (
        f"| {name} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['coverage']['0.8']['precision']:.3f} "
        f"| {m['coverage']['0.7']['precision']:.3f} | {m['short_accuracy']:.3f} (n={m['n_short']}) "
        "| - | - | - | - | - | - |"
    )


def row(name: str, m: dict) -> str:
    load = f"{m['load_s']:.2f} s" if m.get("load_s") is not None else "-"
    return (
        f"| {name} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['coverage']['0.8']['precision']:.3f} "
        f"| {m['coverage']['0.7']['precision']:.3f} | {m['short_accuracy']:.3f} (n={m['n_short']}) "
        f"| {m['train_s']:.1f} s | {m['rate']:,.0f}/s | {m['steady']:,.0f}/s | {m['single']:,.0f}/s "
        f"| {m['size'] / 1e6:.1f} MB | {load} |"
    )


HEADER = (
    "| system | accuracy | macro-F1 | precision @80 % cov. | precision @70 % cov. "
    "| short (<60 chars) accuracy | train | predict, first pass | predict, again | one per call "
    "| size | load |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--validate", action="store_true", help="score on a validation split of the train part")
    parser.add_argument("--task", choices=["topic", "instansi", "both"], default="both")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument("--retrain", choices=["week", "month"], help="add ours refitted every week/month (test only)")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"no shared data at {DATA}")
    tasks = ["topic", "instansi"] if args.task == "both" else [args.task]
    lines = []
    for task in tasks:
        texts, labels, dates = load_task(task)
        train, test = time_split(len(texts))
        tx, ty, vx, vy = texts[train], labels[train], texts[test], labels[test]
        if args.validate:
            inner, val = time_split(len(tx))
            tx, ty, vx, vy = tx[inner], ty[inner], tx[val], ty[val]
        part = "validation (newest 20 % of train)" if args.validate else "test (newest 20 %)"
        head = f"### {task}: {len(set(ty))} classes, {len(tx)} train rows, {len(vx)} {part} rows"
        print(head)
        lines += [head, "", HEADER]
        systems = ([] if args.skip_plain else [Plain()]) + [Ours()]
        for system in systems:
            m = run(system, tx, ty, vx, vy)
            line = row(system.name, m)
            print(line, flush=True)
            lines.append(line)
        if args.retrain and not args.validate:
            m_roll = rolling(texts, labels, dates, train.stop, args.retrain)
            line = quality_row(f"forwarder, refitted every {args.retrain} ({m_roll['refits']} fits)", m_roll)
            print(line, flush=True)
            lines.append(line)
        lines.append("")
        if isinstance(systems[-1], Ours):
            worst = sorted(m["per_topic"].items(), key=lambda kv: kv[1]["f1"])[:5]
            lines.append("Weakest classes (ours, F1): " + ", ".join(f"{k} {v['f1']:.2f}" for k, v in worst))
            lines.append("")
    if not args.no_write and not args.validate:
        target = ROOT / "bench" / "RESULTS-classifier.md"
        text = target.read_text() if target.exists() else ""
        marker = "<!-- bench output -->"
        body = "\n".join(lines)
        if marker in text:
            text = text[: text.index(marker) + len(marker)] + "\n\n" + body + "\n"
        else:
            text = text + f"\n{marker}\n\n{body}\n"
        target.write_text(text)
        print(f"written to {target}")


if __name__ == "__main__":
    np.random.seed(0)
    main()
