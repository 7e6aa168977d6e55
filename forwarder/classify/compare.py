"""Is a candidate topic model fit to replace the current one? The comparison ``forwarder model
train|evaluate`` prints and records, and the fit of a model's topics to the config's groups that
``forwarder model promote`` checks.

**Scores.** Both models are scored on the same held-out rows, leaving out rows either was fitted
on (:func:`compare`). The figure ``promote`` decides on is the macro-F1 over the *compared topics*:
the topics of the held-out rows that **both** models can emit. When the two models have the same
topics this is the ordinary macro-F1. When their topics differ, the comparison says so plainly
("the models' topics differ: only in candidate: ...; only in current: ...") and averages the
per-topic F1 over the shared topics only: a topic one model cannot emit would score 0 for it and
say nothing about which model classifies better (a candidate with labels ``AIR/JLN/SAMPAH`` scored
1.000 against 0.000 for a current model with ``air_bersih/jalan/kebersihan`` on its own held-out
rows). When no topic is shared, the models are not compared at all (``current_macro_f1`` is
``None``), so the candidate is never called better and ``promote`` needs ``--force``. The other
topics' F1 is still shown, for the record.

**Groups.** :func:`group_fit` tells which of a model's topics no officer group takes (those
complaints go to the fallback/triage group; :mod:`forwarder.routing`) and which topics the groups
wait for that the model never emits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.table import Table

from forwarder.classify.cli_common import console
from forwarder.classify.evaluate import confusion_png, evaluate
from forwarder.classify.model import TopicModel, row_hash
from forwarder.config import GroupConfig
from forwarder.routing import confidential_triage


def compare(
    candidate: TopicModel,
    current: TopicModel | None,
    texts: list[str],
    truth: list[str],
    outdir: Path,
    store: str = "STORE",
) -> dict[str, Any]:
    """Score both models on the same rows, draw their confusion matrices, print a table.

    Rows either model was fitted on (its ``training_rows``) are left out first, so neither is
    judged on complaints it has seen. When the current model has seen every row, only the
    candidate is scored (``note`` says why). Returns ``{"rows", "left_out", "note", "candidate":
    metrics, "current": metrics | None, "current_version", "compared_topics", "only_in_candidate",
    "only_in_current", "candidate_macro_f1", "current_macro_f1"}`` (the last two over the compared
    topics, module doc; ``current_macro_f1`` is ``None`` when the models were not compared).
    Raises ClickException when no row is left even for the candidate.
    """

    def unseen_by(models: list[TopicModel | None]) -> np.ndarray:
        fresh = np.ones(len(texts), dtype=bool)
        for model in models:
            if model is not None and model.training_rows is not None:
                fresh &= ~np.isin(hashes, model.training_rows)
        return fresh

    hashes = np.array([row_hash([t])[0] for t in texts], dtype=np.uint64)
    fresh = unseen_by([candidate, current])
    note = ""
    if current is not None and not fresh.any():
        note = f"every held-out row was in the training data of the current model {current.version}"
        current, fresh = None, unseen_by([candidate])
    if not fresh.any():
        raise click.ClickException(
            "no held-out row is left once the rows the models were trained on are left out; "
            f"evaluate on new labelled complaints with `forwarder model evaluate --store {store} "
            "--data NEW.csv`"
        )
    result: dict[str, Any] = {
        "rows": int(fresh.sum()),
        "left_out": int((~fresh).sum()),
        "current_version": current.version if current else None,
        "current": None,
        "note": note,
        "only_in_candidate": sorted(candidate.labels - current.labels) if current else [],
        "only_in_current": sorted(current.labels - candidate.labels) if current else [],
    }
    texts = [t for t, ok in zip(texts, fresh) if ok]
    truth = [t for t, ok in zip(truth, fresh) if ok]
    scored = [("candidate", candidate)] + ([("current", current)] if current else [])
    for role, model in scored:
        tags = model.predict(texts)
        result[role] = evaluate(texts, truth, tags)
        png = confusion_png(truth, tags, outdir / f"confusion-{role}-{model.version}.png",
                            title=f"{role} {model.version} on {len(texts)} held-out rows")
        result[f"{role}_png"] = str(png)
    both = candidate.labels & (current.labels if current else candidate.labels)
    compared = sorted(set(truth) & both)
    result["compared_topics"] = compared
    result["candidate_macro_f1"] = _mean_f1(result["candidate"], compared)
    result["current_macro_f1"] = _mean_f1(result["current"], compared) if current else None
    if current is not None and not compared:
        result["note"] = "the models share no topic of the held-out rows"
    print_comparison(result, candidate.version, store)
    return result


def _mean_f1(metrics: dict[str, Any] | None, topics: list[str]) -> float | None:
    if metrics is None or not topics:
        return None
    return round(float(np.mean([metrics["per_topic"][t]["f1"] for t in topics])), 4)


def summary(comparison: dict[str, Any]) -> dict[str, Any]:
    """What the model card keeps of a comparison (``promote`` decides on it)."""
    return {
        "rows": comparison["rows"],
        "candidate_macro_f1": comparison["candidate_macro_f1"],
        "current_version": comparison["current_version"],
        "current_macro_f1": comparison["current_macro_f1"],
        "compared_topics": comparison["compared_topics"],
        "only_in_candidate": comparison["only_in_candidate"],
        "only_in_current": comparison["only_in_current"],
    }


def print_comparison(result: dict[str, Any], candidate_version: str, store: str = "STORE") -> None:
    cand, cur = result["candidate"], result["current"]
    differ = bool(result["only_in_candidate"] or result["only_in_current"])
    title = f"held-out rows: {result['rows']}"
    if result.get("left_out"):
        title += f" ({result['left_out']} left out: a model was trained on them)"
    table = Table(title=title)
    table.add_column("topic")
    table.add_column(f"candidate F1\n{candidate_version}", justify="right")
    if cur:
        table.add_column(f"current F1\n{result['current_version']}", justify="right")
    table.add_column("support", justify="right")
    for topic, m in sorted(cand["per_topic"].items()):
        row = [topic, "-" if topic in result["only_in_current"] else f"{m['f1']:.3f}"]
        if cur:
            other = cur["per_topic"].get(topic)
            row.append("-" if other is None or topic in result["only_in_candidate"] else f"{other['f1']:.3f}")
        table.add_row(*row, str(m["support"]))
    comparable = bool(result["compared_topics"])
    summary_rows = [("accuracy", "accuracy"), ("macro-F1, all topics" if differ else "macro-F1", "macro_f1")]
    for label, key in summary_rows:
        other = ([f"{cur[key]:.3f}" if comparable else "-"] if cur else [])
        table.add_row(f"[bold]{label}[/bold]", f"{cand[key]:.3f}", *other, "")
    if differ:
        shared = result["compared_topics"]
        values = [result["candidate_macro_f1"], result["current_macro_f1"]]
        table.add_row(f"[bold]macro-F1, {len(shared)} shared[/bold]",
                      *["-" if v is None or not comparable else f"{v:.3f}" for v in values], "")
    cov = [f"{cand['coverage']['0.8']['precision']:.3f}"]
    if cur:
        cov.append(f"{cur['coverage']['0.8']['precision']:.3f}" if comparable else "-")
    table.add_row("[bold]precision @80% coverage[/bold]", *cov, "")
    console.print(table)
    if differ:
        how = (f"macro-F1 is compared over the shared topics only ({', '.join(result['compared_topics'])})"
               if comparable else "they share no topic of these rows, so they cannot be compared")
        console.print(
            "[yellow]the models' topics differ: only in candidate: "
            f"{', '.join(result['only_in_candidate']) or '-'}; only in current: "
            f"{', '.join(result['only_in_current']) or '-'}. {how}; a '-' is a figure that does not "
            "apply (a topic the model cannot emit)[/yellow]"
        )
    elif result.get("note"):
        console.print(f"[yellow]not compared with the current model: {result['note']}; "
                      f"`forwarder model evaluate --store {store} --data NEW.csv` can compare them on "
                      "new labelled complaints[/yellow]")
    for key in ("candidate_png", "current_png"):
        if key in result:
            console.print(f"[dim]confusion matrix: {result[key]}[/dim]")


@dataclass(frozen=True)
class GroupFit:
    """How a model's topics meet the config's officer groups.

    ``no_group``: topics the model emits that no group (other than the fallback) takes: those
    complaints go to the fallback group ``fallback`` (the confidential ones to the confidential
    triage group ``confidential_fallback`` when the config has one). ``never_emitted``: topics
    groups wait for that the model never emits (those groups stay quiet). ``shares_none``: no
    topic of the model is taken by any group (every complaint would go to the fallback).
    ``lost``: topics the *current* model emits and groups take that this model never emits (their
    complaints would now be filed under another topic), with the groups that would stop receiving
    them.
    """

    no_group: tuple[str, ...]
    never_emitted: tuple[str, ...]
    shares_none: bool
    fallback: str | None
    lost: dict[str, list[str]] = field(default_factory=dict)
    confidential_fallback: str | None = None


def group_fit(labels: frozenset[str] | set[str], groups: list[GroupConfig],
              current: frozenset[str] | set[str] | None = None) -> GroupFit:
    """:class:`GroupFit` of a model with topics ``labels`` (``current``: the current model's)."""
    routed = {t for g in groups if not g.fallback for t in g.topics}
    fallback = next((g.name for g in groups if g.fallback and not g.confidential), None)
    secret = confidential_triage(groups)
    lost = sorted((set(current or ()) & routed) - set(labels))
    return GroupFit(
        no_group=tuple(sorted(set(labels) - routed)),
        never_emitted=tuple(sorted(routed - set(labels))),
        shares_none=not (set(labels) & routed),
        fallback=fallback,
        lost={t: [g.name for g in groups if t in g.topics and not g.fallback] for t in lost},
        confidential_fallback=secret.name if secret is not None else None,
    )


def fit_problems(fit: GroupFit, version: str, config: str) -> list[str]:
    """Why ``promote`` refuses a model (without ``--force``), one sentence each; ``[]`` if none."""
    triage = f"the fallback group {fit.fallback!r}" if fit.fallback else "the fallback group"
    if fit.confidential_fallback:
        triage += f" (the confidential ones to {fit.confidential_fallback!r})"
    if fit.shares_none:
        return [(f"none of the topics of {version} ({', '.join(fit.no_group)}) is taken by a group of "
                 f"{config}: EVERY complaint would go to {triage}. Train it with the config's topic "
                 "names (a --label-map CSV maps your labels onto them) or change the groups' topics")]
    problems = []
    if fit.no_group:
        problems.append(
            f"{version} emits topic(s) that no group of {config} takes: {', '.join(fit.no_group)}; "
            f"those complaints would go to {triage}. Add them to a group's `topics`, or map them "
            "onto the config's topics with --label-map and retrain")
    if fit.lost:
        lost = "; ".join(f"{t} (group {', '.join(g)})" for t, g in fit.lost.items())
        problems.append(
            f"{version} never emits topic(s) that the current model sends to groups of {config}: "
            f"{lost}: those groups would receive nothing and their complaints would be filed under "
            "other topics. Keep examples of those topics in the training data")
    return problems


def fit_warnings(fit: GroupFit, version: str, config: str) -> list[str]:
    """What works but is probably not meant: groups that would receive nothing (topics the
    current model did not emit either; the others are :func:`fit_problems`)."""
    quiet = [t for t in fit.never_emitted if t not in fit.lost]
    if quiet and not fit.shares_none:
        return [(f"topic(s) of {config} that {version} never emits: {', '.join(quiet)} "
                 "(their groups would receive nothing)")]
    return []
