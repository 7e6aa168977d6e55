"""Admin commands of the topic classifier: ``forwarder train``, ``forwarder classify`` and the
``forwarder model`` group (see :mod:`forwarder.classify.admin`).

``commands`` is the list the main ``forwarder`` CLI group adds. These commands are the only place in
the classifier that prints or turns errors into exit codes (:class:`click.ClickException`).
"""

from __future__ import annotations

from pathlib import Path

import click

from forwarder.classify.admin import model_group
from forwarder.classify.cli_common import (
    ConfigUnusable,
    config_option,
    console,
    data_options,
    load_settings,
    print_metrics,
    read_training_data,
)
from forwarder.classify.data import TrainingDataError
from forwarder.errors import ModelError


@click.command("train")
@data_options
@click.option("--refit", is_flag=True, help="After evaluating, retrain on all rows (the card keeps the held-out figures).")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Directory to write the model into: a new or empty one (a model store is "
                   "refused: use `forwarder model train --store DIR`).")
@click.option("--force", is_flag=True,
              help="Replace the model files in an --out directory that is not empty, or in the "
                   "model bundled with forwarder (models/default; how its maintainers rebuild it).")
def train_command(data, text_column, label_column, label_map, date_column, skip_bad_dates, test_fraction,
                  refit, out, force):
    """Train a topic model from labelled CSV(s), evaluate it on held-out rows and write it.

    With --date-column the newest --test-fraction of rows is held out (a time split), otherwise a
    stratified random split. The written model is the one the printed figures describe, unless
    --refit retrains it on all rows after evaluating. --out must be a new or empty directory, or
    --force is needed; it must not be a model store (nor a version in one), --force or not:
    `forwarder model train --store DIR` trains into a store.
    """
    from forwarder.classify.model import save_model, store_of
    from forwarder.classify.train import train_and_evaluate

    store = store_of(out)
    if store is not None:  # before reading or fitting anything
        raise click.ClickException(_store_refusal(
            Path(out), store, data, text_column, label_column, label_map, date_column,
            skip_bad_dates, test_fraction, refit))
    refusal = None if force else _overwrite_refusal(Path(out))
    if refusal:
        raise click.ClickException(refusal)
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


def _overwrite_refusal(out: Path) -> str | None:
    """Why ``forwarder train --out OUT`` without ``--force`` does not write into ``out``: it is the
    model bundled with forwarder, or a directory that is not empty; None when it may."""
    import os
    import shlex

    from forwarder.classify.model import CARD_FILE, read_card
    from forwarder.classify.store import BUNDLED_MODEL, is_bundled
    from forwarder.errors import ModelError

    if is_bundled(out):
        written = Path(os.path.normpath(out))
        source = BUNDLED_MODEL if out.is_symlink() else written  # `cp -r LINK` would copy the link
        own = shlex.join(["cp", "-r", str(source), str(written.parent / "bojonegoro")])
        store = shlex.quote(str(written.parent / "bojonegoro"))
        return (
            f"{out} is the model bundled with forwarder ({BUNDLED_MODEL}, tracked by git: updating "
            "forwarder replaces it, and a model of yours written there would be lost or block the "
            "update), so `forwarder train --out` does not replace it without --force; with --force "
            "is how forwarder's maintainers rebuild it (models/README.md). For a model of your "
            "own, give --out a new directory (such as models/percobaan), or retrain a model store "
            f"of your own: {own}, then `forwarder model train --store {store} --data ...`")
    if not out.is_dir():
        return None
    names = sorted(p.name for p in out.iterdir())
    if not names:
        return None
    held = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    what, keep = f"files ({held})", ""
    if (out / CARD_FILE).is_file():
        try:
            version = read_card(out)["version"]
        except ModelError:
            version = "whose card does not read"
        what = f"a model ({version})"
        keep = (f"; or, to keep that model and add the new one as a candidate to compare it with, "
                f"make the directory a model store: `forwarder model train --store "
                f"{shlex.quote(str(out))} --data ...`")
    return (f"{out} already holds {what}: `forwarder train --out` does not overwrite it. Give --out "
            f"a new directory, or pass --force to replace the model files in it{keep}")


def _store_refusal(out: Path, store: Path, data, text_column, label_column, label_map, date_column,
                   skip_bad_dates, test_fraction, refit) -> str:
    """Why ``forwarder train --out`` does not write into the model store ``store``, with the
    `forwarder model train` command of the same data and options that does what was meant."""
    import shlex

    args = ["forwarder", "model", "train", "--store", str(store)]
    for path in data:
        args += ["--data", str(path)]
    args += ["--text-column", text_column, "--label-column", label_column]
    args += ["--label-map", str(label_map)] if label_map else []
    args += ["--date-column", date_column] if date_column else []
    args += ["--skip-bad-dates"] if skip_bad_dates else []
    args += ["--test-fraction", f"{test_fraction:g}"] if test_fraction != 0.2 else []
    args += ["--refit"] if refit else []
    what = (f"{out} is a model store (made by `forwarder model train`)" if out == store else
            f"{out} is inside the model store {store}")
    return (
        f"{what}: `forwarder train --out` does not write into a store. A model written there "
        f"would be no version of it: `forwarder model list` and the daemon would disagree on the "
        f"model in use, and `forwarder model promote`/`rollback` would not change it. Train a "
        f"candidate in the store and make it current instead:\n  {shlex.join(args)}\n"
        f"  forwarder model promote --store {shlex.quote(str(store))}\n"
        f"(or give --out a new directory for a model of its own)"
    )


@click.command("classify")
@click.argument("text")
@click.option("--model", "model_path", type=click.Path(),
              help="Model directory or model store [default: the config's `model:`, else models/default].")
@config_option("whose model, confidence_threshold, kabupaten and groups are used, to show the "
               "place found and the groups the complaint would go to (the default config is read "
               "only when --model is not given)")
def classify_command(text, model_path, config_path):
    """Show the topic, confidence and keywords the model gives TEXT; with a config, also the
    kecamatan/desa found and the group(s) the complaint would go to, as the daemon routes it."""
    from forwarder.classify.model import load_model

    settings, config = (load_settings(config_path, "forwarder classify")
                        if config_path or not model_path else (None, None))
    model_path = model_path or (str(settings.model) if settings else "models/default")
    try:
        model = load_model(model_path)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc
    gazetteer = None
    if settings is not None:
        from forwarder.classify.places import Gazetteer

        try:
            gazetteer = Gazetteer.for_kabupaten(settings.kabupaten)
        except LookupError as exc:
            raise ConfigUnusable(f"{config}: kabupaten: {exc}") from exc
    read = gazetteer.without_places(text) if gazetteer else text
    tag = model.predict([read])[0]
    if tag.topic is None:
        console.print("topic: (none): the text has no words the model can use"
                      + (" once place names are left out" if read != text else ""))
    else:
        console.print(f"topic: {tag.topic}")
    console.print(f"confidence: {tag.confidence:.3f}")
    console.print(f"keywords: {', '.join(tag.keywords) or '-'}")
    console.print(f"model: {tag.model_version}")
    if settings is None:
        console.print("[dim]no config: pass --config PATH to see the place and the groups[/dim]")
        return
    _print_routing(text, tag, settings, gazetteer)


def _print_routing(text: str, tag, settings, gazetteer) -> None:
    """The place, the confidential mark and the groups, by the daemon's own rules
    (forwarder.pipeline.is_confidential, forwarder.routing.route)."""
    from forwarder.pipeline import is_confidential
    from forwarder.routing import route

    place = gazetteer.find(text)
    if place is None:
        console.print(f"place: (none recognised in {gazetteer.kabupaten})")
    else:
        desa = f", desa {place.desa}" if place.desa else ""
        console.print(f"place: kecamatan {place.kecamatan}{desa} (matched: {place.matched})")
    confidential = is_confidential(text)
    if confidential:
        console.print("confidential: yes (RAHASIA): only groups marked confidential receive it")
    groups = [g.model_copy(update={"kecamatan": [gazetteer.canonical_kecamatan(k) or k
                                                 for k in g.kecamatan]}) if g.kecamatan else g
              for g in settings.groups]  # official spellings, as the daemon compares them
    routing = route(groups, topic=tag.topic, confidence=tag.confidence,
                    kecamatan=place.kecamatan if place else None,
                    threshold=settings.confidence_threshold, confidential=confidential)
    for group in routing.groups:
        where = f" [{', '.join(group.kecamatan)}]" if group.kecamatan else ""
        dinas = f" ({group.dinas})" if group.dinas else ""
        fallback = (" (confidential triage)" if group.fallback and group.confidential
                    else " (fallback/triage)" if group.fallback else "")
        console.print(f"goes to: {group.name}{fallback}{dinas}{where}")
    if routing.triage_reason:
        console.print(f"triage because: {routing.triage_reason}")


commands: list[click.Command] = [train_command, classify_command, model_group]
