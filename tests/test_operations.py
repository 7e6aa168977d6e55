"""What an admin runs into: dry runs, two runs at once, the demo on a live config, stopping.

Found by a trial run from the README: each of these once lost, doubled or endangered complaints.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from fakes import daemon
from fakes.daemon import REPO
from fakes.telegram_api import FakeTelegram
from forwarder.cli import main
from forwarder.config import load_config
from forwarder.errors import StoreError
from forwarder.pipeline import Pipeline
from forwarder.runlock import RunLock
from forwarder.sources.gammu_schema import add_inbox_sms, create_smsd_schema
from forwarder.store import Store

WHEN = datetime(2026, 11, 29, 3, 0, tzinfo=timezone.utc)


@pytest.fixture
def tg() -> FakeTelegram:
    with FakeTelegram() as fake:
        yield fake


def _setup(tmp_path: Path, tg: FakeTelegram, n: int = 2, **kw) -> tuple[Path, dict[str, str]]:
    smsd_db = tmp_path / "smsd.db"
    create_smsd_schema(smsd_db)
    for i in range(n):
        add_inbox_sms(smsd_db, f"+62812000000{i:02d}", f"jalan rusak berlubang nomor {i}", WHEN, timezone="UTC")
    return daemon.write_config(tmp_path, smsd_db=smsd_db, telegram_base_url=tg.base_url, token=tg.token,
                               topics=["jalan"], threshold=0.0, **kw)


def test_dry_run_sends_nothing_and_consumes_nothing(tmp_path: Path, tg: FakeTelegram) -> None:
    config, _ = _setup(tmp_path, tg)
    runner = CliRunner()
    env = {"TG_TOKEN": tg.token}
    dry = runner.invoke(main, ["run", "--config", str(config), "--once", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "nomor 0" in dry.output and tg.messages() == []
    smsd = sqlite3.connect(tmp_path / "smsd.db")
    assert {r[0] for r in smsd.execute("select Processed from inbox")} == {"false"}
    assert smsd.execute("select count(*) from outbox").fetchone()[0] == 0  # no acknowledgment sent
    real = runner.invoke(main, ["run", "--config", str(config), "--once"], env=env)
    assert real.exit_code == 0, real.output
    assert sorted(m.visible.count("nomor") for m in tg.messages()) == [1, 1]
    assert {r[0] for r in smsd.execute("select Processed from inbox")} == {"true"}


def test_dry_run_reads_a_backlog_larger_than_a_batch_once_to_its_end(tmp_path: Path, tg: FakeTelegram) -> None:
    """Before going live on a gateway holding a backlog, a dry run showed the first batch only,
    read 1,000 times over (a trial run: "200000 read, 200 new")."""
    config, _ = _setup(tmp_path, tg, n=7)
    data = yaml.safe_load(config.read_text())
    data["sources"]["sms"]["batch_size"] = 3
    config.write_text(yaml.safe_dump(data))
    env = {"TG_TOKEN": tg.token}
    dry = CliRunner().invoke(main, ["run", "--config", str(config), "--once", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert [dry.output.count(f"nomor {i}") for i in range(7)] == [1] * 7
    assert "7 read, 7 new" in dry.output
    smsd = sqlite3.connect(tmp_path / "smsd.db")
    assert {r[0] for r in smsd.execute("select Processed from inbox")} == {"false"}
    assert tg.messages() == []


def test_only_one_run_per_database(tmp_path: Path, tg: FakeTelegram) -> None:
    config, _ = _setup(tmp_path, tg)
    settings = load_config(config, env={"TG_TOKEN": tg.token})
    first = Pipeline.build(settings)
    try:
        with pytest.raises(StoreError, match="another forwarder"):
            Pipeline.build(settings)
        second = CliRunner().invoke(main, ["run", "--config", str(config), "--once"], env={"TG_TOKEN": tg.token})
        assert second.exit_code != 0 and "another forwarder" in second.output
    finally:
        asyncio.run(first.close())
    Pipeline.build(settings).store.close()  # released by close()
    # a killed process leaves no stale lock: the kernel drops it
    holder = subprocess.Popen(["python3", "-c", f"import fcntl,os,time; fd=os.open('{tmp_path}/x.db.lock', "
                               "os.O_RDWR|os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX); time.sleep(60)"])
    time.sleep(0.5)
    with pytest.raises(StoreError):
        RunLock(tmp_path / "x.db").acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    RunLock(tmp_path / "x.db").acquire().release()


def test_a_delivery_with_every_part_recorded_is_finished_not_resent(tmp_path: Path, tg: FakeTelegram) -> None:
    config, _ = _setup(tmp_path, tg, n=1)
    env = {"TG_TOKEN": tg.token}
    assert CliRunner().invoke(main, ["run", "--config", str(config), "--once"], env=env).exit_code == 0
    db = sqlite3.connect(tmp_path / "forwarder.db")
    with db:  # the state a crash between the last part and the state change leaves
        db.execute("update deliveries set state = 'failed'")
    again = CliRunner().invoke(main, ["run", "--config", str(config), "--once"], env=env)
    assert again.exit_code == 0, again.output
    assert len(tg.messages()) == 1
    assert db.execute("select state from deliveries").fetchone()[0] == "sent"


def test_demo_refuses_a_live_config_and_a_foreign_inbox(tmp_path: Path, tg: FakeTelegram) -> None:
    config, _ = _setup(tmp_path, tg)
    runner = CliRunner()
    live = runner.invoke(main, ["demo", "--config", str(config), "--fresh"], env={"TG_TOKEN": tg.token})
    assert live.exit_code != 0 and "only prints to the console" in live.output
    data = yaml.safe_load(config.read_text())
    data["sinks"] = {"tg": {"type": "console"}}
    config.write_text(yaml.safe_dump(data))
    foreign = runner.invoke(main, ["demo", "--config", str(config), "--fresh"])
    assert foreign.exit_code != 0 and "was not made by" in foreign.output
    smsd = sqlite3.connect(tmp_path / "smsd.db")
    assert smsd.execute("select count(*) from inbox").fetchone()[0] == 2  # left alone
    # without --fresh the demo reads that inbox as it is, and says it is not the demo's
    plain = runner.invoke(main, ["demo", "--config", str(config)])
    assert "0 example SMS put" in plain.output and "it is not the demo's inbox" in plain.output
    assert "earlier demo" not in plain.output
    assert smsd.execute("select count(*) from inbox").fetchone()[0] == 2


def test_demo_fresh_waits_for_a_running_forwarder_and_keeps_real_complaints(tmp_path: Path) -> None:
    config = tmp_path / "demo.yaml"
    data = yaml.safe_load((REPO / "config" / "groups.yaml").read_text())
    data.update(database=str(tmp_path / "forwarder.db"), model=str(REPO / "models" / "default"))
    data["sources"]["sms"]["database"] = str(tmp_path / "smsd.db")
    config.write_text(yaml.safe_dump(data, allow_unicode=True))
    runner = CliRunner()
    first = runner.invoke(main, ["demo", "--config", str(config)])
    assert first.exit_code == 0, first.output
    again = runner.invoke(main, ["demo", "--config", str(config)])
    assert "--fresh` starts over" in again.output
    stored = sqlite3.connect(tmp_path / "forwarder.db").execute("select count(*) from complaints").fetchone()[0]
    # while a run holds the database, --fresh deletes nothing
    with RunLock(tmp_path / "forwarder.db"):
        held = runner.invoke(main, ["demo", "--config", str(config), "--fresh"])
    assert held.exit_code != 0 and "another forwarder" in held.output
    assert sqlite3.connect(tmp_path / "forwarder.db").execute("select count(*) from complaints").fetchone()[0] == stored
    # a complaint from another source (a real one, say) keeps the database from being wiped
    db = sqlite3.connect(tmp_path / "forwarder.db")
    with db:
        db.execute("update complaints set source = 'sms-lama' where id = 1")
    kept = runner.invoke(main, ["demo", "--config", str(config), "--fresh"])
    assert kept.exit_code != 0 and "did not come from the demo" in kept.output
    assert db.execute("select count(*) from complaints").fetchone()[0] == stored
    with db:
        db.execute("update complaints set source = 'sms' where id = 1")
    fresh = runner.invoke(main, ["demo", "--config", str(config), "--fresh"])
    assert fresh.exit_code == 0, fresh.output


def test_misspelt_kecamatan_in_a_group_is_a_problem(tmp_path: Path, tg: FakeTelegram) -> None:
    config, _ = _setup(tmp_path, tg, extra_groups=[
        {"name": "jalan-margomulyo", "sink": "tg", "chat_id": "-1005", "topics": ["jalan"],
         "kecamatan": ["Sumberjo"]}])
    result = CliRunner().invoke(main, ["check-config", "--config", str(config), "--no-model"],
                                env={"TG_TOKEN": tg.token})
    assert result.exit_code == 2
    assert "groups[1].kecamatan[0]" in result.output and "Sumberrejo" in result.output
    run = CliRunner().invoke(main, ["run", "--config", str(config), "--once"], env={"TG_TOKEN": tg.token})
    assert run.exit_code == 2  # run refuses what check-config refuses


def test_sighup_loads_the_promoted_model_and_keeps_running(tmp_path: Path, tg: FakeTelegram) -> None:
    import shutil

    from forwarder.classify.store import open_store

    store_dir = tmp_path / "model"
    shutil.copytree(REPO / "models" / "default", store_dir)
    open_store(store_dir, create=True)  # the bundled model becomes version 1 of a store
    config, _ = _setup(tmp_path, tg, n=1, model=store_dir)
    log = tmp_path / "daemon.log"
    process = daemon.start(config, tg.token, log)
    try:
        assert tg.wait_for(lambda fake: len(fake.messages()) >= 1, timeout=60), log.read_text()
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while "event=model_reloaded" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "event=model_reloaded" in log.read_text(), log.read_text()
        (store_dir / "current").write_text("no-such-version\n")  # a broken store: the model in use stays
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while "event=model_reload_failed" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "event=model_reload_failed" in log.read_text(), log.read_text()
        assert process.poll() is None  # still running
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0


def test_sigterm_with_a_backlog_stops_promptly(tmp_path: Path, tg: FakeTelegram) -> None:
    config, _ = _setup(tmp_path, tg, n=30, pacing={"per_chat_per_minute": 20, "per_chat_per_second": 1,
                                                    "overall_per_second": 30})
    log = tmp_path / "daemon.log"
    process = daemon.start(config, tg.token, log)
    assert tg.wait_for(lambda fake: len(fake.messages()) >= 3, timeout=60), log.read_text()
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    assert time.monotonic() - started < 10  # not after the 30-message backlog (a minute and more)
    db = Store.open(tmp_path / "forwarder.db")
    states = [d.state for d in db.deliveries()]
    assert states.count("sent") == len(tg.messages()) and "sending" not in states
