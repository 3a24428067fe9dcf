"""Helpers for the central tests: a centre on SQLite or PostgreSQL with a fake clock, and
edge-shaped payloads (built with the contract's own models) for it to ingest."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from central.centre import Centre
from central.clock import FakeClock
from central.config import CentralSettings, EvidenceConfig
from central.db import Database
from central.episodes.ingest import ingest_episode, ingest_evidence
from mqtt.payloads import Episode, Evidence

DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql"),
]
PASSWORD = "correct-horse-battery"
USERS = {"olga": "officer", "sam": "supervisor", "walt": "warden", "ada": "admin"}

_seq = itertools.count(1)


def database_url(kind: str, tmp_path: Path) -> tuple[str, Any]:
    """(url, cleanup) for a fresh database of `kind`."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'central.db'}", lambda: None
    from central.testing.pg import PostgresUnavailable, drop_database, fresh_database

    try:
        url = fresh_database()
    except PostgresUnavailable as exc:
        pytest.fail(f"PostgreSQL tests need the Debian package postgresql: {exc}")
    return url, lambda: drop_database(url)


@contextmanager
def open_centre(
    kind: str, tmp_path: Path, clock: FakeClock | None = None, **settings: Any
) -> Iterator[Centre]:
    url, cleanup = database_url(kind, tmp_path)
    config = CentralSettings(
        database_url=url,
        evidence=EvidenceConfig(path=tmp_path / "evidence"),
        secret_key="test-secret-key-0123456789",
        **settings,
    )
    centre = Centre(config, clock=clock or FakeClock(), database=Database(url))
    centre.db.migrate()
    try:
        yield centre
    finally:
        centre.close()
        cleanup()


def add_users(centre: Centre) -> None:
    from central.users import add_user

    with centre.db.session() as session:
        for name, role in USERS.items():
            add_user(session, name, PASSWORD, role, centre.clock.now(), name.title())


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
    **extra: Any,
) -> Episode:
    """An episode transition as the edge sends it (full snapshot, envelope included)."""
    times = {
        "stopped": 5.2,
        "warned": 13.4,
        "dissuaded": 150.0,
        "cleared": 20.0,
        "expired": 300.0,
        "violation": 400.0,
    }
    steps = [
        {
            "n": n,
            "at": 13.4 + 120 * (n - 1),
            "evidence": [f"{episode_id}/warning{n}-frame.jpg", f"{episode_id}/warning{n}-crop.jpg"],
            "announcement": {
                "clip": f"warning{n}.wav",
                "text": f"Warning {n}: no parking at the school gate.",
                "status": "played",
            },
        }
        for n in range(1, warnings + 1)
    ]
    outcome = event if event in ("dissuaded", "cleared", "expired", "violation") else None
    fields: dict[str, Any] = {
        "node_id": node,
        "camera_id": camera,
        "event": event,
        "time": times[event],
        "warning": warnings or None if event == "warned" else None,
        "episode_id": episode_id,
        "zone_id": zone,
        "zone_name": zone.replace("-", " ").title(),
        "vehicle_class": "car",
        "box": [100.0, 200.0, 300.0, 330.0],
        "anchor": [100.0, 200.0, 300.0, 330.0],
        "stopped_at": 5.2,
        "warnings": steps,
        "violation_at": times["violation"] if event == "violation" else None,
        "ended_at": times[event] if outcome else None,
        "outcome": outcome,
        "plate": plate,
        "evidence": [f"{episode_id}/violation-frame.jpg"] if event == "violation" else [],
        "seq": seq if seq is not None else next(_seq),
        **extra,
    }
    if at is not None:
        fields["occurred_at"] = at
        fields["sent_at"] = at
    return Episode.build(**fields)


def evidence_meta(
    episode_id: str, name: str, data: bytes, node: str = "demo-node", camera: str = "kerb-cam"
) -> Evidence:
    import hashlib

    return Evidence.build(
        seq=next(_seq),
        node_id=node,
        camera_id=camera,
        episode_id=episode_id,
        name=name,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def ingest_violation(
    centre: Centre,
    episode_id: str,
    *,
    plate: str | None = "沪A·12345",
    with_evidence: bool = True,
    **kwargs: Any,
) -> None:
    """The whole ladder of one episode: stopped, two warnings, violation, and its pictures."""
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


# -- warden reports ---------------------------------------------------------------------------
# name: (role, township, squad)
REPORT_USERS = {
    "walt": ("warden", "Xiaowan", "north"),
    "wendy": ("warden", "Dongcun", "south"),
    "olga": ("officer", None, "north"),
    "oscar": ("officer", None, "south"),
    "sam": ("supervisor", None, None),
    "ada": ("admin", None, None),
}


def add_report_users(centre: Centre) -> None:
    """Two wardens and two officers in two squads, a supervisor and an admin."""
    from central.users import add_user

    with centre.db.session() as session:
        for name, (role, township, squad) in REPORT_USERS.items():
            add_user(
                session,
                name,
                PASSWORD,
                role,
                centre.clock.now(),
                name.title(),
                township=township,
                squad=squad,
            )


def api_key_for(centre: Centre, username: str) -> str:
    from sqlalchemy import select

    from central.api_keys import mint_api_key
    from central.models import User

    with centre.db.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        return mint_api_key(session, user, centre.clock.now(), "test")


def stored_files(root: Path) -> list[Path]:
    """Every file in an evidence store (temp files included): to prove nothing was left."""
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# -- a live server and a real browser (the browser tests) ------------------------------------
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """`app` under uvicorn on a real socket; yields its base URL. The socket listens before
    the server thread starts, so a browser's first request simply waits in the backlog: no
    readiness polling."""
    import socket
    import threading

    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium under Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail("browser tests need Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser
        finally:
            browser.close()
