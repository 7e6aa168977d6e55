"""The embedded default demo: example SMS arriving through a Gammu SMSD-format inbox.

``forwarder demo`` calls :func:`seed_demo_inbox` and then runs the main job once. The inbox is a
SQLite file with Gammu SMSD's tables (:mod:`forwarder.sources.gammu_schema`), so the example
complaints take exactly the path a real SMS takes from a district's gateway.
"""

from __future__ import annotations

import math
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from forwarder.config import Settings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "demo_sms.yaml"


def _parts(text: str, count: int) -> list[str]:
    size = math.ceil(len(text) / count)
    return [text[i : i + size] for i in range(0, len(text), size)]


#: A table the demo creates in every inbox it makes: only such inboxes may be wiped by --fresh.
DEMO_MARK = "forwarder_demo"


def is_demo_inbox(path: Path) -> bool:
    """True when ``path`` is a Gammu-format inbox that ``forwarder demo`` created."""
    import sqlite3

    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        return bool(conn.execute("select 1 from sqlite_master where name = ?", [DEMO_MARK]).fetchone())
    except sqlite3.Error:
        return False
    finally:
        conn.close()


def check_demo_config(settings: Settings) -> None:
    """Refuse a config the demo must not touch: any sink that is not the console (it would
    post to real groups), or, with ``--fresh``, an inbox the demo did not create.

    Raises ValueError saying why."""
    live = [f"{name} ({getattr(cfg, 'type', '?')})" for name, cfg in settings.sinks.items()
            if getattr(cfg, "type", None) != "console"]
    if live:
        raise ValueError(f"the demo only prints to the console, but this config has the sink(s) "
                         f"{', '.join(live)}; use `forwarder run --dry-run --once` to look at a live config")


def seed_demo_inbox(settings: Settings, *, fresh: bool = False,
                    examples: Path = EXAMPLES) -> dict[str, int]:
    """Write the example SMS into the inbox of every gammu_smsd source of ``settings``.

    An inbox that already has rows is left alone (so the demo run twice shows that nothing is
    posted twice), unless ``fresh`` is set, which also empties the forwarder database; ``fresh``
    only deletes inboxes the demo created itself and a database holding only their complaints,
    and only while no ``forwarder run`` uses that database (the run lock). Returns {inbox path:
    SMS written}. Raises OSError, ValueError (unreadable examples, a live config, an inbox or
    complaints that are not the demo's), StoreError (a run holds the database).
    """
    from forwarder.runlock import RunLock

    check_demo_config(settings)
    messages = yaml.safe_load(examples.read_text(encoding="utf-8"))
    if not isinstance(messages, list):
        raise ValueError(f"{examples}: expected a list of SMS")
    inboxes = [Path(cfg.database) for cfg in settings.sources.values()
               if getattr(cfg, "type", None) == "gammu_smsd"]
    lock = RunLock(settings.database).acquire() if fresh else None  # StoreError while a run uses it
    try:
        return _seed(settings, inboxes, messages, fresh)
    finally:
        if lock is not None:
            lock.release()


def _foreign_complaints(settings: Settings) -> int:
    """Complaints in the forwarder database from sources other than the demo's inboxes."""
    path = Path(settings.database)
    if not path.exists():
        return 0
    demo_sources = [name for name, cfg in settings.sources.items()
                    if getattr(cfg, "type", None) == "gammu_smsd" and is_demo_inbox(Path(cfg.database))]
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
            marks = ",".join("?" * len(demo_sources)) or "''"
            return int(conn.execute(f"select count(*) from complaints where source not in ({marks})",
                                    demo_sources).fetchone()[0])
    except sqlite3.Error:
        return 0  # no complaints table yet: nothing to lose


def _seed(settings: Settings, inboxes: list[Path], messages: list[Any], fresh: bool) -> dict[str, int]:
    from forwarder.sources.gammu_schema import add_inbox_sms, create_smsd_schema

    if fresh:
        foreign = [str(p) for p in inboxes if p.exists() and not is_demo_inbox(p)]
        if foreign:
            raise ValueError(f"--fresh deletes the inbox, but {', '.join(foreign)} was not made by "
                             "`forwarder demo`: it is left alone (delete it yourself if you mean it)")
        kept = _foreign_complaints(settings)
        if kept:
            raise ValueError(f"--fresh deletes {settings.database}, but it holds {kept} complaint(s) that did "
                             "not come from the demo's inbox: it is left alone (delete it yourself if you mean it)")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{settings.database}{suffix}").unlink(missing_ok=True)
    written: dict[str, int] = {}
    for path in inboxes:
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        if path.exists():
            written[str(path)] = 0
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        create_smsd_schema(path)
        _mark(path)
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


def _mark(path: Path) -> None:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute(f"create table {DEMO_MARK} (note text)")
            conn.execute(f"insert into {DEMO_MARK} values ('made by forwarder demo: --fresh may delete it')")
    finally:
        conn.close()
