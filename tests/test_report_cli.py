"""``forwarder report`` on a database filled by the tests: the table, the PNG chart, the CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml
from click.testing import CliRunner
from test_report import CONFIG, fill_store

from forwarder.cli import main
from forwarder.store import Store

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_config(tmp_path: Path) -> Path:
    db = tmp_path / "var" / "forwarder.db"
    store = Store.open(db)
    fill_store(store)
    store.close()
    path = tmp_path / "groups.yaml"
    path.write_text(yaml.safe_dump({**CONFIG, "database": str(db)}), encoding="utf-8")
    return path


def test_report_prints_the_table_and_writes_png_and_csv(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    png, table_csv = tmp_path / "out" / "chart.png", tmp_path / "out" / "figures.csv"
    result = CliRunner().invoke(main, [
        "report", "--config", str(config), "--since", "2026-08-01", "--as-of", "2026-08-26T12:00",
        "--until", "2026-08-26", "--by", "group", "--out", str(png), "--csv", str(table_csv)])
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("Response times by group", "jalan-dander", "jalan-kota", "pupuk", "triase", "total",
                 "ack median h", "working hours"):
        assert text in out
    # until 26 Aug 00:00 leaves C8 (received 25 Aug on a holiday) in and nothing after it
    line = next(ln for ln in out.splitlines() if "jalan-dander" in ln)
    assert "20.0" in line and "80.8" in line and "67%" in line and "50%" in line
    assert ("not measured: 1 spam, 1 duplicate, 1 marked not ours, 1 re-routed away, "
            "1 never delivered") in out
    assert png.read_bytes().startswith(PNG_MAGIC) and png.stat().st_size > 5000
    rows = list(csv.DictReader(table_csv.open(encoding="utf-8")))
    assert [r["group"] for r in rows] == ["jalan-dander", "jalan-kota", "pupuk", "triase", "total"]
    assert rows[2]["ack_p90_h"] == "65.2" and rows[2]["reopened_pct"] == "100.0"
    assert rows[3]["ack_median_h"] == ""
    # C2's round after its reopening, apart: in a second table and in the CSV's reopen_* columns
    assert "Reopened complaints: the rounds after each reopening" in out
    reopened = next(ln for ln in out.split("Reopened complaints")[1].splitlines() if "pupuk" in ln)
    assert [c for c in reopened.split() if c != "│"] == ["pupuk", "1", "-", "0%", "0", "-", "0%", "1", "1"]
    assert (rows[2]["reopen_rounds"], rows[2]["reopen_open"], rows[2]["reopen_overdue"]) == ("1", "1", "1")
    assert rows[0]["reopen_rounds"] == "0" and rows[0]["reopen_done_median_h"] == ""


def test_report_default_by_dinas_and_no_chart(tmp_path: Path, monkeypatch) -> None:
    config = write_config(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["report", "--config", str(config), "--since", "2026-08-01",
                                       "--as-of", "2026-08-26T12:00", "--no-chart"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "report.png").exists()
    assert "DPU" in result.output and "Dinas Pertanian" in result.output
    assert "(tanpa dinas)" in result.output


def test_report_with_nothing_in_the_period_still_draws(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    png = tmp_path / "empty.png"
    result = CliRunner().invoke(main, ["report", "--config", str(config), "--since", "2025-01-01",
                                       "--until", "2025-02-01", "--out", str(png)])
    assert result.exit_code == 0, result.output
    assert "not measured: nothing" in result.output
    assert "Reopened complaints" not in result.output  # no table of nothing
    assert png.read_bytes().startswith(PNG_MAGIC)


def test_report_refuses_bad_periods(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    runner = CliRunner()
    bad = runner.invoke(main, ["report", "--config", str(config), "--since", "last week"])
    assert bad.exit_code == 2 and "30d" in bad.output
    backwards = runner.invoke(main, ["report", "--config", str(config), "--since", "2026-08-10",
                                     "--until", "2026-08-01"])
    assert backwards.exit_code == 2 and "after --since" in backwards.output
    missing = runner.invoke(main, ["report", "--config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "cannot read the config" in missing.output


def test_report_draws_next_to_the_database_by_default(tmp_path: Path, monkeypatch) -> None:
    """Not into whatever directory the admin happens to be in: beside var/forwarder.db."""
    config = write_config(tmp_path)
    elsewhere = tmp_path / "home"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(main, ["report", "--config", str(config), "--since", "2026-08-01",
                                       "--as-of", "2026-08-26T12:00"])
    assert result.exit_code == 0, result.output
    chart = tmp_path / "var" / "report.png"
    assert chart.read_bytes().startswith(PNG_MAGIC)
    assert f"chart written to {chart}" in result.output
    assert list(elsewhere.iterdir()) == []


def test_report_without_a_database_exits_like_status(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(config.read_text(encoding="utf-8").replace(
        str(tmp_path / "var" / "forwarder.db"), str(tmp_path / "nowhere" / "forwarder.db")), encoding="utf-8")
    runner = CliRunner()
    status = runner.invoke(main, ["status", "--config", str(wrong)])
    report = runner.invoke(main, ["report", "--config", str(wrong)])
    assert report.exit_code == status.exit_code == 1, report.output
    assert f"no forwarder database at {tmp_path / 'nowhere' / 'forwarder.db'}" in report.output
    assert not (tmp_path / "nowhere").exists()  # a reading command creates nothing


def test_report_says_when_the_chart_cannot_be_written(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    result = CliRunner().invoke(main, ["report", "--config", str(config), "--since", "2026-08-01",
                                       "--out", str(blocker / "chart.png")])
    assert result.exit_code == 1
    assert f"cannot write {blocker / 'chart.png'}" in result.output and "--out PATH" in result.output
