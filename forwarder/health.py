"""Quiet logging of channel health: one line when a channel goes down, one when it recovers.

A channel is a source (``source:sms``), a sink (``sink:tg``) or one chat (``chat:tg:-100123``).
Repeated failures of a channel that is already down are counted, not logged again, so the log
stays readable during a long outage. Log lines are ``key=value`` fields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

log = logging.getLogger("forwarder")


def kv(**fields: object) -> str:
    """``key=value`` text for a log line; values with spaces are quoted."""
    parts = []
    for key, value in fields.items():
        text = str(value)
        if not text or any(c.isspace() for c in text) or '"' in text:
            text = '"' + text.replace('"', "'") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


@dataclass
class ChannelState:
    down_since: datetime | None = None
    reason: str = ""
    failures: int = 0


@dataclass
class Health:
    """Tracks which channels are down; logs only the transitions.

    ``on_change(channel, state, reason)`` (state ``down`` or ``up``) is called on each transition;
    the pipeline uses it to keep the ``channel_state`` table for ``forwarder status``.
    """

    clock: Callable[[], datetime]
    channels: dict[str, ChannelState] = field(default_factory=dict)
    on_change: Callable[[str, str, str], None] | None = None

    def _changed(self, channel: str, state: str, reason: str) -> None:
        if self.on_change is not None:
            try:
                self.on_change(channel, state, reason)
            except Exception:  # status bookkeeping must never stop delivery
                log.debug("health bookkeeping failed", exc_info=True)

    def down(self, channel: str, reason: str, *, level: int = logging.WARNING) -> None:
        state = self.channels.setdefault(channel, ChannelState())
        state.failures += 1
        if state.down_since is None:
            state.down_since = self.clock()
            state.reason = reason
            log.log(level, kv(event="channel_down", channel=channel, reason=reason))
            self._changed(channel, "down", reason)

    def up(self, channel: str) -> None:
        state = self.channels.get(channel)
        if state is not None and state.down_since is not None:
            seconds = (self.clock() - state.down_since).total_seconds()
            log.info(kv(event="channel_up", channel=channel, down_secs=f"{seconds:.0f}",
                        failures=state.failures))
            state.down_since = None
            state.failures = 0
            state.reason = ""
            self._changed(channel, "up", "")
        elif state is None:
            self.channels[channel] = ChannelState()
            self._changed(channel, "up", "")

    def is_down(self, channel: str) -> bool:
        state = self.channels.get(channel)
        return bool(state and state.down_since)
