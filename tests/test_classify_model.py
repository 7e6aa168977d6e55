"""Topic model: train on a small CSV, save, load, predict, refuse bad model files, CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from forwarder.classify.cli import classify_command, train_command
from forwarder.classify.data import TrainingDataError, read_csv, read_label_map
from forwarder.classify.model import (
    CARD_FILE,
    MODEL_FILE,
    TopicModel,
    check_topics,
    file_sha256,
    load_model,
    save_model,
)
from forwarder.classify.train import fit_model, train_and_evaluate
from forwarder.errors import ModelError

DATA = Path(__file__).parent / "data"
SMALL = DATA / "small_complaints.csv"
LABEL_MAP = DATA / "label_map.csv"


@pytest.fixture(scope="module")
def labelled():
    return read_csv(SMALL, "text", "kategori", "tanggal", read_label_map(LABEL_MAP))


@pytest.fixture(scope="module")
def saved(tmp_path_factory, labelled):
    model = fit_model(labelled.texts, labelled.labels)
    return save_model(model, tmp_path_factory.mktemp("model") / "m")


def test_label_map_leaves_out_unmapped_rows(labelled):
    assert len(labelled) == 36
    assert set(labelled.labels) == {"jalan", "penerangan_jalan", "kebersihan"}
    assert any("1 row(s) whose label is not in the label map" in n for n in labelled.notes)


def test_round_trip_predicts_the_topics(saved):
    model = load_model(saved)
    assert isinstance(model, TopicModel)
    assert model.labels == {"jalan", "penerangan_jalan", "kebersihan"}
    tags = model.predict([
        "jalan rusak berlubang di Dander",
        "LAMPU PJU MATI gelap bgt min",
        "sampah numpuk bau di TPS",
    ])
    assert [t.topic for t in tags] == ["jalan", "penerangan_jalan", "kebersihan"]
    for tag in tags:
        assert 0.0 < tag.confidence <= 1.0
        assert tag.model_version == model.version
        assert 1 <= len(tag.keywords) <= 5
    assert "sampah" in tags[2].keywords


@pytest.mark.parametrize(
    "text", ["", "?", "😀😡🙏", "081234567890 12345", "   ", "selamat pagi min", "<p>&nbsp;</p>", None]
)
def test_unusable_text_gets_no_topic(saved, text):
    model = load_model(saved)
    (tag,) = model.predict([text])
    assert (tag.topic, tag.confidence, tag.keywords) == (None, 0.0, ())
    assert tag.model_version == model.version


def test_long_and_html_text_is_classified(saved):
    model = load_model(saved)
    long = "lampu jalan mati " * 800
    tags = model.predict([long, "<b>sampah</b> &amp; bau di <i>pasar</i>"])
    assert [t.topic for t in tags] == ["penerangan_jalan", "kebersihan"]


def test_card_records_format_versions_and_hash(saved):
    card = json.loads((saved / CARD_FILE).read_text())
    assert (card["format"], card["format_version"]) == ("forwarder-linear", 1)
    assert card["model_sha256"] == file_sha256(saved / MODEL_FILE)
    assert {"scikit-learn", "numpy", "scipy", "python"} <= set(card["libraries"])
    assert card["labels"] == ["jalan", "kebersihan", "penerangan_jalan"]


def copy_model(saved: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(saved, target)
    return target


def test_missing_model_is_refused(tmp_path):
    with pytest.raises(ModelError, match="no topic model at .*cp -r models/default .*forwarder train"):
        load_model(tmp_path / "nothing")
    with pytest.raises(ModelError, match="neither a model"):
        load_model(tmp_path)


def test_unknown_format_version_is_refused(saved, tmp_path):
    target = copy_model(saved, tmp_path)
    card = json.loads((target / CARD_FILE).read_text())
    card["format_version"] = 2
    (target / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelError, match=r"version 2; this program reads 'forwarder-linear' version 1.*forwarder train"):
        load_model(target)


def test_modified_file_is_refused(saved, tmp_path):
    target = copy_model(saved, tmp_path)
    with open(target / MODEL_FILE, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelError, match="SHA-256 differs"):
        load_model(target)


def rewrite(target: Path, **arrays) -> None:
    """Replace arrays of the model file (given ones only; None removes one), card hash updated."""
    with np.load(target / MODEL_FILE) as npz:
        content = {name: npz[name] for name in npz.files}
    content.update(arrays)
    content = {k: v for k, v in content.items() if v is not None}
    with open(target / MODEL_FILE, "wb") as handle:
        np.savez(handle, **content)  # object arrays are pickled in here
    card = json.loads((target / CARD_FILE).read_text())
    card["model_sha256"] = file_sha256(target / MODEL_FILE)
    (target / CARD_FILE).write_text(json.dumps(card))


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"extra": np.array([Path("x")], dtype=object)}, "Object arrays cannot be loaded"),
        ({"format_version": np.array(7)}, "format version 7 inside the file"),
        ({"coef": None}, "array 'coef' is missing"),
        ({"idf": np.zeros(3, dtype=np.float32)}, "idf of shape"),
        ({"sigmoid_a": np.zeros((1, 1))}, "sigmoid_a has shape"),
        ({"word_max_n": np.array([2, 2])}, "wrong shape"),
        ({"classes": np.frombuffer(b"\xff\xfe", dtype=np.uint8)}, "not UTF-8"),
    ],
)
def test_file_with_matching_hash_but_bad_content_is_refused(saved, tmp_path, arrays, message):
    """A pickled (object) array is never unpickled, whatever the card says; wrong shapes and
    missing arrays are named."""
    target = copy_model(saved, tmp_path)
    rewrite(target, **arrays)
    with pytest.raises(ModelError, match=f"cannot read .*{message}"):
        load_model(target)


def test_garbage_file_is_refused(saved, tmp_path):
    target = copy_model(saved, tmp_path)
    (target / MODEL_FILE).write_bytes(b"not a zip at all")
    card = json.loads((target / CARD_FILE).read_text())
    card["model_sha256"] = file_sha256(target / MODEL_FILE)
    (target / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="cannot read"):
        load_model(target)
    (target / CARD_FILE).write_text("{not json")
    with pytest.raises(ModelError, match="cannot read the model card"):
        load_model(target)


def test_check_topics(saved):
    model = load_model(saved)
    assert check_topics(model, {"jalan", "penerangan_jalan", "kebersihan"}, fallback=False) == []
    assert check_topics(model, {"jalan", "penerangan_jalan"}, fallback=True) == []
    warnings = check_topics(model, {"jalan", "penerangan_jalan", "pupuk"}, fallback=False)
    assert len(warnings) == 2
    assert "'kebersihan'" in warnings[0] and "no fallback" in warnings[0]
    assert "'pupuk'" in warnings[1] and "never emits" in warnings[1]


def test_too_few_rows_per_topic(labelled):
    from forwarder.classify.data import Labelled

    few = Labelled(labelled.texts[:14], labelled.labels[:14], labelled.dates[:14])
    with pytest.raises(TrainingDataError, match="too few rows"):
        train_and_evaluate(few)


def test_time_split_holds_out_the_newest(labelled):
    result = train_and_evaluate(labelled, by_date=True, test_fraction=0.25)
    assert min(result.test.dates) >= "2025-02-11"
    assert result.model.card["split"]["kind"] == "newest by date"
    assert result.model.card["data"]["rows_test"] == 9


# ---- CLI ---------------------------------------------------------------------------------------

def test_cli_train_and_classify(tmp_path):
    runner = CliRunner()
    out = tmp_path / "model"
    result = runner.invoke(train_command, [
        "--data", str(SMALL), "--text-column", "text", "--label-column", "kategori",
        "--label-map", str(LABEL_MAP), "--date-column", "tanggal", "--test-fraction", "0.25",
        "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output and "penerangan_jalan" in result.output
    assert "1 row(s) whose label is not in the label map left out" in result.output
    card = json.loads((out / CARD_FILE).read_text())
    assert "refit_on_all_rows" not in card and card["data"]["rows_train"] == 27

    result = runner.invoke(classify_command, ["lampu jalan mati min", "--model", str(out)])
    assert result.exit_code == 0, result.output
    assert "topic: penerangan_jalan" in result.output and "keywords:" in result.output

    result = runner.invoke(classify_command, ["🙏🙏", "--model", str(out)])
    assert "topic: (none)" in result.output


def test_cli_refit_uses_all_rows(tmp_path):
    out = tmp_path / "m"
    result = CliRunner().invoke(train_command, [
        "--data", str(SMALL), "--label-column", "kategori", "--label-map", str(LABEL_MAP),
        "--refit", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    card = json.loads((out / CARD_FILE).read_text())
    assert card["refit_on_all_rows"] is True and card["data"]["rows"] == 36


@pytest.mark.parametrize(
    "args, message",
    [
        (["--label-column", "nope"], "no column 'nope'"),
        (["--label-column", "kategori", "--data", "missing.csv"], "cannot read missing.csv"),
        (["--label-column", "kategori"], "too few rows for topic(s): lainnya (1)"),
        (["--label-column", "kategori", "--label-map", "BINARY"], "not a text file (it holds NUL bytes)"),
        (["--label-column", "kategori", "--data", "BINARY"], "not a text file (it holds NUL bytes)"),
    ],
)
def test_cli_train_errors(tmp_path, args, message):
    binary = tmp_path / "model.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    args = [str(binary) if a == "BINARY" else a for a in args]
    base = ["--out", str(tmp_path / "m")]
    if "--data" not in args:
        base += ["--data", str(SMALL)]
    result = CliRunner().invoke(train_command, base + args)
    assert result.exit_code == 1
    assert message in result.output


def test_cli_classify_missing_model(tmp_path):
    result = CliRunner().invoke(classify_command, ["jalan rusak", "--model", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert "no topic model" in result.output


# ---- the bundled default model ----------------------------------------------------------------

DEFAULT_TOPICS = {
    "jalan", "drainase", "kebersihan", "lingkungan", "penerangan_jalan", "lalu_lintas", "parkir",
    "air_bersih", "adminduk", "sosial", "kesehatan", "pendidikan", "ketertiban", "ketenagakerjaan",
    "pemerintahan_desa", "pupuk", "hama", "irigasi",
}


def test_bundled_default_model():
    model = load_model(Path(__file__).resolve().parents[1] / "models" / "default")
    assert model.labels == DEFAULT_TOPICS
    texts = {
        "jln poros desa di Dander rusak parah bnyk lubang": "jalan",
        "pupuk urea subsidi langka nang kios Kalitidu": "pupuk",
        "LAMPU PJU MATI min peteng ndedet": "penerangan_jalan",
        "tikus nyerang sawah, pari entek": "hama",
        "ktp sdh rekam 3 bln blm jadi": "adminduk",
    }
    tags = model.predict(list(texts))
    assert [t.topic for t in tags] == list(texts.values())
    assert all(t.confidence > 0.5 and 1 <= len(t.keywords) <= 5 for t in tags)


def test_any_batch_size_gives_the_tags_of_one_text_at_a_time():
    """A batch is scored in runs of about 65,536 products (modelfile._CHUNK); when a run started
    inside the batch's last text, predict raised IndexError (the first 34 example complaints
    did, and 11 other prefix sizes of examples/complaints.csv)."""
    import csv

    model = load_model(Path(__file__).resolve().parents[1] / "models" / "default")
    examples = Path(__file__).resolve().parents[1] / "examples" / "complaints.csv"
    with open(examples, newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)][:110]
    alone = [model.predict([t])[0] for t in texts]
    for size in range(1, len(texts) + 1):
        tags = model.predict(texts[:size])
        assert [t.topic for t in tags] == [t.topic for t in alone[:size]]
        assert np.allclose([t.confidence for t in tags], [t.confidence for t in alone[:size]])


def test_store_pointing_at_a_missing_version(tmp_path):
    (tmp_path / "versions").mkdir()
    (tmp_path / "current").write_text("20200101T000000-abcdef\n")
    with pytest.raises(ModelError, match="holds no model.*rollback"):
        load_model(tmp_path)
