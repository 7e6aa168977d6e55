"""Checks of a config against the things it refers to (the model and the official place list),
and warnings about a config that works but probably not as meant.

Kept apart from :mod:`forwarder.config` because they load the model and the Kemendagri list,
which plain config parsing should not need.
"""

from __future__ import annotations

from forwarder.config import Settings
from forwarder.errors import ModelError, Problem


def cross_check(settings: Settings, *, load_model: bool = True) -> tuple[list[Problem], list[str]]:
    """Problems (the config cannot work) and warnings (it works, but probably not as meant).

    * the fallback group lists ``topics`` (warning: routing ignores them, it takes what no other
      group takes);
    * every topic the model can emit reaches a group, or the fallback catches it (warning);
    * a topic named in the config that the model never emits (warning: that group stays quiet);
    * every kecamatan named in a group is one of the kabupaten's (problem, with a suggestion);
    * every source named in ``citizen.acknowledge_sources`` exists (problem) and can answer
      (warning; :func:`forwarder.citizen.check_sources`);
    * a model store (``model:``) holds no model files outside its versions, which would not be
      used (warning; :meth:`forwarder.classify.store.ModelStore.stray_note`).
    """
    from forwarder.citizen import check_sources

    problems, warnings = check_sources(settings)
    try:
        from forwarder.classify.places import Gazetteer

        gazetteer = Gazetteer.for_kabupaten(settings.kabupaten)
    except LookupError as exc:
        problems.append(Problem("kabupaten", str(exc)))
        gazetteer = None
    if gazetteer is not None:
        for i, group in enumerate(settings.groups):
            for j, name in enumerate(group.kecamatan or []):
                official = gazetteer.canonical_kecamatan(name)
                if official is None:
                    close = gazetteer.suggest_kecamatan(name)
                    problems.append(Problem(f"groups[{i}].kecamatan[{j}]",
                                            f"{name!r} is not a kecamatan of {settings.kabupaten}",
                                            f"did you mean: {', '.join(close)}" if close else ""))
                elif _fold(official) != _fold(name):
                    # a near miss may be another place (Sumberjo is a desa, Sumberrejo a kecamatan):
                    # never guess in a routing rule
                    problems.append(Problem(f"groups[{i}].kecamatan[{j}]",
                                            f"{name!r} is not a kecamatan of {settings.kabupaten}",
                                            f"did you mean {official!r}?"))
    for i, group in enumerate(settings.groups):
        if group.fallback and group.topics:
            warnings.append(f"groups[{i}].topics: the fallback group takes every complaint no other group "
                            f"takes; its topics are ignored ({', '.join(group.topics)}: give them a group of "
                            "their own, or remove them)")
    seen: dict[tuple[str, str], str] = {}
    for group in settings.groups:
        key = (group.sink, group.chat_id)
        if key in seen:
            warnings.append(f"groups {seen[key]!r} and {group.name!r} post to the same chat {group.chat_id}: "
                            "a complaint for both is posted there once")
        seen.setdefault(key, group.name)
    from forwarder.classify.model import is_model_store

    if is_model_store(settings.model):
        from forwarder.classify.store import ModelStore

        stray = ModelStore(settings.model).stray_note()
        if stray:
            warnings.append(f"model: {stray}")
    if load_model:
        from forwarder.classify.model import load_model as load

        try:
            model = load(settings.model)
        except ModelError as exc:
            problems.append(Problem("model", str(exc)))
        else:
            routed = {t for g in settings.groups if not g.fallback for t in g.topics}
            fallback = settings.fallback
            for topic in sorted(model.labels - routed):
                if topic in fallback.topics:  # listed there, but that is not what sends it there
                    warnings.append(f"topic {topic!r} of the model has no group other than the fallback "
                                    f"group {fallback.name!r}, which lists it but ignores its topics: "
                                    "it goes there as unrouted (triage), like any topic without a group")
                else:
                    warnings.append(f"topic {topic!r} of the model has no group: it goes to the fallback "
                                    f"group {fallback.name!r}")
            for topic in sorted(routed - model.labels):
                where = [g.name for g in settings.groups if topic in g.topics]
                warnings.append(f"topic {topic!r} (groups {', '.join(where)}) is never emitted by the "
                                f"model {settings.model}: those groups will receive nothing for it")
    return problems, warnings


def _fold(name: str) -> str:
    return "".join(name.casefold().split())
