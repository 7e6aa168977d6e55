"""The retraining loop: forwarder model train/evaluate/promote/rollback/list/show on a model store."""

from __future__ import annotations

import csv
import json
import os
import random
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from forwarder.classify.admin import model_group
from forwarder.classify.cli import train_command
from forwarder.classify.data import read_officer_labels
from forwarder.classify.model import load_model
from forwarder.classify.store import ModelStore, bundled_refusal, open_store
from forwarder.errors import ModelError

DATA = Path(__file__).parent / "data"
SMALL = DATA / "small_complaints.csv"
FRESH = DATA / "small_fresh.csv"  # complaints no model in these tests is trained on
LABEL_MAP = DATA / "label_map.csv"
COMMON = ["--label-column", "kategori", "--label-map", str(LABEL_MAP)]


@pytest.fixture(autouse=True)
def _away_from_the_repo_config(tmp_path, monkeypatch):
    """Run in an empty directory: no config/groups.yaml is read unless a test passes --config."""
    monkeypatch.chdir(tmp_path)


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
    with pytest.raises(ModelError, match=r"has no current version; make one current with "
                                         r"`forwarder model promote --store"):
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
    out = run("list", "--store", str(plain))
    assert "single model, not yet a model store" in out and "CURRENT" in out
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
    out = fail("promote", cand.id, "--store", str(store))
    assert "has not been compared" in out and f"forwarder model evaluate {cand.id} --store" in out


def test_errors_are_clear(tmp_path):
    store = tmp_path / "store"
    assert "no model store" in fail("list", "--store", str(store))
    store.mkdir()
    (store / "versions").mkdir()
    out = fail("evaluate", "--store", str(store), "--data", str(FRESH), *COMMON)
    assert f"has no model to evaluate: train one with `forwarder model train --store {store}" in out
    out = fail("promote", "--store", str(store))
    assert f"no candidate in {store} to promote: train one with `forwarder model train --store" in out
    run("train", "--store", str(store), "--data", str(SMALL), *COMMON)
    assert "no version 'nope'" in fail("promote", "nope", "--store", str(store))
    assert "no earlier version" in fail("rollback", "--store", str(store))
    assert "no column 'x'" in fail("train", "--store", str(store), "--data", str(SMALL),
                                   "--label-column", "x")


# ---- promoting safely: the config's groups, models with other topics, evaluate after promote -----

CONFIG = """
version: 1
model: {store}
kabupaten: Bojonegoro
sinks:
  out: {{type: console}}
groups:
  - {{name: jalan, sink: out, chat_id: "-1001", topics: [jalan]}}
  - {{name: pju, sink: out, chat_id: "-1002", topics: [penerangan_jalan]}}
  - {{name: sampah, sink: out, chat_id: "-1003", topics: [kebersihan]}}
  - {{name: triage, sink: out, chat_id: "-1009", fallback: true}}
"""


def config_for(tmp_path: Path, store: Path) -> Path:
    path = tmp_path / "groups.yaml"
    path.write_text(CONFIG.format(store=store), encoding="utf-8")
    return path


def label_map(tmp_path: Path, jalan: str, pju: str, sampah: str) -> Path:
    path = tmp_path / f"map-{jalan}-{pju}-{sampah}.csv"
    path.write_text(f"label,topic\nJalan Rusak,{jalan}\nLampu PJU,{pju}\nSampah,{sampah}\n", encoding="utf-8")
    return path


@pytest.fixture
def promoted(tmp_path):
    """A store whose current model has the config's topics, and that config."""
    store = tmp_path / "store"
    config = config_for(tmp_path, store)
    run("train", "--store", str(store), "--data", str(SMALL), *COMMON, "--config", str(config))
    run("promote", "--store", str(store), "--config", str(config))
    return store, config


def test_candidate_with_foreign_topics_is_not_called_better_nor_promoted(tmp_path, promoted):
    """The reported case: labels AIR/JLN/SAMPAH (read as air/jln/sampah) share nothing with the
    current model or the groups."""
    store, config = promoted
    current = open_store(store).current_id
    foreign = label_map(tmp_path, "JLN", "AIR", "SAMPAH")
    out = run("train", "--store", str(store), "--data", str(SMALL), "--label-column", "kategori",
              "--label-map", str(foreign), "--config", str(config))
    assert "the models' topics differ: only in candidate: air, jln, sampah; only in current: " \
           "jalan, kebersihan, penerangan_jalan" in out
    assert "they share no topic of these rows, so they cannot be compared" in out
    assert "promote would refuse" in out and "EVERY complaint would go to the fallback group 'triage'" in out
    cand = open_store(store).newest_candidate()
    comparison = cand.card["comparison"]
    assert comparison["current_macro_f1"] is None and comparison["compared_topics"] == []

    out = fail("promote", "--store", str(store), "--config", str(config))
    assert "none of the topics of" in out and "air, jln, sampah" in out
    assert "shares no topic with the current model" in out and "--force" in out
    assert open_store(store).current_id == current

    out = run("promote", "--store", str(store), "--config", str(config), "--force", "--by", "admin")
    assert open_store(store).current_id == cand.id
    assert "promoted with --force although" in out
    assert "from now on every complaint will go to the fallback group 'triage'" in out
    assert f"forwarder model rollback --store {store}" in out


def test_candidate_with_a_topic_no_group_takes(tmp_path, promoted):
    """Partly shared topics: macro-F1 compared over the shared ones; the new topic is refused."""
    store, config = promoted
    partly = label_map(tmp_path, "jalan", "penerangan_jalan", "SAMPAH")
    out = run("train", "--store", str(store), "--data", str(SMALL), "--label-column", "kategori",
              "--label-map", str(partly), "--config", str(config))
    assert "only in candidate: sampah; only in current: kebersihan" in out
    # on fresh rows of all three topics: macro-F1 over the two shared ones
    out = run("evaluate", "--store", str(store), "--data", str(FRESH), "--label-column", "kategori",
              "--label-map", str(partly), "--config", str(config))
    assert "macro-F1, 2 shared" in out
    comparison = open_store(store).newest_candidate().card["comparison"]
    assert comparison["compared_topics"] == ["jalan", "penerangan_jalan"]
    assert comparison["rows"] == 12 and comparison["current_macro_f1"] is not None
    out = fail("promote", "--store", str(store), "--config", str(config))
    assert "emits topic(s) that no group of" in out and ": sampah;" in out
    # and it drops a topic the current model sends to a group
    assert "never emits topic(s) that the current model sends to groups of" in out
    assert "kebersihan (group sampah)" in out
    out = run("promote", "--store", str(store), "--config", str(config), "--force")
    assert "complaints of sampah will go to the fallback group 'triage'" in out
    assert "group(s) sampah will receive nothing" in out


def test_default_config_is_read_when_present(tmp_path, promoted):
    store, config = promoted
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "groups.yaml").write_text(config.read_text(), encoding="utf-8")
    foreign = label_map(tmp_path, "JLN", "AIR", "SAMPAH")
    run("train", "--store", str(store), "--data", str(SMALL), "--label-column", "kategori",
        "--label-map", str(foreign))
    out = fail("promote", "--store", str(store))
    assert "config/groups.yaml: EVERY complaint" in out
    (tmp_path / "config" / "groups.yaml").write_text("version: 1\ngroups: 3\n", encoding="utf-8")
    result = CliRunner().invoke(model_group, ["promote", "--store", str(store)])
    assert result.exit_code == 2  # an unusable config, as for run and check-config
    assert "problem(s) in the config" in result.output
    assert "forwarder check-config --config config/groups.yaml" in result.output


def test_promote_names_a_config_that_uses_another_model(tmp_path, promoted):
    store, config = promoted
    run("train", "--store", str(store), "--data", str(SMALL), *COMMON, "--refit")
    other = tmp_path / "other.yaml"
    other.write_text(config.read_text().replace(str(store), str(tmp_path / "elsewhere")))
    out = run("promote", "--store", str(store), "--config", str(other), "--force")
    assert "not" in out and "does not change what the daemon uses" in out


def test_evaluate_after_promote_scores_the_current_model(tmp_path, promoted):
    store, config = promoted
    out = run("evaluate", "--store", str(store), "--data", str(FRESH), *COMMON, "--config", str(config))
    current = open_store(store).current_id
    assert f"the current model {current} on 12 labelled rows (the store has no candidate" in out
    assert "macro-F1" in out and "confusion matrix:" in out
    assert list((store / "versions" / current / "evaluation").glob("confusion-current-*.png"))
    # naming the current version does the same
    assert "the current model" in run("evaluate", current, "--store", str(store), "--data", str(FRESH), *COMMON)


# ---- the bundled model is never changed ------------------------------------------------------------

def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_bundled_model_is_never_converted_nor_written(tmp_path, repo):
    """`model train` on the git-tracked models/default would move its files into versions/ and the
    next update of forwarder would conflict with them: every changing command refuses it, and the
    refusal's own command makes a store that works."""
    bundled = repo / "models" / "default"
    before = _snapshot(bundled)
    config = config_for(tmp_path, tmp_path / "models" / "mine")
    for args in (["train", "--data", str(SMALL), *COMMON], ["promote"], ["rollback"],
                 ["evaluate", "--data", str(FRESH), *COMMON]):
        with_config = [] if args == ["rollback"] else ["--config", str(config)]
        out = fail(*args, "--store", str(bundled), *with_config)
        assert f"{bundled} is the model bundled with forwarder (tracked by git" in out, out
        assert f"cp -r {bundled} {repo / 'models' / 'bojonegoro'}" in out
        if with_config:  # the config's own model
            assert f"pass `--store {tmp_path / 'models' / 'mine'}`" in out
    # reading it is fine; it is not a store, and the hint is the copy, not a conversion
    out = run("list", "--store", str(bundled))
    assert load_model(bundled).version in out and "CURRENT" in out
    assert "single model" in out and "cp -r" in out and "turns it into" not in out
    assert _snapshot(bundled) == before and not (repo / "models" / "bojonegoro").exists()

    # a link to it (a deployment that linked instead of copying) is the bundled model too
    (tmp_path / "models").mkdir(exist_ok=True)
    (tmp_path / "models" / "default").symlink_to(bundled)
    out = fail("train", "--store", "models/default", "--data", str(SMALL), *COMMON)
    command = next(line.strip() for line in out.splitlines() if line.strip().startswith("cp -r "))
    assert command == f"cp -r {bundled} models/bojonegoro"
    assert "set `model: models/bojonegoro` in the config" in out
    subprocess.run(shlex.split(command), check=True)  # as the admin would
    run("train", "--store", "models/bojonegoro", "--data", str(SMALL), *COMMON)
    own = open_store(tmp_path / "models" / "bojonegoro")
    assert own.current_id == load_model(bundled).version  # the bundled model is the first version
    assert [v.status for v in own.versions()][-1] == "candidate"
    assert _snapshot(bundled) == before


def test_a_bundled_model_converted_earlier_is_moved_out(tmp_path, repo):
    """Installations that fell into the trap before get the way out: move the store, restore."""
    converted = tmp_path / "default"
    (converted / "versions").mkdir(parents=True)
    text = bundled_refusal(converted, "tuban")
    assert f"mv {converted} {tmp_path / 'tuban'}" in text
    if (repo / ".git").exists():
        assert f"git -C {repo} checkout -- models/default" in text
    (tmp_path / "tuban").mkdir()
    plain = tmp_path / "plain"
    assert f"Use your own store instead: set `model: {tmp_path / 'tuban'}` in the config" \
        in bundled_refusal(plain, "tuban")


# ---- rollback walks the promotion history back -----------------------------------------------------

def three_promoted(tmp_path: Path) -> tuple[Path, list[str]]:
    """A store where A, then B, then C were promoted (C current)."""
    store = tmp_path / "store"
    ids = []
    for _ in range(3):
        run("train", "--store", str(store), "--data", str(SMALL), *COMMON)
        ids.append(open_store(store).newest_candidate().id)
        run("promote", ids[-1], "--store", str(store), "--force")
    return store, ids


def test_rollback_goes_one_promotion_further_back_each_time(tmp_path):
    store, (a, b, c) = three_promoted(tmp_path)
    listing = run("list", "--store", str(store))
    assert f"current: {c}; `forwarder model rollback --store {store}` goes back to: {b} -> {a}" in listing
    assert "CURRENT" in listing

    out = run("rollback", "--store", str(store), "--by", "admin")
    assert f"{b} is now the current model (was {c})" in out and f"goes back to: {a}" in out
    out = run("rollback", "--store", str(store))  # not back to C: further back
    assert open_store(store).current_id == a
    assert "no earlier version to go back to" in out
    out = fail("rollback", "--store", str(store))
    assert f"no earlier version to roll back to: {a} is the first version made current in {store}" in out
    assert f"forwarder model rollback --store {store} VERSION" in out
    assert open_store(store).current_id == a
    assert f"current: {a}; " in run("list", "--store", str(store))

    # naming a version: C again; a bare rollback then undoes that
    run("rollback", c, "--store", str(store))
    assert open_store(store).promotions() == [a, c]
    run("rollback", "--store", str(store))
    assert open_store(store).current_id == a
    assert "already the current model" in fail("rollback", a, "--store", str(store))
    actions = [h["action"] for h in open_store(store).history()]
    assert actions == ["promote (forced)"] * 3 + ["rollback"] * 4


def test_rollback_to_a_version_in_the_history_cuts_it_back(tmp_path):
    store, (a, b, c) = three_promoted(tmp_path)
    run("rollback", a, "--store", str(store))
    assert open_store(store).promotions() == [a]
    assert "no earlier version" in fail("rollback", "--store", str(store))
    run("promote", b, "--store", str(store), "--force")  # an earlier version promoted again
    assert open_store(store).promotions() == [a, b]
    run("rollback", "--store", str(store))
    assert open_store(store).current_id == a


def _history(store: Path, current: str, *moves: tuple[str, str | None, str]) -> ModelStore:
    store.mkdir(parents=True, exist_ok=True)
    (store / "current").write_text(current + "\n")
    (store / "history.jsonl").write_text("".join(
        json.dumps({"at": "2026-01-01T00:00:00+00:00", "action": action, "from": frm, "to": to,
                    "by": ""}) + "\n" for action, frm, to in moves))
    return ModelStore(store)


def test_stores_written_by_earlier_versions_still_work(tmp_path):
    # the old rollback toggled: A, B, C promoted, then rollback (to B), rollback (to C again)
    old = _history(tmp_path / "old", "C", ("adopted the model that was here", None, "A"),
                   ("promote", "A", "B"), ("promote (forced)", "B", "C"), ("rollback", "C", "B"),
                   ("rollback", "B", "C"))
    assert old.promotions() == ["A", "B", "C"] and old.rollback_target() == "B"
    # `current` rewritten but the history line lost (interrupted), or edited by hand
    assert _history(tmp_path / "lost", "B", ("promote", None, "A"), ("promote", "A", "B"),
                    ("promote", "B", "C")).promotions() == ["A", "B"]
    assert _history(tmp_path / "hand", "X", ("promote", None, "A")).promotions() == ["A", "X"]
    # no history.jsonl at all: only the current version, nothing earlier
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "current").write_text("A\n")
    assert ModelStore(bare).promotions() == ["A"] and ModelStore(bare).rollback_target() is None
    assert ModelStore(tmp_path / "empty").promotions() == []


def test_a_broken_history_line_is_named(tmp_path):
    store = _history(tmp_path / "s", "A", ("promote", None, "A"))
    with open(store.root / "history.jsonl", "a") as handle:
        handle.write('{"at": "2026-01-02T00:00:00+00:00", "act\n')
    with pytest.raises(ModelError, match=r"history.jsonl, line 2: not a history entry"):
        store.promotions()


# ---- what `model list` calls current is what the daemon loads ---------------------------------------

def test_train_out_refuses_a_store_and_gives_the_model_train_command(tmp_path):
    """The reported trap: `forwarder train --out STORE` wrote a model next to the versions, which the
    daemon then loaded while `model list` showed another version as current."""
    store = tmp_path / "models" / "coba"
    run("train", "--store", str(store), "--data", str(SMALL), *COMMON)
    run("promote", "--store", str(store))
    before = _snapshot(store)
    for out in (store, store / "versions" / open_store(store).current_id, store / "versions" / "new"):
        result = CliRunner().invoke(train_command, ["--data", str(SMALL), *COMMON, "--refit",
                                                    "--out", str(out)])
        assert result.exit_code == 1, result.output
        assert "does not write into a store" in result.output
        assert ("is a model store" if out == store else f"is inside the model store {store}") in result.output
    assert _snapshot(store) == before
    lines = [line.strip() for line in result.output.splitlines()]
    command = next(line for line in lines if line.startswith("forwarder model train"))
    assert command == (f"forwarder model train --store {store} --data {SMALL} --text-column text "
                       f"--label-column kategori --label-map {LABEL_MAP} --refit")
    assert f"forwarder model promote --store {store}" in lines
    run(*shlex.split(command)[2:])  # as the admin would
    assert [v.status for v in open_store(store).versions()] == ["current", "candidate"]


def test_train_out_does_not_overwrite_a_model_or_the_bundled_one_without_force(tmp_path, repo):
    """The reported trap: `forwarder train --out models/default` silently replaced the git-tracked
    bundled model, and `--out` any existing directory overwrote what was there."""
    def train(*args: str):
        return CliRunner().invoke(train_command, ["--data", str(SMALL), *COMMON, *args])

    bundled = repo / "models" / "default"
    before = _snapshot(bundled)
    for spelling in (str(bundled), f"{bundled}/", f"{repo}/models/../models/default",
                     os.path.relpath(bundled)):
        result = train("--out", spelling)
        assert result.exit_code == 1, result.output
        assert f"{Path(spelling)} is the model bundled with forwarder ({bundled}, tracked by git" in result.output
        assert "does not replace it without --force" in result.output
        assert "how forwarder's maintainers rebuild it (models/README.md)" in result.output
        own = Path(os.path.normpath(spelling)).parent / "bojonegoro"
        assert f"cp -r {os.path.normpath(spelling)} {own}, then `forwarder model train --store {own}" \
            in result.output
        assert "labelled rows" not in result.output  # refused before reading anything
    assert _snapshot(bundled) == before

    # a model of one's own (a fresh copy of the bundled one, say) is not overwritten either ...
    mine = tmp_path / "models" / "bojonegoro"
    shutil.copytree(bundled, mine)
    result = train("--out", str(mine))
    assert result.exit_code == 1, result.output
    assert (f"{mine} already holds a model ({load_model(bundled).version}): `forwarder train --out` "
            "does not overwrite it. Give --out a new directory, or pass --force") in result.output
    assert f"`forwarder model train --store {mine} --data ...`" in result.output
    assert _snapshot(mine) == before
    # ... nor any other directory with something in it
    other = tmp_path / "notes"
    other.mkdir()
    (other / "rencana.txt").write_text("jangan dihapus", encoding="utf-8")
    result = train("--out", str(other))
    assert result.exit_code == 1 and f"{other} already holds files (rencana.txt)" in result.output
    # an empty directory is fine, and --force replaces the model files
    (tmp_path / "empty").mkdir()
    assert train("--out", str(tmp_path / "empty")).exit_code == 0
    (tmp_path / "empty" / "model.npz").write_bytes(b"not a model")  # its hint retrains with --force
    with pytest.raises(ModelError, match=rf"--label-column topic --out {tmp_path / 'empty'} --force$"):
        load_model(tmp_path / "empty")
    result = train("--out", str(mine), "--force")
    assert result.exit_code == 0, result.output
    assert load_model(mine).version != load_model(bundled).version
    assert load_model(mine).labels == {"jalan", "kebersihan", "penerangan_jalan"}
    # a store stays refused, --force or not
    run("train", "--store", str(mine), "--data", str(SMALL), *COMMON)
    result = train("--out", str(mine), "--force")
    assert result.exit_code == 1 and "does not write into a store" in result.output


def test_a_store_is_always_read_through_its_current_version(tmp_path):
    """Model files lying in a store (an earlier `train --out STORE`) are never loaded; `model list`
    and check-config name them with the commands that adopt or remove them."""
    from forwarder.checks import cross_check
    from forwarder.config import load_config

    store, (_a, b, c) = three_promoted(tmp_path)
    stray = tmp_path / "stray"
    result = CliRunner().invoke(train_command, ["--data", str(SMALL), "--data", str(FRESH), *COMMON,
                                                "--out", str(stray)])
    assert result.exit_code == 0, result.output
    stray_version = load_model(stray).version
    for path in stray.iterdir():
        (store / path.name).write_bytes(path.read_bytes())
    assert load_model(store).version == c
    listing = run("list", "--store", str(store))
    assert f"holds model files directly (card.json, model.npz, training_rows.u64, model {stray_version})" in listing
    assert f"use the current version, {c}" in listing
    target = store / "versions" / stray_version
    assert f"mkdir {target} && mv {store}/card.json {store}/model.npz {store}/training_rows.u64 {target}/" in listing
    warnings = cross_check(load_config(config_for(tmp_path, store)), load_model=False)[1]
    assert any(w.startswith(f"model: {store} holds model files directly") for w in warnings)
    # promote and rollback change what is loaded, stray files or not
    run("rollback", "--store", str(store))
    assert load_model(store).version == b
    # adopting the stray model as the listing says makes it a candidate
    target.mkdir()
    for name in ("card.json", "model.npz", "training_rows.u64"):
        (store / name).rename(target / name)
    assert open_store(store).newest_candidate().id == stray_version
    assert "holds model files directly" not in run("list", "--store", str(store))


def test_an_unusable_current_version_names_the_store_commands(tmp_path):
    store, (_a, b, c) = three_promoted(tmp_path)
    (store / "versions" / c / "model.npz").write_bytes(b"not a model")
    with pytest.raises(ModelError) as info:
        load_model(store)
    message = str(info.value)
    assert "SHA-256 differs" in message and "forwarder train" not in message
    assert f"put an earlier version back with `forwarder model rollback --store {store}`" in message
    assert f"`forwarder model train --store {store} --data examples/complaints.csv" in message
    run("rollback", "--store", str(store))
    assert load_model(store).version == b


# ---- --store defaults to the config's model: --------------------------------------------------------

def test_store_defaults_to_the_configs_model(tmp_path):
    """An admin who set `model: models/bojonegoro` once does not repeat --store."""
    (tmp_path / "config").mkdir()
    default_config = config_for(tmp_path / "config", Path("models/bojonegoro"))  # config/groups.yaml
    out = run("train", "--data", str(SMALL), *COMMON)
    assert "model store models/bojonegoro (the `model:` of config/groups.yaml)" in out
    assert "forwarder model promote --store models/bojonegoro" in out
    run("promote")
    first = open_store(tmp_path / "models" / "bojonegoro").current_id
    run("train", "--data", str(SMALL), *COMMON, "--refit")
    run("promote", "--force")
    assert f"goes back to: {first}" in run("list")
    run("rollback")
    assert load_model(tmp_path / "models" / "bojonegoro").version == first
    assert json.loads(CliRunner().invoke(model_group, ["show"]).stdout)["version"] == first
    # another config names another store; --store still wins over the config
    other = config_for(tmp_path, Path("models/other"))
    assert "no model store at models/other" in fail("list", "--config", str(other))
    assert first in run("list", "--config", str(other), "--store", "models/bojonegoro")
    # the stock config's bundled model stays refused, with the copy to make
    bundled_config = tmp_path / "bundled.yaml"
    bundled_config.write_text(default_config.read_text().replace(
        "models/bojonegoro", str(Path(__file__).resolve().parents[1] / "models" / "default")))
    out = fail("train", "--config", str(bundled_config), "--data", str(SMALL), *COMMON)
    assert "is the model bundled with forwarder" in out and "cp -r " in out


def test_list_and_show_a_fresh_copy_of_the_bundled_model(tmp_path, repo):
    """The reported case: after `cp -r models/default models/bojonegoro` (and `model:
    models/bojonegoro`), `model list` and `model show` stopped with "is a single model, not a model
    store"; they show its model card, as the store that the first `model train` makes of it."""
    bundled = repo / "models" / "default"
    version = load_model(bundled).version
    (tmp_path / "models").mkdir()
    shutil.copytree(bundled, tmp_path / "models" / "bojonegoro")
    (tmp_path / "config").mkdir()
    config_for(tmp_path / "config", Path("models/bojonegoro"))  # config/groups.yaml
    before = _snapshot(tmp_path / "models" / "bojonegoro")
    listing = run("list")
    row = next(line for line in listing.splitlines() if version in line)
    assert "CURRENT" in row and "18" in row and "464" in row and "0.753" in row
    assert (f"current: {version} (a single model, not yet a model store: it is the model in use "
            "there (what the daemon and `forwarder classify` load from models/bojonegoro); the first "
            "`forwarder model train --store models/bojonegoro --data ...` turns it into a store, "
            "with this model as its current version)") in listing
    for args in (["show"], ["show", version], ["show", "--store", "models/bojonegoro"]):
        result = CliRunner().invoke(model_group, args)
        assert result.exit_code == 0, result.output
        start = result.output.index("{")  # after the store named on stderr (no --store)
        card, end = json.JSONDecoder().raw_decode(result.output, start)  # then the hint (stderr)
        assert card == json.loads((bundled / "card.json").read_text())
        assert "not yet a model store" in result.output[end:]
    out = fail("show", "20260101T000000-abcdef")
    assert f"no version '20260101T000000-abcdef' in models/bojonegoro: it holds the single model {version}" in out
    assert _snapshot(tmp_path / "models" / "bojonegoro") == before  # reading changes nothing
    # and after the first train it is a store whose current version is that model
    run("train", "--data", str(SMALL), *COMMON)
    assert "CURRENT" in next(line for line in run("list").splitlines() if version in line)


def test_without_store_and_config_the_command_line_is_wrong(tmp_path):
    for args in (["list"], ["show"], ["rollback"], ["promote"], ["train", "--data", str(SMALL)],
                 ["evaluate", "--data", str(SMALL)]):
        result = CliRunner().invoke(model_group, args)
        assert result.exit_code == 2, result.output
        assert ("no --store given and no config at config/groups.yaml to take the model store from"
                in result.output)
    result = CliRunner().invoke(model_group, ["list", "--config", "missing.yaml"])
    assert result.exit_code == 2 and "missing.yaml" in result.output
