"""``forwarder model ...``: the retraining loop over a model store (:mod:`forwarder.classify.store`).

::

    forwarder model train    --store S --data CSV [--data CSV2] [--database DB] [--date-column C]
                             [--config CFG] ...
    forwarder model evaluate [VERSION] --store S --data CSV [--database DB] [--config CFG]
    forwarder model promote  [VERSION] --store S [--config CFG] [--force]
    forwarder model rollback [VERSION] --store S   # no VERSION: one promotion further back each time
    forwarder model list     --store S
    forwarder model show     [VERSION] --store S

``train`` fits a candidate on the training part of the CSVs plus the officer labels of the forwarder
database (table ``labels``: complaint_id, text, topic, labelled_by, labelled_at; the newest label of
each complaint), then scores the candidate *and the current model* on the same held-out rows, prints
both per topic, draws both confusion matrices (``versions/<id>/evaluation/*.png``) and records the
comparison in the candidate's card (:mod:`forwarder.classify.compare`: when the two models' topics
differ, macro-F1 is compared over the shared topics only, and models sharing no topic are not
compared). ``evaluate`` does the same on other labelled rows; without VERSION it takes the newest
candidate, or, when there is none (after a promote), scores the current model alone.

``promote`` makes the candidate current only when, unless ``--force``:

* the config's groups (``--config``, default ``config/groups.yaml`` when it exists) take every topic
  the candidate emits: a topic no group takes would send its complaints to the fallback (triage)
  group, and a candidate sharing no topic with the groups would send them all there;
* it emits every topic the current model emits that a group takes (else that group goes quiet);
* it was compared with the current model and its macro-F1 (over the compared topics) is not below
  the current model's. The current model may have been trained on some of the held-out rows; its
  figure is then optimistic, which errs on the side of keeping it.

With ``--force`` it is promoted anyway and the consequences are printed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from forwarder.classify.cli_common import (
    DEFAULT_CONFIG,
    config_option,
    console,
    data_options,
    load_settings,
    read_training_data,
)
from forwarder.classify.compare import compare, fit_problems, fit_warnings, group_fit, summary
from forwarder.classify.data import TrainingDataError, read_officer_labels
from forwarder.classify.evaluate import confusion_png, evaluate
from forwarder.classify.model import (
    CARD_FILE,
    TopicModel,
    is_model_store,
    load_model,
    read_card,
    row_hash,
)
from forwarder.classify.store import ModelStore, Version, bundled_refusal, is_bundled, open_store
from forwarder.errors import ModelError

RELOAD_HINT = ("the running daemon uses it after `systemctl reload forwarder` (or `kill -HUP <pid>`; "
               "a restart does it too)")


store_option = click.option(
    "--store", type=click.Path(file_okay=False),
    help="Model store directory [default: the config's `model:`, the store the daemon uses]. The "
         "model bundled with forwarder (models/default of its repository) is never changed: copy "
         "it first (`cp -r models/default models/bojonegoro`, then `model: models/bojonegoro`).",
)


def _model_config_option(purpose: str = ""):
    """``--config``: whose ``model:`` is the store when ``--store`` is not given (and ``purpose``)."""
    return config_option("whose `model:` is the store when --store is not given" + purpose)


def _store_path(path: str | None, config_path: str | None, command: str) -> tuple[str, Any, str | None]:
    """``(store path, Settings or None, config path or None)`` of a ``forwarder model`` command:
    ``--store``, else the ``model:`` of ``--config`` (default ``config/groups.yaml``), which is
    then required (:class:`click.UsageError`, exit 2, when there is none; exit 2 too when it does
    not load)."""
    settings, config = load_settings(config_path, command)
    if path is None:
        if settings is None:
            raise click.UsageError(
                f"no --store given and no config at {DEFAULT_CONFIG} to take the model store from "
                "(its `model:`): pass --store DIR or --config PATH", click.get_current_context())
        path = str(settings.model)
        click.echo(f"model store {path} (the `model:` of {config})", err=True)
    return path, settings, config


def _store(path: str | None, config_path: str | None, command: str, create: bool = False,
           write: bool = False) -> tuple[ModelStore, str, Any, str | None]:
    """``(store, its path as given, Settings or None, config path or None)`` of a ``forwarder
    model`` command (the path as :func:`_store_path` finds it). ``write``/``create`` for the
    commands that change it (see :func:`open_store`): the bundled model is refused with the
    commands that make a store of one's own (named after the config's kabupaten), and the
    config's own `model:` when it is another."""
    path, settings, config = _store_path(path, config_path, command)
    if (create or write) and is_bundled(path):
        own = settings.kabupaten.lower().replace(" ", "-") if settings is not None else "bojonegoro"
        message = bundled_refusal(path, own, config)
        if settings is not None and not is_bundled(settings.model):
            message += (f"\n({config} uses the model {settings.model}: if that is your store, "
                        f"pass `--store {settings.model}`)")
        raise click.ClickException(message)
    try:
        return open_store(path, create=create, write=write), path, settings, config
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc


def _warn_other_model(settings: Any, config: str | None, store: str, doing: str) -> None:
    """Say so when the config's ``model:`` is not ``store``: changing it does not change the
    daemon's model."""
    if settings is not None and Path(settings.model).resolve() != Path(store).resolve():
        console.print(f"[yellow]{config} uses the model {settings.model}, not {store}: {doing} "
                      "here does not change what the daemon uses[/yellow]")


def _load(path: Path) -> TopicModel:
    try:
        return load_model(path)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("model")
def model_group():
    """Retrain, compare, promote and roll back the topic model (a model store)."""


@model_group.command("train")
@data_options
@click.option("--database", type=click.Path(dir_okay=False),
              help="Forwarder database: officer labels from its `labels` table are added.")
@click.option("--refit", is_flag=True, help="After evaluating, retrain the candidate on all rows.")
@store_option
@_model_config_option(", and whose groups the candidate's topics are checked against")
def train_cmd(data, text_column, label_column, label_map, date_column, skip_bad_dates, test_fraction,
              database, refit, store, config_path):
    """Train a candidate from CSV(s) and officer labels; compare it with the current model."""
    from forwarder.classify.train import train_and_evaluate

    model_store, store, settings, config = _store(store, config_path, "forwarder model train",
                                                  create=True)
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
                             version.path / "evaluation", store)
        model_store.update_card(version.id, comparison=summary(comparison))
        progress.update(task, advance=1, description=steps[3])
        progress.update(task, advance=1, description="done")
    for note in labelled.notes:
        console.print(f"[dim]{note}[/dim]")
    refused = _report_fit(result.model, settings, config, before_promote=True, current=current)
    console.print(f"candidate {version.id} written to {version.path}; "
                  f"`forwarder model promote --store {store}` makes it current"
                  + (" (it will refuse, see above, unless --force)" if refused else ""))


def _report_fit(model: TopicModel, settings: Any, config: str | None, before_promote: bool,
                current: TopicModel | None = None) -> list[str]:
    """Print how ``model``'s topics meet the config's groups; return the reasons to refuse it
    (printed too, unless it is ``promote`` itself that will print them)."""
    if settings is None:
        console.print("[yellow]no config checked (no --config and no config/groups.yaml here): "
                      "the candidate's topics were not compared with the officer groups' topics"
                      "[/yellow]")
        return []
    fit = group_fit(model.labels, settings.groups, current.labels if current else None)
    problems = fit_problems(fit, model.version, config)
    for text in problems if before_promote else ():
        console.print(f"[red]promote would refuse: {text}[/red]")
    for text in fit_warnings(fit, model.version, config):
        console.print(f"[yellow]{text}[/yellow]")
    return problems


@model_group.command("evaluate")
@click.argument("version", required=False)
@data_options(split=False)
@click.option("--database", type=click.Path(dir_okay=False), help="Add officer labels from this database.")
@store_option
@_model_config_option(", and whose groups the model's topics are checked against")
def evaluate_cmd(version, data, text_column, label_column, label_map, database, store, config_path):
    """Score VERSION and the current model on the rows of --data.

    Without VERSION: the newest candidate against the current model, or, when the store has no
    candidate (after a promote), the current model alone. Rows either model was trained on are
    left out. A candidate's comparison is stored in its card and is what `promote` decides on.
    """
    model_store, store, settings, config = _store(store, config_path, "forwarder model evaluate",
                                                  write=True)  # cards, PNGs
    chosen = _chosen(model_store, version, store, "evaluate")
    labelled = read_training_data(data, text_column, label_column, None, label_map)
    if database:
        try:
            labelled.extend(read_officer_labels(database))
        except TrainingDataError as exc:
            raise click.ClickException(str(exc)) from exc
    if not len(labelled):
        raise click.ClickException("no labelled rows to evaluate on")
    model = _load(chosen.path)
    if chosen.current:
        alone = "" if version else " (the store has no candidate to compare it with)"
        console.print(f"the current model {chosen.id} on {len(labelled)} labelled rows{alone}")
        _evaluate_alone(model, labelled.texts, labelled.labels, chosen.path / "evaluation")
        for text in _report_fit(model, settings, config, before_promote=False):
            console.print(f"[red]{text}[/red]")
        return
    current = _load(model_store.root) if model_store.current_id else None
    console.print(f"candidate {chosen.id} against the current model {model_store.current_id or '(none)'}")
    comparison = compare(model, current, labelled.texts, labelled.labels, chosen.path / "evaluation", store)
    model_store.update_card(chosen.id, comparison=summary(comparison))
    _report_fit(model, settings, config, before_promote=True, current=current)


def _chosen(model_store: ModelStore, version: str | None, store: str, action: str) -> Version:
    """VERSION, or the default of ``action`` (the newest candidate; for evaluate the current model
    when there is no candidate), with errors that name the command to run."""
    try:
        if version:
            return model_store.version(version)
        candidates = [v for v in model_store.versions() if v.status == "candidate"]
        if candidates:
            return candidates[-1]
        if action == "evaluate" and model_store.current_id:
            return model_store.version(model_store.current_id)
    except ModelError as exc:
        raise click.ClickException(f"{exc}; `forwarder model list --store {store}` lists them") from exc
    train = f"`forwarder model train --store {store} --data CSV`"
    if action == "evaluate":
        raise click.ClickException(f"{store} has no model to evaluate: train one with {train}")
    current = model_store.current_id
    raise click.ClickException(
        f"no candidate in {store} to {action}"
        + (f" (the current model is {current})" if current else "")
        + f": train one with {train}, or name a version (`forwarder model list --store {store}`)"
    )


def _evaluate_alone(model: TopicModel, texts: list[str], truth: list[str], outdir: Path) -> None:
    from forwarder.classify.cli_common import print_metrics

    tags = model.predict(texts)
    print_metrics(evaluate(texts, truth, tags))
    png = confusion_png(truth, tags, outdir / f"confusion-current-{model.version}.png",
                        title=f"current {model.version} on {len(texts)} labelled rows")
    unknown = sorted(set(truth) - model.labels)
    if unknown:
        console.print(f"[yellow]labels of the data that model {model.version} cannot emit: "
                      f"{', '.join(unknown)} (they count as wrong)[/yellow]")
    if model.training_rows is not None:
        seen = int(np.isin(np.array([row_hash([t])[0] for t in texts], dtype=np.uint64),
                           model.training_rows).sum())
        if seen:
            console.print(f"[yellow]{seen} of the {len(texts)} rows were in the model's training data: "
                          "these figures are optimistic[/yellow]")
    console.print(f"[dim]confusion matrix: {png}[/dim]")


@model_group.command("promote")
@click.argument("version", required=False)
@click.option("--force", is_flag=True,
              help="Promote even if it is worse than the current model, was not compared with it, "
                   "or emits topics no group of the config takes.")
@click.option("--by", default="", help="Who promotes (recorded in history.jsonl).")
@store_option
@_model_config_option(", and whose groups must take the candidate's topics")
def promote_cmd(version, force, by, store, config_path):
    """Make VERSION (default: the newest candidate) the current model, if it is not worse and the
    config's groups take its topics."""
    model_store, store, settings, config = _store(store, config_path, "forwarder model promote",
                                                  write=True)
    chosen = _chosen(model_store, version, store, "promote")
    if chosen.current:
        raise click.ClickException(f"{chosen.id} is already the current model")
    candidate = _load(chosen.path)  # refuse a version this install cannot load
    _warn_other_model(settings, config, store, "promoting")
    current_id = model_store.current_id
    current = _load(model_store.root) if current_id else None
    reasons = _report_fit(candidate, settings, config, before_promote=False, current=current)
    comparison = chosen.card.get("comparison") or {}
    if current_id:
        evaluate_hint = (f"; run `forwarder model evaluate {chosen.id} --store {store} --data NEW.csv` "
                         "(labelled complaints neither model was trained on)")
        if comparison.get("current_version") != current_id:
            reasons.append(f"{chosen.id} has not been compared with the current model {current_id}"
                           + evaluate_hint)
        elif comparison.get("current_macro_f1") is None and comparison.get("compared_topics") == [] \
                and (comparison.get("only_in_candidate") or comparison.get("only_in_current")):
            reasons.append(
                f"{chosen.id} shares no topic with the current model {current_id} (only in candidate: "
                f"{', '.join(comparison['only_in_candidate']) or '-'}; only in current: "
                f"{', '.join(comparison['only_in_current']) or '-'}): it cannot be called better"
            )
        elif comparison.get("current_macro_f1") is None:
            reasons.append(f"{chosen.id} has not been compared with the current model {current_id}: "
                           "every held-out row was in its training data" + evaluate_hint)
        elif comparison["candidate_macro_f1"] < comparison["current_macro_f1"]:
            differ = comparison.get("only_in_candidate") or comparison.get("only_in_current")
            over = f" over the {len(comparison['compared_topics'])} shared topic(s)" if differ else ""
            reasons.append(
                f"{chosen.id} is worse than the current model {current_id} on the same "
                f"{comparison['rows']} held-out rows (macro-F1{over} "
                f"{comparison['candidate_macro_f1']:.3f} < {comparison['current_macro_f1']:.3f})"
            )
    if reasons and not force:
        raise click.ClickException(
            "not promoted:\n" + "\n".join(f"  - {r}" for r in reasons) + "\n(--force promotes anyway)"
        )
    model_store.set_current(chosen.id, "promote (forced)" if force else "promote", by=by)
    console.print(f"{chosen.id} is now the current model (was {current_id or 'none'}); " + RELOAD_HINT)
    if reasons:
        console.print("[red bold]promoted with --force although:[/red bold]")
        for reason in reasons:
            console.print(f"[red]  - {reason}[/red]")
        fit = (group_fit(candidate.labels, settings.groups, current.labels if current else None)
               if settings is not None else None)
        if fit is not None and (fit.shares_none or fit.no_group):
            which = "every complaint" if fit.shares_none else f"complaints of {', '.join(fit.no_group)}"
            secret = (f" (the confidential ones to {fit.confidential_fallback!r})"
                      if fit.confidential_fallback else "")
            console.print(f"[red]from now on {which} will go to the fallback group {fit.fallback!r}{secret} "
                          f"until the groups of {config} take those topics[/red]")
        if fit is not None and fit.lost and not fit.shares_none:
            quiet = sorted({g for groups in fit.lost.values() for g in groups})
            console.print(f"[red]from now on group(s) {', '.join(quiet)} will receive nothing[/red]")
        console.print(f"[red]`forwarder model rollback --store {store}` undoes this[/red]")


@model_group.command("rollback")
@click.argument("version", required=False)
@click.option("--by", default="", help="Who rolls back (recorded in history.jsonl).")
@store_option
@_model_config_option()
def rollback_cmd(version, by, store, config_path):
    """Make VERSION the current model again; without VERSION, the version promoted before the
    current one. Each rollback without VERSION goes one promotion further back (history.jsonl)."""
    model_store, store, settings, config = _store(store, config_path, "forwarder model rollback",
                                                  write=True)
    _warn_other_model(settings, config, store, "rolling back")
    before = model_store.current_id
    listing = f"`forwarder model list --store {store}` lists them"
    try:
        if version:
            chosen = model_store.version(version)
        else:
            target = model_store.rollback_target()
            if target is None:
                raise click.ClickException(
                    f"no earlier version to roll back to: {before} is the first version made "
                    f"current in {store}; name the version to make current "
                    f"(`forwarder model rollback --store {store} VERSION`; {listing})"
                    if before else
                    f"no earlier version to roll back to: nothing is current in {store} yet; "
                    f"`forwarder model promote --store {store}` makes a candidate current")
            chosen = model_store.version(target)
    except ModelError as exc:
        raise click.ClickException(f"{exc}; {listing}") from exc
    if chosen.current:
        raise click.ClickException(f"{chosen.id} is already the current model")
    _load(chosen.path)
    model_store.set_current(chosen.id, "rollback", by=by)
    console.print(f"{chosen.id} is now the current model (was {before or 'none'}); " + RELOAD_HINT)
    console.print(f"[dim]{_next_rollback(model_store, store)}[/dim]")


def _next_rollback(model_store: ModelStore, store: str) -> str:
    """Where rollbacks without a version would go now: the rest of the promotion history,
    newest first."""
    chain = model_store.promotions()
    if len(chain) < 2:
        return f"`forwarder model rollback --store {store}`: no earlier version to go back to"
    back = " -> ".join(reversed(chain[:-1]))
    return f"`forwarder model rollback --store {store}` goes back to: {back}"


@model_group.command("list")
@store_option
@_model_config_option()
def list_cmd(store, config_path):
    """List the versions with the figures from their model cards (a single model directory, not
    yet a store: its one model, in use)."""
    path, _settings, _config = _store_path(store, config_path, "forwarder model list")
    card = _single_model_card(path)
    if card is not None:
        table = _versions_table(path)
        _add_version_row(table, str(card["version"]), card, current=True, status="CURRENT", since="-")
        console.print(table)
        console.print(f"current: {card['version']} ({_single_model_hint(path)})")
        return
    model_store, store, _settings, _config = _store(store, config_path, "forwarder model list")
    table = _versions_table(str(model_store.root))
    since = {h["to"]: _made_current(h) for h in model_store.history() if h.get("to")}  # the last time
    for v in model_store.versions():
        _add_version_row(table, v.id, v.card, current=v.current,
                         status="CURRENT" if v.current else v.status, since=since.get(v.id, "-"))
    console.print(table)
    stray = model_store.stray_note()
    if stray:
        console.print(f"[yellow]{stray}[/yellow]")
    current = model_store.current_id
    console.print(f"current: {current}; {_next_rollback(model_store, store)}" if current else
                  f"current: none (`forwarder model promote --store {store}` makes a candidate current)")


def _versions_table(title: str) -> Table:
    table = Table(title=title)
    table.add_column("version", no_wrap=True)
    for name in ("status", "last made current (UTC)", "topics", "rows", "macro-F1", "accuracy",
                 "vs current then"):
        table.add_column(name)
    return table


def _add_version_row(table: Table, version: str, card: dict[str, Any], current: bool, status: str,
                     since: str) -> None:
    """A row of ``forwarder model list``: the version, its status and the figures of its card."""
    metrics = card.get("metrics", {})
    comparison = card.get("comparison") or {}
    versus = "-"
    if comparison.get("current_macro_f1") is not None:
        versus = (f"{comparison['candidate_macro_f1']:.3f} vs {comparison['current_macro_f1']:.3f}"
                  f" ({comparison['current_version']})")
    table.add_row(
        f"[bold]{version}[/bold]" if current else version,
        f"[bold]{status}[/bold]" if current else status, since,
        str(len(card.get("labels", []))), str(card.get("data", {}).get("rows", "-")),
        f"{metrics['macro_f1']:.3f}" if "macro_f1" in metrics else "-",
        f"{metrics['accuracy']:.3f}" if "accuracy" in metrics else "-",
        versus,
    )


def _single_model_card(path: str) -> dict[str, Any] | None:
    """The model card of ``path`` when it is a single model directory (``card.json`` directly in
    it, as ``cp -r models/default DIR`` or ``forwarder train --out DIR`` make it) and not a model
    store; None otherwise. Raises :class:`click.ClickException` when that card does not read."""
    root = Path(path)
    if is_model_store(root) or not (root / CARD_FILE).is_file():
        return None
    try:
        return read_card(root)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc


def _single_model_hint(path: str) -> str:
    """What a single model directory is to the ``forwarder model`` commands: for the bundled model
    the copy to make, otherwise that the first ``model train`` makes it a store."""
    if is_bundled(path):
        return "a single model, not a model store. " + bundled_refusal(path)
    return (f"a single model, not yet a model store: it is the model in use there (what the "
            f"daemon and `forwarder classify` load from {path}); the first "
            f"`forwarder model train --store {path} --data ...` turns it into a store, with this "
            "model as its current version")


def _made_current(entry: dict[str, Any]) -> str:
    """``2026-11-29 14:22 promote``: when (UTC, to the minute) and how a history entry made its
    version current."""
    action = str(entry.get("action", ""))
    return f"{str(entry.get('at', '?'))[:16].replace('T', ' ')} " + (
        "adopted" if action.startswith("adopted") else action)


@model_group.command("show")
@click.argument("version", required=False)
@store_option
@_model_config_option()
def show_cmd(version, store, config_path):
    """Print the model card of VERSION (default: the current one) as JSON (of a single model
    directory, not yet a store: its model's card)."""
    path, _settings, _config = _store_path(store, config_path, "forwarder model show")
    card = _single_model_card(path)
    if card is not None:
        if version and version != card["version"]:
            raise click.ClickException(
                f"no version {version!r} in {path}: it holds the single model {card['version']} "
                f"({_single_model_hint(path)})")
        click.echo(json.dumps(card, indent=2, ensure_ascii=False))
        click.echo(f"{path}: {_single_model_hint(path)}", err=True)
        return
    model_store, store, _settings, _config = _store(store, config_path, "forwarder model show")
    target = version or model_store.current_id
    if not target:
        raise click.ClickException(f"{store} has no current model")
    try:
        chosen = model_store.version(target)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(chosen.card, indent=2, ensure_ascii=False))

