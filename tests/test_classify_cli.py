"""`forwarder classify TEXT --config`: topic, place and the groups a complaint would go to, by the
daemon's own rules (routing.route, pipeline.is_confidential, places.Gazetteer)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from forwarder.classify.cli import classify_command
from forwarder.classify.data import read_csv, read_label_map
from forwarder.classify.model import load_model, save_model
from forwarder.classify.places import Gazetteer
from forwarder.classify.train import fit_model

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"

CONFIG = """
version: 1
model: {model}
confidence_threshold: {threshold}
kabupaten: {kabupaten}
sinks:
  out: {{type: console}}
groups:
  - {{name: jalan-semua, sink: out, chat_id: "-1001", topics: [jalan], dinas: Dinas PU Bina Marga}}
  - {{name: jalan-dander, sink: out, chat_id: "-1002", topics: [jalan], kecamatan: [dander]}}
  - {{name: pju, sink: out, chat_id: "-1003", topics: [penerangan_jalan]}}
  - {{name: sampah, sink: out, chat_id: "-1004", topics: [kebersihan]}}
  - {{name: rahasia, sink: out, chat_id: "-1005", topics: [jalan, kebersihan], confidential: true}}
  - {{name: triase, sink: out, chat_id: "-1009", fallback: true}}
"""


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    labelled = read_csv(DATA / "small_complaints.csv", "text", "kategori", None,
                        read_label_map(DATA / "label_map.csv"))
    return save_model(fit_model(labelled.texts, labelled.labels), tmp_path_factory.mktemp("m") / "model")


def config(tmp_path: Path, model: Path, threshold: float = 0.5, kabupaten: str = "Bojonegoro") -> Path:
    path = tmp_path / "groups.yaml"
    path.write_text(CONFIG.format(model=model, threshold=threshold, kabupaten=kabupaten), encoding="utf-8")
    return path


def classify(*args: str) -> str:
    result = CliRunner().invoke(classify_command, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_place_and_groups(tmp_path, model_dir):
    cfg = str(config(tmp_path, model_dir, threshold=0.4))
    out = classify("jalan rusak berlubang parah di Ds. Ngumpakdalem Kec. Dander", "--config", cfg)
    assert "topic: jalan" in out
    assert "place: kecamatan Dander, desa Ngumpakdalem (matched: Ds. Ngumpakdalem … Kec. Dander)" in out
    # the kecamatan written "dander" in the config is compared in its official spelling
    assert "goes to: jalan-semua (Dinas PU Bina Marga)" in out and "goes to: jalan-dander [Dander]" in out
    assert "rahasia" not in out and "triage" not in out

    out = classify("jalan rusak berlubang parah di kecamatan Kapas", "--config", cfg)
    assert "place: kecamatan Kapas" in out and "jalan-semua" in out and "jalan-dander" not in out


def test_confidential_goes_only_to_a_confidential_group(tmp_path, model_dir):
    cfg = str(config(tmp_path, model_dir, threshold=0.4))
    out = classify("RAHASIA jalan rusak berlubang parah di kec. dander", "--config", cfg)
    assert "confidential: yes" in out
    assert "goes to: rahasia" in out and "jalan-semua" not in out


def test_low_confidence_goes_to_triage_with_the_reason(tmp_path, model_dir):
    cfg = str(config(tmp_path, model_dir, threshold=0.99))
    out = classify("jalan rusak di kec. dander", "--config", cfg)
    assert "goes to: triase (fallback/triage)" in out
    assert "triage because: keyakinan rendah untuk topik jalan" in out


@pytest.mark.parametrize("text", ["Kecamatan Kedungadem", "selamat pagi pak, desa Sumberrejo",
                                  "RT 03 RW 05 Desa Kalianyar kec. Kapas"])
def test_a_place_alone_has_no_topic(tmp_path, model_dir, text):
    cfg = str(config(tmp_path, model_dir))
    out = classify(text, "--config", cfg)
    assert "topic: (none): the text has no words the model can use once place names are left out" in out
    assert "confidence: 0.000" in out and "goes to: triase (fallback/triage)" in out
    assert "place: kecamatan" in out


def test_the_bundled_model_no_longer_routes_a_bare_place():
    """The report: `forwarder classify "Kecamatan Kedungadem"` gave jalan 0.523, over the 0.5
    threshold. The model reads the text without its place names (Gazetteer.without_places)."""
    model = load_model(ROOT / "models" / "default")
    bojonegoro = Gazetteer.for_kabupaten("Bojonegoro")
    (raw,) = model.predict(["Kecamatan Kedungadem"])
    assert raw.topic == "jalan" and raw.confidence > 0.5  # what it did, reading the place name
    (tag,) = model.predict([bojonegoro.without_places("Kecamatan Kedungadem")])
    assert tag.topic is None and tag.confidence == 0.0
    (tag,) = model.predict([bojonegoro.without_places("ktp saya blm jadi, warga ds. sudu kec gayam")])
    assert tag.topic == "adminduk" and "kecamatan" not in tag.keywords


def test_model_only_reads_no_config(tmp_path, model_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "groups.yaml").write_text("not: [a config", encoding="utf-8")
    out = classify("lampu jalan mati", "--model", str(model_dir))
    assert "topic: penerangan_jalan" in out and "no config: pass --config PATH" in out
    # without --model the default config is read (and here it is broken: a clear error)
    result = CliRunner().invoke(classify_command, ["lampu jalan mati"])
    assert result.exit_code == 2 and "forwarder check-config --config config/groups.yaml" in result.output
    # a good default config gives its model and groups
    config(tmp_path / "config", model_dir)
    out = classify("lampu jalan mati")
    assert "goes to: pju" in out


def test_unknown_kabupaten_is_a_clear_error(tmp_path, model_dir):
    cfg = str(config(tmp_path, model_dir, kabupaten="Atlantis"))
    result = CliRunner().invoke(classify_command, ["jalan rusak", "--config", cfg])
    assert result.exit_code == 2  # the config is unusable, as for check-config
    assert "kabupaten" in result.output and "not a kabupaten/kota" in result.output


def test_confidential_low_confidence_goes_to_the_confidential_triage(tmp_path, model_dir):
    path = config(tmp_path, model_dir, threshold=0.99)
    path.write_text(path.read_text(encoding="utf-8") + '  - {name: triase-rahasia, sink: out, chat_id: "-1008", '
                    "fallback: true, confidential: true}\n", encoding="utf-8")
    out = classify("RAHASIA jalan rusak di kec. dander", "--config", str(path))
    assert "goes to: triase-rahasia (confidential triage)" in out and "goes to: triase " not in out
    out = classify("jalan rusak di kec. dander", "--config", str(path))
    assert "goes to: triase (fallback/triage)" in out and "triase-rahasia" not in out
