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
