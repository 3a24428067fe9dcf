"""Open episodes survive a power cut: each camera's episodes (timers, warnings given,
evidence) and its recent escalations (for cooldowns) are kept in a small SQLite file, written
at every transition and every few seconds, and read back when the camera starts again.

Without this a restarted node would warn an already-warned driver again from the start, or
forget a car that was about to be ticketed. Frame timestamps of live cameras are wall-clock
seconds, so restored timers carry on where they were.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from edge.config import LadderPolicy
from edge.episodes import ClosedEpisode, Episode, EpisodeBook
from edge.zones import Zone
from mqtt.payloads import Transition, WarningRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS camera_state (
    camera_id  TEXT PRIMARY KEY,
    state      TEXT NOT NULL,
    saved_at   REAL NOT NULL
);
"""
_ARRAYS = ("anchor", "box")
_SKIP = ("zone", "policy", "_last_update", "awaiting_sighting")


class EpisodeStore:
    """One row per camera: its open episodes and recent escalations, as JSON."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a saved warning must survive power loss
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()  # cameras save from their own threads

    def save(self, camera_id: str, book: EpisodeBook, timestamp: float) -> None:
        state = json.dumps(export_book(book))
        with self._lock:
            self._db.execute(
                "INSERT INTO camera_state (camera_id, state, saved_at) VALUES (?, ?, ?) "
                "ON CONFLICT(camera_id) DO UPDATE SET state = excluded.state, "
                "saved_at = excluded.saved_at",
                (camera_id, state, timestamp),
            )

    def load(self, camera_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT state FROM camera_state WHERE camera_id = ?", (camera_id,)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()


def export_book(book: EpisodeBook) -> dict[str, Any]:
    return {
        "open": [_episode_dict(e) for e in book.open],
        "closed": [_closed_dict(c) for c in book.closed],
    }


def restore_book(book: EpisodeBook, state: dict[str, Any], now: float) -> list[Episode]:
    """Put saved episodes back into `book`. Each is unbound from its old tracker id (the
    tracker restarted) and counts as seen `now`: the vehicle gets the occlusion grace to be
    found on its anchor again, and a ladder step that fell due meanwhile waits until it is."""
    zones = {zone.id: zone for zone in book.zones}
    restored = []
    for data in state.get("open", []):
        zone = zones.get(data["zone_id"])
        if zone is None:  # the zone is gone from the config: nothing to continue
            continue
        episode = _episode_from(data, zone, now)
        book.open.append(episode)
        restored.append(episode)
    for data in state.get("closed", []):
        book.closed.append(_closed_from(data))
    return restored


def _episode_dict(episode: Episode) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for item in fields(episode):
        if item.name in _SKIP:
            continue
        value = getattr(episode, item.name)
        if item.name in _ARRAYS:
            value = None if value is None else [float(v) for v in value]
        elif item.name == "warnings":
            value = [w.model_dump(mode="json") for w in value]
        elif isinstance(value, Transition):
            value = str(value)
        data[item.name] = value
    data["zone_id"] = episode.zone.id
    data["policy"] = episode.policy.model_dump()
    return data


def _episode_from(data: dict[str, Any], zone: Zone, now: float) -> Episode:
    values = {k: v for k, v in data.items() if k not in ("zone_id", "policy")}
    for name in _ARRAYS:
        if values.get(name) is not None:
            values[name] = np.array(values[name], np.float32)
    if values.get("outcome"):
        values["outcome"] = Transition(values["outcome"])
    values["warnings"] = [WarningRecord.model_validate(w) for w in values.get("warnings", [])]
    values.update(track_id=-1, last_seen=now, _last_update=now, awaiting_sighting=True)
    return Episode(zone=zone, policy=LadderPolicy(**data["policy"]), **values)


def _closed_dict(closed: ClosedEpisode) -> dict[str, Any]:
    return {
        "zone_id": closed.zone_id,
        "anchor": [float(v) for v in closed.anchor],
        "ended_at": closed.ended_at,
        "episode_id": closed.episode_id,
        "escalated": closed.escalated,
        "cooldown_s": closed.cooldown_s,
        "plate": closed.plate,
    }


def _closed_from(data: dict[str, Any]) -> ClosedEpisode:
    return ClosedEpisode(**{**data, "anchor": np.array(data["anchor"], np.float32)})
