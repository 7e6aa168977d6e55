"""Dates of labelled complaints (--date-column): read as exports write them, never sorted as text."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from forwarder.classify.admin import model_group
from forwarder.classify.cli import train_command
from forwarder.classify.data import TrainingDataError, read_csv, read_label_map
from forwarder.classify.dates import iso_date, parse_date
from forwarder.classify.train import train_and_evaluate

DATA = Path(__file__).parent / "data"
SMALL = DATA / "small_complaints.csv"
LABEL_MAP = DATA / "label_map.csv"


@pytest.mark.parametrize("text, expected", [
    ("2026-03-04", datetime(2026, 3, 4)),
    ("2026-03-04 10:30", datetime(2026, 3, 4, 10, 30)),
    ("2026-03-04T10:30:15", datetime(2026, 3, 4, 10, 30, 15)),
    ("2026-03-04T10:30:15+07:00", datetime(2026, 3, 4, 3, 30, 15)),  # to UTC
    ("2026-03-04T03:30:15Z", datetime(2026, 3, 4, 3, 30, 15)),
    ("2026/03/04", datetime(2026, 3, 4)),
    ("04/03/2026", datetime(2026, 3, 4)),
    ("4-3-2026", datetime(2026, 3, 4)),
    ("04.03.2026", datetime(2026, 3, 4)),
    ("04.03.2026 10.30", datetime(2026, 3, 4, 10, 30)),
    ("04/03/2026 10:30:05", datetime(2026, 3, 4, 10, 30, 5)),
    ("04-03-2026, 07:05", datetime(2026, 3, 4, 7, 5)),
    ("4 Maret 2026", datetime(2026, 3, 4)),
    ("04 Agt 2026 10:30", datetime(2026, 8, 4, 10, 30)),
    ("  28 Februari 2026 ", datetime(2026, 2, 28)),
])
def test_parse_date(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", [
    "", "   ", "kemarin", "-", "12/25/2026", "31.02.2026", "04.03.26", "2026-13-01", "04/03-2026",
    "4 Marit 2026", "04.03.2026 25:00", "2026-03-04 lalu", "x" * 100, None,
])
def test_unreadable_dates(text):
    assert parse_date(text) is None
    assert iso_date(text) is None


def test_normal_form_sorts_in_time_order():
    dates = ["04.03.2026", "28.02.2026", "2026-03-01 09:00", "1 Maret 2026 08:00"]
    assert sorted(iso_date(d) for d in dates) == [
        "2026-02-28T00:00:00", "2026-03-01T08:00:00", "2026-03-01T09:00:00", "2026-03-04T00:00:00",
    ]


def dotted_csv(path: Path, bad: dict[int, str] | None = None) -> Path:
    """SMALL with its ISO dates rewritten as dd.mm.yyyy (text order is then not time order);
    ``bad`` replaces the date of data row i (0-based) with a value."""
    with open(SMALL, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for i, row in enumerate(rows):
            year, month, day = row["tanggal"].split("-")
            date = (bad or {}).get(i, f"{day}.{month}.{year}")
            writer.writerow(dict(row, tanggal=date))
    return path


def test_day_first_dates_give_a_real_time_split(tmp_path):
    mapping = read_label_map(LABEL_MAP)
    iso = read_csv(SMALL, "text", "kategori", "tanggal", mapping)
    dotted = read_csv(dotted_csv(tmp_path / "d.csv"), "text", "kategori", "tanggal", mapping)
    assert dotted.dates == iso.dates and iso.dates[0] == "2025-01-03T00:00:00"
    result = train_and_evaluate(dotted, by_date=True, test_fraction=0.25)
    assert min(result.test.dates) >= "2025-02-11"  # the newest rows, as with ISO dates


def test_unreadable_dates_are_an_error_naming_rows(tmp_path):
    path = dotted_csv(tmp_path / "bad.csv", {0: "kemarin", 3: "", 5: "12/25/2025"})
    with pytest.raises(TrainingDataError) as info:
        read_csv(path, "text", "kategori", "tanggal")
    message = str(info.value)
    assert "3 row(s)" in message and "'tanggal'" in message
    assert "line 2 'kemarin'" in message and "line 5 (empty)" in message
    assert "line 7 '12/25/2025'" in message and "--skip-bad-dates" in message
    kept = read_csv(path, "text", "kategori", "tanggal", skip_bad_dates=True)
    assert len(kept) == 37 - 3
    assert any("3 row(s) whose 'tanggal' is not a readable date left out" in n for n in kept.notes)


def test_many_bad_dates_are_summarised(tmp_path):
    path = dotted_csv(tmp_path / "bad.csv", {i: "?" for i in range(12)})
    with pytest.raises(TrainingDataError, match=r"12 row\(s\).*line 6 '\?' and 7 more"):
        read_csv(path, "text", "kategori", "tanggal")


def test_cli_train_refuses_bad_dates_or_skips_them(tmp_path):
    path = dotted_csv(tmp_path / "bad.csv", {2: "kemarin"})
    args = ["--data", str(path), "--label-column", "kategori", "--label-map", str(LABEL_MAP),
            "--date-column", "tanggal"]
    result = CliRunner().invoke(train_command, args + ["--out", str(tmp_path / "m")])
    assert result.exit_code == 1
    assert "line 4 'kemarin'" in result.output and not (tmp_path / "m").exists()
    result = CliRunner().invoke(train_command, args + ["--skip-bad-dates", "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert "1 row(s) whose 'tanggal' is not a readable date left out" in result.output

    store = tmp_path / "store"
    result = CliRunner().invoke(model_group, ["train", "--store", str(store)] + args)
    assert result.exit_code == 1 and "line 4 'kemarin'" in result.output
    result = CliRunner().invoke(model_group, ["train", "--store", str(store), "--skip-bad-dates"] + args)
    assert result.exit_code == 0, result.output
