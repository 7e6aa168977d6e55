"""``forwarder reveal`` and ``forwarder flag --confidential`` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner
from fakes.telegram_api import FakeTelegram
from test_loop_kit import PUPUK, RAHASIA, Kit, tg_fixture  # noqa: F401

from forwarder.cli import main
from forwarder.sources.gammu_schema import add_inbox_sms

TEXT = "Pupuk subsidi ditimbun di gudang kepala desa. Nama saya Sri Wahyuni, hp 081234567001"


def config_file(kit: Kit) -> Path:
    path = kit.tmp / "forwarder.yaml"
    path.write_text(yaml.safe_dump(kit.data, allow_unicode=True), encoding="utf-8")
    return path


async def test_reveal_records_who_read_the_unmasked_complaint(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    add_inbox_sms(kit.smsd_db, "081234567001", TEXT, kit.clock(), timezone="UTC")
    await kit.once()
    row = kit.complaint()
    kit.check_privacy("Sri Wahyuni")
    runner = CliRunner()
    result = runner.invoke(main, ["reveal", row["tracking_code"].lower(), "--admin", "Bu Rina (Diskominfo)",
                                  "--config", str(config_file(kit))])
    assert result.exit_code == 0, result.output
    assert TEXT in result.output and "+6281234567001" in result.output
    (event,) = kit.rows("select actor, data from events where kind = 'revealed'")
    assert event["actor"] == "admin:Bu Rina (Diskominfo)"
    assert json.loads(event["data"]) == {"admin": "Bu Rina (Diskominfo)"}

    missing = runner.invoke(main, ["reveal", "ZZZZZZ", "--admin", "x", "--config", str(config_file(kit))])
    assert missing.exit_code == 1 and "no complaint" in missing.output
    no_admin = runner.invoke(main, ["reveal", row["tracking_code"], "--config", str(config_file(kit))])
    assert no_admin.exit_code == 2
    assert len(kit.rows("select id from events where kind = 'revealed'")) == 1


async def test_flag_moves_a_complaint_to_the_confidential_group(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    add_inbox_sms(kit.smsd_db, "081234567001", TEXT, kit.clock(), timezone="UTC")
    await kit.once()
    row = kit.complaint()
    code = row["tracking_code"]
    assert kit.first_message(PUPUK, code) and tg.messages(RAHASIA) == []

    result = CliRunner().invoke(main, ["flag", code, "--confidential", "--admin", "Pak Joko",
                                       "--config", str(config_file(kit))])
    assert result.exit_code == 0, result.output
    assert "pupuk-rahasia" in result.output
    await kit.once()
    assert kit.first_message(RAHASIA, code)
    edit = tg.edits(PUPUK)[-1]
    assert "dirahasiakan" in edit.visible and "ditimbun" not in edit.visible
    assert "flagged" in kit.events(row["id"])
    # the old group's buttons are gone and its officers can no longer act on it
    first = kit.first_message(PUPUK, code)
    tg.push_callback_query(PUPUK, first.message_id, f"a:terima:{row['id']}",
                           user={"id": 5550001, "is_bot": False, "first_name": "Andi"})
    await kit.once()
    assert tg.callback_answers()[-1]["show_alert"] == "true"
    assert kit.complaint(code)["status"] == "baru"
    again = CliRunner().invoke(main, ["flag", code, "--confidential", "--admin", "Pak Joko",
                                      "--config", str(config_file(kit))])
    assert "already confidential" in again.output


async def test_flag_ends_the_old_groups_part_in_the_report(tmp_path: Path, tg: FakeTelegram) -> None:
    from datetime import timedelta

    from forwarder.case_admin import flag_confidential
    from forwarder.report import Deadlines, build_report
    from forwarder.store import Store
    from forwarder.workdays import WorkCalendar

    kit = Kit(tmp_path, tg)
    add_inbox_sms(kit.smsd_db, "081234567001", TEXT, kit.clock(), timezone="UTC")
    await kit.once()
    code = kit.complaint()["tracking_code"]
    kit.clock.advance(hours=1)
    store = Store.open(kit.settings.database, clock=kit.clock)  # the CLI's work, on the test's clock
    try:
        assert flag_confidential(store, kit.settings, code, "Pak Joko") == ["pupuk-rahasia"]
    finally:
        store.close()
    await kit.once()
    kit.clock.advance(hours=2)
    secret = kit.first_message(RAHASIA, code)
    tg.push_reply(RAHASIA, secret.message_id, "/selesai Gudang sudah diperiksa", user={"id": 5550001,
                  "is_bot": False, "first_name": "Andi"})
    await kit.once()
    moves = [json.loads(r["data"]) for r in kit.rows("select data from events where kind = 'rerouted'")]
    assert [(m["from_group"], m["to_group"]) for m in moves] == [("pertanian-pupuk", "pupuk-rahasia")]

    store = Store.open(kit.settings.database, clock=kit.clock)
    try:
        rep = build_report(store, by="group", since=kit.clock() - timedelta(days=30), until=kit.clock(),
                           now=kit.clock(), calendar=WorkCalendar.from_settings(kit.settings),
                           deadlines=Deadlines(3, 5))
    finally:
        store.close()
    rows = {r.key: r for r in rep.rows}
    # the old group's part ended when it was flagged: not open, not overdue, counted as moved away
    assert (rows["pertanian-pupuk"].assigned, rows["pertanian-pupuk"].open, rows["pertanian-pupuk"].moved) == (0, 0, 1)
    assert (rows["pupuk-rahasia"].assigned, rows["pupuk-rahasia"].done) == (1, 1)
    assert rows["pupuk-rahasia"].done_median_h == 2.0  # from its own delivery, not from the intake
    assert rep.excluded == {"moved": 1}


async def test_flag_hides_every_part_of_a_long_complaint(tmp_path: Path, tg: FakeTelegram) -> None:
    """Only the first part of a complaint split over several Telegram messages used to be edited
    when it was flagged confidential: the later parts kept its text in the ordinary group."""
    kit = Kit(tmp_path, tg)
    long_text = ("Pupuk subsidi ditimbun di gudang kepala desa, warga tidak kebagian urea. " * 130).strip()
    add_inbox_sms(kit.smsd_db, "081234567001", long_text, kit.clock(), timezone="UTC")
    await kit.once()
    code = kit.complaint()["tracking_code"]
    posted = [m for m in tg.messages(PUPUK)]
    assert len(posted) >= 3 and all("ditimbun" in m.visible for m in posted)
    result = CliRunner().invoke(main, ["flag", code, "--confidential", "--admin", "Pak Joko",
                                       "--config", str(config_file(kit))])
    assert result.exit_code == 0, result.output
    await kit.once()
    shown = {m.message_id: m.visible for m in posted}
    for edit in tg.edits(PUPUK):
        shown[edit.message_id] = edit.visible
    assert not [text for text in shown.values() if "ditimbun" in text], shown
    assert list(shown.values())[1:] == ["(lanjutan pengaduan ini dirahasiakan)"] * (len(posted) - 1)
