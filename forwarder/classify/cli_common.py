"""Helpers shared by the classifier's admin commands (cli.py, admin.py): the console, the data
options and the printing of figures with rich."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.table import Table

from forwarder.classify.data import (
    Labelled,
    TrainingDataError,
    read_csv,
    read_label_map,
)
from forwarder.terminal import wide_console

console = wide_console(highlight=False, soft_wrap=True)

DEFAULT_CONFIG = Path("config/groups.yaml")
"""The config the admin commands read when ``--config`` is not given and this file exists."""


def config_option(purpose: str):
    """``--config PATH`` (default :data:`DEFAULT_CONFIG` when it exists), for ``purpose``."""
    return click.option(
        "--config", "config_path", type=click.Path(dir_okay=False),
        help=f"Forwarder config {purpose} [default: {DEFAULT_CONFIG} when it exists].",
    )


class ConfigUnusable(click.ClickException):
    """The config does not load: exit code 2, as ``forwarder run`` and ``check-config`` use."""

    exit_code = 2


def load_settings(config_path: str | None, command: str) -> tuple[Any, str | None]:
    """``(Settings, path)`` of ``--config`` or the default config, ``(None, None)`` when neither
    was given nor exists. A config that does not load is :class:`ConfigUnusable` (exit 2) naming
    ``command``."""
    from forwarder.config import load_config
    from forwarder.errors import ConfigError

    path = config_path or (str(DEFAULT_CONFIG) if DEFAULT_CONFIG.is_file() else None)
    if path is None:
        return None, None
    try:
        return load_config(path, secrets_optional=True), path  # reads the groups, sends nothing
    except ConfigError as exc:
        raise ConfigUnusable(
            f"{exc}\n`{command}` reads the config's groups (and model, threshold, kabupaten); "
            f"fix it (`forwarder check-config --config {path}` lists the problems) or name another "
            "with --config"
        ) from exc


def read_training_data(
    data: tuple[str, ...] | list[str],
    text_column: str,
    label_column: str,
    date_column: str | None,
    label_map: str | None,
    skip_bad_dates: bool = False,
) -> Labelled:
    """Read one or more CSVs into one :class:`Labelled` (labels, and the label map's labels and
    topics, in lower case with single spaces; notes say how many were changed); errors (unreadable
    dates included, see :func:`forwarder.classify.data.read_csv`) become ClickException."""
    try:
        out = Labelled()
        mapping = read_label_map(label_map, out.notes) if label_map else None
        for path in data:
            out.extend(read_csv(path, text_column, label_column, date_column, mapping, skip_bad_dates))
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


def data_options(func=None, *, split: bool = True):
    """--data/--text-column/--label-column/--label-map, and with ``split`` also
    --date-column/--skip-bad-dates/--test-fraction (how to hold rows out). Use as
    ``@data_options`` or ``@data_options(split=False)``."""
    if func is None:
        return lambda f: data_options(f, split=split)
    options = [
        click.option("--data", "data", multiple=True, required=True,
                     type=click.Path(dir_okay=False), help="Labelled CSV (UTF-8, with a header; columns separated by commas, "
                          "semicolons or tabs); repeatable."),
        click.option("--text-column", default="text", show_default=True,
                     help="Column with the complaint text (case and spaces of its name do not matter)."),
        click.option("--label-column", default="topic", show_default=True,
                     help="Column with the label; labels are read in lower case with single spaces "
                          "(' PUPUK ' is 'pupuk')."),
        click.option("--label-map", type=click.Path(dir_okay=False),
                     help="Two-column CSV (source label, topic); rows whose label is not in it are left out. "
                          "Labels and topics are matched ignoring case and spaces."),
    ]
    if split:
        options += [
            click.option("--date-column",
                         help="Column with the date: the newest rows are held out for evaluation. "
                              "Dates: ISO 8601 or day first (04/03/2026, 04-03-2026, 04.03.2026, "
                              "optionally HH:MM[:SS]); an unreadable date is an error."),
            click.option("--skip-bad-dates", is_flag=True,
                         help="Leave out rows whose date cannot be read (counted) instead of stopping."),
            click.option("--test-fraction", default=0.2, show_default=True, type=click.FloatRange(0.01, 0.9),
                         help="Share of rows held out for evaluation."),
        ]
    for option in reversed(options):
        func = option(func)
    return func
