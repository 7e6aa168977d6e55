"""A Gammu-compatible SMSD database for demos and tests, without gammu installed.

:func:`create_smsd_schema` builds the tables this project reads and writes (``gammu``,
``inbox``, ``outbox``, ``outbox_multipart``, ``sentitems``, ``phones``) with the column names,
types and defaults of Gammu's SMSD SQLite schema version 17 (the one gammu-smsd 1.42 checks:
"Database structures version: 17"). The DDL is generated here from the column lists below.
:func:`add_inbox_sms` and :func:`add_inbox_multipart` insert received SMS the way gammu-smsd
does (``TextDecoded`` UTF-8, ``Text`` UTF-16BE hex, ``Processed='false'``, ``ReceivingDateTime``
naive in the daemon's local time, observed with 1.42).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from forwarder.sources.gammu_parts import build_concat_udh

SCHEMA_VERSION = 17

CODINGS = (
    "Default_No_Compression",
    "Unicode_No_Compression",
    "8bit",
    "Default_Compression",
    "Unicode_Compression",
)
SEND_STATES = (
    "SendingOK",
    "SendingOKNoReport",
    "SendingError",
    "DeliveryOK",
    "DeliveryFailed",
    "DeliveryPending",
    "DeliveryUnknown",
    "Error",
)

_NOW = "NUMERIC NOT NULL DEFAULT (datetime('now'))"  # naive UTC, as SQLite's datetime('now')


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"CHECK ({column} IN ({', '.join(repr(v) for v in values)}))"


# (column, declaration) in Gammu's column order; table constraints after the columns
_TABLES: dict[str, tuple[list[tuple[str, str]], list[str]]] = {
    "gammu": ([("Version", "INTEGER NOT NULL DEFAULT '0' PRIMARY KEY")], []),
    "inbox": (
        [
            ("UpdatedInDB", _NOW),
            ("ReceivingDateTime", _NOW),
            ("Text", "TEXT NOT NULL"),
            ("SenderNumber", "TEXT NOT NULL DEFAULT ''"),
            ("Coding", "TEXT NOT NULL DEFAULT 'Default_No_Compression'"),
            ("UDH", "TEXT NOT NULL"),
            ("SMSCNumber", "TEXT NOT NULL DEFAULT ''"),
            ("Class", "INTEGER NOT NULL DEFAULT '-1'"),
            ("TextDecoded", "TEXT NOT NULL DEFAULT ''"),
            ("ID", "INTEGER PRIMARY KEY AUTOINCREMENT"),
            ("RecipientID", "TEXT NOT NULL"),
            ("Processed", "TEXT NOT NULL DEFAULT 'false'"),
            ("Status", "INTEGER NOT NULL DEFAULT '-1'"),
        ],
        [_in("Coding", CODINGS)],
    ),
    "outbox": (
        [
            ("UpdatedInDB", _NOW),
            ("InsertIntoDB", _NOW),
            ("SendingDateTime", _NOW),
            ("SendBefore", "time NOT NULL DEFAULT '23:59:59'"),
            ("SendAfter", "time NOT NULL DEFAULT '00:00:00'"),
            ("Text", "TEXT"),
            ("DestinationNumber", "TEXT NOT NULL DEFAULT ''"),
            ("Coding", "TEXT NOT NULL DEFAULT 'Default_No_Compression'"),
            ("UDH", "TEXT"),
            ("Class", "INTEGER DEFAULT '-1'"),
            ("TextDecoded", "TEXT NOT NULL DEFAULT ''"),
            ("ID", "INTEGER PRIMARY KEY AUTOINCREMENT"),
            ("MultiPart", "TEXT NOT NULL DEFAULT 'false'"),
            ("RelativeValidity", "INTEGER DEFAULT '-1'"),
            ("SenderID", "TEXT"),
            ("SendingTimeOut", _NOW),
            ("DeliveryReport", "TEXT DEFAULT 'default'"),
            ("CreatorID", "TEXT NOT NULL"),
            ("Retries", "INTEGER DEFAULT '0'"),
            ("Priority", "INTEGER DEFAULT '0'"),
            ("Status", "TEXT NOT NULL DEFAULT 'Reserved'"),
            ("StatusCode", "INTEGER NOT NULL DEFAULT '-1'"),
        ],
        [
            _in("Coding", CODINGS),
            _in("DeliveryReport", ("default", "yes", "no")),
            _in("Status", SEND_STATES + ("Reserved",)),
        ],
    ),
    "outbox_multipart": (
        [
            ("Text", "TEXT"),
            ("Coding", "TEXT NOT NULL DEFAULT 'Default_No_Compression'"),
            ("UDH", "TEXT"),
            ("Class", "INTEGER DEFAULT '-1'"),
            ("TextDecoded", "TEXT DEFAULT NULL"),
            ("ID", "INTEGER"),
            ("SequencePosition", "INTEGER NOT NULL DEFAULT '1'"),
            ("Status", "TEXT NOT NULL DEFAULT 'Reserved'"),
            ("StatusCode", "INTEGER NOT NULL DEFAULT '-1'"),
        ],
        [
            _in("Coding", CODINGS),
            _in("Status", SEND_STATES + ("Reserved",)),
            "PRIMARY KEY (ID, SequencePosition)",
        ],
    ),
    "phones": (
        [
            ("ID", "TEXT NOT NULL"),
            ("UpdatedInDB", _NOW),
            ("InsertIntoDB", _NOW),
            ("TimeOut", _NOW),
            ("Send", "TEXT NOT NULL DEFAULT 'no'"),
            ("Receive", "TEXT NOT NULL DEFAULT 'no'"),
            ("IMEI", "TEXT PRIMARY KEY NOT NULL"),
            ("IMSI", "TEXT NOT NULL"),
            ("NetCode", "TEXT DEFAULT 'ERROR'"),
            ("NetName", "TEXT DEFAULT 'ERROR'"),
            ("Client", "TEXT NOT NULL"),
            ("Battery", "INTEGER NOT NULL DEFAULT -1"),
            ("Signal", "INTEGER NOT NULL DEFAULT -1"),
            ("Sent", "INTEGER NOT NULL DEFAULT 0"),
            ("Received", "INTEGER NOT NULL DEFAULT 0"),
        ],
        [],
    ),
    "sentitems": (
        [
            ("UpdatedInDB", _NOW),
            ("InsertIntoDB", _NOW),
            ("SendingDateTime", _NOW),
            ("DeliveryDateTime", "NUMERIC NULL"),
            ("Text", "TEXT NOT NULL"),
            ("DestinationNumber", "TEXT NOT NULL DEFAULT ''"),
            ("Coding", "TEXT NOT NULL DEFAULT 'Default_No_Compression'"),
            ("UDH", "TEXT NOT NULL"),
            ("SMSCNumber", "TEXT NOT NULL DEFAULT ''"),
            ("Class", "INTEGER NOT NULL DEFAULT '-1'"),
            ("TextDecoded", "TEXT NOT NULL DEFAULT ''"),
            ("ID", "INTEGER"),
            ("SenderID", "TEXT NOT NULL"),
            ("SequencePosition", "INTEGER NOT NULL DEFAULT '1'"),
            ("Status", "TEXT NOT NULL DEFAULT 'SendingOK'"),
            ("StatusError", "INTEGER NOT NULL DEFAULT '-1'"),
            ("TPMR", "INTEGER NOT NULL DEFAULT '-1'"),
            ("RelativeValidity", "INTEGER NOT NULL DEFAULT '-1'"),
            ("CreatorID", "TEXT NOT NULL"),
            ("StatusCode", "INTEGER NOT NULL DEFAULT '-1'"),
        ],
        [_in("Status", SEND_STATES), _in("Coding", CODINGS), "PRIMARY KEY (ID, SequencePosition)"],
    ),
}

# which key identifies a row when its UpdatedInDB is refreshed on update
_TOUCH_KEY = {"inbox": "ID", "outbox": "ID", "phones": "IMEI", "sentitems": "ID"}
_INDEXES = {
    "outbox_date": "outbox(SendingDateTime, SendingTimeOut)",
    "outbox_sender": "outbox(SenderID)",
    "sentitems_date": "sentitems(DeliveryDateTime)",
    "sentitems_tpmr": "sentitems(TPMR)",
    "sentitems_dest": "sentitems(DestinationNumber)",
    "sentitems_sender": "sentitems(SenderID)",
}


def schema_statements() -> list[str]:
    """The CREATE statements of the schema, in order."""
    statements = []
    for table, (columns, constraints) in _TABLES.items():
        body = ",\n  ".join([f"{name} {decl}" for name, decl in columns] + constraints)
        statements.append(f"CREATE TABLE {table} (\n  {body}\n)")
    for name, target in _INDEXES.items():
        statements.append(f"CREATE INDEX {name} ON {target}")
    for table, key in _TOUCH_KEY.items():
        statements.append(
            f"CREATE TRIGGER update_{table}_time UPDATE ON {table} BEGIN "
            f"UPDATE {table} SET UpdatedInDB = datetime('now') WHERE {key} = old.{key}; END"
        )
    return statements


def create_smsd_schema(path: str | Path) -> Path:
    """Create an SMSD database (schema v17 tables we use) at ``path``; returns the path.

    Raises FileExistsError when ``path`` already exists (an SMSD database is never overwritten).
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} exists; not overwriting an SMSD database")
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    try:
        with conn:
            for statement in schema_statements():
                conn.execute(statement)
            conn.execute("INSERT INTO gammu (Version) VALUES (?)", (SCHEMA_VERSION,))
    finally:
        conn.close()
    return path


def _local_naive(moment: datetime, zone: str) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def add_inbox_sms(
    db_path: str | Path,
    number: str,
    text: str,
    received_at: datetime,
    *,
    udh: str = "",
    coding: str = "Unicode_No_Compression",
    timezone: str = "Asia/Jakarta",
    recipient_id: str = "",
    text_hex: str | None = None,
    text_decoded: str | None = None,
    sms_class: int = -1,
    smsc: str = "",
    inserted_at: datetime | None = None,
) -> int:
    """Insert one received SMS (or one part) as gammu-smsd does; returns its ``inbox.ID``.

    ``received_at`` aware -> written as naive local time in ``timezone`` (the zone gammu-smsd
    runs in); naive -> written as given. ``Text`` is ``text`` as UTF-16BE hex (also for Default
    coding) unless ``text_hex`` is given; ``TextDecoded`` is ``text`` unless ``text_decoded`` is
    given (both overrides exist to write damaged rows in tests). ``inserted_at`` sets
    ``UpdatedInDB`` (naive UTC, when SMSD inserted the row); default SQLite's ``datetime('now')``.
    """
    hex_text = (
        text.encode("utf-16-be", errors="surrogatepass").hex().upper()
        if text_hex is None
        else text_hex
    )
    inserted = None if inserted_at is None else _local_naive(inserted_at, "UTC")
    conn = sqlite3.connect(db_path)
    try:
        with conn:
            cursor = conn.execute(
                "INSERT INTO inbox (UpdatedInDB, ReceivingDateTime, Text, SenderNumber, Coding, "
                "SMSCNumber, UDH, Class, TextDecoded, RecipientID, Status) "
                "VALUES (COALESCE(?, datetime('now')), ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
                (
                    inserted,
                    _local_naive(received_at, timezone),
                    hex_text,
                    number,
                    coding,
                    smsc,
                    udh,
                    sms_class,
                    text if text_decoded is None else text_decoded,
                    recipient_id,
                ),
            )
            return int(cursor.lastrowid or 0)
    finally:
        conn.close()


def add_inbox_multipart(
    db_path: str | Path,
    number: str,
    text: str,
    received_at: datetime,
    *,
    reference: int = 0x42,
    bits: int = 8,
    units_per_part: int = 67,
    parts: list[int] | None = None,
    **row: object,
) -> list[int]:
    """Insert a concatenated SMS as one inbox row per part; returns the new IDs in insert order.

    The text's UTF-16BE bytes are cut every ``units_per_part`` code units (67 = UCS-2 with a
    6-byte UDH, 3GPP TS 23.040), *without* respecting surrogate pairs, as some phones do.
    ``parts`` lists the part numbers to insert, in that order (default all, 1..n): leave some out
    to make an incomplete set. Like gammu-smsd 1.42, a complete set has the whole text in part
    1's ``TextDecoded`` and ``''`` in the others; otherwise each part carries its own text.
    Other keywords go to :func:`add_inbox_sms`.
    """
    data = text.encode("utf-16-be", errors="surrogatepass")
    size = units_per_part * 2
    chunks = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    total = len(chunks)
    order = list(range(1, total + 1)) if parts is None else list(parts)
    complete = sorted(order) == list(range(1, total + 1))
    ids = []
    for seq in order:
        chunk = chunks[seq - 1]
        if complete:
            decoded = text if seq == 1 else ""
        else:
            decoded = chunk.decode("utf-16-be", errors="replace")
        ids.append(
            add_inbox_sms(
                db_path,
                number,
                decoded,
                received_at,
                udh=build_concat_udh(reference, total, seq, bits=bits),
                text_hex=chunk.hex().upper(),
                **row,  # type: ignore[arg-type]
            )
        )
    return ids
