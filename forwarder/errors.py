"""Exceptions raised by forwarder.

The tree::

    ForwarderError                 base of everything the project raises on purpose
    ├── ConfigError                the config file is unusable; ``.problems`` lists every problem
    ├── ModelError                 a topic model is missing, unreadable, untrusted or incompatible
    ├── StoreError                 the forwarder database cannot be opened or migrated
    └── DeliveryError              a sink or source could not talk to its platform
        ├── TemporaryError         try again later (``retry_after`` seconds when the server said)
        │   └── UncertainDelivery  the request went out but no answer came: it may have arrived
        └── PermanentError         retrying the same request will not help; ``hint`` says what to do
            ├── ChatMigrated       group upgraded to a supergroup; ``new_chat_id`` is where to send
            ├── ChatForbidden      the bot was removed from the group or may not post there
            ├── MessageRejected    the platform refused this message (markup, length); try another form
            └── InvalidToken       the bot/API token is wrong or revoked: stop the sink

Only the CLI turns these into messages and exit codes. Adapters translate their library's
exceptions into these at the boundary; the pipeline owns retries and backoff.
"""

from __future__ import annotations

from dataclasses import dataclass


class ForwarderError(Exception):
    """Base class of the project's own errors."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a config file.

    ``path`` is the YAML path in dotted form (``sinks.tg.token``, ``groups[2].chat_id``),
    ``message`` says what is wrong and ``hint`` (optional) how to fix it.
    """

    path: str
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.path or '<root>'}: {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


class ConfigError(ForwarderError):
    """The config cannot be used. ``problems`` holds every problem found, not just the first."""

    def __init__(self, problems: list[Problem], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{head}{len(self.problems)} problem(s) in the config:\n{lines}")


class ModelError(ForwarderError):
    """A topic model is missing, unreadable, untrusted or was made by an incompatible library."""


class StoreError(ForwarderError):
    """The forwarder database cannot be opened or migrated."""


class DeliveryError(ForwarderError):
    """A platform (sink or source) call failed."""


class TemporaryError(DeliveryError):
    """Try again later. ``retry_after`` is the wait in seconds the server asked for, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UncertainDelivery(TemporaryError):
    """The request was sent but no answer came back (read timeout): it may have been delivered."""


class PermanentError(DeliveryError):
    """Retrying the same request will not help. ``hint`` tells the operator what to do."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class ChatMigrated(PermanentError):
    """The group became a supergroup; send to ``new_chat_id`` from now on (Telegram 400)."""

    def __init__(self, message: str, new_chat_id: str) -> None:
        super().__init__(message, hint=f"update chat_id to {new_chat_id} in the config")
        self.new_chat_id = str(new_chat_id)


class ChatForbidden(PermanentError):
    """The bot was removed from the group or may not post there (Telegram 403)."""


class MessageRejected(PermanentError):
    """The platform refused this message's form (HTML parse error, too long)."""


class InvalidToken(PermanentError):
    """The bot/API token is wrong or revoked (Telegram 401/404): the sink must stop."""
