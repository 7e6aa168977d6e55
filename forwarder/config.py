"""Load and check the forwarder config (``config/groups.yaml``).

:func:`load_config` reads the YAML, substitutes ``${ENV_VAR}`` references, validates every part
(the top level, each source and sink against its adapter's own ``Config`` model, each group) and
cross-checks them (a group's sink exists, there is one fallback group, and at most one
confidential triage group, without topics). It collects *every* problem before raising one
:class:`~forwarder.errors.ConfigError`, each problem with its YAML path (``sinks.tg.token``,
``groups[2].chat_id``), the way ``vector validate`` reports.

Reading the file itself is checked too: it must be UTF-8 (a file saved as Windows-1252 is reported
with the line and column of each byte that is not), a key may appear only once in a mapping (YAML
would silently keep the last one: a second ``groups:`` drops the first list), and YAML 1.1 readings
that change a value (unquoted ``no``, ``off``, ``22:00``, ``0123``) are reported with their path.

Relative paths in the config (``database``, ``model``, a Gammu ``database``) are relative to the
working directory the daemon is started in.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from forwarder import sinks as sink_registry
from forwarder import sources as source_registry
from forwarder.errors import ConfigError, Problem

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class GroupConfig(Strict):
    """One officer group chat (one per topic, often per kecamatan) and what it receives.

    A complaint goes to every group whose ``topics`` include its topic and whose ``kecamatan``
    (when given) include its kecamatan. The ``fallback`` group (triage) gets what no group takes.
    ``confidential``: the group receives only confidential complaints (RAHASIA, ``forwarder flag``).
    A group with both ``fallback`` and ``confidential`` is the *confidential triage* group: it gets
    the confidential complaints no confidential group takes, and nothing else (at most one, no
    ``topics``; the ordinary fallback group is still required). See :mod:`forwarder.routing`.
    """

    name: str = Field(min_length=1)
    sink: str = Field(min_length=1)
    chat_id: str
    topics: list[str] = Field(default_factory=list)
    kecamatan: list[str] | None = None
    fallback: bool = False
    confidential: bool = False
    dinas: str | None = None

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_id_text(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("chat_id must be a chat id, not a yes/no value")
        if isinstance(value, int):
            return str(value)
        if isinstance(value, str):
            stripped = value.strip()
            if not stripped:
                raise ValueError("chat_id is empty")
            return stripped
        return value

    @field_validator("topics", "kecamatan", mode="before")
    @classmethod
    def _names_are_text(cls, value: Any) -> Any:
        if value is None:
            return value
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            bad = [v for v in value if not isinstance(v, str)]
            if bad:
                raise ValueError(
                    f"every entry must be a name; got {bad!r} (YAML reads yes/no/on/off as "
                    "booleans and bare numbers as numbers: quote them)"
                )
        return value

    @field_validator("kecamatan")
    @classmethod
    def _kecamatan_not_emptied(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("an empty kecamatan list reads as 'none' but would mean every kecamatan: "
                             "list the kecamatan this group serves, or remove the key for all of them")
        return value


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class DeadlinesConfig(Strict):
    """Response deadlines, in working days counted by :class:`forwarder.workdays.WorkCalendar`.

    Defaults are SP4N-LAPOR!'s (see :mod:`forwarder.workdays` for the source): 3 working days to
    verify (here: the owning group's first reply), 5 to follow up (here: marked done).
    ``remind_before_hours``: working hours before a deadline when the group is reminded.
    """

    acknowledge_days: float = Field(default=3, gt=0, le=60)
    done_days: float = Field(default=5, gt=0, le=120)
    remind_before_hours: float = Field(default=24, ge=0, le=240)


class CalendarConfig(Strict):
    """The working-day calendar: Indonesian national holidays come from the ``holidays`` package;
    ``cuti_bersama`` adds the joint leave days; ``extra_holidays`` adds local days off
    (``2026-10-20: Hari Jadi Bojonegoro``, or a plain list of dates)."""

    cuti_bersama: bool = True
    extra_holidays: dict[date, str] = Field(default_factory=dict)

    @field_validator("extra_holidays", mode="before")
    @classmethod
    def _list_of_dates(cls, value: Any) -> Any:
        if isinstance(value, list):
            return {d: "libur daerah" for d in value}
        return value if value is not None else {}


class HeadsGroup(Strict):
    """A heads' group chat: gets overdue alerts for its ``dinas`` (all when empty) and, with
    ``weekly_summary``, the weekly figures."""

    name: str = Field(min_length=1)
    sink: str = Field(min_length=1)
    chat_id: str
    dinas: list[str] = Field(default_factory=list)
    weekly_summary: bool = True

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_id_text(cls, value: Any) -> Any:
        return GroupConfig._chat_id_text(value)


class Head(Strict):
    """One head (kepala dinas, camat): one daily digest of the officer ``groups`` they sit in,
    sent to ``chat_id`` (on Telegram their user id: they must have started the bot)."""

    name: str = Field(min_length=1)
    sink: str = Field(min_length=1)
    chat_id: str
    groups: list[str] = Field(min_length=1)

    @field_validator("chat_id", mode="before")
    @classmethod
    def _chat_id_text(cls, value: Any) -> Any:
        return GroupConfig._chat_id_text(value)


class HeadsConfig(Strict):
    """Heads' groups, heads, and when digests and summaries go out (hours in local time)."""

    groups: list[HeadsGroup] = Field(default_factory=list)
    people: list[Head] = Field(default_factory=list)
    daily_digest_hour: int = Field(default=7, ge=0, le=23)
    weekly_summary_weekday: Literal[_WEEKDAYS] = "monday"  # type: ignore[valid-type]
    weekly_summary_hour: int = Field(default=8, ge=0, le=23)


class CitizenConfig(Strict):
    """How the forwarder answers citizens (``citizen:`` in the YAML; see :mod:`forwarder.citizen`).

    ``acknowledge``: send an acknowledgment with the tracking code on intake (SMS through Gammu's
    outbox; on X only when the source has reply keys). ``acknowledge_sources``: limit that to
    these source names (``None``: every source that can answer). ``reply_window_days``: how long
    a citizen's message without a tracking code is taken as the answer to an officer's open
    question or to the "is it solved?" check, and a bare "sudah"/"belum" as being about the
    sender's complaint active within it. ``max_sms_parts``: longest officer text sent by SMS
    (parts of 153 GSM-7 / 67 UCS-2 characters); longer ones are refused with a reason.
    ``templates``: replace a message template by key (keys and placeholders in
    :data:`forwarder.citizen.TEMPLATES`).
    """

    acknowledge: bool = True
    acknowledge_sources: list[str] | None = None
    reply_window_days: float = Field(default=14.0, gt=0)
    max_sms_parts: int = Field(default=3, ge=1, le=10)
    templates: dict[str, str] = Field(default_factory=dict)

    @field_validator("templates")
    @classmethod
    def _known_templates(cls, value: dict[str, str]) -> dict[str, str]:
        from forwarder.citizen import check_templates  # lazy: citizen imports this module

        check_templates(value)
        return value


class TopLevel(Strict):
    version: Literal[1]
    database: Path = Path("var/forwarder.db")
    model: Path = Path("models/default")
    confidence_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    kabupaten: str = "Bojonegoro"
    timezone: str = "Asia/Jakarta"
    sources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    sinks: dict[str, dict[str, Any]] = Field(default_factory=dict)
    groups: list[dict[str, Any]] = Field(default_factory=list)
    deadlines: DeadlinesConfig = Field(default_factory=DeadlinesConfig)
    calendar: CalendarConfig = Field(default_factory=CalendarConfig)
    heads: HeadsConfig = Field(default_factory=HeadsConfig)
    officers: list[int] = Field(default_factory=list)
    admins: list[int] = Field(default_factory=list)
    citizen: CitizenConfig = Field(default_factory=CitizenConfig)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Asia/Jakarta)")
        return value


@dataclass(frozen=True)
class Settings:
    """A checked config. ``sources``/``sinks`` map each name to its adapter's ``Config`` object."""

    database: Path
    model: Path
    confidence_threshold: float
    kabupaten: str
    timezone: str
    sources: dict[str, Any]
    sinks: dict[str, Any]
    groups: list[GroupConfig]
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    # Telegram user ids that may act on any complaint (officers) and read/flag (admins)
    officers: tuple[int, ...] = ()
    admins: tuple[int, ...] = ()
    citizen: CitizenConfig = field(default_factory=CitizenConfig)
    deadlines: DeadlinesConfig = field(default_factory=DeadlinesConfig)
    calendar: CalendarConfig = field(default_factory=CalendarConfig)
    heads: HeadsConfig = field(default_factory=HeadsConfig)

    @property
    def fallback(self) -> GroupConfig:
        """The ordinary triage group (``fallback: true``, not confidential); there is exactly one."""
        return next(g for g in self.groups if g.fallback and not g.confidential)

    @property
    def confidential_fallback(self) -> GroupConfig | None:
        """The confidential triage group (``fallback: true`` and ``confidential: true``), if any."""
        return next((g for g in self.groups if g.fallback and g.confidential), None)

    def group(self, name: str) -> GroupConfig:
        return next(g for g in self.groups if g.name == name)


def _path_text(loc: tuple[Any, ...], prefix: str = "") -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _problems_from(error: ValidationError, prefix: str = "") -> list[Problem]:
    problems = []
    for item in error.errors():
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        message = item["msg"]
        hint = ""
        if item["type"] == "extra_forbidden":
            message = "unknown key"
            hint = "check the spelling; unknown keys are refused so typos do not pass silently"
        elif item["type"] == "missing":
            message = "required key is missing"
        message = message.removeprefix("Value error, ")
        problems.append(Problem(_path_text(loc, prefix), message, hint))
    return problems


#: what a missing ``${VAR}`` becomes when secrets are optional (admin commands that only read the
#: database): shaped to pass the adapters' checks (a bot token is ``<digits>:<letters>``), never sent
UNSET_SECRET = "0:unset-{name}"


def _substitute_env(node: Any, path: str, env: dict[str, str], problems: list[Problem],
                    secrets_optional: bool = False) -> Any:
    """Replace ``${VAR}`` (or ``${VAR:-default}``) in every string of the YAML tree."""
    if isinstance(node, dict):
        return {k: _substitute_env(v, _path_text((k,), path), env, problems, secrets_optional)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute_env(v, f"{path}[{i}]", env, problems, secrets_optional)
                for i, v in enumerate(node)]
    if isinstance(node, str) and "${" in node:

        def replace(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env and env[name] != "":
                return env[name]
            if default is not None:
                return default
            if secrets_optional:
                return UNSET_SECRET.format(name=name)
            problems.append(
                Problem(path, f"environment variable {name} is not set",
                        f"export {name}=... before starting, or put it in the service's environment")
            )
            return ""

        return _ENV_REF.sub(replace, node)
    return node


def parse_config(
    data: Any, *, env: dict[str, str] | None = None, source: str = "", path: Path | None = None,
    secrets_optional: bool = False,
) -> Settings:
    """Check an already-parsed YAML tree; raises ConfigError listing every problem.

    ``secrets_optional``: a ``${VAR}`` missing from ``env`` is no problem (it becomes
    :data:`UNSET_SECRET`): for commands that read the database and send nothing."""
    env = dict(os.environ) if env is None else env
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise ConfigError([Problem("", "the config must be a mapping of keys (version, sources, sinks, groups)")], source)
    data = _substitute_env(data, "", env, problems, secrets_optional)
    n_unset = len(problems)  # a missing variable explains the problem of its key's empty value
    unset = {p.path for p in problems}
    try:
        top = TopLevel.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems_from(exc))
        # go on with what can be read, to report problems of the parts too
        top = None

    def section(key: str) -> dict[str, Any]:
        value = data.get(key) if isinstance(data, dict) else None
        return value if isinstance(value, dict) else {}

    sources: dict[str, Any] = {}
    for name, raw in section("sources").items():
        sources[name] = _adapter_config(f"sources.{name}", raw, source_registry, problems)
    sinks: dict[str, Any] = {}
    for name, raw in section("sinks").items():
        sinks[name] = _adapter_config(f"sinks.{name}", raw, sink_registry, problems)

    indexed: list[tuple[int, GroupConfig]] = []
    raw_groups = data.get("groups") if isinstance(data.get("groups"), list) else []
    for i, raw in enumerate(raw_groups):
        try:
            indexed.append((i, GroupConfig.model_validate(raw)))
        except ValidationError as exc:
            problems.extend(_problems_from(exc, f"groups[{i}]"))
    groups = [g for _, g in indexed]
    problems.extend(_cross_check(data, indexed, raw_groups))
    heads = top.heads if top is not None else _heads_alone(data.get("heads"))
    if heads is not None:
        problems.extend(_check_heads(data, heads, groups))

    if problems or top is None:
        problems = problems[:n_unset] + [p for p in problems[n_unset:] if p.path not in unset]
        raise ConfigError(problems, source)
    return Settings(
        database=top.database,
        model=top.model,
        confidence_threshold=top.confidence_threshold,
        kabupaten=top.kabupaten,
        timezone=top.timezone,
        sources={k: v for k, v in sources.items() if v is not None},
        sinks={k: v for k, v in sinks.items() if v is not None},
        groups=groups,
        path=path,
        raw=data,
        deadlines=top.deadlines,
        calendar=top.calendar,
        heads=top.heads,
        officers=tuple(top.officers),
        admins=tuple(top.admins),
        citizen=top.citizen,
    )


def _adapter_config(path: str, raw: Any, registry: Any, problems: list[Problem]) -> Any:
    if not isinstance(raw, dict):
        problems.append(Problem(path, "must be a mapping with a 'type' key"))
        return None
    type_name = raw.get("type")
    if type_name is None:
        problems.append(Problem(f"{path}.type", "required key is missing",
                                f"one of: {', '.join(sorted(registry.REGISTRY))}"))
        return None
    if type_name not in registry.REGISTRY:
        problems.append(Problem(f"{path}.type", f"unknown type {type_name!r}",
                                f"one of: {', '.join(sorted(registry.REGISTRY))}"))
        return None
    try:
        module = registry.load(type_name)
    except ImportError as exc:  # an adapter whose optional dependency is missing
        problems.append(Problem(f"{path}.type", f"adapter {type_name!r} cannot be loaded: {exc}"))
        return None
    try:
        return module.Config.model_validate(raw)
    except ValidationError as exc:
        problems.extend(_problems_from(exc, path))
        return None


def _cross_check(
    data: dict[str, Any], indexed: list[tuple[int, GroupConfig]], raw_groups: list[Any]
) -> list[Problem]:
    problems: list[Problem] = []
    declared_sinks = set(data["sinks"]) if isinstance(data.get("sinks"), dict) else set()
    seen: dict[str, int] = {}
    confidential_fallback: tuple[int, str] | None = None  # (index, name) of the first one
    for i, g in indexed:
        where = f"groups[{i}]"
        if g.sink not in declared_sinks:
            problems.append(Problem(f"{where}.sink", f"no sink named {g.sink!r}",
                                    f"declared sinks: {', '.join(sorted(declared_sinks)) or 'none'}"))
        if g.name in seen:
            problems.append(Problem(f"{where}.name", f"group name {g.name!r} is used twice",
                                    f"first at groups[{seen[g.name]}]"))
        seen.setdefault(g.name, i)
        sink_cfg = data["sinks"].get(g.sink) if isinstance(data.get("sinks"), dict) else None
        sink_type = sink_cfg.get("type") if isinstance(sink_cfg, dict) else None
        problems.extend(_check_chat_id(sink_type, g.chat_id, f"{where}.chat_id"))
        if not g.fallback and not g.topics:
            problems.append(Problem(f"{where}.topics", "a group that is not the fallback needs topics",
                                    "list the topics it receives, or set fallback: true"))
        if g.fallback and g.confidential:
            if g.topics:
                problems.append(Problem(f"{where}.topics", "the confidential triage group (fallback: true, "
                                        "confidential: true) takes every confidential complaint no "
                                        "confidential group takes; it cannot have topics",
                                        "remove its topics, or drop 'fallback: true' to make it an "
                                        "ordinary confidential group for those topics"))
            if confidential_fallback is not None:
                problems.append(Problem(f"{where}.fallback", "a second confidential triage group (fallback: "
                                        "true, confidential: true); at most one is allowed",
                                        f"the first is groups[{confidential_fallback[0]}] "
                                        f"({confidential_fallback[1]!r}); keep one"))
            else:
                confidential_fallback = (i, g.name)
    # one chat for a confidential group and an ordinary one would show confidential complaints to
    # the ordinary officers (a copied chat id is enough)
    chats: dict[tuple[str, str], tuple[int, GroupConfig]] = {}
    for i, g in indexed:
        first = chats.setdefault((g.sink, g.chat_id), (i, g))
        if first[1].confidential != g.confidential:
            problems.append(Problem(f"groups[{i}].chat_id",
                                    f"group {g.name!r} posts to the same chat as groups[{first[0]}] "
                                    f"({first[1].name!r}), but one is confidential and the other is not: "
                                    "the ordinary officers would read confidential complaints",
                                    "give the confidential group a chat of its own"))
    groups = [g for _, g in indexed]
    fallbacks = [g for g in groups if g.fallback and not g.confidential]
    if groups and not fallbacks:
        hint = ("mark one group 'fallback: true' (triage): low-confidence and unmatched complaints go "
                "there, never nowhere")
        if confidential_fallback is not None:
            hint += (f"; the confidential triage group groups[{confidential_fallback[0]}] takes only "
                     "confidential complaints")
        problems.append(Problem("groups", "no fallback group", hint))
    if len(fallbacks) > 1:
        problems.append(Problem("groups", f"{len(fallbacks)} fallback groups "
                                f"({', '.join(g.name for g in fallbacks)}); exactly one is needed",
                                "a triage group for confidential complaints is marked "
                                "'confidential: true' as well"))
    if not raw_groups:
        problems.append(Problem("groups", "no officer groups are configured"))
    return problems


def _heads_alone(raw: Any) -> HeadsConfig | None:
    """``heads`` read on its own when the top level failed (its own problems are reported there)."""
    try:
        return HeadsConfig.model_validate(raw or {})
    except ValidationError:
        return None


def _check_heads(data: dict[str, Any], heads: HeadsConfig, groups: list[GroupConfig]) -> list[Problem]:
    """Heads' chats use declared sinks and valid chat ids; heads sit in groups that exist; a
    heads' group's dinas is one that some officer group names."""
    problems: list[Problem] = []
    sinks = data["sinks"] if isinstance(data.get("sinks"), dict) else {}
    names = {g.name for g in groups}
    known_dinas = {g.dinas for g in groups if g.dinas}
    chats: list[tuple[str, str, str, bool]] = [
        (f"heads.groups[{i}]", h.sink, h.chat_id, False) for i, h in enumerate(heads.groups)
    ] + [(f"heads.people[{i}]", p.sink, p.chat_id, True) for i, p in enumerate(heads.people)]
    for where, sink, chat_id, private in chats:
        if sink not in sinks:
            problems.append(Problem(f"{where}.sink", f"no sink named {sink!r}",
                                    f"declared sinks: {', '.join(sorted(sinks)) or 'none'}"))
            continue
        sink_type = sinks[sink].get("type") if isinstance(sinks[sink], dict) else None
        if private and chat_id.isdigit() and sink_type != "waha":
            continue  # a head's private chat with the bot: a positive user id is right here
        problems.extend(_check_chat_id(sink_type, chat_id, f"{where}.chat_id"))
    for i, head in enumerate(heads.groups):
        for j, dinas in enumerate(head.dinas):
            if dinas not in known_dinas:
                problems.append(Problem(f"heads.groups[{i}].dinas[{j}]", f"no officer group has dinas {dinas!r}",
                                        f"dinas named by groups: {', '.join(sorted(known_dinas)) or 'none'}"))
    for i, person in enumerate(heads.people):
        for j, name in enumerate(person.groups):
            if name not in names:
                problems.append(Problem(f"heads.people[{i}].groups[{j}]", f"no officer group named {name!r}"))
    return problems


#: Keys whose value is meant to be yes/no; elsewhere YAML 1.1's yes/no/on/off booleans are a trap.
_BOOL_KEYS = {"fallback", "confidential"}
_YAML_BOOL_TAG = "tag:yaml.org,2002:bool"
_YAML_INT_TAG = "tag:yaml.org,2002:int"
_YAML_FLOAT_TAG = "tag:yaml.org,2002:float"


_YAML_MERGE_TAG = "tag:yaml.org,2002:merge"


def _read_yaml(text: str) -> tuple[Any, list[Problem]]:
    """Parse YAML and catch what silently changes a value: duplicate keys and YAML 1.1 readings.

    A key written twice in one mapping is a problem at its path (with both line numbers): YAML
    keeps only the last value, so a second ``groups:`` would drop every group of the first.
    Keys brought in by a ``<<:`` merge may be overridden; that is what merging is for.
    PyYAML follows YAML 1.1: unquoted ``no``/``off``/``yes``/``on`` are booleans, ``22:00`` is
    the number 1320 (base 60), ``0123`` is octal 83. Those are reported as problems with their
    path, except yes/no on keys that are meant to be booleans. Raises yaml.YAMLError.
    """
    loader = yaml.SafeLoader(text)
    problems: list[Problem] = []
    try:
        root = loader.get_single_node()
        if root is None:
            return None, problems

        def build(node: yaml.Node, path: str, key: str | None) -> Any:
            if isinstance(node, yaml.MappingNode):
                # the keys written here, before flatten_mapping adds those of a <<: merge
                written = {id(k) for k, _ in node.value if k.tag != _YAML_MERGE_TAG}
                loader.flatten_mapping(node)
                out: dict[Any, Any] = {}
                first_line: dict[Any, int] = {}
                for key_node, value_node in node.value:
                    k = loader.construct_object(key_node, deep=True)
                    try:
                        hash(k)
                    except TypeError:
                        raise yaml.constructor.ConstructorError(
                            "while reading a mapping", node.start_mark,
                            "found a key that is a list or mapping", key_node.start_mark) from None
                    key_path = _path_text((k,), path)
                    if id(key_node) in written:
                        line = key_node.start_mark.line + 1
                        if k in first_line:
                            lines = (f"on line {line}" if first_line[k] == line
                                     else f"on line {first_line[k]} and line {line}")
                            problems.append(Problem(
                                key_path,
                                f"key {k!r} appears twice in the same mapping ({lines}); YAML would "
                                "silently keep only the last one",
                                "merge the two into one key, or delete the one you do not mean"))
                        else:
                            first_line[k] = line
                    out[k] = build(value_node, key_path, str(k))
                return out
            if isinstance(node, yaml.SequenceNode):
                return [build(child, f"{path}[{i}]", None) for i, child in enumerate(node.value)]
            value = loader.construct_object(node, deep=True)
            if isinstance(node, yaml.ScalarNode) and node.style is None:
                raw = node.value
                if node.tag == _YAML_BOOL_TAG and raw.lower() not in ("true", "false") \
                        and key not in _BOOL_KEYS:
                    problems.append(Problem(path, f"YAML reads {raw} as the boolean {value}",
                                            f"quote it if you mean the word: '{raw}'"))
                elif node.tag in (_YAML_INT_TAG, _YAML_FLOAT_TAG) and ":" in raw:
                    problems.append(Problem(path, f"YAML reads {raw} as the number {value} (base 60)",
                                            f"quote it: '{raw}'"))
                elif node.tag == _YAML_INT_TAG and re.fullmatch(r"[-+]?0[0-7_]+|[-+]?0o[0-7_]+", raw):
                    problems.append(Problem(path, f"YAML reads {raw} as the octal number {value}",
                                            f"quote it to keep the digits: '{raw}'"))
            return value

        return build(root, "", None), problems
    finally:
        loader.dispose()


_TELEGRAM_CHAT = re.compile(r"-?\d+|@[A-Za-z][A-Za-z0-9_]{3,}")


_WHATSAPP_CHAT = re.compile(r"[0-9][0-9-]*@(g\.us|c\.us|s\.whatsapp\.net)")


def _check_chat_id(sink_type: str | None, chat_id: str, where: str) -> list[Problem]:
    """Telegram chat ids are numbers (groups negative: -123..., supergroups -100...); WhatsApp
    chat ids (sink ``waha``) are JIDs (groups ``120363...@g.us``)."""
    if sink_type == "waha":
        if _WHATSAPP_CHAT.fullmatch(chat_id):
            return []
        return [Problem(where, f"{chat_id!r} is not a WhatsApp chat id",
                        "a group is written 120363...@g.us (WAHA lists them: GET /api/<session>/groups)")]
    if sink_type != "telegram":
        return []
    squeezed = re.sub(r"[\s.]", "", chat_id)
    if squeezed != chat_id and _TELEGRAM_CHAT.fullmatch(squeezed):
        return [Problem(where, f"chat id {chat_id!r} contains spaces or dots", f"write {squeezed}")]
    if not _TELEGRAM_CHAT.fullmatch(chat_id):
        return [Problem(where, f"{chat_id!r} is not a Telegram chat id",
                        "a group id is a negative number such as -1001234567890 (see the README: chat ids)")]
    if chat_id.lstrip("-").strip("0") == "":
        return [Problem(where, f"{chat_id!r} is not a chat id",
                        "a group id is a negative number such as -1001234567890 (see the README: chat ids)")]
    if chat_id.isdigit():
        hint = f"-{chat_id}" if chat_id.startswith("100") and len(chat_id) >= 13 else f"-{chat_id} or -100{chat_id}"
        return [Problem(where, f"chat id {chat_id} is positive: that is a private chat, not a group",
                        f"group ids are negative; did you mean {hint}?")]
    return []


def load_config(path: str | Path, *, env: dict[str, str] | None = None,
                secrets_optional: bool = False) -> Settings:
    """Read and check the YAML file at ``path``.

    Raises ConfigError (with every problem and its YAML path) when the file is missing, is not
    UTF-8, is not valid YAML, or does not pass the checks. ``secrets_optional``: see
    :func:`parse_config` (``status``, ``outbox``, ``report`` run without the daemon's secrets).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        hint = ("run from the project folder, or give --config PATH (the bundled one is "
                "config/groups.yaml)") if isinstance(exc, FileNotFoundError) else ""
        raise ConfigError([Problem("", f"cannot read the config: {exc.strerror}", hint)], str(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(_not_utf8(raw), str(path)) from None
    try:
        data, yaml_problems = _read_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([Problem(where, f"not valid YAML: {getattr(exc, 'problem', exc)}")], str(path))
    try:
        settings = parse_config(data, env=env, source=str(path), path=path,
                                secrets_optional=secrets_optional)
    except ConfigError as exc:
        raise ConfigError(_merge(yaml_problems, exc.problems), str(path)) from None
    if yaml_problems:
        raise ConfigError(yaml_problems, str(path))
    return settings


def _merge(first: list[Problem], second: list[Problem]) -> list[Problem]:
    """Problems of both lists; a YAML-reading problem explains a later one on the same path."""
    explained = {p.path for p in first}
    return first + [p for p in second if p.path not in explained]


#: At most this many lines with bytes that are not UTF-8 are listed (a whole file in another
#: encoding would otherwise bury the hint).
_MAX_ENCODING_PROBLEMS = 5
_SAVE_AS_UTF8 = ("save the file as UTF-8 (in Notepad: File > Save As, Encoding: UTF-8; "
                 "in Notepad++: Encoding > Convert to UTF-8)")


def _not_utf8(raw: bytes) -> list[Problem]:
    """One problem per line holding bytes that are not UTF-8, with the line and column (counted
    in characters, from 1) and what the byte would be in Windows-1252, the usual culprit."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return [Problem("line 1, column 1", "the file is saved as UTF-16 (Notepad's 'Unicode'), not UTF-8",
                        _SAVE_AS_UTF8)]
    problems: list[Problem] = []
    lines_seen: set[int] = set()
    start = 0
    while True:
        try:
            raw[start:].decode("utf-8")
            break
        except UnicodeDecodeError as exc:
            offset, start = start + exc.start, start + exc.end
        line_start = raw.rfind(b"\n", 0, offset) + 1
        line = raw.count(b"\n", 0, offset) + 1
        if line in lines_seen:
            continue
        lines_seen.add(line)
        column = len(raw[line_start:offset].decode("utf-8", errors="replace")) + 1
        byte = raw[offset:offset + 1]
        try:
            meant = f" (in Windows-1252 that is {byte.decode('cp1252')!r})"
        except UnicodeDecodeError:
            meant = ""
        problems.append(Problem(f"line {line}, column {column}",
                                f"the file is not UTF-8: byte 0x{byte[0]:02x} cannot be read{meant}",
                                _SAVE_AS_UTF8))
    if len(problems) > _MAX_ENCODING_PROBLEMS:
        more = len(problems) - _MAX_ENCODING_PROBLEMS
        problems = problems[:_MAX_ENCODING_PROBLEMS] + [
            Problem("", f"... and {more} more line(s) with bytes that are not UTF-8", _SAVE_AS_UTF8)]
    return problems
