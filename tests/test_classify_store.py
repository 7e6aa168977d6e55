"""The retraining loop: forwarder model train/evaluate/promote/rollback/list/show on a model store."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from forwarder.classify.admin import model_group
from forwarder.classify.cli import train_command
from forwarder.classify.data import read_officer_labels
from forwarder.classify.model import load_model
from forwarder.classify.store import open_store
from forwarder.errors import ModelError

DATA = Path(__file__).parent / "data"
SMALL = DATA / "small_complaints.csv"
FRESH = DATA / "small_fresh.csv"  # complaints no model in these tests is trained on
LABEL_MAP = DATA / "label_map.csv"
COMMON = ["--label-column", "kategori", "--label-map", str(LABEL_MAP)]


def run(*args: str) -> str:
    result = CliRunner().invoke(model_group, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def fail(*args: str) -> str:
    result = CliRunner().invoke(model_group, list(args))
    assert result.exit_code == 1, result.output
    return result.output


def officer_db(path: Path) -> Path:
    db = sqlite_utils.Database(path)
    db["labels"].insert_all([
        {"complaint_id": 1, "text": "lampu jalan di Balen mati", "topic": "kebersihan",
         "labelled_by": "op1", "labelled_at": "2025-03-01T08:00:00"},
        # the newest label of a complaint wins
        {"complaint_id": 1, "text": "lampu jalan di Balen mati", "topic": "penerangan_jalan",
         "labelled_by": "op2", "labelled_at": "2025-03-01T09:00:00"},
        {"complaint_id": 2, "text": "jalan ke Ngasem ambles", "topic": "jalan",
         "labelled_by": "op1", "labelled_at": "2025-03-02T10:00:00"},
        {"complaint_id": 3, "text": "sampah pasar Balen numpuk", "topic": "kebersihan",
         "labelled_by": "op1", "labelled_at": "2025-03-03T10:00:00"},
    ])
    return path


def shuffled_csv(path: Path) -> Path:
    """The small CSV with its labels shuffled: a candidate trained on it is worse."""
    with open(SMALL, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    labels = [r["kategori"] for r in rows]
    random.Random(3).shuffle(labels)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for row, label in zip(rows, labels):
            writer.writerow(dict(row, kategori=label))
    return path


def test_officer_labels_newest_wins(tmp_path):
    got = read_officer_labels(officer_db(tmp_path / "f.db"))
    assert sorted(zip(got.texts, got.labels)) == [
        ("jalan ke Ngasem ambles", "jalan"),
        ("lampu jalan di Balen mati", "penerangan_jalan"),
        ("sampah pasar Balen numpuk", "kebersihan"),
    ]
    assert read_officer_labels(tmp_path / "none.db").texts == []
    sqlite_utils.Database(tmp_path / "empty.db")["other"].insert({"a": 1})
    assert "no labels table" in read_officer_labels(tmp_path / "empty.db").notes[0]


def test_retraining_round_trip(tmp_path):
    store = tmp_path / "store"
    out = run("train", "--store", str(store), "--data", str(SMALL), *COMMON, "--date-column", "tanggal")
    assert "candidate" in out and "promote" in out
    first = open_store(store).newest_candidate()
    assert list((first.path / "evaluation").glob("confusion-candidate-*.png"))
    with pytest.raises(ModelError, match="no model store|neither"):
        load_model(store)  # nothing promoted yet

    run("promote", "--store", str(store), "--by", "admin")
    assert load_model(store).version == first.id

    # second candidate with officer labels from the forwarder database
    db = officer_db(tmp_path / "forwarder.db")
    out = run("train", "--store", str(store), "--data", str(SMALL), *COMMON, "--database", str(db),
              "--refit")
    assert "current F1" in out  # compared with the current model on the same held-out rows
    second = open_store(store).newest_candidate()
    assert second.card["data"]["rows"] == 39
    assert any(s.endswith("forwarder.db#labels") for s in second.card["data"]["sources"])
    assert second.card["comparison"]["current_version"] == first.id
    assert list((second.path / "evaluation").glob("confusion-current-*.png"))

    run("promote", second.id, "--store", str(store), "--force")
    assert load_model(store).version == second.id

    listing = run("list", "--store", str(store))
    assert first.id in listing and second.id in listing and "current" in listing and "earlier" in listing

    run("rollback", "--store", str(store))  # back to the previous one
    assert load_model(store).version == first.id
    run("rollback", second.id, "--store", str(store))
    assert load_model(store).version == second.id
    card = json.loads(run("show", "--store", str(store)))
    assert card["version"] == second.id and "scikit-learn" in card["libraries"]
    history = [json.loads(line) for line in (store / "history.jsonl").read_text().splitlines()]
    assert [h["action"] for h in history] == ["promote", "promote (forced)", "rollback", "rollback"]
    assert history[0]["by"] == "admin"


def test_worse_candidate_is_refused(tmp_path):
    store = tmp_path / "store"
    run("train", "--store", str(store), "--data", str(SMALL), *COMMON, "--refit")
    run("promote", "--store", str(store))
    good = open_store(store).current_id

    bad_csv = shuffled_csv(tmp_path / "bad.csv")
    run("train", "--store", str(store), "--data", str(bad_csv), *COMMON, "--refit")
    bad = open_store(store).newest_candidate()
    # judge both on the same clean rows neither has seen
    run("evaluate", bad.id, "--store", str(store), "--data", str(FRESH), *COMMON)
    out = fail("promote", "--store", str(store))
    assert "worse than the current model" in out and "--force" in out
    assert open_store(store).current_id == good

    run("promote", "--store", str(store), "--force")
    assert open_store(store).current_id == bad.id


def test_plain_model_becomes_a_store(tmp_path):
    plain = tmp_path / "default"
    result = CliRunner().invoke(train_command, ["--data", str(SMALL), *COMMON, "--out", str(plain)])
    assert result.exit_code == 0, result.output
    version = load_model(plain).version
    out = fail("list", "--store", str(plain))
    assert "single model" in out
    run("train", "--store", str(plain), "--data", str(SMALL), *COMMON)
    store = open_store(plain)
    assert store.current_id == version and load_model(plain).version == version
    assert [v.status for v in store.versions()] == ["current", "candidate"]
    assert (store.versions()[0].path / "training_rows.u64").is_file()
    # same data, same stratified split: neither model saw the 8 held-out rows
    assert store.versions()[1].card["comparison"]["rows"] == 8


def test_rows_a_model_was_trained_on_are_left_out(tmp_path):
    store = tmp_path / "store"
    run("train", "--store", str(store), "--data", str(SMALL), *COMMON, "--refit")
    run("promote", "--store", str(store))
    run("train", "--store", str(store), "--data", str(SMALL), "--data", str(FRESH), *COMMON,
        "--test-fraction", "0.3")
    cand = open_store(store).newest_candidate()
    comparison = cand.card["comparison"]
    # the current model was fitted on every SMALL row: only FRESH rows can judge it
    assert 0 < comparison["rows"] <= 12
    assert comparison["current_macro_f1"] is not None
    # on rows the current model was trained on, only the candidate is scored ...
    out = run("evaluate", cand.id, "--store", str(store), "--data", str(SMALL), *COMMON)
    assert "not compared with the current model" in out
    # ... and promotion then needs a real comparison or --force
    assert "has not been compared" in fail("promote", cand.id, "--store", str(store))


def test_errors_are_clear(tmp_path):
    store = tmp_path / "store"
    assert "no model store" in fail("list", "--store", str(store))
    run("train", "--store", str(store), "--data", str(SMALL), *COMMON)
    assert "no version 'nope'" in fail("promote", "nope", "--store", str(store))
    assert "no earlier version" in fail("rollback", "--store", str(store))
    assert "no column 'x'" in fail("train", "--store", str(store), "--data", str(SMALL),
                                   "--label-column", "x")
