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


# -- the confidential triage group (fallback + confidential) -----------------------------------

SECRET_TRIAGE = GroupConfig(name="triase-rahasia", sink="s", chat_id="-8", fallback=True, confidential=True)
WITH_SECRET_TRIAGE = [SECRET_TRIAGE, *GROUPS]  # listed first: order must not matter


@pytest.mark.parametrize(
    "topic, confidence, kecamatan, confidential, expected, reason",
    [
        # confidential, no confidential group for it: the confidential triage group, never 'triase'
        ("jalan", 0.9, None, True, {"triase-rahasia"}, "pengaduan rahasia: tidak ada grup rahasia untuk topik jalan"),
        ("pemerintahan_desa", 0.3, None, True, {"triase-rahasia"}, "keyakinan rendah"),
        (None, 0.0, None, True, {"triase-rahasia"}, "teks tanpa kata"),
        ("hama", 0.99, "Dander", True, {"triase-rahasia"}, "pengaduan rahasia"),
        # confidential with a confidential group for its topic: that group only
        ("pemerintahan_desa", 0.9, None, True, {"rahasia"}, None),
        # ordinary complaints never go to the confidential triage group
        ("jalan", 0.9, "Dander", False, {"jalan", "jalan-dander"}, None),
        ("pupuk", 0.9, None, False, {"triase"}, "tidak ada grup untuk topik pupuk"),
        ("jalan", 0.2, None, False, {"triase"}, "keyakinan rendah"),
        (None, 0.0, None, False, {"triase"}, "teks tanpa kata"),
    ],
)
def test_route_with_a_confidential_triage_group(topic, confidence, kecamatan, confidential, expected,
                                                reason) -> None:
    r = route(WITH_SECRET_TRIAGE, topic=topic, confidence=confidence, kecamatan=kecamatan, threshold=0.5,
              confidential=confidential)
    assert {g.name for g in r.groups} == expected
    if reason is None:
        assert r.triage_reason is None
    else:
        assert r.triage_reason is not None and r.triage_reason.startswith(reason)


def test_triage_group_and_who_reads_confidential_complaints() -> None:
    from forwarder.routing import sees_confidential, triage_group

    by_name = {g.name: g for g in WITH_SECRET_TRIAGE}
    assert triage_group(WITH_SECRET_TRIAGE, confidential=True).name == "triase-rahasia"
    assert triage_group(WITH_SECRET_TRIAGE, confidential=False).name == "triase"
    # without a confidential triage group: the ordinary one, as before
    assert triage_group(GROUPS, confidential=True).name == "triase"

    assert sees_confidential(by_name["rahasia"], WITH_SECRET_TRIAGE)
    assert sees_confidential(by_name["triase-rahasia"], WITH_SECRET_TRIAGE)
    assert not sees_confidential(by_name["triase"], WITH_SECRET_TRIAGE)
    assert not sees_confidential(by_name["desa"], WITH_SECRET_TRIAGE)
    assert sees_confidential(by_name["triase"], GROUPS)  # it receives them when there is no other


def test_triage_destinations() -> None:
    from forwarder.routing import Triage

    triage = Triage.of(WITH_SECRET_TRIAGE, lambda sink, chat: "-100" + chat.lstrip("-"))
    assert (triage.ordinary.group_name, triage.ordinary.chat_id) == ("triase", "-1009")
    assert triage.for_complaint(True).group_name == "triase-rahasia"
    assert triage.for_complaint(True).chat_id == "-1008"  # the migrated chat id given by the caller
    assert triage.for_complaint(False).group_name == "triase"
    assert triage.names == {"triase", "triase-rahasia"}

    plain = Triage.of(GROUPS)
    assert plain.confidential is None and plain.for_complaint(True).group_name == "triase"
    assert plain.names == {"triase"}


def test_the_triage_reason_names_the_kecamatan_only_when_it_mattered() -> None:
    """A trial read "tidak ada grup untuk topik adminduk (kecamatan tidak dikenali)" where no group
    takes adminduk anywhere: the kecamatan was never the reason."""
    nowhere = route(GROUPS, topic="hama", confidence=0.99, kecamatan=None, threshold=0.5)
    assert nowhere.triage_reason == "tidak ada grup untuk topik hama"
    elsewhere = route(GROUPS, topic="pupuk", confidence=0.9, kecamatan=None, threshold=0.5)
    assert elsewhere.triage_reason == "tidak ada grup untuk topik pupuk (kecamatan tidak dikenali)"
    other = route(GROUPS, topic="pupuk", confidence=0.9, kecamatan="Dander", threshold=0.5)
    assert other.triage_reason == "tidak ada grup untuk topik pupuk di kecamatan Dander"
