"""Which officer groups receive a complaint: pure functions over the config's ``groups``.

The rule (``config/groups.yaml``):

* a complaint goes to every group whose ``topics`` include its topic and whose ``kecamatan``
  (when the group lists any) include the complaint's kecamatan;
* a group without a ``kecamatan`` list takes the topic from every kecamatan, and also complaints
  where no kecamatan was recognised;
* below the confidence threshold, without a topic (no usable words), or with no matching group,
  the complaint goes to the ``fallback`` group (triage), with the reason, so it never goes nowhere;
* a complaint marked confidential goes only to groups marked ``confidential: true``, and those
  groups receive only confidential complaints; with no such group for its topic (or below the
  threshold, or without usable words) it goes to the *confidential triage* group (``fallback:
  true`` and ``confidential: true``) when the config has one, else to the ordinary fallback.

The confidential triage group receives only confidential complaints; an ordinary complaint never
goes there. Everything else that sends a complaint to "triage" (the outbox when a group's chat is
gone, an officer's "bukan kami", a citizen's reply no group holds, ``forwarder flag``) picks the
group with :func:`triage_group` / :class:`Triage`, and who may see a confidential complaint's
text is :func:`sees_confidential`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from forwarder.config import GroupConfig
from forwarder.store import Destination


@dataclass(frozen=True)
class Routing:
    """The groups chosen for a complaint, and why it went to triage when it did."""

    groups: tuple[GroupConfig, ...]
    triage_reason: str | None = None


def _fold(name: str) -> str:
    return " ".join(name.casefold().split())


def confidential_triage(groups: Sequence[GroupConfig]) -> GroupConfig | None:
    """The confidential triage group of ``groups`` (``fallback`` and ``confidential``), or None."""
    return next((g for g in groups if g.fallback and g.confidential), None)


def triage_group(groups: Sequence[GroupConfig], *, confidential: bool) -> GroupConfig:
    """The group that takes a complaint no other group takes: for a confidential complaint the
    confidential triage group when ``groups`` has one, otherwise the ordinary fallback group.

    ``groups`` must hold exactly one ordinary fallback group and at most one confidential one
    (checked by the config loader); raises StopIteration when there is no ordinary one."""
    if confidential:
        found = confidential_triage(groups)
        if found is not None:
            return found
    return next(g for g in groups if g.fallback and not g.confidential)


def sees_confidential(group: GroupConfig, groups: Sequence[GroupConfig]) -> bool:
    """May ``group`` read (and act on) a confidential complaint: a confidential group (the
    confidential triage group among them), or the ordinary triage group when ``groups`` has no
    confidential triage group (it then receives the confidential complaints no confidential
    group takes, as it always did)."""
    return group.confidential or (group.fallback and confidential_triage(groups) is None)


@dataclass(frozen=True)
class Triage:
    """Where the triage groups post (their destinations, with a migrated chat's new id when the
    caller's ``chat_id`` gives it). ``confidential`` is None when the config has no
    confidential triage group."""

    ordinary: Destination
    confidential: Destination | None = None

    @classmethod
    def of(cls, groups: Sequence[GroupConfig],
           chat_id: Callable[[str, str], str] = lambda sink, chat: chat) -> Triage:
        """The triage destinations of the config's ``groups``; ``chat_id(sink, chat id)`` gives
        the chat to post to (``Store.chat_override`` or the configured id)."""
        def dest(group: GroupConfig) -> Destination:
            return Destination(group.name, group.sink, chat_id(group.sink, group.chat_id))

        secret = confidential_triage(groups)
        return cls(dest(triage_group(groups, confidential=False)),
                   dest(secret) if secret is not None else None)

    def for_complaint(self, confidential: bool) -> Destination:
        """The triage destination of a complaint that is (or is not) confidential."""
        return self.confidential if confidential and self.confidential is not None else self.ordinary

    @property
    def names(self) -> frozenset[str]:
        """The names of the triage groups (one or two)."""
        return frozenset(d.group_name for d in (self.ordinary, self.confidential) if d is not None)


def route(
    groups: Sequence[GroupConfig],
    *,
    topic: str | None,
    confidence: float,
    kecamatan: str | None,
    threshold: float,
    confidential: bool = False,
) -> Routing:
    """Choose the officer groups for one complaint.

    ``groups`` must hold exactly one ordinary fallback group and at most one confidential
    triage group (checked by the config loader); ``confidence`` and ``threshold`` are
    probabilities in [0, 1]. Never returns an empty tuple; the confidential triage group only
    for a ``confidential`` complaint.
    """
    fallback = triage_group(groups, confidential=confidential)
    if topic is None:
        return Routing((fallback,), "teks tanpa kata yang dapat dibaca")
    if confidence < threshold:
        return Routing(
            (fallback,),
            f"keyakinan rendah untuk topik {topic} ({confidence:.0%} < {threshold:.0%})",
        )
    place = _fold(kecamatan) if kecamatan else None
    chosen = []
    for group in groups:
        if group.fallback or topic not in group.topics:
            continue
        if group.kecamatan:
            if place is None or place not in {_fold(k) for k in group.kecamatan}:
                continue
        if group.confidential != confidential:
            continue
        chosen.append(group)
    if chosen:
        return Routing(tuple(chosen))
    if confidential:
        return Routing((fallback,), f"pengaduan rahasia: tidak ada grup rahasia untuk topik {topic}")
    if not any(topic in g.topics for g in groups if not g.fallback and not g.confidential):
        return Routing((fallback,), f"tidak ada grup untuk topik {topic}")
    where = f" di kecamatan {kecamatan}" if kecamatan else " (kecamatan tidak dikenali)"
    return Routing((fallback,), f"tidak ada grup untuk topik {topic}{where}")
