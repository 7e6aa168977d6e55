"""Admin commands of the topic classifier: ``forwarder train``, ``forwarder classify`` and the
``forwarder model`` group (see :mod:`forwarder.classify.admin`).

``commands`` is the list the main ``forwarder`` CLI group adds. These commands are the only place in
the classifier that prints or turns errors into exit codes (:class:`click.ClickException`).
"""

from __future__ import annotations

from pathlib import Path

import click

from forwarder.classify.admin import model_group
from forwarder.classify.cli_common import console, data_options, print_metrics, read_training_data
from forwarder.classify.data import TrainingDataError
from forwarder.errors import ModelError


@click.command("train")
@data_options
@click.option("--refit", is_flag=True, help="After evaluating, retrain on all rows (the card keeps the held-out figures).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory to write the model into.")
def train_command(data, text_column, label_column, label_map, date_column, skip_bad_dates, test_fraction,
                  refit, out):
    """Train a topic model from labelled CSV(s), evaluate it on held-out rows and write it.

    With --date-column the newest --test-fraction of rows is held out (a time split), otherwise a
    stratified random split. The written model is the one the printed figures describe, unless
    --refit retrains it on all rows after evaluating.
    """
    from forwarder.classify.model import save_model
    from forwarder.classify.train import train_and_evaluate

    labelled = read_training_data(data, text_column, label_column, date_column, label_map, skip_bad_dates)
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


commands: list[click.Command] = [train_command, classify_command, model_group]
