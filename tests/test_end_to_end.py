"""The whole forwarder, as a process: real gammu-smsd in, classified, into the fake Bot API.

Issue 2's acceptance tests: SMS dropped into gammu-smsd's dummy phone (one of them a three-part
concatenated SMS with an emoji across a part boundary) reach their officer groups exactly once
through ``forwarder run --once``; and at least 200 real complaints from the newest 20 % of
``../shared/data`` reach the group of their true topic at least 80 % of the time, with a model
that ``forwarder train`` made from the oldest 80 % (skipped when the data is absent).
"""

from __future__ import annotations

import csv
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from fakes import daemon
from fakes.gammu import GammuSmsd, gammu_missing
from fakes.telegram_api import FakeTelegram, assert_no_personal_data

pytestmark = pytest.mark.skipif(bool(gammu_missing()), reason=gammu_missing() or "gammu ok")

CODE = re.compile(r"Pengaduan ([0-9A-Z]{6})")


def codes_by_chat(tg: FakeTelegram) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for message in tg.messages():
        match = CODE.search(message.visible)
        if match:  # first part of a message; later parts carry (k/n)
            out.setdefault(str(message.chat_id), []).append(match.group(1))
    return out


def forwarder_db(config_dir: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(config_dir / "forwarder.db")
    conn.row_factory = sqlite3.Row
    return conn


@pytest.fixture
def telegram() -> FakeTelegram:
    with FakeTelegram() as tg:
        yield tg


def test_sms_to_officer_groups_once(tmp_path: Path, telegram: FakeTelegram, repo: Path) -> None:
    smsd_dir = tmp_path / "smsd"
    smsd_dir.mkdir()
    head = "Mohon bantuan, pupuk urea bersubsidi di kios desa Sukorejo kec. Kasiman kosong"
    tail = " sdh dua minggu, petani tdk bisa memupuk padi. Tolong dicek distribusinya ya 🙏"
    long_text = head[:66] + "😡" + head[66:] + tail
    # 66 UTF-16 units, then the emoji's surrogate pair straddles the end of part 1 (67 units)
    assert len(long_text.encode("utf-16-be")) // 2 <= 3 * 67
    messages = {
        "+6281234567001": long_text,
        "081234567002": "Sawah di desa Ngumpakdalem diserang hama wereng, padi kering semua",
        "6285700000003": "Jalan desa rusak parah banyak lubang, motor sering jatuh. Nama saya Budi Santoso, "
                         "NIK 3522011203870004, hp 0812-3456-7003",
        "+62 0813 3000 0004": "🙏🙏🙏",
        "085600000005": "",
    }
    with GammuSmsd(smsd_dir) as smsd:
        written = {number: smsd.deliver(number, text) for number, text in messages.items()}
        assert written["+6281234567001"].total == 3  # the long SMS is three parts
        smsd.wait_inbox(sum(d.total for d in written.values()))
        model_topics = ["pupuk", "hama", "jalan", "irigasi", "adminduk"]
        config, chats = daemon.write_config(tmp_path, smsd_db=smsd.db_path,
                                            telegram_base_url=telegram.base_url, token=telegram.token,
                                            topics=model_topics)
        done = daemon.run(config, telegram.token, "--once")
        assert done.returncode == 0, done.stdout + done.stderr
        # every inbox row is processed only now that the complaints are stored
        assert {r["Processed"] for r in smsd.inbox()} == {"true"}
        again = daemon.run(config, telegram.token, "--once")
        assert again.returncode == 0, again.stderr

    db = forwarder_db(tmp_path)
    complaints = db.execute("select * from complaints order by id").fetchall()
    assert len(complaints) == len(messages)
    by_chat = codes_by_chat(telegram)
    delivered = Counter(code for codes in by_chat.values() for code in codes)
    # each complaint exactly once, even after a second run
    assert sorted(delivered) == sorted(c["tracking_code"] for c in complaints)
    assert set(delivered.values()) == {1}
    text_of = {c["tracking_code"]: c for c in complaints}
    for chat, codes in by_chat.items():
        for code in codes:
            c = text_of[code]
            if chat == chats["triase"]:
                continue
            topic = next(t for t, ch in chats.items() if ch == chat)
            assert c["topic"] == topic and c["confidence"] >= 0.5
    # the concatenated SMS arrived whole, emoji intact, as one complaint
    long_row = next(c for c in complaints if c["reporter"] == "+6281234567001")
    assert long_row["text"] == long_text
    assert long_row["topic"] == "pupuk" and long_row["kecamatan"] == "Kasiman"
    # all sender forms gave E.164 reporters; none of them reached a group
    assert {c["reporter"] for c in complaints} >= {"+6281234567002", "+6285700000003", "+6281330000004"}
    for message in telegram.messages():
        assert_no_personal_data(message.visible)
        assert "3522011203870004" not in message.visible
        assert "budi" not in message.visible.lower() and "santoso" not in message.visible.lower()  # keywords too
    # emoji-only and empty complaints are stored and go to triage
    triaged = {text_of[code]["text"] for code in by_chat.get(chats["triase"], [])}
    assert {"🙏🙏🙏", ""} <= triaged


# -- real complaints --------------------------------------------------------------------------


def _protocol_split(shared: Path) -> tuple[list[dict[str, str]], list[dict[str, str]], dict[str, str]]:
    base = shared / "surabaya_mediacenter"
    topic_of = {r["topik"]: r["topic"] for r in csv.DictReader(open(base / "topic_map.csv", encoding="utf-8"))}
    rows = [r for r in csv.DictReader(open(base / "complaints.csv", encoding="utf-8"))
            if r["is_dup_text"] != "True"]
    rows.sort(key=lambda r: r["tanggal_keluhan"])
    cut = int(len(rows) * 0.8)
    return rows[:cut], rows[cut:], topic_of


@pytest.mark.realdata
def test_real_complaints_reach_their_topic_group(tmp_path: Path, shared_data: Path,
                                                 telegram: FakeTelegram) -> None:
    train_rows, test_rows, topic_of = _protocol_split(shared_data)
    train_csv = tmp_path / "train.csv"  # derived data stays in the test's temporary folder
    with open(train_csv, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["tanggal_keluhan", "keluhan", "topik"])
        w.writeheader()
        for r in train_rows:
            w.writerow({k: r[k] for k in w.fieldnames})
    model_dir = tmp_path / "model"
    trained = subprocess.run(
        [sys.executable, "-m", "forwarder.cli", "train", "--data", str(train_csv), "--text-column", "keluhan",
         "--label-column", "topik", "--label-map", str(shared_data / "surabaya_mediacenter" / "topic_map.csv"),
         "--out", str(model_dir)],
        capture_output=True, text=True, timeout=600, env=daemon.env("x"), cwd=daemon.REPO)
    assert trained.returncode == 0, trained.stdout + trained.stderr

    labelled = [r for r in test_rows if r["topik"] in topic_of and r["keluhan"].strip()]
    step = max(1, len(labelled) // 220)
    sample = labelled[::step][:220]
    assert len(sample) >= 200
    smsd_dir = tmp_path / "smsd"
    smsd_dir.mkdir()
    topics = sorted(set(topic_of.values()))
    with GammuSmsd(smsd_dir) as smsd:
        expected_rows = 0
        for i, r in enumerate(sample):
            number = f"+62812{i:08d}"
            d = smsd.deliver(number, r["keluhan"])
            expected_rows += d.total
        smsd.wait_inbox(expected_rows, timeout=240)
        config, chats = daemon.write_config(tmp_path, smsd_db=smsd.db_path, telegram_base_url=telegram.base_url,
                                            token=telegram.token, topics=topics, model=model_dir,
                                            threshold=0.3)
        done = daemon.run(config, telegram.token, "--once", timeout=600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    db = forwarder_db(tmp_path)
    true_topic = {f"+62812{i:08d}": topic_of[r["topik"]] for i, r in enumerate(sample)}
    complaints = {c["tracking_code"]: c for c in db.execute("select * from complaints")}
    assert len(complaints) == len(sample)
    by_chat = codes_by_chat(telegram)
    delivered = Counter(code for codes in by_chat.values() for code in codes)
    assert set(delivered) == set(complaints) and set(delivered.values()) == {1}
    in_true_group = 0
    for chat, codes in by_chat.items():
        for code in codes:
            c = complaints[code]
            if chat == chats["triase"]:
                continue
            assert chats[c["topic"]] == chat  # the group of its predicted topic
            if c["topic"] == true_topic[c["reporter"]]:
                in_true_group += 1
    share = in_true_group / len(sample)
    print(f"real complaints: {len(sample)} delivered once each; share in the true topic's group {share:.3f}")
    assert share >= 0.80
