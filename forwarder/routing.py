"""Which officer groups receive a complaint: pure functions over the config's ``groups``.

The rule (``config/groups.yaml``):

* a complaint goes to every group whose ``topics`` include its topic and whose ``kecamatan``
  (when the group lists any) include the complaint's kecamatan;
* a group without a ``kecamatan`` list takes the topic from every kecamatan, and also complaints
  where no kecamatan was recognised;
* below the confidence threshold, without a topic (no usable words), or with no matching group,
  the complaint goes to the ``fallback`` group (triage), with the reason, so it never goes nowhere;
* a complaint marked confidential goes only to groups marked ``confidential: true``, and those
  groups receive only confidential complaints; with no such group for its topic, it goes to the
  fallback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from forwarder.config import GroupConfig


@dataclass(frozen=True)
class Routing:
    """The groups chosen for a complaint, and why it went to triage when it did."""

    groups: tuple[GroupConfig, ...]
    triage_reason: str | None = None


def _fold(name: str) -> str:
    return " ".join(name.casefold().split())


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

    ``groups`` must hold exactly one fallback group (checked by the config loader);
    ``confidence`` and ``threshold`` are probabilities in [0, 1]. Never returns an empty tuple.
    """
    fallback = next(g for g in groups if g.fallback)
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
    where = f" di kecamatan {kecamatan}" if kecamatan else " (kecamatan tidak dikenali)"
    return Routing((fallback,), f"tidak ada grup untuk topik {topic}{where}")
