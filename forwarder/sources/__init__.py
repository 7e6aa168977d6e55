"""Source adapters, chosen by the ``type:`` key of each entry under ``sources:`` in the config.

The registry maps a type name to the module that implements it; modules are imported only when a
config uses them, so a missing optional dependency of one adapter does not break the others.
"""

from __future__ import annotations

import importlib
from types import ModuleType

REGISTRY: dict[str, str] = {
    "android_sms_gateway": "forwarder.sources.android_sms",
    "gammu_smsd": "forwarder.sources.gammu_smsd",
    "twitter": "forwarder.sources.twitter",
}


def load(type_name: str) -> ModuleType:
    """The adapter module for ``type_name``; raises KeyError for an unknown type."""
    return importlib.import_module(REGISTRY[type_name])
