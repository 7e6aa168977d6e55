"""Labelled training data: read CSVs and officer labels, map labels to topics, split.

A :class:`Labelled` holds parallel lists ``texts``, ``labels`` and ``dates`` (``""``, or the date in
the normal form of :func:`forwarder.classify.dates.iso_date`, ``2026-03-04T10:30:00``, so that their
text order is their time order),
plus ``sha256`` (of the rows used, so a model card names its data exactly) and ``notes`` (what was
left out and why, for the operator to read).
"""

from __future__ import annotations

import csv
import hashlib
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from forwarder.classify.dates import FORMATS_HELP, iso_date

csv.field_size_limit(10_000_000)


class TrainingDataError(ValueError):
    """The training data cannot be used (missing file or column, too few rows per topic)."""


@dataclass
class Labelled:
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        for text, label in zip(self.texts, self.labels):
            digest.update(f"{label}\t{text}\n".encode())
        return digest.hexdigest()

    def extend(self, other: Labelled) -> None:
        self.texts += other.texts
        self.labels += other.labels
        self.dates += other.dates
        self.notes += other.notes

    def subset(self, index: np.ndarray | list[int]) -> Labelled:
        return Labelled(
            [self.texts[i] for i in index],
            [self.labels[i] for i in index],
            [self.dates[i] for i in index],
        )


def read_label_map(path: str | Path) -> dict[str, str]:
    """A two-column CSV (source label, topic), header optional -> ``{source label: topic}``."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [r for r in csv.reader(handle) if r and any(c.strip() for c in r)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise TrainingDataError(f"{path} is not a readable UTF-8 CSV file: {exc}") from exc
    except OSError as exc:
        raise TrainingDataError(f"cannot read the label map {path}: {exc.strerror or exc}") from exc
    if rows and any(len(r) < 2 for r in rows):
        raise TrainingDataError(f"{path}: every row of a label map needs two columns (label, topic)")
    mapping = {r[0].strip(): r[1].strip() for r in rows}
    first = rows[0] if rows else None
    if first and first[0].strip().lower() in {"label", "source", "topik", "source_label"}:
        mapping.pop(first[0].strip(), None)
    if not mapping:
        raise TrainingDataError(f"{path}: the label map is empty")
    return mapping


def read_csv(
    path: str | Path,
    text_column: str,
    label_column: str,
    date_column: str | None = None,
    label_map: dict[str, str] | None = None,
    skip_bad_dates: bool = False,
) -> Labelled:
    """Rows of a UTF-8 CSV with a header. Empty texts or labels are skipped (and counted in notes);
    with ``label_map`` each label is mapped and rows whose label is not in the map are left out.

    With ``date_column`` every used row's date is read with :func:`forwarder.classify.dates.
    parse_date` and kept in normal form. A date that cannot be read (``kemarin``, empty,
    ``12/25/2026``) is an error naming the first rows (line numbers of the file, the header being
    line 1) and their values, unless ``skip_bad_dates``: then those rows are left out and counted
    in ``notes``.

    Raises :class:`TrainingDataError` for a missing file or column, a file that is not a UTF-8
    CSV, or unreadable dates.
    """
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            out, empty, unmapped, bad = _read_rows(
                handle, path, text_column, label_column, date_column, label_map
            )
    except (UnicodeDecodeError, csv.Error) as exc:
        raise TrainingDataError(f"{path} is not a readable UTF-8 CSV file: {exc}") from exc
    except OSError as exc:
        raise TrainingDataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if bad and not skip_bad_dates:
        shown = ", ".join(f"line {line} {value!r}" if value else f"line {line} (empty)"
                          for line, value in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        raise TrainingDataError(
            f"{path}: {len(bad)} row(s) whose {date_column!r} is not a date this program reads: "
            f"{shown}{more}. Write dates as {FORMATS_HELP}; or pass --skip-bad-dates to leave "
            "those rows out"
        )
    if bad:
        out.notes.append(f"{path}: {len(bad)} row(s) whose {date_column!r} is not a readable date "
                         "left out (--skip-bad-dates)")
    if empty:
        out.notes.append(f"{path}: {empty} row(s) without text or label left out")
    if label_map is not None:
        out.notes.append(f"{path}: {unmapped} row(s) whose label is not in the label map left out")
    return out


def _read_rows(
    handle: TextIO,
    path: str | Path,
    text_column: str,
    label_column: str,
    date_column: str | None,
    label_map: dict[str, str] | None,
) -> tuple[Labelled, int, int, list[tuple[int, str]]]:
    reader = csv.DictReader(handle)
    columns = reader.fieldnames or []
    wanted = [text_column, label_column] + ([date_column] if date_column else [])
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise TrainingDataError(
            f"{path}: no column {', '.join(repr(m) for m in missing)}; "
            f"the columns are: {', '.join(columns) or '(none)'}"
        )
    out = Labelled()
    empty = unmapped = 0
    bad: list[tuple[int, str]] = []  # (line, value) of unreadable dates
    for row in reader:
        text = (row.get(text_column) or "").strip()
        label = (row.get(label_column) or "").strip()
        if not text or not label:
            empty += 1
            continue
        if label_map is not None:
            if label not in label_map:
                unmapped += 1
                continue
            label = label_map[label]
        date = ""
        if date_column:
            raw = (row.get(date_column) or "").strip()
            date = iso_date(raw) or ""
            if not date:
                bad.append((reader.line_num, raw))
                continue
        out.texts.append(text)
        out.labels.append(label)
        out.dates.append(date)
    return out, empty, unmapped, bad


def read_officer_labels(database: str | Path) -> Labelled:
    """Officer corrections from the forwarder database's ``labels`` table
    (complaint_id, text, topic, labelled_by, labelled_at), newest label per complaint.

    A missing file or table gives an empty :class:`Labelled` with a note, not an error.
    """
    import sqlite_utils

    path = Path(database)
    if not path.is_file():
        return Labelled(notes=[f"{path}: no database, no officer labels used"])
    try:
        db = sqlite_utils.Database(path)
        if "labels" not in db.table_names():
            return Labelled(notes=[f"{path}: no labels table, no officer labels used"])
        rows = db.query(
            "select complaint_id, text, topic, labelled_at from labels "
            "where text is not null and topic is not null order by labelled_at"
        )
        latest: dict[object, tuple[str, str, str]] = {}
        for row in rows:
            latest[row["complaint_id"]] = (row["text"], row["topic"], row["labelled_at"] or "")
    except sqlite3.DatabaseError as exc:
        raise TrainingDataError(f"cannot read officer labels from {path}: {exc}") from exc
    out = Labelled()
    for text, topic, when in latest.values():
        if str(text).strip() and str(topic).strip():
            out.texts.append(str(text).strip())
            out.labels.append(str(topic).strip())
            out.dates.append(iso_date(str(when)) or "")
    out.notes.append(f"{path}: {len(out)} officer label(s) used")
    return out


def check_counts(data: Labelled, minimum: int) -> None:
    """Raise :class:`TrainingDataError` naming every topic with fewer than ``minimum`` rows."""
    if len(data) == 0:
        raise TrainingDataError("no labelled rows to train on")
    counts = Counter(data.labels)
    if len(counts) < 2:
        raise TrainingDataError(f"need at least two topics to train; found only {list(counts)}")
    few = sorted((t, c) for t, c in counts.items() if c < minimum)
    if few:
        listed = ", ".join(f"{t} ({c})" for t, c in few)
        raise TrainingDataError(
            f"too few rows for topic(s): {listed}; each topic needs at least {minimum} "
            "(add examples, or drop the topic with a label map)"
        )


def split(
    data: Labelled, test_fraction: float, by_date: bool, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test). ``by_date``: the newest ``test_fraction`` of rows by date is the test
    part (rows sorted by their normalised date text, which is time order; rows without a date, such
    as an officer label without ``labelled_at``, sort first and so are training rows). Otherwise a
    stratified random split with ``seed``, at least one test row per topic.
    """
    n = len(data)
    if not 0 < test_fraction < 1:
        raise TrainingDataError("the test fraction must be between 0 and 1")
    if by_date:
        order = np.array(sorted(range(n), key=lambda i: data.dates[i]), dtype=np.int64)
        cut = round(n * (1 - test_fraction))
        return order[:cut], order[cut:]
    from sklearn.model_selection import train_test_split

    index = np.arange(n)
    train, test = train_test_split(
        index, test_size=test_fraction, stratify=data.labels, random_state=seed
    )
    return np.sort(train), np.sort(test)
