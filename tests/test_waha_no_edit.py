"""WhatsApp cannot edit a posted message: what the daemon does instead, against the loopback fake
of WAHA. A complaint flagged confidential is deleted for everyone in the WhatsApp groups that may
not see it (and when WhatsApp refuses, ``forwarder flag`` and the daemon's log say it must be
deleted by hand, and the text is never posted again); a complaint coming back to a WhatsApp group
is announced there in its thread; a webhook from the future is ignored."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from fakes.waha import GROUP, TRIAGE, FakeWAHA
from test_loop_daemon import until
from test_waha_actions import KEY, OFFICER, WHEN, config, daemon, rows, terima

from forwarder.cli import main
from forwarder.sinks.waha_webhooks import key_id
from forwarder.store import utcnow

SECRET = "120363045555555555@g.us"


@pytest.fixture(name="waha")
def waha_fixture() -> Any:
    with FakeWAHA() as fake:
        yield fake


def secret_config(tmp_path: Path, waha: FakeWAHA) -> dict[str, Any]:
    data = config(tmp_path, waha)
    data["groups"].insert(1, {"name": "pupuk-rahasia", "sink": "wa", "chat_id": SECRET, "topics": ["pupuk"],
                              "confidential": True})
    return data


def config_file(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "forwarder.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


async def cli(*args: str) -> Result:
    """A CLI command run beside the daemon (in a thread: the daemon keeps running meanwhile)."""
    return await asyncio.to_thread(CliRunner().invoke, main, list(args), env={"WAHA_WEBHOOK_HMAC_KEY": KEY})


async def test_flag_deletes_the_whatsapp_message_for_everyone(tmp_path: Path, waha: FakeWAHA) -> None:
    data = secret_config(tmp_path, waha)
    async with daemon(tmp_path, waha, data, clock=utcnow) as d:
        code, stored = d.code(), d.forwarded_id()
        result = await cli("flag", code, "--confidential", "--admin", "Pak Joko", "--config",
                           config_file(tmp_path, data))
        assert result.exit_code == 0, result.output
        assert "it goes to: pupuk-rahasia" in result.output
        assert "pertanian-pupuk (WhatsApp): the message was deleted for everyone" in result.output
        assert "hidden by editing" not in result.output
        await until(lambda: waha.visible(SECRET))
        assert "Pupuk urea langka" in waha.visible(SECRET)[0]
    # the WAHA request: the serialized id, in the group's chat
    assert waha.deleted == [(GROUP, stored)] and stored.startswith(f"true_{GROUP}_")
    assert waha.visible(GROUP) == [] and len(waha.texts(GROUP)) == 1  # deleted, never posted again


async def test_a_refused_delete_says_per_group_to_delete_it_by_hand(tmp_path: Path, waha: FakeWAHA,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    data = secret_config(tmp_path, waha)
    caplog.set_level(logging.INFO, logger="forwarder")
    async with daemon(tmp_path, waha, data, clock=utcnow) as d:
        code = d.code()
        waha.refuse_deletes(1)  # WhatsApp's time to delete for everyone is over
        result = await cli("flag", code, "--confidential", "--admin", "Pak Joko", "--config",
                           config_file(tmp_path, data))
        assert result.exit_code == 1, result.output
        assert "pertanian-pupuk (WhatsApp): could NOT be removed" in result.output
        assert f"delete the message of pengaduan {code} by hand in that group" in result.output
        assert "deleted for everyone" not in result.output and "hidden" not in result.output
        await until(lambda: waha.visible(SECRET))
        # asked again later, it still says so (and tries nothing twice)
        again = await cli("flag", code, "--confidential", "--admin", "Pak Joko", "--config",
                          config_file(tmp_path, data))
        assert again.exit_code == 1 and "already confidential" in again.output
        assert "pertanian-pupuk (WhatsApp): could NOT be removed" in again.output
    # the daemon's log names the group and what to do
    (line,) = [r.getMessage() for r in caplog.records if "event=text_not_removed" in r.getMessage()]
    assert "group=pertanian-pupuk" in line and f"by hand in group pertanian-pupuk" in line and code in line
    # the text is still there (WhatsApp refused) and was not posted again anywhere it may not be
    assert len(waha.delete_requests) == 1
    assert waha.visible(GROUP) == waha.texts(GROUP) and len(waha.texts(GROUP)) == 1
    assert waha.texts(TRIAGE) == []


async def test_a_webhook_from_the_future_is_ignored(tmp_path: Path, waha: FakeWAHA) -> None:
    async with daemon(tmp_path, waha, config(tmp_path, waha)) as d:
        quoted = key_id(d.forwarded_id())
        ahead = terima("3EB0F1", quoted)
        ahead["payload"]["timestamp"] = int((WHEN + timedelta(days=1)).timestamp())
        assert (await waha.push(d.url, KEY, ahead)).json() == {"ignored": "from the future"}
        assert d.status() == "baru"
        # a phone's clock a few minutes ahead is still taken
        near = terima("3EB0F2", quoted)
        near["payload"]["timestamp"] = int((WHEN + timedelta(minutes=5)).timestamp())
        assert (await waha.push(d.url, KEY, near)).json() == {"applied": True}
        assert d.status() == "diterima"


def delivered_id(tmp_path: Path, chat: str) -> str:
    (ids,) = rows(tmp_path, "select message_ids from deliveries where chat_id = ?", chat)[0]
    return ids.strip('[]"').split('","')[0]


def notes(waha: FakeWAHA, chat: str, code: str) -> list[tuple[str, str | None]]:
    return [(t, r) for t, r in waha.replies(chat) if t.startswith(f"Pengaduan {code} kembali")]


async def test_a_complaint_coming_back_to_a_whatsapp_group_is_announced_in_its_thread(
        tmp_path: Path, waha: FakeWAHA) -> None:
    async with daemon(tmp_path, waha, config(tmp_path, waha)) as d:
        code, in_group = d.code(), d.forwarded_id()
        # the pupuk group says it is not theirs: it goes to triage as a new message
        await waha.push(d.url, KEY, terima("3EB0G1", key_id(in_group), text="/bukan"))
        await until(lambda: any(f"Pengaduan {code}" in t for t in waha.texts(TRIAGE)))
        in_triage = delivered_id(tmp_path, TRIAGE)
        # triage sends it back to the pupuk group: that group already has its message, which
        # WhatsApp cannot edit, so the news is a reply to that message, once
        await waha.push(d.url, KEY, terima("3EB0G2", key_id(in_triage), chat=TRIAGE, text="/alihkan pupuk"))
        await until(lambda: notes(waha, GROUP, code))
        ((text, reply_to),) = notes(waha, GROUP, code)
        assert text == (f"Pengaduan {code} kembali ke grup ini: dialihkan oleh Pak Budi (dari grup triase). "
                        "Balas pesan ini dengan /terima untuk menanggapinya.")
        assert reply_to == in_group
        # and the group can take it up again from there, by replying to the note
        (note_id,) = [r[0] for r in rows(tmp_path, "select ref from followups where kind = 'back_note'")]
        answer = await waha.push(d.url, KEY, terima("3EB0G3", key_id(note_id)))
        assert answer.json() == {"applied": True} and d.status() == "diterima"
        # the pupuk group gives it away again: triage, which had it before, is told it is back
        await waha.push(d.url, KEY, terima("3EB0G4", key_id(in_group), text="/bukan"))
        await until(lambda: notes(waha, TRIAGE, code))
        ((text, reply_to),) = notes(waha, TRIAGE, code)
        assert text.startswith(f"Pengaduan {code} kembali ke grup ini: bukan kewenangan pertanian-pupuk")
        assert reply_to == in_triage
        await until(lambda: not rows(tmp_path, "select id from followups where state in ('pending', 'sending')"))
    # once each; the triage group got the complaint itself once; the edits stayed skipped
    assert len(notes(waha, GROUP, code)) == 1 and len(notes(waha, TRIAGE, code)) == 1
    assert sum(t.startswith(f"Pengaduan {code}\n") for t in waha.texts(TRIAGE)) == 1
    # the officers' own /bukan got the bot's answer, no "back" note in their own group
    assert not [t for t, _ in waha.replies(GROUP) if "dibuka kembali" in t]


async def test_unmark_is_announced_in_the_whatsapp_groups_thread(tmp_path: Path, waha: FakeWAHA) -> None:
    data = config(tmp_path, waha)
    async with daemon(tmp_path, waha, data, clock=utcnow) as d:
        code, in_group = d.code(), d.forwarded_id()
        spam = terima("3EB0H1", key_id(in_group), text="/spam")
        spam["payload"]["timestamp"] = int(utcnow().timestamp())
        assert (await waha.push(d.url, KEY, spam)).json() == {"applied": True}
        result = await cli("unmark", code, "--reason", "bukan spam, warga asli", "--admin", "Sari",
                           "--config", config_file(tmp_path, data))
        assert result.exit_code == 0, result.output
        expected = (f"Pengaduan {code} dibuka kembali di grup ini: tanda spam dibatalkan oleh admin Sari "
                    "(alasan: bukan spam, warga asli); status: baru.")
        await until(lambda: (expected, in_group) in waha.replies(GROUP))
        again = await cli("unmark", code, "--reason", "lagi", "--admin", "Sari", "--config",
                          config_file(tmp_path, data))
        assert again.exit_code == 1  # not marked any more: nothing queued twice
    assert [t for t, _ in waha.replies(GROUP)].count(expected) == 1 and waha.texts(TRIAGE) == []
