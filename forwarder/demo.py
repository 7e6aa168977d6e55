"""The embedded default demo: example SMS arriving through a Gammu SMSD-format inbox.

``forwarder demo`` calls :func:`seed_demo_inbox` and then runs the main job once. The inbox is a
SQLite file with Gammu SMSD's tables (:mod:`forwarder.sources.gammu_schema`), so the example
complaints take exactly the path a real SMS takes from a district's gateway.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from forwarder.config import Settings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "demo_sms.yaml"


def _parts(text: str, count: int) -> list[str]:
    size = math.ceil(len(text) / count)
    return [text[i : i + size] for i in range(0, len(text), size)]


def seed_demo_inbox(settings: Settings, *, fresh: bool = False,
                    examples: Path = EXAMPLES) -> dict[str, int]:
    """Write the example SMS into the inbox of every gammu_smsd source of ``settings``.

    An inbox that already has rows is left alone (so the demo run twice shows that nothing is
    posted twice), unless ``fresh`` is set, which also empties the forwarder database.
    Returns {inbox path: SMS written}. Raises OSError, ValueError (unreadable examples).
    """
    from forwarder.sources.gammu_schema import add_inbox_sms, create_smsd_schema

    messages = yaml.safe_load(examples.read_text(encoding="utf-8"))
    if not isinstance(messages, list):
        raise ValueError(f"{examples}: expected a list of SMS")
    written: dict[str, int] = {}
    if fresh and Path(settings.database).exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{settings.database}{suffix}").unlink(missing_ok=True)
    for cfg in settings.sources.values():
        if getattr(cfg, "type", None) != "gammu_smsd":
            continue
        path = Path(cfg.database)
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        if path.exists():
            written[str(path)] = 0
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        create_smsd_schema(path)
        start = datetime.now(UTC) - timedelta(minutes=len(messages))
        count = 0
        for i, msg in enumerate(messages):
            when = start + timedelta(minutes=i)
            parts = int(msg.get("parts", 1))
            if parts <= 1:
                add_inbox_sms(path, str(msg["sender"]), str(msg["text"]), when)
            else:
                chunks = _parts(str(msg["text"]), parts)
                ref = 0x40 + i
                for seq, chunk in enumerate(chunks, start=1):
                    add_inbox_sms(path, str(msg["sender"]), chunk, when,
                                  udh=f"050003{ref:02X}{len(chunks):02X}{seq:02X}")
            count += 1
        written[str(path)] = count
    return written
