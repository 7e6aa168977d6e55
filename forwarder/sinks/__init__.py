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
