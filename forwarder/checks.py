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

    * the fallback group lists ``topics`` or ``kecamatan`` (warning: routing ignores them, it
      takes what no other group takes);
    * every topic the model can emit reaches a group, or the fallback catches it (warning);
    * a topic named in the config that the model never emits (warning: that group stays quiet);
    * no confidential triage group (``fallback`` and ``confidential``): confidential complaints
      that no confidential group takes (low confidence, no usable words, the topics named) go to
      the ordinary triage group, whose officers read them (warning);
    * every kecamatan named in a group is one of the kabupaten's (problem, with a suggestion);
    * every source named in ``citizen.acknowledge_sources`` exists (problem) and can answer
      (warning; :func:`forwarder.citizen.check_sources`);
    * no ``heads.groups``: overdue alerts (lewat batas) go only there, so nobody hears of them
      (warning; officers still get their reminders before a deadline);
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
    if not settings.heads.groups:
        warnings.append("heads.groups: none, so overdue alerts (complaints past their deadline) reach nobody; "
                        "add the heads' group chat(s) (README, 'Response times and reminders')")
    for i, group in enumerate(settings.groups):
        if group.fallback and group.topics:
            warnings.append(f"groups[{i}].topics: the fallback group takes every complaint no other group "
                            f"takes; its topics are ignored ({', '.join(group.topics)}: give them a group of "
                            "their own, or remove them)")
        if group.fallback and group.kecamatan:
            warnings.append(f"groups[{i}].kecamatan: a triage group takes what no other group takes, from "
                            f"every kecamatan; its kecamatan are ignored ({', '.join(group.kecamatan)}: "
                            "remove them)")
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
    labels: frozenset[str] | None = None  # the topics the model can emit, when it was loaded
    if load_model:
        from forwarder.classify.model import load_model as load

        try:
            model = load(settings.model)
        except ModelError as exc:
            problems.append(Problem("model", str(exc)))
        else:
            labels = frozenset(model.labels)
            routed = {t for g in settings.groups if not g.fallback for t in g.topics}
            fallback = settings.fallback
            secret = settings.confidential_fallback
            also = f" (a confidential one to the confidential triage group {secret.name!r})" if secret else ""
            for topic in sorted(model.labels - routed):
                if topic in fallback.topics:  # listed there, but that is not what sends it there
                    warnings.append(f"topic {topic!r} of the model has no group other than the fallback "
                                    f"group {fallback.name!r}, which lists it but ignores its topics: "
                                    "it goes there as unrouted (triage), like any topic without a group"
                                    + also)
                else:
                    warnings.append(f"topic {topic!r} of the model has no group: it goes to the fallback "
                                    f"group {fallback.name!r}{also}")
            for topic in sorted(routed - model.labels):
                where = [g.name for g in settings.groups if topic in g.topics]
                warnings.append(f"topic {topic!r} (groups {', '.join(where)}) is never emitted by the "
                                f"model {settings.model}: those groups will receive nothing for it")
    if settings.confidential_fallback is None:
        warnings.append(_confidential_triage_warning(settings, labels))
    return problems, warnings


def _confidential_triage_warning(settings: Settings, labels: frozenset[str] | None) -> str:
    """The warning for a config without a confidential triage group, naming the topics (of the
    model, or of the groups when the model was not loaded) whose confidential complaints no
    confidential group takes, everywhere or outside the kecamatan listed."""
    topics = labels if labels is not None else {t for g in settings.groups for t in g.topics}
    concerned = []
    for topic in sorted(topics):
        takers = [g for g in settings.groups if g.confidential and not g.fallback and topic in g.topics]
        if not takers:
            concerned.append(topic)
        elif all(g.kecamatan for g in takers):
            places = sorted({k for g in takers for k in g.kecamatan or []})
            concerned.append(f"{topic} outside kecamatan {', '.join(places)}")
    which = (f"no confidential group takes their topic ({'; '.join(concerned)}), "
             if concerned else "")
    return (f"groups: no confidential triage group: confidential complaints (RAHASIA, `forwarder flag`) go "
            f"to the ordinary triage group {settings.fallback.name!r}, whose officers then read them, when "
            f"{which}their confidence is low or they have no usable words; add a group with "
            "'fallback: true' and 'confidential: true' to keep them among confidential groups")


def _fold(name: str) -> str:
    return "".join(name.casefold().split())
