"""Shared test setup: repository paths, the real data location, and loopback-only networking."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Tests talk only to 127.0.0.1: make sure no proxy from the environment is used for it.
for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(var, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` next to the repository; the test is skipped when it is absent."""
    path = SHARED_DATA / "surabaya_mediacenter" / "complaints.csv"
    if not path.exists():
        pytest.skip("../shared/data is not present (it is not part of the project)")
    return SHARED_DATA
