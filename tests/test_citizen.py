"""Messages to citizens: templates, lengths, who can be reached, the reply window, odd texts, and
crash safety of the SMS queue (Gammu's outbox looked up by CreatorID)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from fakes.telegram_api import FakeTelegram
from test_loop_kit import JALAN, OFFICER, Kit, tg_fixture  # noqa: F401

from forwarder import followups
from forwarder.citizen import TEMPLATES, fit_field, render, too_long
from forwarder.citizen_inbound import CEK, first_word, normalise_code
from forwarder.config import parse_config
from forwarder.errors import ConfigError
from forwarder.sms import split_sms
from forwarder.sources.gammu_schema import add_inbox_sms
from forwarder.store import NewComplaint, Store
from forwarder.types import IncomingComplaint, Tag


def sms(kit: Kit, text: str, number: str = "081234567001") -> None:
    add_inbox_sms(kit.smsd_db, number, text, kit.clock(), timezone="UTC")


def test_templates_are_checked_at_load(tmp_path: Path, tg: FakeTelegram) -> None:
    data = Kit(tmp_path, tg).data
    for templates, expected in [({"akc": "x"}, "unknown template 'akc'"),
                                ({"ack": "Kode {kode}"}, "uses kode"),
                                ({"ack": "Kode {code"}, "template 'ack'")]:
        with pytest.raises(ConfigError) as err:
            parse_config({**data, "citizen": {"templates": templates}}, env={})
        assert any(p.path.startswith("citizen.templates") and expected in p.message for p in err.value.problems), \
            err.value.problems
    settings = parse_config({**data, "citizen": {"templates": {"ack": "LAPOR Bojonegoro, kode {code}"}}}, env={})
    assert render(settings, "ack", code="7K3Q9M") == "LAPOR Bojonegoro, kode 7K3Q9M"


def test_default_templates_fit_one_gsm7_sms_with_a_code() -> None:
    for key, (text, fields) in TEMPLATES.items():
        filled = text.format(**{f: "7K3Q9M" if f == "code" else "x" for f in fields})
        assert len(split_sms(filled)) <= 1 + ("{text}" in text or "{note}" in text), key


def test_long_texts_are_cut_or_refused(tmp_path: Path, tg: FakeTelegram) -> None:
    settings = Kit(tmp_path, tg).settings
    note = "Perbaikan selesai 🙏 " * 40
    cut = fit_field(settings, followups.SMS, "done_check", "note", note, code="7K3Q9M")
    assert cut.endswith("…") and len(cut) < len(note)
    assert len(split_sms(render(settings, "done_check", code="7K3Q9M", note=cut))) <= 3
    assert too_long(settings, followups.SMS, "a" * 459) is None
    assert "4 bagian" in too_long(settings, followups.SMS, "a" * 460)
    assert too_long(settings, followups.X, "b" * 281)


def test_cek_and_words() -> None:
    assert CEK.match("CEK 7K3Q9M").group(1) == "7K3Q9M"
    assert CEK.match("cek status: 7k3q9m ya").group(1) == "7k3q9m"
    assert CEK.match("Cek jalan rusak") is None
    assert normalise_code("7k3qOl") == "7K3Q01"
    assert first_word("...Belum!! masih") == "belum"
    assert first_word("🙏") == ""


async def test_officer_texts_that_cannot_reach_the_citizen_are_refused(tmp_path: Path,
                                                                      tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Jalan rusak di Kalitidu, sudah setahun")
    sms(kit, "PROMO jalan-jalan murah", number="TELKOMSEL")  # a sender name: no one to answer
    await kit.once()
    citizen, promo = kit.rows("select * from complaints order by id")
    assert len(kit.outbox_sms()) == 1  # only the real number was acknowledged
    first = kit.first_message(JALAN, citizen["tracking_code"])
    tg.push_reply(JALAN, first.message_id, "/tanya " + "Mohon kirim detail lokasi. " * 20, user=OFFICER)
    promo_msg = kit.first_message(JALAN, promo["tracking_code"])
    tg.push_reply(JALAN, promo_msg.message_id, "/tanya Siapa ini?", user=OFFICER)
    tg.push_reply(JALAN, first.message_id, "/tanya", user=OFFICER)
    await kit.once()
    answers = [m.visible for m in tg.messages(JALAN)[-3:]]
    assert "terlalu panjang untuk SMS" in answers[0]
    assert "tidak dapat dihubungi" in answers[1]
    assert "Tulis teksnya" in answers[2]
    assert len(kit.outbox_sms()) == 1
    assert "question" not in kit.events(citizen["id"])


async def test_reply_window_and_odd_texts(tmp_path: Path, tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg, citizen={"reply_window_days": 3})
    sms(kit, "Jalan rusak di Sumberrejo")
    await kit.once()
    code = kit.complaint()["tracking_code"]
    first = kit.first_message(JALAN, code)
    tg.push_reply(JALAN, first.message_id, "/tanya Sejak kapan?", user=OFFICER)
    await kit.once()
    # odd answers are stored and posted, never lost, never breaking a message
    sms(kit, "<b>sejak</b> & <script>2 bulan</script> " + "🙏" * 5000)
    await kit.once()
    post = tg.messages(JALAN)[-1]
    assert post.reply_to_message_id == first.message_id and "<script>" in post.visible
    assert post.visible.endswith("(terpotong)")
    (inbound,) = kit.rows("select text from citizen_inbound")
    assert inbound["text"].count("🙏") == 5000  # the whole text is kept
    # a new question, answered after the window: a new complaint
    tg.push_reply(JALAN, first.message_id, "/tanya Lebar lubangnya?", user=OFFICER)
    await kit.once()
    kit.clock.advance(days=4)
    sms(kit, "")
    await kit.once()
    assert len(kit.rows("select id from complaints")) == 2


async def test_acknowledgment_missed_by_a_crash_is_sent_at_the_next_start(tmp_path: Path,
                                                                           tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    store = Store.open(tmp_path / "forwarder.db", clock=kit.clock)
    # stored by a daemon that stopped before it queued the acknowledgment
    store.ingest("sms", [NewComplaint(IncomingComplaint("inbox:99", kit.clock(), "+6281234567009",
                                                        "Pupuk langka", "sms", {"sender_kind": "msisdn"}),
                                      Tag("pupuk", 0.9), None, [])], None)
    store.close()
    await kit.once()
    await kit.once()
    (ack,) = kit.outbox_sms()
    assert ack["DestinationNumber"] == "+6281234567009"


async def test_an_sms_in_flight_at_a_crash_is_neither_lost_nor_doubled(tmp_path: Path,
                                                                     tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)
    sms(kit, "Jalan rusak di Baureno", number="081234567001")
    sms(kit, "Jalan rusak di Kepohbaru", number="081234567002")
    await kit.once()
    assert len(kit.outbox_sms()) == 2
    # crash 1: the SMS reached Gammu's outbox, the row still says 'sending'
    # crash 2: the daemon died before Gammu got the SMS
    gammu = sqlite3.connect(kit.smsd_db)
    with gammu:
        gone = gammu.execute("select CreatorID from outbox order by ID desc limit 1").fetchone()[0]
        gammu.execute("delete from outbox where CreatorID = ?", (gone,))
    gammu.close()
    conn = kit.db()
    with conn:
        conn.execute("update followups set state = 'sending', ref = null")
    conn.close()
    await kit.once()
    creators = sorted(r["CreatorID"] for r in kit.outbox_sms())
    assert len(creators) == len(set(creators)) == 2
    assert {r["state"] for r in kit.rows("select state from followups")} == {"sent"}


async def test_dry_run_prints_messages_to_citizens_instead_of_sending(tmp_path: Path, tg: FakeTelegram,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from test_loop_kit import KeywordModel

    from forwarder.context import Context
    from forwarder.pipeline import Pipeline
    from forwarder.sinks.console import Sink as ConsoleSink

    kit = Kit(tmp_path, tg)
    sms(kit, "Jalan rusak di Ngasem, hubungi 081234567001")
    pipeline = Pipeline.build(kit.settings, context=Context(clock=kit.clock), model=KeywordModel(),
                              sink_override={"tg": ConsoleSink("tg")})
    _, drained = await pipeline.run_once(max_wait_secs=5)
    assert drained.complete
    assert kit.outbox_sms() == [] and tg.messages() == []
    out = capsys.readouterr().out
    assert "ke pelapor lewat SMS" in out and kit.complaint()["tracking_code"] in out
    assert "81234567001" not in out


def test_acknowledge_sources_must_name_configured_sources(tmp_path: Path, tg: FakeTelegram) -> None:
    import yaml
    from click.testing import CliRunner

    from forwarder.checks import cross_check
    from forwarder.cli import main

    data = Kit(tmp_path, tg).data
    data["sources"]["x"] = {"type": "twitter", "bearer_token": "AAAA-bearer"}  # reads only: cannot reply
    data["citizen"] = {"acknowledge_sources": ["sms", "smss", "x"]}
    problems, warnings = cross_check(parse_config(data, env={}), load_model=False)
    assert [(p.path, p.message) for p in problems] == [("citizen.acknowledge_sources[1]", "no source named 'smss'")]
    assert "sms, x" in problems[0].hint
    assert any(w.startswith("citizen.acknowledge_sources[2]") and "no reply keys" in w for w in warnings)

    path = tmp_path / "groups.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(main, ["check-config", "--no-model", "--config", str(path)])
    assert result.exit_code == 2 and "citizen.acknowledge_sources[1]: no source named 'smss'" in result.output
    data["citizen"] = {"acknowledge_sources": ["sms"]}
    assert cross_check(parse_config(data, env={}), load_model=False)[0] == []
