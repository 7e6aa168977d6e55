"""The real gammu-smsd for tests: dummy phone, SQLite database, fast timers, foreground process.

Use::

    from fakes.gammu import GammuSmsd, requires_gammu

    @requires_gammu
    def test_receives(tmp_path):
        with GammuSmsd(tmp_path) as smsd:            # writes smsdrc + smsd.db, starts, waits ready
            smsd.deliver("+6281234567890", "Jalan rusak di Baureno")
            rows = smsd.wait_inbox(1)                # inbox rows as dicts
        # smsd.db_path is the SMSD database to point a gammu_smsd source at

The dummy phone (gammu ``libgammu/phone/dummy``) reads SMS-backup files from
``<phone>/sms/1/<location>``; gammu-smsd reads each, deletes it and inserts an ``inbox`` row.
Files must say ``PDU = Deliver`` (``Submit`` files are read and dropped, observed with 1.42).
Text is UTF-16BE hex. The daemon runs with ``TZ=UTC`` so its naive local timestamps are UTC.
Facts: ``shared/notes/integrations.md`` section A.
"""

from __future__ import annotations

import glob
import gzip
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import pytest

SCHEMA_CANDIDATES = (
    "/usr/share/doc/gammu-smsd/examples/sqlite.sql",
    "/usr/share/doc/gammu-smsd/examples/sqlite.sql.gz",
    "/usr/share/doc/gammu/examples/sql/sqlite.sql",
    "/usr/share/doc/gammu/examples/sql/sqlite.sql.gz",
    "/usr/share/gammu/sql/sqlite.sql",
)
DBD_GLOBS = (
    "/usr/lib/*/dbd/libdbdsqlite3.so",
    "/usr/lib/dbd/libdbdsqlite3.so",
    "/usr/lib64/dbd/libdbdsqlite3.so",
    "/usr/local/lib/dbd/libdbdsqlite3.so",
    "/usr/local/lib/*/dbd/libdbdsqlite3.so",
)
UNITS_SINGLE = 70  # UCS-2 units in one SMS (140 octets, 3GPP TS 23.040)
UNITS_PART = 67  # UCS-2 units per part after a 6-octet concatenation UDH


def find_schema() -> Path | None:
    """gammu-smsd's SQLite schema file (plain or gzipped); ``$GAMMU_SMSD_SCHEMA`` overrides."""
    override = os.environ.get("GAMMU_SMSD_SCHEMA")
    for candidate in ([override] if override else []) + list(SCHEMA_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def find_dbd_sqlite3() -> Path | None:
    """The libdbi SQLite3 driver gammu-smsd's ``driver = sqlite3`` needs (package libdbd-sqlite3)."""
    for pattern in DBD_GLOBS:
        for match in sorted(glob.glob(pattern)):
            return Path(match)
    return None


def gammu_missing() -> str:
    """Why the real gammu-smsd cannot run here, or ``""`` when it can."""
    if shutil.which("gammu-smsd") is None:
        return "gammu-smsd is not installed (apt-get install gammu-smsd)"
    if find_schema() is None:
        return "gammu-smsd's sqlite.sql schema is missing"
    if find_dbd_sqlite3() is None:
        return "the libdbi sqlite3 driver is missing (apt-get install libdbd-sqlite3)"
    return ""


requires_gammu = pytest.mark.skipif(
    bool(gammu_missing()), reason=gammu_missing() or "gammu-smsd present"
)


def schema_sql() -> str:
    """The text of gammu-smsd's SQLite schema (v17)."""
    path = find_schema()
    if path is None:
        raise FileNotFoundError("gammu-smsd's sqlite.sql schema is missing")
    if path.suffix == ".gz":
        return gzip.decompress(path.read_bytes()).decode("utf-8")
    return path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class Delivery:
    """What :meth:`GammuSmsd.deliver` wrote: the parts' UTF-16BE bytes and the files."""

    reference: int | None
    total: int
    parts: tuple[bytes, ...]
    files: tuple[Path, ...]


class GammuSmsd:
    """One gammu-smsd process with its own dummy phone and SQLite database under ``tmp_path``.

    ``multipart_timeout`` (s) is SMSD's wait for missing parts; ``phone_id`` is its PhoneID
    (``inbox.RecipientID``, ``sentitems.SenderID``).
    """

    def __init__(
        self,
        tmp_path: Path,
        *,
        phone_id: str = "test",
        multipart_timeout: int = 5,
        debuglevel: int = 1,
    ) -> None:
        self.root = Path(tmp_path) / "gammu"
        self.phone_dir = self.root / "phone"
        self.db_path = self.root / "smsd.db"
        self.log_path = self.root / "smsd.log"
        self.output_path = self.root / "smsd.out"
        self.smsdrc = self.root / "smsdrc"
        self.phone_id = phone_id
        self.multipart_timeout = multipart_timeout
        self.debuglevel = debuglevel
        self.process: subprocess.Popen[bytes] | None = None
        self._location = 0
        self._reference = 0x40
        self.root.mkdir(parents=True, exist_ok=True)
        self.phone_dir.mkdir(exist_ok=True)
        self._write_config()
        if not self.db_path.exists():
            conn = sqlite3.connect(self.db_path)
            try:
                conn.executescript(schema_sql())
            finally:
                conn.close()

    # -- process -------------------------------------------------------------------------------

    def _write_config(self) -> None:
        self.smsdrc.write_text(
            "[gammu]\n"
            "model = dummy\n"
            "connection = none\n"
            f"device = {self.phone_dir}\n"
            "\n"
            "[smsd]\n"
            "service = sql\n"
            "driver = sqlite3\n"
            f"database = {self.db_path.name}\n"
            f"dbdir = {self.root}/\n"
            f"logfile = {self.log_path}\n"
            f"debuglevel = {self.debuglevel}\n"
            "commtimeout = 1\n"
            "receivefrequency = 1\n"
            "loopsleep = 1\n"
            "statusfrequency = 0\n"
            f"multiparttimeout = {self.multipart_timeout}\n"
            "checksecurity = 0\n"
            "checkbattery = 0\n"
            "checksignal = 0\n"
            "checknetwork = 0\n"
            f"phoneid = {self.phone_id}\n",
            encoding="utf-8",
        )

    def log(self) -> str:
        """The daemon's log file and its stdout/stderr, for assertion messages."""
        parts = []
        for path in (self.log_path, self.output_path):
            if path.exists():
                parts.append(
                    f"--- {path.name} ---\n" + path.read_text(encoding="utf-8", errors="replace")
                )
        return "\n".join(parts) or "(no gammu-smsd output)"

    def fail(self, message: str) -> None:
        """Raise an AssertionError carrying ``message`` and the daemon's log."""
        raise AssertionError(f"{message}\n{self.log()}")

    def start(self, timeout: float = 20.0) -> Self:
        """Start ``gammu-smsd -c smsdrc`` (foreground, TZ=UTC) and wait until it polls the phone.

        Ready means: the log says ``Starting phone communication`` and the ``phones`` row of
        this PhoneID exists (SMSD writes it once the phone answered).
        """
        if self.process is not None:
            raise RuntimeError("gammu-smsd is already running")
        env = dict(os.environ, TZ="UTC")
        with open(self.output_path, "ab") as out:
            self.process = subprocess.Popen(
                ["gammu-smsd", "-c", str(self.smsdrc)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.root,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.fail(f"gammu-smsd exited with code {self.process.returncode} while starting")
            if "Starting phone communication" in self.log() and self._phone_registered():
                return self
            time.sleep(0.1)
        self.stop()
        self.fail(f"gammu-smsd was not ready after {timeout} s")
        return self

    def _phone_registered(self) -> bool:
        try:
            return bool(self.query("SELECT 1 FROM phones WHERE ID = ?", (self.phone_id,)))
        except sqlite3.Error:
            return False

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the daemon and wait for it; returns its exit code (0 on a clean stop)."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                self.fail(f"gammu-smsd did not stop within {timeout} s of SIGTERM")
        return process.returncode

    def __enter__(self) -> Self:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def assert_running(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.fail("gammu-smsd is not running")

    # -- inbound -------------------------------------------------------------------------------

    def _write_backup(
        self, number: str, data: bytes, when: datetime, coding: str, udh: str
    ) -> Path:
        self._location += 1
        hex_text = data.hex().upper()
        lines = [
            "[SMSBackup000]",
            "PDU = Deliver",
            f"DateTime = {when.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}",
            "State = UnRead",
            f'Number = "{number}"',
            f"Coding = {coding}",
            "Folder = 1",
            f"Length = {len(data) // 2}",
            "Class = -1",
        ]
        if udh:
            lines.append(f"UDH = {udh}")
        lines += [
            f"Text{i:02d} = {hex_text[j : j + 200]}"
            for i, j in enumerate(range(0, len(hex_text), 200))
        ]
        target = self.phone_dir / "sms" / "1" / str(self._location)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.root / f".sms-{self._location}.tmp"
        temporary.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(temporary, target)  # the daemon never sees half a file
        return target

    def deliver(
        self,
        number: str,
        text: str,
        when: datetime | None = None,
        *,
        coding: str = "Unicode_No_Compression",
        units_per_part: int | None = None,
        ref_bits: int = 8,
        reference: int | None = None,
        parts: Sequence[int] | None = None,
    ) -> Delivery:
        """Make the dummy phone receive ``text`` from ``number``; returns what was written.

        Text over 70 UTF-16 units (or over ``units_per_part`` when given) is cut into parts of
        ``units_per_part`` (default 67) units of raw UTF-16BE, ignoring surrogate pairs, as some
        phones do, each with a concatenation UDH: ``050003RRTTSS`` (``ref_bits=8``) or
        ``060804RRRRTTSS`` (``ref_bits=16``). ``parts`` chooses which part numbers to write and
        in which order (``[3, 1]``: part 3 then part 1, part 2 never); call again with the same
        ``reference`` to deliver a late part. ``when`` (default now) is the SMS's timestamp.
        """
        data = text.encode("utf-16-be", errors="surrogatepass")
        when = when or datetime.now(UTC)
        size = (units_per_part or UNITS_PART) * 2
        if units_per_part is None and len(data) <= UNITS_SINGLE * 2:
            chunks = [data]
        else:
            chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
        if len(chunks) == 1 and parts is None:
            file = self._write_backup(number, chunks[0], when, coding, "")
            return Delivery(None, 1, tuple(chunks), (file,))
        if reference is None:
            self._reference += 1
            reference = self._reference
        total = len(chunks)
        files = []
        for seq in parts if parts is not None else range(1, total + 1):
            if ref_bits == 16:
                udh = f"060804{reference:04X}{total:02X}{seq:02X}"
            else:
                udh = f"050003{reference:02X}{total:02X}{seq:02X}"
            files.append(self._write_backup(number, chunks[seq - 1], when, coding, udh))
        return Delivery(reference, total, tuple(chunks), tuple(files))

    # -- database ------------------------------------------------------------------------------

    def query(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of ``sql`` on the SMSD database, as dicts (short read-only connection)."""
        conn = sqlite3.connect(f"{self.db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(row) for row in conn.execute(sql, tuple(args))]
        finally:
            conn.close()

    def inbox(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM inbox ORDER BY ID")

    def sentitems(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM sentitems ORDER BY ID, SequencePosition")

    def outbox(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM outbox ORDER BY ID")

    def _wait(self, what: str, table: str, n: int, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        rows = []
        while time.monotonic() < deadline:
            self.assert_running()
            rows = getattr(self, table)()
            if len(rows) >= n:
                return rows
            time.sleep(0.1)
        self.fail(f"waited {timeout} s for {n} {what} rows, have {len(rows)}: {rows!r}")
        return rows

    def wait_inbox(self, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait until ``inbox`` has at least ``n`` rows; returns all rows (fails with the log)."""
        return self._wait("inbox", "inbox", n, timeout)

    def wait_sent(self, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait until ``sentitems`` has at least ``n`` rows (parts); returns all rows."""
        return self._wait("sentitems", "sentitems", n, timeout)

    def wait_outbox_empty(self, timeout: float = 20.0) -> None:
        """Wait until SMSD has removed every ``outbox`` row (it does so just after writing the
        last part to ``sentitems``, in a separate statement)."""
        deadline = time.monotonic() + timeout
        while self.outbox() and time.monotonic() < deadline:
            self.assert_running()
            time.sleep(0.1)
        if self.outbox():
            self.fail(f"waited {timeout} s for an empty outbox, have {self.outbox()!r}")


@pytest.fixture(name="gammu_smsd")
def gammu_smsd_fixture(tmp_path: Path) -> Iterator[GammuSmsd]:
    """Fixture ``gammu_smsd``: a started :class:`GammuSmsd` (skips when gammu-smsd cannot run),
    stopped afterwards. Import ``gammu_smsd_fixture`` into a test module to use it."""
    reason = gammu_missing()
    if reason:
        pytest.skip(reason)
    smsd = GammuSmsd(tmp_path).start()
    try:
        yield smsd
    finally:
        smsd.stop()
