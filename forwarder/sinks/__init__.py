"""Sink adapters, chosen by the ``type:`` key of each entry under ``sinks:`` in the config.

The registry maps a type name to the module that implements it; modules are imported only when a
config uses them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

REGISTRY: dict[str, str] = {
    "console": "forwarder.sinks.console",
    "telegram": "forwarder.sinks.telegram",
    "waha": "forwarder.sinks.waha",
}


def load(type_name: str) -> ModuleType:
    """The adapter module for ``type_name``; raises KeyError for an unknown type."""
    return importlib.import_module(REGISTRY[type_name])


def can_edit(type_name: str) -> bool:
    """Whether sinks of ``type_name`` edit a posted message (``Sink.edit``): Telegram and the
    console do, ``waha`` (WhatsApp) does not, so the status shown in its groups is not updated and
    news the edit would carry is posted in the complaint's thread instead. Unknown type: False."""
    try:
        return callable(getattr(load(type_name).Sink, "edit", None))
    except KeyError:
        return False


def can_delete(type_name: str) -> bool:
    """Whether sinks of ``type_name`` delete a posted message for everyone (``Sink.delete``)."""
    try:
        return callable(getattr(load(type_name).Sink, "delete", None))
    except KeyError:
        return False
