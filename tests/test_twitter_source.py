"""The X source against the loopback fake X API v2 (real tweepy, real HTTP on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests

from fakes.x_api import FakeX, fake_x  # noqa: F401  (fake_x is a fixture)
from forwarder.context import Context
from forwarder.errors import (
    InvalidToken,
    MessageRejected,
    PermanentError,
    TemporaryError,
    UncertainDelivery,
)
from forwarder.sources.twitter import Config, Source

NOW = datetime(2026, 1, 15, 3, 0, 0, tzinfo=timezone.utc)


def make_source(x: FakeX, *, clock=None, reply_keys: bool = True, **overrides) -> Source:
    fields = {"type": "twitter", "bearer_token": x.bearer_token, "api_base_url": x.base_url,
              "max_results": 5}
    if reply_keys:
        fields.update(consumer_key=x.consumer_key, consumer_secret=x.consumer_secret,
                      access_token=x.access_token, access_token_secret=x.access_token_secret)
    fields.update(overrides)
    context = Context(clock=clock) if clock else Context()
    return Source("x", Config(**fields), context)


def mention_requests(x: FakeX):
    return [r for r in x.requests if r.path.endswith("/mentions")]


async def test_first_poll_takes_one_page_then_pages_through_everything_after_the_cursor(fake_x):
    first = [fake_x.add_mention(f"lampu jalan mati no {i}") for i in range(8)]
    source = make_source(fake_x)
    polled = await source.poll(None)
    # first poll: only the newest page (5), no since_id, no paging
    assert [c.external_id for c in polled.complaints] == first[3:]
    assert polled.cursor == first[-1]
    assert len(mention_requests(fake_x)) == 1
    assert "since_id" not in mention_requests(fake_x)[0].query

    later = [fake_x.add_mention(f"pupuk langka di desa {i}") for i in range(12)]
    polled = await source.poll(polled.cursor)
    assert [c.external_id for c in polled.complaints] == later  # oldest first, none lost
    assert polled.cursor == later[-1]
    pages = mention_requests(fake_x)[1:]
    assert len(pages) == 3
    assert all(r.query["since_id"] == first[-1] for r in pages)
    assert "pagination_token" not in pages[0].query
    assert pages[1].query["pagination_token"] and pages[2].query["pagination_token"]
    assert pages[0].query["expansions"] == "author_id"
    assert "note_tweet" in pages[0].query["tweet.fields"]
    await source.close()


async def test_failure_on_a_later_page_returns_nothing_and_keeps_the_cursor(fake_x):
    source = make_source(fake_x)
    cursor = fake_x.add_mention("awal")
    new = [fake_x.add_mention(f"banjir {i}") for i in range(12)]
    fake_x.fail_next(503, path_contains="/mentions", after=2)  # the third page fails
    with pytest.raises(TemporaryError):
        await source.poll(cursor)
    polled = await source.poll(cursor)  # the pipeline retries with the unchanged cursor
    assert [c.external_id for c in polled.complaints] == new
    assert polled.cursor == new[-1]


async def test_empty_answer_has_no_data_key_and_keeps_the_cursor(fake_x):
    cursor = fake_x.add_mention("sudah dibaca")
    raw = requests.get(f"{fake_x.base_url}/2/users/{fake_x.handle_id}/mentions",
                       params={"since_id": cursor, "max_results": 5},
                       headers={"Authorization": f"Bearer {fake_x.bearer_token}"}, timeout=5)
    assert raw.json() == {"meta": {"result_count": 0}}
    polled = await make_source(fake_x).poll(cursor)
    assert polled.complaints == [] and polled.cursor is None


async def test_complaint_fields_long_post_and_escaped_text(fake_x):
    long_text = "Pupuk bersubsidi langka di Kecamatan Kapas. " * 30  # > 280: a note tweet
    when = datetime(2026, 1, 14, 23, 15, 7, 250000, tzinfo=timezone.utc)
    long_id = fake_x.add_mention("ignored", note_text=long_text, author="petani_kapas",
                                 created_at=when)
    html_id = fake_x.add_mention("Jalan <rusak> & berlubang di Dander", author="warga")
    polled = await make_source(fake_x).poll(None)
    by_id = {c.external_id: c for c in polled.complaints}
    long = by_id[long_id]
    assert long.text == long_text.strip()  # full note_tweet text, not the cut `text`
    assert long.received_at == when and long.received_at.tzinfo is not None
    assert long.channel == "x"
    author_id = fake_x.add_user("petani_kapas")
    assert long.reporter == f"x:{author_id}"
    assert long.meta["tweet_id"] == long_id
    assert long.meta["author_username"] == "petani_kapas"
    assert long.meta["conversation_id"] == long_id
    assert long.meta["long_post"] is True
    # X escapes & < > in text; the leading @LAPOR1708 address is dropped
    assert by_id[html_id].text == "Jalan <rusak> & berlubang di Dander"


async def test_retweets_and_own_posts_are_skipped_but_move_the_cursor(fake_x):
    reply = fake_x.add_mention("sudah dua minggu belum diperbaiki", kind="reply", author="warga1")
    quote = fake_x.add_mention("ini juga terjadi di Baureno", kind="quote", author="warga2")
    own = fake_x.add_mention("@LAPOR1708 uji coba akun sendiri", author="LAPOR1708")
    retweet = fake_x.add_mention("irigasi macet", kind="retweet", author="penyebar")
    polled = await make_source(fake_x, max_results=100).poll(None)
    ids = [c.external_id for c in polled.complaints]
    assert reply in ids and quote in ids
    assert own not in ids and retweet not in ids
    assert polled.cursor == retweet  # the newest id seen, even though it was skipped
    kinds = {c.external_id: c.meta["kind"] for c in polled.complaints}
    assert kinds[reply] == "reply" and kinds[quote] == "quote"


async def test_429_gives_retry_after_from_the_reset_header_and_the_injected_clock():
    with FakeX(clock=NOW.timestamp) as x:
        source = make_source(x, clock=lambda: NOW)
        x.fail_next(429, reset_at=int(NOW.timestamp()) + 120)
        with pytest.raises(TemporaryError) as caught:
            await source.poll("1")
        assert caught.value.retry_after == 120
        x.fail_next(429, reset_at=int(NOW.timestamp()) - 30)  # reset already passed: at least 1 s
        with pytest.raises(TemporaryError) as caught:
            await source.poll("1")
        assert caught.value.retry_after == 1


async def test_exhausted_window_stops_before_asking_again():
    now = [NOW]
    with FakeX(clock=lambda: now[0].timestamp(), limits={"mentions": 1}) as x:
        source = make_source(x, clock=lambda: now[0])
        await source.poll(None)  # the answer says x-rate-limit-remaining: 0
        asked = len(mention_requests(x))
        with pytest.raises(TemporaryError) as caught:
            await source.poll(None)
        assert caught.value.retry_after == 15 * 60
        assert len(mention_requests(x)) == asked  # no request spent on a certain 429
        now[0] = NOW + timedelta(minutes=16)  # the window has reset
        await source.poll(None)
        assert len(mention_requests(x)) == asked + 1


async def test_401_is_invalid_token_with_a_hint(fake_x):
    source = make_source(fake_x, bearer_token="wrong-token")
    with pytest.raises(InvalidToken) as caught:
        await source.poll(None)
    assert "X_BEARER_TOKEN" in caught.value.hint
    fake_x.fail_next(401, path_contains="/mentions")
    with pytest.raises(InvalidToken):
        await make_source(fake_x).poll("1")


async def test_403_client_not_enrolled_is_permanent_with_an_access_level_hint(fake_x):
    fake_x.fail_next(403)
    with pytest.raises(PermanentError) as caught:
        await make_source(fake_x).poll(None)
    assert "Project" in str(caught.value) and "access level" in caught.value.hint


async def test_503_and_network_errors_are_temporary(fake_x):
    source = make_source(fake_x)
    new = fake_x.add_mention("sampah menumpuk")
    fake_x.fail_next(503, path_contains="/mentions")
    with pytest.raises(TemporaryError):
        await source.poll(None)
    assert [c.external_id for c in (await source.poll(None)).complaints] == [new]

    with FakeX() as gone:
        dead_url = gone.base_url
    closed = make_source(fake_x, api_base_url=dead_url)
    with pytest.raises(TemporaryError) as caught:
        await closed.poll(None)
    assert not isinstance(caught.value, UncertainDelivery)


async def test_read_timeout_is_temporary(fake_x):
    never = threading.Event()
    fake_x.pause_next(never, timeout=5)
    with pytest.raises(TemporaryError):
        await make_source(fake_x, timeout_secs=0.3).poll(None)
    never.set()


async def test_handle_lookup_once_or_configured_user_id(fake_x):
    source = make_source(fake_x, handle="@lapor1708")
    await source.poll(None)
    await source.poll(None)
    lookups = [r for r in fake_x.requests if "/by/username/" in r.path]
    assert [r.path for r in lookups] == ["/2/users/by/username/lapor1708"]

    fake_x.requests.clear()
    await make_source(fake_x, user_id=fake_x.handle_id).poll(None)
    assert not [r for r in fake_x.requests if "/by/username/" in r.path]

    with pytest.raises(PermanentError) as caught:
        await make_source(fake_x, handle="tidak_ada_akun").poll(None)
    assert "tidak_ada_akun" in str(caught.value)


async def test_a_corrupt_cursor_is_refused(fake_x):
    with pytest.raises(PermanentError):
        await make_source(fake_x).poll("12abc")


async def test_awkward_texts_are_handed_over_whole(fake_x):
    emoji = fake_x.add_mention("😡😡😡")
    bare = fake_x.add_mention("@LAPOR1708")
    huge = fake_x.add_mention("x", note_text="Jalan rusak parah. " * 530)  # ~10,000 characters
    markup = fake_x.add_mention("<script>alert(1)</script> &lt;b&gt; selokan mampet")
    polled = await make_source(fake_x, max_results=100).poll(None)
    text = {c.external_id: c.text for c in polled.complaints}
    assert text[emoji] == "😡😡😡"
    assert text[bare] == "@LAPOR1708"  # nothing but the address: kept, never emptied
    assert len(text[huge]) > 9_000
    assert text[markup] == "<script>alert(1)</script> &lt;b&gt; selokan mampet"


async def test_reply_posts_in_the_thread_with_oauth1(fake_x):
    tweet = fake_x.add_mention("jalan berlubang di Sumberrejo", author="warga")
    source = make_source(fake_x)
    reply_id = await source.reply(tweet, "Laporan Anda diterima, kode LP-7K2Q. Terima kasih.")
    assert fake_x.posted == [{"id": reply_id, "in_reply_to_tweet_id": tweet,
                              "text": "Laporan Anda diterima, kode LP-7K2Q. Terima kasih."}]
    assert fake_x.requests[-1].headers["Authorization"].startswith("OAuth ")

    long_id = await source.reply(tweet, "Kode LP-7K2Q: " + "mohon ditunggu tindak lanjutnya " * 20)
    posted = fake_x.posted[-1]
    assert posted["id"] == long_id
    assert posted["text"].startswith("Kode LP-7K2Q:") and posted["text"].endswith("…")
    assert len(posted["text"]) <= 280

    with pytest.raises(MessageRejected):  # X refuses duplicate content
        await source.reply(tweet, "Laporan Anda diterima, kode LP-7K2Q. Terima kasih.")
    with pytest.raises(MessageRejected):
        await source.reply(tweet, "   ")
    with pytest.raises(MessageRejected):  # the post is gone
        await source.reply("999", "Laporan diterima")


async def test_reply_needs_good_user_context_keys(fake_x):
    tweet = fake_x.add_mention("lampu mati")
    with pytest.raises(PermanentError) as caught:
        await make_source(fake_x, reply_keys=False).reply(tweet, "diterima")
    assert "access_token" in caught.value.hint
    with pytest.raises(InvalidToken):
        await make_source(fake_x, access_token_secret="wrong").reply(tweet, "diterima")


async def test_reply_without_an_answer_may_have_been_posted(fake_x):
    tweet = fake_x.add_mention("pohon tumbang")
    release = threading.Event()
    fake_x.pause_next(release, timeout=5)
    with pytest.raises(UncertainDelivery):
        await make_source(fake_x, timeout_secs=0.3).reply(tweet, "Laporan diterima")
    release.set()


async def test_a_429_does_not_block_other_tasks(fake_x):
    """tweepy must not sleep on the event loop: another task keeps running while X answers 429."""
    release = threading.Event()
    far_reset = int(datetime.now(timezone.utc).timestamp()) + 900  # would be a 15-min sleep
    fake_x.pause_next(release, timeout=30)
    fake_x.fail_next(429, reset_at=far_reset, path_contains="/mentions")
    source = make_source(fake_x, user_id=fake_x.handle_id)
    ticks: list[int] = []

    async def other_source() -> None:
        for i in range(3):
            ticks.append(i)
            await asyncio.sleep(0)
        release.set()  # only reachable if the loop was free while the X request was pending

    poll = asyncio.create_task(source.poll(None))
    await other_source()
    with pytest.raises(TemporaryError) as caught:
        await asyncio.wait_for(poll, timeout=60)
    assert ticks == [0, 1, 2]
    assert fake_x.released == [True]  # the answer waited for the other task, not for a timeout
    assert caught.value.retry_after is not None and caught.value.retry_after > 60
    assert len(mention_requests(fake_x)) == 1  # no retry inside tweepy


async def test_debug_logs_never_show_the_bearer_token(fake_x, caplog):
    caplog.set_level("DEBUG", logger="tweepy.client")
    await make_source(fake_x).poll(None)
    assert "Making API request" in caplog.text
    assert fake_x.bearer_token not in caplog.text
