"""Opening the Gammu SMSD SQLite database, and what its failures mean for the pipeline.

gammu-smsd (libdbi sqlite3 driver) writes the same file we read, so every connection here is
short: opened for one poll or one commit, in autocommit mode, with a busy timeout, and closed.
No transaction is held between polls, and the file is never created by us (a missing file is
an SMSD that is not set up yet, not an empty inbox). Observed with gammu-smsd 1.42: when it
finds the database locked it logs ``database is locked``, reconnects and retries the insert, so a
short lock held by us loses nothing on its side.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from forwarder.errors import PermanentError, TemporaryError

SCHEMA_HINT = (
    "create the database with gammu-smsd's SQLite schema (version 17: "
    "/usr/share/doc/gammu-smsd/examples/sqlite.sql) and point 'database' at the file "
    "named by dbdir + database in the smsdrc"
)


def _utf8_lenient(value: bytes) -> str:
    # TextDecoded is UTF-8 written by SMSD; a damaged byte must not stop the poll
    return value.decode("utf-8", errors="replace")


def translate(error: sqlite3.Error, path: Path) -> Exception:
    """The pipeline's view of an sqlite3 error on the SMSD database at ``path``.

    Locked/busy, missing or unreadable-for-now -> :class:`TemporaryError` (retry later);
    not a database, damaged, or without Gammu's tables/columns -> :class:`PermanentError`
    with a hint for the operator.
    """
    message = str(error).lower()
    if isinstance(error, sqlite3.OperationalError):
        if "locked" in message or "busy" in message:
            return TemporaryError(
                f"Gammu SMSD database {path} is locked by another program (gammu-smsd, Kalkun, a "
                f"backup); the poll will be retried: {error}"
            )
        if "no such table" in message or "no such column" in message:
            return PermanentError(
                f"Gammu SMSD database {path} lacks a table or column we need: {error}", SCHEMA_HINT
            )
        if "unable to open" in message:
            return TemporaryError(f"Gammu SMSD database {path} cannot be opened right now: {error}")
        return TemporaryError(f"Gammu SMSD database {path}: {error}")
    if isinstance(error, sqlite3.DatabaseError):
        return PermanentError(
            f"{path} is not a usable SQLite database ({error})",
            "check 'database' in the config points at the SMSD database, not another file",
        )
    return TemporaryError(f"Gammu SMSD database {path}: {error}")


@contextmanager
def smsd_connection(path: Path, *, busy_timeout: float = 5.0) -> Iterator[sqlite3.Connection]:
    """An autocommit connection to the existing SMSD database at ``path``, closed on exit.

    ``busy_timeout`` (seconds) is how long a statement waits for a lock held by gammu-smsd or
    another reader/writer before giving up. Raises :class:`TemporaryError` when the file is
    missing or locked, :class:`PermanentError` when it is not an SMSD database (see
    :func:`translate`). Text columns that are not valid UTF-8 are decoded with U+FFFD.
    """
    path = Path(path)
    if not path.is_file():
        raise TemporaryError(
            f"Gammu SMSD database {path} does not exist (yet): is gammu-smsd set up and is the "
            "path right? The poll will be retried"
        )
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=rw",
            uri=True,
            timeout=busy_timeout,
            isolation_level=None,
        )
    except sqlite3.Error as exc:
        raise translate(exc, path) from exc
    conn.text_factory = _utf8_lenient
    try:
        yield conn
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.rollback()
        raise translate(exc, path) from exc
    finally:
        conn.close()
