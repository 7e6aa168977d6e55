"""The config loader: every problem at once, each with its YAML path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from forwarder.config import load_config, parse_config
from forwarder.errors import ConfigError

GOOD = {
    "version": 1,
    "database": "var/x.db",
    "sources": {"sms": {"type": "gammu_smsd", "database": "var/smsd.db"}},
    "sinks": {"out": {"type": "console"}},
    "groups": [
        {"name": "pupuk", "sink": "out", "chat_id": -1001, "topics": ["pupuk"], "kecamatan": ["Dander"]},
        {"name": "triase", "sink": "out", "chat_id": "-1002", "fallback": True},
    ],
}


def paths(exc: ConfigError) -> list[str]:
    return [p.path for p in exc.problems]


def test_good_config_loads() -> None:
    settings = parse_config(GOOD, env={})
    assert settings.fallback.name == "triase"
    assert settings.groups[0].chat_id == "-1001"
    assert settings.sources["sms"].type == "gammu_smsd"


def test_bundled_default_config_loads(repo: Path) -> None:
    settings = load_config(repo / "config" / "groups.yaml", env={})
    assert settings.fallback.name == "triase"
    assert {"pupuk", "hama"} <= {t for g in settings.groups for t in g.topics}


def test_every_problem_is_reported_with_its_path() -> None:
    bad = {
        "version": 2,
        "confidence_threshold": 1.5,
        "colour": "blue",
        "sources": {"sms": {"type": "gammu_smsd"}, "x": {"type": "fax"}},
        "sinks": {"tg": {"type": "telegram", "token": "${NO_SUCH_TOKEN}"}},
        "groups": [
            {"name": "a", "sink": "nowhere", "chat_id": -1, "topics": ["pupuk"]},
            {"name": "a", "sink": "tg", "chat_id": -2},
            {"name": "c", "sink": "tg", "chat_id": True, "topics": [True]},
        ],
    }
    with pytest.raises(ConfigError) as info:
        parse_config(bad, env={})
    got = paths(info.value)
    for expected in [
        "version",
        "confidence_threshold",
        "colour",
        "sources.sms.database",
        "sources.x.type",
        "sinks.tg.token",
        "groups[0].sink",
        "groups[1].name",
        "groups[1].topics",
        "groups[2].chat_id",
        "groups[2].topics",
        "groups",  # no fallback
    ]:
        assert expected in got, (expected, got)
    assert "NO_SUCH_TOKEN" in str(info.value)


def test_env_substitution() -> None:
    cfg = {**GOOD, "database": "${DATA_DIR}/f.db"}
    assert str(parse_config(cfg, env={"DATA_DIR": "/srv"}).database) == "/srv/f.db"
    with pytest.raises(ConfigError) as info:
        parse_config(cfg, env={})
    assert paths(info.value) == ["database"]


def test_two_fallbacks_and_topicless_group() -> None:
    cfg = dict(GOOD)
    cfg["groups"] = GOOD["groups"] + [
        {"name": "t2", "sink": "out", "chat_id": -3, "fallback": True},
        {"name": "quiet", "sink": "out", "chat_id": -4},
    ]
    with pytest.raises(ConfigError) as info:
        parse_config(cfg, env={})
    text = str(info.value)
    assert "2 fallback groups" in text and "groups[3].topics" in text


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("groups: [\n  - name: a\n   sink: b\n")
    with pytest.raises(ConfigError) as info:
        load_config(broken)
    assert "line" in info.value.problems[0].path
    with pytest.raises(ConfigError):
        load_config(tmp_path / "missing.yaml")
    top = tmp_path / "list.yaml"
    top.write_text(yaml.safe_dump([1, 2]))
    with pytest.raises(ConfigError):
        load_config(top)


TELEGRAM_BASE = """
version: 1
sinks:
  tg: {type: telegram, token: "123:abc"}
groups:
  - {name: triase, sink: tg, chat_id: -1009, fallback: yes}
"""


@pytest.mark.parametrize(
    "group, path, words",
    [
        ("{name: no, sink: tg, chat_id: -1, topics: [pupuk]}", "groups[1].name", "boolean"),
        ("{name: a, sink: tg, chat_id: -1, topics: [off]}", "groups[1].topics[0]", "boolean"),
        ("{name: a, sink: tg, chat_id: 22:00, topics: [jalan]}", "groups[1].chat_id", "base 60"),
        ("{name: a, sink: tg, chat_id: -0123, topics: [jalan]}", "groups[1].chat_id", "octal"),
        ("{name: a, sink: tg, chat_id: '-100 123 456', topics: [jalan]}", "groups[1].chat_id", "-100123456"),
        ("{name: a, sink: tg, chat_id: 1001234567890, topics: [jalan]}", "groups[1].chat_id", "-1001234567890"),
        ("{name: a, sink: tg, chat_id: 'grup pupuk', topics: [jalan]}", "groups[1].chat_id", "negative"),
        ("{name: a, sink: tg, chat_id: 0, topics: [jalan]}", "groups[1].chat_id", "not a chat id"),
    ],
)
def test_yaml_pitfalls_are_caught_with_path_and_hint(tmp_path: Path, group: str, path: str, words: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(TELEGRAM_BASE + f"  - {group}\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})
    problems = [p for p in info.value.problems if p.path == path]
    assert problems, info.value
    assert words in str(problems[0]), str(problems[0])


def test_yes_on_a_boolean_key_is_fine(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(TELEGRAM_BASE + "  - {name: a, sink: tg, chat_id: '-1001', topics: [jalan]}\n")
    assert load_config(cfg, env={}).fallback.name == "triase"
