"""Fixtures every folder of tests may use: the real detector and a real Mosquitto.

The detector is prepared by `make test` (roadguard models prepare) before pytest runs; a
test that needs it fails with that instruction rather than skipping, so CI can never go
green without having run them. Each folder's conftest.py holds what only its tests use;
helpers that build things (centres, records, stand-in cameras) live in the packages'
`testing` modules."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def detector():
    from models.detector import ModelNotPrepared, load_detector

    try:
        return load_detector()
    except ModelNotPrepared as exc:
        pytest.fail(str(exc))


@pytest.fixture
def broker(tmp_path: Path):
    """A Mosquitto of the test's own on a free loopback port (anonymous), killed afterwards."""
    from mqtt.broker import Broker

    running = Broker(tmp_path / "broker").start()
    yield running
    running.kill()
