"""Findings of an adversarial test of the officer/citizen loop (issue 5), each pinned down: a new
complaint is never swallowed as a reply, confidential complaints stay in confidential groups,
groups that let a complaint go cannot move it, triage has no "Bukan kami", closed complaints do
not post citizen replies, CEK never eats a text, bad officer input gets short answers. All
through the fake Bot API and the Gammu-format inbox/outbox, one ``run --once`` at a time."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fakes.telegram_api import FakeTelegram
from test_loop_kit import JALAN, JALAN_DANDER, OFFICER, PUPUK, RAHASIA, TRIASE, Kit, tg_fixture  # noqa: F401

from forwarder.citizen_inbound import verdict
from forwarder.cli import main as cli
from forwarder.sources.gammu_schema import add_inbox_sms

OFFICER2 = {"id": 5550002, "is_bot": False, "first_name": "Budi"}
REPORTER = "+6281234567001"


def sms(kit: Kit, text: str, number: str = "081234567001") -> None:
    add_inbox_sms(kit.smsd_db, number, text, kit.clock(), timezone="UTC")


def to_reporter(kit: Kit, number: str = REPORTER) -> list[str]:
    return [r["TextDecoded"] for r in kit.outbox_sms() if r["DestinationNumber"] == number]


def thread(tg: FakeTelegram, chat: str, first_id: int) -> list[str]:
    return [m.visible for m in tg.messages(chat) if m.reply_to_message_id == first_id]


async def loose_once(kit: Kit) -> None:
    """One ``run --once`` that may leave rows open (a group failing on purpose)."""
    await kit.pipeline().run_once(max_wait_secs=3)


def test_belum_and_sudah_words() -> None:
    assert verdict("Belum pak, lubangnya masih ada") == "reopen"
    assert verdict("masih belum pak") == "reopen"  # short, a "belum" word anywhere
    assert verdict("sudah, terima kasih") == "confirm"
    assert verdict("saya sudah lapor dua kali") is None  # closing needs the first word
    assert verdict("masih " + "kata " * 12 + "belum") is None  # long: only the first word counts
    assert verdict("🙏") is None


async def test_a_new_complaint_is_not_swallowed_by_an_open_question_or_done_check(tmp_path: Path,
                                                                                  tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Jalan rusak parah di desa Sukorejo")
    await kit.once()
    road = kit.complaint()
    first = kit.first_message(JALAN, road["tracking_code"])
    tg.push_reply(JALAN, first.message_id, "/tanya Sebelah mana, Pak?", user=OFFICER)
    await kit.once()
    kit.clock.advance(days=1)
    # a confidential complaint on another topic, while the road question is open
    sms(kit, "RAHASIA: pupuk subsidi ditimbun kepala desa di gudangnya, tolong jangan sebut saya")
    await kit.once()
    secret = kit.complaint()
    assert secret["id"] != road["id"] and secret["topic"] == "pupuk"
    assert any(secret["tracking_code"] in m.visible for m in tg.messages(RAHASIA))
    assert not any("ditimbun" in t for t in thread(tg, JALAN, first.message_id))
    assert secret["tracking_code"] in to_reporter(kit)[-1]  # acknowledged with its own code
    # the question is still open: a plain answer is still the reply
    sms(kit, "Depan SDN 2 pak")
    await kit.once()
    assert "Depan SDN 2" in thread(tg, JALAN, first.message_id)[-1]

    tg.push_reply(JALAN, first.message_id, "/selesai Sudah ditambal", user=OFFICER)
    await kit.once()
    kit.clock.advance(days=2)
    # starts with "Belum" but is about pupuk: a new complaint, the road stays done
    sms(kit, "Belum ada pupuk urea di kios desa Sukorejo, pemilik kios menimbun")
    # quotes the road code, about pupuk: a new complaint as well
    sms(kit, f"{road['tracking_code']} pupuk juga langka di sini pak")
    # RAHASIA with belum: never a reopen
    sms(kit, "belum pak, RAHASIA, kepala desa minta uang")
    await kit.once()
    assert kit.complaint(road["tracking_code"])["status"] == "selesai"
    texts = [r["text"] for r in kit.rows("select text from complaints order by id")][2:]
    assert [t[:12] for t in texts] == ["Belum ada pu", f"{road['tracking_code']} pupuk", "belum pak, R"]
    assert kit.rows("select count(*) n from citizen_inbound where kind = 'reopen'")[0]["n"] == 0
    # a short "belum" with the code first still reopens
    sms(kit, f"{road['tracking_code']} masih belum pak")
    await kit.once()
    assert kit.complaint(road["tracking_code"])["status"] == "dibuka_kembali"
    assert "masih belum" in thread(tg, JALAN, first.message_id)[-1]


async def test_flagged_confidential_drops_queued_posts_for_ordinary_groups(tmp_path: Path,
                                                                          tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Pupuk subsidi ditimbun di gudang kepala desa Kapas")
    await kit.once()
    row = kit.complaint()
    code = row["tracking_code"]
    first = kit.first_message(PUPUK, code)
    tg.push_reply(PUPUK, first.message_id, "/tanya Gudang siapa?", user=OFFICER)
    await kit.once()
    tg.fail(PUPUK, code=500, times=50)  # the group cannot be reached for a while
    sms(kit, "Gudang milik Pak Kades Harjo, saya takut diancam")
    await loose_once(kit)
    (queued,) = kit.rows("select * from followups where kind = 'citizen_reply'")
    assert queued["state"] == "pending" and queued["group_name"] == "pertanian-pupuk"

    path = tmp_path / "forwarder.yaml"
    path.write_text(yaml.safe_dump(kit.data, allow_unicode=True), encoding="utf-8")
    result = CliRunner().invoke(cli, ["flag", code, "--confidential", "--admin", "Pak Joko", "--config", str(path)])
    assert result.exit_code == 0, result.output
    (dropped,) = kit.rows("select * from followups where kind = 'citizen_reply'")
    assert dropped["state"] == "dead" and "confidential" in dropped["last_error"]

    tg.fail(PUPUK, code=500, times=0)
    await kit.once()
    assert not any("Kades Harjo" in m.visible for m in tg.messages(PUPUK))
    assert "dirahasiakan" in tg.edits(PUPUK)[-1].visible  # the old message holds the text back
    # from now on the citizen's answers go to the confidential group only
    secret_first = kit.first_message(RAHASIA, code)
    tg.push_reply(RAHASIA, secret_first.message_id, "/tanya Sejak kapan?", user=OFFICER2)
    await kit.once()
    sms(kit, "Sejak bulan lalu pak, tolong dirahasiakan")  # RAHASIA answering a confidential one
    await kit.once()
    assert len(kit.rows("select id from complaints")) == 1
    assert "Sejak bulan lalu" in thread(tg, RAHASIA, secret_first.message_id)[-1]
    assert not any("Sejak bulan lalu" in m.visible for m in tg.messages(PUPUK))
    assert [r["state"] for r in kit.rows("select state from followups where kind = 'citizen_reply' "
                                         "order by id")] == ["dead", "sent"]


async def test_only_the_holders_triage_or_listed_officers_reroute(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg, officers=(5550003,))
    sms(kit, "Pupuk dan akses sawah di Kapas putus")
    await kit.once()
    row = kit.complaint()
    code, cid = row["tracking_code"], row["id"]
    in_pupuk = kit.first_message(PUPUK, code)
    tg.push_reply(PUPUK, in_pupuk.message_id, "/alihkan jalan", user=OFFICER)
    await kit.once()
    tg.push_callback_query(JALAN, kit.first_message(JALAN, code).message_id, f"a:proses:{cid}", user=OFFICER2)
    await kit.once()
    # the group that gave it away cannot move it again
    tg.push_reply(PUPUK, in_pupuk.message_id, "/alihkan hama", user=OFFICER)
    await kit.once()
    assert "sudah melepas" in tg.messages(PUPUK)[-1].visible
    assert (kit.complaint(code)["topic"], kit.complaint(code)["status"]) == ("jalan", "diproses")
    assert tg.messages(TRIASE) == []
    # a listed officer may, from there
    tg.push_reply(PUPUK, in_pupuk.message_id, "/alihkan hama", user={**OFFICER2, "id": 5550003})
    await kit.once()
    assert kit.complaint(code)["topic"] == "hama" and tg.messages(TRIASE)


async def test_reroute_names_the_officer_and_triage_has_no_not_ours(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Jalan desa Ngumpakdalem rusak parah")  # Dander: both road groups get it
    await kit.once()
    code = kit.complaint()["tracking_code"]
    tg.push_reply(JALAN, kit.first_message(JALAN, code).message_id, "/alihkan hama", user=OFFICER)
    await kit.once()
    assert "Status: dialihkan ke triase oleh Andi" in tg.edits(JALAN_DANDER)[-1].visible

    sms(kit, "Tolong dibantu pak, masalah di desa", number="085700000002")
    await kit.once()
    row = kit.complaint()
    in_triage = kit.first_message(TRIASE, row["tracking_code"])
    labels = [b["text"] for r in in_triage.reply_markup["inline_keyboard"] for b in r]
    assert labels == ["Terima", "Proses", "Selesai"]
    # a "Bukan kami" pressed on an older message, or typed: refused, nothing changes
    tg.push_callback_query(TRIASE, in_triage.message_id, f"a:bukan:{row['id']}", user=OFFICER)
    tg.push_reply(TRIASE, in_triage.message_id, "/bukan", user=OFFICER)
    await kit.once()
    assert "ada di triase: gunakan /alihkan" in tg.callback_answers()[-1]["text"]
    assert "ada di triase" in tg.messages(TRIASE)[-1].visible
    assert kit.complaint(row["tracking_code"])["status"] == "baru"
    assert "not_ours" not in kit.events(row["id"])
    tg.push_reply(TRIASE, in_triage.message_id, "/alihkan jalan", user=OFFICER)
    await kit.once()
    assert kit.complaint(row["tracking_code"])["topic"] == "jalan"


async def test_closed_complaints_do_not_post_citizen_replies(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Jalan rusak di Kapas")
    await kit.once()
    spam = kit.complaint()
    code = spam["tracking_code"]
    first = kit.first_message(JALAN, code)
    tg.push_reply(JALAN, first.message_id, "/spam", user=OFFICER)
    await kit.once()
    kit.clock.advance(days=60)
    seen = len(tg.messages(JALAN))
    for i in range(3):
        sms(kit, f"{code} kenapa dianggap spam?? balas!!! {i} " + "!" * 1500)
    await kit.once()
    assert len(tg.messages(JALAN)) == seen and len(kit.rows("select id from complaints")) == 1
    assert [r["kind"] for r in kit.rows("select kind from citizen_inbound")] == ["closed"] * 3
    assert to_reporter(kit)[1:] == [f"Status pengaduan {code}: ditutup."]  # once a day, not three times
    tg.push_reply(JALAN, first.message_id, "/tanya Masih ada?", user=OFFICER)
    tg.push_reply(JALAN, first.message_id, "/jawab Kami tutup", user=OFFICER)
    await kit.once()
    assert all("sudah ditutup (spam)" in t for t in tg.visible_texts(JALAN)[-2:])
    assert len(to_reporter(kit)) == 2

    # tuntas: a reply within the window is posted, after it is stored and answered
    sms(kit, "Jalan rusak di Baureno", number="085700000002")
    await kit.once()
    solved = kit.complaint()
    msg = kit.first_message(JALAN, solved["tracking_code"])
    tg.push_reply(JALAN, msg.message_id, "/selesai Sudah ditambal", user=OFFICER)
    await kit.once()
    sms(kit, "sudah", number="085700000002")
    await kit.once()
    sms(kit, f"{solved['tracking_code']} terima kasih pak", number="085700000002")
    await kit.once()
    assert "terima kasih pak" in thread(tg, JALAN, msg.message_id)[-1]
    kit.clock.advance(days=20)
    sms(kit, f"{solved['tracking_code']} terima kasih lagi", number="085700000002")
    await kit.once()
    assert "terima kasih lagi" not in thread(tg, JALAN, msg.message_id)[-1]
    assert to_reporter(kit, "+6285700000002")[-1] == f"Status pengaduan {solved['tracking_code']}: selesai."

    # an open complaint idle past the window: quoting its code makes a new complaint
    sms(kit, "Jalan rusak di Dander", number="085700000003")
    await kit.once()
    idle = kit.complaint()
    kit.clock.advance(days=20)
    sms(kit, f"{idle['tracking_code']} sudah tiga minggu belum ada tindakan", number="085700000003")
    await kit.once()
    assert kit.complaint()["text"].startswith(idle["tracking_code"])
    assert kit.complaint(idle["tracking_code"])["status"] == "baru"


async def test_cek_never_drops_a_text(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Jalan rusak di Kapas")
    await kit.once()
    row = kit.complaint()
    code = row["tracking_code"]
    first = kit.first_message(JALAN, code)
    stranger = "+6285700000009"
    sms(kit, "cek banjir di desa Sukorejo, sawah terendam semua", number=stranger)
    sms(kit, f"CEK {code} " + "x" * 3000, number=stranger)
    await kit.once()
    texts = [r["text"] for r in kit.rows("select text from complaints order by id")]
    assert texts[1].startswith("cek banjir") and texts[2].startswith(f"CEK {code} xxx")
    assert not any("tidak ditemukan" in t for t in to_reporter(kit, stranger))
    # the reporter: the status AND the rest in the thread
    sms(kit, f"CEK {code} lubangnya sekarang makin lebar dan sudah ada motor yang jatuh kemarin sore")
    await kit.once()
    assert to_reporter(kit)[-1] == f"Status pengaduan {code}: diterima, menunggu petugas."
    assert "makin lebar" in thread(tg, JALAN, first.message_id)[-1]
    assert "CEK" not in thread(tg, JALAN, first.message_id)[-1]
    assert len(kit.rows("select id from complaints")) == 3
    # still a status question
    sms(kit, f"cek {code.lower()} ya pak", number=stranger)
    await kit.once()
    assert to_reporter(kit, stranger)[-1] == f"Status pengaduan {code}: diterima, menunggu petugas."


async def test_no_duplicate_across_the_confidential_boundary(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "RAHASIA pupuk ditimbun oknum di Kapas", number="081234567005")
    await kit.once()
    secret = kit.complaint()
    sms(kit, "Pupuk langka di Kapas", number="081234567006")
    await kit.once()
    public = kit.complaint()
    tg.push_reply(RAHASIA, kit.first_message(RAHASIA, secret["tracking_code"]).message_id,
                  f"/duplikat {public['tracking_code']}", user=OFFICER)
    tg.push_reply(PUPUK, kit.first_message(PUPUK, public["tracking_code"]).message_id,
                  f"/duplikat {secret['tracking_code']}", user=OFFICER2)
    await kit.once()
    assert "hanya digabung dengan pengaduan rahasia" in tg.messages(RAHASIA)[-1].visible
    refused = tg.messages(PUPUK)[-1].visible
    assert refused == f"Pengaduan {public['tracking_code']} tidak bisa digabung dengan {secret['tracking_code']}."
    assert {kit.complaint(c)["status"] for c in (secret["tracking_code"], public["tracking_code"])} == {"baru"}
    assert len(kit.outbox_sms()) == 2  # the two acknowledgments, no "merged"


async def test_long_and_forged_officer_input_gets_a_short_answer(tmp_path: Path, tg: FakeTelegram,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Jalan rusak di Kapas")
    await kit.once()
    row = kit.complaint()
    first = kit.first_message(JALAN, row["tracking_code"])
    tg.push_reply(JALAN, first.message_id, "/topik " + "a" * 4080, user=OFFICER)
    tg.push_reply(JALAN, first.message_id, "/alihkan jalan " + "Kapas" * 800, user=OFFICER)
    tg.push_reply(JALAN, first.message_id, "/duplikat " + "7" * 4000, user=OFFICER)
    for data in ("a:terima:" + "9" * 5000, f"a:terima:{row['id']}\n", "a:terima:\u0661"):
        tg.push_callback_query(JALAN, first.message_id, data, user=OFFICER)
    with caplog.at_level(logging.WARNING):
        await kit.once()
    replies = tg.visible_texts(JALAN)[-3:]
    assert all(len(t) < 400 for t in replies), [len(t) for t in replies]
    assert "tidak dikenal" in replies[0] and "tidak dikenal" in replies[1] and "tidak ditemukan" in replies[2]
    assert [a["text"] for a in tg.callback_answers()] == ["Tombol tidak dikenal."] * 3
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]
    assert kit.complaint(row["tracking_code"])["status"] == "baru"


async def test_with_the_shipped_model_answers_stay_answers(tmp_path: Path, tg: FakeTelegram) -> None:
    """The daemon's own model (models/default) reads short answers with a stray topic at 0.5-0.75:
    they must still be answers; a real complaint on another topic is still new."""
    from forwarder.classify.model import load_model
    from forwarder.context import Context
    from forwarder.pipeline import Pipeline

    path = Path(__file__).resolve().parents[1] / "models" / "default"
    if not (path / "card.json").exists():
        pytest.skip("models/default is absent")
    model = load_model(str(path))
    kit = Kit(tmp_path, tg)

    async def once() -> None:
        _, drained = await Pipeline.build(kit.settings, context=Context(clock=kit.clock),
                                          model=model).run_once(max_wait_secs=10)
        assert drained.complete

    sms(kit, "Jalan desa rusak berlubang parah di Sukorejo, banyak motor jatuh")
    await once()
    road = kit.complaint()
    assert road["topic"] == "jalan"
    first = kit.first_message(JALAN, road["tracking_code"])
    for answer in ("Iya pak benar, tiap hujan tergenang", "Mohon segera pak, anak sekolah lewat situ"):
        tg.push_reply(JALAN, first.message_id, "/tanya Bagaimana kondisinya?", user=OFFICER)
        await once()
        sms(kit, answer)
        await once()
        assert answer in thread(tg, JALAN, first.message_id)[-1]
    tg.push_reply(JALAN, first.message_id, "/selesai Sudah ditambal", user=OFFICER)
    await once()
    sms(kit, "Belum pak, lubangnya masih ada di depan balai desa")
    await once()
    assert kit.complaint(road["tracking_code"])["status"] == "dibuka_kembali"
    tg.push_reply(JALAN, first.message_id, "/selesai Sudah diaspal", user=OFFICER)
    await once()
    sms(kit, "Belum ada pupuk urea di kios desa Sukorejo, pemilik kios menimbun")
    await once()
    assert kit.complaint(road["tracking_code"])["status"] == "selesai"
    assert kit.complaint()["text"].startswith("Belum ada pupuk")
