"""The X source's config model and its pure helpers (tweet -> complaint, reply length)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from forwarder.config import parse_config
from forwarder.errors import ConfigError
from forwarder.sources.twitter import Config
from forwarder.sources.twitter_format import (
    fit_post,
    is_retweet,
    post_weight,
    to_complaint,
)
from forwarder.sources.twitter_http import endpoint_key

KEYS = {"consumer_key": "ck", "consumer_secret": "cs", "access_token": "at",
        "access_token_secret": "ats"}


def test_defaults_and_handle_with_or_without_at() -> None:
    config = Config(type="twitter", bearer_token="AAAA", handle="@LAPOR1708")
    assert config.handle == "LAPOR1708"
    assert config.api_base_url == "https://api.twitter.com"
    assert config.poll_interval_secs == 60 and config.max_results == 100
    assert not config.can_reply
    assert "AAAA" not in repr(config)  # secrets stay out of logs
    assert Config(type="twitter", bearer_token="AAAA", **KEYS).can_reply


@pytest.mark.parametrize("bad", [
    {"bearer_token": "  "},
    {"handle": "bukan handle!"},
    {"handle": "a_handle_far_too_long"},
    {"max_results": 101},
    {"max_results": 4},
    {"poll_interval_secs": 0.5},
    {"user_id": "@LAPOR1708"},
    {"api_base_url": "http://api.example.org"},  # the token would travel in clear
    {"api_base_url": "ftp://127.0.0.1"},
    {"consumer_key": "only-one-of-four"},
    {"unknown": 1},
])
def test_bad_settings_are_refused(bad: dict) -> None:
    with pytest.raises(ValidationError):
        Config(**{"type": "twitter", "bearer_token": "AAAA", **bad})


def test_loopback_http_is_allowed_for_tests() -> None:
    config = Config(type="twitter", bearer_token="t", api_base_url="http://127.0.0.1:8080/")
    assert config.api_base_url == "http://127.0.0.1:8080"


def _settings(source: dict) -> dict:
    return {
        "version": 1,
        "sources": {"x": source},
        "sinks": {"out": {"type": "console"}},
        "groups": [{"name": "triase", "sink": "out", "chat_id": "-1", "fallback": True}],
    }


def test_yaml_bearer_token_comes_from_the_environment() -> None:
    raw = _settings({"type": "twitter", "bearer_token": "${X_BEARER_TOKEN}"})
    settings = parse_config(raw, env={"X_BEARER_TOKEN": "from-env"})
    assert settings.sources["x"].bearer_token.get_secret_value() == "from-env"
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, env={})
    assert any(p.path == "sources.x.bearer_token" for p in caught.value.problems)


def test_unknown_key_is_reported_with_its_path() -> None:
    raw = _settings({"type": "twitter", "bearer_token": "t", "pol_interval_secs": 5})
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, env={})
    assert "sources.x.pol_interval_secs" in [p.path for p in caught.value.problems]


def test_complaint_from_a_minimal_tweet_uses_the_snowflake_time() -> None:
    tweet = {"id": "1880000000000000000", "text": "RT is not at the start", "author_id": "42"}
    complaint = to_complaint(tweet, {})
    assert complaint.received_at.tzinfo == timezone.utc
    # id >> 22 is milliseconds after 2010-11-04T01:42:54.657Z (X's snowflake epoch)
    assert datetime(2025, 1, 1, tzinfo=timezone.utc) < complaint.received_at
    assert complaint.reporter == "x:42" and complaint.meta["author_username"] is None
    assert not is_retweet(tweet)
    assert is_retweet({"id": "1", "text": "RT @someone: hi"})
    assert is_retweet({"id": "1", "text": "hi", "referenced_tweets": [{"type": "retweeted", "id": "2"}]})


def test_post_weight_follows_the_twitter_text_rules() -> None:
    assert post_weight("Jalan rusak") == 11
    assert post_weight("lihat https://lapor.go.id/a/very/long/path/that/is/longer/than/23") == 6 + 23
    assert post_weight("日本") == 4  # CJK weighs 2
    assert post_weight("😡") == 2
    assert post_weight("e\u0301") == 1  # NFC: é


def test_fit_post_cuts_at_a_word_and_keeps_urls_whole() -> None:
    text = "Kode LP-7K2Q " + "tindak lanjut " * 40
    fitted = fit_post(text)
    assert post_weight(fitted) <= 280 and fitted.endswith("…")
    assert fitted.startswith("Kode LP-7K2Q") and not fitted[:-1].endswith(" ")
    url = "https://lapor.go.id/status/LP-7K2Q"
    fitted = fit_post("a" * 250 + " " + url + " selesai " + "b" * 50)
    assert url in fitted  # 250 + 1 + 23 fits: the URL stays whole
    fitted = fit_post("a" * 260 + " " + url + " selesai")
    assert "https" not in fitted and fitted == "a" * 260 + "…"  # never half a URL
    assert post_weight(fitted) <= 280
    emoji = fit_post("😡" * 300)
    assert post_weight(emoji) <= 280
    assert fit_post("  pendek  ") == "pendek"


def test_endpoint_keys_group_requests_like_x_limits_do() -> None:
    assert endpoint_key("GET", "/2/users/1536953950102544384/mentions") == "GET /2/users/:id/mentions"
    assert endpoint_key("GET", "/2/users/by/username/LAPOR1708") == "GET /2/users/by/username/:username"
    assert endpoint_key("post", "/2/tweets") == "POST /2/tweets"
