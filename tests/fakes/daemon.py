"""Run the real ``forwarder`` as a process against the real gammu-smsd and the fake Bot API.

``write_config`` writes a config for a test: one gammu_smsd source, one telegram sink pointed at
the loopback fake, the bundled default model and one officer group per topic of that model plus
the triage group. ``run`` / ``start`` start ``python -m forwarder.cli`` with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO / "models" / "default"
TRIAGE_CHAT = "-1009999999999"


def chat_for(index: int) -> str:
    return str(-1001000000000 - index - 1)


def write_config(
    tmp: Path,
    *,
    smsd_db: Path,
    telegram_base_url: str,
    token: str,
    topics: list[str],
    model: Path = DEFAULT_MODEL,
    threshold: float = 0.5,
    pacing: dict[str, Any] | None = None,
    poll_interval: float = 0.2,
    extra_groups: list[dict[str, Any]] | None = None,
) -> tuple[Path, dict[str, str]]:
    """Write ``tmp/forwarder.yaml``; returns its path and {topic: chat id}."""
    chats = {topic: chat_for(i) for i, topic in enumerate(sorted(topics))}
    groups = [{"name": f"grup-{t}", "sink": "tg", "chat_id": c, "topics": [t]} for t, c in chats.items()]
    groups += extra_groups or []
    groups.append({"name": "triase", "sink": "tg", "chat_id": TRIAGE_CHAT, "fallback": True})
    sink = {"type": "telegram", "token": "${TG_TOKEN}", "api_base_url": telegram_base_url,
            "read_timeout": 2.0}
    sink.update(pacing or {"per_chat_per_minute": 1000, "per_chat_per_second": 1000,
                           "overall_per_second": 1000})
    config = {
        "version": 1,
        "database": str(tmp / "forwarder.db"),
        "model": str(model),
        "confidence_threshold": threshold,
        "kabupaten": "Bojonegoro",
        "timezone": "Asia/Jakarta",
        "sources": {"sms": {"type": "gammu_smsd", "database": str(smsd_db),
                            "poll_interval_secs": poll_interval, "timezone": "UTC"}},
        "sinks": {"tg": sink},
        "groups": groups,
    }
    path = tmp / "forwarder.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path, {**chats, "triase": TRIAGE_CHAT}


def env(token: str) -> dict[str, str]:
    e = dict(os.environ)
    e["TG_TOKEN"] = token
    e["PYTHONPATH"] = str(REPO) + os.pathsep + e.get("PYTHONPATH", "")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        e.pop(var, None)
    e["NO_PROXY"] = "127.0.0.1,localhost"
    return e


def command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "forwarder.cli", "--log-level", "info", "run", "--config", str(config), *args]


def run(config: Path, token: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``forwarder run --config ... <args>`` to the end; returns the finished process."""
    return subprocess.run(command(config, *args), env=env(token), capture_output=True, text=True,
                          timeout=timeout, cwd=REPO)


def start(config: Path, token: str, log: Path, *args: str) -> subprocess.Popen[bytes]:
    """Start the daemon in the background, logging to ``log``."""
    handle = open(log, "ab")
    return subprocess.Popen(command(config, *args), env=env(token), stdout=handle, stderr=subprocess.STDOUT,
                            cwd=REPO)
