"""The contract every source adapter fulfils.

A source module (``forwarder/sources/<type>.py``) exposes:

* ``Config``: a pydantic model with ``type: Literal["<type>"]`` that rejects unknown keys;
* ``Source``: a class built as ``Source(name, config, context)`` (context: :class:`forwarder.context.Context`) with the methods below.

The pipeline calls ``poll`` on its own schedule, stores the complaints and the new cursor in one
transaction, and only then calls ``commit`` (the Benthos rule: acknowledge after handling). A
source therefore never loses a complaint to a crash; it may hand one over twice, and the store
ignores the repeat by (source, external_id).
"""

from __future__ import annotations

from typing import Protocol

from forwarder.types import Polled


class Source(Protocol):
    name: str
    poll_interval: float  # seconds between polls

    async def poll(self, cursor: str | None) -> Polled:
        """Read new complaints after ``cursor``. Raises TemporaryError/PermanentError."""
        ...

    async def commit(self, polled: Polled) -> None:
        """Acknowledge ``polled`` at the platform after it was stored (may be a no-op)."""
        ...

    # Optional, for sources whose position is their platform's "done" mark (an inbox row's
    # Processed column, a spool row): ``async def skip(self, polled: Polled) -> None`` leaves
    # ``polled`` unacknowledged at the platform but never hands it over again in this process, so
    # ``forwarder run --dry-run --once`` reads a backlog larger than one batch once, to its end.

    async def close(self) -> None: ...
