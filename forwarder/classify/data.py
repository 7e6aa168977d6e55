"""Labelled training data: read CSVs and officer labels, map labels to topics, split.

A :class:`Labelled` holds parallel lists ``texts``, ``labels`` and ``dates`` (``""``, or the date in
the normal form of :func:`forwarder.classify.dates.iso_date`, ``2026-03-04T10:30:00``, so that their
text order is their time order),
plus ``sha256`` (of the rows used, so a model card names its data exactly) and ``notes`` (what was
left out and why, for the operator to read).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import shlex
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
    """A two-column CSV (source label, topic), header optional -> ``{source label: topic}``.
    Columns may be separated by commas, semicolons or tabs (:data:`DELIMITERS`: the first with
    which every row has two columns, else at least two).

    Raises :class:`TrainingDataError` for a missing file, a file that is not UTF-8 (naming the
    line, see :func:`read_text`), or rows without two columns."""
    try:
        text = read_text(path)
    except OSError as exc:
        raise TrainingDataError(f"cannot read the label map {path}: {exc.strerror or exc}") from exc
    try:
        tables = {d: [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=d)
                      if r and any(c.strip() for c in r)] for d in DELIMITERS}
    except csv.Error as exc:
        raise TrainingDataError(f"{path} is not a readable CSV file: {exc}") from exc
    rows = next((t for t in tables.values() if all(len(r) == 2 for r in t)),
                next((t for t in tables.values() if all(len(r) >= 2 for r in t)), tables[","]))
    if rows and any(len(r) < 2 for r in rows):
        raise TrainingDataError(f"{path}: every row of a label map needs two columns (label, topic)")
    mapping = {r[0].strip(): r[1].strip() for r in rows}
    first = rows[0] if rows else None
    if first and first[0].strip().lower() in {"label", "source", "topik", "source_label"}:
        mapping.pop(first[0].strip(), None)
    if not mapping:
        raise TrainingDataError(f"{path}: the label map is empty")
    return mapping


DELIMITERS = (",", ";", "\t")
"""Column separators a CSV may use: the comma, the semicolon (Excel's CSV where the decimal
separator is a comma, as in an Indonesian locale) and the tab."""

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}

_MAX_LINES_NAMED = 5
"""At most this many lines with bytes that are not UTF-8 are named in the error."""


def read_text(path: str | Path) -> str:
    """The text of the UTF-8 file at ``path`` (a UTF-8 byte order mark, as Excel writes, is
    dropped).

    Raises :class:`TrainingDataError` when it is a binary file (an Excel workbook: NUL bytes), or
    not UTF-8, naming the line and column of the first bytes that are not (and the next lines with such bytes), what the first byte is in
    Windows-1252 (the usual other encoding of a CSV saved on Windows), and how to save or convert
    the file as UTF-8; and :class:`OSError` when it cannot be read."""
    raw = Path(path).read_bytes()
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise TrainingDataError(
            f"{path} is saved as UTF-16 (Excel's 'Unicode Text'), not UTF-8: "
            + _save_as_utf8(path, "UTF-16"))
    body = raw.removeprefix(codecs.BOM_UTF8)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if b"\x00" in body:
            raise TrainingDataError(_binary(path, body)) from None
        raise TrainingDataError(_not_utf8(path, body, exc)) from None
    if "\x00" in text:
        raise TrainingDataError(_binary(path, body))
    return text


def _binary(path: str | Path, raw: bytes) -> str:
    what = ("an Excel workbook (.xlsx)" if raw.startswith(b"PK\x03\x04") else
            "an old Excel workbook (.xls)" if raw.startswith(b"\xd0\xcf\x11\xe0") else
            "not a text file (it holds NUL bytes)")
    return (f"{path} is {what}, not a CSV file: open it in Excel and save it with File > Save As, "
            "'CSV UTF-8 (Comma delimited)'")


def _not_utf8(path: str | Path, raw: bytes, exc: UnicodeDecodeError) -> str:
    line = raw.count(b"\n", 0, exc.start) + 1
    line_start = raw.rfind(b"\n", 0, exc.start) + 1
    column = len(raw[line_start:exc.start].decode("utf-8", errors="replace")) + 1
    byte = raw[exc.start:exc.start + 1]
    try:
        meant = f" (in Windows-1252 that is {byte.decode('cp1252')!r})"
    except UnicodeDecodeError:
        meant = ""
    others = []
    for number, text in enumerate(raw[line_start:].split(b"\n")[1:], line + 1):
        try:
            text.decode("utf-8")
        except UnicodeDecodeError:
            others.append(number)
    also = ""
    if others:
        named = ", ".join(str(n) for n in others[:_MAX_LINES_NAMED])
        more = f" and {len(others) - _MAX_LINES_NAMED} more" if len(others) > _MAX_LINES_NAMED else ""
        also = f"; so are line(s) {named}{more}"
    return (f"{path}, line {line}, column {column}: the file is not UTF-8: byte 0x{byte[0]:02x} "
            f"cannot be read{meant}{also}. It was probably saved as Windows-1252/Latin-1: "
            + _save_as_utf8(path, "WINDOWS-1252"))


def _save_as_utf8(path: str | Path, encoding: str) -> str:
    """How to save ``path`` as UTF-8 again, or convert it from ``encoding`` with iconv."""
    name = Path(path)
    target = name.with_name(f"{name.stem}-utf8{name.suffix or '.csv'}")
    return (f"save it as UTF-8 (Excel: File > Save As, 'CSV UTF-8 (Comma delimited)'; LibreOffice: "
            f"character set 'Unicode (UTF-8)'), or convert it: iconv -f {encoding} -t UTF-8 "
            f"{shlex.quote(str(name))} > {shlex.quote(str(target))}")


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

    The columns may be separated by commas, semicolons (Excel in an Indonesian locale) or tabs
    (:data:`DELIMITERS`): the first separator with which the header has every wanted column is
    used, and named in ``notes`` when it is not the comma.

    Raises :class:`TrainingDataError` for a missing file or column (saying when the header looks
    separated by another character), a file that is not UTF-8 (naming the line, with how to
    convert it: :func:`read_text`) or not CSV, or unreadable dates.
    """
    try:
        text = read_text(path)
    except OSError as exc:
        raise TrainingDataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    handle = io.StringIO(text, newline="")
    try:
        out, empty, unmapped, bad = _read_rows(
            handle, path, text_column, label_column, date_column, label_map
        )
    except csv.Error as exc:
        raise TrainingDataError(f"{path} is not a readable CSV file: {exc}") from exc
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
    wanted = [text_column, label_column] + ([date_column] if date_column else [])
    delimiter = _delimiter(handle, path, wanted)
    reader = csv.DictReader(handle, delimiter=delimiter)
    out = Labelled()
    if delimiter != ",":
        out.notes.append(f"{path}: columns separated by {_DELIMITER_NAMES[delimiter]}s")
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


def _delimiter(handle: TextIO, path: str | Path, wanted: list[str]) -> str:
    """The separator of :data:`DELIMITERS` with which the header line of ``handle`` has every
    ``wanted`` column (``handle`` is left at its start). Raises :class:`TrainingDataError` naming
    the missing columns and the header's columns, read with the separator that splits it most."""
    headers = {}
    for delimiter in DELIMITERS:
        handle.seek(0)
        headers[delimiter] = next(csv.reader(handle, delimiter=delimiter), [])
    handle.seek(0)
    for delimiter, columns in headers.items():
        if all(c in columns for c in wanted):
            return delimiter
    delimiter = max(DELIMITERS, key=lambda d: len(headers[d]))  # the comma on a tie
    columns = headers[delimiter]
    missing = [c for c in wanted if c not in columns]
    looks = ""
    if delimiter != ",":
        looks = (f" (the file looks {_DELIMITER_NAMES[delimiter]}-separated; its header is "
                 f"{','.join(headers[','])!r})")
    raise TrainingDataError(
        f"{path}: no column {', '.join(repr(m) for m in missing)}; "
        f"the columns are: {', '.join(columns) or '(none)'}{looks}"
    )


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
