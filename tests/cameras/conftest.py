"""Fixtures of the camera tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def photos() -> list[Path]:
    """Scenes are cut from real photos; without them a test fails saying how to fetch them
    (CI must not go green by skipping)."""
    from cameras.photos import PhotoMissing, photo_path

    try:
        return [photo_path("bus"), photo_path("car_rear")]
    except PhotoMissing as exc:
        pytest.fail(str(exc))
