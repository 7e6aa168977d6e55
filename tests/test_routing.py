"""Routing rules: topic x kecamatan -> officer groups, never nowhere."""

from __future__ import annotations

import pytest

from forwarder.config import GroupConfig
from forwarder.routing import route

GROUPS = [
    GroupConfig(name="jalan", sink="s", chat_id="-1", topics=["jalan"]),
    GroupConfig(name="jalan-dander", sink="s", chat_id="-2", topics=["jalan"], kecamatan=["Dander", "Kapas"]),
    GroupConfig(name="pupuk-kapas", sink="s", chat_id="-3", topics=["pupuk"], kecamatan=["Kapas"]),
    GroupConfig(name="rahasia", sink="s", chat_id="-4", topics=["pemerintahan_desa"], confidential=True),
    GroupConfig(name="desa", sink="s", chat_id="-5", topics=["pemerintahan_desa"]),
    GroupConfig(name="triase", sink="s", chat_id="-9", fallback=True),
]


@pytest.mark.parametrize(
    "topic, confidence, kecamatan, confidential, expected, triaged",
    [
        ("jalan", 0.9, "Dander", False, {"jalan", "jalan-dander"}, False),
        ("jalan", 0.9, "dander", False, {"jalan", "jalan-dander"}, False),
        ("jalan", 0.9, "Baureno", False, {"jalan"}, False),
        ("jalan", 0.9, None, False, {"jalan"}, False),
        ("pupuk", 0.9, "Kapas", False, {"pupuk-kapas"}, False),
        ("pupuk", 0.9, None, False, {"triase"}, True),
        ("pupuk", 0.9, "Dander", False, {"triase"}, True),
        ("jalan", 0.49, "Dander", False, {"triase"}, True),
        (None, 0.0, None, False, {"triase"}, True),
        ("hama", 0.99, None, False, {"triase"}, True),
        ("pemerintahan_desa", 0.9, None, True, {"rahasia"}, False),
        ("pemerintahan_desa", 0.9, None, False, {"desa"}, False),
        ("jalan", 0.9, None, True, {"triase"}, True),
    ],
)
def test_route(topic, confidence, kecamatan, confidential, expected, triaged) -> None:
    r = route(GROUPS, topic=topic, confidence=confidence, kecamatan=kecamatan, threshold=0.5,
              confidential=confidential)
    assert {g.name for g in r.groups} == expected
    assert (r.triage_reason is not None) == triaged


@pytest.mark.parametrize("text, expected", [
    ("RAHASIA. Kepala desa minta uang", True),
    ("(Rahasia) jalan rusak", True),
    ("#rahasia pungli", True),
    ("mohon identitas saya dirahasiakan", True),
    ("R A H A S I A. kades minta uang", True),
    ("R.A.H.A.S.I.A", True),
    ("rahsia ya pak", True),
    ("RAHASlA", True),
    ("ra\u200bhasia", True),
    ("\uff32\uff21\uff28\uff21\uff33\uff29\uff21", True),
    ("tolong jangan sebut nama saya", True),
    ("saya lapor secara anonim", True),
    ("harga pupuk naik terus", False),
    ("nama saya Budi, jalan rusak", False),
    ("jalan rusak parah", False),
    ("", False),
])
def test_confidential_word(text: str, expected: bool) -> None:
    from forwarder.pipeline import is_confidential

    assert is_confidential(text) is expected
