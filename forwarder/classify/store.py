"""A model store: the versions of the topic model an installation has had, and which one is used.

Layout on disk (``models/default`` in the stock config)::

    <store>/
      current                 one line: the id of the version in use
      history.jsonl           one JSON object per change: {"at", "action", "from", "to", "by"}
      versions/<id>/
        model.npz, card.json            the model (see forwarder.classify.model)
        training_rows.u64               hashes of the rows it was fitted on
        evaluation/                     confusion-matrix PNGs written when it was evaluated

``<id>`` is the model's ``version`` (``20261129T142233-ab12cd``: UTC training time and the start of
the data hash), so ids sort by age. Versions are never deleted by these functions: promoting or
rolling back only rewrites ``current`` (atomically, with ``os.replace``), so any earlier version can
be put back. A version that has never been current is a *candidate*.

:func:`forwarder.classify.model.load_model` accepts a store path and loads ``current``. A plain model
directory (``card.json`` and ``model.npz`` directly inside, as ``forwarder train --out`` writes)
becomes a store with that model as its first, current version the first time :func:`open_store`
is called on it with ``create=True``.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from forwarder.classify.model import (
    CARD_FILE,
    LEGACY_FILE,
    MODEL_FILE,
    ROWS_FILE,
    TopicModel,
    read_card,
    save_model,
)
from forwarder.errors import ModelError

CURRENT = "current"
VERSIONS = "versions"
HISTORY = "history.jsonl"


@dataclass(frozen=True)
class Version:
    id: str
    path: Path
    card: dict[str, Any]
    current: bool
    was_current: bool

    @property
    def status(self) -> str:
        if self.current:
            return "current"
        return "earlier" if self.was_current else "candidate"


class ModelStore:
    """The store at ``root``; see the module doc. Methods raise :class:`ModelError` on misuse."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # ---- reading -------------------------------------------------------------------------------
    @property
    def current_id(self) -> str | None:
        pointer = self.root / CURRENT
        return pointer.read_text().strip() or None if pointer.is_file() else None

    def history(self) -> list[dict[str, Any]]:
        path = self.root / HISTORY
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def versions(self) -> list[Version]:
        """Every version, oldest first."""
        folder = self.root / VERSIONS
        if not folder.is_dir():
            return []
        current = self.current_id
        ever = {h.get("to") for h in self.history()}
        out = []
        for path in sorted(p for p in folder.iterdir() if (p / CARD_FILE).is_file()):
            card = read_card(path)
            out.append(Version(path.name, path, card, path.name == current, path.name in ever))
        return out

    def version(self, version_id: str) -> Version:
        for v in self.versions():
            if v.id == version_id:
                return v
        known = ", ".join(v.id for v in self.versions()) or "none"
        raise ModelError(f"no version {version_id!r} in {self.root} (versions: {known})")

    def newest_candidate(self) -> Version:
        candidates = [v for v in self.versions() if v.status == "candidate"]
        if not candidates:
            raise ModelError(f"no candidate in {self.root}: train one with `forwarder model train "
                             f"--store {self.root} --data CSV`")
        return candidates[-1]

    # ---- writing -------------------------------------------------------------------------------
    def add(self, model: TopicModel) -> Version:
        """Write ``model`` as a new (candidate) version; its id is its ``version`` (a ``-2``, ``-3``
        ... suffix is added to both when that id is taken)."""
        base, n = model.version, 1
        while (self.root / VERSIONS / model.version).exists():
            n += 1
            model.version = f"{base}-{n}"
            model.card["version"] = model.version
        save_model(model, self.root / VERSIONS / model.version)
        return self.version(model.version)

    def update_card(self, version_id: str, **fields: Any) -> None:
        """Add fields to a version's card (evaluation results). The model file is not touched."""
        path = self.version(version_id).path / CARD_FILE
        card = json.loads(path.read_text())
        card.update(fields)
        _write_atomic(path, json.dumps(card, indent=2, ensure_ascii=False) + "\n")

    def set_current(self, version_id: str, action: str, by: str = "", now: datetime | None = None) -> None:
        """Make ``version_id`` current (atomic) and append the change to the history."""
        self.version(version_id)  # must exist
        before = self.current_id
        _write_atomic(self.root / CURRENT, version_id + "\n")
        entry = {
            "at": (now or datetime.now(UTC)).isoformat(timespec="seconds"),
            "action": action,
            "from": before,
            "to": version_id,
            "by": by,
        }
        with open(self.root / HISTORY, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def previous_id(self) -> str | None:
        """The version that was current before the present one, if any."""
        current = self.current_id
        for entry in reversed(self.history()):
            if entry.get("to") == current and entry.get("from"):
                return entry["from"]
        return None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def open_store(path: str | Path, create: bool = False) -> ModelStore:
    """The store at ``path``. With ``create``, a missing directory becomes an empty store and a
    plain model directory is converted (its model becomes version 1 and current).

    Raises :class:`ModelError` when ``path`` is neither a store nor (with ``create``) convertible.
    """
    root = Path(path)
    store = ModelStore(root)
    if (root / VERSIONS).is_dir() or (root / CURRENT).is_file():
        return store
    if (root / CARD_FILE).is_file():
        if not create:
            raise ModelError(
                f"{root} is a single model, not a model store; `forwarder model train --store "
                f"{root}` turns it into one (its model stays current)"
            )
        card = read_card(root)
        target = root / VERSIONS / str(card["version"])
        target.mkdir(parents=True)
        for name in (MODEL_FILE, LEGACY_FILE, CARD_FILE, ROWS_FILE):
            if (root / name).exists():
                shutil.move(str(root / name), str(target / name))
        store.set_current(str(card["version"]), "adopted the model that was here")
        return store
    if create:
        (root / VERSIONS).mkdir(parents=True, exist_ok=True)
        return store
    raise ModelError(f"no model store at {root}")
