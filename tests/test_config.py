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


def test_a_missing_secret_is_one_problem_and_optional_for_readers() -> None:
    cfg = {**GOOD, "sinks": {"tg": {"type": "telegram", "token": "${TELEGRAM_BOT_TOKEN}"}},
           "groups": [dict(g, sink="tg") for g in GOOD["groups"]]}
    with pytest.raises(ConfigError) as info:
        parse_config(cfg, env={})
    assert [p.path for p in info.value.problems] == ["sinks.tg.token"]  # not also "too short"
    assert "TELEGRAM_BOT_TOKEN is not set" in str(info.value)
    # status, outbox, report read the database and send nothing: they run without it
    assert parse_config(cfg, env={}, secrets_optional=True).sinks["tg"].token == "0:unset-TELEGRAM_BOT_TOKEN"


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


def test_an_emptied_kecamatan_list_is_a_problem_not_every_kecamatan() -> None:
    """A trial: `kecamatan: []` passed check-config and the group took road complaints from all
    28 kecamatan."""
    cfg = dict(GOOD)
    cfg["groups"] = GOOD["groups"] + [{"name": "pu-dander", "sink": "out", "chat_id": -5,
                                       "topics": ["jalan"], "kecamatan": []}]
    with pytest.raises(ConfigError) as info:
        parse_config(cfg, env={})
    where = f"groups[{len(GOOD['groups'])}].kecamatan"
    assert any(p.path == where and "every kecamatan" in p.message for p in info.value.problems), str(info.value)


def test_not_yaml_and_missing_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("groups: [\n  - name: a\n   sink: b\n")
    with pytest.raises(ConfigError) as info:
        load_config(broken)
    assert "line" in info.value.problems[0].path
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.yaml")
    assert "--config PATH" in info.value.problems[0].hint  # what to do, not only what failed
    from click.testing import CliRunner

    from forwarder.cli import main

    result = CliRunner().invoke(main, ["check-config", "--config", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2 and "No such file" in result.output
    assert "run once these are fixed" not in result.output  # nothing more to check in no file
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


SMS_BASE = """version: 1
sources:
  sms:
    type: gammu_smsd
    database: var/smsd.db
    poll_interval_secs: 2
sinks:
  out: {type: console}
groups:
  - {name: sosial, sink: out, chat_id: -1, topics: [sosial], dinas: "Dinas Sosial – Bantuan"}
  - {name: triase, sink: out, chat_id: -2, fallback: true}
"""


def test_sms_base_loads(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SMS_BASE, encoding="utf-8")
    assert load_config(cfg, env={}).group("sosial").dinas == "Dinas Sosial – Bantuan"
    cfg.write_bytes(SMS_BASE.encode("utf-8-sig"))  # a byte-order mark (Notepad) is fine
    assert load_config(cfg, env={}).fallback.name == "triase"


@pytest.mark.parametrize(
    "encoding, path, words",
    [
        # the en dash of "Dinas Sosial – Bantuan" is byte 0x96 in Windows-1252
        ("cp1252", "line 10, column 83", ["not UTF-8", "0x96", "'–'"]),
        ("utf-16", "line 1, column 1", ["UTF-16", "not UTF-8"]),
    ],
)
def test_a_file_not_in_utf8_is_a_problem_with_line_and_column(
    tmp_path: Path, encoding: str, path: str, words: list[str]
) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(SMS_BASE.encode(encoding))
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})
    [problem] = info.value.problems
    assert problem.path == path
    for word in words:
        assert word in problem.message, problem
    assert "save the file as UTF-8" in problem.hint


def test_not_utf8_lists_each_line_once_and_check_config_shows_no_traceback(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from forwarder.cli import main

    text = SMS_BASE + "".join(f"  # catatan {i}: “rapat” – ‘Senin’\n" for i in range(8))
    cfg = tmp_path / "c.yaml"
    cfg.write_bytes(text.encode("cp1252"))
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})
    assert paths(info.value) == ["line 10, column 83"] + [f"line {n}, column 16" for n in (12, 13, 14, 15)] + [""]
    assert "4 more line(s)" in info.value.problems[-1].message
    result = CliRunner().invoke(main, ["check-config", "--no-model", "--config", str(cfg)])
    assert result.exit_code == 2
    assert "line 10, column 83: the file is not UTF-8" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, UnicodeDecodeError)


@pytest.mark.parametrize(
    "old, new, path, lines",
    [
        # a second top-level groups: would silently drop every group of the first
        ("", "groups:\n  - {name: t2, sink: out, chat_id: -3, fallback: true}\n", "groups", "line 9 and line 12"),
        ("    poll_interval_secs: 2\n", "    poll_interval_secs: -3\n    poll_interval_secs: 5\n",
         "sources.sms.poll_interval_secs", "line 6 and line 7"),
        ("chat_id: -2,", "chat_id: -2, chat_id: -4,", "groups[1].chat_id", "on line 11"),
        ("  out: {type: console}\n", "  out: {type: console}\n  out: {type: console}\n", "sinks.out",
         "line 8 and line 9"),
        ("version: 1\n", "version: 1\nversion: 1\n", "version", "line 1 and line 2"),
    ],
)
def test_a_duplicate_key_is_a_problem_with_its_path_and_lines(
    tmp_path: Path, old: str, new: str, path: str, lines: str
) -> None:
    text = SMS_BASE.replace(old, new) if old else SMS_BASE + new
    assert text != SMS_BASE
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})
    [problem] = [p for p in info.value.problems if "twice" in p.message]
    assert problem.path == path
    assert lines in problem.message and "only the last" in problem.message, problem


def test_duplicate_keys_are_reported_with_the_other_problems(tmp_path: Path) -> None:
    text = SMS_BASE.replace("poll_interval_secs: 2", "poll_interval_secs: -3\n    poll_interval_secs: 5")
    text += ("groups:\n  - {name: t, sink: nowhere, chat_id: -3, fallback: true}\n"
             "  - {name: x, sink: out, chat_id: -4, topics: [off]}\n")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})
    got = paths(info.value)
    for expected in ["sources.sms.poll_interval_secs", "groups", "groups[1].topics[0]", "groups[0].sink"]:
        assert expected in got, (expected, got)


def test_a_merge_key_may_be_overridden(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SMS_BASE.replace("  - {name: triase, sink: out, chat_id: -2, fallback: true}\n",
                                    "  - <<: {sink: out, chat_id: -2}\n    name: triase\n    chat_id: -5\n"
                                    "    fallback: true\n"), encoding="utf-8")
    assert load_config(cfg, env={}).fallback.chat_id == "-5"


def test_topics_of_the_fallback_group_are_ignored_with_a_clear_warning(repo: Path) -> None:
    from forwarder.checks import cross_check

    cfg = {**GOOD, "groups": [GOOD["groups"][0], {**GOOD["groups"][1], "topics": ["jalan"]}]}
    problems, warnings = cross_check(parse_config(cfg, env={}), load_model=False)
    assert problems == []
    assert [w for w in warnings if w.startswith("groups[1].topics")] == [
        ("groups[1].topics: the fallback group takes every complaint no other group takes; its topics are "
         "ignored (jalan: give them a group of their own, or remove them)")
    ]
    assert not any("topics are ignored" in w for w in cross_check(parse_config(GOOD, env={}), load_model=False)[1])

    # with the model: 'jalan' is not said to have "no group" and then to go to a group that lists it
    problems, warnings = cross_check(parse_config({**cfg, "model": str(repo / "models" / "default")}, env={}))
    assert problems == []
    [jalan] = [w for w in warnings if w.startswith("topic 'jalan'")]
    assert "lists it but ignores its topics" in jalan and "as unrouted (triage)" in jalan
    assert "topic 'hama' of the model has no group: it goes to the fallback group 'triase'" in warnings


# -- the confidential triage group (fallback: true + confidential: true) -------------------------

SECRET_TRIAGE_LINE = "  - {name: triase-rahasia, sink: out, chat_id: -3, fallback: true, confidential: true}\n"


def test_a_confidential_triage_group_beside_the_ordinary_one(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    # listed before the ordinary one: `fallback` is still the ordinary triage group
    cfg.write_text(SMS_BASE.replace("  - {name: triase,", SECRET_TRIAGE_LINE + "  - {name: triase,"),
                   encoding="utf-8")
    settings = load_config(cfg, env={})
    assert settings.fallback.name == "triase"
    assert settings.confidential_fallback is not None and settings.confidential_fallback.name == "triase-rahasia"
    plain = tmp_path / "plain.yaml"
    plain.write_text(SMS_BASE, encoding="utf-8")
    assert load_config(plain, env={}).confidential_fallback is None


def test_confidential_triage_problems_have_their_yaml_paths(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SMS_BASE + SECRET_TRIAGE_LINE
                   + "  - {name: rahasia-2, sink: out, chat_id: -4, fallback: true, confidential: true,"
                     " topics: [sosial]}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})
    problems = {p.path: p for p in info.value.problems}
    assert set(problems) == {"groups[3].topics", "groups[3].fallback"}, info.value
    assert "cannot have topics" in problems["groups[3].topics"].message
    assert "second confidential triage group" in problems["groups[3].fallback"].message
    assert "groups[2] ('triase-rahasia')" in problems["groups[3].fallback"].hint


def test_a_confidential_triage_group_does_not_replace_the_ordinary_one(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(SMS_BASE.replace("  - {name: triase, sink: out, chat_id: -2, fallback: true}\n",
                                    SECRET_TRIAGE_LINE), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={})
    [problem] = info.value.problems
    assert (problem.path, problem.message) == ("groups", "no fallback group")
    assert "groups[1] takes only confidential complaints" in problem.hint


def test_check_config_warns_when_triage_would_read_confidential_complaints(tmp_path: Path, repo: Path) -> None:
    from click.testing import CliRunner

    from forwarder.checks import cross_check
    from forwarder.cli import main

    groups = [
        {"name": "sosial", "sink": "out", "chat_id": -1, "topics": ["sosial", "pupuk"]},
        {"name": "jalan", "sink": "out", "chat_id": -5, "topics": ["jalan"]},
        {"name": "sosial-rahasia", "sink": "out", "chat_id": -6, "topics": ["sosial"], "confidential": True},
        {"name": "jalan-rahasia-dander", "sink": "out", "chat_id": -7, "topics": ["jalan"],
         "kecamatan": ["Dander"], "confidential": True},
        {"name": "triase", "sink": "out", "chat_id": -2, "fallback": True},
    ]
    data = {**GOOD, "groups": groups}
    problems, warnings = cross_check(parse_config(data, env={}), load_model=False)
    assert problems == []
    [warning] = [w for w in warnings if "confidential triage" in w]
    assert warning.startswith("groups: no confidential triage group: confidential complaints")
    assert "ordinary triage group 'triase'" in warning
    # the topics concerned: none, or only some kecamatan, of a confidential group; not 'sosial'
    assert "(jalan outside kecamatan Dander; pupuk)" in warning
    assert "their confidence is low or they have no usable words" in warning
    # with the model: the topics it can emit, also those no group of the config names
    with_model = {**data, "model": str(repo / "models" / "default")}
    [warning] = [w for w in cross_check(parse_config(with_model, env={}))[1] if "confidential triage" in w]
    assert "hama; " in warning and "jalan outside kecamatan Dander; " in warning and "sosial;" not in warning

    path = tmp_path / "groups.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = CliRunner().invoke(main, ["check-config", "--no-model", "--config", str(path)])
    assert result.exit_code == 0, result.output  # a warning, not a failure
    assert "warning: groups: no confidential triage group" in result.stderr
    assert "OK" in result.stdout

    # with a confidential triage group: no warning
    data["groups"] = [*groups, {"name": "triase-rahasia", "sink": "out", "chat_id": -3, "fallback": True,
                                "confidential": True}]
    assert not any("confidential triage" in w
                   for w in cross_check(parse_config(data, env={}), load_model=False)[1])


def test_check_config_warns_when_overdue_alerts_reach_nobody() -> None:
    """A trial: `notices` found 3,183 complaints past their deadline and sent nothing, and nothing
    said why (no heads' group)."""
    from forwarder.checks import cross_check

    _, warnings = cross_check(parse_config(GOOD, env={}), load_model=False)
    assert any(w.startswith("heads.groups: none, so overdue alerts") for w in warnings), warnings
    with_heads = {**GOOD, "heads": {"groups": [{"name": "pimpinan", "sink": "out", "chat_id": -9}]}}
    _, warnings = cross_check(parse_config(with_heads, env={}), load_model=False)
    assert not any(w.startswith("heads.groups") for w in warnings), warnings


def test_kecamatan_on_a_triage_group_is_flagged_as_ignored() -> None:
    from forwarder.checks import cross_check

    groups = [*GOOD["groups"][:-1], {**GOOD["groups"][-1], "kecamatan": ["Dander"]}]
    assert groups[-1].get("fallback"), groups
    _, warnings = cross_check(parse_config({**GOOD, "groups": groups}, env={}), load_model=False)
    assert any(w.startswith(f"groups[{len(groups) - 1}].kecamatan: a triage group") for w in warnings), warnings


def test_a_confidential_group_may_not_share_a_chat_with_an_ordinary_one() -> None:
    """A trial: a copied chat id made the confidential triage group post into the ordinary triage
    chat, and check-config only warned that both post to one chat."""
    groups = [*GOOD["groups"], {"name": "triase-rahasia", "sink": "out", "chat_id": GOOD["groups"][-1]["chat_id"],
                                "fallback": True, "confidential": True}]
    with pytest.raises(ConfigError) as info:
        parse_config({**GOOD, "groups": groups}, env={})
    [problem] = [p for p in info.value.problems if p.path == f"groups[{len(groups) - 1}].chat_id"]
    assert "confidential" in problem.message and "chat of its own" in problem.hint
