"""Evidence retention: old and over-budget evidence goes, oldest first, but never that of an
open episode or of one whose messages the broker has not acknowledged yet."""

from __future__ import annotations

import os

from edge.retention import RetentionConfig, prune_evidence
from mqtt.outbox import Message, Outbox

DAY = 86400.0
NOW = 1_795_000_000.0


def episode_folder(root, name: str, age_days: float, size: int = 1000) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    for picture in ("warning1-frame.jpg", "warning1-crop.jpg"):
        path = folder / picture
        path.write_bytes(b"\xff\xd8" + b"x" * (size - 2))
        os.utime(path, (NOW - age_days * DAY, NOW - age_days * DAY))


def test_old_evidence_goes_unless_the_centre_does_not_have_it_yet(tmp_path):
    for name, age in (("old-sent", 40), ("old-unsent", 45), ("recent", 2)):
        episode_folder(tmp_path, name, age)
    result = prune_evidence(
        tmp_path, RetentionConfig(max_age_days=30), keep=lambda e: e == "old-unsent", now=NOW
    )
    assert result.deleted == ["old-sent"] and result.kept_unacknowledged == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old-unsent", "recent"]


def test_over_budget_the_oldest_go_first(tmp_path):
    for name, age in (("a", 5), ("b", 4), ("c", 3), ("d", 2)):
        episode_folder(tmp_path, name, age, size=1000)  # 2,000 bytes each
    result = prune_evidence(
        tmp_path, RetentionConfig(max_bytes=4500), keep=lambda e: e == "a", now=NOW
    )
    assert result.deleted == ["b", "c"] and result.bytes_after == 4000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "d"]


def test_the_outbox_knows_which_episodes_are_not_acknowledged(tmp_path):
    outbox = Outbox(tmp_path / "outbox.db")
    topic = "roadguard/v1/node/cam/evidence/ep-waiting/warning1-frame.jpg"
    outbox.put(Message("evidence", topic, b"\xff\xd8", "m1", {}))
    outbox.put(
        Message("episode", "roadguard/v1/node/cam/episode", b'{"episode_id": "ep-2"}', "m2", {})
    )
    assert outbox.holds_episode("ep-waiting") and outbox.holds_episode("ep-2")
    assert not outbox.holds_episode("ep-done")
    outbox.acknowledge([row.rowid for row in outbox.pending()])
    assert not outbox.holds_episode("ep-waiting")
