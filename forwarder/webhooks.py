"""The HTTP listener shared by the webhook receivers: the SMSGate source
(:mod:`forwarder.sources.android_sms`) and the WhatsApp officers' webhooks
(:mod:`forwarder.sinks.waha_webhooks`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from forwarder.errors import PermanentError

#: the largest webhook body taken (aiohttp answers 413 beyond); an SMS or a chat message is far smaller
MAX_BODY_BYTES = 1 << 20


async def listen(handler: Callable[[Any], Awaitable[Any]], *, host: str, port: int, path: str,
                 what: str, port_key: str) -> tuple[Any, int]:
    """Serve ``POST path`` on ``host:port`` with ``handler`` (aiohttp; no access log, as a
    ``?token=`` in the URL must not reach the logs). Returns ``(runner, bound port)``; ``port``
    0 takes any free one. Raises PermanentError naming ``what`` and the config key ``port_key``
    when the address cannot be bound (port in use, no permission)."""
    from aiohttp import web

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post(path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise PermanentError(f"cannot listen for {what} on {host}:{port}: {exc}",
                             hint=f"free the port or change {port_key}, then restart") from exc
    addresses = runner.addresses
    return runner, int(addresses[0][1]) if addresses else port
