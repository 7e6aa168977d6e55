"""Convert a model of the earlier skops format (``model.skops``) to ``model.npz``.

Models written before format version 1 held ``{"features": TextFeatures, "classifier":
CalibratedClassifierCV}`` in ``model.skops``. :func:`convert` reads such a file the way those
versions did (SHA-256 checked against the card, only the types of :data:`TRUSTED_TYPES` allowed),
takes its arrays, writes ``model.npz``, updates the card (format, ``model_sha256``; the figures and
``libraries`` are kept) and removes ``model.skops``. The weights are copied, not refitted, so the
converted model gives the same topics, confidences and keywords. Needs scikit-learn and skops.

From the command line (a model directory, or a model store: every version in it)::

    python -m forwarder.classify.legacy models/default
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np

from forwarder.classify.features import TextFeatures
from forwarder.classify.model import (
    LEGACY_FILE,
    ROWS_FILE,
    TopicModel,
    file_sha256,
    load_model,
    read_card,
    save_model,
)
from forwarder.errors import ModelError

TRUSTED_TYPES: list[str] = [
    "forwarder.classify.features.TextFeatures",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
]
"""Types an old model file may hold beyond what skops trusts itself (scikit-learn estimators,
numpy and scipy arrays, builtins)."""


def _features(old: Any) -> TextFeatures:
    """A :class:`TextFeatures` from the state of one unpickled by skops (vocabularies packed as
    newline-joined strings, or dicts; ``word_idf_`` and ``char_idf_`` float64)."""
    state = vars(old)

    def terms(key: str) -> list[str]:
        value = state[key]
        if isinstance(value, str):
            return value.split("\n") if value else []
        return sorted(value, key=value.__getitem__)

    features = TextFeatures(
        word_max_n=int(state["word_max_n"]),
        char_ngrams=tuple(int(v) for v in state["char_ngrams"]),
        min_df=int(state["min_df"]),
        char_min_df=int(state["char_min_df"]),
        sublinear_tf=bool(state["sublinear_tf"]),
        char_weight=float(state["char_weight"]),
    )
    idf = np.concatenate([state["word_idf_"], state["char_idf_"]]).astype(np.float32)
    features._set(terms("word_vocab_"), terms("char_vocab_"), idf)
    return features


def convert(directory: str | Path) -> TopicModel:
    """Convert the model directory ``directory`` in place; returns the converted model, loaded
    back from ``model.npz``. Raises :class:`ModelError` when it holds no ``model.skops``, when
    the file differs from its card or holds an untrusted type, or cannot be read."""
    try:
        import skops.io as sio
    except ImportError as exc:
        raise ModelError("converting a skops model needs skops: pip install -e '.[legacy]'") from exc

    from forwarder.classify.train import to_linear

    directory = Path(directory)
    source = directory / LEGACY_FILE
    if not source.is_file():
        raise ModelError(f"{directory} holds no {LEGACY_FILE} to convert")
    card = read_card(directory)
    if card.get("model_sha256") != file_sha256(source):
        raise ModelError(f"{source} is not the file its card describes (SHA-256 differs); not converted")
    try:
        unknown = sorted(set(sio.get_untrusted_types(file=source)) - set(TRUSTED_TYPES))
        if unknown:
            raise ModelError(f"{source} holds types this program does not trust: {', '.join(unknown)}")
        payload = sio.load(source, trusted=TRUSTED_TYPES)
        features = _features(payload["features"])
        classifier = to_linear(payload["classifier"])
    except ModelError:
        raise
    except Exception as exc:  # skops, a damaged archive, or not a forwarder model
        raise ModelError(f"cannot convert {source}: {type(exc).__name__}: {exc}") from exc
    rows = None
    if (directory / ROWS_FILE).is_file():
        rows = np.fromfile(directory / ROWS_FILE, dtype="<u8").astype(np.uint64)
    card = dict(card, converted_from=LEGACY_FILE)
    save_model(TopicModel(features, classifier, card, rows), directory)
    source.unlink()
    return load_model(directory)


def convert_all(path: str | Path) -> list[Path]:
    """Convert ``path`` if it is a model directory of the skops format, or every such version of
    the model store at ``path``. Returns the converted directories (empty when none needed it)."""
    root = Path(path)
    candidates = [root]
    if (root / "versions").is_dir():
        candidates += sorted((root / "versions").iterdir())
    done = []
    for directory in candidates:
        if (directory / LEGACY_FILE).is_file():
            convert(directory)
            done.append(directory)
    return done



@click.command("convert")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
def convert_command(path: str) -> None:
    """Rewrite the skops-format model(s) at PATH (a model directory or a model store) as model.npz.

    The weights are copied, not refitted: the converted model gives the same topics, confidences
    and keywords. Needs scikit-learn and skops (the daemon needs neither).
    """
    try:
        done = convert_all(path)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc
    for directory in done:
        click.echo(f"converted {directory}")
    if not done:
        click.echo(f"nothing to convert at {path} (no {LEGACY_FILE})")


if __name__ == "__main__":  # pragma: no cover
    convert_command()
