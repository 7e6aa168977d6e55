"""The confidential triage group (``fallback: true`` + ``confidential: true``).

A confidential complaint (RAHASIA, ``forwarder flag``) that no confidential group takes reaches
the confidential triage group and never the ordinary triage group, however it comes to triage:
at intake (another topic, no usable words), when its group's chat is gone, when the confidential
triage group's own chat is gone (it waits), after "Bukan kami", after ``forwarder flag``. An
ordinary complaint never reaches the confidential triage group. SMS arrive through the real
gammu-smsd (or its inbox format), officers act through the fake Bot API, and the daemon's own
``run --once`` (:class:`test_loop_kit.Kit`) does the rest.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fakes.gammu import GammuSmsd, gammu_missing
from fakes.telegram_api import FakeTelegram
from test_loop_kit import CODE, JALAN, OFFICER, PUPUK, RAHASIA, TRIASE, Kit, tg_fixture  # noqa: F401

from forwarder.actions import REFUSED, TRIAGE_NOT_OURS
from forwarder.cli import main
from forwarder.sources.gammu_schema import add_inbox_sms

TRIASE_RAHASIA = "-1001000000098"
SECRET_TRIAGE = {"name": "triase-rahasia", "sink": "tg", "chat_id": TRIASE_RAHASIA, "fallback": True,
                 "confidential": True}


def secret_kit(tmp_path: Path, tg: FakeTelegram, **kw) -> Kit:
    """The loop kit's groups (one confidential group, for pupuk) plus a confidential triage group."""
    return Kit(tmp_path, tg, extra_groups=[SECRET_TRIAGE], **kw)


def sms(kit: Kit, text: str, number: str) -> None:
    add_inbox_sms(kit.smsd_db, number, text, kit.clock(), timezone="UTC")


def codes(tg: FakeTelegram, chat: str) -> set[str]:
    """Tracking codes named in the messages a chat received."""
    return {code for m in tg.messages(chat) for code in CODE.findall(m.visible)}


def code_of(kit: Kit, number: str) -> str:
    (row,) = kit.rows("select tracking_code from complaints where reporter = ?", number)
    return row["tracking_code"]


def config_file(kit: Kit) -> Path:
    path = kit.tmp / "forwarder.yaml"
    path.write_text(yaml.safe_dump(kit.data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.gammu
@pytest.mark.skipif(bool(gammu_missing()), reason=gammu_missing() or "ok")
async def test_rahasia_sms_reaches_only_the_confidential_triage(tmp_path: Path, tg: FakeTelegram) -> None:
    with GammuSmsd(tmp_path) as smsd:
        kit = secret_kit(tmp_path, tg, smsd_db=smsd.db_path)
        texts = {
            "+6281234567001": "RAHASIA jalan desa dirusak truk tambang milik kades",  # no confidential jalan group
            "+6281234567002": "RAHASIA 🙏🙏",  # confidential, no usable words
            "+6281234567003": "🙏🙏🙏",  # ordinary, no usable words
            "+6281234567004": "Jalan berlubang di depan pasar",  # ordinary, its own group
        }
        for number, text in texts.items():
            before = len(smsd.inbox())
            smsd.wait_inbox(before + smsd.deliver(number, text).total)
        await kit.once()
        secret_road, secret_empty, plain_empty, road = (code_of(kit, n) for n in texts)
        assert codes(tg, TRIASE_RAHASIA) == {secret_road, secret_empty}
        assert codes(tg, TRIASE) == {plain_empty}
        assert codes(tg, JALAN) == {road}
        shown = tg.visible_texts(TRIASE_RAHASIA)
        assert any("TRIASE (pengaduan rahasia: tidak ada grup rahasia untuk topik jalan)" in t
                   and "truk tambang" in t for t in shown)

        # the confidential group's chat is gone: its complaint goes to the confidential triage
        tg.kick(RAHASIA)
        smsd.wait_inbox(len(smsd.inbox()) + smsd.deliver("+6281234567005", "RAHASIA pupuk ditimbun oknum").total)
        await kit.once()
        kicked = code_of(kit, "+6281234567005")
        assert kicked in codes(tg, TRIASE_RAHASIA)
        assert kicked not in codes(tg, TRIASE) and kicked not in codes(tg, PUPUK)
        (dead,) = kit.rows("select d.state from deliveries d join complaints c on c.id = d.complaint_id "
                           "where c.tracking_code = ? and d.group_name = 'pupuk-rahasia'", kicked)
        assert dead["state"] == "dead"
        assert kit.rows("select id from deliveries where group_name = 'triase' and complaint_id in "
                        "(select id from complaints where meta like '%confidential%')") == []
        kit.check_privacy("081234567001", "081234567005")


async def test_an_unreachable_confidential_triage_waits_and_never_uses_the_ordinary_one(
        tmp_path: Path, tg: FakeTelegram) -> None:
    kit = secret_kit(tmp_path, tg)
    tg.kick(TRIASE_RAHASIA)
    sms(kit, "RAHASIA jalan desa dirusak truk tambang milik kades", "081234567001")
    polls, drained = await kit.pipeline().run_once(max_wait_secs=1)
    assert all(p.error is None for p in polls)
    assert [d.group_name for d in drained.open] == ["triase-rahasia"]
    assert tg.messages(TRIASE) == [] and tg.messages(TRIASE_RAHASIA) == []

    tg.unkick(TRIASE_RAHASIA)  # the bot is back in the group: the complaint goes out there
    kit.clock.advance(minutes=11)  # past the slow retry of an unreachable triage group
    await kit.once()
    assert codes(tg, TRIASE_RAHASIA) == {code_of(kit, "+6281234567001")}
    assert tg.messages(TRIASE) == []


async def test_not_ours_and_reroutes_keep_a_confidential_complaint_among_confidential_groups(
        tmp_path: Path, tg: FakeTelegram) -> None:
    kit = secret_kit(tmp_path, tg)
    sms(kit, "RAHASIA pupuk subsidi ditimbun oknum di gudang desa", "081234567001")
    sms(kit, "Jalan berlubang di depan pasar", "081234567002")
    await kit.once()
    secret, road = code_of(kit, "+6281234567001"), code_of(kit, "+6281234567002")
    secret_id = kit.complaint(secret)["id"]

    # "Bukan kami" from the confidential group: back to the confidential triage group
    tg.push_callback_query(RAHASIA, kit.first_message(RAHASIA, secret).message_id, f"a:bukan:{secret_id}",
                           user=OFFICER)
    # ... and from an ordinary group: back to the ordinary triage group
    tg.push_callback_query(JALAN, kit.first_message(JALAN, road).message_id,
                           f"a:bukan:{kit.complaint(road)['id']}", user=OFFICER)
    await kit.once()
    assert codes(tg, TRIASE_RAHASIA) == {secret}
    assert codes(tg, TRIASE) == {road}

    # in the confidential triage group: no "bukan kami", and no re-route to an ordinary group
    in_triage = kit.first_message(TRIASE_RAHASIA, secret)
    tg.push_reply(TRIASE_RAHASIA, in_triage.message_id, "/bukan", user=OFFICER)
    tg.push_reply(TRIASE_RAHASIA, in_triage.message_id, "/alihkan jalan", user=OFFICER)
    await kit.once()
    assert [m.visible for m in tg.messages(TRIASE_RAHASIA)][-2:] == [
        TRIAGE_NOT_OURS.format(code=secret),
        "Tidak ada grup rahasia untuk topik jalan: pengaduan rahasia hanya dialihkan ke grup rahasia."]
    assert secret not in codes(tg, JALAN) and kit.complaint(secret)["topic"] == "pupuk"

    # a re-route to a topic with a confidential group reaches that group
    tg.push_reply(TRIASE_RAHASIA, in_triage.message_id, "/alihkan pupuk", user=OFFICER)
    await kit.once()
    assert tg.messages(TRIASE_RAHASIA)[-1].visible == f"Pengaduan {secret} dialihkan ke pupuk-rahasia."
    assert secret not in codes(tg, PUPUK) and secret not in codes(tg, TRIASE)
    kit.check_privacy("081234567001")


async def test_flag_moves_a_triage_complaint_to_the_confidential_triage(tmp_path: Path,
                                                                       tg: FakeTelegram) -> None:
    kit = secret_kit(tmp_path, tg)
    sms(kit, "Tolong pak, uang bantuan desa dipotong oknum perangkat", "081234567001")  # no topic: triage
    await kit.once()
    code = code_of(kit, "+6281234567001")
    assert codes(tg, TRIASE) == {code} and tg.messages(TRIASE_RAHASIA) == []

    result = CliRunner().invoke(main, ["flag", code, "--confidential", "--admin", "Pak Joko",
                                       "--config", str(config_file(kit))])
    assert result.exit_code == 0, result.output
    assert "goes to the confidential triage group: triase-rahasia" in result.output
    await kit.once()
    assert "dipotong oknum" in kit.first_message(TRIASE_RAHASIA, code).visible
    # the ordinary triage group's message holds the text back, and its officers can no longer act
    edit = tg.edits(TRIASE)[-1]
    assert "hanya grup rahasia yang melihatnya" in edit.visible and "dipotong" not in edit.visible
    tg.push_callback_query(TRIASE, kit.first_message(TRIASE, code).message_id,
                           f"a:terima:{kit.complaint(code)['id']}", user=OFFICER)
    await kit.once()
    assert tg.callback_answers()[-1]["text"] == REFUSED
    assert kit.complaint(code)["status"] == "baru"
    # the ordinary triage group's part ended there (forwarder.report charges the new group)
    moves = [json.loads(r["data"]) for r in kit.rows("select data from events where kind = 'rerouted'")]
    assert [(m["from_group"], m["to_group"]) for m in moves] == [("triase", "triase-rahasia")]


async def test_without_a_confidential_triage_group_triage_still_takes_them(tmp_path: Path,
                                                                          tg: FakeTelegram) -> None:
    kit = Kit(tmp_path, tg)  # no confidential triage group: as before, and flag says who sees it
    sms(kit, "RAHASIA jalan desa dirusak truk tambang milik kades", "081234567001")
    sms(kit, "Tolong pak, uang bantuan desa dipotong oknum perangkat", "081234567002")
    await kit.once()
    secret, other = code_of(kit, "+6281234567001"), code_of(kit, "+6281234567002")
    assert codes(tg, TRIASE) == {secret, other}
    assert "truk tambang" in kit.first_message(TRIASE, secret).visible
    result = CliRunner().invoke(main, ["flag", other, "--confidential", "--admin", "Pak Joko",
                                       "--config", str(config_file(kit))])
    assert result.exit_code == 0, result.output
    assert "no confidential triage group is configured: the triage officers see it" in result.output


def test_model_fit_names_the_ordinary_triage_group() -> None:
    from forwarder.classify.compare import fit_problems, group_fit
    from forwarder.config import GroupConfig

    groups = [GroupConfig(name="triase-rahasia", sink="s", chat_id="-8", fallback=True, confidential=True),
              GroupConfig(name="jalan", sink="s", chat_id="-1", topics=["jalan"]),
              GroupConfig(name="triase", sink="s", chat_id="-9", fallback=True)]
    fit = group_fit({"jalan", "hama"}, groups)
    assert (fit.fallback, fit.confidential_fallback, fit.no_group) == ("triase", "triase-rahasia", ("hama",))
    [problem] = fit_problems(fit, "v2", "groups.yaml")
    assert "would go to the fallback group 'triase' (the confidential ones to 'triase-rahasia')" in problem


def test_a_thread_post_no_group_may_read_goes_to_the_confidential_triage(tmp_path: Path) -> None:
    """A confidential complaint held only by the ordinary triage group (it got there before the
    confidential triage group was configured): a citizen's reply goes to the confidential triage
    group, not into the ordinary triage group's thread."""
    from forwarder import casework
    from forwarder.config import GroupConfig
    from forwarder.routing import Triage
    from forwarder.store import Destination, NewComplaint, Store
    from forwarder.types import IncomingComplaint, Tag

    groups = [GroupConfig(name="pupuk-rahasia", sink="tg", chat_id=RAHASIA, topics=["pupuk"], confidential=True),
              GroupConfig(name="triase", sink="tg", chat_id=TRIASE, fallback=True),
              GroupConfig(**SECRET_TRIAGE)]
    store = Store.open(tmp_path / "f.db")
    try:
        when = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
        secret = IncomingComplaint("inbox:1", when, "+6281234567001", "RAHASIA kades minta uang", "sms",
                                   meta={"confidential": True})
        plain = IncomingComplaint("inbox:2", when, "+6281234567002", "lampu jalan mati", "sms")
        to_triage = [Destination("triase", "tg", TRIASE)]
        ids = store.ingest("sms", [NewComplaint(c, Tag(None, 0.0, "v1", ()), None, to_triage)
                                   for c in (secret, plain)], None)
        with casework.transaction(store) as conn:
            for cid in ids:
                casework.queue_thread_post_tx(conn, store, store.now(), cid, "balasan pelapor", "citizen_reply",
                                              f"in:{cid}", Triage.of(groups), groups=groups)
        posted = store.db.execute("select complaint_id, group_name, target from followups order by complaint_id")
        assert [tuple(r) for r in posted.fetchall()] == [(ids[0], "triase-rahasia", TRIASE_RAHASIA),
                                                         (ids[1], "triase", TRIASE)]
    finally:
        store.close()
