"""The console sink: prints what each officer group would receive.

Used by the embedded default config (no accounts needed) and by ``forwarder run --dry-run``,
which puts it in place of every configured sink. Output goes to standard output, one block per
message, headed by the group's chat id; message ids are a running counter.
"""

from __future__ import annotations

import itertools
import sys
from typing import Literal, TextIO

from pydantic import BaseModel, ConfigDict

from forwarder.context import Context
from forwarder.sinks.format import render_plain, split_message
from forwarder.types import ComplaintView

#: Long complaints are split like on Telegram so the demo shows what officers would get.
CONSOLE_LIMIT = 4096


class Config(BaseModel):
    """``type: console``; no other keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    type: Literal["console"]


class Sink:
    """Writes each message to ``stream`` (standard output by default)."""

    def __init__(self, name: str, config: Config | None = None, context: Context | None = None,
                 *, stream: TextIO | None = None, labels: dict[str, str] | None = None) -> None:
        self.name = name
        self.stream = stream
        self.labels = labels or {}  # chat id -> group name, for readable output
        self._ids = itertools.count(1)

    async def start(self) -> None:
        return None

    def render(self, view: ComplaintView) -> list[str]:
        return split_message(render_plain(view), CONSOLE_LIMIT, html=False,
                             label=f"Pengaduan {view.tracking_code}")

    def render_plain(self, view: ComplaintView) -> list[str]:
        return self.render(view)

    async def send(self, chat_id: str, text: str, *, plain: bool = False) -> str:
        stream = self.stream or sys.stdout
        label = self.labels.get(chat_id)
        head = f"── ke grup {label} (chat {chat_id})" if label else f"── ke chat {chat_id}"
        stream.write(f"{head} {'─' * max(0, 60 - len(head))}\n{text}\n\n")
        stream.flush()
        return str(next(self._ids))

    async def edit(self, chat_id: str, message_id: str, text: str, *, plain: bool = False) -> None:
        stream = self.stream or sys.stdout
        stream.write(f"── ubah pesan {message_id} di chat {chat_id}\n{text}\n\n")
        stream.flush()

    async def close(self) -> None:
        return None
