"""``forwarder model ...``: the retraining loop over a model store (:mod:`forwarder.classify.store`).

::

    forwarder model train    --store S --data CSV [--data CSV2] [--database DB] [--date-column C] ...
    forwarder model evaluate [VERSION] --store S --data CSV [--database DB]
    forwarder model promote  [VERSION] --store S [--force]
    forwarder model rollback [VERSION] --store S
    forwarder model list     --store S
    forwarder model show     [VERSION] --store S

``train`` fits a candidate on the training part of the CSVs plus the officer labels of the forwarder
database (table ``labels``: complaint_id, text, topic, labelled_by, labelled_at; the newest label of
each complaint), then scores the candidate *and the current model* on the same held-out rows, prints
both per topic, draws both confusion matrices (``versions/<id>/evaluation/*.png``) and records the
comparison in the candidate's card. ``promote`` makes the candidate current only if its held-out
macro-F1 is not below the current model's on that comparison, unless ``--force``. The current model
may have been trained on some of the held-out rows; its figure is then optimistic, which errs on the
side of keeping it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from forwarder.classify.cli_common import console, data_options, read_training_data
from forwarder.classify.data import TrainingDataError, read_officer_labels
from forwarder.classify.evaluate import confusion_png, evaluate
from forwarder.classify.model import TopicModel, load_model
from forwarder.classify.store import ModelStore, open_store
from forwarder.errors import ModelError

store_option = click.option(
    "--store", default="models/default", show_default=True, type=click.Path(file_okay=False),
    help="Model store directory (the config's `model:`).",
)


def _store(path: str, create: bool = False) -> ModelStore:
    try:
        return open_store(path, create=create)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc


def _load(path: Path) -> TopicModel:
    try:
        return load_model(path)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc


def compare(
    candidate: TopicModel,
    current: TopicModel | None,
    texts: list[str],
    truth: list[str],
    outdir: Path,
) -> dict[str, Any]:
    """Score both models on the same rows, draw their confusion matrices, print a table.

    Rows either model was fitted on (its ``training_rows``) are left out first, so neither is
    judged on complaints it has seen. When the current model has seen every row, only the
    candidate is scored (``note`` says why). Returns ``{"rows", "left_out", "note", "candidate":
    metrics, "current": metrics | None, "current_version"}``. Raises ClickException when no row
    is left even for the candidate.
    """
    from forwarder.classify.model import row_hash

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
            "evaluate on new labelled complaints with `forwarder model evaluate --data CSV`"
        )
    result: dict[str, Any] = {
        "rows": int(fresh.sum()),
        "left_out": int((~fresh).sum()),
        "current_version": current.version if current else None,
        "current": None,
        "note": note,
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
    _print_comparison(result, candidate.version)
    return result


def _print_comparison(result: dict[str, Any], candidate_version: str) -> None:
    cand, cur = result["candidate"], result["current"]
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
        row = [topic, f"{m['f1']:.3f}"]
        if cur:
            other = cur["per_topic"].get(topic)
            row.append(f"{other['f1']:.3f}" if other else "-")
        table.add_row(*row, str(m["support"]))
    summary = [("accuracy", "accuracy"), ("macro-F1", "macro_f1")]
    for label, key in summary:
        row = [f"[bold]{label}[/bold]", f"{cand[key]:.3f}"] + ([f"{cur[key]:.3f}"] if cur else [])
        table.add_row(*row, "")
    cov = [f"{cand['coverage']['0.8']['precision']:.3f}"]
    if cur:
        cov.append(f"{cur['coverage']['0.8']['precision']:.3f}")
    table.add_row("[bold]precision @80% coverage[/bold]", *cov, "")
    console.print(table)
    if result.get("note"):
        console.print(f"[yellow]not compared with the current model: {result['note']}; "
                      "`forwarder model evaluate --data NEW.csv` can compare them[/yellow]")
    for key in ("candidate_png", "current_png"):
        if key in result:
            console.print(f"[dim]confusion matrix: {result[key]}[/dim]")


@click.group("model")
def model_group():
    """Retrain, compare, promote and roll back the topic model (a model store)."""


@model_group.command("train")
@data_options
@click.option("--database", type=click.Path(dir_okay=False),
              help="Forwarder database: officer labels from its `labels` table are added.")
@click.option("--refit", is_flag=True, help="After evaluating, retrain the candidate on all rows.")
@store_option
def train_cmd(data, text_column, label_column, label_map, date_column, skip_bad_dates, test_fraction,
              database, refit, store):
    """Train a candidate from CSV(s) and officer labels; compare it with the current model."""
    from forwarder.classify.train import train_and_evaluate

    model_store = _store(store, create=True)
    steps = ["reading data", "fitting the candidate", "comparing with the current model", "writing"]
    columns = [SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed}/{task.total}"),
               TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(steps[0], total=len(steps))
        labelled = read_training_data(data, text_column, label_column, date_column, label_map,
                                      skip_bad_dates)
        if database:
            try:
                labelled.extend(read_officer_labels(database))
            except TrainingDataError as exc:
                raise click.ClickException(str(exc)) from exc
        progress.update(task, advance=1, description=steps[1])
        try:
            result = train_and_evaluate(
                labelled, test_fraction=test_fraction, by_date=bool(date_column), refit=refit,
                sources=[str(p) for p in data] + ([f"{database}#labels"] if database else []),
            )
        except TrainingDataError as exc:
            raise click.ClickException(str(exc)) from exc
        progress.update(task, advance=1, description=steps[2])
        current = _load(model_store.root) if model_store.current_id else None
        version = model_store.add(result.model)
        comparison = compare(result.evaluated, current, result.test.texts, result.test.labels,
                             version.path / "evaluation")
        model_store.update_card(version.id, comparison=_summary(comparison))
        progress.update(task, advance=1, description=steps[3])
        progress.update(task, advance=1, description="done")
    for note in labelled.notes:
        console.print(f"[dim]{note}[/dim]")
    console.print(f"candidate {version.id} written to {version.path}; "
                  f"`forwarder model promote --store {store}` makes it current")


def _summary(comparison: dict[str, Any]) -> dict[str, Any]:
    cand, cur = comparison["candidate"], comparison["current"]
    return {
        "rows": comparison["rows"],
        "candidate_macro_f1": cand["macro_f1"],
        "current_version": comparison["current_version"],
        "current_macro_f1": cur["macro_f1"] if cur else None,
    }


@model_group.command("evaluate")
@click.argument("version", required=False)
@data_options(split=False)
@click.option("--database", type=click.Path(dir_okay=False), help="Add officer labels from this database.")
@store_option
def evaluate_cmd(version, data, text_column, label_column, label_map, database, store):
    """Score VERSION (default: newest candidate) and the current model on the rows of --data.

    Rows either model was trained on are left out. The comparison is stored in VERSION's card
    and is what `promote` decides on.
    """
    model_store = _store(store)
    try:
        chosen = model_store.version(version) if version else model_store.newest_candidate()
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc
    labelled = read_training_data(data, text_column, label_column, None, label_map)
    if database:
        try:
            labelled.extend(read_officer_labels(database))
        except TrainingDataError as exc:
            raise click.ClickException(str(exc)) from exc
    if not len(labelled):
        raise click.ClickException("no labelled rows to evaluate on")
    candidate = _load(chosen.path)
    current = None
    if model_store.current_id and model_store.current_id != chosen.id:
        current = _load(model_store.root)
    comparison = compare(candidate, current, labelled.texts, labelled.labels, chosen.path / "evaluation")
    model_store.update_card(chosen.id, comparison=_summary(comparison))


@model_group.command("promote")
@click.argument("version", required=False)
@click.option("--force", is_flag=True, help="Promote even if its macro-F1 is below the current model's.")
@click.option("--by", default="", help="Who promotes (recorded in history.jsonl).")
@store_option
def promote_cmd(version, force, by, store):
    """Make VERSION (default: the newest candidate) the current model, if it is not worse."""
    model_store = _store(store)
    try:
        chosen = model_store.version(version) if version else model_store.newest_candidate()
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc
    if chosen.current:
        raise click.ClickException(f"{chosen.id} is already the current model")
    _load(chosen.path)  # refuse a version this install cannot load
    comparison = chosen.card.get("comparison") or {}
    current_id = model_store.current_id
    if current_id and not force:
        if comparison.get("current_version") != current_id or comparison.get("current_macro_f1") is None:
            raise click.ClickException(
                f"{chosen.id} has not been compared with the current model {current_id}; run "
                f"`forwarder model evaluate {chosen.id} --store {store} --data CSV` or use --force"
            )
        if comparison["candidate_macro_f1"] < comparison["current_macro_f1"]:
            raise click.ClickException(
                f"{chosen.id} is worse than the current model {current_id} on the same "
                f"{comparison['rows']} held-out rows (macro-F1 {comparison['candidate_macro_f1']:.3f} "
                f"< {comparison['current_macro_f1']:.3f}); not promoted (--force to promote anyway)"
            )
    model_store.set_current(chosen.id, "promote (forced)" if force else "promote", by=by)
    console.print(f"{chosen.id} is now the current model (was {current_id or 'none'}); "
                  "restart the daemon or send it SIGHUP to use it")


@model_group.command("rollback")
@click.argument("version", required=False)
@click.option("--by", default="", help="Who rolls back (recorded in history.jsonl).")
@store_option
def rollback_cmd(version, by, store):
    """Make VERSION (default: the previously current one) the current model again."""
    model_store = _store(store)
    target = version or model_store.previous_id()
    if not target:
        raise click.ClickException("no earlier version to roll back to; name one (see `forwarder model list`)")
    try:
        chosen = model_store.version(target)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc
    _load(chosen.path)
    before = model_store.current_id
    model_store.set_current(chosen.id, "rollback", by=by)
    console.print(f"{chosen.id} is now the current model (was {before or 'none'})")


@model_group.command("list")
@store_option
def list_cmd(store):
    """List the versions with the figures from their model cards."""
    model_store = _store(store)
    table = Table(title=str(model_store.root))
    table.add_column("version", no_wrap=True)
    for name in ("status", "topics", "rows", "macro-F1", "accuracy", "vs current then"):
        table.add_column(name)
    for v in model_store.versions():
        metrics = v.card.get("metrics", {})
        comparison = v.card.get("comparison") or {}
        versus = "-"
        if comparison.get("current_macro_f1") is not None:
            versus = (f"{comparison['candidate_macro_f1']:.3f} vs {comparison['current_macro_f1']:.3f}"
                      f" ({comparison['current_version']})")
        table.add_row(
            v.id, v.status, str(len(v.card.get("labels", []))), str(v.card.get("data", {}).get("rows", "-")),
            f"{metrics['macro_f1']:.3f}" if "macro_f1" in metrics else "-",
            f"{metrics['accuracy']:.3f}" if "accuracy" in metrics else "-",
            versus,
        )
    console.print(table)


@model_group.command("show")
@click.argument("version", required=False)
@store_option
def show_cmd(version, store):
    """Print the model card of VERSION (default: the current one) as JSON."""
    model_store = _store(store)
    target = version or model_store.current_id
    if not target:
        raise click.ClickException(f"{store} has no current model")
    try:
        chosen = model_store.version(target)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(chosen.card, indent=2, ensure_ascii=False))

