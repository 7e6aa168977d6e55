"""One daemon per database: an exclusive lock next to the forwarder database.

Two ``forwarder run`` processes on the same database would both read the same inbox rows and
both send the same deliveries (seen in a trial: 39 of 79 messages posted twice). ``run`` and
``demo`` take this lock; admin commands (``status``, ``outbox``, ``report``) do not need it.
The lock is ``flock(2)`` on ``<database>.lock``, released by the kernel when the process ends,
even by SIGKILL, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from forwarder.errors import StoreError


class RunLock:
    """``with RunLock(database):`` or ``acquire()``/``release()``; raises StoreError when held."""

    def __init__(self, database: str | Path) -> None:
        self.path = Path(f"{database}.lock")
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise StoreError(
                f"another forwarder (pid {holder}) is running on {str(self.path)[:-5]}; "
                "only one may run per database: stop it first (forwarder status works alongside)"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def daemon_running(database: str | Path) -> bool:
    """Whether a ``forwarder run`` (or ``demo``) holds the lock of ``database`` now. Never creates
    the lock file's directory; False when there is no lock file."""
    path = Path(f"{database}.lock")
    if not path.exists():
        return False
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a lock taken here
    return False
