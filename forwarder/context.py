"""The runtime context handed to every source and sink: injectable clock and time zone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


@dataclass
class Context:
    """``clock()`` returns an aware UTC datetime; tests inject a fake one instead of patching.

    ``timezone`` is the IANA name of the deployment's local zone (Bojonegoro: Asia/Jakarta, WIB),
    used to show times to officers and to read Gammu's naive local timestamps.
    """

    clock: Callable[[], datetime] = field(default=utcnow)
    timezone: str = "Asia/Jakarta"
