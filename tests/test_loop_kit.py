"""Shared set-up of the officer-loop tests (imported by test_loop_*, test_actions*, test_citizen*).

``Kit`` writes a config (a gammu_smsd source over a Gammu-format SMSD database, optionally an X
source on the fake X, one telegram sink on the fake Bot API, a few officer groups) and runs the
daemon's ``run --once`` the way the CLI does: a fresh :class:`Pipeline` per run, on the same
database. The classifier is a keyword stand-in injected through ``Pipeline.build(model=...)`` so
that routing is predictable; everything else is the project's real code.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes.telegram_api import FakeTelegram, assert_no_personal_data
from fakes.x_api import FakeX

from forwarder.config import parse_config
from forwarder.context import Context
from forwarder.pipeline import Pipeline
from forwarder.sources.gammu_schema import create_smsd_schema
from forwarder.types import Tag

PUPUK, JALAN, JALAN_DANDER, RAHASIA, TRIASE = ("-1001000000011", "-1001000000012", "-1001000000013",
                                               "-1001000000014", "-1001000000099")
CHATS = {"pertanian-pupuk": PUPUK, "pu-jalan": JALAN, "pu-jalan-dander": JALAN_DANDER,
         "pupuk-rahasia": RAHASIA, "triase": TRIASE}
OFFICER = {"id": 5550001, "is_bot": False, "first_name": "Andi", "language_code": "id"}
CODE = re.compile(r"Pengaduan ([0-9A-Z]{6})")


class KeywordModel:
    """The classifier contract (``labels``, ``predict``) by keywords: pupuk, jalan, else nothing."""

    version = "keywords-test"
    labels = frozenset({"pupuk", "jalan", "hama"})

    def predict(self, texts: list[str]) -> list[Tag]:
        out = []
        for text in texts:
            low = text.lower()
            topic = next((t for t in ("pupuk", "jalan", "hama") if t in low), None)
            out.append(Tag(topic, 0.9 if topic else 0.0, self.version, (topic,) if topic else ()))
        return out


@dataclass
class Clock:
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 30, 2, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


class Kit:
    def __init__(self, tmp: Path, tg: FakeTelegram, *, smsd_db: Path | None = None, x: Any = None,
                 officers: tuple[int, ...] = (), citizen: dict[str, Any] | None = None,
                 long_poll_secs: float = 0, poll_interval: float = 2.0,
                 extra_groups: list[dict[str, Any]] | None = None) -> None:
        self.tmp = tmp
        self.tg = tg
        self.clock = Clock()
        self.smsd_db = smsd_db or create_smsd_schema(tmp / "smsd" / "smsd.db")
        sources: dict[str, Any] = {"sms": {"type": "gammu_smsd", "database": str(self.smsd_db),
                                           "timezone": "UTC", "multipart_timeout_secs": 0,
                                           "poll_interval_secs": poll_interval}}
        if x is not None:
            sources["x"] = {"type": "twitter", "bearer_token": x.bearer_token, "api_base_url": x.base_url,
                            "max_results": 5, "consumer_key": x.consumer_key,
                            "consumer_secret": x.consumer_secret, "access_token": x.access_token,
                            "access_token_secret": x.access_token_secret}
        groups = [
            {"name": "pertanian-pupuk", "sink": "tg", "chat_id": PUPUK, "topics": ["pupuk"]},
            {"name": "pu-jalan", "sink": "tg", "chat_id": JALAN, "topics": ["jalan"]},
            {"name": "pu-jalan-dander", "sink": "tg", "chat_id": JALAN_DANDER, "topics": ["jalan"],
             "kecamatan": ["Dander"]},
            {"name": "pupuk-rahasia", "sink": "tg", "chat_id": RAHASIA, "topics": ["pupuk"], "confidential": True},
            {"name": "triase", "sink": "tg", "chat_id": TRIASE, "fallback": True},
            *(extra_groups or []),
        ]
        self.data = {
            "version": 1, "database": str(tmp / "forwarder.db"), "confidence_threshold": 0.5,
            "kabupaten": "Bojonegoro", "timezone": "Asia/Jakarta", "sources": sources,
            "sinks": {"tg": {"type": "telegram", "token": tg.token, "api_base_url": tg.base_url,
                             "read_timeout": 3.0, "per_chat_per_minute": 1000, "per_chat_per_second": 1000,
                             "overall_per_second": 1000, "long_poll_secs": long_poll_secs}},
            "groups": groups, "officers": list(officers), "citizen": citizen or {},
        }
        self.settings = parse_config(self.data, env={})

    def pipeline(self) -> Pipeline:
        return Pipeline.build(self.settings, context=Context(clock=self.clock), model=KeywordModel())

    async def once(self, max_wait: float = 10.0) -> Any:
        """One ``forwarder run --once``; fails the test when a delivery stayed open."""
        polls, drained = await self.pipeline().run_once(max_wait_secs=max_wait)
        assert all(p.error is None for p in polls), polls
        assert drained.complete, drained.open
        return polls

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.tmp / "forwarder.db")
        conn.row_factory = sqlite3.Row
        return conn

    def rows(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        conn = self.db()
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def complaint(self, code: str | None = None) -> sqlite3.Row:
        rows = self.rows("select * from complaints where tracking_code = ?", code) if code else \
            self.rows("select * from complaints order by id desc limit 1")
        return rows[0]

    def events(self, complaint_id: int) -> list[str]:
        return [r["kind"] for r in self.rows("select kind from events where complaint_id = ? order by id", complaint_id)]

    def first_message(self, chat: str, code: str) -> Any:
        return next(m for m in self.tg.messages(chat) if f"Pengaduan {code}" in m.visible)

    def outbox_sms(self) -> list[sqlite3.Row]:
        conn = sqlite3.connect(self.smsd_db)
        conn.row_factory = sqlite3.Row
        try:
            return conn.execute("select * from outbox order by ID").fetchall()
        finally:
            conn.close()

    def check_privacy(self, *secrets: str) -> None:
        """No message or edit the groups got holds a phone number, NIK, reporter id or ``secrets``."""
        shown = [m.visible for m in self.tg.messages()] + [e.visible for e in self.tg.edits()]
        assert shown
        for text in shown:
            assert_no_personal_data(text)
            for secret in secrets:
                assert secret not in text, f"{secret!r} reached a group: {text!r}"


@pytest.fixture(name="tg")
def tg_fixture() -> Iterator[FakeTelegram]:
    """Fixture ``tg``: a running fake Bot API (import ``tg_fixture`` into a test module)."""
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture(name="x")
def x_fixture() -> Iterator[FakeX]:
    """Fixture ``x``: a running fake X API v2 (import ``x_fixture`` into a test module)."""
    with FakeX() as fake:
        yield fake


def test_keyword_model_is_deterministic() -> None:
    tags = KeywordModel().predict(["pupuk langka", "jalan rusak", "🙏"])
    assert [t.topic for t in tags] == ["pupuk", "jalan", None]
