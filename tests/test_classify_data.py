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
from forwarder.classify.data import TrainingDataError, read_csv, read_label_map, read_officer_labels
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
    assert read_label_map(label_map) == {"jalan, jembatan": "jalan", "lampu pju": "penerangan_jalan"}
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


# ---- labels and column names as Excel users type them ------------------------------------------

def mixed_spellings(tmp_path: Path, header: list[str], first_line: str = "") -> Path:
    """The small CSV with every other label typed in capitals with extra spaces, as Excel users
    type them, semicolon-separated under ``header``."""
    path = tmp_path / "campur.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        handle.write(first_line)
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(header)
        for i, row in enumerate(rows_of(SMALL)):
            label = row["kategori"]
            if i % 2:
                label = f"  {label.upper().replace(' ', '   ')} "
            writer.writerow([row["text"], label, row["tanggal"]])
    return path


def test_labels_differing_in_case_or_spaces_are_one_topic(tmp_path):
    mixed = mixed_spellings(tmp_path, ["text", "kategori", "tanggal"])
    plain = read_csv(SMALL, "text", "kategori")
    got = read_csv(mixed, "text", "kategori")
    assert sorted(set(got.labels)) == ["jalan rusak", "lainnya", "lampu pju", "sampah"]
    assert got.labels == plain.labels and got.texts == plain.texts
    assert (f"{mixed}: 37 label(s) written with capitals or extra spaces read in lower case with "
            "single spaces; 7 spellings are 4 labels: '  JALAN   RUSAK ', 'Jalan Rusak' -> "
            "'jalan rusak'; '  LAMPU   PJU ', 'Lampu PJU' -> 'lampu pju'; '  SAMPAH ', 'Sampah' -> "
            "'sampah'") in got.notes
    # a label map's labels and topics are matched and read the same way
    label_map = tmp_path / "peta.csv"
    label_map.write_text("label,topic\nJALAN RUSAK , Jalan\nlampu  pju,PENERANGAN_JALAN\nSampah,kebersihan\n",
                         encoding="utf-8")
    notes: list[str] = []
    mapping = read_label_map(label_map, notes)
    assert mapping == {"jalan rusak": "jalan", "lampu pju": "penerangan_jalan", "sampah": "kebersihan"}
    assert notes == [(f"{label_map}: topic(s) of the label map written in other case or spacing read "
                      "as topic names: ' Jalan' -> 'jalan'; 'PENERANGAN_JALAN' -> 'penerangan_jalan'")]
    mapped = read_csv(mixed, "text", "kategori", label_map=mapping)
    assert mapped.labels == read_csv(SMALL, "text", "kategori", label_map=read_label_map(LABEL_MAP)).labels
    # officers' labels too (stored by /topik, but a hand-edited database may differ)
    assert read_officer_labels(officer_labels(tmp_path / "f.db")).labels == ["pupuk"]


def officer_labels(path: Path) -> Path:
    import sqlite_utils

    sqlite_utils.Database(path)["labels"].insert(
        {"complaint_id": 1, "text": "pupuk langka", "topic": " Pupuk ", "labelled_by": "op",
         "labelled_at": "2026-01-01T00:00:00"})
    return path


def test_a_label_map_giving_one_label_two_topics_is_refused(tmp_path):
    label_map = tmp_path / "peta.csv"
    label_map.write_text("label,topic\nJalan Rusak,jalan\nLampu PJU,penerangan_jalan\n"
                         "jalan rusak ,Jembatan\n", encoding="utf-8")
    with pytest.raises(TrainingDataError) as info:
        read_label_map(label_map)
    assert str(info.value) == (f"{label_map}, line 4: 'jalan rusak' is mapped to 'Jembatan', but line 2 "
                               "maps 'Jalan Rusak' to 'jalan' (labels are matched ignoring case and "
                               "spaces): keep one of the two rows")
    label_map.write_text("label,topic\nJalan Rusak,jalan\nJALAN RUSAK,Jalan\n", encoding="utf-8")
    assert read_label_map(label_map) == {"jalan rusak": "jalan"}  # the same topic twice is fine


def test_training_on_mixed_spellings_trains_the_topics_once(tmp_path):
    mixed = mixed_spellings(tmp_path, ["text", "kategori", "tanggal"])
    result = CliRunner().invoke(train_command, ["--data", str(mixed), "--label-column", "kategori",
                                                "--out", "model"])
    assert result.exit_code == 1  # 'lainnya' has one row, whatever its spelling
    assert "too few rows for topic(s): lainnya (1);" in result.output
    result = CliRunner().invoke(train_command, ["--data", str(mixed), *COMMON, "--out", "model"])
    assert result.exit_code == 0, result.output
    assert "36 labelled rows, 3 topics" in result.output
    assert "36 label(s) written with capitals or extra spaces" in result.output


def test_column_names_match_ignoring_case_and_spaces(tmp_path):
    mixed = mixed_spellings(tmp_path, ["Teks ", " Topik", "TANGGAL"])
    got = read_csv(mixed, "teks", "topik", "tanggal")
    assert got.texts == read_csv(SMALL, "text", "kategori").texts
    assert got.dates[0] == "2025-01-03T00:00:00"
    assert (f"{mixed}: column(s) 'Teks ' as 'teks', ' Topik' as 'topik', 'TANGGAL' as 'tanggal' "
            "(names are matched ignoring case and spaces)") in got.notes
    # an exact name wins over one differing in case
    exact = mixed_spellings(tmp_path, ["teks", "Teks", "tanggal"])
    exact_read = read_csv(exact, "teks", "Teks")
    assert exact_read.texts == got.texts and exact_read.labels[0] == "jalan rusak"
    # two columns equal to the name but for case: an error naming both, with the way out
    with pytest.raises(TrainingDataError) as info:
        read_csv(exact, "TEKS", "tanggal")
    assert str(info.value) == (f"{exact}: column 'TEKS' matches 'teks' and 'Teks', which differ only in "
                               "case or spaces: rename one of them, or give the exact name "
                               "(--text-column teks)")


def test_excels_sep_line_names_the_separator(tmp_path):
    header = ["Teks", "Topik", "Tanggal"]
    for first_line in ("sep=;\n", "sep=;\r\n", '"sep=;"\n', "\ufeffsep=;\n"):
        path = mixed_spellings(tmp_path, header, first_line)
        got = read_csv(path, "teks", "topik", "tanggal")
        assert got.texts == read_csv(SMALL, "text", "kategori").texts, first_line
        assert got.notes[0] == f"{path}: columns separated by semicolons (its first line sep=;)"
    # the line numbers of bad dates are the file's (the sep= line is line 1, the header line 2)
    text = path.read_text(encoding="utf-8").replace("2025-01-05", "kemarin")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TrainingDataError, match=r"1 row\(s\) whose 'tanggal' .*: line 4 'kemarin'"):
        read_csv(path, "teks", "topik", "tanggal")
    # the separator it names is the one used
    path.write_text("sep=,\nteks;topik\njalan rusak;jalan\n", encoding="utf-8")
    with pytest.raises(TrainingDataError) as info:
        read_csv(path, "teks", "topik")
    assert str(info.value) == (f"{path}: no column 'teks', 'topik'; the columns are: teks;topik "
                               "(read with ',', as its first line sep=, says)")
    label_map = tmp_path / "peta.csv"
    label_map.write_text("sep=;\nlabel;topic\nJalan Rusak;jalan\nSampah;kebersihan\n", encoding="utf-8")
    assert read_label_map(label_map) == {"jalan rusak": "jalan", "sampah": "kebersihan"}
