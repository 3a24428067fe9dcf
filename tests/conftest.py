"""Shared fixtures. The real detector is prepared by `make test` (roadguard models prepare)
before pytest runs; a test that needs it fails with that instruction rather than skipping,
so CI can never go green without having run them."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def detector():
    from models.detector import ModelNotPrepared, load_detector

    try:
        return load_detector()
    except ModelNotPrepared as exc:
        pytest.fail(str(exc))
