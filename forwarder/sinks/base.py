"""The contract every sink adapter fulfils.

A sink module (``forwarder/sinks/<type>.py``) exposes:

* ``Config``: a pydantic model with ``type: Literal["<type>"]`` that rejects unknown keys;
* ``Sink``: a class built as ``Sink(name, config, context)`` (context: :class:`forwarder.context.Context`) with the methods below.

Sinks render a :class:`~forwarder.types.ComplaintView` (which has no reporter in it) in their
platform's format and send it to one chat. They translate their library's exceptions into
:mod:`forwarder.errors` at the boundary; they never retry or sleep themselves.
"""

from __future__ import annotations

from typing import Protocol

from forwarder.types import ComplaintView


class Sink(Protocol):
    name: str

    async def start(self) -> None:
        """Open connections and check the credentials (getMe); raises InvalidToken/TemporaryError."""
        ...

    def render(self, view: ComplaintView) -> list[str]:
        """The message(s) for ``view``, each within the platform's length limit, in order."""
        ...

    async def send(self, chat_id: str, text: str, *, plain: bool = False) -> str:
        """Send one rendered message; returns the platform message id.

        ``plain=True`` sends ``text`` without markup (used after a MessageRejected parse error;
        the pipeline then passes the output of :meth:`render_plain`).

        Raises TemporaryError (with ``retry_after`` when the server gave one), UncertainDelivery
        (sent, no answer), ChatMigrated, ChatForbidden, MessageRejected or InvalidToken.
        """
        ...

    def render_plain(self, view: ComplaintView) -> list[str]:
        """Like :meth:`render` but without any markup, for platforms that refused the markup."""
        ...

    async def close(self) -> None: ...
