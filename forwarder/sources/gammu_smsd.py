"""Source ``gammu_smsd``: complaints sent by SMS, read from Gammu SMSD's SQL inbox (SQLite).

gammu-smsd talks to the GSM modem and writes each received SMS as a row of its ``inbox`` table
(schema version 17). This source reads rows with ``Processed = 'false'``, joins the parts of
concatenated SMS, turns each SMS into an :class:`~forwarder.types.IncomingComplaint`, and sets
``Processed = 'true'`` on exactly those rows in :meth:`Source.commit`, which the pipeline calls
only after its own store committed them. ``external_id`` is ``"inbox:<ids>"``, so an SMS handed
over twice (a crash between store and commit) is stored once.

Concatenated SMS: SMSD itself waits ``MultipartTimeout`` (600 s by default) for missing parts
before inserting what it has; we wait ``multipart_timeout_secs`` more for parts still missing
in the table (counted from when SMSD inserted the first part, ``UpdatedInDB``, or from when this
source first saw it, whichever is earlier), then hand over what arrived with
``meta["incomplete"] = True``. A part arriving after that becomes a complaint of its own.

Time: ``ReceivingDateTime`` is the SMS's time written by SMSD as a naive timestamp in the
daemon's local zone (``datetime('now','localtime')`` in its code, observed); ``timezone`` names
that zone (default: the deployment's, Asia/Jakarta). ``received_at`` is returned in UTC.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

from forwarder.context import Context
from forwarder.phone import classify_sender
from forwarder.sources.gammu_db import smsd_connection
from forwarder.sources.gammu_parts import (
    InboxRow,
    PartSet,
    group_key,
    group_rows,
    joined_text,
    parse_concat_udh,
    single_text,
)
from forwarder.types import IncomingComplaint, Polled

# SQLite allows 999 host parameters per statement in old builds; stay well below.
_IDS_PER_STATEMENT = 500

_COLUMNS = (
    "ID, SenderNumber, ReceivingDateTime, UpdatedInDB, Text, TextDecoded, Coding, UDH, "
    "RecipientID, Class, SMSCNumber"
)


class Config(BaseModel):
    """Settings of one ``gammu_smsd`` source (one SMSD database)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["gammu_smsd"]
    database: Path = Field(description="the SMSD SQLite file (dbdir + database of the smsdrc)")
    poll_interval_secs: float = Field(default=2.0, gt=0)
    # a little above SMSD's own default MultipartTimeout of 600 s (gammu smsdrc documentation)
    multipart_timeout_secs: float = Field(default=660.0, ge=0)
    timezone: str | None = Field(
        default=None,
        description="zone of gammu-smsd's naive ReceivingDateTime; default the deployment's",
    )
    batch_size: int = Field(default=200, ge=1, le=10_000)
    phone_id: str | None = Field(
        default=None, description="only rows with this RecipientID (SMSD PhoneID)"
    )
    default_region: str = Field(default="ID", min_length=2, max_length=2)
    busy_timeout_secs: float = Field(default=5.0, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Asia/Jakarta)")
        return value


def _parse_naive(value: str, zone: ZoneInfo | timezone) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


class Source:
    """Reads complaints from one Gammu SMSD database. See the module docstring."""

    def __init__(self, name: str, config: Config, context: Context) -> None:
        self.name = name
        self.config = config
        self.context = context
        self.poll_interval = config.poll_interval_secs
        self._zone = ZoneInfo(config.timezone or context.timezone)
        # row id -> the id set it was handed over in, until committed (stable re-polls)
        self._handed: dict[int, tuple[int, ...]] = {}
        # first row id of an incomplete set -> when this source first saw it
        self._first_seen: dict[int, datetime] = {}
        # rows a dry run has looked at (left unprocessed in the inbox), not read again
        self._skipped: set[int] = set()

    # -- reading -------------------------------------------------------------------------------

    def _row(self, values: tuple[Any, ...]) -> InboxRow:
        (id_, sender, receiving, updated, text, decoded, coding, udh, recipient, klass, smsc) = (
            values
        )
        try:
            sms_class = int(klass)
        except (TypeError, ValueError):
            sms_class = -1
        return InboxRow(
            id=int(id_),
            sender=sender or "",
            receiving=str(receiving or ""),
            updated=str(updated or ""),
            text_hex=text or "",
            text_decoded=decoded or "",
            coding=coding or "",
            udh=udh or "",
            recipient=recipient or "",
            sms_class=sms_class,
            smsc=smsc or "",
            concat=parse_concat_udh(udh),
        )

    def _read_rows(self) -> list[InboxRow]:
        """Up to ``batch_size`` unprocessed rows, plus later parts of the sets those rows begin.

        The second query keeps a set whose parts straddle the batch limit from looking
        incomplete when a backlog is read.
        """
        where, args = "Processed = 'false'", []
        if self.config.phone_id is not None:
            where += " AND RecipientID = ?"
            args.append(self.config.phone_id)
        if self._skipped:
            where += " AND ID NOT IN (SELECT value FROM json_each(?))"
            args.append(json.dumps(sorted(self._skipped)))
        with smsd_connection(
            self.config.database, busy_timeout=self.config.busy_timeout_secs
        ) as conn:
            fetched = conn.execute(
                f"SELECT {_COLUMNS} FROM inbox WHERE {where} ORDER BY ID LIMIT ?",
                (*args, self.config.batch_size),
            ).fetchall()
            rows = [self._row(v) for v in fetched]
            if len(rows) < self.config.batch_size:
                return rows
            last = rows[-1].id
            waiting = {s.key for s in group_rows(rows) if not s.complete and s.key is not None}
            for sender in sorted({key[0] for key in waiting}):
                more = conn.execute(
                    f"SELECT {_COLUMNS} FROM inbox WHERE {where} AND ID > ? AND SenderNumber = ? "
                    "AND UDH != '' ORDER BY ID",
                    (*args, last, sender),
                ).fetchall()
                for values in more:
                    row = self._row(values)
                    if group_key(row) in waiting:
                        rows.append(row)
            return rows

    def _arrived(self, part_set: PartSet, now: datetime) -> datetime:
        first = min(r.id for r in part_set.rows)
        seen = self._first_seen.setdefault(first, now)
        inserted = [_parse_naive(r.updated, UTC) for r in part_set.rows]
        return min([seen, *(t for t in inserted if t is not None)])

    def _ready(self, sets: list[PartSet]) -> list[PartSet]:
        now = self.context.clock()
        wait = timedelta(seconds=self.config.multipart_timeout_secs)
        ready, waiting_firsts = [], set()
        for part_set in sets:
            if part_set.kept or part_set.complete or now - self._arrived(part_set, now) >= wait:
                ready.append(part_set)
            else:
                waiting_firsts.add(min(r.id for r in part_set.rows))
        # forget sets that were handed over or vanished
        self._first_seen = {k: v for k, v in self._first_seen.items() if k in waiting_firsts}
        return ready

    # -- complaints ----------------------------------------------------------------------------

    def _received_at(self, rows: list[InboxRow]) -> tuple[datetime, str]:
        times = [t for t in (_parse_naive(r.receiving, self._zone) for r in rows) if t is not None]
        if times:
            return min(times), "ReceivingDateTime"
        inserted = [t for t in (_parse_naive(r.updated, UTC) for r in rows) if t is not None]
        if inserted:
            return min(inserted), "UpdatedInDB"
        return self.context.clock().astimezone(UTC), "clock"

    def _complaint(self, part_set: PartSet) -> IncomingComplaint:
        rows = part_set.rows
        first = rows[0]
        sender = classify_sender(first.sender, self.config.default_region)
        received_at, time_source = self._received_at(rows)
        meta: dict[str, Any] = {
            "sender": first.sender,
            "sender_kind": sender.kind,
            "inbox_ids": list(part_set.ids),
            "recipient_id": first.recipient,
            "coding": first.coding,
            "smsc": first.smsc,
            "receiving_datetime": first.receiving,
            "received_at_from": time_source,
            "incomplete": False,
        }
        if first.sms_class != -1:
            meta["sms_class"] = first.sms_class
        if part_set.key is None:
            text, text_from, damaged = single_text(first)
            meta["text_from"] = text_from
            if first.udh:
                meta["udh"] = [first.udh]
        else:
            text, damaged = joined_text(rows)
            _, _, bits, reference, total = part_set.key
            present = [r.concat.seq for r in rows if r.concat]
            meta.update(
                text_from="Text",
                udh=[r.udh for r in rows],
                parts={
                    "total": total,
                    "present": present,
                    "reference": reference,
                    "reference_bits": bits,
                },
                incomplete=len(set(present)) < total,
            )
        if damaged:
            meta["text_damaged"] = True
        return IncomingComplaint(
            external_id="inbox:" + ",".join(str(i) for i in part_set.ids),
            received_at=received_at,
            reporter=sender.reporter,
            text=text,
            channel="sms",
            meta=meta,
        )

    # -- the Source contract -------------------------------------------------------------------

    async def poll(self, cursor: str | None) -> Polled:
        """Complaints from the unprocessed inbox rows; ``token`` holds their inbox IDs.

        ``cursor`` is not used (the ``Processed`` column is the position). Raises
        :class:`~forwarder.errors.TemporaryError` when the database is locked or missing and
        :class:`~forwarder.errors.PermanentError` when it is not an SMSD database.
        """
        rows = await asyncio.to_thread(self._read_rows)
        if len(rows) < self.config.batch_size:
            # every unprocessed row was read: forget hand-overs whose rows someone else processed
            present = {r.id for r in rows}
            self._handed = {k: v for k, v in self._handed.items() if k in present}
        handed = {r.id: self._handed[r.id] for r in rows if r.id in self._handed}
        ready = self._ready(group_rows(rows, handed))
        complaints = [self._complaint(s) for s in ready]
        for part_set in ready:
            for row_id in part_set.ids:
                self._handed[row_id] = part_set.ids
        token = tuple(sorted(i for s in ready for i in s.ids))
        return Polled(complaints=complaints, cursor=None, token=token)

    def _mark_processed(self, ids: list[int]) -> None:
        with smsd_connection(
            self.config.database, busy_timeout=self.config.busy_timeout_secs
        ) as conn:
            conn.execute("BEGIN IMMEDIATE")
            for start in range(0, len(ids), _IDS_PER_STATEMENT):
                chunk = ids[start : start + _IDS_PER_STATEMENT]
                marks = ",".join("?" * len(chunk))
                conn.execute(f"UPDATE inbox SET Processed = 'true' WHERE ID IN ({marks})", chunk)
            conn.execute("COMMIT")

    async def commit(self, polled: Polled) -> None:
        """Set ``Processed = 'true'`` on exactly the inbox rows of ``polled`` (one transaction).

        Raises :class:`~forwarder.errors.TemporaryError` when the database is locked or missing;
        the rows then stay unprocessed and come back in the next poll with the same external IDs.
        """
        ids = sorted({int(i) for i in (polled.token or ())})
        if not ids:
            return
        await asyncio.to_thread(self._mark_processed, ids)
        for row_id in ids:
            self._handed.pop(row_id, None)

    async def skip(self, polled: Polled) -> None:
        """``run --dry-run``: leave the rows of ``polled`` unprocessed in the inbox (the real run
        reads them), but do not read them again in this process, so a look at a backlog larger
        than ``batch_size`` goes on to its end instead of showing the first batch over and over."""
        ids = {int(i) for i in (polled.token or ())}
        self._skipped |= ids
        for row_id in ids:
            self._handed.pop(row_id, None)

    async def close(self) -> None:
        """Nothing to release: every poll and commit opens and closes its own connection."""
        self._handed.clear()
        self._first_seen.clear()
