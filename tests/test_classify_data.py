"""Training CSVs as admins have them: saved by Excel in Windows-1252 or UTF-16, or with semicolons
between the columns (Excel in an Indonesian locale), for `forwarder train` and `forwarder model
train/evaluate`."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner

from forwarder.classify.admin import model_group
from forwarder.classify.cli import train_command
from forwarder.classify.data import TrainingDataError, read_csv, read_label_map
from forwarder.classify.store import open_store

DATA = Path(__file__).parent / "data"
SMALL = DATA / "small_complaints.csv"
FRESH = DATA / "small_fresh.csv"
LABEL_MAP = DATA / "label_map.csv"
COMMON = ["--label-column", "kategori", "--label-map", str(LABEL_MAP)]


@pytest.fixture(autouse=True)
def _away_from_the_repo_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def rows_of(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    with open(path, "w", newline="", encoding=encoding) as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter=delimiter)
        writer.writeheader()
        writer.writerows(rows)
    return path


def windows_1252(tmp_path: Path) -> Path:
    """The small CSV saved by Excel on Windows: 'Andrés' on line 3 and 'Kadés' on line 6."""
    rows = rows_of(SMALL)
    rows[1]["text"] = "jln raya Dander berlubang kata Pak Andrés"
    rows[4]["text"] += " (Kadés)"
    return write(tmp_path / "pengaduan.csv", rows, encoding="cp1252")


def test_a_windows_1252_csv_names_the_line_and_how_to_convert_it(tmp_path):
    path = windows_1252(tmp_path)
    with pytest.raises(TrainingDataError) as info:
        read_csv(path, "text", "kategori")
    message = str(info.value)
    assert message.startswith(f"{path}, line 3, column 40: the file is not UTF-8: byte 0xe9 cannot "
                              "be read (in Windows-1252 that is 'é'); so are line(s) 6.")
    assert "save it as UTF-8 (Excel: File > Save As, 'CSV UTF-8 (Comma delimited)'" in message
    assert f"iconv -f WINDOWS-1252 -t UTF-8 {path} > {tmp_path / 'pengaduan-utf8.csv'}" in message
    assert "codec" not in message and "position" not in message
    # the conversion the message gives makes a file that reads, with the same text
    converted = tmp_path / "pengaduan-utf8.csv"
    converted.write_bytes(path.read_bytes().decode("cp1252").encode("utf-8"))
    assert "jln raya Dander berlubang kata Pak Andrés" in read_csv(converted, "text", "kategori").texts


def test_a_utf16_csv_and_label_map_are_named(tmp_path):
    path = write(tmp_path / "unicode.csv", rows_of(SMALL), encoding="utf-16")
    with pytest.raises(TrainingDataError, match=r"is saved as UTF-16 \(Excel's 'Unicode Text'\), not "
                                                r"UTF-8: save it as UTF-8 .* iconv -f UTF-16 -t UTF-8"):
        read_csv(path, "text", "kategori")
    label_map = tmp_path / "peta.csv"
    label_map.write_bytes("label,topic\nJalan Rusak,jalan\nLampu Penerangan Jalan Umum,pénerangan\n"
                          .encode("cp1252"))
    with pytest.raises(TrainingDataError, match=r"peta.csv, line 3, column 30: the file is not UTF-8"):
        read_label_map(label_map)


def test_semicolon_separated_csv_and_label_map_are_read(tmp_path):
    rows = rows_of(SMALL)
    rows[0]["text"] = "jalan rusak; banyak lubang, tolong diaspal"  # quoted by Excel
    comma = write(tmp_path / "comma.csv", rows)
    semicolon = write(tmp_path / "titik-koma.csv", rows, encoding="utf-8-sig", delimiter=";")
    assert semicolon.read_text(encoding="utf-8-sig").startswith("text;kategori;tanggal\n")
    label_map = tmp_path / "peta.csv"
    label_map.write_text("label;topic\nJalan Rusak;jalan\nLampu PJU;penerangan_jalan\nSampah;kebersihan\n",
                         encoding="utf-8")
    assert read_label_map(label_map) == read_label_map(LABEL_MAP)
    label_map.write_text("Jalan, Jembatan;jalan\nLampu PJU;penerangan_jalan\n", encoding="utf-8")
    assert read_label_map(label_map) == {"Jalan, Jembatan": "jalan", "Lampu PJU": "penerangan_jalan"}
    label_map.write_text("label;topic\nJalan Rusak;jalan\nLampu PJU;penerangan_jalan\nSampah;kebersihan\n",
                         encoding="utf-8")
    expected = read_csv(comma, "text", "kategori", "tanggal", read_label_map(LABEL_MAP))
    got = read_csv(semicolon, "text", "kategori", "tanggal", read_label_map(label_map))
    assert (got.texts, got.labels, got.dates) == (expected.texts, expected.labels, expected.dates)
    assert got.texts[0] == "jalan rusak; banyak lubang, tolong diaspal"
    assert f"{semicolon}: columns separated by semicolons" in got.notes
    # tab-separated too
    tabs = write(tmp_path / "tab.csv", rows, delimiter="\t")
    assert read_csv(tabs, "text", "kategori").texts == read_csv(comma, "text", "kategori").texts


def test_a_missing_column_of_a_semicolon_csv_says_what_it_looks_like(tmp_path):
    semicolon = write(tmp_path / "titik-koma.csv", rows_of(SMALL), delimiter=";")
    with pytest.raises(TrainingDataError) as info:
        read_csv(semicolon, "teks", "kategori")
    assert str(info.value) == (f"{semicolon}: no column 'teks'; the columns are: text, kategori, tanggal "
                               "(the file looks semicolon-separated; its header is "
                               "'text;kategori;tanggal')")
    with pytest.raises(TrainingDataError, match=r"no column 'teks'; the columns are: text, kategori, "
                                                r"tanggal$"):
        read_csv(SMALL, "teks", "kategori")


def test_the_training_commands_read_them_too(tmp_path):
    semicolon = write(tmp_path / "titik-koma.csv", rows_of(SMALL), delimiter=";")
    latin = windows_1252(tmp_path)
    result = CliRunner().invoke(train_command, ["--data", str(semicolon), *COMMON, "--out", "model"])
    assert result.exit_code == 0, result.output
    assert "columns separated by semicolons" in result.output
    result = CliRunner().invoke(train_command, ["--data", str(latin), *COMMON, "--out", "model2"])
    assert result.exit_code == 1 and f"{latin}, line 3, column 40: the file is not UTF-8" in result.output
    assert not Path("model2").exists()

    result = CliRunner().invoke(model_group, ["train", "--store", "store", "--data", str(semicolon), *COMMON])
    assert result.exit_code == 0, result.output
    assert open_store("store").newest_candidate().card["data"]["rows"] == 36
    for command in (["train", "--store", "store", "--data", str(SMALL), "--data", str(latin)],
                    ["evaluate", "--store", "store", "--data", str(latin)]):
        result = CliRunner().invoke(model_group, [*command, *COMMON])
        assert result.exit_code == 1, result.output
        assert "line 3, column 40: the file is not UTF-8" in result.output and "iconv" in result.output


def test_an_excel_workbook_is_not_taken_for_a_csv(tmp_path):
    workbook = tmp_path / "pengaduan.csv"  # renamed, but a zip inside
    workbook.write_bytes(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00b\xee\x9dh")
    with pytest.raises(TrainingDataError, match=r"is an Excel workbook \(.xlsx\), not a CSV file: .*"
                                                r"'CSV UTF-8 \(Comma delimited\)'"):
        read_csv(workbook, "text", "kategori")
