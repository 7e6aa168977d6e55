"""Admin commands of the topic classifier: ``forwarder train``, ``forwarder classify`` and the
``forwarder model`` group (see :mod:`forwarder.classify.admin`).

``commands`` is the list the main ``forwarder`` CLI group adds. These commands are the only place in
the classifier that prints or turns errors into exit codes (:class:`click.ClickException`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from forwarder.classify.data import (
    Labelled,
    TrainingDataError,
    read_csv,
    read_label_map,
)
from forwarder.errors import ModelError

console = Console(highlight=False, soft_wrap=True)


def read_training_data(
    data: tuple[str, ...] | list[str],
    text_column: str,
    label_column: str,
    date_column: str | None,
    label_map: str | None,
) -> Labelled:
    """Read one or more CSVs into one :class:`Labelled`; errors become ClickException."""
    try:
        mapping = read_label_map(label_map) if label_map else None
        out = Labelled()
        for path in data:
            out.extend(read_csv(path, text_column, label_column, date_column, mapping))
    except TrainingDataError as exc:
        raise click.ClickException(str(exc)) from exc
    return out


def metrics_table(metrics: dict[str, Any], title: str = "per topic") -> Table:
    table = Table(title=title)
    for name in ("topic", "precision", "recall", "F1", "support"):
        table.add_column(name, justify="left" if name == "topic" else "right")
    for topic, m in sorted(metrics["per_topic"].items()):
        table.add_row(
            topic, f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}", str(m["support"])
        )
    return table


def print_metrics(metrics: dict[str, Any]) -> None:
    console.print(
        f"accuracy {metrics['accuracy']:.3f}  macro-F1 {metrics['macro_f1']:.3f}  "
        f"(held-out rows: {metrics['n']})"
    )
    for share, c in metrics["coverage"].items():
        console.print(
            f"precision of auto-routed complaints at {float(share):.0%} coverage: "
            f"{c['precision']:.3f} (confidence_threshold {c['threshold']:.2f})"
        )
    if metrics.get("short_accuracy") is not None:
        console.print(
            f"short complaints (< 60 chars): accuracy {metrics['short_accuracy']:.3f} "
            f"(n={metrics['n_short']})"
        )
    console.print(metrics_table(metrics))


def data_options(func):
    """--data/--text-column/--label-column/--label-map/--date-column/--test-fraction."""
    options = [
        click.option("--data", "data", multiple=True, required=True,
                     type=click.Path(dir_okay=False), help="Labelled CSV (UTF-8, header); repeatable."),
        click.option("--text-column", default="text", show_default=True, help="Column with the complaint text."),
        click.option("--label-column", default="topic", show_default=True, help="Column with the label."),
        click.option("--label-map", type=click.Path(dir_okay=False),
                     help="Two-column CSV (source label, topic); rows whose label is not in it are left out."),
        click.option("--date-column", help="Column with the date: the newest rows are held out for evaluation."),
        click.option("--test-fraction", default=0.2, show_default=True, type=click.FloatRange(0.01, 0.9),
                     help="Share of rows held out for evaluation."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.command("train")
@data_options
@click.option("--refit", is_flag=True, help="After evaluating, retrain on all rows (the card keeps the held-out figures).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory to write the model into.")
def train_command(data, text_column, label_column, label_map, date_column, test_fraction, refit, out):
    """Train a topic model from labelled CSV(s), evaluate it on held-out rows and write it.

    With --date-column the newest --test-fraction of rows is held out (a time split), otherwise a
    stratified random split. The written model is the one the printed figures describe, unless
    --refit retrains it on all rows after evaluating.
    """
    from forwarder.classify.model import save_model
    from forwarder.classify.train import train_and_evaluate

    labelled = read_training_data(data, text_column, label_column, date_column, label_map)
    for note in labelled.notes:
        console.print(f"[dim]{note}[/dim]")
    console.print(f"{len(labelled)} labelled rows, {len(set(labelled.labels))} topics")
    try:
        with console.status("training") as status:
            result = train_and_evaluate(
                labelled,
                test_fraction=test_fraction,
                by_date=bool(date_column),
                refit=refit,
                sources=[str(Path(p)) for p in data],
                progress=lambda msg: status.update(msg),
            )
    except TrainingDataError as exc:
        raise click.ClickException(str(exc)) from exc
    print_metrics(result.metrics)
    target = save_model(result.model, out)
    size = sum(p.stat().st_size for p in target.iterdir()) / 1e6
    how = "all rows (refit)" if refit else "the training part"
    console.print(
        f"model {result.model.version} trained on {how} in {result.seconds:.1f} s, "
        f"written to {target} ({size:.1f} MB)"
    )


@click.command("classify")
@click.argument("text")
@click.option("--model", "model_path", default="models/default", show_default=True,
              type=click.Path(), help="Model directory or model store.")
def classify_command(text, model_path):
    """Show the topic, confidence and keywords the model gives TEXT."""
    from forwarder.classify.model import load_model

    try:
        model = load_model(model_path)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc
    tag = model.predict([text])[0]
    if tag.topic is None:
        console.print("topic: (none): the text has no words the model can use")
    else:
        console.print(f"topic: {tag.topic}")
    console.print(f"confidence: {tag.confidence:.3f}")
    console.print(f"keywords: {', '.join(tag.keywords) or '-'}")
    console.print(f"model: {tag.model_version}")


commands: list[click.Command] = [train_command, classify_command]
