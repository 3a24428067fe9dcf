"""Edge-shaped messages for a centre to ingest, built with the contract's own models.

For tests and benchmarks; the service never imports it."""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime, timedelta
from typing import Any

from central.centre import Centre
from central.episodes.ingest import ingest_episode, ingest_evidence
from mqtt.payloads import (
    AnnouncementRecord,
    Episode,
    EpisodeRecord,
    Evidence,
    WarningRecord,
    content_type_of,
)

_seq = itertools.count(1)
# Camera-clock seconds of each transition in a made-up episode.
_TIMES = {
    "stopped": 5.2,
    "warned": 13.4,
    "dissuaded": 150.0,
    "cleared": 20.0,
    "expired": 300.0,
    "violation": 400.0,
}


def jpeg(label: str, size: tuple[int, int] = (160, 120)) -> bytes:
    """A small real JPEG with `label` drawn on it."""
    import cv2
    import numpy as np

    width, height = size
    image = np.full((height, width, 3), (60, 90, 120), np.uint8)
    cv2.putText(
        image, label[:14], (6, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1
    )
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


def episode_payload(
    event: str,
    episode_id: str,
    *,
    node: str = "demo-node",
    camera: str = "kerb-cam",
    zone: str = "school-gate",
    at: datetime | None = None,
    warnings: int = 0,
    seq: int | None = None,
    plate: str | None = None,
    voices: bool = False,
) -> Episode:
    """An episode transition as the edge sends it (full snapshot, envelope included); with
    `voices`, each played warning names its clip as evidence, as a node with a speaker does."""
    steps = [
        WarningRecord(
            n=n,
            at=13.4 + 120 * (n - 1),
            evidence=[f"{episode_id}/warning{n}-frame.jpg", f"{episode_id}/warning{n}-crop.jpg"],
            announcement=AnnouncementRecord(
                clip=f"warning{n}.wav",
                text=f"Warning {n}: no parking at the school gate.",
                status="played",
                clip_evidence=f"{episode_id}/warning{n}-voice.wav" if voices else None,
            ),
        )
        for n in range(1, warnings + 1)
    ]
    outcome = event if event in ("dissuaded", "cleared", "expired", "violation") else None
    record = EpisodeRecord(
        node_id=node,
        camera_id=camera,
        event=event,
        time=_TIMES[event],
        occurred_at=at,
        warning=warnings or None if event == "warned" else None,
        episode_id=episode_id,
        zone_id=zone,
        zone_name=zone.replace("-", " ").title(),
        vehicle_class="car",
        box=(100.0, 200.0, 300.0, 330.0),
        anchor=(100.0, 200.0, 300.0, 330.0),
        stopped_at=5.2,
        warnings=steps,
        violation_at=_TIMES["violation"] if event == "violation" else None,
        ended_at=_TIMES[event] if outcome else None,
        outcome=outcome,
        plate=plate,
        evidence=[f"{episode_id}/violation-frame.jpg"] if event == "violation" else [],
    )
    return Episode.from_record(record, seq=seq if seq is not None else next(_seq), sent_at=at)


def wav(seconds: float = 0.5, hz: float = 440.0, rate: int = 8000) -> bytes:
    """A short tone as a 16-bit mono WAV (as the announcer writes one): a voice clip for the
    tests."""
    import numpy as np

    from announcer.clips import Audio, wav_bytes

    times = np.arange(int(seconds * rate)) / rate
    return wav_bytes(Audio((8000 * np.sin(2 * np.pi * hz * times)).astype(np.int16), rate))


def evidence_meta(
    episode_id: str, name: str, data: bytes, node: str = "demo-node", camera: str = "kerb-cam"
) -> Evidence:
    return Evidence.build(
        seq=next(_seq),
        node_id=node,
        camera_id=camera,
        episode_id=episode_id,
        name=name,
        content_type=content_type_of(name),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def ingest_violation(
    centre: Centre,
    episode_id: str,
    *,
    plate: str | None = "沪A·12345",
    with_evidence: bool = True,
    voices: bool = False,
    **kwargs: Any,
) -> None:
    """The whole ladder of one episode: stopped, two warnings, violation, and its pictures
    (and, with `voices`, the clips of the two warnings as played)."""
    now = centre.clock.now()
    ingest_episode(centre, episode_payload("stopped", episode_id, at=now, **kwargs))
    ingest_episode(centre, episode_payload("warned", episode_id, warnings=1, at=now, **kwargs))
    ingest_episode(centre, episode_payload("warned", episode_id, warnings=2, at=now, **kwargs))
    ingest_episode(
        centre,
        episode_payload(
            "violation",
            episode_id,
            warnings=2,
            plate=plate,
            at=now + timedelta(seconds=1),
            voices=voices,
            **kwargs,
        ),
    )
    if with_evidence:
        names = [
            "warning1-frame.jpg",
            "warning1-crop.jpg",
            "warning2-frame.jpg",
            "warning2-crop.jpg",
            "violation-frame.jpg",
        ]
        for name in names:
            data = jpeg(f"{episode_id[:6]} {name[:8]}")
            ingest_evidence(centre, data, evidence_meta(episode_id, name, data))
        for n in (1, 2) if voices else ():
            data = wav(hz=330.0 * n)
            ingest_evidence(centre, data, evidence_meta(episode_id, f"warning{n}-voice.wav", data))
