"""The whole loop through the REAL gammu-smsd (dummy phone, SQLite) and the fake Bot API: an SMS
becomes a group message; the officer takes it and marks it done; the citizen, asked by SMS, says
"belum"; the group hears it in the thread and the citizen is told it was reopened. Every SMS back
appears in gammu-smsd's ``sentitems``, once."""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import pytest
from fakes.gammu import GammuSmsd, gammu_missing
from fakes.telegram_api import FakeTelegram
from test_loop_kit import JALAN, OFFICER, Kit, tg_fixture  # noqa: F401

pytestmark = [pytest.mark.gammu, pytest.mark.skipif(bool(gammu_missing()), reason=gammu_missing() or "ok")]

NUMBER = "+6281234567001"


def sent_sms(smsd: GammuSmsd) -> list[tuple[str, str, str]]:
    """``(number, whole text, CreatorID)`` of each SMS gammu-smsd sent (its parts joined)."""
    parts: dict[int, list[tuple[int, str, str, str]]] = defaultdict(list)
    for row in smsd.sentitems():
        parts[row["ID"]].append((row["SequencePosition"], row["DestinationNumber"], row["TextDecoded"],
                                 row["CreatorID"]))
    out = []
    for _, rows in sorted(parts.items()):
        rows.sort()
        out.append((rows[0][1], "".join(r[2] for r in rows), rows[0][3]))
    return out


def deliver(smsd: GammuSmsd, number: str, text: str) -> None:
    """The dummy phone receives ``text``; returns once every part is in the inbox."""
    before = len(smsd.inbox())
    smsd.wait_inbox(before + smsd.deliver(number, text).total)


def wait_sent(smsd: GammuSmsd, n: int, timeout: float = 30.0) -> list[tuple[str, str, str]]:
    """Wait until gammu-smsd has sent ``n`` whole SMS (its outbox empty of them)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        smsd.assert_running()
        if len(sent_sms(smsd)) >= n and not smsd.outbox():
            return sent_sms(smsd)
        time.sleep(0.1)
    smsd.fail(f"waited {timeout} s for {n} sent SMS; have {sent_sms(smsd)!r}")
    return []


async def test_sms_to_done_to_belum_through_gammu(tmp_path: Path, tg: FakeTelegram) -> None:
    with GammuSmsd(tmp_path) as smsd:
        kit = Kit(tmp_path, tg, smsd_db=smsd.db_path)
        deliver(smsd, NUMBER, "Jalan desa Ngumpakdalem rusak parah 😡 motor sering jatuh. Nama saya Siti Aminah")
        await kit.once()
        row = kit.complaint()
        code, cid = row["tracking_code"], row["id"]
        (ack,) = wait_sent(smsd, 1)
        assert ack[0] == NUMBER and code in ack[1]

        first = kit.first_message(JALAN, code)
        tg.push_callback_query(JALAN, first.message_id, f"a:terima:{cid}", user=OFFICER)
        await kit.once()
        tg.push_reply(JALAN, first.message_id, "/selesai Jalan sudah ditambal sepanjang 200 m oleh tim UPT "
                      "Dander; mohon dicek kembali", user=OFFICER)
        await kit.once()
        done_check = wait_sent(smsd, 2)[-1]
        assert done_check[0] == NUMBER and "200 m" in done_check[1] and "SUDAH atau BELUM" in done_check[1]

        deliver(smsd, NUMBER, "Belum pak, yang di dekat masjid masih berlubang")
        await kit.once()
        sent = wait_sent(smsd, 3)
        assert sent[-1][0] == NUMBER and "buka kembali" in sent[-1][1]

        deliver(smsd, "+6285700000003", f"CEK {code}")
        await kit.once()
        sent = wait_sent(smsd, 4)
        assert sent[-1][0] == "+6285700000003" and "dibuka kembali" in sent[-1][1]
        assert {r["Processed"] for r in smsd.inbox()} == {"true"}

    assert len(kit.rows("select id from complaints")) == 1
    assert kit.complaint(code)["status"] == "dibuka_kembali"
    assert kit.events(cid)[-2:] == ["reopened", "status_query"]
    thread = [m for m in tg.messages(JALAN) if m.reply_to_message_id == first.message_id]
    assert any("BELUM" in m.visible and "masjid" in m.visible for m in thread)
    assert "dibuka kembali" in tg.edits(JALAN)[-1].visible
    # each SMS went out once, each from its own followup row
    creators = [s[2] for s in sent]
    assert len(creators) == len(set(creators)) == 4
    kit.check_privacy("Siti Aminah", "81234567001")
