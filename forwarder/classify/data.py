"""Labelled training data: read CSVs and officer labels, map labels to topics, split.

A :class:`Labelled` holds parallel lists ``texts``, ``labels`` and ``dates`` (``""``, or the date in
the normal form of :func:`forwarder.classify.dates.iso_date`, ``2026-03-04T10:30:00``, so that their
text order is their time order),
plus ``sha256`` (of the rows used, so a model card names its data exactly) and ``notes`` (what was
left out and why, for the operator to read).

Labels are read in the normal form of :func:`normalize_label` (``' PUPUK '`` and ``'pupuk'`` are one
topic, as the lower-case topic names of ``config/groups.yaml``), and so are the labels and topics of
a label map. Column names are matched ignoring case and spaces (:func:`find_columns`), and Excel's
``sep=;`` first line is honoured.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
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


def normalize_label(label: str) -> str:
    """A label or topic as topics are named: spaces at the ends dropped, inner runs of white space
    (tabs, non-breaking spaces) made one space, case folded: ``' Jalan  RUSAK '`` -> ``'jalan
    rusak'``. ``''`` for a blank label."""
    return " ".join(label.split()).casefold()


def read_label_map(path: str | Path, notes: list[str] | None = None) -> dict[str, str]:
    """A two-column CSV (source label, topic), header optional -> ``{source label: topic}``, both
    in the form of :func:`normalize_label` (so a label matches whatever its case and spaces).
    Columns may be separated by commas, semicolons or tabs (:data:`DELIMITERS`: the first with
    which every row has two columns, else at least two); an Excel ``sep=X`` first line is
    honoured. When ``notes`` is given, a note on the topics whose case or spaces were changed is
    appended to it.

    Raises :class:`TrainingDataError` for a missing file, a file that is not UTF-8 (naming the
    line, see :func:`read_text`), rows without two columns, or a label given two different topics
    (rows differing only in case or spaces included)."""
    try:
        text = read_text(path)
    except OSError as exc:
        raise TrainingDataError(f"cannot read the label map {path}: {exc.strerror or exc}") from exc
    separator, text, skipped = _excel_separator(text)
    try:
        tables = {d: [(n, r) for n, r in _numbered_rows(text, d, skipped)
                      if r and any(c.strip() for c in r)]
                  for d in ((separator,) if separator else DELIMITERS)}
    except csv.Error as exc:
        raise TrainingDataError(f"{path} is not a readable CSV file: {exc}") from exc
    rows = next((t for t in tables.values() if all(len(r) == 2 for _, r in t)),
                next((t for t in tables.values() if all(len(r) >= 2 for _, r in t)),
                     next(iter(tables.values()))))
    if rows and any(len(r) < 2 for _, r in rows):
        raise TrainingDataError(f"{path}: every row of a label map needs two columns (label, topic)")
    if rows and normalize_label(rows[0][1][0]) in {"label", "source", "topik", "source_label"}:
        rows = rows[1:]  # the header
    mapping: dict[str, str] = {}
    first: dict[str, tuple[int, str, str]] = {}  # normal label -> (line, label, topic) as written
    changed: dict[str, set[str]] = {}  # normal topic -> its other spellings
    for line, row in rows:
        label, topic = normalize_label(row[0]), normalize_label(row[1])
        if label in mapping and mapping[label] != topic:
            seen_line, seen_label, seen_topic = first[label]
            raise TrainingDataError(
                f"{path}, line {line}: {row[0].strip()!r} is mapped to {row[1].strip()!r}, but line "
                f"{seen_line} maps {seen_label!r} to {seen_topic!r} (labels are matched ignoring "
                "case and spaces): keep one of the two rows")
        mapping[label] = topic
        first.setdefault(label, (line, row[0].strip(), row[1].strip()))
        if row[1] != topic:
            changed.setdefault(topic, set()).add(row[1])
    if not mapping:
        raise TrainingDataError(f"{path}: the label map is empty")
    if changed and notes is not None:
        notes.append(f"{path}: topic(s) of the label map written in other case or spacing read "
                     f"as topic names: {_spellings(changed)}")
    return mapping


def _numbered_rows(text: str, delimiter: str, skipped: int) -> list[tuple[int, list[str]]]:
    """The CSV rows of ``text`` with the file's line number each starts on (``skipped`` lines were
    taken off the top)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    out = []
    line = skipped + 1
    for row in reader:
        out.append((line, row))
        line = reader.line_num + skipped + 1
    return out


_SEP_LINE = re.compile(r'"?sep=(.)"?\s*')


def _excel_separator(text: str) -> tuple[str | None, str, int]:
    """``(separator, rest of text, lines skipped)`` of a text whose first line is Excel's
    ``sep=X`` (which tells Excel the column separator; it is no row of the table), else
    ``(None, text, 0)``."""
    first, _, rest = text.partition("\n")
    match = _SEP_LINE.fullmatch(first)
    if not match:
        return None, text, 0
    return match.group(1), rest, 1


def _spellings(changed: dict[str, set[str]], shown: int = 5) -> str:
    """``'PUPUK', ' Pupuk' -> 'pupuk'; ...`` for at most ``shown`` topics."""
    items = [f"{', '.join(repr(w) for w in sorted(words))} -> {normal!r}"
             for normal, words in sorted(changed.items())]
    more = f"; and {len(items) - shown} more" if len(items) > shown else ""
    return "; ".join(items[:shown]) + more


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
    """Rows of a UTF-8 CSV with a header. Empty texts or labels are skipped (and counted in notes).
    Labels are read in the form of :func:`normalize_label` (``' PUPUK '`` is ``'pupuk'``), and the
    rows whose label that changed are counted in ``notes`` with the spellings read as one; with
    ``label_map`` (as :func:`read_label_map` returns it: normal labels and topics) each label is
    mapped and rows whose label is not in the map are left out.

    With ``date_column`` every used row's date is read with :func:`forwarder.classify.dates.
    parse_date` and kept in normal form. A date that cannot be read (``kemarin``, empty,
    ``12/25/2026``) is an error naming the first rows (line numbers of the file, the header being
    line 1) and their values, unless ``skip_bad_dates``: then those rows are left out and counted
    in ``notes``.

    The columns may be separated by commas, semicolons (Excel in an Indonesian locale) or tabs
    (:data:`DELIMITERS`): the first separator with which the header has every wanted column is
    used, and named in ``notes`` when it is not the comma. A first line ``sep=X`` (Excel's way of
    naming the separator) is skipped and X is used. Column names are matched as
    :func:`find_columns` does (an exact name first, else ignoring case and spaces).

    Raises :class:`TrainingDataError` for a missing file or column (saying when the header looks
    separated by another character), a column name two header columns match, a file that is not
    UTF-8 (naming the line, with how to convert it: :func:`read_text`) or not CSV, or unreadable
    dates.
    """
    try:
        text = read_text(path)
    except OSError as exc:
        raise TrainingDataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    separator, text, skipped = _excel_separator(text)
    handle = io.StringIO(text, newline="")
    wanted = {text_column: "--text-column", label_column: "--label-column"}
    if date_column:
        wanted[date_column] = "--date-column"
    try:
        delimiter, columns = _columns(handle, path, wanted, separator)
        out, empty, unmapped, bad = _read_rows(
            csv.DictReader(handle, delimiter=delimiter), path, skipped, columns[text_column],
            columns[label_column], columns[date_column] if date_column else None, label_map
        )
    except csv.Error as exc:
        raise TrainingDataError(f"{path} is not a readable CSV file: {exc}") from exc
    if separator:
        out.notes.insert(0, f"{path}: columns separated by {_delimiter_name(delimiter)} (its first "
                            f"line sep={separator})")
    elif delimiter != ",":
        out.notes.insert(0, f"{path}: columns separated by {_delimiter_name(delimiter)}")
    renamed = [f"{got!r} as {name!r}" for name, got in columns.items() if got != name]
    if renamed:
        out.notes.append(f"{path}: column(s) {', '.join(renamed)} (names are matched ignoring "
                         "case and spaces)")
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
    reader: csv.DictReader,
    path: str | Path,
    skipped: int,
    text_column: str,
    label_column: str,
    date_column: str | None,
    label_map: dict[str, str] | None,
) -> tuple[Labelled, int, int, list[tuple[int, str]]]:
    """The rows of ``reader`` (the header's column names as in the file); ``skipped`` lines were
    taken off the top of the file (the ``sep=`` line), for the line numbers of bad dates."""
    out = Labelled()
    empty = unmapped = normalised = 0
    written: dict[str, set[str]] = {}  # normal label -> its spellings in the rows used
    bad: list[tuple[int, str]] = []  # (line, value) of unreadable dates
    for row in reader:
        text = (row.get(text_column) or "").strip()
        as_written = row.get(label_column) or ""
        label = normalize_label(as_written)
        if not text or not label:
            empty += 1
            continue
        if label_map is not None and label not in label_map:
            unmapped += 1
            continue
        date = ""
        if date_column:
            raw = (row.get(date_column) or "").strip()
            date = iso_date(raw) or ""
            if not date:
                bad.append((reader.line_num + skipped, raw))
                continue
        if as_written != label:
            normalised += 1
        written.setdefault(label, set()).add(as_written)
        out.texts.append(text)
        out.labels.append(label_map[label] if label_map is not None else label)
        out.dates.append(date)
    if normalised:
        spellings = sum(len(w) for w in written.values())
        merged = {normal: words - {normal} for normal, words in written.items() if len(words) > 1}
        out.notes.append(
            f"{path}: {normalised} label(s) written with capitals "
            "or extra spaces read in lower case with single spaces"
            + (f"; {spellings} spellings are {len(written)} labels: {_spellings(merged)}"
               if merged else ""))
    return out, empty, unmapped, bad


def find_columns(header: list[str], wanted: list[str]) -> tuple[dict[str, str], list[str],
                                                                dict[str, list[str]]]:
    """Match the ``wanted`` column names to ``header``: a column of exactly that name, else the
    one column equal to it ignoring case and spaces (:func:`normalize_label`: ``'Teks '`` is
    ``teks``). Returns ``({wanted: column of header}, [wanted not found], {wanted: [columns]})``,
    the last for names two or more columns match ignoring case and spaces (and none exactly)."""
    found: dict[str, str] = {}
    missing: list[str] = []
    ambiguous: dict[str, list[str]] = {}
    for name in wanted:
        if name in header:
            found[name] = name
            continue
        alike = [c for c in dict.fromkeys(header) if normalize_label(c) == normalize_label(name)]
        if len(alike) == 1:
            found[name] = alike[0]
        elif alike:
            ambiguous[name] = alike
        else:
            missing.append(name)
    return found, missing, ambiguous


def _delimiter_name(delimiter: str) -> str:
    return f"{_DELIMITER_NAMES[delimiter]}s" if delimiter in _DELIMITER_NAMES else repr(delimiter)


def _columns(handle: TextIO, path: str | Path, wanted: dict[str, str],
             separator: str | None) -> tuple[str, dict[str, str]]:
    """``(separator, {wanted column: the header's name of it})``: the separator is ``separator``
    when given (a ``sep=`` line), else the first of :data:`DELIMITERS` with which the header line
    of ``handle`` has every ``wanted`` column (see :func:`find_columns`); ``handle`` is left at
    its start. ``wanted`` maps each name to the option that names it.

    Raises :class:`TrainingDataError` naming the missing columns and the header's columns, read
    with the separator that splits it most, or a name that two columns match."""
    headers = {}
    for delimiter in (separator,) if separator else DELIMITERS:
        handle.seek(0)
        headers[delimiter] = next(csv.reader(handle, delimiter=delimiter), [])
    handle.seek(0)
    for delimiter, columns in headers.items():
        found, missing, ambiguous = find_columns(columns, list(wanted))
        if ambiguous and not missing:
            name, alike = next(iter(ambiguous.items()))
            raise TrainingDataError(
                f"{path}: column {name!r} matches {' and '.join(repr(c) for c in alike)}, which "
                f"differ only in case or spaces: rename one of them, or give the exact name "
                f"({wanted[name]} {shlex.quote(alike[0])})")
        if not missing:
            return delimiter, found
    delimiter = max(headers, key=lambda d: len(headers[d]))  # the comma on a tie
    columns = headers[delimiter]
    _, missing, _ = find_columns(columns, list(wanted))
    looks = ""
    if separator:
        looks = f" (read with {separator!r}, as its first line sep={separator} says)"
    elif delimiter != ",":
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
        if str(text).strip() and normalize_label(str(topic)):
            out.texts.append(str(text).strip())
            out.labels.append(normalize_label(str(topic)))
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
