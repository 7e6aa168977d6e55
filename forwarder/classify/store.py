"""A model store: the versions of the topic model an installation has had, and which one is used.

Layout on disk (an installation's copy of ``models/default``, e.g. ``models/bojonegoro``)::

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

``history.jsonl`` is also the promotion history that a rollback without a version walks back
(:meth:`ModelStore.promotions`): replaying it, a promote (or adopting a plain model) puts its
version on top, and a rollback to a version already in the list cuts the list back to it, so
each rollback goes one promotion further back instead of toggling between the last two. Stores
written before this rule have the same file and are read the same way; one without
``history.jsonl`` has only its current version to go back from.

:func:`forwarder.classify.model.load_model` accepts a store path and loads ``current``, always: model
files lying directly in a store (``forwarder train --out STORE`` wrote them there before it refused a
store) are no version and are never loaded; ``forwarder model list`` and ``check-config`` name them
(:func:`~forwarder.classify.model.stray_model_files`). A plain model
directory (``card.json`` and ``model.npz`` directly inside, as ``forwarder train --out`` writes)
becomes a store with that model as its first, current version the first time :func:`open_store`
is called on it with ``create=True``, except the model bundled with forwarder
(:data:`BUNDLED_MODEL`): it is tracked by git and replaced by updates, so it is never converted or
written to; the error says how to copy it into a store of one's own.
"""

from __future__ import annotations

import json
import os
import shlex
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
    STORE_CURRENT,
    STORE_VERSIONS,
    TopicModel,
    is_model_store,
    read_card,
    save_model,
    stray_model_files,
)
from forwarder.errors import ModelError

CURRENT = STORE_CURRENT
VERSIONS = STORE_VERSIONS
HISTORY = "history.jsonl"

REPOSITORY = Path(__file__).resolve().parents[2]
BUNDLED_MODEL = REPOSITORY / "models" / "default"
"""The model shipped in forwarder's repository (the stock config's ``model: models/default``)."""


def is_bundled(path: str | Path) -> bool:
    """Whether ``path`` is :data:`BUNDLED_MODEL` (through a symlink or another spelling too)."""
    path = Path(path)
    if path.resolve() == BUNDLED_MODEL:
        return True
    try:
        return path.exists() and BUNDLED_MODEL.exists() and os.path.samefile(path, BUNDLED_MODEL)
    except OSError:
        return False


def bundled_refusal(path: str | Path, own_name: str = "bojonegoro", config: str | None = None) -> str:
    """Why the bundled model at ``path`` is not changed, and the exact commands that make a store
    of one's own next to it (``<parent>/<own_name>``), to use instead (in ``config``'s
    ``model:``)."""
    root = Path(path)
    own = root.parent / own_name
    source = root.resolve() if root.is_symlink() else root  # `cp -r LINK` would copy the link
    head = (f"{root} is the model bundled with forwarder (tracked by git: updating forwarder "
            "replaces it, and changes made in it would be lost or block the update), so "
            "`forwarder model` does not change it.")
    use = (f"then set `model: {own}` in {config or 'the config'}: the daemon and the `forwarder "
           f"model` commands (their default `--store`) use your store from then on")
    if is_model_store(root):
        restore = (f"\n  git -C {REPOSITORY} checkout -- models/default"
                   if (REPOSITORY / ".git").exists() else "")
        return (f"{head} An earlier forwarder turned it into a model store: move that store to a "
                f"place of your own and put the bundled model back, once:\n  mv {source} {own}"
                f"{restore}\n{use}")
    if own.exists():
        return f"{head} Use your own store instead: {use.removeprefix('then ')}"
    return f"{head} Make a model store of your own from it, once:\n  cp -r {source} {own}\n{use}"


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
    """The store at ``root``; see the module doc. Methods raise :class:`ModelError` on misuse,
    and the writing ones when ``root`` is the bundled model (:func:`is_bundled`)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    # ---- reading -------------------------------------------------------------------------------
    @property
    def current_id(self) -> str | None:
        pointer = self.root / CURRENT
        return pointer.read_text().strip() or None if pointer.is_file() else None

    def history(self) -> list[dict[str, Any]]:
        """The entries of ``history.jsonl``, oldest first (``[]`` without the file); a line that
        is not a JSON object raises :class:`ModelError` naming it."""
        path = self.root / HISTORY
        if not path.is_file():
            return []
        entries = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if not isinstance(entry, dict):
                raise ModelError(f"{path}, line {number}: not a history entry (a JSON object): "
                                 f"{line[:80]!r}; remove or repair that line")
            entries.append(entry)
        return entries

    def promotions(self) -> list[str]:
        """The promotion history as version ids, oldest first, ending with the current version;
        the one before the last is where a rollback without a version goes (see the module doc).
        ``[]`` when nothing is current."""
        current = self.current_id
        if current is None:
            return []
        chain: list[str] = []
        for entry in self.history():
            to = entry.get("to")
            if not to:
                continue
            if entry.get("action") == "rollback" and to in chain:
                del chain[len(chain) - chain[::-1].index(to):]
            elif not chain or chain[-1] != to:
                chain.append(to)
        # `current` written but its history line lost (an interrupted write), or edited by hand
        if current in chain:
            del chain[len(chain) - chain[::-1].index(current):]
        else:
            chain.append(current)
        return chain

    def rollback_target(self) -> str | None:
        """The version promoted before the current one (where ``forwarder model rollback``
        without a version goes), or None when there is none."""
        chain = self.promotions()
        return chain[-2] if len(chain) >= 2 else None

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

    def stray_note(self) -> str | None:
        """A warning about model files lying directly in the store
        (:func:`~forwarder.classify.model.stray_model_files`), with the commands that either make
        them a candidate version or remove them; None when there are none."""
        stray = stray_model_files(self.root)
        if not stray:
            return None
        root = shlex.quote(str(self.root))
        files = " ".join(f"{root}/{name}" for name in stray)
        try:
            version = str(read_card(self.root)["version"])
        except ModelError:
            version = ""
        current = self.current_id or "none"
        remove = f"remove them: rm {files}"
        if version and "/" not in version and not (self.root / VERSIONS / version).exists():
            target = f"{root}/{VERSIONS}/{shlex.quote(version)}"
            what = (f"To keep that model as a candidate of the store (then `forwarder model "
                    f"evaluate`/`promote` it): mkdir {target} && mv {files} {target}/ ; or {remove}")
        elif version:
            what = f"Version {version} of the store is that model already: {remove}"
        else:
            what = remove[0].upper() + remove[1:]
        return (f"{self.root} holds model files directly ({', '.join(stray)}"
                + (f", model {version}" if version else "")
                + f"), as `forwarder train --out {self.root}` wrote them before it refused a store: "
                f"they are no version of the store and are not used (the daemon and `forwarder "
                f"classify` use the current version, {current}). {what}")

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
    def _writable(self) -> None:
        if is_bundled(self.root):
            raise ModelError(bundled_refusal(self.root))

    def add(self, model: TopicModel) -> Version:
        """Write ``model`` as a new (candidate) version; its id is its ``version`` (a ``-2``, ``-3``
        ... suffix is added to both when that id is taken)."""
        self._writable()
        base, n = model.version, 1
        while (self.root / VERSIONS / model.version).exists():
            n += 1
            model.version = f"{base}-{n}"
            model.card["version"] = model.version
        save_model(model, self.root / VERSIONS / model.version)
        return self.version(model.version)

    def update_card(self, version_id: str, **fields: Any) -> None:
        """Add fields to a version's card (evaluation results). The model file is not touched."""
        self._writable()
        path = self.version(version_id).path / CARD_FILE
        card = json.loads(path.read_text())
        card.update(fields)
        _write_atomic(path, json.dumps(card, indent=2, ensure_ascii=False) + "\n")

    def set_current(self, version_id: str, action: str, by: str = "", now: datetime | None = None) -> None:
        """Make ``version_id`` current (atomic) and append the change to the history.
        ``action`` is ``promote``, ``promote (forced)``, ``rollback`` or how a plain model was
        adopted; only ``rollback`` walks the promotion history back (:meth:`promotions`)."""
        self._writable()
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


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def open_store(path: str | Path, create: bool = False, write: bool = False) -> ModelStore:
    """The store at ``path``. With ``create``, a missing directory becomes an empty store and a
    plain model directory is converted (its model becomes version 1 and current). ``write`` (and
    ``create``) say the caller will change the store: refused up front for the bundled model.

    Raises :class:`ModelError` when ``path`` is neither a store nor (with ``create``) convertible,
    or is the bundled model (:data:`BUNDLED_MODEL`) and ``create`` or ``write`` is given; the
    message of the latter says how to make a store of one's own (:func:`bundled_refusal`).
    """
    root = Path(path)
    store = ModelStore(root)
    if (create or write) and is_bundled(root):
        raise ModelError(bundled_refusal(root))
    if is_model_store(root):
        return store
    if (root / CARD_FILE).is_file():
        if is_bundled(root):
            raise ModelError(f"{root} is a single model, not a model store. " + bundled_refusal(root))
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
