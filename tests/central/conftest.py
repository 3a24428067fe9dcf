"""Fixtures of the centre's tests: a real browser, and where it leaves its screenshots."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.testing.browser import chromium


@pytest.fixture
def browser():
    """Headless Debian Chromium under Playwright, closed after the test."""
    with chromium() as running:
        yield running


@pytest.fixture
def artifacts() -> Path:
    """Where browser tests leave screenshots for a person to look at (kept after the run)."""
    folder = Path(__file__).resolve().parents[2] / "artifacts"
    folder.mkdir(exist_ok=True)
    return folder
