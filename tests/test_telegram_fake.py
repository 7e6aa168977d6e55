"""The fake Bot API itself: wire shapes, HTML checks, updates, flood limits, faults.

The other Telegram tests trust this fake, so its answers are checked here against what Telegram
documents (Bot API reference) and what python-telegram-bot parses.
"""

from __future__ import annotations

import threading

import httpx
import pytest
import telegram

from fakes.telegram_api import FakeTelegram, assert_no_personal_data, fake_telegram  # noqa: F401
from fakes.telegram_html import ParseError, parse_html

GROUP = -1001234567890


def call(tg: FakeTelegram, method: str, token: str | None = None, **params):
    url = f"{tg.base_url}/bot{token or tg.token}/{method}"
    return httpx.post(url, data={k: str(v) for k, v in params.items()}, timeout=5)


def test_wire_shapes(fake_telegram):
    me = call(fake_telegram, "getMe")
    assert me.status_code == 200 and me.json()["ok"] is True
    assert me.json()["result"]["is_bot"] is True
    sent = httpx.post(f"{fake_telegram.base_url}/bot{fake_telegram.token}/sendMessage",
                      json={"chat_id": GROUP, "text": "<i>hai</i>", "parse_mode": "HTML",
                            "reply_markup": {"inline_keyboard": [[{"text": "Selesai",
                                                                   "callback_data": "done:1"}]]}})
    result = sent.json()["result"]
    assert result["chat"] == {"id": GROUP, "type": "supergroup", "title": f"Grup petugas {GROUP}"}
    assert result["from"]["is_bot"] is True and isinstance(result["date"], int)
    assert result["entities"] == [{"type": "italic", "offset": 0, "length": 3}]
    message = telegram.Message.de_json(result, None)  # PTB can read it
    assert message.text == "hai" and message.reply_markup.inline_keyboard[0][0].text == "Selesai"


@pytest.mark.parametrize("token, code, description", [
    ("999:other", 401, "Unauthorized"),
    ("not-a-token", 404, "Not Found"),
])
def test_bad_tokens(fake_telegram, token, code, description):
    answer = call(fake_telegram, "getMe", token=token)
    assert answer.status_code == code
    assert answer.json() == {"ok": False, "error_code": code, "description": description}


def test_unknown_method(fake_telegram):
    assert call(fake_telegram, "sendTelepathy").json()["error_code"] == 404


@pytest.mark.parametrize("html, error", [
    ("<b>tebal</b> &amp; &lt;x&gt; &quot; &#128512; &#x1F600;", None),
    ('<a href="https://x.example/?a=1&amp;b=2">t</a> <tg-spoiler>s</tg-spoiler>', None),
    ('<pre><code class="language-python">x</code></pre> <blockquote expandable>q</blockquote>', None),
    ('<span class="tg-spoiler">s</span>', None),
    ("<B>besar</B>", None),
    ("<foo>x</foo>", 'Unsupported start tag "foo" at byte offset 0'),
    ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
    ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
    ("x</b>", "Unexpected end tag at byte offset 1"),
    ("harga < 100 dan > 50", 'Unsupported start tag "" at byte offset 6'),
    ("harga < 100", "Unclosed start tag at byte offset 6"),
    ("a & b", 'Unsupported bare "&"'),
    ("a &nbsp; b", 'Unsupported bare "&"'),
    ("é<x", "Unclosed start tag at byte offset 2"),
    ("<span>s</span>", 'Tag "span" must have class "tg-spoiler"'),
])
def test_html_checks(html, error):
    if error is None:
        parse_html(html)
    else:
        with pytest.raises(ParseError) as info:
            parse_html(html)
        assert str(info.value).startswith(error)


def test_html_error_answer(fake_telegram):
    answer = call(fake_telegram, "sendMessage", chat_id=GROUP, text="<x>", parse_mode="HTML").json()
    assert answer == {"ok": False, "error_code": 400, "description":
                      'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0'}


def test_length_counted_after_entities_in_utf16(fake_telegram):
    ok = call(fake_telegram, "sendMessage", chat_id=GROUP, parse_mode="HTML",
              text="<b>" + "&amp;" * 4096 + "</b>")
    assert ok.status_code == 200
    long = call(fake_telegram, "sendMessage", chat_id=GROUP, text="😀" * 2049)  # 4098 units
    assert long.json()["description"] == "Bad Request: message is too long"
    empty = call(fake_telegram, "sendMessage", chat_id=GROUP, text="  ")
    assert empty.json()["description"] == "Bad Request: message text is empty"


def test_scripted_errors_are_shaped_like_telegram(fake_telegram):
    fake_telegram.flood(GROUP, retry_after=4, times=2)
    for _ in range(2):
        assert call(fake_telegram, "sendMessage", chat_id=GROUP, text="x").json() == {
            "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 4",
            "parameters": {"retry_after": 4}}
    assert call(fake_telegram, "sendMessage", chat_id=GROUP, text="x").status_code == 200
    fake_telegram.migrate(-5001, -1005001)
    assert call(fake_telegram, "sendMessage", chat_id=-5001, text="x").json()["parameters"] == {
        "migrate_to_chat_id": -1005001}
    fake_telegram.kick(-5002)
    assert call(fake_telegram, "sendMessage", chat_id=-5002, text="x").json()["description"] == (
        "Forbidden: bot was kicked from the group chat")
    assert fake_telegram.count_429() == 2 and fake_telegram.count_429(GROUP) == 2


def test_replies_are_recorded(fake_telegram):
    first = call(fake_telegram, "sendMessage", chat_id=GROUP, text="satu").json()["result"]
    reply = call(fake_telegram, "sendMessage", chat_id=GROUP, text="dua",
                 reply_parameters='{"message_id": %d}' % first["message_id"]).json()["result"]
    assert reply["reply_to_message"]["message_id"] == first["message_id"]
    assert fake_telegram.messages(GROUP)[1].reply_to_message_id == first["message_id"]
    missing = call(fake_telegram, "sendMessage", chat_id=GROUP, text="x", reply_to_message_id=99)
    assert missing.json()["description"] == "Bad Request: message to be replied not found"


async def test_updates_through_ptb(fake_telegram):
    bot = telegram.Bot(fake_telegram.token, base_url=fake_telegram.bot_base_url)
    async with bot:
        sent = await bot.send_message(GROUP, "Pengaduan LPR-1")
        fake_telegram.push_reply(GROUP, sent.message_id, "Sudah ditangani", message_thread_id=7)
        fake_telegram.push_callback_query(GROUP, sent.message_id, "done:LPR-1")
        updates = await bot.get_updates(timeout=1)
        assert [u.update_id for u in updates] == [100000, 100001]
        reply, press = updates
        assert reply.message.reply_to_message.message_id == sent.message_id
        assert reply.message.message_thread_id == 7 and reply.message.chat.id == GROUP
        assert press.callback_query.data == "done:LPR-1"
        assert await bot.answer_callback_query(press.callback_query.id, text="Tercatat")
        assert fake_telegram.callback_answers()[0]["text"] == "Tercatat"
        assert await bot.get_updates(offset=100002, timeout=0) == ()  # confirmed, gone
        member = await bot.get_chat_member(GROUP, bot.id)
        assert member.status == "member"
        assert await bot.delete_webhook()


async def test_long_poll_wakes_on_push():
    import asyncio

    with FakeTelegram(long_poll_cap=30) as tg:
        bot = telegram.Bot(tg.token, base_url=tg.bot_base_url)
        async with bot:
            poll = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=40))
            seen = await asyncio.to_thread(tg.wait_for, lambda t: bool(t.calls("getUpdates")), 10)
            assert seen
            tg.push_message(GROUP, "halo")  # the waiting poll answers now, not after 30 s
            updates = await asyncio.wait_for(poll, 20)
            assert [u.message.text for u in updates] == ["halo"]


async def test_second_poller_ends_the_first_with_409(fake_telegram):
    import asyncio

    async with httpx.AsyncClient() as client:
        url = f"{fake_telegram.base_url}/bot{fake_telegram.token}/getUpdates"
        first = asyncio.create_task(client.post(url, data={"timeout": "1"}))
        await asyncio.sleep(0.1)
        second = await client.post(url, data={"timeout": "0"})
        assert second.json() == {"ok": True, "result": []}
        answer = (await first).json()
        assert answer["error_code"] == 409 and answer["description"].startswith("Conflict:")


def test_enforced_flood_limits_with_a_fake_clock():
    now = [1000.0]
    with FakeTelegram(monotonic=lambda: now[0]) as tg:
        tg.enforce_limits()
        assert call(tg, "sendMessage", chat_id=-1, text="a").status_code == 200
        second = call(tg, "sendMessage", chat_id=-1, text="b").json()
        assert second["error_code"] == 429 and second["parameters"] == {"retry_after": 1}
        for _ in range(19):
            now[0] += 1.5
            assert call(tg, "sendMessage", chat_id=-1, text="c").status_code == 200
        now[0] += 1.5  # 21st message inside one minute in the same group
        third = call(tg, "sendMessage", chat_id=-1, text="d").json()
        assert third["error_code"] == 429 and third["parameters"]["retry_after"] == 30  # the first left the window at +60 s
        for user in range(1, 31):  # private chats: only the overall 30/s applies
            assert call(tg, "sendMessage", chat_id=user, text="x").status_code == 200
        assert call(tg, "sendMessage", chat_id=99, text="x").status_code == 429
        assert tg.count_429() == 3 and tg.count_429(-1) == 2
        assert len(tg.messages(-1)) == 20


def test_refuse_then_accept_on_the_same_port(fake_telegram):
    port = fake_telegram.port
    fake_telegram.refuse_connections(seconds=0.2)
    with pytest.raises(httpx.ConnectError):
        call(fake_telegram, "getMe")
    assert fake_telegram.wait_for(lambda tg: tg._runner is not None, timeout=10)
    assert fake_telegram.port == port and call(fake_telegram, "getMe").status_code == 200


def test_wait_for_sees_messages(fake_telegram):
    threading.Timer(0.05, call, (fake_telegram, "sendMessage"), {"chat_id": GROUP, "text": "x"}).start()
    assert fake_telegram.wait_for(lambda tg: len(tg.messages(GROUP)) == 1, timeout=10)


@pytest.mark.parametrize("text", [
    "Hubungi +62 812-3456-7890", "nomor 081234567890", "wa 62812345678901",
    "NIK 3522011234560001", "dari x:1234567890",
])
def test_personal_data_detector_catches(text):
    with pytest.raises(AssertionError):
        assert_no_personal_data(text)


@pytest.mark.parametrize("text", [
    "Diterima: 29 Nov 2026 21:17 WIB", "Pengaduan LPR-7K3Q", "harga Rp 150.000 naik",
    "Keyakinan: 87%", "RT 02 RW 05, jalan 12 km", "kode 35.22.01.2001",
])
def test_personal_data_detector_lets_pass(text):
    assert_no_personal_data(text)


def test_serves_another_process(fake_telegram):
    """The fake runs in its own thread, so a daemon started as a subprocess can use it too."""
    import subprocess
    import sys

    script = (
        "import asyncio, sys\n"
        "from forwarder.sinks.telegram import Config, Sink\n"
        "async def main():\n"
        "    s = Sink('tg', Config(type='telegram', token=sys.argv[1], api_base_url=sys.argv[2]))\n"
        "    await s.start()\n"
        "    print(await s.send('-100777', '<b>dari proses lain</b>'))\n"
        "    await s.close()\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", script, fake_telegram.token, fake_telegram.base_url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
    assert fake_telegram.visible_texts("-100777") == ["dari proses lain"]
