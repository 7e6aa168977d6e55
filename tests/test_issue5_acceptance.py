"""Acceptance test of issue 5: officers act from the chat, citizens hear back, response times are
measured. Everything real but the platforms: the REAL gammu-smsd (dummy phone, SQLite) carries
the SMS both ways, the loopback fake Bot API stands in for Telegram, and the report is the CLI's.

An SMS becomes a group message with buttons; a stranger's action is refused; the officer takes
it (Terima), presses Selesai and answers the ForceReply prompt with the note; the citizen, asked
by SMS, says "belum"; the group hears it in the complaint's thread, with the new round's
deadlines, and the message shows it reopened; the officer asks a question, the citizen's answer
comes back in the same thread. Then ``forwarder report`` on that same database gives the group's
figures (2 working hours to acknowledge, 24 to done, reopen rate 100 %; the reopened round apart)
and a PNG, and no message or edit that reached the fake holds the reporter's number, NIK or name.
Time is the test's clock (Context), and the SMS carry its timestamps, so every figure is fixed.
"""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fakes.gammu import GammuSmsd, gammu_missing
from fakes.telegram_api import FakeTelegram, assert_no_personal_data
from test_loop_gammu import wait_sent
from test_loop_kit import JALAN, OFFICER, PUPUK, Kit, tg_fixture  # noqa: F401

from forwarder.actions import REFUSED
from forwarder.cli import main

pytestmark = [pytest.mark.gammu, pytest.mark.skipif(bool(gammu_missing()), reason=gammu_missing() or "ok")]

NUMBER = "+6281234567001"
NAME = "Siti Aminah"
NIK = "3522011203870004"
COMPLAINT = (f"Jalan rusak parah di depan pasar, motor sering jatuh. Nama saya {NAME}, NIK {NIK}, "
             "hp 081234567001")
STRANGER = {"id": 5550009, "is_bot": False, "first_name": "Orang", "username": "orang_lain"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def deliver(smsd: GammuSmsd, kit: Kit, text: str) -> None:
    """The dummy phone receives ``text`` from the reporter, stamped with the test's clock."""
    before = len(smsd.inbox())
    smsd.wait_inbox(before + smsd.deliver(NUMBER, text, when=kit.clock()).total)


def thread(tg: FakeTelegram, first_id: int) -> list[str]:
    return [m.visible for m in tg.messages(JALAN) if m.reply_to_message_id == first_id]


def everything_the_groups_got(tg: FakeTelegram) -> list[str]:
    """Every text sent or edited through the fake (refused requests too), raw and as shown, and
    every answer to a button press."""
    texts = [str(c.params.get("text", "")) for c in tg.calls() if c.method in ("sendmessage", "editmessagetext")]
    texts += [m.visible for m in tg.messages()] + [e.visible for e in tg.edits()]
    texts += [str(a.get("text") or "") for a in tg.callback_answers()]
    return texts


async def test_sms_to_done_to_belum_and_back_then_the_report(tmp_path: Path, tg: FakeTelegram) -> None:
    with GammuSmsd(tmp_path) as smsd:
        kit = Kit(tmp_path, tg, smsd_db=smsd.db_path)  # Monday 30 Nov 2026, 09:00 WIB
        deliver(smsd, kit, COMPLAINT)
        await kit.once()
        row = kit.complaint()
        code, cid = row["tracking_code"], row["id"]
        first = kit.first_message(JALAN, code)
        assert first.reply_markup["inline_keyboard"]  # Terima, Proses, Selesai, Bukan kami
        assert "depan pasar" in first.visible and NAME not in first.visible
        (ack,) = wait_sent(smsd, 1)
        assert ack[0] == NUMBER and code in ack[1]

        # 11:00: a stranger in another group may not act; the officer in the group takes it
        kit.clock.advance(hours=2)
        tg.push_message(PUPUK, f"/terima {code}", user=STRANGER)
        tg.push_callback_query(JALAN, first.message_id, f"a:terima:{cid}", user=OFFICER)
        await kit.once()
        assert tg.visible_texts(PUPUK) == [REFUSED]
        assert kit.complaint(code)["status"] == "diterima"
        assert "diterima oleh Andi" in tg.edits(JALAN)[-1].visible

        # Tuesday 09:00: Selesai -> a ForceReply prompt -> the officer's note as the answer
        kit.clock.advance(hours=22)
        tg.push_callback_query(JALAN, first.message_id, f"a:selesai:{cid}", user=OFFICER)
        await kit.once()
        prompt = tg.messages(JALAN)[-1]
        assert prompt.reply_markup == {"force_reply": True, "selective": True,
                                       "input_field_placeholder": "Catatan penyelesaian"}
        assert prompt.reply_to_message_id == first.message_id and prompt.visible.startswith("Andi, ")
        tg.push_reply(JALAN, prompt.message_id, "Lubang sudah ditambal aspal oleh UPT jalan", user=OFFICER)
        await kit.once()
        assert kit.complaint(code)["status"] == "selesai"
        assert "selesai oleh Andi" in tg.edits(JALAN)[-1].visible
        done_check = wait_sent(smsd, 2)[-1]
        assert done_check[0] == NUMBER and "ditambal aspal" in done_check[1] and "BELUM" in done_check[1]

        # 12:00: the citizen says "belum": reopened, told to the group in the thread and by SMS
        kit.clock.advance(hours=3)
        deliver(smsd, kit, "Belum pak, lubang di dekat masjid masih ada")
        await kit.once()
        assert kit.complaint(code)["status"] == "dibuka_kembali"
        assert any("BELUM" in t and "dekat masjid" in t for t in thread(tg, first.message_id))
        # a new round: its deadlines count from now (3 working days: Friday; 5: next Tuesday)
        assert any("ditanggapi paling lambat 4 Des 2026 12:00 WIB, selesai paling lambat 8 Des 2026 12:00 WIB"
                   in t for t in thread(tg, first.message_id))
        assert "dibuka kembali" in tg.edits(JALAN)[-1].visible
        reopened = wait_sent(smsd, 3)[-1]
        assert reopened[0] == NUMBER and "buka kembali" in reopened[1]

        # 13:00: the officer asks; the citizen's answer comes back in the same thread
        kit.clock.advance(hours=1)
        tg.push_reply(JALAN, first.message_id, "/tanya Masjid yang mana, Pak/Bu?", user=OFFICER)
        await kit.once()
        question = wait_sent(smsd, 4)[-1]
        assert question[0] == NUMBER and "Masjid yang mana" in question[1] and "Andi" not in question[1]
        deliver(smsd, kit, "Masjid Al Ikhlas RT 03. Nama saya Siti Aminah, telepon 081234567001")
        await kit.once()
        answer = thread(tg, first.message_id)[-1]
        assert "balasan pelapor" in answer and "Al Ikhlas" in answer
        assert len(kit.rows("select id from complaints")) == 1  # none of the citizen's SMS became one
        assert {r["Processed"] for r in smsd.inbox()} == {"true"}

    # the report, through the CLI, on that same database, judged at the test's "now"
    config = tmp_path / "groups.yaml"
    config.write_text(yaml.safe_dump(kit.data, allow_unicode=True), encoding="utf-8")
    png, table = tmp_path / "r.png", tmp_path / "r.csv"
    as_of = kit.clock().isoformat()
    assert datetime.fromisoformat(as_of).utcoffset() is not None
    result = CliRunner().invoke(main, ["report", "--config", str(config), "--since", "30d", "--by", "group",
                                       "--as-of", as_of, "--out", str(png), "--csv", str(table)])
    assert result.exit_code == 0, result.output
    line = next(ln for ln in result.output.splitlines() if "pu-jalan" in ln)
    assert "2.0" in line and "24.0" in line and "100%" in line
    assert "not measured: nothing" in result.output
    rows = {r["group"]: r for r in csv.DictReader(table.open(encoding="utf-8"))}
    got = {k: rows["pu-jalan"][k] for k in ("assigned", "acknowledged", "ack_median_h", "done", "done_median_h",
                                             "ack_within_pct", "done_within_pct", "reopened_pct", "open")}
    assert got == {"assigned": "1", "acknowledged": "1", "ack_median_h": "2.0", "done": "1",
                   "done_median_h": "24.0", "ack_within_pct": "100.0", "done_within_pct": "100.0",
                   "reopened_pct": "100.0", "open": "0"}
    # the round after the reopening is counted apart: open, not acknowledged yet (a question is not)
    assert (rows["pu-jalan"]["reopen_rounds"], rows["pu-jalan"]["reopen_open"]) == ("1", "1")
    assert "Reopened complaints" in result.output
    assert png.read_bytes().startswith(PNG_MAGIC)

    # privacy: nothing any group (or officer) was shown names the reporter
    shown = everything_the_groups_got(tg)
    assert len(shown) > 20
    for text in shown:
        assert_no_personal_data(text)
        for secret in (NAME, "Aminah", NIK, "81234567001", "+62 812", NUMBER):
            assert secret not in text, f"{secret!r} reached a group: {text!r}"
