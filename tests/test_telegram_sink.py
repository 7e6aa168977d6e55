"""The Telegram sink against the loopback fake Bot API (real PTB, real HTTP on 127.0.0.1)."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
import telegram.error as tg_error
from pydantic import ValidationError

from fakes.telegram_api import FakeTelegram, assert_no_personal_data, fake_telegram  # noqa: F401
from forwarder import errors
from forwarder.context import Context
from forwarder.sinks.telegram import Config, Sink, chat_id_param
from forwarder.sinks.telegram_errors import retry_after_seconds
from forwarder.types import ComplaintView

GROUP = "-1001234567890"
VIEW = ComplaintView(
    complaint_id=1, tracking_code="LPR-0001", text="Pupuk <langka> & mahal di Baureno",
    channel="sms", received_at=datetime(2026, 11, 29, 14, 17, tzinfo=timezone.utc),
    topic="pupuk", confidence=0.91, kecamatan="Baureno", keywords=("pupuk", "langka"))


def make_config(tg: FakeTelegram, **extra) -> Config:
    return Config(type="telegram", token=tg.token, api_base_url=tg.base_url,
                  read_timeout=0.5, connect_timeout=0.5, **extra)


@pytest.fixture
async def sink(fake_telegram):
    s = Sink("tg", make_config(fake_telegram), Context())
    await s.start()
    yield s
    await s.close()


# ------------------------------------------------------------------------------ config

def test_config_defaults_and_pacing():
    cfg = Config(type="telegram", token="123:abc-DEF_9")
    assert cfg.api_base_url == "https://api.telegram.org"
    assert (cfg.per_chat_per_minute, cfg.per_chat_per_second, cfg.overall_per_second) == (20, 1, 30)
    assert "abc-DEF_9" not in repr(cfg)


@pytest.mark.parametrize("raw, message", [
    (dict(token=""), "at least 1 character"),
    (dict(token="not a token"), "does not look like a bot token"),
    (dict(token="123:abc", api_base_url="ftp://x"), "http(s) URL"),
    (dict(token="123:abc", api_base_url="https://api.telegram.org/bot"), "trailing /bot"),
    (dict(token="123:abc", chat="x"), "Extra inputs"),
])
def test_config_errors(raw, message):
    with pytest.raises(ValidationError) as info:
        Config.model_validate({"type": "telegram", **raw})
    assert message in str(info.value)
    details = [e["msg"] for e in info.value.errors()]
    assert all("not a token" not in d for d in details)  # the secret is never echoed


def test_chat_ids():
    assert chat_id_param("-1001234567890") == -1001234567890
    assert chat_id_param(" -42 ") == -42
    assert chat_id_param(77) == 77
    assert chat_id_param("@lapor_bojonegoro") == "@lapor_bojonegoro"
    with pytest.raises(errors.PermanentError, match="not a Telegram chat id"):
        chat_id_param("grup pupuk")


PTB_RETRY_AFTER_INT = pytest.mark.filterwarnings(  # PTB 22 warns when it builds RetryAfter with an int
    "ignore::telegram.warnings.PTBDeprecationWarning")


@PTB_RETRY_AFTER_INT
def test_retry_after_int_or_timedelta():
    assert retry_after_seconds(tg_error.RetryAfter(3)) == 3.0
    assert retry_after_seconds(tg_error.RetryAfter(timedelta(seconds=2.5))) == 2.5


# ------------------------------------------------------------------------------ happy path

async def test_start_checks_token_with_getme(sink, fake_telegram):
    assert sink.username == "lapor_test_bot"
    assert [c.method for c in fake_telegram.calls()] == ["getme"]


async def test_send_html(sink, fake_telegram):
    message_id = await sink.send(GROUP, "<b>halo</b> &amp; selamat")
    assert message_id == "1"
    [sent] = fake_telegram.messages(GROUP)
    assert (sent.parse_mode, sent.visible) == ("HTML", "halo & selamat")
    assert sent.params["chat_id"] == GROUP  # form-encoded, as a string on the wire
    assert sent.link_preview_options == {"is_disabled": True}


async def test_send_plain_has_no_parse_mode(sink, fake_telegram):
    await sink.send(GROUP, "<b> tidak diproses", plain=True)
    [sent] = fake_telegram.messages(GROUP)
    assert sent.parse_mode is None and sent.visible == "<b> tidak diproses"


@pytest.mark.parametrize("text", ["", "😀" * 3000, "<>&_*`" * 2000, "kata " * 2000])
async def test_rendered_views_are_accepted(sink, fake_telegram, text):
    view = dataclasses.replace(VIEW, text=text)
    html_parts, plain_parts = sink.render(view), sink.render_plain(view)
    for part in html_parts:
        await sink.send(GROUP, part)
    for part in plain_parts:
        await sink.send(GROUP, part, plain=True)
    visible = fake_telegram.visible_texts(GROUP)
    assert len(visible) == len(html_parts) + len(plain_parts)
    assert visible[0].startswith("Pengaduan LPR-0001") and visible[len(html_parts)].startswith(
        "Pengaduan LPR-0001")
    for shown in visible:
        assert_no_personal_data(shown)


async def test_long_complaint_is_split_by_render(sink, fake_telegram):
    view = dataclasses.replace(VIEW, text=("Jalan rusak parah. " * 600).strip())
    parts = sink.render(view)
    assert len(parts) >= 3
    ids = [await sink.send(GROUP, p) for p in parts]
    assert ids == [str(i) for i in range(1, len(parts) + 1)]
    assert fake_telegram.texts(GROUP) == parts


async def test_edit_and_not_modified(sink, fake_telegram):
    message_id = await sink.send(GROUP, "Status: baru")
    await sink.edit(GROUP, message_id, "Status: <b>ditangani</b>")
    await sink.edit(GROUP, message_id, "Status: <b>ditangani</b>")  # same again: no error
    [edit] = fake_telegram.edits(GROUP)
    assert (edit.message_id, edit.visible) == (1, "Status: ditangani")
    with pytest.raises(errors.PermanentError, match="(?i)message to edit not found"):
        await sink.edit(GROUP, "999", "x")


async def test_check_chat(sink):
    assert await sink.check_chat(GROUP) == {"id": GROUP, "type": "supergroup",
                                            "title": f"Grup petugas {GROUP}"}


# ------------------------------------------------------------------------------ failures

async def test_bad_html_is_rejected(sink, fake_telegram):
    with pytest.raises(errors.MessageRejected, match="(?i)can't parse entities"):
        await sink.send(GROUP, "harga < 100 & naik")
    fake_telegram.reject_html(GROUP)
    with pytest.raises(errors.MessageRejected):
        await sink.send(GROUP, "<b>sah</b>")
    assert await sink.send(GROUP, "sah", plain=True) == "1"


async def test_too_long_is_rejected(sink):
    with pytest.raises(errors.MessageRejected, match="too long"):
        await sink.send(GROUP, "x" * 4097)


@PTB_RETRY_AFTER_INT
async def test_flood_gives_retry_after(sink, fake_telegram):
    fake_telegram.flood(GROUP, retry_after=7, times=1)
    with pytest.raises(errors.TemporaryError) as info:
        await sink.send(GROUP, "satu")
    assert type(info.value) is errors.TemporaryError and info.value.retry_after == 7.0
    assert await sink.send(GROUP, "satu") == "1"
    assert fake_telegram.count_429(GROUP) == 1


async def test_kicked_is_forbidden_with_hint(sink, fake_telegram):
    fake_telegram.kick(GROUP)
    with pytest.raises(errors.ChatForbidden, match="kicked") as info:
        await sink.send(GROUP, "x")
    assert "outbox retry" in info.value.hint


async def test_chat_not_found(sink, fake_telegram):
    fake_telegram.forget_chat("-100999")
    with pytest.raises(errors.ChatForbidden, match="does not know chat") as info:
        await sink.send("-100999", "x")
    assert "chat_id" in info.value.hint


async def test_migrated_group(sink, fake_telegram):
    fake_telegram.migrate("-4001", "-1004001")
    with pytest.raises(errors.ChatMigrated) as info:
        await sink.send("-4001", "x")
    assert info.value.new_chat_id == "-1004001"
    assert await sink.send(info.value.new_chat_id, "x") == "1"


async def test_revoked_token(sink, fake_telegram):
    fake_telegram.revoke_token()
    with pytest.raises(errors.InvalidToken) as info:
        await sink.send(GROUP, "x")
    assert fake_telegram.token not in str(info.value) and "BotFather" in info.value.hint


async def test_start_with_wrong_token(fake_telegram):
    cfg = make_config(fake_telegram).model_copy(update={"token": "999:wrong-token"})
    s = Sink("tg", cfg, Context())
    with pytest.raises(errors.InvalidToken) as info:
        await s.start()
    assert "wrong-token" not in str(info.value)
    await s.close()


async def test_read_timeout_after_delivery_is_uncertain(sink, fake_telegram):
    fake_telegram.timeout_after_delivery(GROUP, delay=5)
    with pytest.raises(errors.UncertainDelivery, match="may have arrived"):
        await sink.send(GROUP, "mungkin sampai")
    assert fake_telegram.visible_texts(GROUP) == ["mungkin sampai"]  # it did arrive


async def test_connection_refused_is_temporary_not_uncertain(sink, fake_telegram):
    fake_telegram.refuse_connections()
    with pytest.raises(errors.TemporaryError) as info:
        await sink.send(GROUP, "x")
    assert type(info.value) is errors.TemporaryError and "ConnectError" in str(info.value)
    fake_telegram.accept_connections()
    assert await sink.send(GROUP, "lagi") == "1"
    assert fake_telegram.visible_texts(GROUP) == ["lagi"]


async def test_start_while_unreachable(fake_telegram):
    fake_telegram.refuse_connections()
    s = Sink("tg", make_config(fake_telegram), Context())
    with pytest.raises(errors.TemporaryError):
        await s.start()
    fake_telegram.accept_connections()
    await s.start()
    await s.close()


async def test_server_error_on_send_is_uncertain(sink, fake_telegram):
    fake_telegram.fail(GROUP, 502, "Bad Gateway")
    with pytest.raises(errors.UncertainDelivery):
        await sink.send(GROUP, "x")


async def test_other_bad_request_is_permanent(sink, fake_telegram):
    fake_telegram.fail(GROUP, 400, "Bad Request: not enough rights to send text messages to the chat")
    with pytest.raises(errors.PermanentError, match="(?i)not enough rights"):
        await sink.send(GROUP, "x")


async def test_send_before_start_is_a_bug(fake_telegram):
    s = Sink("tg", make_config(fake_telegram), Context())
    with pytest.raises(RuntimeError, match="not started"):
        await s.send(GROUP, "x")
